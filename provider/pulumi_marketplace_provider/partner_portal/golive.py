"""Go live exactly once per intent, find the latest go-live, cancel one in flight.

The go-live POST is not idempotent, so before sending it we look: a go-live already running
(or in a state we cannot read) is attached to; a publish still running is waited for until it
reaches publisher sign-off; a publish that failed or was canceled is reported with its own
messages; an offer already live with nothing waiting is reported live. The POST is sent again
only when it certainly changed nothing (429, a connection never made). Any other lost answer
(timeout, reset, 5xx, an answer without a pointer) may have started a go-live, so the offer's
operations are listed until the deadline and the POST is never repeated in that run.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from ..pacing import Priority
from ..procedure import Call, Clock, Procedure, Sleep, SystemClock
from .client import PortalClient
from .errors import (
    BadRequest,
    Conflict,
    NotFound,
    OperationCanceled,
    OperationFailed,
    PointerError,
    PortalError,
    Throttled,
    WaitTimedOut,
    is_transient,
    surely_not_applied,
)
from .identifiers import validate_identifier
from .models import OfferState, OfferStatus, Operation, OperationStatus, StepStatus, Submission
from .pointers import OperationRef, is_composite_id
from .schedule import PollSchedule, PollState
from .throttle import GLOBAL_THROTTLE, ThrottleGate
from .waiter import Progress, describe_failure, permit_past_gate, poll_operation

__all__ = [
    "CancelOutcome",
    "GoLiveStart",
    "GoLiveUnconfirmed",
    "RetryBudget",
    "call_retrying",
    "cancel_go_live",
    "find_go_live_in_flight",
    "find_go_live_since",
    "find_latest_go_live",
    "ready_for_go_live",
    "retrying",
    "start_go_live",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

SIGNOFF_STEP = "publisher-signoff"
FIRST_LOOK_AFTER_POST = 2.0  # seconds; a go-live is not over sooner
RECONCILE_FIRST_DELAY = 1.0
RECONCILE_MAX_DELAY = 30.0
UNBOUNDED_RECONCILE = 3600.0  # a POST answer lost with no deadline given: list for an hour
_PUBLISH_FAILED_ADVICE = (
    "The publish that must precede going live did not complete. Fix what the messages "
    "describe, publish the offer again (Partner Center 'Review and publish'), then run "
    "`pulumi up`."
)
_FLOOR = datetime.min.replace(tzinfo=timezone.utc)


class GoLiveUnconfirmed(WaitTimedOut):
    """The go-live POST got no usable answer and no new go-live showed up by the deadline.

    It may still start: nothing more was sent. The next attempt lists the offer's operations
    before it ever POSTs again.
    """


@dataclass(frozen=True)
class GoLiveStart:
    """How a go-live began: `ref` to wait on (None only when already live with no history).

    `posted` says this call sent the POST that started it; `attached` that it was already
    running; `already_live` that nothing was sent because the offer is live.
    """

    ref: OperationRef | None
    attached: bool
    already_live: bool
    submitted_at: datetime
    posted: bool = False
    finished_at: datetime | None = None  # when the listing shows it already ended
    submission_id: str | None = None  # what a posted go-live pushes live, when the POST named it
    operation: Operation | None = None  # the go-live as the reads already showed it, if they did


@dataclass(frozen=True)
class CancelOutcome:
    """What a cancel achieved: the last state seen and whether the portal refused it."""

    operation: Operation | None
    requested: bool
    refused: str | None = None


def ready_for_go_live(op: Operation) -> bool:
    """A publish is ready for go-live: succeeded, or paused at publisher sign-off."""
    if op.status == OperationStatus.SUCCEEDED:
        return True
    if (op.raw_status or "").replace(" ", "").lower() == "waitingforpublisherreview":
        return True
    signoff = op.step(SIGNOFF_STEP)
    return signoff is not None and signoff.status in (
        StepStatus.WAITING_FOR_PUBLISHER_REVIEW,
        StepStatus.IN_PROGRESS,
    )


def _latest(subs: list[Submission]) -> Submission | None:
    """The newest submission (by created/changed time; list order breaks ties)."""
    if not subs:
        return None
    indexed = list(enumerate(subs))
    # The portal lists newest first in practice; without times, the first one wins.
    return max(indexed, key=lambda p: (p[1].sort_time or _FLOOR, -p[0]))[1]


def _newer(a: Submission, b: Submission | None) -> bool:
    return b is None or (a.sort_time or _FLOOR) > (b.sort_time or _FLOOR)


def _submitted_at(sub: Submission | None, clock: Clock) -> datetime:
    if sub is not None and sub.sort_time is not None:
        return sub.sort_time
    return clock.wall()


def _go_live_in_flight(subs: list[Submission]) -> Submission | None:
    """A go-live that may still be running: a running one, or the newest if its state is
    unreadable (never assume an operation we cannot read has ended)."""
    go_lives = [s for s in subs if s.is_go_live]
    running = _latest([s for s in go_lives if s.is_running])
    if running is not None:
        return running
    newest = _latest(go_lives)
    return newest if newest is not None and newest.is_in_flight else None


def _blocking_publish(subs: list[Submission]) -> Submission | None:
    """The newest publish when it failed or was canceled after the offer last went live:
    nothing new can go live until it is published again."""
    latest_publish = _latest([s for s in subs if s.is_publish])
    if latest_publish is None or latest_publish.state not in (
        OperationStatus.FAILED, OperationStatus.CANCELED
    ):
        return None
    latest_live = _latest(
        [s for s in subs if s.is_go_live and s.state == OperationStatus.SUCCEEDED]
    )
    return latest_publish if _newer(latest_publish, latest_live) else None


def _is_live(subs: list[Submission], status: OfferStatus) -> tuple[bool, Submission | None]:
    """(already live with nothing waiting at sign-off, the latest succeeded go-live)."""
    live_ops = [s for s in subs if s.is_go_live and s.state == OperationStatus.SUCCEEDED]
    latest_live = _latest(live_ops)
    if status.status == OfferState.WAITING_FOR_PUBLISHER_REVIEW:
        return False, latest_live
    if latest_live is not None:
        newer_publish = [
            s for s in subs
            if s.is_publish and s.state == OperationStatus.SUCCEEDED and _newer(s, latest_live)
        ]
        return not newer_publish, latest_live
    live_step = status.step("live")
    if status.status == OfferState.PUBLISHED or (
        status.status == OfferState.SUCCEEDED
        and live_step is not None and live_step.status == StepStatus.COMPLETE
    ):
        return True, None
    return False, None


def _publish_waits(subs: list[Submission]) -> bool:
    """The listing alone says a go-live is due: a publish succeeded after the offer's latest
    go-live that succeeded. (`_is_live` answers "not live" then whatever the status says.)"""
    latest_live = _latest(
        [s for s in subs if s.is_go_live and s.state == OperationStatus.SUCCEEDED]
    )
    return latest_live is not None and any(
        s.is_publish and s.state == OperationStatus.SUCCEEDED and _newer(s, latest_live)
        for s in subs
    )


class RetryBudget:
    """Backoff for the few list/POST/read calls around a go-live, inside the deadline."""

    def __init__(self, clock: Clock, deadline: float | None, schedule: PollSchedule,
                 throttle: ThrottleGate, source: object = None) -> None:
        """`source`: the client whose origin's pacer spaces these requests (see `pacing`)."""
        self.clock, self.deadline = clock, deadline
        self.schedule, self.throttle = schedule, throttle
        self.source = source
        self.state = PollState.start(clock.now(), deadline=deadline, seed=random.getrandbits(32))

    def failed(self, exc: PortalError, *, critical: bool = False) -> Procedure[None]:
        """Record a transient failure and sleep before the next try; re-raise past the deadline.

        A 429 is not this call's failure but the process's rate: the origin's pacer slows every
        request down, so the refused one only waits out its `Retry-After` (no backoff of its own).
        """
        now = self.clock.now()
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(exc, Throttled):
            self.throttle.note_429(retry_after, now)
            self.state = self.state.refused(now, retry_after).with_gate(
                self.throttle.snapshot(now))
        else:
            self.state = self.state.failed(now, retry_after).with_gate(
                self.throttle.snapshot(now))
        delay = self.schedule.next_delay(self.state, now)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        if self.deadline is not None and now + delay >= self.deadline:
            raise exc
        yield Sleep(delay, critical=critical)

    def gate(self, what: str = "request", *, critical: bool = False) -> Procedure[None]:
        """Wait out the process-wide throttle gate before a request, never past the deadline.

        When the gate opens only after the deadline, nothing is sent: WaitTimedOut.
        """
        now = self.clock.now()
        view = self.throttle.snapshot(now)
        if view.not_before <= now:
            return
        if self.deadline is not None and view.not_before >= self.deadline:
            raise WaitTimedOut(
                f"the portal is throttling this process (HTTP 429) until after the wait limit; "
                f"the {what} was not sent",
                operation_id=None, last=None,
            )
        yield Sleep(view.not_before - now, critical=critical)


    def paced(self, source: object, priority: int, what: str, *, critical: bool = False
              ) -> Procedure[None]:
        """Wait out the gate, then for the origin's pacer (see `pacing`); again when a long
        Retry-After closed the gate while this request was queued for its permit (no request of
        the process goes before the gate opens)."""
        while True:
            yield from self.gate(what, critical=critical)
            if (yield from permit_past_gate(source, priority, self.throttle, self.clock,
                                            critical=critical)):
                return

    def permit_by_deadline(self, source: object, what: str) -> Procedure[None]:
        """`paced` for a go-live request. When the permit comes only at or after the deadline,
        nothing is sent: WaitTimedOut (as for the gate)."""
        yield from self.paced(source, Priority.GO_LIVE, what)
        if self.deadline is not None and self.clock.now() >= self.deadline:
            raise WaitTimedOut(
                f"the portal is throttling this process (HTTP 429): the {what} waited its turn "
                f"until after the wait limit and was not sent",
                operation_id=None, last=None,
            )


