"""Both providers started the way the engine starts them, and driven over real gRPC.

Launching comes from the engine double (`tests/enginedouble/launch.py`): the dynamic host is
`python -u -m pulumi.dynamic <engine>`, the plugin `python <plugin dir> <engine>`, each in its own
process group, the port read from the first stdout line. The RPCs are made here with a
`grpc.aio` stub because the double runs steps one at a time, while the engine (default
`--parallel`, effectively unbounded) sends every ready resource's Check/Create at once.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psutil
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from bench.common import PUBLISHER, REPO, TOKEN
from tests.enginedouble.fake_engine import FakeEngine
from tests.enginedouble.launch import DynamicLauncher, PluginLauncher, ProviderProcess

FLAVOURS = ("dynamic", "plugin")
DYNAMIC_TYPE = "pulumi-python:dynamic/marketplace:LiveOffer"
PLUGIN_TYPE = "marketplace:index:LiveOffer"
PROJECT, STACK = "bench", "bench"


def provider_blob() -> str:
    """The dynamic provider as the program pickles it into `__provider`."""
    from pulumi.dynamic.dynamic import serialize_provider

    from pulumi_marketplace_provider.dynamic import LiveOfferProvider

    blob: str = serialize_provider(LiveOfferProvider())
    return blob


def to_struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update({k: v for k, v in values.items() if v is not None})
    return out


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return dict(json_format.MessageToDict(struct))


@dataclass
class Sample:
    peak_rss: int = 0
    max_threads: int = 0
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    samples: int = 0

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_end - self.cpu_start


class Sampler:
    """Polls psutil on the provider process: peak RSS (VmHWM), most threads, CPU time."""

    def __init__(self, process: ProviderProcess, interval: float = 0.2) -> None:
        self.process = process
        self.interval = interval
        self.result = Sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def _cpu(self) -> float:
        cpu = psutil.Process(self.process.pid).cpu_times()
        return float(cpu.user + cpu.system)

    def _sample(self) -> None:
        stats = self.process.stats()
        self.result.peak_rss = max(self.result.peak_rss, stats.peak_rss)
        self.result.max_threads = max(self.result.max_threads, stats.threads)
        self.result.samples += 1

    def __enter__(self) -> Sampler:
        self.result.cpu_start = self._cpu()
        self._sample()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._sample()
            except (psutil.Error, OSError):
                return

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self._sample()
            self.result.cpu_end = self._cpu()
        except (psutil.Error, OSError):
            self.result.cpu_end = self.result.cpu_start


@dataclass
class Provider:
    """One provider process plus an async stub on it."""

    flavour: str
    endpoint: str
    engine: FakeEngine
    process: ProviderProcess | None = None
    launched_at: float = 0.0
    port_at: float = 0.0
    channel: grpc.aio.Channel | None = None
    stub: Any = None
    blob: str = field(default_factory=provider_blob)
    keep_stderr: bool = True  # keep the provider's stderr file when it did not exit cleanly

    # -------------------------------------------------------------------------- process

    def launch(self) -> ProviderProcess:
        env = {
            "PULUMI_PROJECT": PROJECT,
            "PULUMI_CONFIG": json.dumps(self._plugin_config() if self.flavour == "plugin"
                                        else {}),
        }
        launcher: DynamicLauncher | PluginLauncher
        if self.flavour == "dynamic":
            launcher = DynamicLauncher(cwd=REPO)
        else:
            launcher = PluginLauncher(package="marketplace", plugin_dir=REPO, log_flow=False,
                                      cwd=REPO)
        stderr = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{self.flavour}-{os.getpid()}-" \
            f"{time.monotonic_ns()}.stderr"
        self.launched_at = time.perf_counter()
        self.process = launcher.launch(self.engine.address, env, stderr_path=stderr)
        self.port_at = time.perf_counter()
        return self.process

    def _plugin_config(self) -> dict[str, str]:
        return {"endpoint": self.endpoint, "accessToken": TOKEN}

    async def connect(self) -> None:
        assert self.process is not None
        self.channel = grpc.aio.insecure_channel(self.process.address,
                                                 options=_GRPC_CHANNEL_OPTIONS)
        await self.channel.channel_ready()
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    async def start(self) -> None:
        """launch → Handshake → GetPluginInfo → Configure, as the engine does."""
        self.launch()
        await self.connect()
        try:
            await self.stub.Handshake(provider_pb2.ProviderHandshakeRequest(
                engine_address=self.engine.address, root_directory=str(REPO),
                program_directory=str(REPO), configure_with_urn=True))
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
        await self.stub.GetPluginInfo(empty_pb2.Empty())
        await self.configure()

    async def configure(self) -> None:
        if self.flavour == "plugin":
            cfg = self._plugin_config()
            args = to_struct(cfg)
            variables = {f"marketplace:config:{k}": v for k, v in cfg.items()}
        else:
            # The dynamic host gets the whole stack config, namespaced keys kept.
            args = to_struct({"marketplace:endpoint": self.endpoint,
                              "marketplace:accessToken": TOKEN})
            variables = {}
        await self.stub.Configure(provider_pb2.ConfigureRequest(
            variables=variables, args=args, acceptSecrets=True, acceptResources=True,
            sends_old_inputs=True, sends_old_inputs_to_delete=True))

    async def close(self) -> None:
        if self.channel is not None:
            await self.channel.close()
            self.channel = None
        if self.process is not None:
            self.process.close(grace=3.0)
            if self.process.returncode in (0, -2, 130, None) or not self.keep_stderr:
                self.process.stderr_path.unlink(missing_ok=True)

    # -------------------------------------------------------------------------- resources

    @property
    def type_token(self) -> str:
        return DYNAMIC_TYPE if self.flavour == "dynamic" else PLUGIN_TYPE

    def urn(self, name: str) -> str:
        return f"urn:pulumi:{STACK}::{PROJECT}::{self.type_token}::{name}"

    def inputs(self, offer: str) -> dict[str, Any]:
        props: dict[str, Any] = {"publisherId": PUBLISHER, "offerId": offer, "triggers": [],
                                 "waitForCompletion": True, "waitTimeoutSeconds": 7200}
        if self.flavour == "dynamic":
            props["__provider"] = self.blob
        return props

    async def check(self, name: str, news: Mapping[str, Any],
                    olds: Mapping[str, Any] | None = None) -> dict[str, Any]:
        resp = await self.stub.Check(provider_pb2.CheckRequest(
            urn=self.urn(name), name=name, type=self.type_token,
            olds=to_struct(olds or {}), news=to_struct(news)))
        if resp.failures:
            raise RuntimeError(f"Check failed: {list(resp.failures)}")
        return from_struct(resp.inputs)

    async def create(self, name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        resp = await self.stub.Create(provider_pb2.CreateRequest(
            urn=self.urn(name), name=name, type=self.type_token,
            properties=to_struct(inputs), timeout=0, preview=False))
        return resp.id, from_struct(resp.properties)

    async def diff(self, name: str, id_: str, olds: Mapping[str, Any],
                   news: Mapping[str, Any], old_inputs: Mapping[str, Any]) -> int:
        resp = await self.stub.Diff(provider_pb2.DiffRequest(
            id=id_, urn=self.urn(name), name=name, type=self.type_token,
            olds=to_struct(olds), news=to_struct(news), old_inputs=to_struct(old_inputs)))
        return int(resp.changes)

    async def read(self, name: str, id_: str, props: Mapping[str, Any],
                   inputs: Mapping[str, Any]) -> dict[str, Any]:
        resp = await self.stub.Read(provider_pb2.ReadRequest(
            id=id_, urn=self.urn(name), name=name, type=self.type_token,
            properties=to_struct(props), inputs=to_struct(inputs)))
        return from_struct(resp.properties)

    async def delete(self, name: str, id_: str, props: Mapping[str, Any],
                     old_inputs: Mapping[str, Any]) -> None:
        await self.stub.Delete(provider_pb2.DeleteRequest(
            id=id_, urn=self.urn(name), name=name, type=self.type_token,
            properties=to_struct(props), old_inputs=to_struct(old_inputs)))
