"""Go live exactly once per intent, find the latest go-live, cancel one in flight.

The go-live POST is not idempotent, so before sending it we look: a go-live already running
is attached to; a publish still running is waited for until it reaches publisher sign-off; an
offer already live with nothing waiting is reported live. When a POST's answer is lost
(timeout, reset, 5xx) the offer's operations are listed, and compared with the go-live ids
known before the POST, before the POST is ever sent again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from ..procedure import Call, Clock, Procedure, Sleep, SystemClock
from .client import PortalClient
from .errors import (
    BadRequest,
    Conflict,
    PointerError,
    PortalError,
    Throttled,
    TransportError,
    WaitTimedOut,
    is_transient,
)
from .identifiers import validate_identifier
from .models import OfferState, OfferStatus, Operation, OperationStatus, StepStatus, Submission
from .pointers import OperationRef
from .schedule import PollSchedule, PollState
from .throttle import GLOBAL_THROTTLE, ThrottleGate
from .waiter import Progress, poll_operation

__all__ = [
    "GoLiveStart",
    "cancel_go_live",
    "find_latest_go_live",
    "ready_for_go_live",
    "start_go_live",
]

log = logging.getLogger(__name__)

SIGNOFF_STEP = "publisher-signoff"
MAX_POSTS = 8
_PUBLISH_FAILED_ADVICE = (
    "The publish that must precede going live did not complete. Fix what the messages "
    "describe, publish the offer again (Partner Center 'Review and publish'), then run "
    "`pulumi up`."
)


@dataclass(frozen=True)
class GoLiveStart:
    """How a go-live began: `ref` to wait on (None only when already live with no history)."""

    ref: OperationRef | None
    attached: bool
    already_live: bool
    submitted_at: datetime


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
    floor = datetime.min.replace(tzinfo=timezone.utc)
    indexed = list(enumerate(subs))
    # The portal lists newest first in practice; without times, the first one wins.
    return max(indexed, key=lambda p: (p[1].sort_time or floor, -p[0]))[1]


def _submitted_at(sub: Submission | None, clock: Clock) -> datetime:
    if sub is not None and sub.sort_time is not None:
        return sub.sort_time
    return clock.wall()


def _is_live(subs: list[Submission], status: OfferStatus) -> tuple[bool, Submission | None]:
    """(already live with nothing waiting at sign-off, the latest succeeded go-live)."""
    live_ops = [s for s in subs if s.is_go_live and s.state == OperationStatus.SUCCEEDED]
    latest_live = _latest(live_ops)
    if status.status == OfferState.WAITING_FOR_PUBLISHER_REVIEW:
        return False, latest_live
    if latest_live is not None:
        floor = datetime.min.replace(tzinfo=timezone.utc)
        newer_publish = [
            s for s in subs
            if s.is_publish and s.state == OperationStatus.SUCCEEDED
            and (s.sort_time or floor) > (latest_live.sort_time or floor)
        ]
        return not newer_publish, latest_live
    live_step = status.step("live")
    if status.status == OfferState.PUBLISHED or (
        status.status == OfferState.SUCCEEDED
        and live_step is not None and live_step.status == StepStatus.COMPLETE
    ):
        return True, None
    return False, None


class _Retry:
    """Backoff for the few list/POST calls of a go-live, inside the deadline."""

    def __init__(self, clock: Clock, deadline: float | None, schedule: PollSchedule,
                 throttle: ThrottleGate) -> None:
        self.clock, self.deadline = clock, deadline
        self.schedule, self.throttle = schedule, throttle
        self.state = PollState.start(clock.now(), deadline=deadline, seed=random.getrandbits(32))

    def failed(self, exc: PortalError) -> Procedure[None]:
        """Record a transient failure and sleep before the next try; re-raise past the deadline."""
        now = self.clock.now()
        retry_after = exc.retry_after if isinstance(exc, Throttled) else None
        if isinstance(exc, Throttled):
            self.throttle.note_429(retry_after, now)
        self.state = self.state.failed(now, retry_after).with_gate(self.throttle.snapshot(now))
        delay = self.schedule.next_delay(self.state, now)
        if self.deadline is not None and now + delay >= self.deadline:
            raise exc
        yield Sleep(delay)

    def gate(self) -> Procedure[None]:
        """Wait out the process-wide throttle gate before a request."""
        now = self.clock.now()
        view = self.throttle.snapshot(now)
        if view.not_before > now:
            yield Sleep(view.not_before - now)


def _list(client: PortalClient, pub: str, offer: str, retry: _Retry
          ) -> Procedure[list[Submission]]:
    while True:
        yield from retry.gate()
        try:
            subs: list[Submission] = yield Call(lambda: client.list_operations(pub, offer))
            return subs
        except PortalError as exc:
            if not is_transient(exc):
                raise
            log.info("listing operations of %s/%s failed (%s); retrying", pub, offer, exc)
            yield from retry.failed(exc)


def _offer_status(client: PortalClient, pub: str, offer: str, retry: _Retry
                  ) -> Procedure[OfferStatus]:
    while True:
        yield from retry.gate()
        try:
            status: OfferStatus = yield Call(lambda: client.offer_status(pub, offer))
            return status
        except PortalError as exc:
            if not is_transient(exc):
                raise
            yield from retry.failed(exc)


def _new_go_live(subs: list[Submission], known: set[str]) -> Submission | None:
    """A go-live that was not there before our POST (running ones first)."""
    fresh = [s for s in subs if s.is_go_live and s.id not in known]
    return _latest([s for s in fresh if s.is_running]) or _latest(fresh)


def start_go_live(
    client: PortalClient,
    pub: str,
    offer: str,
    *,
    clock: Clock,
    deadline: float | None,
    on_progress: Callable[[Progress], None] | None = None,
    schedule: PollSchedule | None = None,
    throttle: ThrottleGate = GLOBAL_THROTTLE,
) -> Procedure[GoLiveStart]:
    """Start (or attach to) exactly one go-live for this offer; see the module doc.

    Raises InvalidIdentifier before any request, OperationFailed when a publish it waits on
    fails, WaitTimedOut when a publish has not reached sign-off by the deadline, and the
    client's errors (a 400 keeps the portal's body) for what retrying cannot fix.
    """
    validate_identifier("publisherId", pub)
    validate_identifier("offerId", offer)
    sched = schedule or PollSchedule()
    retry = _Retry(clock, deadline, sched, throttle)

    subs = yield from _list(client, pub, offer, retry)
    running = _latest([s for s in subs if s.is_go_live and s.is_running])
    if running is not None:
        log.info("%s/%s: attaching to go-live %s already running", pub, offer, running.id)
        return GoLiveStart(client.operation_ref(pub, offer, running.id), attached=True,
                           already_live=False, submitted_at=_submitted_at(running, clock))

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
        running = _latest([s for s in subs if s.is_go_live and s.is_running])
        if running is not None:
            return GoLiveStart(client.operation_ref(pub, offer, running.id), attached=True,
                               already_live=False, submitted_at=_submitted_at(running, clock))
    else:
        status = yield from _offer_status(client, pub, offer, retry)
        live, latest_live = _is_live(subs, status)
        if live:
            log.info("%s/%s is already live with nothing waiting at sign-off", pub, offer)
            live_ref = client.operation_ref(pub, offer, latest_live.id) if latest_live else None
            return GoLiveStart(live_ref, attached=False, already_live=True,
                               submitted_at=_submitted_at(latest_live, clock))

    known = {s.id for s in subs}
    return (yield from _post_once(client, pub, offer, known, clock, retry))


def _post_once(client: PortalClient, pub: str, offer: str, known: set[str], clock: Clock,
               retry: _Retry) -> Procedure[GoLiveStart]:
    """POST go-live; on a lost answer, list before ever POSTing again."""
    lost = 0
    while True:
        yield from retry.gate()
        posted_at = clock.wall()
        try:
            ref: OperationRef = yield Call(lambda: client.go_live(pub, offer))
            log.info("%s/%s: go-live %s started", pub, offer, ref.operation_id)
            return GoLiveStart(ref, attached=False, already_live=False, submitted_at=posted_at)
        except Throttled as exc:
            # Refused outright: nothing started. Wait as told, then try again.
            yield from retry.failed(exc)
            continue
        except PointerError as exc:
            # Accepted, but the answer names no usable operation: find it, never re-POST.
            found = yield from _reconcile(client, pub, offer, known, retry, patient=True)
            if found is not None:
                return GoLiveStart(client.operation_ref(pub, offer, found.id), attached=False,
                                   already_live=False, submitted_at=_submitted_at(found, clock))
            raise PointerError(
                f"{exc.message}. The go-live was accepted but does not appear among the "
                f"offer's operations yet; it was not sent again. Run `pulumi up` again in a "
                f"few minutes to attach to it.",
                status=exc.status, request_id=exc.request_id,
            ) from None
        except Conflict:
            # Another operation runs: if it is a go-live, it is the one to wait on.
            subs = yield from _list(client, pub, offer, retry)
            running = _latest([s for s in subs if s.is_go_live and s.is_running])
            if running is not None:
                return GoLiveStart(client.operation_ref(pub, offer, running.id),
                                   attached=running.id in known, already_live=False,
                                   submitted_at=_submitted_at(running, clock))
            raise
        except PortalError as exc:
            if not is_transient(exc):
                raise
            log.warning("%s/%s: go-live POST answer lost (%s); checking whether it started",
                        pub, offer, exc)
            # A timeout may mean the portal is still working on it: give it time to show.
            slow = isinstance(exc, TransportError) and "timeout" in exc.kind
            found = yield from _reconcile(client, pub, offer, known, retry, patient=slow)
            if found is not None:
                log.info("%s/%s: the lost POST did start go-live %s", pub, offer, found.id)
                return GoLiveStart(client.operation_ref(pub, offer, found.id), attached=False,
                                   already_live=False, submitted_at=_submitted_at(found, clock))
            lost += 1
            if lost >= MAX_POSTS:
                raise
            yield from retry.failed(exc)


def _reconcile(client: PortalClient, pub: str, offer: str, known: set[str], retry: _Retry,
               *, patient: bool) -> Procedure[Submission | None]:
    """List the offer's operations to find a go-live our POST started (None: it did not)."""
    tries = 3 if patient else 1
    for i in range(tries):
        subs = yield from _list(client, pub, offer, retry)
        found = _new_go_live(subs, known)
        if found is not None:
            return found
        if i + 1 < tries:
            yield Sleep(2.0 * (i + 1))
    return None


