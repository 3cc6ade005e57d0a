"""Go live exactly once through Product Ingestion: look, POST `configure` once, follow it.

A go-live here is a `configure` job that moves the offer's preview submission to the `live`
target, and then the new `live` submission itself, which can run long after the job ended: the
resource's status follows the submission (`reference/product-ingestion-api.md` 6, 7, 9).

Before anything is sent the product's submissions are read: a `live` submission still in flight
is attached to; a publish to preview still running is waited for; a failed one is reported; an
offer whose live submission is its latest preview is already live (nothing is sent). The POST is
sent again only when it certainly changed nothing (429, 4xx, a connection never made); any
other lost answer is reconciled by listing submissions until the deadline, never by a second
POST. Conflicts arrive as failed jobs ("An In Progress submission ... already exists", "... not
the latest submission"): a go-live of the same preview already running is followed, anything
else fails saying what blocks it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..partner_portal.errors import (
    BadRequest,
    Conflict,
    MalformedResponse,
    NotFound,
    OperationFailed,
    PortalError,
    WaitTimedOut,
    is_transient,
    surely_not_applied,
)
from ..partner_portal.golive import (
    CancelOutcome,
    GoLiveStart,
    GoLiveUnconfirmed,
    RetryBudget,
    retrying,
)
from ..partner_portal.identifiers import validate_identifier
from ..partner_portal.models import Message, Operation, OperationStatus, Step, StepStatus
from ..partner_portal.pointers import OperationRef
from ..partner_portal.schedule import PollSchedule
from ..partner_portal.throttle import GLOBAL_THROTTLE, ThrottleGate
from ..partner_portal.waiter import Progress, describe_failure, poll_operation
from ..procedure import Call, Clock, Procedure, Sleep
from .client import IngestionClient
from .models import JOB_ID, SUBMISSION_ID, IngestionSubmission, Job, Product

__all__ = [
    "SCHEDULE",
    "SERVICE",
    "GoLiveReader",
    "cancel_go_live",
    "find_go_live_in_flight",
    "find_go_live_since",
    "find_latest_go_live",
    "start_go_live",
]

log = logging.getLogger(__name__)

SERVICE = "Partner Center"
# Microsoft asks for at most one status request a minute on this API: start at 10 s (a job
# answers within seconds when it fails at once), then back off to one a minute.
# Its job and submission carry no estimates: keep the last step at one poll a minute too.
SCHEDULE = PollSchedule(initial=10.0, factor=1.5, cap=60.0, min_interval=5.0,
                        error_initial=5.0, error_cap=60.0, not_found_grace=60.0,
                        final_gap=60.0, final_jitter=0.2, between_cap=60.0)
SINCE_SKEW = timedelta(minutes=5)  # our clock against the service's, when matching a POST
RECONCILE_FIRST_DELAY = 5.0
RECONCILE_MAX_DELAY = 60.0
UNBOUNDED_RECONCILE = 3600.0
IN_PROGRESS_CONFLICT = "in progress submission"
NOT_LATEST_CONFLICT = "not the latest submission"
_BLOCKED_ADVICE = (
    "Another submission of this offer is in progress in Partner Center and blocks this go-live. "
    "Wait for it to end (Partner Center shows it), then run `pulumi up` again."
)
_NOT_LATEST_ADVICE = (
    "A newer submission of this offer was created after this go-live was requested. Run "
    "`pulumi up` again: it takes the newest preview live."
)
_CERTIFICATION_ADVICE = (
    "Certification failed: fix what the messages describe in the offer, publish it to preview "
    "again, then run `pulumi up` to start a new go-live."
)


def _order(sub: IngestionSubmission) -> tuple[float, int]:
    return (sub.created.timestamp() if sub.created is not None else 0.0, sub.number)


def _latest(subs: list[IngestionSubmission], target: str) -> IngestionSubmission | None:
    found = [s for s in subs if s.target == target]
    return max(found, key=_order) if found else None


def live_in_flight(subs: list[IngestionSubmission]) -> IngestionSubmission | None:
    """The live submission still going live (never take one we cannot read as ended)."""
    flying = [s for s in subs if s.target == "live" and s.in_flight]
    return max(flying, key=_order) if flying else None


def _step(step_id: str, name: str, status: StepStatus, raw: str | None) -> Step:
    return Step(id=step_id, step_name=name, description=None, status=status, raw_status=raw,
                estimated_time_frame=None, progress_percentage=None)


def _job_step(job: Job | None) -> Step:
    if job is None:
        return _step("configure", "Configure job", StepStatus.COMPLETE, "unknown (not ours)")
    raw = f"{job.status}/{job.result}"
    if not job.completed:
        status = StepStatus.IN_PROGRESS if job.status == "running" else StepStatus.NOT_STARTED
    elif job.cancelled:
        status = StepStatus.CANCELED
    elif job.result == "succeeded":
        status = StepStatus.COMPLETE
    else:
        status = StepStatus.FAILED
    return _step("configure", "Configure job", status, raw)


def _submission_step(sub: IngestionSubmission | None, sub_id: str | None) -> Step:
    name = f"Live submission {sub.number}" if sub is not None else "Live submission"
    if sub is None:
        return _step("live", name, StepStatus.NOT_STARTED, None)
    raw = f"{sub.status}/{sub.result}"
    if sub.succeeded:
        status = StepStatus.COMPLETE
    elif sub.failed:
        status = StepStatus.FAILED
    elif sub.status == "running":
        status = StepStatus.IN_PROGRESS
    else:
        status = StepStatus.NOT_STARTED
    return _step("live", name, status, raw)


def _job_messages(job: Job) -> list[Message]:
    messages = []
    for depth, error in job.all_errors()[:40]:
        words = ": ".join(p for p in (error.code, error.message) if p) or "(no message)"
        where = f" [{error.resource_id}]" if error.resource_id else ""
        messages.append(Message(text=f"{'  ' * depth}{words}{where}", level="error"))
    if job.mentions(IN_PROGRESS_CONFLICT):
        messages.append(Message(text=_BLOCKED_ADVICE, level="error"))
    elif job.mentions(NOT_LATEST_CONFLICT):
        messages.append(Message(text=_NOT_LATEST_ADVICE, level="error"))
    elif job.mentions("certification"):
        messages.append(Message(text=_CERTIFICATION_ADVICE, level="error"))
    return messages


def go_live_operation(
    product: Product,
    job: Job | None,
    sub: IngestionSubmission | None,
    *,
    sub_id: str | None = None,
    note: str | None = None,
) -> Operation:
    """One go-live as the shared `Operation`: the job, then the live submission; the status
    follows the submission once the job has succeeded."""
    messages: list[Message] = []
    if job is not None and job.completed and job.cancelled:
        status = OperationStatus.CANCELED
    elif job is not None and job.completed and job.result != "succeeded":
        status = OperationStatus.FAILED
        messages = _job_messages(job)
    elif job is not None and not job.completed:
        status = OperationStatus.RUNNING if job.status == "running" else OperationStatus.NOT_STARTED
    elif sub is None:
        status = OperationStatus.RUNNING  # the job succeeded; its live submission is not listed yet
    elif sub.succeeded:
        status = OperationStatus.SUCCEEDED
    elif sub.failed:
        status = OperationStatus.FAILED
        messages = [Message(
            text=f"the live submission {sub.number} ended {sub.status}/{sub.result}; Partner "
                 f"Center gives its reasons in the offer's history",
            level="error",
        )]
    else:
        status = OperationStatus.RUNNING
    if note:
        messages.insert(0, Message(text=note, level="info"))
    parts = []
    if job is not None:
        parts.append(f"job {job.status}/{job.result}")
    if sub is not None:
        parts.append(f"live submission {sub.number} {sub.status}/{sub.result}")
    extra: dict[str, Any] = {"productId": product.durable_id}
    if sub is not None or sub_id:
        extra["submissionId"] = sub.id if sub is not None else sub_id
    if job is not None:
        extra["jobResult"] = job.result
    return Operation(
        status=status,
        raw_status="; ".join(parts) or status.value,
        messages=tuple(messages),
        steps=(_job_step(job), _submission_step(sub, sub_id)),
        extra=extra,
    )


def _withdrawn(product: Product, sub_id: str, number: int,
               current: IngestionSubmission | None) -> Operation:
    """A live submission that left the list with nothing later live: canceled, never live.

    Taking the older live submission for it would report an earlier intent as this one's."""
    where = (f"the offer is still live from the earlier submission {current.number}"
             if current is not None and current.succeeded else "the offer did not go live")
    text = (f"live submission {number} is no longer listed and nothing later is live: its "
            f"go-live was cancelled in Partner Center (or withdrawn) before it went live; "
            f"{where}")
    return Operation(
        status=OperationStatus.CANCELED,
        raw_status=f"live submission {number} no longer listed",
        messages=(Message(text=text, level="error"),),
        steps=(_step("live", f"Live submission {number}", StepStatus.CANCELED,
                     "no longer listed"),),
        extra={"productId": product.durable_id, "submissionId": sub_id},
    )


