"""Scenario `requests`: how many requests one go-live costs, by kind, per API and situation.

For each API (`marketplace:api`: the Cloud Partner Portal, Product Ingestion; the emulator serves
both) and each situation the provider meets at `pulumi up`:

- `fresh`: the offer waits at publisher sign-off (Partner Portal) / its preview is published
  (Product Ingestion); the provider lists, POSTs once and waits;
- `attach`: a go-live of the offer is already running, started by someone else through the API
  just before Create; the provider must attach to it, not POST;
- `adopt`: the offer is already live with nothing waiting; nothing is to be sent;
- `lost-answer`: the go-live POST reaches the service (it starts the go-live) but its answer is
  dropped (emulator fault `drop`: connection reset); the provider lists until it finds it;
- `refresh`: `pulumi refresh` of an offer the fresh go-live took live: Read, in a new provider
  process (a new CLI run), with the Create's outputs as the recorded state;
- `second-up` (plugin only): the `pulumi up` after that, Check and Diff in a new process.

Two drivers:

- `plugin`: the gRPC plugin launched as the engine launches it (`bench/providers.py`), Check
  then Create (Read, Diff) over real gRPC. The plugin sleeps on the system clock, so its go-lives
  run in real time (emulator clock x1): 30 s go-lives.
- `library`: the same lifecycle procedures the plugin runs (`live_offer.create` / `read`,
  one backend per API as one plugin process holds), driven by `run_sync` on a `ScaledClock`
  shared with the emulator (as `bench/waiting.py` does): 30 min go-lives at x60.

Counted from the emulator's request log: every request between the start of the Creates and
their end, attributed to its offer (Partner Portal: the offer in the path; Product Ingestion: the
product GUID in the path, `externalId` of a product lookup, the job id of a job GET, and for the
id-less `POST configure` the job it created, matched by time), then classified by kind. The
end-seen delay is the offer's last request during Create minus the go-live's end (the emulator's
own record), on the emulated clock.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote

import requests as http

from bench.common import (
    API_VERSION,
    PUBLISHER,
    TOKEN,
    Emulator,
    Table,
    fmt_num,
    fmt_seconds,
    golive_steps,
    log,
    mean,
    operation_end,
)
from bench.providers import Provider
from pulumi_marketplace_provider import live_offer
from pulumi_marketplace_provider.backend import Backend
from pulumi_marketplace_provider.partner_portal import PortalClient, StaticToken
from pulumi_marketplace_provider.partner_portal.backend import PartnerPortalBackend
from pulumi_marketplace_provider.procedure import Clock, ScaledClock, SystemClock, run_sync
from pulumi_marketplace_provider.product_ingestion import IngestionClient, ProductIngestionBackend
from tests.enginedouble.fake_engine import FakeEngine

PP = "cloudPartnerPortal"
PI = "productIngestion"
BACKENDS = (PP, PI)
BACKEND_LABELS = {PP: "Partner Portal", PI: "Product Ingestion"}
PI_BASE = "/rp/product-ingestion"
PI_VERSION = "2022-03-01-preview2"
PI_SCHEMA = "https://schema.mp.microsoft.com/schema"

FRESH, ATTACH, ADOPT, LOST, REFRESH, SECOND_UP = (
    "fresh", "attach", "adopt", "lost-answer", "refresh", "second-up")
SITUATIONS = (FRESH, ATTACH, ADOPT, LOST, REFRESH, SECOND_UP)
SITUATION_LABELS = {
    FRESH: "fresh go-live", ATTACH: "attach (running)", ADOPT: "adopt (already live)",
    LOST: "lost POST answer", REFRESH: "refresh (Read)", SECOND_UP: "second up (Check+Diff)",
}
CREATES = (FRESH, ATTACH, ADOPT, LOST)  # the situations measured through Create

# Request kinds, in table order.
LIST, LOOKUP, POST, OP, OTHER = "list", "lookup", "post", "op", "other"
KINDS = (LIST, LOOKUP, POST, OP, OTHER)
KIND_LABELS = {
    LIST: "list ops/subs", LOOKUP: "status/product", POST: "POST go-live",
    OP: "op/job GET", OTHER: "other",
}


# ------------------------------------------------------------------------------- the floor


@dataclass(frozen=True)
class Floor:
    """The fewest requests one go-live needs through an API: the reads needed before the POST
    to decide it (and never POST twice), the POST, and one GET that sees the end."""

    before: tuple[str, ...]
    post: str
    final: str
    reconcile: str  # after a lost answer: one read that finds the go-live the POST started
    refresh: tuple[str, ...]  # a Read of an offer whose go-live is recorded

    def of(self, situation: str) -> int:
        """The floor for one situation (attach: no POST; adopt: the reads only)."""
        return {
            FRESH: len(self.before) + 2,
            ATTACH: len(self.before) + 1,
            ADOPT: len(self.before),
            LOST: len(self.before) + 3,
            REFRESH: len(self.refresh),
            SECOND_UP: 0,
        }[situation]

    def describe(self) -> str:
        return " + ".join([*self.before, self.post, self.final])


FLOORS: dict[str, Floor] = {
    # Before the POST: the offer's operations (a go-live running? a publish running or failed?
    # a go-live newer than the latest publish?) and its status (waiting at sign-off, or live?).
    PP: Floor(before=("list operations", "offer status"), post="POST golive",
              final="GET operation", reconcile="list operations",
              refresh=("offer status", "GET operation")),
    # Before the POST: the product (externalId -> GUID) and its submissions (a live one in
    # flight? the latest preview, already live?). One final GET: the submissions list showing
    # the live submission completed (a failed job also fails its live submission).
    PI: Floor(before=("product lookup", "list submissions"), post="POST configure",
              final="GET submissions (live completed)", reconcile="list submissions",
              refresh=("product lookup", "list submissions")),
}
MIN_REQUESTS_PER_GOLIVE = {api: f.of(FRESH) for api, f in FLOORS.items()}


# ------------------------------------------------------------------------------- classifying


def _segments(path: str) -> list[str]:
    return [s for s in unquote(path).split("?", 1)[0].split("/") if s]


def backend_of(path: str) -> str | None:
    """Which API a logged path belongs to (None: neither)."""
    parts = _segments(path)
    if parts[:1] == ["api"]:
        return PP
    if parts[:2] == ["rp", "product-ingestion"]:
        return PI
    return None


def classify(method: str, path: str) -> str:
    """The kind of one logged request: list, lookup, post, op or other."""
    method = method.upper()
    parts = [s.lower() for s in _segments(path)]
    if parts[:1] == ["api"]:
        if len(parts) >= 2 and parts[1] == "operations":
            return OP if method == "GET" else OTHER  # /api/operations/{pub}${offer}${n}${slot}
        if len(parts) >= 4 and parts[1] == "publishers" and parts[3] == "offers":
            rest = parts[5:]  # after /api/publishers/{pub}/offers/{offer}
            if method == "GET":
                if len(parts) in (4, 5) and not rest:
                    return LOOKUP  # the offer list or the offer document
                if rest[:1] == ["submissions"]:
                    return LIST
                if rest[:1] == ["status"]:
                    return LOOKUP
                if rest[:1] == ["operations"]:
                    return OP
            if method == "POST" and rest == ["golive"]:
                return POST
        return OTHER
    if parts[:2] == ["rp", "product-ingestion"]:
        rest = parts[2:]
        if method == "GET":
            if rest[:1] == ["product"] or rest[:1] == ["resource-tree"]:
                return LOOKUP
            if rest[:1] == ["submission"]:
                return LIST if len(rest) == 2 else OP
            if rest[:1] == ["configure"] and len(rest) >= 2:
                return OP
        if method == "POST" and rest == ["configure"]:
            return POST
        return OTHER
    return OTHER


def _query(row: Mapping[str, Any]) -> dict[str, list[str]]:
    text = str(row.get("query") or "")
    if not text and "?" in str(row.get("path", "")):
        text = str(row["path"]).split("?", 1)[1]
    return {k.lower(): v for k, v in parse_qs(text).items()}


def offer_of(row: Mapping[str, Any], guids: Mapping[str, str],
             jobs: Mapping[str, str]) -> str | None:
    """The offer (lower case) a logged request was about; None when the path does not say
    (Product Ingestion's `POST configure`: see `match_configure_posts`).

    `guids`: product GUID -> offer id; `jobs`: configure job id -> offer id (both lower case).
    """
    parts = _segments(str(row["path"]))
    low = [p.lower() for p in parts]
    if low[:1] == ["api"]:
        if len(low) >= 5 and low[1] == "publishers" and low[3] == "offers":
            return low[4]
        if len(low) >= 3 and low[1] == "operations":
            pieces = low[2].split("$")  # {pub}${offer}${n}${slot}
            return pieces[1] if len(pieces) >= 2 else None
        return None
    if low[:2] == ["rp", "product-ingestion"]:
        rest = low[2:]
        if rest[:1] == ["product"]:
            if len(rest) >= 2:
                return guids.get(rest[1])
            ext = _query(row).get("externalid")
            return ext[0].lower() if ext else None
        if rest[:1] == ["submission"] and len(rest) >= 2:
            return guids.get(rest[1])
        if rest[:2] == ["resource-tree", "product"] and len(rest) >= 3:
            return guids.get(rest[2])
        if rest[:1] == ["configure"] and len(rest) >= 2:
            return jobs.get(rest[1])
    return None


def emulated_epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def match_configure_posts(posts: Sequence[Mapping[str, Any]],
                          created: Sequence[tuple[float, str]],
                          tolerance: float = 5.0) -> dict[int, str]:
    """Attribute id-less `POST configure` requests (log rows) to offers: each to the job it
    created, the first unmatched job created at or after the request's arrival (emulated
    epoch seconds, within `tolerance`). `created`: (job creation time, offer) of the jobs that
    appeared while the requests were made. Returns seq -> offer; a POST that created no job
    (refused before it was applied) stays unmatched."""
    free = sorted(created)
    out: dict[int, str] = {}
    for row in sorted(posts, key=lambda r: (emulated_epoch(r["emulatedTime"]), r["seq"])):
        if not row.get("applied"):
            continue
        at = emulated_epoch(row["emulatedTime"])
        for i, (when, offer) in enumerate(free):
            if at - 1e-3 <= when <= at + tolerance:
                out[int(row["seq"])] = offer
                del free[i]
                break
    return out


def attribute(rows: Iterable[Mapping[str, Any]], guids: Mapping[str, str],
              jobs: Mapping[str, str], created: Sequence[tuple[float, str]] = ()
              ) -> tuple[dict[str, list[Mapping[str, Any]]], list[Mapping[str, Any]]]:
    """Group logged requests by offer: ({offer: rows in log order}, rows no offer claims)."""
    rows = list(rows)
    posts = [r for r in rows if backend_of(str(r["path"])) == PI
             and classify(str(r["method"]), str(r["path"])) == POST]
    matched = match_configure_posts(posts, created)
    by_offer: dict[str, list[Mapping[str, Any]]] = {}
    lost: list[Mapping[str, Any]] = []
    for r in rows:
        offer = matched.get(int(r["seq"])) or offer_of(r, guids, jobs)
        if offer is None:
            lost.append(r)
        else:
            by_offer.setdefault(offer, []).append(r)
    return by_offer, lost


def breakdown(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Requests per kind (every kind present, zeros included)."""
    counts = Counter(classify(str(r["method"]), str(r["path"])) for r in rows)
    return {k: counts.get(k, 0) for k in KINDS}


