"""Request log: what the API was asked, in order, so tests can assert on client behaviour.

Tests read it to check, for example, that exactly one go-live POST reached an offer. Entries
are recorded before the answer is written, so a client that got its answer will find its request
in the log. With a state file, entries are appended to a JSON-lines sidecar so the log and its
sequence survive a restart.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from .clock import iso


class RequestLog:
    """Bounded in-memory log with an optional append-only sidecar file."""

    def __init__(self, limit: int = 100_000, sidecar: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._seq = 0
        self._sidecar = sidecar
        self._file: Any = None
        if sidecar is not None:
            self._load(sidecar)
            self._file = open(sidecar, "a", encoding="utf-8")

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a kill: skip it
        rows.sort(key=lambda r: int(r.get("seq", 0)))
        for row in rows:
            self._entries.append(row)
            self._seq = max(self._seq, int(row.get("seq", 0)))

    @property
    def seq(self) -> int:
        """Last sequence number handed out."""
        return self._seq

    def bump_seq(self, at_least: int) -> None:
        """Never hand out a number at or below `at_least` (restored from the state file)."""
        with self._lock:
            self._seq = max(self._seq, at_least)

    def begin(
        self, method: str, path: str, query: str, headers: dict[str, str], emulated: float
    ) -> dict[str, Any]:
        """Start an entry (gets its sequence number now, in arrival order)."""
        with self._lock:
            self._seq += 1
            seq = self._seq
        return {
            "seq": seq,
            "time": iso(time.time()),
            "emulatedTime": iso(emulated),
            "method": method,
            "path": path,
            "query": query,
            "status": None,
            "fault": None,
            "applied": False,
            "headers": headers,
        }

    def finish(self, entry: dict[str, Any]) -> None:
        """Record a completed entry (status None = no answer was sent)."""
        with self._lock:
            self._entries.append(entry)
            if self._file is not None:
                self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
                self._file.flush()

    def entries(
        self,
        method: str | None = None,
        path: str | None = None,
        since: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries in sequence order, optionally filtered (path = regex searched in the path)."""
        regex = re.compile(path) if path else None
        with self._lock:
            rows = sorted(self._entries, key=lambda e: int(e["seq"]))
        out = []
        for row in rows:
            if method and row["method"].upper() != method.upper():
                continue
            if regex is not None and not regex.search(row["path"]):
                continue
            if since is not None and int(row["seq"]) <= since:
                continue
            out.append(row)
        return out

    def clear(self) -> None:
        """Forget entries (sequence numbers keep increasing)."""
        with self._lock:
            self._entries.clear()
            if self._file is not None:
                self._file.seek(0)
                self._file.truncate()
                self._file.flush()

    def close(self) -> None:
        """Close the sidecar."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