class GoLiveReader:
    """Reads one go-live (an `OperationSource` for the waiter): a configure job (its id a GUID)
    followed by its live submission, or a live submission this resource attached to."""

    def __init__(self, client: IngestionClient, product: Product) -> None:
        self.client, self.product = client, product
        self.pacer = getattr(client, "pacer", None)  # its reads share the client's quota
        self._pushed: dict[str, str] = {}  # job id -> the submission it pushed (once known)
        # Jobs that succeeded: their status cannot change, so only the submission is read.
        self._done: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get_operation(self, ref: OperationRef) -> tuple[Operation, float | None]:
        if JOB_ID.fullmatch(ref.operation_id):
            return self._job_operation(ref.operation_id)
        match = SUBMISSION_ID.fullmatch(ref.operation_id)
        if match is None or match.group(1).lower() != self.product.guid.lower():
            raise NotFound(f"{ref.operation_id} is not a submission of {self.product.durable_id}",
                           status=404)
        subs = self.client.list_submissions(self.product)
        entry = next((s for s in subs if s.target == "live" and s.id == ref.operation_id), None)
        if entry is not None:
            return go_live_operation(self.product, None, entry), None
        number = int(match.group(2))
        newer = _latest(subs, "live")
        if newer is not None and newer.number > number:
            # Replaced by a later go-live: the offer is live from that one.
            return go_live_operation(
                self.product, None, newer,
                note=f"{ref.operation_id} was replaced by the later live submission "
                     f"{newer.number}",
            ), None
        if not any(s.target == "live" for s in subs) and not any(s.id == ref.operation_id
                                                                 for s in subs):
            raise NotFound(f"Partner Center lists no live submission {ref.operation_id}",
                           status=404)
        # Listed when this go-live was recorded, no longer listed, and nothing later is live:
        # it ended without going live (a go-live cancelled in Partner Center leaves the list).
        return _withdrawn(self.product, ref.operation_id, number, newer), None

    def _job_operation(self, job_id: str) -> tuple[Operation, float | None]:
        with self._lock:
            done = self._done.get(job_id)
        if done is not None:
            job, retry_after = done, None
        else:
            job, retry_after = self.client.get_job(job_id)
            if job.completed and job.result == "succeeded":
                with self._lock:
                    self._done[job_id] = job
        if not job.completed or job.cancelled:
            return go_live_operation(self.product, job, None), retry_after
        subs = self.client.list_submissions(self.product)
        if job.result != "succeeded":
            preview = _latest(subs, "preview")
            same = [s for s in subs if s.target == "live" and preview is not None
                    and s.id == preview.id]
            if job.mentions(IN_PROGRESS_CONFLICT) and same:
                # The same preview was already going live (an earlier request of ours, or the
                # portal's own): that is this intent's go-live; follow it, also once it ended.
                ours = next((s for s in same if s.in_flight), same[-1])
                return go_live_operation(
                    self.product, None, ours,
                    note=f"configure job {job_id} was refused because submission "
                         f"{ours.number} was already going live; following it",
                ), retry_after
            return go_live_operation(self.product, job, None), retry_after
        pushed = self._pushed_submission(job)
        entry: IngestionSubmission | None = None
        if pushed is not None:
            entry = next((s for s in subs if s.target == "live" and s.id == pushed), None)
        if entry is None and pushed is None:
            since = job.start - SINCE_SKEW if job.start is not None else None
            candidates = [s for s in subs if s.target == "live"
                          and (since is None or s.created is None or s.created >= since)]
            entry = max(candidates, key=_order) if candidates else None
        if entry is None and pushed is not None:
            newer = _latest(subs, "live")
            if newer is not None and newer.id != pushed and newer.number > int(
                    pushed.rsplit("/", 1)[1]):
                entry = newer  # replaced by a later go-live: live from that one
        return go_live_operation(self.product, job, entry, sub_id=pushed), retry_after

    def pushes(self, job_id: str, submission_id: str) -> None:
        """Our configure job `job_id` pushes `submission_id` live (the request named it)."""
        with self._lock:
            self._pushed[job_id] = submission_id

    def _pushed_submission(self, job: Job) -> str | None:
        """The submission a completed job pushed (`GET configure/<jobId>`), cached."""
        with self._lock:
            if job.job_id in self._pushed:
                return self._pushed[job.job_id]
        try:
            found = self.client.job_submission(job.job_id)
        except PortalError as exc:
            if is_transient(exc):
                raise
            log.info("configure job %s: no detail (%s)", job.job_id, exc)
            return None
        if found is not None:
            with self._lock:
                self._pushed[job.job_id] = found
        return found


