"""The LiveOffer lifecycle rules: check, diff, create, read, update and delete, once for both hosts.

Everything here is plain Python: dictionaries keyed by the wire names users see (`publisherId`,
`operationId`, ...) in and out, and procedures (generators of I/O effects, see `procedure`) that
the dynamic host runs synchronously and the plugin runs as asyncio tasks. The hosts only adapt
Pulumi's wire formats to these functions; no lifecycle rule lives anywhere else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .partner_portal import (
    InvalidIdentifier,
    NotFound,
    Operation,
    OperationCanceled,
    OperationFailed,
    OperationRef,
    OperationStatus,
    PortalClient,
    Progress,
    WaitTimedOut,
    cancel_go_live,
    find_latest_go_live,
    start_go_live,
    validate_identifier,
    wait_for_operation,
)
from .procedure import Call, Clock, Procedure

# The wire sentinel Pulumi uses for a value not known until apply (preview).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

TYPE_TOKEN = "marketplace:index:LiveOffer"  # noqa: S105 - a type token
DEFAULT_WAIT_TIMEOUT_SECONDS = 2 * 60 * 60
MAX_WAIT_TIMEOUT_SECONDS = 30 * 24 * 60 * 60

INPUT_KEYS = ("publisherId", "offerId", "triggers", "waitForCompletion", "waitTimeoutSeconds")
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
)
SUCCEEDED = "succeeded"
IN_FLIGHT_STATUSES = frozenset({"running", "notStarted"})

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


@dataclass(frozen=True)
class LiveOfferInputs:
    """Checked inputs; built only from the output of `check`."""

    publisher_id: str
    offer_id: str
    triggers: list[Any] = field(default_factory=list)
    wait_for_completion: bool = True
    wait_timeout_seconds: float = DEFAULT_WAIT_TIMEOUT_SECONDS

    @classmethod
    def from_wire(cls, props: Mapping[str, Any]) -> LiveOfferInputs:
        """Read wire-named properties (inputs or outputs) that have passed `check`."""
        return cls(
            publisher_id=validate_identifier("publisherId", props.get("publisherId")),
            offer_id=validate_identifier("offerId", props.get("offerId")),
            triggers=list(props.get("triggers") or []),
            wait_for_completion=bool(props.get("waitForCompletion", True)),
            wait_timeout_seconds=float(
                props.get("waitTimeoutSeconds") or DEFAULT_WAIT_TIMEOUT_SECONDS
            ),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "publisherId": self.publisher_id,
            "offerId": self.offer_id,
            "triggers": list(self.triggers),
            "waitForCompletion": self.wait_for_completion,
            "waitTimeoutSeconds": self.wait_timeout_seconds,
        }

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
    """Validate and normalize inputs before anything is sent; unknown values pass untouched."""
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

    wait = news.get("waitForCompletion")
    if wait is None:
        inputs["waitForCompletion"] = True
    elif _is_unknown(wait) or isinstance(wait, bool):
        inputs["waitForCompletion"] = wait
    else:
        failures.append(
            CheckFailure(
                "waitForCompletion", f"waitForCompletion must be true or false; got {_shown(wait)}"
            )
        )

    timeout = news.get("waitTimeoutSeconds")
    if timeout is None:
        inputs["waitTimeoutSeconds"] = float(DEFAULT_WAIT_TIMEOUT_SECONDS)
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
    """Replace on a new offer, update on new triggers or an unfinished go-live, else nothing."""
    replaces = tuple(k for k in REPLACE_KEYS if k in olds and olds.get(k) != news.get(k))
    if replaces:
        return DiffDecision(True, replaces, replaces, "a different offer is a different resource")
    if _is_unknown(news.get("triggers")) or list(olds.get("triggers") or []) != list(
        news.get("triggers") or []
    ):
        return DiffDecision(True, (), ("triggers",), "triggers changed: a new go-live")
    status = olds.get("status")
    if status != SUCCEEDED:
        return DiffDecision(
            True,
            (),
            ("status",),
            f"the recorded go-live is {status or 'unknown'}, not succeeded: resume or retry it",
        )
    return DiffDecision(False)


# ---------------------------------------------------------------------------------------------
# helpers shared by create, update and read


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _ref_from_outputs(props: Mapping[str, Any]) -> OperationRef | None:
    op_id, url = props.get("operationId"), props.get("operationUrl")
    if isinstance(op_id, str) and op_id and isinstance(url, str) and url:
        return OperationRef(operation_id=op_id, url=url, form="canonical")
    return None


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
    return out


@dataclass
class RunContext:
    """What one lifecycle call needs from its host: the client, the clock and the callbacks."""

    client: PortalClient
    clock: Clock
    on_progress: ProgressCallback | None = None
    on_checkpoint: CheckpointCallback | None = None
    # a host-imposed limit (plugin custom timeouts), seconds; the tighter of it and the input wins
    host_timeout_seconds: float | None = None

    def deadline(self, inputs: LiveOfferInputs) -> float:
        limit = inputs.wait_timeout_seconds
        if self.host_timeout_seconds and self.host_timeout_seconds > 0:
            limit = min(limit, self.host_timeout_seconds)
        return self.clock.now() + limit

    def checkpoint(self, outputs: dict[str, Any]) -> None:
        if self.on_checkpoint is not None:
            self.on_checkpoint(dict(outputs))


def _wait(
    ctx: RunContext,
    inputs: LiveOfferInputs,
    ref: OperationRef,
    pending: dict[str, Any],
    deadline: float,
) -> Procedure[dict[str, Any]]:
    """Wait for a go-live to end; failures and timeouts carry the state worth recording."""
    try:
        operation = yield from wait_for_operation(
            ctx.client, ref, clock=ctx.clock, deadline=deadline, on_progress=ctx.on_progress
        )
    except OperationFailed as exc:
        failed = _outputs(
            inputs.to_wire(),
            ref,
            status=(
                _status_name(exc.operation.status)
                if exc.operation
                else ("canceled" if isinstance(exc, OperationCanceled) else "failed")
            ),
            submitted_at=pending.get("submittedAt"),
            finished_at=_iso(ctx.clock.wall()),
            operation=exc.operation,
        )
        raise GoLiveFailed(
            f"offer {inputs.resource_id} did not go live.\n{exc}",
            failed,
        ) from None
    except WaitTimedOut as exc:
        still = _outputs(
            inputs.to_wire(),
            ref,
            status=_status_name(exc.last.status) if exc.last else "running",
            submitted_at=pending.get("submittedAt"),
            operation=exc.last,
        )
        raise GoLiveStillRunning(
            f"offer {inputs.resource_id}: go-live operation {ref.operation_id} is still running "
            f"after the wait limit ({inputs.wait_timeout_seconds:g} s, or the resource's custom "
            f"timeout). Nothing was lost: run `pulumi up` again to resume waiting on the same "
            f"operation (it will not go live twice), or raise waitTimeoutSeconds.",
            still,
        ) from None
    return _outputs(
        inputs.to_wire(),
        ref,
        status=SUCCEEDED,
        submitted_at=pending.get("submittedAt"),
        finished_at=_iso(ctx.clock.wall()),
        operation=operation,
    )


def _go_live(ctx: RunContext, inputs: LiveOfferInputs) -> Procedure[dict[str, Any]]:
    """Start (or attach to) one go-live for this intent, then wait unless told not to."""
    deadline = ctx.deadline(inputs)
    try:
        start = yield from start_go_live(
            ctx.client,
            inputs.publisher_id,
            inputs.offer_id,
            clock=ctx.clock,
            deadline=deadline,
            on_progress=ctx.on_progress,
        )
    except WaitTimedOut as exc:
        raise GoLiveStillRunning(
            f"offer {inputs.resource_id}: a publish is still running and has not reached "
            f"publisher sign-off within the wait limit; nothing was sent live. Run `pulumi up` "
            f"again later, or raise waitTimeoutSeconds. ({exc})"
        ) from None
    submitted = _iso(start.submitted_at)
    ref = start.ref
    if start.already_live or ref is None:
        operation = None
        if ref is not None:
            operation, _ = yield Call(lambda: ctx.client.get_operation(ref))
        return _outputs(
            inputs.to_wire(),
            ref,
            status=SUCCEEDED,
            submitted_at=submitted,
            operation=operation,
            adopted=True,
        )
    pending = _outputs(inputs.to_wire(), ref, status="running", submitted_at=submitted)
    ctx.checkpoint(pending)
    if not inputs.wait_for_completion:
        operation, _ = yield Call(lambda: ctx.client.get_operation(ref))
        return _outputs(
            inputs.to_wire(),
            ref,
            status=_status_name(operation.status),
            submitted_at=submitted,
            operation=operation,
        )
    return (yield from _wait(ctx, inputs, ref, pending, deadline))


# ---------------------------------------------------------------------------------------------
# create, read, update, delete


def create(ctx: RunContext, news: Mapping[str, Any]) -> Procedure[tuple[str, dict[str, Any]]]:
    """Take the offer live exactly once (attaching to a go-live already running) and wait."""
    inputs = LiveOfferInputs.from_wire(news)
    outputs = yield from _go_live(ctx, inputs)
    return inputs.resource_id, outputs


def update(
    ctx: RunContext, olds: Mapping[str, Any], news: Mapping[str, Any]
) -> Procedure[dict[str, Any]]:
    """New triggers (or a failed last go-live) mean a new go-live; an unfinished one is resumed."""
    inputs = LiveOfferInputs.from_wire(news)
    triggers_changed = list(olds.get("triggers") or []) != list(inputs.triggers)
    ref = _ref_from_outputs(olds)
    if not triggers_changed and ref is not None and olds.get("status") in IN_FLIGHT_STATUSES:
        pending = dict(olds)
        if not inputs.wait_for_completion:
            operation, _ = yield Call(lambda: ctx.client.get_operation(ref))
            return _outputs(
                inputs.to_wire(),
                ref,
                status=_status_name(operation.status),
                submitted_at=olds.get("submittedAt"),
                operation=operation,
            )
        return (yield from _wait(ctx, inputs, ref, pending, ctx.deadline(inputs)))
    if triggers_changed or olds.get("status") != SUCCEEDED:
        return (yield from _go_live(ctx, inputs))
    out = dict(olds)
    out.update(inputs.to_wire())
    return out


def read(
    ctx: RunContext, id_: str, olds: Mapping[str, Any] | None
) -> Procedure[tuple[str | None, dict[str, Any], dict[str, Any]]]:
    """Refresh (or import, when `olds` is empty) from the portal; a vanished offer reads as gone.

    Returns (id or None when gone, outputs, inputs).
    """
    publisher_id, offer_id = parse_resource_id(id_)
    previous = dict(olds or {})
    try:
        yield Call(lambda: ctx.client.offer_status(publisher_id, offer_id))
    except NotFound:
        return None, {}, {}
    ref = _ref_from_outputs(previous)
    if ref is None:
        ref = yield from find_latest_go_live(ctx.client, publisher_id, offer_id)
    if ref is None:
        if not previous:
            raise LiveOfferError(
                f"offer {id_} has never been sent live (no go-live operation found), so there is "
                f"nothing to import. Declare a LiveOffer for it and run `pulumi up` instead."
            )
        return id_, previous, {k: previous[k] for k in INPUT_KEYS if k in previous}
    try:
        operation, _ = yield Call(lambda: ctx.client.get_operation(ref))
    except NotFound:
        operation = None
    inputs: dict[str, Any] = {k: previous[k] for k in INPUT_KEYS if k in previous}
    inputs.setdefault("publisherId", publisher_id)
    inputs.setdefault("offerId", offer_id)
    if not previous:
        inputs.setdefault("triggers", [])
        inputs.setdefault("waitForCompletion", True)
        inputs.setdefault("waitTimeoutSeconds", float(DEFAULT_WAIT_TIMEOUT_SECONDS))
    status = _status_name(operation.status) if operation else str(previous.get("status", "unknown"))
    outputs = _outputs(
        inputs,
        ref,
        status=status,
        submitted_at=previous.get("submittedAt"),
        finished_at=previous.get("finishedAt"),
        operation=operation,
        adopted=bool(previous.get("adopted", not previous)),
        previous=previous,
    )
    return id_, outputs, inputs


def delete(ctx: RunContext, id_: str, olds: Mapping[str, Any]) -> Procedure[str]:
    """Cancel a go-live still running; a live offer stays live. Returns what happened, in words."""
    publisher_id, offer_id = parse_resource_id(id_)
    ref = _ref_from_outputs(olds)
    try:
        limit = ctx.host_timeout_seconds
        operation = yield from cancel_go_live(
            ctx.client,
            publisher_id,
            offer_id,
            ref,
            clock=ctx.clock,
            deadline=ctx.clock.now() + limit if limit else None,
            on_progress=ctx.on_progress,
        )
    except NotFound:
        return f"offer {id_} no longer exists in the Partner Portal; removed from the stack."
    if operation is not None and operation.status != OperationStatus.SUCCEEDED:
        op_id = ref.operation_id if ref else "found running"
        return (
            f"offer {id_}: the go-live still in flight was cancelled (operation {op_id} is now "
            f"{_status_name(operation.status)}). The offer did not go live."
        )
    went_live = operation is not None or olds.get("status") == SUCCEEDED
    if not went_live:
        return (
            f"offer {id_}: no go-live was in flight (the recorded one is "
            f"{olds.get('status') or 'unknown'}); removed from the stack, nothing was sent."
        )
    return (
        f"offer {id_} stays live: going live cannot be undone through the Partner Portal API. "
        f"It was only removed from the stack. To stop selling it, stop-sell the offer in "
        f"Partner Center."
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
