"""`marketplace-emulator`: run the local Cloud Partner Portal API emulator from the command line.

The first line on stdout is the base URL (flushed) so a parent process can read it; everything
else goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
import threading
from pathlib import Path
from types import FrameType

from .app import ADMIN_PREFIX, API_VERSION, DEFAULT_TOKEN, EmulatorOptions
from .seed import SeedError, load_seed_file
from .server import EmulatorServer
from .throttle import ThrottleConfig

DESCRIPTION = f"""\
Local emulator of the Azure Cloud Partner Portal (CPP) publishing API (api-version
{API_VERSION}): list/get offers, publish, go live, cancel, offer status, submissions and
long-running operations, on a scaled clock, with injectable faults and throttling.

The first line printed on stdout is the base URL (e.g. http://127.0.0.1:41234); logs go to
stderr. API routes live under /api and need 'Authorization: Bearer <token>'. Admin routes for
tests live under {ADMIN_PREFIX} (no auth): health, reset, offers/{{pub}}/{{offer}}, seed,
tokens, faults, requests, throttle, clock, clock/advance, state. See emulator/README.md.
"""

EPILOG = f"""\
example:
  marketplace-emulator --port 8787 --time-scale 60 --seed seed.json --state-file /tmp/emu.json
  curl -H 'Authorization: Bearer {DEFAULT_TOKEN}' \\
    'http://127.0.0.1:8787/api/publishers/contoso/offers?api-version={API_VERSION}'
  curl -X POST http://127.0.0.1:8787{ADMIN_PREFIX}/clock/advance -d '{{"seconds": 600}}'

seed file (JSON): {{"tokens": [...], "offers": [{{"publisherId": "contoso",
  "offerId": "contoso-vm", "state": "draft|publishing|signoff|live", ...}}]}}
fault kinds (POST {ADMIN_PREFIX}/faults): status, reset, delay, drop, malformed, nopointer,
  retryafter, e.g. {{"method": "POST", "path": "/golive$", "kind": "drop", "times": 1}}
SIGTERM/SIGINT stop the server cleanly (the state file is saved).
"""


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser (also used to render --help)."""
    p = argparse.ArgumentParser(
        prog="marketplace-emulator",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; use :: for IPv6)")
    p.add_argument("--port", type=int, default=0,
                   help="TCP port; 0 picks a free port (default 0). The URL is printed first.")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                   help="emulated seconds per real second (default 1.0; e.g. 3600 runs an "
                        "hour-long step in one second; 0 freezes the clock)")
    p.add_argument("--seed", type=Path, metavar="FILE.json",
                   help="seed document with tokens and offers to start with (ignored when "
                        "--state-file already holds state)")
    p.add_argument("--state-file", type=Path, metavar="PATH",
                   help="load state from PATH if it exists and save it atomically after every "
                        "change, so a restarted emulator (any port) keeps offers, operations, "
                        "faults and the request log (kept in PATH.requests.jsonl)")
    p.add_argument("--token", action="append", default=[], metavar="T",
                   help=f"accepted bearer token; repeatable (default: {DEFAULT_TOKEN!r} when no "
                        "token is given here or in the seed)")
    p.add_argument("--throttle-rate", type=float, metavar="R",
                   help="answer 429 past R requests/second to /api (token bucket, burst R); "
                        "off by default")
    p.add_argument("--retry-after-form", choices=("seconds", "http-date"), default="seconds",
                   help="form of Retry-After on 429 answers (default seconds)")
    p.add_argument("--request-log-limit", type=int, default=100_000, metavar="N",
                   help="keep at most N request-log entries in memory (default 100000)")
    p.add_argument("--https-cert", type=Path, metavar="PEM",
                   help="serve HTTPS with this certificate chain (needs --https-key)")
    p.add_argument("--https-key", type=Path, metavar="PEM", help="private key for --https-cert")
    p.add_argument("--log-level", default="INFO",
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="stderr log level (default INFO; DEBUG logs every request)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGTERM/SIGINT; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.time_scale < 0:
        parser.error("--time-scale must be >= 0")
    if args.throttle_rate is not None and args.throttle_rate <= 0:
        parser.error("--throttle-rate must be > 0")
    if bool(args.https_cert) != bool(args.https_key):
        parser.error("--https-cert and --https-key go together")

    seed = None
    if args.seed is not None:
        try:
            seed = load_seed_file(args.seed)
        except OSError as exc:
            print(f"marketplace-emulator: cannot read seed {args.seed}: {exc}", file=sys.stderr)
            return 2
        except SeedError as exc:
            print(f"marketplace-emulator: invalid seed {args.seed}: {exc}", file=sys.stderr)
            return 2

    ssl_context = None
    if args.https_cert:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.https_cert, args.https_key)

    options = EmulatorOptions(
        tokens=tuple(args.token),
        time_scale=args.time_scale,
        seed=seed,
        state_file=args.state_file,
        throttle=ThrottleConfig(
            max_per_second=args.throttle_rate,
            retry_after_form=args.retry_after_form,
        ),
        request_log_limit=args.request_log_limit,
    )
    try:
        server = EmulatorServer(
            options, host=args.host, port=args.port, ssl_context=ssl_context, poll_interval=0.2
        )
    except (OSError, ValueError) as exc:
        print(f"marketplace-emulator: cannot start: {exc}", file=sys.stderr)
        return 1

    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    print(server.base_url, flush=True)
    log = logging.getLogger("marketplace_emulator")
    emu = server.emulator
    log.info(
        "serving %s (api %s, admin %s) time-scale=%g tokens=%d offers=%d state-file=%s",
        server.base_url,
        "/api",
        ADMIN_PREFIX,
        emu.clock.scale,
        len(emu.tokens),
        len(emu.model.offers),
        args.state_file or "-",
    )
    try:
        server.serve_forever()
    finally:
        server.stop()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
