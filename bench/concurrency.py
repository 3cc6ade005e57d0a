"""Scenario `concurrency`: N offers going live at once through each provider.

Every offer's go-live lasts the same `duration` (real seconds: the plugin's clock is the system
clock). All N resources are sent Check then Create at once over one gRPC channel, as the engine
does with its default `--parallel` (effectively unbounded for plugins). The dynamic host serves
at most 4 calls at once, so its wall time grows by one operation per 4 offers: it is run up to
`dynamic_max_run` offers and extrapolated beyond.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psutil
from google.protobuf import empty_pb2

from bench.common import (
    PUBLISHER,
    Emulator,
    Table,
    fmt_bytes,
    fmt_num,
    fmt_seconds,
    golive_steps,
    log,
    mean,
    median,
    operation_end,
    p95,
)
from bench.providers import Provider, Sampler
from bench.requests import MIN_REQUESTS_PER_GOLIVE as MIN_REQUESTS
from bench.requests import PP
from pulumi_marketplace_provider.plugin.server import HTTP_POOL_SIZE
from tests.enginedouble.fake_engine import FakeEngine

DYNAMIC_WORKERS = 4  # pulumi/dynamic/__main__.py: grpc.server(ThreadPoolExecutor(max_workers=4))
# list operations, offer status, POST go-live, one GET at the end (bench/requests.py)
MIN_REQUESTS_PER_GOLIVE = MIN_REQUESTS[PP]
THROTTLED_FLOOR_FACTOR = 1.25  # throttled: wall within this x the floor
MAX_429_SHARE = 0.05  # throttled: at most this share of the requests answered 429
UNTHROTTLED_FACTOR = {100: 1.1, 1000: 1.2}  # unthrottled: wall within this x one go-live
THREAD_BOUND = HTTP_POOL_SIZE + 16  # the HTTP pool, gRPC's pool and the interpreter's own


def floor_seconds(n: int, duration: float, throttle: float | None) -> float:
    """The least wall time any client needs: one go-live, and at a throttle N go-lives'
    fewest requests (MIN_REQUESTS_PER_GOLIVE each) at that rate, whichever is longer."""
    if not throttle:
        return duration
    return max(duration, n * MIN_REQUESTS_PER_GOLIVE / throttle)


@dataclass(frozen=True)
class ConcurrencyConfig:
    duration: float = 30.0
    plugin_ns: tuple[int, ...] = (1, 10, 100, 1000)
    dynamic_ns: tuple[int, ...] = (1, 10, 100, 1000)
    dynamic_max_run: int = 10
    throttle: float | None = 50.0
    unthrottled_plugin_ns: tuple[int, ...] = (100, 1000)
    max_wall: float = 360.0  # a run still going after this is stopped (Cancel) and reported so


QUICK = ConcurrencyConfig(duration=8.0, plugin_ns=(1, 100), dynamic_ns=(1, 5, 100),
                          dynamic_max_run=5, unthrottled_plugin_ns=())


@dataclass
class RunResult:
    flavour: str
    n: int
    throttle: float | None
    ran: bool = True
    wall: float = math.nan
    create_latencies: list[float] = field(default_factory=list)
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    peak_rss: int = 0
    max_threads: int = 0
    cpu_seconds: float = math.nan
    requests: int = 0
    throttled_429: int = 0
    estimate_minutes: float = math.nan
    emulator_cpu_seconds: float = math.nan
    post_spread: float = math.nan
    capped: bool = False
    stopped: int = 0
    detection: list[float] = field(default_factory=list)
    worst: list[dict[str, Any]] = field(default_factory=list)

    duration: float = math.nan

    @property
    def floor(self) -> float:
        return floor_seconds(self.n, self.duration, self.throttle)

    @property
    def share_429(self) -> float:
        return self.throttled_429 / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "flavour": self.flavour, "n": self.n, "throttle_rps": self.throttle,
            "ran": self.ran, "wall_s": self.wall, "floor_s": self.floor,
            "wall_over_floor": self.wall / self.floor, "failed": self.failed,
            "stopped_at_max_wall": self.capped, "unfinished": self.stopped,
            "errors": self.errors[:5], "peak_rss_bytes": self.peak_rss,
            "max_threads": self.max_threads, "cpu_s": self.cpu_seconds,
            "requests": self.requests, "http_429": self.throttled_429,
            "http_429_share": self.share_429,
            "requests_per_offer": self.requests / self.n if self.n else math.nan,
            "create_latency_s": {"min": min(self.create_latencies, default=math.nan),
                                 "median": median(self.create_latencies),
                                 "max": max(self.create_latencies, default=math.nan)},
            "estimate_minutes_if_not_run": self.estimate_minutes,
            "emulator_cpu_s": self.emulator_cpu_seconds,
            "golive_post_spread_s": self.post_spread,
            "end_seen_after_s": {"mean": mean(self.detection), "p95": p95(self.detection),
                                 "max": max(self.detection, default=math.nan)},
            "latest_seen_offers": self.worst,
        }


async def _drive(provider: Provider, offers: list[str], max_wall: float, result: RunResult
                 ) -> None:
    """Check then Create every offer, all at once. Past `max_wall` seconds the run is stopped
    as a user would stop `pulumi up` (the engine's Cancel RPC), and what had not finished is
    counted as stopped, not failed."""
    t0 = time.perf_counter()
    stopping = False

    async def one(offer: str) -> None:
        try:
            inputs = await provider.check(offer, provider.inputs(offer))
            _, outputs = await provider.create(offer, inputs)
            if outputs.get("status") != "succeeded":
                result.errors.append(f"{offer}: status {outputs.get('status')!r}")
        except Exception as exc:
            if stopping:
                result.stopped += 1
                return
            result.errors.append(f"{offer}: {type(exc).__name__}: {str(exc)[:300]}")
        result.create_latencies.append(time.perf_counter() - t0)

    tasks = [asyncio.create_task(one(o)) for o in offers]
    _, pending = await asyncio.wait(tasks, timeout=max_wall)
    result.wall = time.perf_counter() - t0
    if pending:
        stopping = True
        result.capped = True
        log(f"concurrency: stopping after {max_wall:g} s with {len(pending)} of {len(offers)} "
            f"go-lives unfinished (time budget)")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(provider.stub.Cancel(empty_pb2.Empty()), 10)
        _, still = await asyncio.wait(pending, timeout=15)
        for task in still:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        result.stopped += len(still)


def _run_one(emu: Emulator, engine: FakeEngine, flavour: str, n: int, duration: float,
             throttle: float | None, lane: str, max_wall: float) -> RunResult:
    result = RunResult(flavour, n, throttle, duration=duration)
    offers = [f"c-{lane}-{flavour[0]}{n}-{'t' if throttle else 'u'}-{i}" for i in range(n)]
    emu.admin.seed({"offers": [
        {"publisherId": PUBLISHER, "offerId": o, "state": "signoff",
         "goLiveSteps": golive_steps(duration)} for o in offers
    ]})
    emu.admin.set_throttle(throttle)
    seq0 = emu.request_seq()
    provider = Provider(flavour, emu.base_url, engine)

    async def main() -> None:
        await provider.start()
        assert provider.process is not None
        try:
            with Sampler(provider.process) as sampler:
                await _drive(provider, offers, max_wall, result)
            result.peak_rss = sampler.result.peak_rss
            result.max_threads = sampler.result.max_threads
            result.cpu_seconds = sampler.result.cpu_seconds
        finally:
            await provider.close()

    log(f"concurrency[{lane}]: {flavour} N={n} throttle={throttle or 'off'} "
        f"(op {duration:g} s)")
    emu_proc = psutil.Process(emu.pid)
    emu_cpu0 = sum(emu_proc.cpu_times()[:2])
    asyncio.run(main())
    result.emulator_cpu_seconds = sum(emu_proc.cpu_times()[:2]) - emu_cpu0
    emu.admin.set_throttle(None)
    rows = emu.requests_since(seq0)
    result.requests = len(rows)
    result.throttled_429 = sum(1 for r in rows if r.get("status") == 429)
    result.failed = len(result.errors)
    _timeline(emu, rows, result)
    log(f"concurrency[{lane}]: {flavour} N={n}: wall {result.wall:.1f} s, "
        f"{result.requests} requests, {result.throttled_429} x 429, {result.failed} failed")
    return result


def _timeline(emu: Emulator, rows: list[dict[str, Any]], result: RunResult) -> None:
    """Where the time went (emulated = real time here): how spread out the go-live POSTs were,
    and how late each operation's end was seen (first GET of it at or after its end)."""
    posts = [_epoch(r["emulatedTime"]) for r in rows
             if r["method"] == "POST" and r.get("status") == 202]
    if posts:
        result.post_spread = max(posts) - min(posts)
    ends: dict[str, float] = {}
    starts: dict[str, float] = {}
    for dump in emu.admin.offers():
        ops = [o for o in dump.get("operations", []) if o["internal"]["kind"] == "goLive"]
        if ops:
            ends[str(dump["offerId"]).lower()] = operation_end(ops[-1]["internal"])
            starts[str(dump["offerId"]).lower()] = float(ops[-1]["internal"]["created"])
    seen: dict[str, float] = {}
    polls: dict[str, list[tuple[float, Any]]] = {}
    for r in rows:
        if r["method"] != "GET" or "/operations/" not in r["path"]:
            continue
        parts = r["path"].split("/")
        offer = parts[parts.index("offers") + 1].lower() if "offers" in parts else ""
        t = _epoch(r["emulatedTime"])
        if offer in starts:
            polls.setdefault(offer, []).append((round(t - starts[offer], 2), r.get("status")))
        if r.get("status") != 200:
            continue
        if offer in ends and t >= ends[offer] and offer not in seen:
            seen[offer] = t - ends[offer]
    result.detection = sorted(seen.values())
    worst = sorted(seen, key=lambda o: seen[o], reverse=True)[:3]
    result.worst = [{"offer": o, "op_length_s": round(ends[o] - starts[o], 2),
                     "end_seen_after_s": round(seen[o], 2), "polls_s_status": polls.get(o, [])}
                    for o in worst]


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Planned:
    flavour: str
    n: int
    throttle: float | None


def plan(cfg: ConcurrencyConfig) -> tuple[list[Planned], list[Planned]]:
    """(foreground runs, background runs). Every plugin run is measured alone in the
    foreground: CPU from another run would show as the provider's cost (a throttled run of
    1000 beside the others took 104 s, alone 92 s). The dynamic host's runs mostly wait (4
    calls at a time, one go-live per wave) and run beside them on their own emulator."""
    fore = [Planned("plugin", n, cfg.throttle) for n in cfg.plugin_ns]
    fore += [Planned("plugin", n, None) for n in cfg.unthrottled_plugin_ns]
    back = [Planned("dynamic", n, cfg.throttle) for n in cfg.dynamic_ns
            if n <= cfg.dynamic_max_run]
    return fore, back


def _lane(runs: list[Planned], cfg: ConcurrencyConfig, name: str) -> list[RunResult]:
    out: list[RunResult] = []
    if not runs:
        return out
    with Emulator(time_scale=1.0) as emu, FakeEngine() as engine:
        for r in runs:
            out.append(_run_one(emu, engine, r.flavour, r.n, cfg.duration, r.throttle, name,
                                cfg.max_wall))
    return out


class Background:
    """The background lane, running in a thread from `start_background` until `join`."""

    def __init__(self, cfg: ConcurrencyConfig) -> None:
        self.cfg = cfg
        self.results: list[RunResult] = []
        self.error: BaseException | None = None
        self.started = time.time()
        self._thread = threading.Thread(target=self._run, name="concurrency-bg", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.results = _lane(plan(self.cfg)[1], self.cfg, "bg")
        except BaseException as exc:
            self.error = exc

    def join(self) -> list[RunResult]:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.results


def start_background(cfg: ConcurrencyConfig) -> Background:
    return Background(cfg)


def run(cfg: ConcurrencyConfig, background: Background | None = None
        ) -> tuple[Table, dict[str, Any]]:
    background = background or start_background(cfg)
    fore, back = plan(cfg)
    fore_results = _lane(fore, cfg, "fg")
    back_results = background.join()
    by_key = {(r.flavour, r.n, r.throttle): r for r in fore_results + back_results}
    results: list[RunResult] = []
    for p in [*fore, *back]:
        if p.flavour == "plugin":
            results.append(by_key[(p.flavour, p.n, p.throttle)])
    ran_dynamic = [by_key[(p.flavour, p.n, p.throttle)] for p in [*fore, *back]
                   if p.flavour == "dynamic"]
    results.sort(key=lambda r: (r.throttle is None, r.n))
    for n in cfg.dynamic_ns:
        if n <= cfg.dynamic_max_run:
            results.append(by_key[("dynamic", n, cfg.throttle)])
            continue
        skipped = RunResult("dynamic", n, cfg.throttle, ran=False, duration=cfg.duration)
        if ran_dynamic:
            ref = max(ran_dynamic, key=lambda r: r.n)
            per_wave = ref.wall / math.ceil(ref.n / DYNAMIC_WORKERS)
            skipped.estimate_minutes = math.ceil(n / DYNAMIC_WORKERS) * per_wave / 60
        results.append(skipped)
    data = {"config": cfg.__dict__, "runs": [r.to_json() for r in results],
            "lanes": {"foreground": [p.__dict__ for p in fore],
                      "background": [p.__dict__ for p in back]}}
    return _table(cfg, results, back), data


def _target(cfg: ConcurrencyConfig, r: RunResult, results: list[RunResult]) -> str:
    """Plugin runs of 100 offers or more: within the factor of the floor, few 429s, flat
    memory and threads."""
    if r.flavour != "plugin" or r.n < 100 or not r.ran:
        return ""
    misses = []
    if r.throttle:
        limit = THROTTLED_FLOOR_FACTOR * r.floor
        if r.capped or not r.wall <= limit:
            misses.append(
                f"wall {'> ' if r.capped else ''}{r.wall:.0f} s > {THROTTLED_FLOOR_FACTOR:g} x "
                f"the floor {r.floor:.0f} s (at {r.throttle:g} req/s {r.n} go-lives need "
                f"≥ {MIN_REQUESTS_PER_GOLIVE * r.n} requests, and one go-live lasts "
                f"{cfg.duration:g} s)")
        if r.share_429 > MAX_429_SHARE:
            misses.append(f"{100 * r.share_429:.1f} % of requests answered 429 > "
                          f"{100 * MAX_429_SHARE:g} %")
    else:
        factor = UNTHROTTLED_FACTOR.get(r.n, max(UNTHROTTLED_FACTOR.values()))
        if r.capped or not r.wall <= factor * cfg.duration:
            misses.append(f"wall {r.wall:.1f} s > {factor:g} x one go-live "
                          f"({factor * cfg.duration:.0f} s)")
    if not r.peak_rss < 300 * 1024 * 1024:
        misses.append(f"peak RSS {fmt_bytes(r.peak_rss)} ≥ 300 MB")
    # Threads are bounded by the plugin's pools (HTTP_POOL_SIZE for portal requests, plus the
    # gRPC server's and a few of Python's and the pacer's): flat in N once the pool is full.
    if r.max_threads > THREAD_BOUND:
        misses.append(f"threads {r.max_threads} > {THREAD_BOUND} (the pools' bound)")
    if r.failed:
        misses.append(f"{r.failed} failed")
    return "met" if not misses else "MISSED: " + "; ".join(misses)


def _table(cfg: ConcurrencyConfig, results: list[RunResult], back: list[Planned]) -> Table:
    throttle = f"{cfg.throttle:g} req/s" if cfg.throttle else "off"
    table = Table(
        title=(f"Concurrency: N offers going live at once, each go-live lasting "
               f"{cfg.duration:g} s (real time), emulator throttling /api at {throttle} unless "
               f"marked off"),
        columns=["provider", "N", "throttle", "wall", "floor", "wall ÷ floor", "wall ÷ op",
                 "POSTs spread", "end seen after (mean / max)", "peak RSS", "threads (max)",
                 "CPU s", "requests/offer", "429s", "failed", "target"],
    )
    for r in results:
        name = "plugin (gRPC)" if r.flavour == "plugin" else "dynamic host"
        throttle = f"{r.throttle:g} req/s" if r.throttle else "off"
        if not r.ran:
            est = (f"not run: would take ~{r.estimate_minutes:.0f} min "
                   f"(⌈N/{DYNAMIC_WORKERS}⌉ waves of one op)"
                   if not math.isnan(r.estimate_minutes) else "not run")
            table.add(name, r.n, throttle, est, *([""] * 12))
            continue
        wall = fmt_seconds(r.wall)
        if r.capped:
            wall = (f"> {wall} (stopped: {r.n - r.stopped - r.failed} of {r.n} done; "
                    f"time budget)")
        more = "> " if r.capped else ""
        table.add(
            name, r.n, throttle, wall, fmt_seconds(r.floor),
            more + fmt_num(r.wall / r.floor, 2), more + fmt_num(r.wall / cfg.duration, 2),
            fmt_seconds(r.post_spread),
            f"{fmt_seconds(mean(r.detection))} / "
            f"{fmt_seconds(max(r.detection, default=math.nan))}",
            fmt_bytes(r.peak_rss), r.max_threads,
            fmt_num(r.cpu_seconds, 1), fmt_num(r.requests / r.n, 1),
            f"{r.throttled_429} ({100 * r.share_429:.1f} %)",
            r.failed, _target(cfg, r, results),
        )
    background = ", ".join(f"{p.flavour} N={p.n}" for p in back)
    notes = table.notes
    notes += [
        "Driven over gRPC like the engine with its default --parallel (unbounded): every "
        "resource's Check then Create sent at once on one channel; providers launched as the "
        "engine launches them (tests/enginedouble/launch.py).",
        f"The dynamic host (python -u -m pulumi.dynamic) serves {DYNAMIC_WORKERS} calls at once: "
        f"the rest queue. It was run up to N={cfg.dynamic_max_run}; larger N are extrapolated "
        f"from the measured time per wave of {DYNAMIC_WORKERS}.",
        f"A run still going after {cfg.max_wall:g} s is stopped (Cancel, as on Ctrl-C) to keep "
        "the benchmark's time bounded; its unfinished go-lives are counted apart from failures.",
        "POSTs spread: first to last go-live POST accepted (how long starting N go-lives "
        "took); end seen after: from an operation's end to the provider's first GET of it "
        "that saw it ended (emulator's request log).",
        "peak RSS: VmHWM of the provider process; threads: most seen (psutil, every 0.2 s); "
        "CPU s: user+system of the provider during the run; 429s and requests: the emulator's "
        "request log (all /api requests of the run, retries included).",
        f"To fit the time budget, {background} ran on a second emulator alongside the plugin "
        "runs (wait-bound: the dynamic host serves 4 calls at a time); each plugin run ran "
        "alone.",
        f"floor: the least any client needs: one go-live ({cfg.duration:g} s) or, throttled, "
        f"N x {MIN_REQUESTS_PER_GOLIVE} requests (the fewest one go-live needs: list operations, "
        f"offer status, POST, one GET at the end) ÷ the rate, whichever is longer.",
        f"target (plugin, N ≥ 100): throttled, wall ≤ {THROTTLED_FLOOR_FACTOR:g} x floor and "
        f"≤ {100 * MAX_429_SHARE:g} % of requests answered 429; unthrottled, wall ≤ "
        + ", ".join(f"{f:g} x op at N={n}" for n, f in UNTHROTTLED_FACTOR.items())
        + f"; peak RSS < 300 MB; threads ≤ {THREAD_BOUND} whatever N (the plugin's pools).",
    ]
    if not back:
        notes[:] = [n for n in notes if not n.startswith("To fit the time budget")]
    return table
