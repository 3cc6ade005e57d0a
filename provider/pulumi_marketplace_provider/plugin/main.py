"""Start the plugin the way the engine expects: serve on loopback, print only the port, run.

The engine reads the first line of stdout as the port and hides later output, so after the port
is printed stdout is pointed at stderr: a stray print can never corrupt the handshake.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

import grpc
from pulumi.runtime.proto import provider_pb2_grpc

from .arguments import parse_arguments
from .engine_log import EngineLog
from .server import LiveOfferServicer
from .usage import help_text, wants_help, wants_version

MAX_MESSAGE_BYTES = 400 * 1024 * 1024


async def serve(argv: Sequence[str]) -> None:
    args = parse_arguments(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG
        if args.verbosity >= 9
        else logging.INFO
        if args.verbosity
        else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
    )
    servicer = LiveOfferServicer(EngineLog(args.engine_address))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    sys.stdout = sys.stderr

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=2)
    await servicer.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `python -m pulumi_marketplace_provider.plugin [flags] <engine address>`."""
    args = sys.argv[1:] if argv is None else list(argv)
    if wants_help(args):
        sys.stdout.write(help_text())
        return 0
    if wants_version(args):
        from .. import __version__

        sys.stdout.write(f"{__version__}\n")
        return 0
    asyncio.run(serve(args))
    return 0
