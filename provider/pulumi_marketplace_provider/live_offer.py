"""The LiveOffer lifecycle rules: check, diff, create, read, update and delete, once for both hosts.

Everything here is plain Python: dictionaries keyed by the wire names users see (`publisherId`,
`operationId`, ...) in and out, and procedures (generators of I/O effects, see `procedure`) that
the dynamic host runs synchronously and the plugin runs as asyncio tasks. The hosts only adapt
Pulumi's wire formats to these functions; no lifecycle rule lives anywhere else.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .backend import Backend
from .partner_portal import (
    GoLiveUnconfirmed,
    InvalidIdentifier,
    NotFound,
    Operation,
    OperationCanceled,
    OperationFailed,
    OperationRef,
    OperationStatus,
    PortalError,
    Progress,
    WaitTimedOut,
    validate_identifier,
)
from .procedure import Clock, Procedure

# The wire sentinel Pulumi uses for a value not known until apply (preview).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

TYPE_TOKEN = "marketplace:index:LiveOffer"  # noqa: S105 - a type token
DEFAULT_WAIT_TIMEOUT_SECONDS = 2 * 60 * 60
MAX_WAIT_TIMEOUT_SECONDS = 30 * 24 * 60 * 60
READ_RETRY_SECONDS = 5 * 60  # refresh/import: how long transient errors are retried

INPUT_KEYS = (
    "publisherId",
    "offerId",
    "triggers",
    "waitForCompletion",
    "waitTimeoutSeconds",
    "cancelOnDestroy",
)
REPLACE_KEYS = ("publisherId", "offerId")
OUTPUT_KEYS = (
    "operationId",
    "operationUrl",
    "status",
    "submittedAt",
    "finishedAt",
    "offerVersion",
    "publishingVersion",
    "liveLinks",
    "previewLinks",
    "adopted",
    # Product Ingestion only (None for the Partner Portal): the product's durable id, the
    # submission that goes live, and the configure job's result.
    "productId",
    "submissionId",
    "jobResult",
)
BACKEND_OUTPUT_KEYS = ("productId", "submissionId", "jobResult")
SUCCEEDED = "succeeded"
ENDED_STATUSES = frozenset({"succeeded", "failed", "canceled"})
RETRIED_STATUSES = frozenset({"failed", "canceled"})

ProgressCallback = Callable[[Progress], None]
CheckpointCallback = Callable[[dict[str, Any]], None]


class LiveOfferError(Exception):
    """A lifecycle step could not finish. `outputs` is the state to record, if any is known.

    A host that can record partial state (the plugin) stores `outputs`, so the next `pulumi up`
    resumes the recorded operation instead of going live a second time.
    """

    def __init__(self, message: str, outputs: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.outputs = outputs


class GoLiveFailed(LiveOfferError):
    """The portal ended the go-live as failed or canceled; the message carries its words."""


class GoLiveStillRunning(LiveOfferError):
    """The wait limit passed while the go-live was still running; `pulumi up` again resumes it."""


@dataclass(frozen=True)
class CheckFailure:
    """One input the user must fix: the property's wire name and what to do."""

    property: str
    reason: str


@dataclass(frozen=True)
class DiffDecision:
    """What a change of inputs means for the offer."""

    changes: bool
    replaces: tuple[str, ...] = ()
    changed_keys: tuple[str, ...] = ()
    reason: str = ""
    # Something the user should read in `pulumi preview` (e.g. the last go-live failed and
    # `up` will send it again); hosts show it as a warning.
    warning: str | None = None


@dataclass(frozen=True)
class LiveOfferInputs:
    """Checked inputs; built only from the output of `check`.

    `wait_timeout_seconds` is None when the user did not set it: then a custom timeout from the
    host governs, else DEFAULT_WAIT_TIMEOUT_SECONDS.
    """

    publisher_id: str
    offer_id: str
    triggers: list[Any] = field(default_factory=list)
    wait_for_completion: bool = True
    wait_timeout_seconds: float | None = None
    cancel_on_destroy: bool = False

    @classmethod
    def from_wire(cls, props: Mapping[str, Any]) -> LiveOfferInputs:
        """Read wire-named properties (inputs or outputs) that have passed `check`."""
        timeout = props.get("waitTimeoutSeconds")
        return cls(
            publisher_id=validate_identifier("publisherId", props.get("publisherId")),
            offer_id=validate_identifier("offerId", props.get("offerId")),
            triggers=list(props.get("triggers") or []),
            wait_for_completion=bool(props.get("waitForCompletion", True)),
            wait_timeout_seconds=float(timeout) if timeout else None,
            cancel_on_destroy=props.get("cancelOnDestroy") is True,
        )

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "publisherId": self.publisher_id,
            "offerId": self.offer_id,
            "triggers": list(self.triggers),
            "waitForCompletion": self.wait_for_completion,
            "cancelOnDestroy": self.cancel_on_destroy,
        }
        if self.wait_timeout_seconds is not None:
            wire["waitTimeoutSeconds"] = self.wait_timeout_seconds
        return wire

    @property
    def resource_id(self) -> str:
        return f"{self.publisher_id}/{self.offer_id}"