def find_latest_go_live(client: PortalClient, pub: str, offer: str
                        ) -> Procedure[OperationRef | None]:
    """The newest go-live operation of the offer (running or not), for import; None if none."""
    validate_identifier("publisherId", pub)
    validate_identifier("offerId", offer)
    for attempt in range(3):
        try:
            subs: list[Submission] = yield Call(lambda: client.list_operations(pub, offer))
            break
        except PortalError as exc:
            if not is_transient(exc) or attempt == 2:
                raise
            yield Sleep(2.0 ** attempt)
    latest = _latest([s for s in subs if s.is_go_live])
    return client.operation_ref(pub, offer, latest.id) if latest is not None else None


def cancel_go_live(
    client: PortalClient,
    pub: str,
    offer: str,
    ref: OperationRef | None,
    *,
    clock: Clock | None = None,
    deadline: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    schedule: PollSchedule | None = None,
    throttle: ThrottleGate = GLOBAL_THROTTLE,
) -> Procedure[Operation | None]:
    """Cancel the go-live if it is still running and wait until it ends.

    Returns the ended operation when one was in flight (usually canceled; succeeded or failed
    when it ended before the cancel took), or None when nothing was running (e.g. already
    live). `ref` None means: find a running go-live of the offer.
    """
    validate_identifier("publisherId", pub)
    validate_identifier("offerId", offer)
    clk = clock or SystemClock()
    sched = schedule or PollSchedule()
    retry = _Retry(clk, deadline, sched, throttle)
    if ref is None:
        subs = yield from _list(client, pub, offer, retry)
        running = _latest([s for s in subs if s.is_go_live and s.is_running])
        if running is None:
            return None
        ref = client.operation_ref(pub, offer, running.id)
    target = ref
    while True:
        try:
            op, _ = yield Call(lambda: client.get_operation(target))
            break
        except PortalError as exc:
            if not is_transient(exc):
                raise
            yield from retry.failed(exc)
    if op.is_terminal:
        return None
    log.info("%s/%s: cancelling go-live %s", pub, offer, target.operation_id)
    while True:
        try:
            yield Call(lambda: client.cancel(pub, offer))
            break
        except PointerError:
            break  # a cancellation is under way; we watch the go-live itself
        except (BadRequest, Conflict) as exc:
            log.info("cancel refused (%s); the go-live may have just ended", exc)
            break
        except PortalError as exc:
            if not is_transient(exc):
                raise
            yield from retry.failed(exc)
    return (yield from poll_operation(
        client, target, clock=clk, deadline=deadline, on_progress=on_progress,
        schedule=sched, throttle=throttle, until=lambda o: o.is_terminal, what="go-live",
    ))
