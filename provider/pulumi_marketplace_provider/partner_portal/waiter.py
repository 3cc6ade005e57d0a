"""Wait on a long-running operation: poll per the schedule until it ends, as a procedure.

The procedure yields `Call`/`Sleep` effects (see `procedure`), so the dynamic host runs it
in a thread and the plugin as an asyncio task. It retries transient failures inside the
deadline, feeds 429s to the process-wide throttle gate, reports progress, and ends with the
succeeded operation or an error that carries the portal's own words and what to do next.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..pacing import Pacer, Priority
from ..procedure import Call, Clock, Procedure, Sleep, permit
from .errors import (
    NotFound,
    OperationCanceled,
    OperationFailed,
    PortalError,
    Throttled,
    WaitTimedOut,
    is_transient,
)
from .models import Operation, OperationStatus, StepStatus
from .pointers import OperationRef
from .schedule import PollSchedule, PollState
from .throttle import GLOBAL_THROTTLE, ThrottleGate

__all__ = [
    "DEFAULT_FAILED_ADVICE",
    "Progress",
    "describe_failure",
    "poll_operation",
    "wait_for_operation",
]

log = logging.getLogger(__name__)

DEFAULT_FAILED_ADVICE = (
    "Fix what the messages describe (in Partner Center or in the offer), publish again if "
    "the offer changed, then run `pulumi up` to start a new go-live."
)
DEFAULT_CANCELED_ADVICE = (
    "The operation was canceled (in Partner Center or by a cancel request). Run `pulumi up` "
    "to start it again when the offer is ready."
)
_MAX_MESSAGE_LINES = 20
_MAX_MESSAGE_CHARS = 2000  # per portal message: a runaway message must not flood the output


class OperationSource(Protocol):
    """What the waiter reads: one operation and the answer's Retry-After (seconds), if any.

    `PortalClient` is one; a Product Ingestion go-live (a job and its live submission) is
    another."""

    def get_operation(self, ref: OperationRef) -> tuple[Operation, float | None]: ...


@dataclass(frozen=True)
class Progress:
    """One progress report: what the operation is doing and how long we have waited."""

    operation_id: str
    status: str
    step_name: str | None
    percent: float | None
    elapsed: float
    message: str | None = None


def describe_failure(operation: Operation, ref: OperationRef, *, what: str = "operation",
                     advice: str | None = None, service: str = "Partner Portal") -> str:
    """The error text for a failed/canceled operation: portal messages as text, id, next step."""
    verb = "was canceled" if operation.status == OperationStatus.CANCELED else "failed"
    lines = [f"The {service} {what} {ref.operation_id} {verb} "
             f"(status {operation.raw_status!r})."]
    bad_steps = [s for s in operation.steps if s.status.is_bad
                 or s.status in (StepStatus.FAILED, StepStatus.REJECTED)]
    if bad_steps:
        lines.append("Failed at step " + ", ".join(
            f"'{s.name}' ({s.raw_status})" for s in bad_steps) + ".")
    texts: list[str] = []
    for step, message in operation.all_messages():
        if not message.text:
            continue
        if step is not None and not (step.status.is_bad or (message.level or "").lower()
                                     in ("error", "warning")):
            continue
        where = f"[{step.name}] " if step is not None else ""
        level = f"{message.level}: " if message.level else ""
        text = message.text
        if len(text) > _MAX_MESSAGE_CHARS:
            more = len(text) - _MAX_MESSAGE_CHARS
            text = f"{text[:_MAX_MESSAGE_CHARS]}... ({more} more characters)"
        texts.append(f"  - {where}{level}{text}")
    if texts:
        lines.append("Portal messages:")
        if len(texts) > _MAX_MESSAGE_LINES:
            more = len(texts) - _MAX_MESSAGE_LINES
            texts = [*texts[:_MAX_MESSAGE_LINES], f"  ... and {more} more"]
        lines.extend(texts)
    else:
        lines.append("The portal gave no messages; see the offer's history in Partner Center.")
    default = (DEFAULT_CANCELED_ADVICE if operation.status == OperationStatus.CANCELED
               else DEFAULT_FAILED_ADVICE)
    lines.append(f"Next: {advice or default}")
    lines.append(f"Operation: {ref.url}")
    return "\n".join(lines)


def _kind(what: str) -> str:
    return "publish" if what == "publish" else "go-live"


def _progress(ref: OperationRef, op: Operation, elapsed: float, note: str | None,
              what: str = "operation") -> Progress:
    step = op.current_step
    message = note
    if message is None and step is not None and step.messages:
        message = step.messages[-1].text or None
    return Progress(
        operation_id=ref.operation_id,
        status=op.status.value if op.status != OperationStatus.UNKNOWN else (op.raw_status or "?"),
        step_name=step.name if step is not None else None,
        percent=op.progress(_kind(what)),
        elapsed=elapsed,
        message=message,
    )


def _report(on_progress: Callable[[Progress], None] | None, progress: Progress) -> None:
    if on_progress is None:
        return
    try:
        on_progress(progress)
    except Exception:  # a broken progress display must not break the wait
        log.warning("progress callback failed", exc_info=True)


def permit_past_gate(source: object, priority: int, throttle: ThrottleGate, clock: Clock,
                     *, critical: bool = False) -> Procedure[bool]:
    """The origin pacer's permit for one request (see `pacing`), and whether the gate is still
    open then: a long Retry-After may have closed it while the request was queued, and no
    request of the process goes before the gate opens (the caller waits it out, asks again)."""
    yield from permit(source, priority, critical=critical)
    now = clock.now()
    return throttle.snapshot(now).not_before <= now


def poll_operation(
    client: OperationSource,
    ref: OperationRef,
    *,
    clock: Clock,
    deadline: float | None,
    on_progress: Callable[[Progress], None] | None = None,
    schedule: PollSchedule | None = None,
    throttle: ThrottleGate = GLOBAL_THROTTLE,
    until: Callable[[Operation], bool] | None = None,
    what: str = "operation",
    advice: str | None = None,
    service: str = "Partner Portal",
) -> Procedure[Operation]:
    """Poll `ref` until `until(op)` holds or it ends; failed/canceled ends raise.

    Returns the operation that satisfied `until`, else the succeeded one. Raises
    OperationFailed / OperationCanceled (with the portal's messages), WaitTimedOut when the
    deadline passes, or the client's error for a failure retrying cannot fix.
    """
    sched = schedule or PollSchedule()
    start = clock.now()
    state = PollState.start(start, deadline=deadline, seed=random.getrandbits(32))
    if ref.retry_after is not None:
        # The answer that started the operation (a 202) said when to look first.
        state = state.after_accepted(start, ref.retry_after)
    if ref.first_look is not None:
        state = state.first_look_at(start + ref.first_look)
    if ref.began_after is not None:
        state = state.began_after(ref.began_after)
    last_op: Operation | None = None
    last_error: PortalError | None = None

    def timed_out() -> WaitTimedOut:
        status = last_op.raw_status if last_op is not None else "unknown"
        why = f"; last error: {last_error}" if last_error is not None and last_op is None else ""
        return WaitTimedOut(
            f"the {what} {ref.operation_id} had not ended when the wait limit passed "
            f"(last status {status!r}{why}); it may still be running. Waiting again resumes "
            f"on the same operation.",
            operation_id=ref.operation_id,
            last=last_op,
            ref=ref,
        )

    while True:
        now = clock.now()
        state = state.with_gate(throttle.snapshot(now))
        delay = sched.next_delay(state, now)
        if delay > 0:
            yield Sleep(delay)
            now = clock.now()
            state = state.with_gate(throttle.snapshot(now))
            if state.gate.not_before > now and (deadline is None or now < deadline):
                continue  # another wait met a 429 while this one slept: honour it too
        if deadline is not None and now >= deadline:
            # One last look at the deadline, if allowed and not already taken there.
            polled_since = state.last_at is not None and state.last_at >= deadline
            if polled_since or not sched.may_poll(state, now):
                raise timed_out()
        # Under the portal's quota, a poll at the expected end goes before blind ones.
        _report_pacing(on_progress, client, ref, last_op, now - start, what)
        priority = Priority.AIMED if sched.aimed(state) else Priority.BLIND
        if not (yield from permit_past_gate(client, priority, throttle, clock)):
            continue  # the gate closed while this poll was queued: wait it out first
        sent = clock.now()  # after any wait for the quota
        try:
            op, retry_after = yield Call(lambda: client.get_operation(ref))
        except Throttled as exc:
            now = clock.now()
            throttle.note_429(exc.retry_after, now)
            last_error = exc
            state = state.refused(now, exc.retry_after)
            log.info("%s %s: throttled (429), retry after %s", what, ref.operation_id,
                     exc.retry_after)
            _report(on_progress, _retry_progress(ref, last_op, now - start, exc, what))
            continue
        except NotFound as exc:
            now = clock.now()
            if now - start > sched.not_found_grace:
                raise
            # Just created: the portal may not list it yet.
            last_error = exc
            state = state.failed(now, None)
            continue
        except PortalError as exc:
            if not is_transient(exc):
                raise
            now = clock.now()
            last_error = exc
            # A 503 (or any answer) that says when to come back is taken at its word.
            state = state.failed(now, exc.retry_after)
            log.info("%s %s: transient failure (%s), retrying", what, ref.operation_id, exc)
            _report(on_progress, _retry_progress(ref, last_op, now - start, exc, what))
            continue
        now = clock.now()
        last_op, last_error = op, None
        state = state.observe(op, now, retry_after, sent_at=sent)
        _report(on_progress, _progress(ref, op, now - start, None, what))
        if until is not None and until(op):
            return op
        if op.status == OperationStatus.SUCCEEDED:
            return op
        if op.status == OperationStatus.CANCELED:
            raise OperationCanceled(describe_failure(op, ref, what=what, advice=advice,
                                                     service=service),
                                    operation=op, operation_id=ref.operation_id, ref=ref)
        if op.status == OperationStatus.FAILED:
            raise OperationFailed(describe_failure(op, ref, what=what, advice=advice,
                                                   service=service),
                                  operation=op, operation_id=ref.operation_id, ref=ref)
        if deadline is not None and now >= deadline:
            raise timed_out()


def _report_pacing(on_progress: Callable[[Progress], None] | None, client: object,
                   ref: OperationRef, last: Operation | None, elapsed: float, what: str) -> None:
    """Say so when this poll will queue for the portal's quota (the process is paced)."""
    pacer = getattr(client, "pacer", None)
    if on_progress is None or not isinstance(pacer, Pacer):
        return
    view = pacer.view()
    if view.rate is None or not view.waiting:
        return
    _report(on_progress, _note(
        ref, last, elapsed, what,
        f"the portal is throttling: {view.waiting} requests of this process wait for its quota "
        f"(sending {view.rate:.1f}/s)"))


def _retry_progress(ref: OperationRef, last: Operation | None, elapsed: float,
                    exc: PortalError, what: str = "operation") -> Progress:
    reason = f"HTTP {exc.status}" if exc.status is not None else type(exc).__name__
    return _note(ref, last, elapsed, what, f"portal did not answer ({reason}); retrying")


def _note(ref: OperationRef, last: Operation | None, elapsed: float, what: str,
          message: str) -> Progress:
    """A progress line about the wait itself, beside what the last answer said."""
    step = last.current_step if last is not None else None
    return Progress(
        operation_id=ref.operation_id,
        status=last.status.value if last is not None else "unknown",
        step_name=step.name if step is not None else None,
        percent=last.progress(_kind(what)) if last is not None else None,
        elapsed=elapsed,
        message=message,
    )


def wait_for_operation(
    client: OperationSource,
    ref: OperationRef,
    *,
    clock: Clock,
    deadline: float | None,
    on_progress: Callable[[Progress], None] | None = None,
    schedule: PollSchedule | None = None,
    throttle: ThrottleGate = GLOBAL_THROTTLE,
    what: str = "operation",
    service: str = "Partner Portal",
) -> Procedure[Operation]:
    """Wait until the operation succeeds; raise OperationFailed/OperationCanceled/WaitTimedOut."""
    return (yield from poll_operation(
        client, ref, clock=clock, deadline=deadline, on_progress=on_progress,
        schedule=schedule, throttle=throttle, what=what, service=service,
    ))
