"""A process-wide throttle gate: a long `Retry-After` holds every request of the process.

All waiters share one portal quota. A long `Retry-After` (over `pace_only_up_to`, 2 s) closes
the gate: no request of the process goes before it has passed (spread out a little so they do
not all return at once). A short one, or none, asks only the refused request to wait: the
origin's pacer (`pacing`) already slows every request to the rate the portal accepts, and
stopping the whole process for a rounding of a sub-second wait would leave that quota unused.
(Until the pacer came, every 429 also stretched blind polls for two minutes; under the pacer
that left ends unseen for a minute, so it went.)
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from .retry_after import clamp

__all__ = ["GLOBAL_THROTTLE", "GateView", "ThrottleGate"]


@dataclass(frozen=True)
class GateView:
    """A snapshot of the gate as one waiter sees it at one moment (pure data for the schedule)."""

    not_before: float = -math.inf
    spread: float = 0.0


_OPEN = GateView()


class ThrottleGate:
    """Thread-safe. Times are in the caller's clock; readers on another clock ignore them."""

    def __init__(
        self,
        *,
        default_retry_after: float = 5.0,
        min_retry_after: float = 1.0,
        max_retry_after: float = 600.0,
        max_spread: float = 30.0,
        pace_only_up_to: float = 2.0,
    ) -> None:
        self.default_retry_after = default_retry_after
        self.min_retry_after = min_retry_after
        self.max_retry_after = max_retry_after
        self.max_spread = max_spread
        self.pace_only_up_to = pace_only_up_to
        self._lock = threading.Lock()
        self._not_before = -math.inf
        self._spread = 0.0
        self.refusals = 0

    def note_429(self, retry_after: float | None, now: float) -> None:
        """Record a refusal at `now` with the server's Retry-After seconds (None: a default)."""
        wait = clamp(
            self.default_retry_after if retry_after is None else retry_after,
            self.min_retry_after,
            self.max_retry_after,
        )
        with self._lock:
            self.refusals += 1
            if retry_after is None or retry_after <= self.pace_only_up_to:
                return  # the refused request waits; the pacer slows the others
            if now >= self._not_before:
                # The last gate had opened: the spread follows this refusal, not the worst
                # one ever seen (a 60 s Retry-After once must not add 30 s to every later one).
                self._spread = 0.0
            self._not_before = max(self._not_before, now + wait)
            self._spread = min(self.max_spread, max(self._spread, wait / 2))

    def not_before(self) -> float:
        """No request should be sent before this time (the caller's clock)."""
        with self._lock:
            return self._not_before

    def snapshot(self, now: float) -> GateView:
        """What the gate asks of a waiter polling at `now`."""
        with self._lock:
            not_before, spread = self._not_before, self._spread
        if not_before - now > self.max_retry_after + 1.0:
            return _OPEN  # noted on another clock (e.g. a scaled one): not ours to honour
        if not_before <= now:
            return _OPEN
        return GateView(not_before=not_before, spread=spread)

    def reset(self) -> None:
        with self._lock:
            self._not_before = -math.inf
            self._spread = 0.0
            self.refusals = 0


GLOBAL_THROTTLE = ThrottleGate()
