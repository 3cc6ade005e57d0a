"""Injected faults: the failures a real network and a real portal produce, on demand.

A fault matches requests by method and a regex searched in the path; `skip` lets the first
matches through, `times` bounds how often it fires (null = forever). One fault fires per request:
the oldest active one that matches.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any

KINDS = ("status", "reset", "delay", "drop", "malformed", "nopointer", "retryafter")
# Kinds that let the request reach the API (and change state) before misbehaving.
APPLYING_KINDS = ("delay", "drop", "malformed", "nopointer", "retryafter")


class FaultError(ValueError):
    """A fault definition is invalid; the message names the field."""


@dataclass
class Fault:
    """One fault rule and its remaining budget."""

    id: int
    method: str
    path: str
    kind: str
    status: int
    delay: float
    retry_after: str | None
    times: int | None
    skip: int
    code: str | None
    message: str | None
    hits: int = 0
    _regex: re.Pattern[str] | None = None

    @property
    def regex(self) -> re.Pattern[str]:
        """Compiled path pattern."""
        if self._regex is None:
            self._regex = re.compile(self.path)
        return self._regex

    @property
    def active(self) -> bool:
        """Still has firings left."""
        return self.times is None or self.times > 0

    def to_dict(self) -> dict[str, Any]:
        """Admin/persisted form; `times` is the remaining count."""
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "kind": self.kind,
            "status": self.status,
            "delay": self.delay,
            "retryAfter": self.retry_after,
            "times": self.times,
            "remaining": self.times,
            "skip": self.skip,
            "code": self.code,
            "message": self.message,
            "hits": self.hits,
        }


def parse_fault(data: Any, fault_id: int) -> Fault:
    """Validate a fault definition from the admin API."""
    if not isinstance(data, dict):
        raise FaultError("fault: must be a JSON object")
    known = {"method", "path", "kind", "status", "delay", "retryAfter", "times", "skip", "code",
             "message", "id", "remaining", "hits"}
    for key in data:
        if key not in known:
            raise FaultError(f"{key}: unknown field (known: {', '.join(sorted(known))})")
    method = data.get("method", "*")
    if not isinstance(method, str) or not method:
        raise FaultError("method: must be an HTTP method or '*'")
    path = data.get("path", "")
    if not isinstance(path, str):
        raise FaultError("path: must be a regex string")
    try:
        re.compile(path)
    except re.error as exc:
        raise FaultError(f"path: invalid regex ({exc})") from exc
    kind = data.get("kind")
    if kind not in KINDS:
        raise FaultError(f"kind: must be one of {', '.join(KINDS)} (got {kind!r})")
    status = data.get("status", 503 if kind == "status" else 0)
    if isinstance(status, bool) or not isinstance(status, int):
        raise FaultError("status: must be an integer HTTP status")
    if kind == "status" and not 100 <= status <= 599:
        raise FaultError("status: must be between 100 and 599")
    delay = data.get("delay", 0.0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not math.isfinite(delay):
        raise FaultError("delay: must be a number of seconds")
    if delay < 0:
        raise FaultError("delay: must be >= 0")
    retry_after = data.get("retryAfter")
    if isinstance(retry_after, bool) or not isinstance(retry_after, (str, int, type(None))):
        raise FaultError("retryAfter: must be seconds (int or string) or an HTTP-date string")
    if kind == "retryafter" and retry_after is None:
        raise FaultError("retryAfter: required for kind retryafter")
    times = data.get("times", 1)
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise FaultError("times: must be a non-negative integer or null (forever)")
    skip = data.get("skip", 0)
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise FaultError("skip: must be a non-negative integer")
    code = data.get("code")
    message = data.get("message")
    if code is not None and not isinstance(code, str):
        raise FaultError("code: must be a string")
    if message is not None and not isinstance(message, str):
        raise FaultError("message: must be a string")
    return Fault(
        id=fault_id,
        method=method.upper(),
        path=path,
        kind=kind,
        status=status,
        delay=float(delay),
        retry_after=None if retry_after is None else str(retry_after),
        times=times,
        skip=skip,
        code=code,
        message=message,
    )


class FaultSet:
    """The active fault rules (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, data: Any) -> Fault:
        """Validate and append a fault; returns it with its id."""
        with self._lock:
            fault = parse_fault(data, self._next_id)
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        """All faults with remaining counts."""
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def match(self, method: str, paths: tuple[str, ...]) -> Fault | None:
        """Consume and return the fault that fires for this request, if any."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if not fault.active:
                    continue
                if fault.method not in ("*", method.upper()):
                    continue
                if not any(fault.regex.search(p) for p in paths):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if fault.times is not None:
                    fault.times -= 1
                fault.hits += 1
                return fault
            return None

    def to_state(self) -> dict[str, Any]:
        """Persistable form."""
        with self._lock:
            return {"nextId": self._next_id, "faults": [f.to_dict() for f in self._faults]}

    def load_state(self, data: dict[str, Any]) -> None:
        """Restore from the state file."""
        with self._lock:
            self._faults = []
            for raw in data.get("faults", []):
                fault = parse_fault(
                    {k: v for k, v in raw.items() if k not in ("id", "remaining", "hits")},
                    int(raw["id"]),
                )
                fault.hits = int(raw.get("hits", 0))
                self._faults.append(fault)
            self._next_id = int(data.get("nextId", len(self._faults) + 1))
