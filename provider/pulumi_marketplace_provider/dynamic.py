"""The dynamic-provider host adapter: LiveOffer for Python programs with no plugin to install.

Pulumi pickles this provider into the stack's state (`__provider`) and runs it inside its own
dynamic host (`python -m pulumi.dynamic`). So the class lives in an installed module (pickled by
reference, a few hundred bytes), and an instance holds nothing: settings and the client are made at
run time in `configure`, and `__getstate__` drops them so no credential can reach state.

The host passes no custom timeouts, has no progress channel and cannot record partial state, so:
the `waitTimeoutSeconds` input bounds the wait, progress goes to stderr (which the CLI shows for
dynamic providers), and an interrupted create relies on `create` looking first: the next
`pulumi up` attaches to the go-live already running instead of starting a second one.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TypeVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

from . import live_offer
from .backend import Backend
from .init_error import STATUS_DETAILS_KEY, servicer_context, status_details
from .partner_portal import PortalError, Progress
from .procedure import Clock, Procedure, SystemClock, run_sync
from .settings import CONFIG_KEYS, NAMESPACE, ProviderSettings, SettingsError

T = TypeVar("T")
PROVIDER_KEY = "__provider"  # where Pulumi's dynamic host keeps the pickled provider


def _wire_unknowns(value: Any) -> Any:
    """The dynamic host hands preview's unknown values over as `pulumi.output.Unknown`
    objects; the lifecycle rules know unknowns by their wire sentinel, so translate."""
    if isinstance(value, Unknown):
        return live_offer.UNKNOWN
    if isinstance(value, dict):
        return {k: _wire_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_unknowns(v) for v in value]
    return value


PROGRESS_INTERVAL_SECONDS = 30.0


class _StderrProgress:
    """Print a progress line when the step changes or every PROGRESS_INTERVAL_SECONDS."""

    def __init__(self, resource_id: str) -> None:
        self._resource_id = resource_id
        self._last_key: tuple[str | None, str] | None = None
        self._last_time = 0.0
        self._lock = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        key = (progress.step_name, str(progress.status))
        now = time.monotonic()
        with self._lock:
            if key == self._last_key and now - self._last_time < PROGRESS_INTERVAL_SECONDS:
                return
            self._last_key, self._last_time = key, now
        line = f"{self._resource_id}: {live_offer.describe_progress(progress)}"
        print(f"info: {line}", file=sys.stderr, flush=True)


def _stderr_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _run(proc: Procedure[T], clock: Clock) -> T:
    """Run a lifecycle procedure; expected failures surface as their message alone.

    The dynamic host reports any exception with its whole traceback. Re-raising here, without
    the chain, keeps what the user reads to the portal's words and the next step.
    """
    try:
        return run_sync(proc, clock=clock)
    except (live_offer.LiveOfferError, PortalError, SettingsError) as exc:
        raise live_offer.LiveOfferError(str(exc)) from None


def _run_recording(
    proc: Procedure[T], ctx: live_offer.RunContext, checkpoint: dict[str, Any],
    *, id_: str, props: dict[str, Any],
) -> T:
    """Like `_run`, but a failure after the go-live was sent leaves partial state.

    The dynamic host has no API for it, so the RPC's status details are set directly (see
    `init_error`): the engine then records the operation, as it does for the plugin, and the
    next `pulumi up` resumes it.
    """
    try:
        return run_sync(proc, clock=ctx.clock)
    except (live_offer.LiveOfferError, PortalError, SettingsError) as exc:
        message = str(exc)
        state = (exc.outputs if isinstance(exc, live_offer.LiveOfferError) else None) or checkpoint
        context = servicer_context() if state else None
        if context is not None:
            outputs = dict(state)
            inputs = {k: v for k, v in props.items() if k in live_offer.INPUT_KEYS}
            if PROVIDER_KEY in props:
                outputs[PROVIDER_KEY] = props[PROVIDER_KEY]
                inputs[PROVIDER_KEY] = props[PROVIDER_KEY]
            details = status_details(message, id_=id_, outputs=outputs, inputs=inputs)
            context.set_trailing_metadata(((STATUS_DETAILS_KEY, details),))
        raise live_offer.LiveOfferError(message) from None


class LiveOfferProvider(ResourceProvider):
    """`pulumi.dynamic` provider for LiveOffer; every rule lives in `live_offer`."""

    serialize_as_secret_always = False

    def __init__(self) -> None:
        super().__init__()
        self._settings: ProviderSettings | None = None
        self._backend: Backend | None = None
        self._lock = threading.Lock()

    # Pickling: the program pickles a fresh instance; the host unpickles it and calls configure.
    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def configure(self, req: ConfigureRequest) -> None:
        config = {f"{NAMESPACE}:{k}": req.config.get(f"{NAMESPACE}:{k}") for k in CONFIG_KEYS}
        self._settings = ProviderSettings.from_config(
            {k: v for k, v in config.items() if v is not None}
        )

    def _context(self, resource_id: str) -> live_offer.RunContext:
        with self._lock:
            if self._settings is None:
                self._settings = ProviderSettings.from_config({})
            if self._backend is None:
                self._backend = self._settings.backend()
            backend = self._backend
        return live_offer.RunContext(
            backend=backend,
            clock=SystemClock(),
            on_progress=_StderrProgress(resource_id),
            on_warning=_stderr_warning,
        )

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = live_offer.check(_wire_unknowns(_olds), _wire_unknowns(news))
        return CheckResult(inputs, [CheckFailure(f.property, f.reason) for f in failures])

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        decision = live_offer.diff(_wire_unknowns(_olds), _wire_unknowns(_news))
        if decision.warning:
            _stderr_warning(decision.warning)
        return DiffResult(
            changes=decision.changes,
            replaces=list(decision.replaces),
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = live_offer.LiveOfferInputs.from_wire(props)
        ctx = self._context(inputs.resource_id)
        checkpoint: dict[str, Any] = {}
        ctx.on_checkpoint = checkpoint.update
        id_, outputs = _run_recording(
            live_offer.create(ctx, props), ctx, checkpoint, id_=inputs.resource_id, props=props
        )
        return CreateResult(id_, outputs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        ctx = self._context(_id)
        checkpoint: dict[str, Any] = {}
        ctx.on_checkpoint = checkpoint.update
        outputs = _run_recording(
            live_offer.update(ctx, _olds, _news), ctx, checkpoint, id_=_id, props=_news
        )
        return UpdateResult(outputs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        ctx = self._context(id_)
        olds = {k: v for k, v in props.items() if not k.startswith("__")}
        new_id, outputs, inputs = _run(live_offer.read(ctx, id_, olds), ctx.clock)
        if new_id is None:
            return ReadResult(None, {})
        return ReadResult(new_id, outputs, inputs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        ctx = self._context(_id)
        message = _run(live_offer.delete(ctx, _id, _props), ctx.clock)
        print(f"info: {message}", file=sys.stderr, flush=True)
