"""The plugin's command line, as the engine passes it: flags, then the engine address last.

The SDK's own parser takes the value of `--tracing` for the engine address; here the address is
the last argument that is neither a flag nor a flag's value (a Handshake may override it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FLAGS_WITH_VALUE = frozenset({"--tracing", "--root", "-tracing", "-root"})


@dataclass(frozen=True)
class PluginArguments:
    engine_address: str | None
    tracing: str | None
    verbosity: int
    log_to_stderr: bool


def parse_arguments(argv: Sequence[str]) -> PluginArguments:
    """Parse `[--logtostderr] [-v=N] [--tracing EP] <engine address>` tolerantly."""
    positional: list[str] = []
    tracing: str | None = None
    verbosity = 0
    log_to_stderr = False
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        name, _, inline = arg.partition("=")
        if name in FLAGS_WITH_VALUE:
            value = inline if inline else (args[i + 1] if i + 1 < len(args) else None)
            if name.endswith("tracing"):
                tracing = value
            i += 1 if inline else 2
            continue
        if name in ("-v", "--v"):
            try:
                verbosity = int(inline) if inline else 0
            except ValueError:
                verbosity = 0
        elif name in ("--logtostderr", "-logtostderr"):
            log_to_stderr = True
        elif not arg.startswith("-"):
            positional.append(arg)
        i += 1
    return PluginArguments(
        engine_address=positional[-1] if positional else None,
        tracing=tracing,
        verbosity=verbosity,
        log_to_stderr=log_to_stderr,
    )