def call_retrying(
    fn: Callable[[], T],
    *,
    clock: Clock,
    deadline: float | None,
    throttle: ThrottleGate = GLOBAL_THROTTLE,
    schedule: PollSchedule | None = None,
    what: str = "request",
    source: object = None,
) -> Procedure[T]:
    """One idempotent portal call, retried on transient errors (5xx, 429, timeouts, resets)
    with backoff and `Retry-After` until `deadline`; other errors are raised at once.
    `source`: the client (its origin's pacer spaces the call)."""
    retry = RetryBudget(clock, deadline, schedule or PollSchedule(), throttle, source)
    return (yield from retrying(fn, retry, what))


def retrying(fn: Callable[[], T], retry: RetryBudget, what: str, *, critical: bool = False
              ) -> Procedure[T]:
    """`critical`: part of finding out whether a go-live POST started (see `procedure.Call`)."""
    priority = Priority.GO_LIVE if critical else Priority.START
    while True:
        yield from retry.paced(retry.source, priority, what, critical=critical)
        try:
            result: T = yield Call(fn, critical=critical)
            return result
        except PortalError as exc:
            if not is_transient(exc):
                raise
            log.info("%s failed (%s); retrying", what, exc)
            yield from retry.failed(exc, critical=critical)


def _list(client: PortalClient, pub: str, offer: str, retry: RetryBudget, *, critical: bool = False
          ) -> Procedure[list[Submission]]:
    subs: list[Submission] = yield from retrying(
        lambda: client.list_operations(pub, offer), retry, f"listing operations of {pub}/{offer}",
        critical=critical,
    )
    return subs


