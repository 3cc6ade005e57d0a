"""`Retry-After`: delay-seconds or an HTTP-date, read against the caller's wall clock."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = ["clamp", "parse_retry_after"]

_SECONDS = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,6})?)\s*$")


def parse_retry_after(value: str | None, now_wall: datetime) -> float | None:
    """Seconds to wait from `now_wall` (UTC), or None when absent/unreadable; never negative.

    Accepts `120`, `1.5` (lenient), and the three HTTP-date forms (IMF-fixdate, RFC 850,
    asctime). A date in the past means "now" (0).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    m = _SECONDS.match(text)
    if m:
        seconds = float(m.group(1))
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if now_wall.tzinfo is None:
        now_wall = now_wall.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now_wall).total_seconds())


def clamp(value: float, low: float, high: float) -> float:
    """`value` limited to [low, high]; NaN gives `low`."""
    if not value == value:  # NaN
        return low
    return max(low, min(high, value))
