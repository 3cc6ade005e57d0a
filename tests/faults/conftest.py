"""Fixtures for the fault tests: the lifecycle tests' flavours, fast emulator and offer seeding."""

from tests.lifecycle.conftest import SeedOffer, fast_emulator, flavour, seed_offer

__all__ = ["SeedOffer", "fast_emulator", "flavour", "seed_offer"]