def _new_go_live(subs: list[Submission], known: set[str]) -> Submission | None:
    """A go-live that was not there before our POST (running ones first)."""
    fresh = [s for s in subs if s.is_go_live and s.id not in known]
    return _latest([s for s in fresh if s.is_running]) or _latest(fresh)


def _ended_at(sub: Submission | None) -> datetime | None:
    if sub is None or not sub.state.is_terminal:
        return None
    return sub.changed_time


def _attach(client: PortalClient, pub: str, offer: str, sub: Submission, clock: Clock,
            *, posted: bool = False) -> GoLiveStart:
    ref = client.operation_ref(pub, offer, sub.id)
    if not sub.state.is_terminal:
        # The listing just showed it running: the first poll need not follow at once.
        ref = replace(ref, first_look=FIRST_LOOK_AFTER_POST)
    return GoLiveStart(ref, attached=not posted,
                       already_live=False, submitted_at=_submitted_at(sub, clock), posted=posted,
                       finished_at=_ended_at(sub))


def _publish_failed(client: PortalClient, pub: str, offer: str, publish: Submission,
                    retry: RetryBudget) -> Procedure[OperationFailed]:
    """The error for a publish that failed or was canceled, in the portal's words."""
    ref = client.operation_ref(pub, offer, publish.id)
    op: Operation | None = None
    try:
        op, _ = yield from retrying(lambda: client.get_operation(ref), retry,
                                     f"reading publish {publish.id}")
    except PortalError as exc:
        log.info("could not read the failed publish %s: %s", publish.id, exc)
    cls = OperationCanceled if publish.state == OperationStatus.CANCELED else OperationFailed
    if op is not None and op.is_terminal and op.status != OperationStatus.SUCCEEDED:
        text = describe_failure(op, ref, what="publish", advice=_PUBLISH_FAILED_ADVICE)
    else:
        verb = "was canceled" if cls is OperationCanceled else "failed"
        words = publish.error or "the portal gave no message; see the offer's history"
        text = (f"The Partner Portal publish {publish.id} {verb}.\nPortal messages:\n"
                f"  - {words}\nNext: {_PUBLISH_FAILED_ADVICE}\nOperation: {ref.url}")
    return cls(f"nothing was sent live: the offer's latest publish did not complete.\n{text}",
               operation=op, operation_id=publish.id, ref=ref)


