"""Read a step's `estimatedTimeFrame` ("< 15 min", "~2-5 days", "< 1 hour", "< 5 day") as bounds.

The waiter uses the lower bound to skip polls that cannot see the end yet; the text is free
form, so anything unreadable gives None and the waiter falls back to plain backoff.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["TimeFrame", "parse_time_frame"]

_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "businessday": 86400.0,
    "businessdays": 86400.0,
    "w": 604800.0,
    "wk": 604800.0,
    "week": 604800.0,
    "weeks": 604800.0,
}

_PATTERN = re.compile(
    r"""^\s*
    (?P<prefix><=|>=|<|>|~|≈|about|approx\.?|approximately|up\s+to|under|less\s+than|more\s+than|over)?
    \s*(?P<a>\d+(?:\.\d+)?)
    (?:\s*(?:-|\u2013|\u2014|to)\s*(?P<b>\d+(?:\.\d+)?))?
    \s*(?P<unit>[a-z]+(?:\s+days?)?)\.?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class TimeFrame:
    """Plausible duration of a step, in seconds: `low` <= duration <= `high` (high may be inf)."""

    low: float
    high: float


def parse_time_frame(text: str | None) -> TimeFrame | None:
    """Bounds for an estimate text; None when it cannot be read."""
    if not text:
        return None
    m = _PATTERN.match(text.strip())
    if not m:
        return None
    unit = _UNITS.get(re.sub(r"\s+", "", m.group("unit").lower()))
    if unit is None:
        return None
    a = float(m.group("a")) * unit
    b = float(m.group("b")) * unit if m.group("b") else None
    prefix = re.sub(r"\s+", " ", (m.group("prefix") or "").lower())
    if b is not None and b < a:
        a, b = b, a
    if prefix in ("<", "<=", "up to", "under", "less than"):
        return TimeFrame(0.0, b if b is not None else a)
    if prefix in (">", ">=", "more than", "over"):
        return TimeFrame(a, math.inf)
    if b is not None:
        return TimeFrame(a, b)
    # "~3 hours" or a bare "3 hours": somewhere around it.
    return TimeFrame(a * 0.5, a * 1.5)
