"""Shared pieces: the emulator as a subprocess, its clock, statistics, tables, machine facts."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marketplace_emulator.harness import AdminClient, EmulatorProcess

REPO = Path(__file__).resolve().parent.parent
API_VERSION = "2017-10-31"
TOKEN = "emulator-token"
PUBLISHER = "bench"
TERMINAL = frozenset({"succeeded", "failed", "canceled", "completed"})


def log(message: str) -> None:
    """Progress for the person watching (stderr, so stdout keeps only the tables)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- emulator


class Emulator:
    """The emulator as users run it (a subprocess), with a large request log for counting."""

    def __init__(self, *, time_scale: float = 1.0, request_log_limit: int = 2_000_000) -> None:
        self.time_scale = time_scale
        self.process = EmulatorProcess(
            time_scale=time_scale,
            log_level="WARNING",
            extra_args=("--request-log-limit", str(request_log_limit)),
        )

    def __enter__(self) -> Emulator:
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return self.process.base_url

    @property
    def admin(self) -> AdminClient:
        return self.process.admin

    def clock_map(self) -> ClockMap:
        """Map this process's wall clock onto the emulator's emulated clock."""
        return ClockMap.measure(self.admin)

    def request_seq(self) -> int:
        """The sequence number of the last logged request (a mark for `requests_since`)."""
        url = f"{self.base_url}/_emulator/requests?since={10**15}"
        with urllib.request.urlopen(url, timeout=30) as resp:
            return int(json.loads(resp.read())["seq"])

    def requests_since(self, seq: int, method: str | None = None,
                       path: str | None = None) -> list[dict[str, Any]]:
        return self.admin.requests(method=method, path=path, since=seq)


@dataclass(frozen=True)
class ClockMap:
    """emulated(t) = emulated_at + (t - wall_at) * scale, for `t` from `time.time()`.

    The emulator's clock is anchored on the wall clock (`time.time()`), like ours, so the
    mapping does not drift; its error is about half the admin round trip times the scale.
    """

    wall_at: float
    emulated_at: float
    scale: float
    rtt: float

    @classmethod
    def measure(cls, admin: AdminClient, samples: int = 7) -> ClockMap:
        best: ClockMap | None = None
        for _ in range(samples):
            t0 = time.time()
            doc = admin.clock()
            t1 = time.time()
            cand = cls((t0 + t1) / 2.0, float(doc["nowEpoch"]), float(doc["scale"]), t1 - t0)
            if best is None or cand.rtt < best.rtt:
                best = cand
        assert best is not None
        return best

    def emulated(self, wall: float) -> float:
        return self.emulated_at + (wall - self.wall_at) * self.scale

    def wall(self, emulated: float) -> float:
        return self.wall_at + (emulated - self.emulated_at) / self.scale


def golive_steps(duration: float, *, estimates_hold: bool = True) -> list[dict[str, Any]]:
    """Two go-live steps lasting `duration` emulated seconds (1/3 + 2/3, like the defaults),
    each with an `estimatedTimeFrame` that the actual duration falls inside."""
    prep, live = duration / 3.0, duration * 2.0 / 3.0
    steps = [
        {"id": "live-preparation", "stepName": "live-preparation", "seconds": prep},
        {"id": "live", "stepName": "live", "seconds": live},
    ]
    if estimates_hold:
        steps[0]["estimatedTimeFrame"] = _frame_upper(prep)
        steps[1]["estimatedTimeFrame"] = _frame_range(live)
    return steps


def _frame_upper(seconds: float) -> str:
    """"< X" with X the first round figure at least 1.25 x the duration."""
    for limit, text in ((60, "< 1 minute"), (300, "< 5 minutes"), (900, "< 15 min"),
                        (3600, "< 1 hour"), (7200, "< 2 hours"), (6 * 3600, "< 6 hours"),
                        (86400, "< 1 day")):
        if seconds * 1.25 <= limit:
            return text
    return "< 5 days"


def _frame_range(seconds: float) -> str:
    """"~a-b unit" bracketing the duration (with room for the +-10 % jitter)."""
    if seconds < 45:
        return "< 1 minute"
    if seconds < 60 * 60:
        minutes = seconds / 60.0
        lo, hi = max(1, math.floor(minutes * 0.5)), math.ceil(minutes * 1.5)
        return f"~{lo}-{hi} minutes"
    hours = seconds / 3600.0
    lo, hi = max(1, math.floor(hours * 0.5)), math.ceil(hours * 1.5)
    return f"~{lo}-{hi} hours"


def operation_end(internal: dict[str, Any]) -> float:
    """When a go-live operation ends (emulated epoch seconds), from the admin dump."""
    steps = internal.get("goLiveSteps") or []
    return float(internal["created"]) + float(internal.get("startDelay") or 0.0) + sum(
        float(s.get("seconds") or 0.0) for s in steps
    )


# ------------------------------------------------------------------------------- statistics


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (with few samples it is the largest or second largest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(0.95 * len(ordered)))
    return ordered[rank - 1]


def ratio(value: float, base: float) -> float:
    if math.isnan(value) or math.isnan(base) or base <= 0:
        return math.nan
    return value / base


def fmt_seconds(value: float) -> str:
    if value is None or math.isnan(value):
        return "—"
    if abs(value) < 0.01:
        return f"{value * 1000:.1f} ms"
    if abs(value) < 1:
        return f"{value * 1000:.0f} ms"
    if abs(value) < 120:
        return f"{value:.1f} s"
    if abs(value) < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def fmt_ms(value: float) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"


def fmt_num(value: float, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def fmt_ratio(value: float) -> str:
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞"
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.0f}x"
    return f"{value:.2f}x"


def fmt_bytes(value: float) -> str:
    if value is None or math.isnan(value):
        return "—"
    if value < 10 * 1024:
        return f"{value:.0f} B"
    return f"{value / (1024 * 1024):.0f} MB"


# ------------------------------------------------------------------------------- tables


@dataclass
class Table:
    """One scenario's table: printed aligned on the terminal, written as Markdown."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def text(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))
        def line(cells: Iterable[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        out = [self.title, "=" * min(len(self.title), 120), line(self.columns),
               line("-" * w for w in widths)]
        out += [line(r) for r in self.rows]
        out += [f"  * {n}" for n in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        out = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
               "|" + "|".join("---" for _ in self.columns) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows,
                "notes": self.notes}


# ------------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    """Where the numbers came from."""
    try:
        uname = subprocess.run(["uname", "-a"], capture_output=True, text=True,
                               check=False).stdout.strip()
    except OSError:
        uname = " ".join(platform.uname())
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        memory = int(psutil.virtual_memory().total)
    except Exception:
        memory = 0
    try:
        load = os.getloadavg()
    except OSError:
        load = (math.nan, math.nan, math.nan)
    return {
        "uname": uname,
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "memory_bytes": memory,
        "python": sys.version.split()[0],
        "python_full": sys.version,
        "load_average_at_start": list(load),
    }