def start_go_live(
    client: PortalClient,
    pub: str,
    offer: str,
    *,
    clock: Clock,
    deadline: float | None,
    on_progress: Callable[[Progress], None] | None = None,
    on_submit: Callable[[], None] | None = None,
    schedule: PollSchedule | None = None,
    throttle: ThrottleGate = GLOBAL_THROTTLE,
) -> Procedure[GoLiveStart]:
    """Start (or attach to) exactly one go-live for this offer; see the module doc.

    `on_submit` is called right before the POST is sent (so a host can record that a go-live
    may start from here on). Raises InvalidIdentifier before any request, OperationFailed when
    the publish to go live failed (or one it waits on fails), WaitTimedOut when a publish has
    not reached sign-off by the deadline, GoLiveUnconfirmed when the POST's answer was lost and
    no go-live showed up by the deadline, and the client's errors (a 400 keeps the portal's
    body) for what retrying cannot fix.
    """
    validate_identifier("publisherId", pub)
    validate_identifier("offerId", offer)
    sched = schedule or PollSchedule()
    retry = RetryBudget(clock, deadline, sched, throttle, client)

    subs = yield from _list(client, pub, offer, retry)
    running = _go_live_in_flight(subs)
    if running is not None:
        log.info("%s/%s: attaching to go-live %s already running", pub, offer, running.id)
        return _attach(client, pub, offer, running, clock)

    publishing = _latest([s for s in subs if s.is_publish and s.is_running])
    if publishing is not None:
        ref = client.operation_ref(pub, offer, publishing.id)
        log.info("%s/%s: waiting for publish %s to reach publisher sign-off", pub, offer,
                 publishing.id)
        try:
            yield from poll_operation(
                client, ref, clock=clock, deadline=deadline, on_progress=on_progress,
                schedule=sched, throttle=throttle, until=ready_for_go_live,
                what="publish", advice=_PUBLISH_FAILED_ADVICE,
            )
        except WaitTimedOut as exc:
            raise WaitTimedOut(
                f"the publish {publishing.id} of {pub}/{offer} has not reached publisher "
                f"sign-off by the wait limit; nothing was sent live. {exc.message}",
                operation_id=exc.operation_id, last=exc.last, ref=exc.ref,
            ) from None
        # Someone may have gone live while we waited: look again.
        subs = yield from _list(client, pub, offer, retry)
        running = _go_live_in_flight(subs)
        if running is not None:
            return _attach(client, pub, offer, running, clock)
    else:
        blocking = _blocking_publish(subs)
        if blocking is not None:
            raise (yield from _publish_failed(client, pub, offer, blocking, retry))
        live = False
        if not _publish_waits(subs):
            # Only the offer's status can tell (e.g. a first go-live, or live since before the
            # listed history): one more read.
            status: OfferStatus = yield from retrying(
                lambda: client.offer_status(pub, offer), retry, f"reading {pub}/{offer} status"
            )
            live, latest_live = _is_live(subs, status)
        if live:
            log.info("%s/%s is already live with nothing waiting at sign-off", pub, offer)
            live_ref = client.operation_ref(pub, offer, latest_live.id) if latest_live else None
            return GoLiveStart(live_ref, attached=False, already_live=True,
                               submitted_at=_submitted_at(latest_live, clock),
                               finished_at=_ended_at(latest_live))

    known = {s.id for s in subs}
    return (yield from _post_once(client, pub, offer, known, clock, retry, on_progress,
                                  on_submit))