def _list(client: IngestionClient, product: Product, retry: RetryBudget, *,
          critical: bool = False) -> Procedure[list[IngestionSubmission]]:
    subs: list[IngestionSubmission] = yield from retrying(
        lambda: client.list_submissions(product), retry,
        f"listing submissions of {product.durable_id}", critical=critical,
    )
    return subs


def resolve_product(client: IngestionClient, offer: str, retry: RetryBudget) -> Procedure[Product]:
    product: Product = yield from retrying(
        lambda: client.find_product(offer), retry, f"finding the product of {offer}"
    )
    return product


def _report(on_progress: Callable[[Progress], None] | None, progress: Progress) -> None:
    if on_progress is None:
        return
    try:
        on_progress(progress)
    except Exception:  # a broken progress display must not break the wait
        log.warning("progress callback failed", exc_info=True)


def start_go_live(
    client: IngestionClient,
    product: Product,
    *,
    clock: Clock,
    deadline: float | None,
    on_progress: Callable[[Progress], None] | None = None,
    on_submit: Callable[[], None] | None = None,
    schedule: PollSchedule = SCHEDULE,
    throttle: ThrottleGate = GLOBAL_THROTTLE,
) -> Procedure[GoLiveStart]:
    """Start (or attach to) exactly one go-live of `product`; see the module doc."""
    retry = RetryBudget(clock, deadline, schedule, throttle, client)
    started = clock.now()
    delay = schedule.initial
    while True:
        subs = yield from _list(client, product, retry)
        flying = live_in_flight(subs)
        if flying is not None:
            log.info("%s: live submission %s is in flight; attaching", product.durable_id,
                     flying.id)
            # The listing just read it: the first poll waits the schedule's first interval.
            ref = replace(client.submission_ref(flying.id), first_look=schedule.initial)
            return GoLiveStart(ref, attached=True,
                               already_live=False, submitted_at=flying.created or clock.wall())
        preview = _latest(subs, "preview")
        if preview is None:
            raise OperationFailed(
                f"nothing was sent live: {product.durable_id} has no preview submission. "
                f"Publish the offer to preview in Partner Center (or with a configure request "
                f"targeting preview), then run `pulumi up` again.",
                operation=None, operation_id=None,
            )
        if preview.failed:
            raise OperationFailed(
                f"nothing was sent live: the offer's latest publish to preview (submission "
                f"{preview.number}) ended {preview.status}/{preview.result} in Partner Center. "
                f"Fix what Partner Center reports in the offer's history, publish to preview "
                f"again, then run `pulumi up`.",
                operation=None, operation_id=preview.id,
            )
        if not preview.in_flight:
            break
        now = clock.now()
        if deadline is not None and now >= deadline:
            raise WaitTimedOut(
                f"the offer's publish to preview (submission {preview.number}) was still "
                f"{preview.status} at the wait limit; nothing was sent live",
                operation_id=preview.id, last=None,
            )
        _report(on_progress, Progress(
            operation_id=preview.id, status="waiting", step_name="Publish to preview",
            percent=None, elapsed=now - started,
            message="waiting for the publish to preview to finish before going live",
        ))
        pause = delay if deadline is None else min(delay, max(0.0, deadline - now))
        yield Sleep(pause * random.uniform(0.8, 1.0))
        delay = min(schedule.cap, delay * schedule.factor)
    live = [s for s in subs if s.target == "live" and s.id == preview.id]
    if live and live[-1].succeeded:
        log.info("%s: preview %s is already live; nothing to send", product.durable_id,
                 preview.id)
        return GoLiveStart(client.submission_ref(preview.id), attached=False, already_live=True,
                           submitted_at=preview.created or clock.wall(),
                           operation=go_live_operation(product, None, live[-1]))
    before = {s.id: (s.status, s.result) for s in subs if s.target == "live"}
    return (yield from _post_once(client, product, preview, before, clock, retry, on_progress,
                                  on_submit))


