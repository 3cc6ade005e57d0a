"""Scaled emulated clock.

Operation progress is derived from emulated timestamps, never from timers, so a faster clock
makes hour-long operations finish in seconds and a restarted emulator continues where it was.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

_TICKS_AT_EPOCH = 621_355_968_000_000_000  # .NET ticks (100 ns since 0001-01-01) at 1970-01-01


@functools.lru_cache(maxsize=65536)
def iso(ts: float) -> str:
    """Format emulated epoch seconds as ISO-8601 UTC with a `Z`, like the portal's samples."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> float:
    """Parse an ISO-8601 timestamp (with `Z` or offset) back into epoch seconds."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def dotnet_ticks(ts: float) -> int:
    """Epoch seconds as .NET ticks: the submissions list's `version` (a long) looks like this."""
    return _TICKS_AT_EPOCH + round(ts * 10_000_000)


class Clock:
    """Emulated time that advances `scale` emulated seconds per real second.

    The clock is anchored on wall time (not monotonic time) so that a state file written by one
    process can be resumed by another: emulated time keeps running while the emulator is down.
    """

    def __init__(
        self,
        scale: float = 1.0,
        start: float | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not math.isfinite(scale) or scale < 0:
            raise ValueError("scale must be a finite number >= 0")
        self._wall = wall
        self._lock = threading.Lock()
        self._anchor_real = wall()
        self._anchor_emulated = self._anchor_real if start is None else start
        self._scale = float(scale)

    def now(self) -> float:
        """Current emulated time in epoch seconds."""
        with self._lock:
            return self._anchor_emulated + (self._wall() - self._anchor_real) * self._scale

    @property
    def scale(self) -> float:
        """Emulated seconds per real second."""
        return self._scale

    def set_scale(self, scale: float) -> None:
        """Change speed without a jump: re-anchor at the current emulated instant."""
        if not math.isfinite(scale) or scale < 0:
            raise ValueError("scale must be a finite number >= 0")
        with self._lock:
            real = self._wall()
            self._anchor_emulated += (real - self._anchor_real) * self._scale
            self._anchor_real = real
            self._scale = float(scale)

    def advance(self, seconds: float) -> None:
        """Jump emulated time ahead (never back: operations must not un-finish)."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("seconds must be a finite number >= 0")
        with self._lock:
            self._anchor_emulated += seconds

    def real_seconds_until(self, emulated_target: float) -> float:
        """Real seconds until emulated time reaches `emulated_target` (inf if frozen)."""
        delta = emulated_target - self.now()
        if delta <= 0:
            return 0.0
        if self._scale == 0:
            return math.inf
        return delta / self._scale

    def to_dict(self) -> dict[str, Any]:
        """Persistable form: the anchor pair and the scale."""
        with self._lock:
            return {
                "anchorReal": self._anchor_real,
                "anchorEmulated": self._anchor_emulated,
                "scale": self._scale,
            }

    def restore(self, data: dict[str, Any]) -> None:
        """Resume a clock saved by `to_dict` (emulated time kept running while we were down)."""
        with self._lock:
            self._anchor_real = float(data["anchorReal"])
            self._anchor_emulated = float(data["anchorEmulated"])
            self._scale = float(data["scale"])

    def describe(self) -> dict[str, Any]:
        """What the admin API shows."""
        now = self.now()
        return {"now": iso(now), "nowEpoch": now, "scale": self._scale}
