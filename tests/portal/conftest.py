"""Fixtures for Partner Portal client tests: the emulator on a scaled clock, and a client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import pytest

from marketplace_emulator.harness import RunningEmulator
from pulumi_marketplace_provider.partner_portal import PortalClient, StaticToken, ThrottleGate
from pulumi_marketplace_provider.procedure import Procedure, ScaledClock, run_sync
from tests.conftest import EmulatorFactory

from .rogue import RogueServer

PUB = "contoso"
SCALE = 200.0  # emulated seconds per real second; the client's clock runs at the same pace
R = TypeVar("R")


def emulated(entry: dict[str, Any]) -> float:
    """A request log entry's emulated time, in epoch seconds."""
    return datetime.fromisoformat(entry["emulatedTime"].replace("Z", "+00:00")).timestamp()


@dataclass
class Portal:
    """An emulator, a client for it, a clock on its pace and a throttle gate of our own."""

    emu: RunningEmulator
    clock: ScaledClock
    client: PortalClient
    gate: ThrottleGate

    @property
    def admin(self) -> Any:
        return self.emu.admin

    def run(self, proc: Procedure[R]) -> R:
        return run_sync(proc, clock=self.clock)

    def deadline(self, seconds: float = 7 * 86400.0) -> float:
        return self.clock.now() + seconds

    def offer(self, offer_id: str = "offer", **config: Any) -> str:
        self.admin.put_offer(PUB, offer_id, **config)
        return offer_id

    def operations(self, offer_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = self.admin.operations(PUB, offer_id)
        return [o for o in ops if kind is None or o["submissionType"] == kind]

    def requests(self, method: str | None = None, path: str | None = None
                 ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.admin.requests(method=method, path=path)
        return rows

    def golive_posts(self, offer_id: str) -> list[dict[str, Any]]:
        return self.requests("POST", f"/offers/{offer_id}/golive")


@pytest.fixture
def portal(emulator_factory: EmulatorFactory) -> Iterator[Portal]:
    emu = emulator_factory(time_scale=SCALE)
    clock = ScaledClock(SCALE)
    client = PortalClient(emu.base_url, StaticToken(emu.token), clock=clock, timeout=(2.0, 5.0))
    try:
        yield Portal(emu, clock, client, ThrottleGate())
    finally:
        client.close()


@pytest.fixture
def rogue() -> Iterator[RogueServer]:
    server = RogueServer().start()
    try:
        yield server
    finally:
        server.stop()
