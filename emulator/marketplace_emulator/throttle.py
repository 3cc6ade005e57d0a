"""Per-process token-bucket throttle answering 429 with Retry-After, like a busy portal."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ThrottleError(ValueError):
    """A throttle setting is invalid; the message names the field."""


@dataclass(frozen=True)
class ThrottleConfig:
    """Rate (requests per real second; None = off), bucket size and Retry-After form."""

    max_per_second: float | None = None
    burst: float | None = None
    retry_after_form: str = "seconds"
    retry_after_seconds: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Admin/persisted form."""
        return {
            "maxPerSecond": self.max_per_second,
            "burst": self.effective_burst if self.max_per_second else self.burst,
            "retryAfter": self.retry_after_form,
            "retryAfterSeconds": self.retry_after_seconds,
        }

    @property
    def effective_burst(self) -> float:
        """Bucket capacity: `burst`, else one second's worth (at least 1)."""
        if self.burst is not None:
            return self.burst
        return max(1.0, self.max_per_second or 1.0)


def parse_throttle(data: Any, current: ThrottleConfig) -> ThrottleConfig:
    """Validate an admin PUT; absent fields keep their current values."""
    if not isinstance(data, dict):
        raise ThrottleError("throttle: must be a JSON object")
    known = {"maxPerSecond", "burst", "retryAfter", "retryAfterSeconds"}
    for key in data:
        if key not in known:
            raise ThrottleError(f"{key}: unknown field (known: {', '.join(sorted(known))})")
    rate = data.get("maxPerSecond", current.max_per_second)
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate):
            raise ThrottleError("maxPerSecond: must be a number or null (off)")
        if rate <= 0:
            raise ThrottleError("maxPerSecond: must be > 0 (use null to turn throttling off)")
    burst = data.get("burst", current.burst if "maxPerSecond" not in data else None)
    if burst is not None and (
        isinstance(burst, bool) or not isinstance(burst, (int, float)) or burst < 1
    ):
        raise ThrottleError("burst: must be a number >= 1")
    form = data.get("retryAfter", current.retry_after_form)
    if form not in ("seconds", "http-date"):
        raise ThrottleError("retryAfter: must be 'seconds' or 'http-date'")
    secs = data.get("retryAfterSeconds", current.retry_after_seconds)
    if secs is not None and (isinstance(secs, bool) or not isinstance(secs, int) or secs < 0):
        raise ThrottleError("retryAfterSeconds: must be a non-negative integer or null")
    return ThrottleConfig(
        max_per_second=None if rate is None else float(rate),
        burst=None if burst is None else float(burst),
        retry_after_form=form,
        retry_after_seconds=secs,
    )


class Throttle:
    """Token bucket refilled at `max_per_second`; `take()` says how long to wait when empty."""

    def __init__(self, config: ThrottleConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(config)

    def configure(self, config: ThrottleConfig) -> None:
        """Apply a new configuration with a full bucket."""
        with self._lock:
            self.config = config
            self._tokens = config.effective_burst
            self._last = self._clock()

    def take(self) -> float | None:
        """Take one token: None when allowed, else seconds until a token is available."""
        cfg = self.config
        rate = cfg.max_per_second
        if rate is None:
            return None
        with self._lock:
            now = self._clock()
            self._tokens = min(cfg.effective_burst, self._tokens + (now - self._last) * rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return (1.0 - self._tokens) / rate
