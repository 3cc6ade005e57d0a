"""The gRPC `ResourceProvider` for `marketplace:index:LiveOffer`, on grpc.aio.

Every RPC unmarshals Pulumi's wire format, calls the shared lifecycle rules in `live_offer`, and
marshals the answer. Waits are asyncio tasks (a waiting offer holds no thread; HTTP calls run in a
bounded pool). A create or update that cannot finish (custom timeout, Cancel, a failed go-live)
answers `ErrorResourceInitFailed` with the operation it recorded, so the engine stores that
partial state and the next `pulumi up` resumes the same operation instead of going live again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import (
    plugin_pb2,
    provider_pb2,
    provider_pb2_grpc,  # the SDK ships google.rpc.Status itself
)

from .. import __version__, live_offer
from ..backend import Backend
from ..init_error import STATUS_DETAILS_KEY, status_details
from ..partner_portal import PortalError
from ..partner_portal.transport import DEFAULT_POOL_SIZE
from ..procedure import Procedure, SystemClock, run_async
from ..settings import CONFIG_KEYS, NAMESPACE, SECRET_KEYS, ProviderSettings, SettingsError
from .engine_log import EngineLog
from .properties import UNKNOWN, marshal, unmarshal
from .schema import schema_text

LOG = logging.getLogger(__name__)
HTTP_POOL_SIZE = DEFAULT_POOL_SIZE  # threads that send HTTP; each keeps its connection
T = TypeVar("T")


class _Aborted(Exception):
    """Raised to end an RPC with a status that was already chosen."""


class LiveOfferServicer(provider_pb2_grpc.ResourceProviderServicer):
    """Serves LiveOffer over gRPC; a thin adapter over `live_offer`."""

    def __init__(self, engine: EngineLog, *, pool_size: int = HTTP_POOL_SIZE) -> None:
        self._engine = engine
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="portal-http")
        self._config: dict[str, Any] = {}
        self._settings: ProviderSettings | None = None
        self._backend: Backend | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._cancel_requested = False

    # ----------------------------------------------------------------------------- plumbing

    async def close(self) -> None:
        for task in list(self._inflight):
            task.cancel()
        await self._engine.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _portal(self) -> Backend:
        if self._backend is None:
            settings = self._settings or ProviderSettings.from_config(self._config)
            self._settings = settings
            self._backend = settings.backend()
        return self._backend

    def _context(
        self, urn: str, timeout: float, checkpoint: dict[str, Any]
    ) -> live_offer.RunContext:
        return live_offer.RunContext(
            backend=self._portal(),
            clock=SystemClock(),
            on_progress=self._engine.progress_reporter(urn),
            on_checkpoint=checkpoint.update,
            host_timeout_seconds=timeout if timeout and timeout > 0 else None,
            on_warning=lambda text: self._warn_soon(text, urn),
        )

    def _warn_soon(self, message: str, urn: str) -> None:
        """Send a warning to the engine from a procedure step (which runs on the loop)."""
        task = asyncio.get_running_loop().create_task(
            self._engine.log(message, urn=urn, severity="warning")
        )
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _run(self, proc: Procedure[T]) -> T:
        """Run one lifecycle procedure as a task that Cancel can stop."""
        task: asyncio.Task[T] = asyncio.get_running_loop().create_task(
            run_async(proc, clock=SystemClock(), executor=self._executor)
        )
        self._inflight.add(task)
        try:
            return await task
        finally:
            self._inflight.discard(task)

    async def _fail(
        self, context: grpc.aio.ServicerContext, message: str, *, urn: str = ""
    ) -> None:
        # The engine prints the RPC's error itself: an Engine.Log error as well would show
        # every failure twice.
        del urn
        await context.abort(grpc.StatusCode.UNKNOWN, message)

    async def _fail_with_state(
        self,
        context: grpc.aio.ServicerContext,
        message: str,
        *,
        urn: str,
        id_: str,
        outputs: Mapping[str, Any],
        inputs: Mapping[str, Any],
        secrets: set[str],
    ) -> None:
        """Abort with ErrorResourceInitFailed so the engine records the operation we started.

        The engine prints `reasons` itself: no Engine.Log error, or it would show twice."""
        del urn
        details = status_details(
            message, id_=id_, outputs=outputs, inputs=inputs, secrets=secrets
        )
        await context.abort(
            grpc.StatusCode.UNKNOWN,
            message,
            trailing_metadata=((STATUS_DETAILS_KEY, details),),
        )

    async def _mutate(
        self,
        context: grpc.aio.ServicerContext,
        *,
        urn: str,
        id_: str,
        timeout: float,
        inputs: dict[str, Any],
        secrets: set[str],
        make: Callable[[live_offer.RunContext], Procedure[T]],
    ) -> T:
        """Create/Update: run the procedure; anything after a submit returns partial state."""
        checkpoint: dict[str, Any] = {}
        service = "Partner Portal"  # what the messages call the service, once it is known
        try:
            ctx = self._context(urn, timeout, checkpoint)
            service = ctx.backend.service
            return await self._run(make(ctx))
        except live_offer.LiveOfferError as exc:
            message, state = str(exc), exc.outputs or checkpoint
        except asyncio.CancelledError:
            if not self._cancel_requested:
                raise
            operation_id = checkpoint.get("operationId")
            if operation_id:
                message = (
                    f"{id_}: cancelled while waiting. Go-live {operation_id} was sent (or "
                    f"attached to) and keeps running: it was not cancelled in the {service}. "
                    f"Run `pulumi up` again to resume waiting on the same operation."
                )
            elif checkpoint.get("status") == "unknown":
                message = (
                    f"{id_}: cancelled while the go-live POST's answer was still unknown: it "
                    f"was sent once and may have started a go-live. Run `pulumi up` again: it "
                    f"looks for that go-live first and sends nothing if it started."
                )
            else:
                message = (
                    f"{id_}: cancelled before any go-live was sent; nothing was sent to the "
                    f"{service} for this offer. Run `pulumi up` again to start it."
                )
            state = checkpoint
        except (PortalError, SettingsError, ValueError) as exc:
            message, state = str(exc), checkpoint
        if state:
            await self._fail_with_state(
                context, message, urn=urn, id_=id_, outputs=state, inputs=inputs, secrets=secrets
            )
        await self._fail(context, message, urn=urn)
        raise _Aborted  # context.abort raises; this line keeps type checkers honest

    # ----------------------------------------------------------------------------- identity

    async def Handshake(
        self, request: provider_pb2.ProviderHandshakeRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.ProviderHandshakeResponse:
        if request.engine_address:
            self._engine.connect(request.engine_address)
        return provider_pb2.ProviderHandshakeResponse(
            accept_secrets=True, accept_resources=True, accept_outputs=False
        )

    async def Attach(
        self, request: plugin_pb2.PluginAttach, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """`PULUMI_DEBUG_PROVIDERS=marketplace:<port>`: the engine attaches to a plugin started
        by hand (`python -m pulumi_marketplace_provider.plugin`, which prints its port) and
        sends its own address here, after Handshake."""
        if request.address:
            self._engine.connect(request.address)
        return empty_pb2.Empty()

    async def GetPluginInfo(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=__version__)

    async def GetSchema(
        self, request: provider_pb2.GetSchemaRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.GetSchemaResponse:
        return provider_pb2.GetSchemaResponse(schema=schema_text())

    async def Cancel(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Stop every wait now; each answers with the state it recorded (resumable)."""
        self._cancel_requested = True
        for task in list(self._inflight):
            task.cancel()
        return empty_pb2.Empty()

    # ----------------------------------------------------------------------------- config

    @staticmethod
    def _config_from(args: Mapping[str, Any], variables: Mapping[str, str]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for key in CONFIG_KEYS:
            value = args.get(key, variables.get(f"{NAMESPACE}:{key}"))
            if value is not None and value != UNKNOWN:
                config[key] = value
        return config

    async def CheckConfig(
        self, request: provider_pb2.CheckRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.CheckResponse:
        news, _ = unmarshal(request.news)
        failures = []
        unknown = set(news) - set(CONFIG_KEYS) - {"version", "pluginDownloadURL"}
        for key in sorted(unknown):
            failures.append(
                provider_pb2.CheckFailure(
                    property=key,
                    reason=f"unknown setting '{NAMESPACE}:{key}'; known: {', '.join(CONFIG_KEYS)}",
                )
            )
        config = self._config_from(news, {})
        for _ in range(len(CONFIG_KEYS)):  # every bad setting, each under its own name
            try:
                ProviderSettings.from_config(config)
                break
            except SettingsError as exc:
                failures.append(provider_pb2.CheckFailure(property=exc.key, reason=str(exc)))
                if config.pop(exc.key, None) is None:
                    break  # from the environment: nothing more to check without it
        # The engine strips secret markers before CheckConfig; mark credentials secret again so
        # they never travel back as plain values.
        secrets = {key for key in SECRET_KEYS if key in news}
        return provider_pb2.CheckResponse(inputs=marshal(news, secrets), failures=failures)

    async def DiffConfig(
        self, request: provider_pb2.DiffRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.DiffResponse:
        olds, _ = unmarshal(request.olds)
        news, _ = unmarshal(request.news)
        changed = [k for k in CONFIG_KEYS if olds.get(k) != news.get(k)]
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME
            if changed
            else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changed,
        )

    async def Configure(
        self, request: provider_pb2.ConfigureRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.ConfigureResponse:
        args, _ = unmarshal(request.args)
        self._config = self._config_from(args, dict(request.variables))
        try:
            self._settings = ProviderSettings.from_config(self._config)
        except SettingsError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        self._backend = None
        return provider_pb2.ConfigureResponse(
            acceptSecrets=True, supportsPreview=True, acceptResources=True, acceptOutputs=False
        )

    # ----------------------------------------------------------------------------- resources

    async def Check(
        self, request: provider_pb2.CheckRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.CheckResponse:
        olds, _ = unmarshal(request.olds)
        news, secrets = unmarshal(request.news)
        inputs, failures = live_offer.check(olds, news)
        return provider_pb2.CheckResponse(
            inputs=marshal(inputs, secrets),
            failures=[
                provider_pb2.CheckFailure(property=f.property, reason=f.reason) for f in failures
            ],
        )

    async def Diff(
        self, request: provider_pb2.DiffRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.DiffResponse:
        olds, _ = unmarshal(request.olds)
        news, _ = unmarshal(request.news)
        decision = live_offer.diff(olds, news)
        if decision.warning:
            await self._engine.log(decision.warning, urn=request.urn, severity="warning")
        kinds = provider_pb2.PropertyDiff
        detailed = {
            key: provider_pb2.PropertyDiff(
                kind=kinds.UPDATE_REPLACE if key in decision.replaces else kinds.UPDATE,
                inputDiff=key in live_offer.INPUT_KEYS,
            )
            for key in decision.changed_keys
        }
        return provider_pb2.DiffResponse(
            changes=(
                provider_pb2.DiffResponse.DIFF_SOME
                if decision.changes
                else provider_pb2.DiffResponse.DIFF_NONE
            ),
            replaces=list(decision.replaces),
            diffs=list(decision.changed_keys),
            detailedDiff=detailed,
            hasDetailedDiff=True,
            deleteBeforeReplace=False,
        )

    @staticmethod
    def _preview_outputs(news: Mapping[str, Any], secrets: set[str]) -> struct_pb2.Struct:
        outputs = dict(news)
        outputs.update({key: UNKNOWN for key in live_offer.OUTPUT_KEYS})
        return marshal(outputs, secrets)

    async def Create(
        self, request: provider_pb2.CreateRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.CreateResponse:
        news, secrets = unmarshal(request.properties)
        if request.preview:
            return provider_pb2.CreateResponse(
                id="", properties=self._preview_outputs(news, secrets)
            )
        try:
            id_ = live_offer.LiveOfferInputs.from_wire(news).resource_id
        except ValueError as exc:
            await self._fail(context, str(exc), urn=request.urn)
            raise
        new_id, outputs = await self._mutate(
            context,
            urn=request.urn,
            id_=id_,
            timeout=request.timeout,
            inputs=news,
            secrets=secrets,
            make=lambda ctx: live_offer.create(ctx, news),
        )
        await self._engine.log(
            f"{new_id}: go-live {outputs.get('operationId')} {outputs.get('status')}",
            urn=request.urn,
        )
        return provider_pb2.CreateResponse(id=new_id, properties=marshal(outputs, secrets))

    async def Update(
        self, request: provider_pb2.UpdateRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.UpdateResponse:
        olds, old_secrets = unmarshal(request.olds)
        news, secrets = unmarshal(request.news)
        secrets |= old_secrets & set(news)
        if request.preview:
            decision = live_offer.diff(olds, news)
            preview = dict(olds)
            preview.update(news)
            if decision.changes:
                preview.update({key: UNKNOWN for key in live_offer.OUTPUT_KEYS})
            return provider_pb2.UpdateResponse(properties=marshal(preview, secrets))
        outputs = await self._mutate(
            context,
            urn=request.urn,
            id_=request.id,
            timeout=request.timeout,
            inputs=news,
            secrets=secrets,
            make=lambda ctx: live_offer.update(ctx, olds, news),
        )
        return provider_pb2.UpdateResponse(properties=marshal(outputs, secrets))

    async def Read(
        self, request: provider_pb2.ReadRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.ReadResponse:
        olds, secrets = unmarshal(request.properties)
        old_inputs, input_secrets = unmarshal(request.inputs)
        secrets |= input_secrets
        try:
            ctx = self._context(request.urn, request.timeout, {})
            new_id, outputs, inputs = await self._run(
                live_offer.read(ctx, request.id, olds or None)
            )
        except (live_offer.LiveOfferError, PortalError, SettingsError, ValueError) as exc:
            await self._fail(context, str(exc), urn=request.urn)
            raise
        except asyncio.CancelledError:
            # An RPC whose handler ends cancelled is never answered: the engine would wait on
            # it for ever. Answer it.
            if not self._cancel_requested:
                raise
            await self._fail(context, f"{request.id}: cancelled while reading the offer; "
                                      f"nothing was changed. Run the command again.",
                             urn=request.urn)
            raise
        if new_id is None:
            return provider_pb2.ReadResponse(id="")
        merged_inputs = dict(old_inputs) if old_inputs else inputs
        return provider_pb2.ReadResponse(
            id=new_id,
            properties=marshal(outputs, secrets),
            inputs=marshal(merged_inputs, secrets),
        )

    async def Delete(
        self, request: provider_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        olds, _ = unmarshal(request.properties)
        try:
            ctx = self._context(request.urn, request.timeout, {})
            message = await self._run(live_offer.delete(ctx, request.id, olds))
        except (live_offer.LiveOfferError, PortalError, SettingsError, ValueError) as exc:
            await self._fail(context, str(exc), urn=request.urn)
            raise
        except asyncio.CancelledError:
            if not self._cancel_requested:
                raise
            await self._fail(
                context,
                f"{request.id}: cancelled while deleting; the resource stays in the stack and "
                f"its go-live is as it was (a cancel already sent to the portal stands). Run "
                f"the command again to finish the delete.",
                urn=request.urn,
            )
            raise
        await self._engine.log(message, urn=request.urn)
        return empty_pb2.Empty()
