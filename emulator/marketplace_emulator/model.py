"""Offers, operations and their lifecycle.

Nothing here runs on a timer: an operation stores when it was submitted (and, later, when it was
signed off or canceled) in emulated seconds, and every view is computed from those timestamps and
the clock. So a faster clock, a clock jump and a restart from the state file all just work.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .clock import dotnet_ticks, iso
from .seed import SIGNOFF_STEP, OfferConfig, Outcome, StepSpec, parse_offer

PUBLISH = "publish"
GOLIVE = "goLive"
CANCEL = "cancel"

# Operation statuses (docs: `notStarted`/`running`/`failed`; the emulator ends with `succeeded`,
# as public clients expect; real services were also seen answering `completed`).
NOT_STARTED = "notStarted"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELED = "canceled"
ACTIVE = (NOT_STARTED, RUNNING)

# Step statuses (spellings from the docs' tables and samples).
STEP_NOT_STARTED = "notStarted"
STEP_IN_PROGRESS = "inProgress"
STEP_WAITING = "waitingForPublisherReview"
STEP_COMPLETE = "complete"
STEP_CANCELED = "canceled"

# Offer statuses.
NEVER_PUBLISHED = "neverPublished"
WAITING_FOR_REVIEW = "waitingForPublisherReview"


class ApiError(Exception):
    """An error answer: HTTP status plus the documented `{"error": {"code", "message"}}` body."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error document."""
        return {"error": {"code": self.code, "message": self.message}}