def _post_once(client: PortalClient, pub: str, offer: str, known: set[str], clock: Clock,
               retry: RetryBudget, on_progress: Callable[[Progress], None] | None,
               on_submit: Callable[[], None] | None) -> Procedure[GoLiveStart]:
    """POST go-live; again only after a certain refusal; a lost answer is reconciled."""
    while True:
        yield from retry.permit_by_deadline(client, "go-live POST")
        if on_submit is not None:
            on_submit()
        posted_at = clock.wall()
        sent = clock.now()
        try:
            ref: OperationRef = yield Call(lambda: client.go_live(pub, offer), critical=True)
            log.info("%s/%s: go-live %s started", pub, offer, ref.operation_id)
            if is_composite_id(ref.operation_id):
                ref = yield from _listed_id(client, pub, offer, known, retry, ref)
            ref = replace(ref, began_after=sent)
            if ref.retry_after is None:
                # Nothing to learn in its first seconds: the first poll waits a little.
                ref = replace(ref, first_look=FIRST_LOOK_AFTER_POST)
            return GoLiveStart(ref, attached=False, already_live=False, submitted_at=posted_at,
                               posted=True)
        except Conflict as exc:
            # Refused: another operation runs. If it is a go-live, it is the one to wait on.
            subs = yield from _list(client, pub, offer, retry)
            running = _go_live_in_flight(subs)
            if running is not None:
                return _attach(client, pub, offer, running, clock)
            raise Conflict(
                f"the portal refused the go-live: {exc.message}. No go-live of {pub}/{offer} "
                f"is running, so another operation or change is in the way; nothing was sent "
                f"live. Check the offer in Partner Center, then run `pulumi up` again.",
                status=exc.status, code=exc.code, request_id=exc.request_id, body=exc.body,
            ) from None
        except PortalError as exc:
            if surely_not_applied(exc):
                if not is_transient(exc):
                    raise
                # Refused outright (429) or never sent: nothing started. Wait, then again.
                yield from retry.failed(exc)
                continue
            if not is_transient(exc) and not isinstance(exc, PointerError):
                raise
            log.warning("%s/%s: the go-live POST got no usable answer (%s); listing the "
                        "offer's operations instead of sending it again", pub, offer, exc)
            found = yield from _reconcile(client, pub, offer, known, retry, exc, on_progress)
            log.info("%s/%s: the POST did start go-live %s", pub, offer, found.id)
            return _attach(client, pub, offer, found, clock, posted=True)