def _post_once(client: IngestionClient, product: Product, preview: IngestionSubmission,
               before: dict[str, tuple[str | None, str | None]], clock: Clock,
               retry: RetryBudget, on_progress: Callable[[Progress], None] | None,
               on_submit: Callable[[], None] | None) -> Procedure[GoLiveStart]:
    """POST configure; again only after a certain refusal; a lost answer is reconciled."""
    first_look = retry.schedule.initial
    while True:
        # The gate and the permit, not critical: a Ctrl-C that lands before the request leaves
        # must not send it (only one in flight lets it finish), however long they hold it.
        yield from retry.permit_by_deadline(client, "go-live configure request")
        if on_submit is not None:
            on_submit()
        posted_at = clock.wall()
        try:
            job: Job = yield Call(lambda: client.configure_live(product, preview.id),
                                  critical=True)
            log.info("%s: go-live job %s started for %s", product.durable_id, job.job_id,
                     preview.id)
            # The 202 is the job's first status: the first poll waits (the answer's
            # Retry-After, else the schedule's first interval). The job pushes the preview it
            # names: the same submission stands for preview and live.
            ref = replace(client.job_ref(job.job_id),
                          first_look=first_look)
            return GoLiveStart(ref, attached=False, already_live=False, submitted_at=posted_at,
                               posted=True, submission_id=preview.id)
        except Conflict as exc:
            # Refused outright (the documented way is a failed job, but a 409 may come): a
            # go-live of this offer already running is the one to follow; else nothing started.
            subs = yield from _list(client, product, retry)
            flying = live_in_flight(subs)
            if flying is not None:
                return GoLiveStart(client.submission_ref(flying.id), attached=True,
                                   already_live=False, submitted_at=flying.created or posted_at)
            raise Conflict(
                f"Partner Center refused the go-live configure request: {exc.message}. No "
                f"go-live of {product.durable_id} is running, so another submission or change "
                f"is in the way; nothing was sent live. Check the offer in Partner Center, "
                f"then run `pulumi up` again.",
                status=exc.status, code=exc.code, request_id=exc.request_id, body=exc.body,
            ) from None
        except PortalError as exc:
            if surely_not_applied(exc):
                if not is_transient(exc):
                    raise
                yield from retry.failed(exc, critical=True)
                continue
            if not is_transient(exc) and not isinstance(exc, MalformedResponse):
                raise
            log.warning("%s: the go-live configure request got no usable answer (%s); listing "
                        "submissions instead of sending it again", product.durable_id, exc)
            found = yield from _reconcile(client, product, preview, before, retry, exc,
                                          on_progress)
            return GoLiveStart(client.submission_ref(found.id), attached=False,
                               already_live=False, submitted_at=posted_at, posted=True)


