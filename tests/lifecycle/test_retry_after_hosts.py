"""Retry-After through both hosts: the 202 that started the go-live, and a 503 while waiting.

The providers run on real time, the emulator FAST times faster: a Retry-After of 3 (real)
seconds is 60 seconds in the emulator's request log.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from marketplace_emulator.harness import RunningEmulator
from tests.lifecycle.conftest import SeedOffer
from tests.lifecycle.support import FAST, PUBLISHER, Flavour, engine


def _at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["emulatedTime"].replace("Z", "+00:00")).timestamp()


def test_the_202s_retry_after_delays_the_first_poll(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """On 432de4c the first poll followed the POST at once."""
    offer = seed_offer(pollRetryAfter=3,
                       goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 60}])
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)]
               ).raise_for_failure()
    log = fast_emulator.admin.requests()
    [post] = [r for r in log if r["method"] == "POST" and r["path"].endswith("/golive")]
    polls = [r for r in log if r["method"] == "GET" and "/operations/" in r["path"]
             and r["seq"] > post["seq"]]
    assert polls and _at(polls[0]) - _at(post) >= (3 - 0.5) * FAST


def test_a_503s_retry_after_is_honoured_while_waiting(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """On 432de4c a 503's Retry-After was ignored (a 2 s backoff followed)."""
    offer = seed_offer(goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 80}])
    fast_emulator.admin.add_fault("status", "/operations/", method="GET", status=503,
                                  retry_after=3)
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)]
               ).raise_for_failure()
    polls = [r for r in fast_emulator.admin.requests()
             if r["method"] == "GET" and "/operations/" in r["path"]]
    refused = next(r for r in polls if r["status"] == 503)
    after = [_at(r) - _at(refused) for r in polls if r["seq"] > refused["seq"]]
    assert after and min(after) >= (3 - 0.5) * FAST  # the backoff alone: 1.6-2 s