def resource_id(publisher_id: str, offer_id: str) -> str:
    """The resource id `pulumi import` takes: `{publisherId}/{offerId}`."""
    return f"{publisher_id}/{offer_id}"


def parse_resource_id(id_: str) -> tuple[str, str]:
    """Split and validate `{publisherId}/{offerId}`; the error says what shape is expected."""
    parts = id_.split("/") if isinstance(id_, str) else []
    if len(parts) != 2:
        raise InvalidIdentifier(
            f"resource id must be '{{publisherId}}/{{offerId}}', e.g. 'contoso/contoso-vm'; "
            f"got {id_!r}",
            field="id",
        )
    return validate_identifier("publisherId", parts[0]), validate_identifier("offerId", parts[1])


def _shown(value: Any) -> str:
    """A wrong value as the message shows it: its repr, cut short (inputs can be huge)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN


# ---------------------------------------------------------------------------------------------
# check


def check(
    olds: Mapping[str, Any], news: Mapping[str, Any]
) -> tuple[dict[str, Any], list[CheckFailure]]:
    """Validate and normalize inputs before anything is sent; unknown values pass untouched.

    `waitTimeoutSeconds` is kept only when the user set it, so a host's custom timeout can
    govern when it did not.
    """
    del olds  # nothing carries over from old inputs: every input is the user's to state
    inputs: dict[str, Any] = {}
    failures: list[CheckFailure] = []
    for key in news:
        if key not in INPUT_KEYS and not key.startswith("__"):
            failures.append(
                CheckFailure(
                    key, f"unknown property '{key}'; LiveOffer takes {', '.join(INPUT_KEYS)}"
                )
            )

    for key in ("publisherId", "offerId"):
        value = news.get(key)
        if _is_unknown(value):
            inputs[key] = value
            continue
        try:
            inputs[key] = validate_identifier(key, value)
        except InvalidIdentifier as exc:
            failures.append(CheckFailure(key, str(exc)))

    triggers = news.get("triggers")
    if triggers is None:
        inputs["triggers"] = []
    elif _is_unknown(triggers) or isinstance(triggers, (list, tuple)):
        inputs["triggers"] = triggers if _is_unknown(triggers) else list(triggers)
    else:
        failures.append(
            CheckFailure(
                "triggers", f"triggers must be a list (any values); got {type(triggers).__name__}"
            )
        )

    for key, default in (("waitForCompletion", True), ("cancelOnDestroy", False)):
        flag = news.get(key)
        if flag is None:
            inputs[key] = default
        elif _is_unknown(flag) or isinstance(flag, bool):
            inputs[key] = flag
        else:
            failures.append(
                CheckFailure(key, f"{key} must be true or false; got {_shown(flag)}")
            )

    timeout = news.get("waitTimeoutSeconds")
    if timeout is None:
        pass  # not set: a custom timeout from the host governs, else the default
    elif _is_unknown(timeout):
        inputs["waitTimeoutSeconds"] = timeout
    elif (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or not 0 < timeout <= MAX_WAIT_TIMEOUT_SECONDS
    ):
        failures.append(
            CheckFailure(
                "waitTimeoutSeconds",
                f"waitTimeoutSeconds must be a number of seconds between 1 and "
                f"{MAX_WAIT_TIMEOUT_SECONDS} (30 days); got {_shown(timeout)}",
            )
        )
    else:
        inputs["waitTimeoutSeconds"] = float(timeout)
    return inputs, failures


# ---------------------------------------------------------------------------------------------
# diff


def diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffDecision:
    """Replace on a new offer, update on new triggers or an unfinished go-live, else nothing.

    A go-live that failed or was canceled is sent again by the next `up` (as a failed create
    is), never silently: the decision carries a warning that says so.
    """
    replaces = tuple(k for k in REPLACE_KEYS if k in olds and olds.get(k) != news.get(k))
    if replaces:
        return DiffDecision(True, replaces, replaces, "a different offer is a different resource")
    if _is_unknown(news.get("triggers")) or list(olds.get("triggers") or []) != list(
        news.get("triggers") or []
    ):
        return DiffDecision(True, (), ("triggers",), "triggers changed: a new go-live")
    status = olds.get("status")
    if status == SUCCEEDED:
        return DiffDecision(False)
    op_id = olds.get("operationId")
    where = f"{olds.get('publisherId')}/{olds.get('offerId')}"
    if status in RETRIED_STATUSES:
        ended = "was canceled" if status == "canceled" else "failed"
        why = (
            f"{where}: the last go-live ({op_id}) {ended}; `pulumi up` will send the offer live "
            f"again (once)"
        )
    elif not op_id:
        why = (
            f"{where}: the last go-live POST got no answer; `pulumi up` will look for the go-live "
            f"it may have started and send it only if it did not"
        )
    else:
        why = (
            f"{where}: go-live {op_id} was {status or 'unknown'} when last seen; `pulumi up` "
            f"resumes waiting on it (nothing is sent again)"
        )
    return DiffDecision(True, (), ("status",), why, warning=why)


# ---------------------------------------------------------------------------------------------
# helpers shared by create, update, read and delete


def _parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _status_name(status: OperationStatus) -> str:
    return {
        OperationStatus.NOT_STARTED: "notStarted",
        OperationStatus.RUNNING: "running",
        OperationStatus.SUCCEEDED: "succeeded",
        OperationStatus.FAILED: "failed",
        OperationStatus.CANCELED: "canceled",
    }.get(status, "unknown")


def _outputs(
    inputs: Mapping[str, Any],
    ref: OperationRef | None,
    *,
    status: str,
    submitted_at: str | None,
    finished_at: str | None = None,
    operation: Operation | None = None,
    adopted: bool = False,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    prev = previous or {}
    out: dict[str, Any] = {k: inputs[k] for k in INPUT_KEYS if k in inputs}
    out.update(
        operationId=ref.operation_id if ref else prev.get("operationId"),
        operationUrl=ref.url if ref else prev.get("operationUrl"),
        status=status,
        submittedAt=submitted_at,
        finishedAt=finished_at,
        offerVersion=operation.offer_version if operation else prev.get("offerVersion"),
        publishingVersion=(
            operation.publishing_version if operation else prev.get("publishingVersion")
        ),
        liveLinks=list(operation.live_links) if operation else list(prev.get("liveLinks") or []),
        previewLinks=(
            list(operation.preview_links) if operation else list(prev.get("previewLinks") or [])
        ),
        adopted=adopted,
    )
    for key in BACKEND_OUTPUT_KEYS:
        out[key] = operation.extra.get(key) if operation else prev.get(key)
    return out


# Go-lives that a create or update in this process started, attached to or resumed. A delete
# in the same `up` (the old half of a rename or a replacement) never cancels a go-live of an
# offer listed here: an offer has at most one go-live in flight, so the one the delete would
# cancel is the one the other resource waits on, even when the two know it by different ids
# (Product Ingestion: the old one by its configure job, the new one by its live submission).
_WANTED: set[tuple[str, str, str]] = set()
_WANTED_LOCK = threading.Lock()


def _wanted_key(
    inputs: LiveOfferInputs | tuple[str, str], ref: OperationRef
) -> tuple[str, str, str]:
    pub, offer = (
        (inputs.publisher_id, inputs.offer_id) if isinstance(inputs, LiveOfferInputs) else inputs
    )
    return pub.lower(), offer.lower(), ref.operation_id.lower()


@dataclass
class RunContext:
    """What one lifecycle call needs from its host: the backend, the clock and the callbacks."""

    backend: Backend
    clock: Clock
    on_progress: ProgressCallback | None = None
    on_checkpoint: CheckpointCallback | None = None
    # a host-imposed limit (plugin custom timeouts), seconds
    host_timeout_seconds: float | None = None
    # messages the user should read although the step succeeds (a failure seen by refresh)
    on_warning: Callable[[str], None] | None = None

    def limit(self, inputs: LiveOfferInputs) -> float:
        """How long this call may wait: a custom timeout governs, `waitTimeoutSeconds` applies
        when set (the tighter of the two when both are), else the default."""
        host = self.host_timeout_seconds if self.host_timeout_seconds else None
        if host is not None and host > 0 and inputs.wait_timeout_seconds is not None:
            return min(host, inputs.wait_timeout_seconds)
        if host is not None and host > 0:
            return host
        return inputs.wait_timeout_seconds or float(DEFAULT_WAIT_TIMEOUT_SECONDS)

    def deadline(self, inputs: LiveOfferInputs) -> float:
        return self.clock.now() + self.limit(inputs)

    def checkpoint(self, outputs: dict[str, Any]) -> None:
        if self.on_checkpoint is not None:
            self.on_checkpoint(dict(outputs))

    def warn(self, message: str) -> None:
        if self.on_warning is not None:
            try:
                self.on_warning(message)
            except Exception:  # a broken display must not break the step
                logging.getLogger(__name__).warning("warning callback failed", exc_info=True)

    def want(self, inputs: LiveOfferInputs, ref: OperationRef) -> None:
        with _WANTED_LOCK:
            _WANTED.add(_wanted_key(inputs, ref))

    @staticmethod
    def is_wanted(pub: str, offer: str, ref: OperationRef) -> bool:
        """True when this process waits on `ref`, or on any go-live of the same offer."""
        key = _wanted_key((pub, offer), ref)
        with _WANTED_LOCK:
            return key in _WANTED or any(wanted[:2] == key[:2] for wanted in _WANTED)


def _recorded_ref(ctx: RunContext, props: Mapping[str, Any]) -> OperationRef | None:
    """The recorded operation, rebuilt on the configured endpoint and api-version (a stored URL
    is never trusted: the endpoint's spelling or the api-version may have changed)."""
    op_id = props.get("operationId")
    pub, offer = props.get("publisherId"), props.get("offerId")
    if not (isinstance(op_id, str) and op_id and isinstance(pub, str) and isinstance(offer, str)):
        return None
    try:
        return ctx.backend.operation_ref(pub, offer, op_id)
    except (InvalidIdentifier, PortalError, ValueError):
        return None


def _read_operation(
    ctx: RunContext, pub: str, offer: str, ref: OperationRef, deadline: float
) -> Procedure[Operation]:
    """Read one go-live, retrying transient errors until `deadline`."""
    return (yield from ctx.backend.read_operation(
        pub, offer, ref, clock=ctx.clock, deadline=deadline
    ))


def _failed(inputs: LiveOfferInputs, exc: OperationFailed, ref: OperationRef, ctx: RunContext,
            submitted_at: str | None) -> GoLiveFailed:
    failed = _outputs(
        inputs.to_wire(),
        ref,
        status=(
            _status_name(exc.operation.status)
            if exc.operation
            else ("canceled" if isinstance(exc, OperationCanceled) else "failed")
        ),
        submitted_at=submitted_at,
        finished_at=_iso(ctx.clock.wall()),
        operation=exc.operation,
    )
    return GoLiveFailed(f"offer {inputs.resource_id} did not go live.\n{exc}", failed)


def _ended(
    ctx: RunContext,
    inputs: LiveOfferInputs,
    ref: OperationRef,
    op: Operation,
    submitted_at: str | None,
    finished_at: str | None = None,
) -> dict[str, Any]:
    """Outputs for an operation just read; a failed or canceled one raises with its words."""
    if op.status in (OperationStatus.FAILED, OperationStatus.CANCELED):
        cls = OperationCanceled if op.status == OperationStatus.CANCELED else OperationFailed
        exc = cls(ctx.backend.describe_failure(op, ref), operation=op,
                  operation_id=ref.operation_id, ref=ref)
        raise _failed(inputs, exc, ref, ctx, submitted_at)
    done = op.status == OperationStatus.SUCCEEDED
    return _outputs(
        inputs.to_wire(),
        ref,
        status=_status_name(op.status),
        submitted_at=submitted_at,
        finished_at=(finished_at or _iso(ctx.clock.wall())) if done else None,
        operation=op,
    )


def _wait(
    ctx: RunContext,
    inputs: LiveOfferInputs,
    ref: OperationRef,
    submitted_at: str | None,
    deadline: float,
) -> Procedure[dict[str, Any]]:
    """Wait for a go-live to end; failures and timeouts carry the state worth recording."""
    try:
        operation = yield from ctx.backend.wait(
            inputs.publisher_id, inputs.offer_id, ref, clock=ctx.clock, deadline=deadline,
            on_progress=ctx.on_progress,
        )
    except OperationFailed as exc:
        raise _failed(inputs, exc, ref, ctx, submitted_at) from None
    except WaitTimedOut as exc:
        still = _outputs(
            inputs.to_wire(),
            ref,
            status=_status_name(exc.last.status) if exc.last else "running",
            submitted_at=submitted_at,
            operation=exc.last,
        )
        raise GoLiveStillRunning(
            f"offer {inputs.resource_id}: go-live operation {ref.operation_id} is still running "
            f"after the wait limit ({ctx.limit(inputs):g} s: the resource's custom timeout, "
            f"else waitTimeoutSeconds). Nothing was lost: run `pulumi up` again to resume "
            f"waiting on the same operation (it will not go live twice), or raise the limit.",
            still,
        ) from None
    return _outputs(
        inputs.to_wire(),
        ref,
        status=SUCCEEDED,
        submitted_at=submitted_at,
        finished_at=_iso(ctx.clock.wall()),
        operation=operation,
    )


def _follow(
    ctx: RunContext,
    inputs: LiveOfferInputs,
    ref: OperationRef,
    submitted_at: str | None,
    deadline: float,
) -> Procedure[dict[str, Any]]:
    """After a go-live was started, attached to or resumed: wait, or read it once."""
    ctx.want(inputs, ref)
    if inputs.wait_for_completion:
        return (yield from _wait(ctx, inputs, ref, submitted_at, deadline))
    operation = yield from _read_operation(ctx, inputs.publisher_id, inputs.offer_id, ref, deadline)
    return _ended(ctx, inputs, ref, operation, submitted_at)


def _go_live(ctx: RunContext, inputs: LiveOfferInputs) -> Procedure[dict[str, Any]]:
    """Start (or attach to) one go-live for this intent, then wait unless told not to."""
    deadline = ctx.deadline(inputs)

    def on_submit() -> None:
        # From here on a go-live may start even if no answer comes: record that, so the next
        # `up` looks for it before anything is sent (the listing always comes first).
        ctx.checkpoint(
            _outputs(inputs.to_wire(), None, status="unknown", submitted_at=_iso(ctx.clock.wall()))
        )

    try:
        start = yield from ctx.backend.start_go_live(
            inputs.publisher_id,
            inputs.offer_id,
            clock=ctx.clock,
            deadline=deadline,
            on_progress=ctx.on_progress,
            on_submit=on_submit,
        )
    except GoLiveUnconfirmed as exc:
        unconfirmed = _outputs(
            inputs.to_wire(), None, status="unknown", submitted_at=_iso(ctx.clock.wall())
        )
        raise GoLiveStillRunning(
            f"offer {inputs.resource_id}: {exc.message}", unconfirmed
        ) from None
    except OperationFailed as exc:
        # The publish to go live failed or was canceled: nothing was sent.
        raise GoLiveFailed(f"offer {inputs.resource_id} did not go live: {exc}") from None
    except WaitTimedOut as exc:
        raise GoLiveStillRunning(
            f"offer {inputs.resource_id}: nothing was sent live: {exc.message} Run `pulumi up` "
            f"again later, or raise the wait limit."
        ) from None
    submitted = _iso(start.submitted_at)
    ref = start.ref
    if start.already_live:
        operation = start.operation  # the backend's reads may already show it
        if operation is None and ref is not None:
            operation = yield from _read_operation(
                ctx, inputs.publisher_id, inputs.offer_id, ref, deadline
            )
        return _outputs(
            inputs.to_wire(),
            ref,
            status=SUCCEEDED,
            submitted_at=submitted,
            finished_at=_iso(start.finished_at),
            operation=operation,
            adopted=True,
        )
    assert ref is not None  # only an offer already live may have no operation
    ctx.checkpoint(_outputs(inputs.to_wire(), ref, status="running", submitted_at=submitted))
    return (yield from _follow(ctx, inputs, ref, submitted, deadline))


# ---------------------------------------------------------------------------------------------
# create, read, update, delete


def create(ctx: RunContext, news: Mapping[str, Any]) -> Procedure[tuple[str, dict[str, Any]]]:
    """Take the offer live exactly once (attaching to a go-live already running) and wait."""
    inputs = LiveOfferInputs.from_wire(news)
    outputs = yield from _go_live(ctx, inputs)
    return inputs.resource_id, outputs


def _resume(
    ctx: RunContext, inputs: LiveOfferInputs, ref: OperationRef, olds: Mapping[str, Any]
) -> Procedure[dict[str, Any]]:
    """Go on with the recorded go-live; nothing is sent. A recorded operation the portal no
    longer knows is looked for among the offer's operations."""
    deadline = ctx.deadline(inputs)
    submitted = olds.get("submittedAt")
    try:
        return (yield from _follow(ctx, inputs, ref, submitted, deadline))
    except NotFound:
        pass
    found = yield from ctx.backend.find_latest_go_live(
        inputs.publisher_id, inputs.offer_id, clock=ctx.clock, deadline=deadline
    )
    if found is None or found.operation_id == ref.operation_id:
        ctx.warn(
            f"offer {inputs.resource_id}: the recorded go-live {ref.operation_id} is unknown to "
            f"the portal and the offer lists no other; looking again before going live"
        )
        return (yield from _go_live(ctx, inputs))
    ctx.warn(
        f"offer {inputs.resource_id}: the recorded go-live {ref.operation_id} is unknown to the "
        f"portal; following the offer's latest go-live {found.operation_id} instead"
    )
    return (yield from _follow(ctx, inputs, found, submitted, deadline))


def update(
    ctx: RunContext, olds: Mapping[str, Any], news: Mapping[str, Any]
) -> Procedure[dict[str, Any]]:
    """New triggers (or a failed last go-live) mean a new go-live; an unfinished one is resumed.

    A recorded go-live that has not been seen to end (running, not started, or a status we
    cannot read) is only ever resumed, never sent again; one that failed or was canceled is
    sent again once.
    """
    inputs = LiveOfferInputs.from_wire(news)
    triggers_changed = list(olds.get("triggers") or []) != list(inputs.triggers)
    ref = _recorded_ref(ctx, olds)
    status = olds.get("status")
    if not triggers_changed and ref is not None and status not in ENDED_STATUSES:
        return (yield from _resume(ctx, inputs, ref, olds))
    if not triggers_changed and ref is None and status not in ENDED_STATUSES:
        # The last POST's answer was lost: a go-live it started is ours to follow.
        deadline = ctx.deadline(inputs)
        found = yield from ctx.backend.find_go_live_since(
            inputs.publisher_id, inputs.offer_id,
            _parse_iso(olds.get("submittedAt")), clock=ctx.clock, deadline=deadline,
        )
        if found is not None:
            return (yield from _follow(ctx, inputs, found, olds.get("submittedAt"), deadline))
    if triggers_changed or status != SUCCEEDED:
        return (yield from _go_live(ctx, inputs))
    out = dict(olds)
    out.update(inputs.to_wire())
    if "waitTimeoutSeconds" not in news:
        out.pop("waitTimeoutSeconds", None)
    if ref is not None:
        out["operationUrl"] = ref.url
    return out


def read(
    ctx: RunContext, id_: str, olds: Mapping[str, Any] | None
) -> Procedure[tuple[str | None, dict[str, Any], dict[str, Any]]]:
    """Refresh (or import, when `olds` is empty) from the portal; a vanished offer reads as gone.

    Returns (id or None when gone, outputs, inputs). `adopted` is true only for an offer that
    really is live from a go-live this stack did not send.
    """
    publisher_id, offer_id = parse_resource_id(id_)
    previous = dict(olds or {})
    previous.setdefault("publisherId", publisher_id)
    previous.setdefault("offerId", offer_id)
    limit = ctx.host_timeout_seconds or READ_RETRY_SECONDS
    deadline = ctx.clock.now() + limit
    try:
        yield from ctx.backend.check_offer(
            publisher_id, offer_id, clock=ctx.clock, deadline=deadline
        )
    except NotFound:
        return None, {}, {}
    recorded = _recorded_ref(ctx, previous)
    ref = recorded
    if ref is None and olds:
        # The last POST's answer was lost (status unknown): only a go-live it may have started
        # is this resource's, never an older one of an earlier intent.
        ref = yield from ctx.backend.find_go_live_since(
            publisher_id, offer_id, _parse_iso(previous.get("submittedAt")),
            clock=ctx.clock, deadline=deadline,
        )
        if ref is None:
            return id_, previous, {k: previous[k] for k in INPUT_KEYS if k in previous}
    elif ref is None:
        ref = yield from ctx.backend.find_latest_go_live(
            publisher_id, offer_id, clock=ctx.clock, deadline=deadline
        )
    operation: Operation | None = None
    if ref is not None:
        try:
            operation = yield from _read_operation(ctx, publisher_id, offer_id, ref, deadline)
        except NotFound:
            found = yield from ctx.backend.find_latest_go_live(
                publisher_id, offer_id, clock=ctx.clock, deadline=deadline
            )
            ref = found if found is not None and found.operation_id != ref.operation_id else None
            if ref is not None:
                operation = yield from _read_operation(ctx, publisher_id, offer_id, ref, deadline)
    if ref is None:
        if not olds:
            raise LiveOfferError(
                f"offer {id_} has never been sent live (no go-live operation found), so there is "
                f"nothing to import. Declare a LiveOffer for it and run `pulumi up` instead."
            )
        if recorded is not None:
            ctx.warn(
                f"offer {id_}: the recorded go-live {recorded.operation_id} is unknown to the "
                f"portal and the offer lists no other; the next `pulumi up` looks again"
            )
            gone = dict(previous)
            gone.update(operationId=None, operationUrl=None, status="unknown", adopted=False)
            return id_, gone, {k: previous[k] for k in INPUT_KEYS if k in previous}
        return id_, previous, {k: previous[k] for k in INPUT_KEYS if k in previous}

    if not olds and (operation is None or operation.status != OperationStatus.SUCCEEDED):
        shown = _status_name(operation.status) if operation else "unreadable"
        raise LiveOfferError(
            f"offer {id_} is not live: its latest go-live {ref.operation_id} is {shown}. Import "
            f"adopts offers that are live; declare a LiveOffer for it and run `pulumi up`, which "
            f"attaches to a go-live still running or sends a failed or canceled one again."
        )
    inputs: dict[str, Any] = {k: previous[k] for k in INPUT_KEYS if k in previous}
    if not olds:
        inputs.setdefault("triggers", [])
        inputs.setdefault("waitForCompletion", True)
        inputs.setdefault("cancelOnDestroy", False)
    same_operation = recorded is not None and recorded.operation_id == ref.operation_id
    status = _status_name(operation.status) if operation else str(previous.get("status", "unknown"))
    finished = previous.get("finishedAt") if same_operation else None
    if status in ENDED_STATUSES and not finished:
        finished = _iso(ctx.clock.wall())
    if status not in ENDED_STATUSES:
        finished = None
    if not olds:
        adopted = status == SUCCEEDED  # import: live, and not sent by this stack
    else:
        adopted = bool(previous.get("adopted")) and same_operation and status == SUCCEEDED
    if (
        operation is not None
        and status in RETRIED_STATUSES
        and (previous.get("status") != status or not same_operation)
    ):
        ctx.warn(
            f"offer {id_}: {ctx.backend.describe_failure(operation, ref)}\n"
            f"`pulumi up` will send the offer live again."
        )
    outputs = _outputs(
        inputs,
        ref,
        status=status,
        submitted_at=previous.get("submittedAt") if same_operation else None,
        finished_at=finished,
        operation=operation,
        adopted=adopted,
        previous=previous if same_operation else None,
    )
    return id_, outputs, inputs


def delete(ctx: RunContext, id_: str, olds: Mapping[str, Any]) -> Procedure[str]:
    """Leave a live offer live; leave a running go-live running unless `cancelOnDestroy`.

    Returns what happened, in words. Bounded by the delete timeout, else the wait limit.
    """
    publisher_id, offer_id = parse_resource_id(id_)
    props = dict(olds)
    props.setdefault("publisherId", publisher_id)
    props.setdefault("offerId", offer_id)
    cancel = olds.get("cancelOnDestroy") is True
    recorded_limit = olds.get("waitTimeoutSeconds")
    limit = ctx.host_timeout_seconds or (
        float(recorded_limit)
        if isinstance(recorded_limit, (int, float)) and recorded_limit > 0
        else float(DEFAULT_WAIT_TIMEOUT_SECONDS)
    )
    deadline = ctx.clock.now() + limit
    ref = _recorded_ref(ctx, props)
    try:
        if ref is None and olds.get("status") not in ENDED_STATUSES:
            # The last POST's answer was lost: a go-live may have started all the same.
            ref = yield from ctx.backend.find_go_live_in_flight(
                publisher_id, offer_id, clock=ctx.clock, deadline=deadline
            )
        if ref is None:
            return (
                f"offer {id_}: no go-live is recorded or running for it; removed from the stack, "
                f"nothing was sent."
            )
        try:
            operation = yield from _read_operation(ctx, publisher_id, offer_id, ref, deadline)
        except NotFound:
            yield from ctx.backend.check_offer(
                publisher_id, offer_id, clock=ctx.clock, deadline=deadline
            )
            return (
                f"offer {id_}: the recorded go-live {ref.operation_id} is unknown to the portal; "
                f"removed from the stack, nothing was sent."
            )
    except NotFound:
        return (
            f"offer {id_} no longer exists in the {ctx.backend.service}; removed from the stack."
        )
    if operation.is_terminal:
        return _ended_message(ctx, id_, ref, operation)
    if not cancel:
        return (
            f"offer {id_}: go-live {ref.operation_id} is still {_status_name(operation.status)} "
            f"and was left running (cancelOnDestroy is not set): the offer goes live when it "
            f"ends. Removed from the stack; nothing was sent."
        )
    if RunContext.is_wanted(publisher_id, offer_id, ref):
        return (
            f"offer {id_}: go-live {ref.operation_id} was left running although cancelOnDestroy "
            f"is set, because another LiveOffer in this update waits on it (a rename or a "
            f"replacement). Removed this one from the stack."
        )
    try:
        outcome = yield from ctx.backend.cancel_go_live(
            publisher_id, offer_id, ref, clock=ctx.clock, deadline=deadline,
            on_progress=ctx.on_progress,
        )
    except WaitTimedOut:
        raise LiveOfferError(
            f"offer {id_}: a cancel of go-live {ref.operation_id} was requested, but the go-live "
            f"had not ended when the limit ({limit:g} s) passed: it may still go live. Run "
            f"`pulumi destroy` again to keep watching it, or check the offer in Partner Center."
        ) from None
    operation = outcome.operation or operation
    if outcome.refused is not None and not operation.is_terminal:
        return (
            f"offer {id_}: the portal refused to cancel go-live {ref.operation_id} "
            f"({outcome.refused}); it keeps running and the offer goes live when it ends. "
            f"Removed from the stack."
        )
    return _ended_message(ctx, id_, ref, operation, cancelled=outcome.requested)


def _ended_message(
    ctx: RunContext, id_: str, ref: OperationRef, operation: Operation, *, cancelled: bool = False
) -> str:
    if operation.status == OperationStatus.SUCCEEDED:
        return (
            f"offer {id_} stays live (go-live {ref.operation_id} succeeded): going live cannot "
            f"be undone through the {ctx.backend.service} API. It was only removed from the "
            f"stack. To stop selling it, stop-sell the offer in Partner Center."
        )
    if cancelled:
        return (
            f"offer {id_}: the go-live still in flight was cancelled (operation "
            f"{ref.operation_id} is now {_status_name(operation.status)}). The offer did not go "
            f"live."
        )
    return (
        f"offer {id_}: the last go-live ({ref.operation_id}) is "
        f"{_status_name(operation.status)}, so it did not go live from it; removed from the "
        f"stack, nothing was sent."
    )




# ---------------------------------------------------------------------------------------------
# progress text shared by both hosts


def describe_progress(progress: Progress) -> str:
    """One short line: step, percent, elapsed; what both hosts show while waiting."""
    parts = [f"go-live {progress.operation_id}: {progress.status}"]
    if progress.step_name:
        parts.append(f"step '{progress.step_name}'")
    if progress.percent is not None:
        parts.append(f"{progress.percent:.0f}%")
    parts.append(f"{_format_elapsed(progress.elapsed)} elapsed")
    if progress.message:
        parts.append(progress.message)
    return ", ".join(parts)


def _format_elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def without_unknowns(values: Sequence[Any]) -> bool:
    """True when no value is the unknown sentinel (preview must not act on unknowns)."""
    return not any(_is_unknown(v) for v in values)
