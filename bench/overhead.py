"""Scenario `overhead`: what each resource costs besides waiting.

Per provider, `resources` LiveOffers (plus one warm-up, not counted) each go through the RPCs of
an up, a second up, a refresh and a destroy, one resource at a time: Check, Create (the
go-live steps last 0 s, so the operation is over at its first poll), Check again, Diff, Read,
Delete. Latency is measured at the gRPC client (the engine's side). Also: start-up time
(process launch → port line → first GetPluginInfo answered) and the pickled `__provider`.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2_grpc

from bench.common import PUBLISHER, Emulator, Table, fmt_ms, log, median, p95
from bench.providers import FLAVOURS, Provider, provider_blob
from tests.enginedouble.fake_engine import FakeEngine

RPCS = ("Check", "Diff", "Create", "Read", "Delete")


@dataclass(frozen=True)
class OverheadConfig:
    resources: int = 40
    startups: int = 7


QUICK = OverheadConfig(resources=10, startups=3)


async def _lifecycle(provider: Provider, count: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in RPCS}
    first: dict[str, float] = {}
    for i in range(count + 1):
        name = f"o-{provider.flavour[0]}-{i}"
        news = provider.inputs(name)
        t: dict[str, float] = {}

        async def timed(rpc: str, coro: Any, t: dict[str, float] = t) -> Any:
            t0 = time.perf_counter()
            value = await coro
            t.setdefault(rpc, time.perf_counter() - t0)
            return value

        inputs = await timed("Check", provider.check(name, news))
        id_, outputs = await timed("Create", provider.create(name, inputs))
        if outputs.get("status") != "succeeded":
            raise RuntimeError(f"{name}: create ended {outputs.get('status')!r}")
        t2 = time.perf_counter()
        again = await provider.check(name, news, olds=inputs)
        t_check2 = time.perf_counter() - t2
        changes = await timed("Diff", provider.diff(name, id_, outputs, again, inputs))
        if changes != 1:  # DIFF_NONE
            raise RuntimeError(f"{name}: Diff reported changes ({changes})")
        await timed("Read", provider.read(name, id_, outputs, inputs))
        await timed("Delete", provider.delete(name, id_, outputs, inputs))
        if i == 0:
            first = t
            continue
        for rpc, seconds in t.items():
            timings[rpc].append(seconds)
        timings["Check"].append(t_check2)
    timings.update({f"first {k}": [v] for k, v in first.items()})
    return timings


def _startup(flavour: str, engine: FakeEngine, endpoint: str) -> tuple[float, float]:
    """(launch → port printed, launch → first GetPluginInfo answered), seconds."""
    provider = Provider(flavour, endpoint, engine)
    process = provider.launch()
    try:
        channel = grpc.insecure_channel(process.address)
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        stub.GetPluginInfo(empty_pb2.Empty(), wait_for_ready=True, timeout=30)
        answered = time.perf_counter()
        channel.close()
    finally:
        process.close(grace=3.0)
        process.stderr_path.unlink(missing_ok=True)
    return provider.port_at - provider.launched_at, answered - provider.launched_at


def run(cfg: OverheadConfig) -> tuple[Table, dict[str, Any]]:
    timings: dict[str, dict[str, list[float]]] = {}
    startups: dict[str, list[tuple[float, float]]] = {}
    with Emulator(time_scale=1.0) as emu, FakeEngine() as engine:
        offers = [
            {"publisherId": PUBLISHER, "offerId": f"o-{f[0]}-{i}", "state": "signoff",
             "goLiveSteps": [{"id": "live-preparation", "seconds": 0},
                             {"id": "live", "seconds": 0}]}
            for f in FLAVOURS for i in range(cfg.resources + 1)
        ]
        emu.admin.seed({"offers": offers})
        for flavour in FLAVOURS:
            log(f"overhead: {flavour}: {cfg.resources} resources, {cfg.startups} start-ups")
            provider = Provider(flavour, emu.base_url, engine)

            async def main(provider: Provider = provider) -> dict[str, list[float]]:
                await provider.start()
                try:
                    return await _lifecycle(provider, cfg.resources)
                finally:
                    await provider.close()

            timings[flavour] = asyncio.run(main())
            startups[flavour] = [_startup(flavour, engine, emu.base_url)
                                 for _ in range(cfg.startups)]
    blob = provider_blob()
    blob_bytes = len(blob.encode())
    raw_bytes = len(base64.b64decode(blob))

    table = Table(
        title=(f"Per-resource overhead: {cfg.resources} resources per provider, one at a time "
               f"(Create on an instant go-live); latency at the gRPC client, median / p95"),
        columns=["measure", "dynamic host", "plugin (gRPC)", "target"],
    )

    def cell(values: list[float]) -> str:
        return f"{fmt_ms(median(values))} / {fmt_ms(p95(values))}"

    targets = {"Check": 0.005, "Diff": 0.005}
    for rpc in RPCS:
        limit = targets.get(rpc)
        verdict = ""
        if limit is not None:
            misses = [f"{f} {median(timings[f][rpc]) * 1000:.1f} ms"
                      for f in FLAVOURS if not median(timings[f][rpc]) < limit]
            verdict = (f"< {limit * 1000:g} ms median: "
                       + ("met" if not misses else "MISSED (" + ", ".join(misses) + ")"))
        label = rpc + (" (instant go-live: 4 HTTP requests)" if rpc == "Create" else "")
        table.add(label, cell(timings["dynamic"][rpc]), cell(timings["plugin"][rpc]), verdict)
    table.add("first Check / first Create (cold, not in the rows above)",
              " / ".join(fmt_ms(timings["dynamic"][f"first {r}"][0]) for r in ("Check", "Create")),
              " / ".join(fmt_ms(timings["plugin"][f"first {r}"][0]) for r in ("Check", "Create")),
              "")
    port = {f: [s[0] for s in startups[f]] for f in FLAVOURS}
    info = {f: [s[1] for s in startups[f]] for f in FLAVOURS}
    table.add("start-up: launch → port printed", cell(port["dynamic"]), cell(port["plugin"]), "")
    plugin_start = median(info["plugin"])
    table.add("start-up: launch → first GetPluginInfo answered", cell(info["dynamic"]),
              cell(info["plugin"]),
              "plugin < 1.5 s median: " + ("met" if plugin_start < 1.5
                                           else f"MISSED ({plugin_start:.2f} s)"))
    table.add("pickled __provider in state", f"{blob_bytes} B ({raw_bytes} B pickle, base64)",
              "— (no pickle)", "< 2 KB: " + ("met" if blob_bytes < 2048 else "MISSED"))
    table.notes += [
        "Check is measured twice per resource (first up and second up); Diff is the second "
        "up's (no changes); Read is a refresh; Delete is a destroy of a live offer (nothing to "
        "cancel, 1 HTTP request).",
        "Start-up: process launch (as the engine does it) → port line on stdout → first "
        f"GetPluginInfo answered over a new channel; {cfg.startups} launches per provider.",
        "The dynamic host unpickles __provider once per process and caches it (pulumi.dynamic).",
    ]
    data = {
        "config": cfg.__dict__,
        "latency_s": timings,
        "startup_s": {f: {"port": port[f], "first_get_plugin_info": info[f]} for f in FLAVOURS},
        "pickled_provider": {"base64_bytes": blob_bytes, "pickle_bytes": raw_bytes},
    }
    return table, data