@dataclass
class Operation:
    """One submission (publish, go-live or cancellation) with the timestamps that drive it."""

    id: str
    kind: str
    publishing_version: int
    offer_version: int
    created: float
    start_delay: float
    publish_steps: tuple[StepSpec, ...]
    golive_steps: tuple[StepSpec, ...]
    step_estimates: bool
    outcome: Outcome
    emails: str | None
    signoff_mode: str = "succeeded"
    signoff_at: float | None = None
    canceled_at: float | None = None
    cancel_requested_at: float | None = None
    cancel_op_id: str | None = None
    target_id: str | None = None
    cancel_seconds: float = 0.0
    synthetic: bool = False
    answer_shape: str = "linear"

    @property
    def slot(self) -> str:
        """`staging` for publish (preview), `production` for go-live, as clients expect."""
        return "production" if self.kind == GOLIVE else "staging"

    @property
    def running_steps(self) -> tuple[StepSpec, ...]:
        """The steps this operation itself runs."""
        if self.kind == PUBLISH:
            return self.publish_steps
        if self.kind == GOLIVE:
            return self.golive_steps
        return ()

    def to_dict(self) -> dict[str, Any]:
        """Persistable form."""
        return {
            "id": self.id,
            "kind": self.kind,
            "publishingVersion": self.publishing_version,
            "offerVersion": self.offer_version,
            "created": self.created,
            "startDelay": self.start_delay,
            "publishSteps": [s.to_dict() for s in self.publish_steps],
            "goLiveSteps": [s.to_dict() for s in self.golive_steps],
            "stepEstimates": self.step_estimates,
            "outcome": self.outcome.to_dict(),
            "emails": self.emails,
            "signoffMode": self.signoff_mode,
            "signoffAt": self.signoff_at,
            "canceledAt": self.canceled_at,
            "cancelRequestedAt": self.cancel_requested_at,
            "cancelOpId": self.cancel_op_id,
            "targetId": self.target_id,
            "cancelSeconds": self.cancel_seconds,
            "synthetic": self.synthetic,
            "answerShape": self.answer_shape,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Operation:
        """Inverse of `to_dict` (state file)."""
        outcome = data["outcome"]
        return cls(
            id=data["id"],
            kind=data["kind"],
            publishing_version=int(data["publishingVersion"]),
            offer_version=int(data["offerVersion"]),
            created=float(data["created"]),
            start_delay=float(data["startDelay"]),
            publish_steps=tuple(StepSpec(**s) for s in data["publishSteps"]),
            golive_steps=tuple(StepSpec(**s) for s in data["goLiveSteps"]),
            step_estimates=bool(data["stepEstimates"]),
            outcome=Outcome(
                result=outcome["result"],
                atStep=outcome["atStep"],
                messages=tuple(outcome["messages"]),
                stepStatus=outcome["stepStatus"],
                times=outcome["times"],
            ),
            emails=data["emails"],
            signoff_mode=data["signoffMode"],
            signoff_at=data["signoffAt"],
            canceled_at=data["canceledAt"],
            cancel_requested_at=data["cancelRequestedAt"],
            cancel_op_id=data["cancelOpId"],
            target_id=data["targetId"],
            cancel_seconds=float(data["cancelSeconds"]),
            synthetic=bool(data.get("synthetic", False)),
            answer_shape=str(data.get("answerShape", "linear")),
        )


@dataclass
class OpView:
    """An operation as seen at one emulated instant."""

    status: str
    steps: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    last_action: float
    ended_at: float | None
    preview_at: float | None
    waiting_signoff: bool
    cancellation_state: str


def _message(text: str, level: str, ts: float) -> dict[str, Any]:
    return {"messageHtml": text, "level": level, "timestamp": iso(ts)}


def _step_doc(
    spec: StepSpec,
    status: str,
    progress: int,
    messages: list[dict[str, Any]],
    estimates: bool,
    shape: str = "linear",
) -> dict[str, Any]:
    """One step as answered. A `portal`-shaped step reports progress 0 until it is complete
    and a coarse estimate (`StepSpec.coarse_time_frame`), as the documentation's samples do."""
    doc: dict[str, Any] = {}
    frame = spec.coarse_time_frame() if shape == "portal" else spec.estimatedTimeFrame
    if estimates and frame is not None:
        doc["estimatedTimeFrame"] = frame
    if shape == "portal" and status != STEP_COMPLETE:
        progress = 0
    doc.update(
        {
            "id": spec.id,
            "stepName": spec.stepName,
            "description": spec.description,
            "status": status,
            "messages": messages,
            "progressPercentage": progress,
        }
    )
    return doc


def view_operation(op: Operation, t: float, target: Operation | None = None) -> OpView:
    """Compute status, steps and messages of `op` at emulated time `t`."""
    if op.kind == CANCEL:
        return _view_cancel(op, t, target)
    run_start = op.created + op.start_delay
    running = op.running_steps
    fail_idx: int | None = None
    if op.outcome.result == "fail" and op.outcome.atStep is not None:
        ids = [s.id for s in running]
        fail_idx = ids.index(op.outcome.atStep) if op.outcome.atStep in ids else len(ids) - 1
    bounds: list[tuple[float, float]] = []
    cursor = run_start
    for spec in running:
        bounds.append((cursor, cursor + spec.seconds))
        cursor += spec.seconds
    steps_done_at = cursor

    # When would the operation end on its own, and how?
    natural_end: float | None
    if fail_idx is not None:
        natural_end = bounds[fail_idx][1]
        natural_status = FAILED
    elif op.kind == PUBLISH and op.signoff_mode == "running":
        natural_end = None if op.signoff_at is None else max(op.signoff_at, steps_done_at)
        natural_status = SUCCEEDED
    else:
        natural_end = steps_done_at
        natural_status = SUCCEEDED
    canceled = op.canceled_at is not None and (natural_end is None or op.canceled_at < natural_end)
    end = op.canceled_at if canceled else natural_end
    te = t if end is None else min(t, end)
    ended = end is not None and t >= end

    estimates = op.step_estimates
    steps: list[dict[str, Any]] = []
    last_action = op.created
    if op.kind == GOLIVE:
        # The previewed publish steps and the sign-off are behind a go-live.
        for i, spec in enumerate(op.publish_steps):
            steps.append(_step_doc(spec, STEP_COMPLETE, 100, [], estimates,
                                   spec.shape(op.answer_shape, i)))
        steps.append(_step_doc(SIGNOFF_STEP, STEP_COMPLETE, 100, [], estimates))

    failed_here = False
    for i, spec in enumerate(running):
        a, b = bounds[i]
        messages: list[dict[str, Any]] = []
        if fail_idx is not None and i == fail_idx and not canceled and te >= b:
            status, progress = op.outcome.stepStatus, 0
            messages = [_message(m, "error", b) for m in op.outcome.messages]
            failed_here = True
            last_action = max(last_action, b)
        elif failed_here:
            status, progress = STEP_NOT_STARTED, 0
        elif te >= b:
            status, progress = STEP_COMPLETE, 100
            messages = [_message("Step completed.", "information", b)]
            last_action = max(last_action, b)
        elif te >= a and te < b:
            progress = 0 if b <= a else int(min(99, max(0, (te - a) * 100 // (b - a))))
            if canceled and ended:
                status = STEP_CANCELED
                messages = [_message("The operation was canceled.", "information", te)]
            else:
                status = STEP_IN_PROGRESS
                last_action = max(last_action, a)
        else:
            status, progress = STEP_NOT_STARTED, 0
        steps.append(_step_doc(spec, status, progress, messages, estimates,
                               spec.shape(op.answer_shape, i)))

    preview_at: float | None = None
    waiting = False
    if op.kind == PUBLISH:
        reached = not failed_here and te >= steps_done_at
        if reached:
            preview_at = steps_done_at
        if reached and op.signoff_at is not None and t >= op.signoff_at and not canceled:
            sign = (STEP_COMPLETE, 100, [_message("Step completed.", "information", op.signoff_at)])
        elif reached and canceled and ended:
            sign = (STEP_CANCELED, 0, [_message("The operation was canceled.", "information", te)])
        elif reached:
            sign = (STEP_WAITING, 0, [])
            waiting = True
        else:
            sign = (STEP_NOT_STARTED, 0, [])
        steps.append(_step_doc(SIGNOFF_STEP, sign[0], sign[1], sign[2], estimates))
        for i, spec in enumerate(op.golive_steps):
            steps.append(_step_doc(spec, STEP_NOT_STARTED, 0, [], estimates,
                                   spec.shape(op.answer_shape, i)))
    else:
        preview_at = op.created

    if ended:
        status = CANCELED if canceled else natural_status
        assert end is not None
        last_action = max(last_action, end)
    elif t < run_start:
        status = NOT_STARTED
    else:
        status = RUNNING
        last_action = max(last_action, run_start)
    if op.kind == PUBLISH and status != RUNNING:
        waiting = False
    if status in ACTIVE:
        cancellation = "cancelRequested" if op.cancel_requested_at is not None else "canCancel"
    else:
        cancellation = "cannotCancel"
    return OpView(
        status=status,
        steps=steps,
        messages=[],
        last_action=last_action,
        ended_at=end if ended else None,
        preview_at=preview_at,
        waiting_signoff=waiting,
        cancellation_state=cancellation,
    )


def _view_cancel(op: Operation, t: float, target: Operation | None) -> OpView:
    end = op.created + op.cancel_seconds
    if t < end:
        return OpView(RUNNING, [], [], op.created, None, None, False, "cannotCancel")
    took_effect = False
    if target is not None:
        tv = view_operation(target, end)
        took_effect = tv.status == CANCELED
    if took_effect:
        return OpView(SUCCEEDED, [], [], end, end, None, False, "cannotCancel")
    msg = _message("The operation completed before it could be canceled.", "error", end)
    return OpView(FAILED, [], [msg], end, end, None, False, "cannotCancel")


@dataclass
class Offer:
    """An offer: its seed configuration plus the operations submitted against it."""

    config: OfferConfig
    created: float
    updated: float
    ops: list[Operation] = field(default_factory=list)
    next_publishing_version: int = 1
    fails_used: dict[str, int] = field(default_factory=dict)
    # Views computed at one instant, reused within a request; cleared by every mutation.
    _memo_t: float | None = field(default=None, repr=False, compare=False)
    _memo: dict[str, OpView] = field(default_factory=dict, repr=False, compare=False)

    def invalidate(self) -> None:
        """Forget memoized views (call after changing any operation)."""
        self._memo_t = None
        self._memo = {}

    @property
    def key(self) -> tuple[str, str]:
        """Case-insensitive lookup key."""
        return (self.config.publisherId.lower(), self.config.offerId.lower())

    def op(self, op_id: str) -> Operation | None:
        """Find an operation by id (case-insensitive GUID)."""
        wanted = op_id.lower()
        for op in self.ops:
            if op.id == wanted:
                return op
        return None

    def op_by_publishing_version(self, n: int) -> Operation | None:
        """Find an operation by its publishingVersion (the non-migrated pointer's number)."""
        for op in self.ops:
            if op.publishing_version == n:
                return op
        return None

    def view(self, op: Operation, t: float) -> OpView:
        """View one of this offer's operations (cancellations look at their target)."""
        if t != self._memo_t:
            self._memo_t = t
            self._memo = {}
        cached = self._memo.get(op.id)
        if cached is None:
            target = self.op(op.target_id) if op.target_id else None
            cached = view_operation(op, t, target)
            self._memo[op.id] = cached
        return cached

    def latest(self, t: float, kinds: Iterable[str] = (PUBLISH, GOLIVE)) -> Operation | None:
        """Latest operation of the given kinds."""
        wanted = set(kinds)
        for op in reversed(self.ops):
            if op.kind in wanted:
                return op
        return None

    def live_since(self, t: float) -> float | None:
        """When the first successful go-live ended, if any (by time `t`)."""
        for op in self.ops:
            if op.kind == GOLIVE:
                v = self.view(op, t)
                if v.status == SUCCEEDED and v.ended_at is not None:
                    return v.ended_at
        return None

    def preview_since(self, t: float) -> float | None:
        """When a publish first reached sign-off (preview available), if any."""
        for op in self.ops:
            if op.kind == PUBLISH:
                v = self.view(op, t)
                if v.preview_at is not None:
                    return v.preview_at
        return None

    def version(self, t: float) -> int:
        """Offer version: 1, plus one per successful go-live."""
        return 1 + sum(
            1 for op in self.ops if op.kind == GOLIVE and self.view(op, t).status == SUCCEEDED
        )

    def status(self, t: float) -> str:
        """Offer status derived from the latest publish/go-live operation."""
        op = self.latest(t)
        if op is None:
            return NEVER_PUBLISHED
        v = self.view(op, t)
        if v.status == SUCCEEDED:
            return WAITING_FOR_REVIEW if op.kind == PUBLISH else SUCCEEDED
        return v.status

    def changed(self, t: float) -> float:
        """Last change time: the offer's own update or its latest operation action."""
        latest = self.updated
        for op in self.ops:
            latest = max(latest, self.view(op, t).last_action)
        return latest

    def links(self, t: float) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """(previewLinks, liveLinks): our shape, since the docs call them not implemented."""
        pub, off = self.config.publisherId, self.config.offerId
        base = "https://azuremarketplace.microsoft.com/marketplace/apps"
        preview = (
            [{"displayText": "Preview", "uri": f"{base}/{pub}.{off}-preview?tab=Overview"}]
            if self.preview_since(t) is not None
            else []
        )
        live = (
            [{"displayText": "Azure Marketplace", "uri": f"{base}/{pub}.{off}?tab=Overview"}]
            if self.live_since(t) is not None
            else []
        )
        return preview, live

    def to_dict(self) -> dict[str, Any]:
        """Persistable form."""
        return {
            "config": self.config.to_dict(),
            "created": self.created,
            "updated": self.updated,
            "ops": [op.to_dict() for op in self.ops],
            "nextPublishingVersion": self.next_publishing_version,
            "failsUsed": dict(self.fails_used),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Offer:
        """Inverse of `to_dict`."""
        return cls(
            config=parse_offer(data["config"], "config"),
            created=float(data["created"]),
            updated=float(data["updated"]),
            ops=[Operation.from_dict(o) for o in data["ops"]],
            next_publishing_version=int(data["nextPublishingVersion"]),
            fails_used={k: int(v) for k, v in data.get("failsUsed", {}).items()},
        )


@dataclass
class Submitted:
    """What a long-running POST created: the operation to point at (None = synchronous)."""

    offer: Offer
    op: Operation | None


class Model:
    """All offers, behind one lock; every method takes the emulated time from `now`."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self.lock = threading.RLock()
        self.offers: dict[tuple[str, str], Offer] = {}

    # ------------------------------------------------------------ admin side

    def clear(self) -> None:
        """Forget every offer."""
        with self.lock:
            self.offers.clear()

    def put_offer(self, cfg: OfferConfig) -> Offer:
        """Create or replace an offer and synthesize the history its `state` implies."""
        with self.lock:
            t = self._now()
            offer = Offer(config=cfg, created=t, updated=t)
            self._materialize_state(offer, t)
            self.offers[offer.key] = offer
            return offer

    def patch_offer(self, offer: Offer, cfg: OfferConfig) -> Offer:
        """Change future behaviour of an offer, keeping its operations."""
        with self.lock:
            old = offer.config
            if cfg.publishOutcome != old.publishOutcome:
                offer.fails_used[PUBLISH] = 0
            if cfg.goLiveOutcome != old.goLiveOutcome:
                offer.fails_used[GOLIVE] = 0
            offer.config = cfg
            offer.updated = self._now()
            offer.invalidate()
            return offer

    def delete_offer(self, pub: str, off: str) -> bool:
        """Remove an offer; later API calls answer 404."""
        with self.lock:
            return self.offers.pop((pub.lower(), off.lower()), None) is not None

    def find(self, pub: str, off: str) -> Offer | None:
        """Case-insensitive lookup."""
        return self.offers.get((pub.lower(), off.lower()))

    def _materialize_state(self, offer: Offer, t: float) -> None:
        cfg = offer.config
        delay = cfg.startDelaySeconds
        publish_total = sum(s.seconds for s in cfg.publishSteps)
        golive_total = sum(s.seconds for s in cfg.goLiveSteps)
        ok = Outcome()
        if cfg.state == "publishing":
            outcome = self._outcome_for(offer, PUBLISH)
            self._new_op(offer, PUBLISH, t, outcome, cfg.notificationEmails)
        elif cfg.state == "signoff":
            start = t - (delay + publish_total + 1.0)
            self._new_op(offer, PUBLISH, start, ok, cfg.notificationEmails, synthetic=True)
        elif cfg.state == "live":
            go_start = t - (delay + golive_total + 1.0)
            pub_start = go_start - (delay + publish_total + 1.0)
            p = self._new_op(offer, PUBLISH, pub_start, ok, cfg.notificationEmails, synthetic=True)
            p.signoff_at = go_start
            self._new_op(offer, GOLIVE, go_start, ok, cfg.notificationEmails, synthetic=True)

    def _outcome_for(self, offer: Offer, kind: str) -> Outcome:
        outcome = offer.config.publishOutcome if kind == PUBLISH else offer.config.goLiveOutcome
        if outcome.result != "fail":
            return outcome
        used = offer.fails_used.get(kind, 0)
        if outcome.times is not None and used >= outcome.times:
            return Outcome()
        offer.fails_used[kind] = used + 1
        return outcome

    def _new_op(
        self,
        offer: Offer,
        kind: str,
        created: float,
        outcome: Outcome,
        emails: str | None,
        *,
        synthetic: bool = False,
    ) -> Operation:
        cfg = offer.config
        op = Operation(
            id=str(uuid.uuid4()),
            kind=kind,
            publishing_version=offer.next_publishing_version,
            offer_version=offer.version(created),
            created=created,
            start_delay=cfg.startDelaySeconds if kind != CANCEL else 0.0,
            publish_steps=cfg.publishSteps,
            golive_steps=cfg.goLiveSteps,
            step_estimates=cfg.stepEstimates,
            answer_shape=cfg.answerShape,
            outcome=outcome,
            emails=emails,
            signoff_mode=cfg.signoff,
            cancel_seconds=cfg.cancelSeconds,
            synthetic=synthetic,
        )
        offer.next_publishing_version += 1
        offer.ops.append(op)
        offer.invalidate()
        return op

    # ------------------------------------------------------------ API side

    def require_offer(self, pub: str, off: str) -> Offer:
        """The offer, or the 404 the API answers."""
        offer = self.find(pub, off)
        if offer is None:
            self.require_publisher(pub)
            raise ApiError(
                404, "OfferNotFound", f"Offer '{off}' was not found for publisher '{pub}'."
            )
        return offer

    def require_publisher(self, pub: str) -> list[Offer]:
        """A publisher exists while it has at least one offer (our choice)."""
        offers = [o for (p, _), o in self.offers.items() if p == pub.lower()]
        if not offers:
            raise ApiError(404, "PublisherNotFound", f"Publisher '{pub}' was not found.")
        return offers

    def _active(self, offer: Offer, t: float) -> list[tuple[Operation, OpView]]:
        out = []
        for op in offer.ops:
            v = offer.view(op, t)
            if v.status in ACTIVE:
                out.append((op, v))
        return out

    def publish(self, pub: str, off: str, emails: str | None) -> Submitted:
        """Start a publish (preview) operation; 409 while another operation runs (ours)."""
        with self.lock:
            offer = self.require_offer(pub, off)
            t = self._now()
            active = self._active(offer, t)
            if active:
                raise _in_progress(active[0][0])
            op = self._new_op(
                offer,
                PUBLISH,
                t,
                self._outcome_for(offer, PUBLISH),
                emails if emails is not None else offer.config.notificationEmails,
            )
            return Submitted(offer, op)

    def golive(self, pub: str, off: str) -> Submitted:
        """Start a go-live; the only operation allowed next to a publish waiting at sign-off."""
        with self.lock:
            offer = self.require_offer(pub, off)
            t = self._now()
            blocking = [
                (op, v)
                for op, v in self._active(offer, t)
                if not (op.kind == PUBLISH and v.waiting_signoff)
            ]
            if blocking:
                raise _in_progress(blocking[0][0])
            publish = offer.latest(t, (PUBLISH,))
            pv = offer.view(publish, t) if publish is not None else None
            if publish is None or pv is None or pv.preview_at is None or pv.status in (
                FAILED,
                CANCELED,
            ):
                raise ApiError(
                    400,
                    "OfferNotReadyForGoLive",
                    f"Offer '{off}' has no publish waiting at publisher sign-off; publish it "
                    "and wait for the preview before going live.",
                )
            for op in offer.ops:
                if op.kind == GOLIVE and op.created >= publish.created:
                    if offer.view(op, t).status == SUCCEEDED:
                        raise ApiError(
                            400,
                            "OfferAlreadyLive",
                            f"Offer '{off}' is already live and nothing is waiting at publisher "
                            "sign-off; publish a new version first.",
                        )
            if publish.signoff_at is None:
                publish.signoff_at = t
                offer.invalidate()
            op = self._new_op(
                offer, GOLIVE, t, self._outcome_for(offer, GOLIVE), publish.emails
            )
            return Submitted(offer, op)

    def cancel(self, pub: str, off: str) -> Submitted:
        """Cancel the running publish/go-live: sync (op None) or via a cancellation operation."""
        with self.lock:
            offer = self.require_offer(pub, off)
            t = self._now()
            active = [(op, v) for op, v in self._active(offer, t) if op.kind != CANCEL]
            if not active:
                raise ApiError(
                    400, "NoOperationInProgress", f"Offer '{off}' has no operation in progress."
                )
            target = active[-1][0]
            if target.cancel_op_id is not None:
                existing = offer.op(target.cancel_op_id)
                return Submitted(offer, existing)
            if offer.config.cancelMode == "sync":
                target.canceled_at = t
                target.cancel_requested_at = t
                offer.invalidate()
                return Submitted(offer, None)
            cancel_op = self._new_op(offer, CANCEL, t, Outcome(), target.emails)
            cancel_op.target_id = target.id
            target.cancel_requested_at = t
            target.canceled_at = t + cancel_op.cancel_seconds
            target.cancel_op_id = cancel_op.id
            offer.invalidate()
            return Submitted(offer, cancel_op)

    # ------------------------------------------------------------ JSON documents

    def now(self) -> float:
        """Emulated now."""
        return self._now()

    def offer_summary(self, offer: Offer, t: float) -> dict[str, Any]:
        """List-offers entry."""
        cfg = offer.config
        return {
            "offerTypeId": cfg.offerTypeId,
            "publisherId": cfg.publisherId,
            "status": offer.status(t),
            "id": cfg.offerId,
            "version": offer.version(t),
            "definition": {"displayText": cfg.title},
            "changedTime": iso(offer.changed(t)),
        }

    def offer_document(self, offer: Offer, t: float, version: int | None = None) -> dict[str, Any]:
        """Get-offer body (definition is the seed's, or a small default)."""
        cfg = offer.config
        definition: dict[str, Any] = {
            "displayText": cfg.title,
            "offer": {"microsoft-azure-marketplace.title": cfg.title},
            "plans": [],
        }
        if cfg.definition:
            definition.update(cfg.definition)
        changed = offer.changed(t)
        return {
            "offerTypeId": cfg.offerTypeId,
            "publisherId": cfg.publisherId,
            "status": offer.status(t),
            "id": cfg.offerId,
            "version": version if version is not None else offer.version(t),
            "definition": definition,
            "changedTime": iso(changed),
            "eTag": etag(changed),
        }

    def operation_document(self, offer: Offer, op: Operation, t: float) -> dict[str, Any]:
        """Get-operation body: a single object (the docs' array wrapper is a doc defect)."""
        v = offer.view(op, t)
        preview, live = self._op_links(offer, op, v, t)
        doc: dict[str, Any] = {
            "id": op.id,
            "submissionType": op.kind,
            "status": v.status,
            "messages": v.messages,
            "publishingVersion": op.publishing_version,
            "offerVersion": op.offer_version,
            "cancellationRequestState": v.cancellation_state,
            "steps": v.steps,
            "previewLinks": preview,
            "liveLinks": live,
        }
        if offer.config.pointer != "migrated":
            # Deprecated and not returned for migrated offers (2020 docs).
            doc["notificationEmails"] = op.emails
        return doc

    def _op_links(
        self, offer: Offer, op: Operation, v: OpView, t: float
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        preview_all, live_all = offer.links(t)
        preview = preview_all if v.preview_at is not None and op.kind != CANCEL else []
        live = live_all if op.kind == GOLIVE and v.status == SUCCEEDED else []
        return preview, live

    def submission_summary(self, offer: Offer, op: Operation, t: float) -> dict[str, Any]:
        """List-operations (submissions) entry."""
        v = offer.view(op, t)
        error: str | None = None
        if v.status == FAILED:
            texts = [
                m["messageHtml"] for s in v.steps for m in s["messages"] if m["level"] == "error"
            ]
            texts += [m["messageHtml"] for m in v.messages]
            error = " ".join(texts) or "The operation failed."
        cfg = offer.config
        return {
            "id": op.id,
            "offerId": cfg.offerId,
            "offerVersion": op.offer_version,
            "offerTypeId": cfg.offerTypeId,
            "publisherId": cfg.publisherId,
            "submissionType": op.kind,
            "submissionState": v.status,
            "status": v.status,
            "publishingVersion": op.publishing_version,
            "slot": op.slot,
            "version": dotnet_ticks(v.last_action),
            "definition": {"metadata": {"emails": op.emails}},
            "changedTime": iso(v.last_action),
            "createdDateTime": iso(op.created),
            "lastActionDateTime": iso(v.last_action),
            "error": error,
        }

    def status_document(self, offer: Offer, t: float) -> dict[str, Any]:
        """Offer-status body: steps are those of the latest publish/go-live operation."""
        op = offer.latest(t)
        steps = offer.view(op, t).steps if op is not None else []
        preview, live = offer.links(t)
        return {
            "status": offer.status(t),
            "messages": [],
            "steps": steps,
            "previewLinks": preview,
            "liveLinks": live,
        }

    def dump_offer(self, offer: Offer, t: float) -> dict[str, Any]:
        """Admin view: configuration, derived status and every operation with internals."""
        ops = []
        for op in offer.ops:
            doc = self.operation_document(offer, op, t)
            doc["internal"] = op.to_dict()
            doc["summary"] = self.submission_summary(offer, op, t)
            ops.append(doc)
        preview, live = offer.links(t)
        return {
            "publisherId": offer.config.publisherId,
            "offerId": offer.config.offerId,
            "config": offer.config.to_dict(),
            "status": offer.status(t),
            "version": offer.version(t),
            "previewLinks": preview,
            "liveLinks": live,
            "operations": ops,
        }

    def to_state(self) -> list[dict[str, Any]]:
        """Persistable form of all offers."""
        with self.lock:
            return [o.to_dict() for o in self.offers.values()]

    def load_state(self, data: list[dict[str, Any]]) -> None:
        """Replace all offers from the state file."""
        with self.lock:
            self.offers = {}
            for raw in data:
                offer = Offer.from_dict(raw)
                self.offers[offer.key] = offer


def _in_progress(op: Operation) -> ApiError:
    return ApiError(
        409,
        "OperationInProgress",
        f"Another operation ({op.kind} {op.id}) is in progress for this offer; only one "
        "operation can run at a time.",
    )


def etag(changed: float) -> str:
    """Weak ETag in the body form the docs show."""
    stamp = iso(changed).replace(":", "%3A")
    return f"W/\"datetime'{stamp}'\""