def _listed_id(client: PortalClient, pub: str, offer: str, known: set[str], retry: RetryBudget,
               ref: OperationRef) -> Procedure[OperationRef]:
    """A non-migrated offer's pointer names `{pub}${offer}${n}${slot}`, which need not stay
    unique (a retried go-live of the same version); record the id the offer's operations list
    gives instead, the one every other path (attach, import, reconcile) uses."""
    try:
        subs = yield from _list(client, pub, offer, retry, critical=True)
    except PortalError as exc:
        log.info("could not list %s/%s to name go-live %s (%s)", pub, offer, ref.operation_id,
                 exc)
        return ref
    found = _new_go_live(subs, known)
    return client.operation_ref(pub, offer, found.id) if found is not None else ref


def _reconcile(client: PortalClient, pub: str, offer: str, known: set[str], retry: RetryBudget,
               cause: PortalError, on_progress: Callable[[Progress], None] | None
               ) -> Procedure[Submission]:
    """List the offer's operations until the go-live our POST may have started shows up.

    Never POSTs. Gives up at the deadline with GoLiveUnconfirmed: it may still start.
    """
    clock = retry.clock
    started = clock.now()
    deadline = retry.deadline if retry.deadline is not None else started + UNBOUNDED_RECONCILE
    delay = RECONCILE_FIRST_DELAY
    while True:
        try:
            subs = yield from _list(client, pub, offer, retry, critical=True)
        except PortalError as exc:
            if is_transient(exc) or isinstance(exc, WaitTimedOut):
                subs = []  # the deadline check below decides
            else:
                raise
        found = _new_go_live(subs, known)
        if found is not None:
            return found
        now = clock.now()
        if now >= deadline:
            raise GoLiveUnconfirmed(
                f"the go-live POST for {pub}/{offer} got no usable answer ({cause.message}) and "
                f"no new go-live appeared among the offer's operations by the wait limit. The "
                f"portal may still start it: it was NOT sent again. Run `pulumi up` again: it "
                f"lists the offer's operations first and attaches to that go-live if it started, "
                f"or sends it once if it did not.",
                operation_id=None, last=None,
            )
        if on_progress is not None:
            try:
                on_progress(Progress(
                    operation_id="(unconfirmed)", status="unconfirmed", step_name=None,
                    percent=None, elapsed=now - started,
                    message="the go-live POST got no answer; checking whether it started "
                            "(it is not sent again)",
                ))
            except Exception:  # a broken progress display must not break the wait
                log.warning("progress callback failed", exc_info=True)
        pause = min(delay * random.uniform(0.8, 1.2), max(0.0, deadline - now))
        yield Sleep(pause, critical=True)
        delay = min(RECONCILE_MAX_DELAY, delay * 2.0)


def find_latest_go_live(client: PortalClient, pub: str, offer: str, *,
                        clock: Clock | None = None, deadline: float | None = None,
                        throttle: ThrottleGate = GLOBAL_THROTTLE,
                        ) -> Procedure[OperationRef | None]:
    """The newest go-live operation of the offer (running or not), for import; None if none."""
    validate_identifier("publisherId", pub)
    validate_identifier("offerId", offer)
    clk = clock or SystemClock()
    retry = RetryBudget(clk, deadline, PollSchedule(), throttle, client)
    subs = yield from _list(client, pub, offer, retry)
    latest = _latest([s for s in subs if s.is_go_live])
    return client.operation_ref(pub, offer, latest.id) if latest is not None else None


def find_go_live_in_flight(client: PortalClient, pub: str, offer: str, *,
                           clock: Clock | None = None, deadline: float | None = None,
                           throttle: ThrottleGate = GLOBAL_THROTTLE,
                           ) -> Procedure[OperationRef | None]:
    """A go-live of the offer that may still be running (see `start_go_live`); None if none."""
    validate_identifier("publisherId", pub)
    validate_identifier("offerId", offer)
    retry = RetryBudget(clock or SystemClock(), deadline, PollSchedule(), throttle, client)
    subs = yield from _list(client, pub, offer, retry)
    running = _go_live_in_flight(subs)
    return client.operation_ref(pub, offer, running.id) if running is not None else None