def _started(subs: list[IngestionSubmission], preview: IngestionSubmission,
             before: dict[str, tuple[str | None, str | None]]) -> IngestionSubmission | None:
    """The live submission of `preview` if one appeared or changed since the POST."""
    for sub in subs:
        if sub.target == "live" and sub.id == preview.id and (
            sub.in_flight or before.get(sub.id) != (sub.status, sub.result)
        ):
            return sub
    return None


def _reconcile(client: IngestionClient, product: Product, preview: IngestionSubmission,
               before: dict[str, tuple[str | None, str | None]], retry: RetryBudget,
               cause: PortalError, on_progress: Callable[[Progress], None] | None,
               ) -> Procedure[IngestionSubmission]:
    """List submissions until the go-live our POST may have started shows up; never POST."""
    clock = retry.clock
    started = clock.now()
    deadline = retry.deadline if retry.deadline is not None else started + UNBOUNDED_RECONCILE
    delay = RECONCILE_FIRST_DELAY
    while True:
        try:
            subs = yield from _list(client, product, retry, critical=True)
        except PortalError as exc:
            if is_transient(exc) or isinstance(exc, WaitTimedOut):
                subs = []
            else:
                raise
        found = _started(subs, preview, before)
        if found is not None:
            return found
        now = clock.now()
        if now >= deadline:
            raise GoLiveUnconfirmed(
                f"the go-live configure request for {product.durable_id} got no usable answer "
                f"({cause.message}) and no live submission of {preview.id} appeared by the wait "
                f"limit. Partner Center may still start it: it was NOT sent again. Run `pulumi "
                f"up` again: it reads the submissions first and attaches to that go-live if it "
                f"started, or sends it once if it did not.",
                operation_id=None, last=None,
            )
        _report(on_progress, Progress(
            operation_id="(unconfirmed)", status="unconfirmed", step_name=None, percent=None,
            elapsed=now - started,
            message="the go-live request got no answer; checking whether it started "
                    "(it is not sent again)",
        ))
        pause = min(delay * random.uniform(0.8, 1.2), max(0.0, deadline - now))
        yield Sleep(pause, critical=True)
        delay = min(RECONCILE_MAX_DELAY, delay * 2.0)


