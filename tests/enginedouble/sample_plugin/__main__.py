"""Stand-in ``PulumiPlugin.yaml`` provider used only to prove the engine double.

Why: the double must be shown to handle what a real plugin does that the dynamic host cannot
(Handshake, Engine.Log, timeouts, Cancel, ErrorResourceInitFailed). Run as pulumi-language-python
runs a plugin directory: ``python <this dir> [--logtostderr -v=N] [--tracing EP] <engine>``.
Stdout carries only the port (set SAMPLE_PLUGIN_STDOUT_JUNK=1 to break that on purpose).

Create knobs (inputs): ``fail`` (plain error), ``init_fail`` (ErrorResourceInitFailed with
partial state), ``sleep`` (seconds to "wait"; Cancel or ``timeout`` end it with partial state),
``immutable`` (a change replaces). Update knob: ``init_fail_update``. Read of a resource that
failed to initialise keeps failing (partial state) unless input ``heal_on_read`` is set. Read of
an id containing ``gone`` says "deleted"; Read with no properties answers as an import would.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    plugin_pb2,
    provider_pb2,
    provider_pb2_grpc,
    status_pb2,  # the SDK ships google.rpc.Status itself
)

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
KNOBS = ("fail", "init_fail", "sleep", "init_fail_update")


def engine_address_from_argv(argv: list[str]) -> str:
    """Last positional argument; ``--tracing`` takes a value (the SDK argparse gets this wrong)."""
    positional: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--tracing":
            skip = True
            continue
        if arg.startswith("-"):
            continue
        positional.append(arg)
    return positional[-1] if positional else ""


def to_dict(s: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(s)


def to_struct(d: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


def plain(v: Any) -> Any:
    if isinstance(v, dict) and v.get(SIG_KEY) == SECRET_SIG:
        return plain(v.get("value"))
    return v


class SampleProvider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.engine_address = engine_address_from_argv(argv)
        self.cancelled = asyncio.Event()
        self._engine: Any = None

    async def log(
        self,
        message: str,
        urn: str = "",
        ephemeral: bool = False,
        severity: engine_pb2.LogSeverity.ValueType = engine_pb2.INFO,
    ) -> None:
        if not self.engine_address:
            return
        if self._engine is None:
            self._engine = engine_pb2_grpc.EngineStub(
                grpc.aio.insecure_channel(self.engine_address)
            )
        await self._engine.Log(
            engine_pb2.LogRequest(severity=severity, message=message, urn=urn, ephemeral=ephemeral)
        )

    async def abort_init_failed(
        self, context: Any, msg: str, rid: str, props: dict[str, Any], reasons: list[str]
    ) -> None:
        detail = provider_pb2.ErrorResourceInitFailed(
            id=rid, properties=to_struct(props), reasons=reasons, refresh_before_update=True
        )
        st = status_pb2.Status(code=grpc.StatusCode.UNKNOWN.value[0], message=msg)
        st.details.add().Pack(detail)
        await context.abort(
            grpc.StatusCode.UNKNOWN,
            msg,
            trailing_metadata=(("grpc-status-details-bin", st.SerializeToString()),),
        )

    async def Handshake(self, request: Any, context: Any) -> Any:
        self.engine_address = request.engine_address or self.engine_address
        return provider_pb2.ProviderHandshakeResponse(accept_secrets=True, accept_resources=True)

    async def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version="0.0.1")

    async def CheckConfig(self, request: Any, context: Any) -> Any:
        return provider_pb2.CheckResponse(inputs=request.news)

    async def DiffConfig(self, request: Any, context: Any) -> Any:
        same = to_dict(request.olds) == to_dict(request.news)
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_NONE
            if same
            else provider_pb2.DiffResponse.DIFF_SOME
        )

    async def Configure(self, request: Any, context: Any) -> Any:
        return provider_pb2.ConfigureResponse(
            acceptSecrets=True, supportsPreview=True, acceptResources=True
        )

    async def Check(self, request: Any, context: Any) -> Any:
        news = to_dict(request.news)
        failures = (
            [provider_pb2.CheckFailure(property="bad", reason="bad is not allowed")]
            if "bad" in news
            else []
        )
        return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

    async def Diff(self, request: Any, context: Any) -> Any:
        olds, news = to_dict(request.old_inputs), to_dict(request.news)
        keys = sorted(k for k in set(olds) | set(news) if plain(olds.get(k)) != plain(news.get(k)))
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME
            if keys
            else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=keys,
            replaces=[k for k in keys if k == "immutable"],
        )

    def outputs(self, news: dict[str, Any], request: Any, status: str) -> dict[str, Any]:
        outs = {k: v for k, v in news.items() if k not in KNOBS}
        outs.update(
            status=status,
            timeout=request.timeout,
            argv=self.argv,
            engine=self.engine_address,
            env={k: os.environ.get(k) for k in ("PULUMI_PROJECT", "PULUMI_CONFIG", "PULUMI_STACK")},
            api_key={SIG_KEY: SECRET_SIG, "value": "plugin-made-secret"},
        )
        return outs

    async def Create(self, request: Any, context: Any) -> Any:
        news = to_dict(request.properties)
        rid = f"id-{request.name}"
        if request.preview:
            outs = {k: v for k, v in news.items() if k not in KNOBS}
            outs["status"] = UNKNOWN
            return provider_pb2.CreateResponse(properties=to_struct(outs))
        await self.log(
            f"creating {request.name} (timeout={request.timeout})", request.urn, ephemeral=True
        )
        if "fail" in news:
            await context.abort(grpc.StatusCode.UNKNOWN, str(news["fail"]))
        if "init_fail" in news:
            await self.abort_init_failed(
                context,
                str(news["init_fail"]),
                rid,
                self.outputs(news, request, "failed"),
                [str(news["init_fail"])],
            )
        if "sleep" in news:
            limit = float(news["sleep"])
            if request.timeout:
                limit = min(limit, request.timeout)
            await self.log(f"waiting for {request.name}", request.urn, ephemeral=True)
            try:
                await asyncio.wait_for(self.cancelled.wait(), timeout=limit)
                reason = "cancelled while waiting"
            except asyncio.TimeoutError:
                reason = f"timed out after {limit}s" if limit < float(news["sleep"]) else ""
            if reason:
                await self.abort_init_failed(
                    context, reason, rid, self.outputs(news, request, "waiting"), [reason]
                )
        await self.log(f"created {request.name}", request.urn)
        return provider_pb2.CreateResponse(
            id=rid, properties=to_struct(self.outputs(news, request, "ready"))
        )

    async def Update(self, request: Any, context: Any) -> Any:
        news = to_dict(request.news)
        if request.preview:
            outs = {k: v for k, v in news.items() if k not in KNOBS}
            outs["status"] = UNKNOWN
            return provider_pb2.UpdateResponse(properties=to_struct(outs))
        if "init_fail_update" in news:
            reason = str(news["init_fail_update"])
            await self.abort_init_failed(
                context, reason, request.id, self.outputs(news, request, "failed"), [reason]
            )
        return provider_pb2.UpdateResponse(
            properties=to_struct(self.outputs(news, request, "ready"))
        )

    async def Read(self, request: Any, context: Any) -> Any:
        if "gone" in request.id:
            return provider_pb2.ReadResponse(id="")
        props, ins = to_dict(request.properties), to_dict(request.inputs)
        if props.get("status") == "failed" and "init_fail" in ins and not ins.get("heal_on_read"):
            reason = "still initialising"
            await self.abort_init_failed(context, reason, request.id, props, [reason])
        if not props:  # import: only the id is known
            return provider_pb2.ReadResponse(
                id=request.id,
                properties=to_struct({"name": request.id, "status": "ready"}),
                inputs=to_struct({"name": request.id}),
            )
        props["status"] = "ready"
        props["reads"] = props.get("reads", 0) + 1
        return provider_pb2.ReadResponse(
            id=request.id, properties=to_struct(props), inputs=request.inputs
        )

    async def Delete(self, request: Any, context: Any) -> Any:
        await self.log(f"deleting {request.name}", request.urn, ephemeral=True)
        return empty_pb2.Empty()

    async def Cancel(self, request: Any, context: Any) -> Any:
        self.cancelled.set()
        await self.log("cancel received")
        return empty_pb2.Empty()


async def serve(argv: list[str]) -> None:
    server = grpc.aio.server()
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(SampleProvider(argv), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"sample plugin argv={argv}", file=sys.stderr, flush=True)
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    if os.environ.get("SAMPLE_PLUGIN_STDOUT_JUNK"):
        sys.stdout.write("oops, a stray print\n")
        sys.stdout.flush()
    await server.wait_for_termination()


if __name__ == "__main__":
    try:
        asyncio.run(serve(sys.argv[1:]))
    except KeyboardInterrupt:
        pass