SINCE_SKEW = timedelta(minutes=5)  # our clock against the portal's, when matching a POST


def find_go_live_since(client: PortalClient, pub: str, offer: str, since: datetime | None, *,
                       clock: Clock | None = None, deadline: float | None = None,
                       throttle: ThrottleGate = GLOBAL_THROTTLE,
                       ) -> Procedure[OperationRef | None]:
    """The go-live a POST sent at `since` may have started: one still in flight, else the
    newest created after `since` (less a clock-skew margin). Never an older, finished one:
    that belongs to an earlier intent. None when there is none (it did not start, yet)."""
    validate_identifier("publisherId", pub)
    validate_identifier("offerId", offer)
    retry = RetryBudget(clock or SystemClock(), deadline, PollSchedule(), throttle, client)
    subs = yield from _list(client, pub, offer, retry)
    found = _go_live_in_flight(subs)
    if found is None and since is not None:
        found = _latest([s for s in subs if _may_be_from(s, since, subs)])
    return client.operation_ref(pub, offer, found.id) if found is not None else None


def _may_be_from(sub: Submission, since: datetime, subs: list[Submission]) -> bool:
    """Could `sub` be the go-live a POST sent at `since` started?

    It must be newer than the offer's latest publish (our POST went live on that publish; an
    older go-live belongs to an earlier intent). Both are the portal's own timestamps, so no
    clock of ours is compared; only with no publish listed is `since` (less a skew) used.
    """
    if not sub.is_go_live or sub.sort_time is None:
        return False
    latest_publish = _latest([p for p in subs if p.is_publish])
    if latest_publish is not None and latest_publish.sort_time is not None:
        return sub.sort_time > latest_publish.sort_time
    return sub.sort_time >= since - SINCE_SKEW


def cancel_go_live(
    client: PortalClient,
    pub: str,
    offer: str,
    ref: OperationRef,
    *,
    clock: Clock | None = None,
    deadline: float | None,
    on_progress: Callable[[Progress], None] | None = None,
    schedule: PollSchedule | None = None,
    throttle: ThrottleGate = GLOBAL_THROTTLE,
) -> Procedure[CancelOutcome]:
    """Cancel the go-live `ref` if it is still running and wait, until `deadline`, for it to end.

    Returns the last state seen: usually canceled; succeeded or failed when it ended before the
    cancel took; still running when the portal refused the cancel (with its words). Raises
    WaitTimedOut when the cancel was accepted but the go-live had not ended by the deadline.
    """
    validate_identifier("publisherId", pub)
    validate_identifier("offerId", offer)
    clk = clock or SystemClock()
    sched = schedule or PollSchedule()
    retry = RetryBudget(clk, deadline, sched, throttle, client)
    op: Operation
    op, _ = yield from retrying(lambda: client.get_operation(ref), retry,
                                 f"reading go-live {ref.operation_id}")
    if op.is_terminal:
        return CancelOutcome(op, requested=False)
    log.info("%s/%s: cancelling go-live %s", pub, offer, ref.operation_id)
    try:
        yield from retrying(lambda: client.cancel(pub, offer), retry, "cancel")
    except PointerError:
        pass  # accepted (a cancellation runs); we watch the go-live itself
    except (BadRequest, Conflict, NotFound) as exc:
        log.info("cancel refused (%s)", exc)
        op, _ = yield from retrying(lambda: client.get_operation(ref), retry,
                                     f"reading go-live {ref.operation_id}")
        return CancelOutcome(op, requested=False, refused=exc.message)
    final = yield from poll_operation(
        client, ref, clock=clk, deadline=deadline, on_progress=on_progress,
        schedule=sched, throttle=throttle, until=lambda o: o.is_terminal, what="go-live",
    )
    return CancelOutcome(final, requested=True)
