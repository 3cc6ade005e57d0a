"""Fixtures for the fault tests: both provider flavours and a fast in-process emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from marketplace_emulator.harness import RunningEmulator
from tests.lifecycle.support import FAST, PUBLISHER, Flavour, fast_steps

SeedOffer = Callable[..., str]


@pytest.fixture(params=["dynamic", "plugin"])
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return Flavour(request.param)


@pytest.fixture
def fast_emulator(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    """An emulator whose clock runs FAST times real time (a 40 s go-live takes 2 s)."""
    return emulator_factory(time_scale=FAST)


@pytest.fixture
def seed_offer(fast_emulator: RunningEmulator) -> SeedOffer:
    """Put an offer waiting at publisher sign-off; returns its id."""

    def seed(offer: str = "contoso-vm", **config: Any) -> str:
        config.setdefault("state", "signoff")
        config.setdefault("goLiveSteps", fast_steps())
        config.setdefault("stepEstimates", False)
        fast_emulator.admin.put_offer(PUBLISHER, offer, **config)
        return offer

    return seed
