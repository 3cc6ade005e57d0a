"""Shared fixtures: the emulator, the one test bed every test talks to over real HTTP.

- `emulator`: a fresh in-process emulator (background thread) per test; fast.
- `emulator_factory`: start in-process emulators with a seed, tokens, clock scale or throttle.
- `emulator_process`: the emulator as a subprocess (`python -m marketplace_emulator`) with a
  state file in tmp_path; `.restart()`, `.kill()`, `.stop()` for restart tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from marketplace_emulator.harness import (
    AdminClient,
    EmulatorProcess,
    EmulatorServer,
    RunningEmulator,
    start_in_process,
)
from marketplace_emulator.throttle import ThrottleConfig

EmulatorFactory = Callable[..., RunningEmulator]


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """A fresh in-process emulator (clock scale 1, token `emulator-token`, no offers)."""
    server = start_in_process()
    try:
        yield RunningEmulator(server.base_url, AdminClient(server.base_url), server=server)
    finally:
        server.stop()


@pytest.fixture
def emulator_factory() -> Iterator[EmulatorFactory]:
    """`start(seed=None, *, tokens=(), time_scale=1.0, throttle=None, state_file=None)`."""
    servers: list[EmulatorServer] = []

    def start(
        seed: dict[str, Any] | None = None,
        *,
        tokens: tuple[str, ...] = (),
        time_scale: float = 1.0,
        throttle: ThrottleConfig | None = None,
        state_file: Path | None = None,
    ) -> RunningEmulator:
        server = start_in_process(
            seed, tokens=tokens, time_scale=time_scale, throttle=throttle, state_file=state_file
        )
        servers.append(server)
        seed_tokens = (seed or {}).get("tokens") or ["emulator-token"]
        token = tokens[0] if tokens else seed_tokens[0]
        return RunningEmulator(server.base_url, AdminClient(server.base_url), token, server=server)

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """The emulator as a subprocess with a state file at tmp_path/emulator-state.json."""
    with EmulatorProcess(state_file=tmp_path / "emulator-state.json") as proc:
        yield proc