def sequence(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The requests of one go-live as short lines: `+12.3s GET list 200` (emulated offsets)."""
    if not rows:
        return []
    t0 = emulated_epoch(rows[0]["emulatedTime"])
    out = []
    for r in rows:
        parts = _segments(str(r["path"]))
        tail = "/".join(parts[-2:]) if parts else ""
        out.append(f"+{emulated_epoch(r['emulatedTime']) - t0:.1f}s {r['method']} "
                   f"{classify(str(r['method']), str(r['path']))} {tail} {r.get('status')}"
                   + (f" [{r['fault']}]" if r.get("fault") else ""))
    return out


# ------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Driver:
    """One way of running the provider: its name, go-live length, emulator clock scale."""

    name: str  # "plugin" or "library"
    length: float  # emulated seconds
    scale: float


@dataclass(frozen=True)
class RequestsConfig:
    drivers: tuple[Driver, ...] = (Driver("plugin", 30.0, 1.0), Driver("library", 1800.0, 60.0))
    reps: int = 3


QUICK = RequestsConfig(drivers=(Driver("plugin", 10.0, 1.0), Driver("library", 1800.0, 180.0)),
                       reps=1)


# ------------------------------------------------------------------------------- running


@dataclass
class Rep:
    api: str
    situation: str
    offer: str
    status: str | None = None
    error: str | None = None
    rows: list[Mapping[str, Any]] = field(default_factory=list)
    end_at: float = math.nan  # the go-live's end, emulated epoch
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def end_seen(self) -> float:
        if not self.rows or math.isnan(self.end_at):
            return math.nan
        return emulated_epoch(self.rows[-1]["emulatedTime"]) - self.end_at

    def to_json(self) -> dict[str, Any]:
        return {"offer": self.offer, "status": self.status, "error": self.error,
                "requests": len(self.rows), "by_kind": breakdown(self.rows),
                "non_2xx": sum(1 for r in self.rows if not 200 <= int(r.get("status") or 0) < 300),
                "end_seen_after_s": self.end_seen, "sequence": sequence(self.rows)}


def _offer_name(driver: str, api: str, situation: str, rep: int) -> str:
    return f"rq-{driver[0]}-{'pp' if api == PP else 'pi'}-{situation}-{rep}"


def _seed(api: str, offer: str, situation: str, length: float) -> dict[str, Any]:
    return {"publisherId": PUBLISHER, "offerId": offer,
            "state": "live" if situation == ADOPT else "signoff",
            "goLiveSteps": golive_steps(length),
            "productIngestion": {"jobStartDelaySeconds": 5, "liveLagSeconds": length / 3.0}}


def _start_elsewhere(emu: Emulator, api: str, offer: str) -> None:
    """Someone else starts the offer's go-live (a person in the portal, another stack)."""
    with http.Session() as s:
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        if api == PP:
            resp = s.post(f"{emu.base_url}/api/publishers/{PUBLISHER}/offers/{offer}/golive",
                          params={"api-version": API_VERSION}, timeout=30)
        else:
            base = emu.base_url + PI_BASE
            guid = emu.admin.product_guid(PUBLISHER, offer)
            subs = s.get(f"{base}/submission/{guid}", timeout=30).json()["value"]
            preview = next(x for x in subs if x["target"]["targetType"] == "preview")
            body = {"$schema": f"{PI_SCHEMA}/configure/{PI_VERSION}", "resources": [{
                "$schema": f"{PI_SCHEMA}/submission/{PI_VERSION}", "id": preview["id"],
                "product": f"product/{guid}", "target": {"targetType": "live"}}]}
            resp = s.post(f"{base}/configure", json=body, timeout=30)
        resp.raise_for_status()


@dataclass
class Lane:
    """One emulator and the offers measured on it."""

    emu: Emulator
    reps: list[Rep]
    seq0: int = 0
    t0: float = 0.0  # emulated epoch when the Creates started


def _prepare(lane: Lane, length: float, faults: bool) -> None:
    lane.emu.admin.seed({"offers": [_seed(r.api, r.offer, r.situation, length)
                                    for r in lane.reps]})
    if faults:
        # The go-live POST is applied, then the connection is reset: the answer is lost. One
        # firing per offer here (every offer of this emulator is a lost-answer one), so a
        # second POST from the same offer would go through and show in the POST column.
        n = {api: sum(1 for r in lane.reps if r.api == api) for api in BACKENDS}
        if n[PP]:
            lane.emu.admin.add_fault("drop", r"/golive/?$", "POST", times=n[PP])
        if n[PI]:
            lane.emu.admin.add_fault("drop", r"/configure/?$", "POST", times=n[PI])
    for r in lane.reps:
        if r.situation == ATTACH:
            _start_elsewhere(lane.emu, r.api, r.offer)
    lane.seq0 = lane.emu.request_seq()
    lane.t0 = float(lane.emu.admin.clock()["nowEpoch"])


def _collect(lane: Lane, since: int, reps: list[Rep]) -> int:
    """Give each rep its requests logged after `since`; returns how many no offer claimed."""
    emu = lane.emu
    rows = emu.requests_since(since)
    guids = {emu.admin.product_guid(PUBLISHER, r.offer).lower(): r.offer.lower() for r in reps}
    jobs: dict[str, str] = {}
    created: list[tuple[float, str]] = []
    for dump in emu.admin.ingestion_products():
        offer = str(dump["product"]["identity"]["externalId"]).lower()
        for job in dump.get("jobs", []):
            jobs[str(job["jobId"]).lower()] = offer
            when = float(job["internal"]["created"])
            if when >= lane.t0:
                created.append((when, offer))
    by_offer, unclaimed = attribute(rows, guids, jobs, created)
    for r in reps:
        r.rows = list(by_offer.get(r.offer.lower(), []))
    mine = {r.offer.lower() for r in reps}
    return len(unclaimed) + sum(len(v) for k, v in by_offer.items() if k not in mine)


def _ends(lane: Lane) -> None:
    """When each offer's latest go-live ended (the emulator's own record)."""
    emu = lane.emu
    pp_end: dict[str, float] = {}
    for dump in emu.admin.offers():
        ops = [o for o in dump.get("operations", []) if o["internal"]["kind"] == "goLive"]
        if ops:
            pp_end[str(dump["offerId"]).lower()] = operation_end(ops[-1]["internal"])
    pi_end: dict[str, float] = {}
    for dump in emu.admin.ingestion_products():
        live = [x["internal"] for x in dump.get("records", [])
                if x["internal"]["target"] == "live"]
        if live:
            latest = max(live, key=lambda x: float(x["created"]))
            pi_end[str(dump["product"]["identity"]["externalId"]).lower()] = float(
                latest["end_at"])
    for r in lane.reps:
        if r.situation in (ADOPT, REFRESH, SECOND_UP):
            continue
        r.end_at = (pp_end if r.api == PP else pi_end).get(r.offer.lower(), math.nan)


def _inputs(offer: str) -> dict[str, Any]:
    return {"publisherId": PUBLISHER, "offerId": offer, "triggers": [],
            "waitForCompletion": True, "waitTimeoutSeconds": 7200}


# --- plugin driver


@dataclass
class ApiProvider(Provider):
    """The plugin configured for one API (`marketplace:api`)."""

    api: str = PP

    def _plugin_config(self) -> dict[str, str]:
        return {**super()._plugin_config(), "api": self.api}


async def _plugin_creates(lanes: list[Lane], engine: FakeEngine) -> None:
    providers: dict[tuple[int, str], ApiProvider] = {}
    for i, lane in enumerate(lanes):
        for api in sorted({r.api for r in lane.reps}):
            providers[(i, api)] = ApiProvider("plugin", lane.emu.base_url, engine, api=api)
    await asyncio.gather(*(p.start() for p in providers.values()))

    async def one(p: ApiProvider, rep: Rep) -> None:
        try:
            inputs = await p.check(rep.offer, _inputs(rep.offer))
            _, rep.outputs = await p.create(rep.offer, inputs)
            rep.status = str(rep.outputs.get("status"))
        except Exception as exc:
            rep.error = f"{type(exc).__name__}: {str(exc)[:300]}"

    try:
        await asyncio.gather(*(one(providers[(i, r.api)], r)
                               for i, lane in enumerate(lanes) for r in lane.reps))
    finally:
        await asyncio.gather(*(p.close() for p in providers.values()))


async def _plugin_afterwards(lane: Lane, engine: FakeEngine, fresh: list[Rep],
                             refresh: list[Rep], second: list[Rep]) -> None:
    """A second `up` (Check, Diff) then a `refresh` (Read), each in a new plugin process."""

    async def run(reps: list[Rep], kind: str) -> None:
        by_api = {api: [r for r in reps if r.api == api] for api in BACKENDS}
        providers = [(ApiProvider("plugin", lane.emu.base_url, engine, api=api), group)
                     for api, group in by_api.items() if group]
        await asyncio.gather(*(p.start() for p, _ in providers))
        source = {r.offer: f for f in fresh for r in reps if r.offer == f.offer}

        async def one(p: ApiProvider, rep: Rep) -> None:
            olds = source[rep.offer].outputs
            inputs = _inputs(rep.offer)
            try:
                if kind == SECOND_UP:
                    news = await p.check(rep.offer, inputs, olds)
                    changes = await p.diff(rep.offer, f"{PUBLISHER}/{rep.offer}", olds, news,
                                           inputs)
                    rep.status = "no changes" if changes == 1 else f"changes={changes}"
                else:
                    rep.outputs = await p.read(rep.offer, f"{PUBLISHER}/{rep.offer}", olds,
                                               inputs)
                    rep.status = str(rep.outputs.get("status"))
            except Exception as exc:
                rep.error = f"{type(exc).__name__}: {str(exc)[:300]}"

        try:
            await asyncio.gather(*(one(p, r) for p, group in providers for r in group))
        finally:
            await asyncio.gather(*(p.close() for p, _ in providers))

    ok = {f.offer for f in fresh if f.status == "succeeded"}
    mark = lane.emu.request_seq()
    await run([r for r in second if r.offer in ok], SECOND_UP)
    _collect(lane, mark, second)
    mark = lane.emu.request_seq()
    await run([r for r in refresh if r.offer in ok], REFRESH)
    _collect(lane, mark, refresh)


# --- library driver


def _library_backend(api: str, url: str, clock: Clock) -> Backend:
    if api == PP:
        return PartnerPortalBackend(PortalClient(url, StaticToken(TOKEN), clock=clock))
    return ProductIngestionBackend(IngestionClient(url, StaticToken(TOKEN),
                                                   api_version=PI_VERSION, clock=clock))


def _clock_of(emu: Emulator) -> Clock:
    if emu.time_scale == 1.0:
        return SystemClock()
    doc = emu.admin.clock()
    return ScaledClock(float(doc["scale"]),
                       epoch=datetime.fromtimestamp(float(doc["nowEpoch"]), tz=timezone.utc))


def _library_run(lanes: list[tuple[Lane, list[Rep], str]]) -> None:
    """Run `create` (or `read`) for every rep, one backend per API and lane (as one plugin
    process holds one), each rep on its own thread."""
    jobs: list[tuple[live_offer.RunContext, Rep, str, Clock]] = []
    backends: list[Backend] = []
    for lane, reps, kind in lanes:
        clock = _clock_of(lane.emu)
        for api in BACKENDS:
            group = [r for r in reps if r.api == api]
            if not group:
                continue
            backend = _library_backend(api, lane.emu.base_url, clock)
            backends.append(backend)
            ctx = live_offer.RunContext(backend=backend, clock=clock)
            jobs += [(ctx, r, kind, clock) for r in group]

    def one(ctx: live_offer.RunContext, rep: Rep, kind: str, clock: Clock) -> None:
        try:
            if kind == REFRESH:
                _, rep.outputs, _ = run_sync(live_offer.read(
                    ctx, f"{PUBLISHER}/{rep.offer}", rep.outputs), clock=clock)
            else:
                inputs, failures = live_offer.check({}, _inputs(rep.offer))
                if failures:
                    raise RuntimeError(f"check failed: {failures}")
                _, rep.outputs = run_sync(live_offer.create(ctx, inputs), clock=clock)
            rep.status = str(rep.outputs.get("status"))
        except Exception as exc:
            rep.error = f"{type(exc).__name__}: {str(exc)[:300]}"

    quiet = logging.getLogger("pulumi_marketplace_provider")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the lost answers' warnings are expected here
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            for f in [pool.submit(one, *j) for j in jobs]:
                f.result()
    finally:
        quiet.setLevel(level)
        for b in backends:
            b.close()


# --- one driver, all APIs and situations


def _run_driver(driver: Driver, reps: int) -> tuple[list[Rep], dict[str, Any]]:
    situations = [s for s in SITUATIONS if driver.name == "plugin" or s != SECOND_UP]
    all_reps = {(api, s): [Rep(api, s, _offer_name(driver.name, api, s, i))
                           for i in range(reps)] for api in BACKENDS for s in situations}
    on_main = [r for (api, s), group in all_reps.items() if s in (FRESH, ATTACH, ADOPT)
               for r in group]
    on_lossy = [r for (api, s), group in all_reps.items() if s == LOST for r in group]
    later = {s: [r for (api, x), g in all_reps.items() if x == s for r in g]
             for s in (REFRESH, SECOND_UP)}
    for group in later.values():  # they read the offers the fresh go-lives took live
        for r in group:
            r.offer = _offer_name(driver.name, r.api, FRESH, int(r.offer.rsplit("-", 1)[1]))
    info: dict[str, Any] = {"unclaimed_requests": 0}
    log(f"requests[{driver.name}]: {len(on_main) + len(on_lossy)} go-lives of "
        f"{fmt_seconds(driver.length)} at clock x{driver.scale:g}")
    t0 = time.time()
    with Emulator(time_scale=driver.scale) as main_emu, \
            Emulator(time_scale=driver.scale) as lossy_emu:
        main, lossy = Lane(main_emu, on_main), Lane(lossy_emu, on_lossy)
        _prepare(lossy, driver.length, faults=True)
        _prepare(main, driver.length, faults=False)
        if driver.name == "plugin":
            with FakeEngine() as engine:
                asyncio.run(_plugin_creates([main, lossy], engine))
                info["creates_wall_s"] = time.time() - t0
                for lane in (main, lossy):
                    info["unclaimed_requests"] += _collect(lane, lane.seq0, lane.reps)
                    _ends(lane)
                fresh = all_reps[(PP, FRESH)] + all_reps[(PI, FRESH)]
                asyncio.run(_plugin_afterwards(main, engine, fresh, later[REFRESH],
                                               later[SECOND_UP]))
        else:
            _library_run([(main, main.reps, "create"), (lossy, lossy.reps, "create")])
            info["creates_wall_s"] = time.time() - t0
            for lane in (main, lossy):
                info["unclaimed_requests"] += _collect(lane, lane.seq0, lane.reps)
                _ends(lane)
            taken = {r.offer: r for r in all_reps[(PP, FRESH)] + all_reps[(PI, FRESH)]}
            ok = [r for r in later[REFRESH] if taken[r.offer].status == "succeeded"]
            for r in ok:
                r.outputs = dict(taken[r.offer].outputs)
            mark = main_emu.request_seq()
            _library_run([(main, ok, REFRESH)])
            _collect(main, mark, later[REFRESH])
    info["wall_s"] = time.time() - t0
    out = [r for group in all_reps.values() for r in group]
    for r in out:
        if r.error:
            log(f"requests[{driver.name}]: {r.api} {r.situation} {r.offer}: {r.error}")
    return out, info


# ------------------------------------------------------------------------------- results


def summarize(driver: Driver, api: str, situation: str, reps: Sequence[Rep]) -> dict[str, Any]:
    counts = [len(r.rows) for r in reps if r.status is not None and not r.error]
    kinds = {k: mean([float(breakdown(r.rows)[k]) for r in reps if not r.error]) for k in KINDS}
    ends = [r.end_seen for r in reps if not r.error and not math.isnan(r.end_seen)]
    return {
        "driver": driver.name, "clock_scale": driver.scale,
        "go_live_length_s": driver.length if situation in (FRESH, ATTACH, LOST) else None,
        "api": api, "situation": situation, "reps": len(reps),
        "requests_per_golive": mean([float(c) for c in counts]),
        "requests_min": min(counts, default=None), "requests_max": max(counts, default=None),
        "by_kind": kinds,
        "floor": FLOORS[api].of(situation),
        "end_seen_after_s": mean(ends),
        "statuses": dict(Counter("error" if r.error else str(r.status) for r in reps)),
        "per_rep": [r.to_json() for r in reps],
    }


def run(cfg: RequestsConfig) -> tuple[Table, dict[str, Any]]:
    cells: list[dict[str, Any]] = []
    infos: dict[str, Any] = {}
    for driver in cfg.drivers:
        reps, info = _run_driver(driver, cfg.reps)
        infos[driver.name] = info
        for api in BACKENDS:
            for situation in SITUATIONS:
                group = [r for r in reps if r.api == api and r.situation == situation]
                if group:
                    cells.append(summarize(driver, api, situation, group))
    data = {
        "config": {"drivers": [d.__dict__ for d in cfg.drivers], "reps": cfg.reps},
        "floors": {api: {"composition": f.describe(), "reconcile": f.reconcile,
                         "refresh": list(f.refresh),
                         "per_situation": {s: f.of(s) for s in SITUATIONS}}
                   for api, f in FLOORS.items()},
        "kinds": KIND_LABELS,
        "cells": cells,
        "drivers": infos,
    }
    return _table(cfg, cells, infos), data


def _range(cell: Mapping[str, Any]) -> str:
    lo, hi = cell["requests_min"], cell["requests_max"]
    if lo is None:
        return "—"
    text = fmt_num(cell["requests_per_golive"])
    return text if lo == hi else f"{text} ({lo}-{hi})"


def _table(cfg: RequestsConfig, cells: list[dict[str, Any]], infos: Mapping[str, Any]) -> Table:
    table = Table(
        title=(f"Requests per go-live by API and situation ({cfg.reps} per cell; Create, or "
               f"Read/Check+Diff for refresh and second up)"),
        columns=["driver (clock)", "API", "situation", "go-live", "requests/go-live",
                 "floor", *(KIND_LABELS[k] for k in KINDS), "end seen after", "outcome"],
    )
    for c in cells:
        driver = f"{c['driver']} (x{c['clock_scale']:g})"
        length = fmt_seconds(c["go_live_length_s"]) if c["go_live_length_s"] else "—"
        outcome = ", ".join(f"{k} {v}" for k, v in sorted(c["statuses"].items()))
        table.add(driver, BACKEND_LABELS[c["api"]], SITUATION_LABELS[c["situation"]], length,
                  _range(c), c["floor"], *(fmt_num(c["by_kind"][k]) for k in KINDS),
                  fmt_seconds(c["end_seen_after_s"]), outcome)
    unclaimed = sum(int(i.get("unclaimed_requests", 0)) for i in infos.values())
    table.notes += [
        "plugin: the gRPC plugin launched as the engine launches it (Check, Create; Read and "
        "Check+Diff in a new process), on the system clock, so its go-lives run in real time "
        "(emulator x1). library: the same `live_offer` procedures driven by run_sync on a "
        "ScaledClock shared with the emulator (the plugin's clock cannot be scaled).",
        "Counted from the emulator's request log, per offer. Kinds: list = list operations "
        "(Partner Portal) / submissions (Product Ingestion); status/product = offer status "
        "or document / product lookup; POST = go-live / configure; op/job GET = an operation "
        "/ a configure job (status or detail) / one submission.",
        "floor: " + "; ".join(f"{BACKEND_LABELS[a]} {f.of(FRESH)} = {f.describe()}"
                              for a, f in FLOORS.items())
        + ". attach: less the POST; adopt: the reads before it; lost answer: plus one "
          "listing that finds the go-live; refresh: "
        + "; ".join(f"{BACKEND_LABELS[a]} {' + '.join(f.refresh)}" for a, f in FLOORS.items())
        + ".",
        "attach: the go-live was started through the API right before Create (not counted). "
        "lost answer: the emulator applies the POST and resets the connection (fault `drop`).",
        "end seen after: the offer's last request during Create minus the go-live's end "
        "(emulated clock; at x60 each round trip is stretched 60 times).",
    ]
    if unclaimed:
        table.notes.append(f"{unclaimed} logged requests could not be attributed to an offer.")
    return table
