"""State file: load at start, save atomically after every mutation.

Saves are group-committed: a mutation bumps a generation number and waits until a save covering
it is on disk, while one background writer snapshots and writes the newest state. Many
concurrent mutations therefore cost one write, and none answers before its change is saved.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class StateStore:
    """Writes `snapshot()` to `path` (tmp + rename) whenever `commit()` is called."""

    def __init__(self, path: Path | None, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self._snapshot = snapshot
        self._cond = threading.Condition()
        self._generation = 0
        self._saved = 0
        self._closed = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if path is not None:
            self._thread = threading.Thread(target=self._run, name="state-writer", daemon=True)
            self._thread.start()

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is no state file yet."""
        if self.path is None or not self.path.exists():
            return None
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("formatVersion") != FORMAT_VERSION:
            raise ValueError(f"{self.path}: not an emulator state file of format {FORMAT_VERSION}")
        return data

    def commit(self) -> None:
        """Mark state changed and wait until it is saved (no-op without a state file)."""
        if self.path is None:
            return
        with self._cond:
            self._generation += 1
            wanted = self._generation
            self._cond.notify_all()
            while self._saved < wanted and not self._closed:
                self._cond.wait(timeout=5.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._saved >= self._generation and not self._closed:
                    self._cond.wait()
                if self._closed and self._saved >= self._generation:
                    return
                target = self._generation
            try:
                self.write_now()
            except Exception as exc:  # keep serving; report once per failure
                log.error("could not save state file %s: %s", self.path, exc)
            with self._cond:
                self._saved = max(self._saved, target)
                self._cond.notify_all()

    def write_now(self) -> None:
        """Snapshot and write synchronously (tmp file in the same directory, then rename)."""
        if self.path is None:
            return
        data = self._snapshot()
        data["formatVersion"] = FORMAT_VERSION
        text = json.dumps(data, separators=(",", ":"))
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def close(self) -> None:
        """Write a final save and stop the writer."""
        if self.path is None:
            return
        with self._cond:
            self._generation += 1
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