def find_latest_go_live(client: IngestionClient, product: Product, retry: RetryBudget
                        ) -> Procedure[OperationRef | None]:
    """The newest live submission, whatever its state (import); None if none."""
    subs = yield from _list(client, product, retry)
    flying = live_in_flight(subs)
    latest = flying or _latest(subs, "live")
    return client.submission_ref(latest.id) if latest is not None else None


def find_go_live_in_flight(client: IngestionClient, product: Product, retry: RetryBudget
                           ) -> Procedure[OperationRef | None]:
    subs = yield from _list(client, product, retry)
    flying = live_in_flight(subs)
    return client.submission_ref(flying.id) if flying is not None else None


def find_go_live_since(client: IngestionClient, product: Product, since: datetime | None,
                       retry: RetryBudget) -> Procedure[OperationRef | None]:
    """One in flight, else the live submission of the latest preview, created after `since`
    (less skew). A POST sent at `since` pushed the latest preview live, and a go-live carries
    its preview's number; a live submission of an older preview belongs to an earlier intent
    however recent it is (the service's clock is not ours, and intents can be minutes apart)."""
    subs = yield from _list(client, product, retry)
    found = live_in_flight(subs)
    preview = _latest(subs, "preview")
    if found is None and since is not None and preview is not None:
        ours = [s for s in subs if s.target == "live" and s.id == preview.id
                and s.created is not None and s.created >= since - SINCE_SKEW]
        found = max(ours, key=_order) if ours else None
    return client.submission_ref(found.id) if found is not None else None


def cancel_go_live(
    client: IngestionClient,
    reader: GoLiveReader,
    ref: OperationRef,
    *,
    clock: Clock,
    deadline: float | None,
    on_progress: Callable[[Progress], None] | None = None,
    schedule: PollSchedule = SCHEDULE,
    throttle: ThrottleGate = GLOBAL_THROTTLE,
) -> Procedure[CancelOutcome]:
    """Cancel the go-live's configure job while it can be; then wait for the go-live to end."""
    retry = RetryBudget(clock, deadline, schedule, throttle, client)
    op: Operation
    op, _ = yield from retrying(lambda: reader.get_operation(ref), retry,
                                f"reading go-live {ref.operation_id}")
    if op.is_terminal:
        return CancelOutcome(op, requested=False)
    if not JOB_ID.fullmatch(ref.operation_id):
        return CancelOutcome(op, requested=False, refused=(
            "Product Ingestion cancels configure jobs only, and this go-live is known by its "
            "live submission (its job was started elsewhere, or its answer was lost)"
        ))
    log.info("%s: cancelling configure job %s", reader.product.durable_id, ref.operation_id)
    try:
        yield from retrying(lambda: client.cancel_job(ref.operation_id), retry, "cancel")
    except (BadRequest, Conflict, NotFound) as exc:
        log.info("cancel refused (%s)", exc)
        op, _ = yield from retrying(lambda: reader.get_operation(ref), retry,
                                    f"reading go-live {ref.operation_id}")
        return CancelOutcome(op, requested=False, refused=exc.message)
    final = yield from poll_operation(
        reader, ref, clock=clock, deadline=deadline, on_progress=on_progress, schedule=schedule,
        throttle=throttle, until=lambda o: o.is_terminal, what="go-live", service=SERVICE,
    )
    return CancelOutcome(final, requested=True)


def describe(operation: Operation, ref: OperationRef) -> str:
    return describe_failure(operation, ref, what="go-live", service=SERVICE)


def validate_offer(publisher_id: str, offer_id: str) -> None:
    validate_identifier("publisherId", publisher_id)
    validate_identifier("offerId", offer_id)
