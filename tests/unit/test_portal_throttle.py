"""The process-wide throttle gate."""

from __future__ import annotations

import math
import threading

from pulumi_marketplace_provider.partner_portal import GLOBAL_THROTTLE, ThrottleGate


def test_a_long_retry_after_closes_the_gate_for_everyone_until_it_passes() -> None:
    gate = ThrottleGate()
    assert gate.snapshot(100.0).not_before == -math.inf
    gate.note_429(20.0, 100.0)
    view = gate.snapshot(101.0)
    assert view.not_before == 120.0 and view.spread == 10.0
    assert gate.snapshot(130.0).not_before == -math.inf  # open again once it passed


def test_repeated_429s_keep_the_latest_end_and_clamp_retry_after() -> None:
    gate = ThrottleGate()
    gate.note_429(30.0, 0.0)
    gate.note_429(5.0, 1.0)  # a shorter one meanwhile does not open the gate sooner
    assert gate.snapshot(2.0).not_before == 30.0
    gate.reset()
    gate.note_429(10**9, 0.0)
    assert gate.not_before() == gate.max_retry_after
    gate.note_429(-5, 0.0)
    assert gate.not_before() == gate.max_retry_after


def test_times_from_another_clock_are_ignored() -> None:
    gate = ThrottleGate()
    gate.note_429(30.0, 1e9)  # a scaled clock far ahead
    assert gate.snapshot(50.0).not_before == -math.inf


def test_thread_safe_counts_and_global_instance() -> None:
    gate = ThrottleGate()
    def hammer() -> None:
        for _ in range(200):
            gate.note_429(1.0, 0.0)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gate.refusals == 1600
    assert isinstance(GLOBAL_THROTTLE, ThrottleGate)


def test_the_spread_follows_the_current_pressure_and_relaxes() -> None:
    """One 429 with Retry-After: 60 must not add up to 30 s of random delay to every later 429
    for the life of the process (on 432de4c the spread never decayed)."""
    gate = ThrottleGate()
    gate.note_429(60.0, 0.0)
    assert gate.snapshot(1.0).spread == 30.0
    gate.note_429(3.0, 1000.0)  # long after the first gate opened
    assert gate.snapshot(1000.5).spread == 1.5
    # While a gate is still closed, a shorter refusal does not shrink the spread it set.
    gate.note_429(60.0, 2000.0)
    gate.note_429(3.0, 2001.0)
    assert gate.snapshot(2001.5).spread == 30.0


def test_a_short_or_missing_retry_after_leaves_the_gate_open_for_the_pacer() -> None:
    """A 429 with `Retry-After: 1` (or none) asks the refused request to wait; closing the gate
    for the whole process would leave the quota unused while the pacer already slows it."""
    gate = ThrottleGate()
    gate.note_429(1.0, 100.0)
    gate.note_429(None, 100.5)
    gate.note_429(2.0, 101.0)
    view = gate.snapshot(101.0)
    assert view.not_before == -math.inf and gate.refusals == 3
    gate.note_429(2.5, 101.0)
    assert gate.snapshot(101.0).not_before == 103.5
