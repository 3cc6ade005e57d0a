"""Typed views of the Partner Portal's JSON: operations, offer status, steps, submissions.

Parsing is liberal because the docs and the service disagree: enum values in any case and
either spelling, an operation as an object or a one-element array, `processPercentage` for
`progressPercentage`. Unknown fields are kept in `.extra`, never fatal.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .text import enum_key, html_to_text, parse_timestamp
from .timeframe import TimeFrame, parse_time_frame

__all__ = [
    "Message",
    "OfferState",
    "OfferStatus",
    "Operation",
    "OperationStatus",
    "Step",
    "StepStatus",
    "Submission",
    "submission_kind",
]

log = logging.getLogger(__name__)


class OperationStatus(enum.Enum):
    NOT_STARTED = "notStarted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> OperationStatus:
        return _OPERATION_STATUS.get(enum_key(value), cls.UNKNOWN)

    @property
    def is_terminal(self) -> bool:
        return self in (OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.CANCELED)


_OPERATION_STATUS = {
    "notstarted": OperationStatus.NOT_STARTED,
    "pending": OperationStatus.NOT_STARTED,
    "queued": OperationStatus.NOT_STARTED,
    "accepted": OperationStatus.NOT_STARTED,
    "running": OperationStatus.RUNNING,
    "inprogress": OperationStatus.RUNNING,
    # The publish operation pauses at sign-off: not an end state.
    "waitingforpublisherreview": OperationStatus.RUNNING,
    "succeeded": OperationStatus.SUCCEEDED,
    "success": OperationStatus.SUCCEEDED,
    "completed": OperationStatus.SUCCEEDED,
    "complete": OperationStatus.SUCCEEDED,
    "failed": OperationStatus.FAILED,
    "failure": OperationStatus.FAILED,
    "canceled": OperationStatus.CANCELED,
    "cancelled": OperationStatus.CANCELED,
}


class OfferState(enum.Enum):
    NEVER_PUBLISHED = "neverPublished"
    NOT_STARTED = "notStarted"
    WAITING_FOR_PUBLISHER_REVIEW = "waitingForPublisherReview"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    PUBLISHED = "published"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> OfferState:
        return _OFFER_STATE.get(enum_key(value), cls.UNKNOWN)


_OFFER_STATE = {
    "neverpublished": OfferState.NEVER_PUBLISHED,
    "notstarted": OfferState.NOT_STARTED,
    "waitingforpublisherreview": OfferState.WAITING_FOR_PUBLISHER_REVIEW,
    "running": OfferState.RUNNING,
    "inprogress": OfferState.RUNNING,
    "succeeded": OfferState.SUCCEEDED,
    "completed": OfferState.SUCCEEDED,
    "complete": OfferState.SUCCEEDED,
    "failed": OfferState.FAILED,
    "canceled": OfferState.CANCELED,
    "cancelled": OfferState.CANCELED,
    "published": OfferState.PUBLISHED,
    "live": OfferState.PUBLISHED,
}


class StepStatus(enum.Enum):
    NOT_STARTED = "notStarted"
    IN_PROGRESS = "inProgress"
    WAITING_FOR_PUBLISHER_REVIEW = "waitingForPublisherReview"
    WAITING_FOR_APPROVAL = "waitingForApproval"
    BLOCKED = "blocked"
    REJECTED = "rejected"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> StepStatus:
        return _STEP_STATUS.get(enum_key(value), cls.UNKNOWN)

    @property
    def is_active(self) -> bool:
        """Started and not finished (including paused for review or approval)."""
        return self in (
            StepStatus.IN_PROGRESS,
            StepStatus.WAITING_FOR_PUBLISHER_REVIEW,
            StepStatus.WAITING_FOR_APPROVAL,
            StepStatus.BLOCKED,
        )

    @property
    def is_done(self) -> bool:
        return self in (
            StepStatus.COMPLETE,
            StepStatus.FAILED,
            StepStatus.REJECTED,
            StepStatus.CANCELED,
        )

    @property
    def is_bad(self) -> bool:
        return self in (
            StepStatus.FAILED,
            StepStatus.REJECTED,
            StepStatus.BLOCKED,
            StepStatus.CANCELED,
        )


_STEP_STATUS = {
    "notstarted": StepStatus.NOT_STARTED,
    "pending": StepStatus.NOT_STARTED,
    "inprogress": StepStatus.IN_PROGRESS,
    "running": StepStatus.IN_PROGRESS,
    "waitingforpublisherreview": StepStatus.WAITING_FOR_PUBLISHER_REVIEW,
    "waitingforapproval": StepStatus.WAITING_FOR_APPROVAL,
    "blocked": StepStatus.BLOCKED,
    "rejected": StepStatus.REJECTED,
    "complete": StepStatus.COMPLETE,
    "completed": StepStatus.COMPLETE,
    "succeeded": StepStatus.COMPLETE,
    "success": StepStatus.COMPLETE,
    "failed": StepStatus.FAILED,
    "failure": StepStatus.FAILED,
    "canceled": StepStatus.CANCELED,
    "cancelled": StepStatus.CANCELED,
}


def _obj(data: object, what: str) -> Mapping[str, Any]:
    if isinstance(data, list):
        if not data:
            raise ValueError(f"{what}: empty array")
        if len(data) > 1:
            log.debug("%s: array of %d, reading the first", what, len(data))
        data = data[0]
    if not isinstance(data, Mapping):
        raise ValueError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def _str(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("%"))
        except ValueError:
            return None
    return None


def _links(value: object) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else ()


def _extra(data: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in known}


@dataclass(frozen=True)
class Message:
    """A portal message; `text` is the HTML rendered to plain text, `html` the original."""

    text: str
    level: str | None = None
    timestamp: datetime | None = None
    html: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    _KNOWN = frozenset({"messageHtml", "message", "text", "level", "timestamp"})

    @classmethod
    def from_json(cls, data: object) -> Message:
        if isinstance(data, str):
            return cls(text=html_to_text(data), html=data)
        if not isinstance(data, Mapping):
            return cls(text=html_to_text(str(data)))
        raw = _str(data.get("messageHtml"))
        if raw is None:
            raw = _str(data.get("message")) or _str(data.get("text"))
        return cls(
            text=html_to_text(raw),
            level=_str(data.get("level")),
            timestamp=parse_timestamp(data.get("timestamp")),
            html=raw,
            extra=_extra(data, cls._KNOWN),
        )


def _messages(value: object) -> tuple[Message, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(Message.from_json(m) for m in value)


@dataclass(frozen=True)
class Step:
    """One step of an operation or offer status (validate ... publisher-signoff, live)."""

    id: str | None
    step_name: str | None
    description: str | None
    status: StepStatus
    raw_status: str | None
    estimated_time_frame: str | None
    progress_percentage: float | None
    messages: tuple[Message, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    _KNOWN = frozenset(
        {
            "id",
            "stepName",
            "description",
            "status",
            "estimatedTimeFrame",
            "progressPercentage",
            "processPercentage",
            "messages",
        }
    )

    @classmethod
    def from_json(cls, data: object) -> Step:
        obj = _obj(data, "step")
        raw_status = _str(obj.get("status"))
        progress = _float(obj.get("progressPercentage"))
        if progress is None:
            progress = _float(obj.get("processPercentage"))
        return cls(
            id=_str(obj.get("id")),
            step_name=_str(obj.get("stepName")),
            description=_str(obj.get("description")),
            status=StepStatus.parse(raw_status),
            raw_status=raw_status,
            estimated_time_frame=_str(obj.get("estimatedTimeFrame")),
            progress_percentage=progress,
            messages=_messages(obj.get("messages")),
            extra=_extra(obj, cls._KNOWN),
        )

    @property
    def time_frame(self) -> TimeFrame | None:
        """`estimatedTimeFrame` as seconds bounds, when readable."""
        return parse_time_frame(self.estimated_time_frame)

    @property
    def name(self) -> str:
        return self.step_name or self.id or "?"


def _steps(value: object) -> tuple[Step, ...]:
    if not isinstance(value, list):
        return ()
    steps = []
    for item in value:
        try:
            steps.append(Step.from_json(item))
        except ValueError:
            log.debug("skipping unreadable step %r", item)
    return tuple(steps)


def _current_step(steps: tuple[Step, ...]) -> Step | None:
    for step in steps:
        if step.status.is_active or step.status in (StepStatus.FAILED, StepStatus.REJECTED):
            return step
    seen_done = False
    for step in steps:
        if step.status.is_done:
            seen_done = True
        elif seen_done or step.status == StepStatus.UNKNOWN:
            return step
    return None


SIGNOFF_STEP_ID = "publisher-signoff"


def _percent(steps: tuple[Step, ...]) -> float | None:
    """Progress over `steps`: done steps count whole, the running one by its own figure.

    None when there are no steps, or when the step now running gives no progress figure (a
    percentage made up from step counts would only mislead).
    """
    if not steps:
        return None
    done = 0.0
    for step in steps:
        if step.status.is_done:
            done += 1.0
        elif step.status.is_active:
            if step.progress_percentage is None or not math.isfinite(step.progress_percentage):
                return None
            done += min(100.0, max(0.0, step.progress_percentage)) / 100.0
    return round(100.0 * done / len(steps), 1)


@dataclass(frozen=True)
class Operation:
    """A long-running operation (publish, go-live, cancel): `GET .../operations/{id}`."""

    status: OperationStatus
    raw_status: str | None
    messages: tuple[Message, ...] = ()
    steps: tuple[Step, ...] = ()
    publishing_version: int | None = None
    offer_version: int | None = None
    cancellation_request_state: str | None = None
    preview_links: tuple[Any, ...] = ()
    live_links: tuple[Any, ...] = ()
    notification_emails: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    _KNOWN = frozenset(
        {
            "status",
            "messages",
            "steps",
            "publishingVersion",
            "offerVersion",
            "cancellationRequestState",
            "previewLinks",
            "liveLinks",
            "notificationEmails",
        }
    )

    @classmethod
    def from_json(cls, data: object) -> Operation:
        obj = _obj(data, "operation")
        raw_status = _str(obj.get("status"))
        if raw_status is None:
            raise ValueError("operation: no status field")
        return cls(
            status=OperationStatus.parse(raw_status),
            raw_status=raw_status,
            messages=_messages(obj.get("messages")),
            steps=_steps(obj.get("steps")),
            publishing_version=_int(obj.get("publishingVersion")),
            offer_version=_int(obj.get("offerVersion")),
            cancellation_request_state=_str(obj.get("cancellationRequestState")),
            preview_links=_links(obj.get("previewLinks")),
            live_links=_links(obj.get("liveLinks")),
            notification_emails=_str(obj.get("notificationEmails")),
            extra=_extra(obj, cls._KNOWN),
        )

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def current_step(self) -> Step | None:
        """The step now running (or paused, or the one that failed), else the next one due."""
        return _current_step(self.steps)

    def own_steps(self, kind: str = "go-live") -> tuple[Step, ...]:
        """The steps this operation itself runs.

        A go-live's answer also lists the publish steps and the sign-off that came before it
        (all complete): its own steps are those after `publisher-signoff`. A publish's are
        those up to and including the sign-off. Without a sign-off step, all of them.
        """
        ids = [enum_key(s.id) if s.id is not None else None for s in self.steps]
        key = enum_key(SIGNOFF_STEP_ID)
        if key not in ids:
            return self.steps
        at = ids.index(key)
        return self.steps[at + 1:] if kind == "go-live" else self.steps[:at + 1]

    def progress(self, kind: str = "go-live") -> float | None:
        """Progress 0-100 of the operation's own steps (100 once succeeded); None when the
        step now running gives no figure, or there are no steps."""
        if self.status == OperationStatus.SUCCEEDED:
            return 100.0
        return _percent(self.own_steps(kind))

    @property
    def percent(self) -> float | None:
        """`progress()` of a go-live (the kind every wait but a publish's is on)."""
        return self.progress("go-live")

    def step(self, step_id: str) -> Step | None:
        for s in self.steps:
            if s.id is not None and enum_key(s.id) == enum_key(step_id):
                return s
        return None

    def all_messages(self) -> list[tuple[Step | None, Message]]:
        """Top-level messages, then each step's, in order."""
        out: list[tuple[Step | None, Message]] = [(None, m) for m in self.messages]
        for s in self.steps:
            out.extend((s, m) for m in s.messages)
        return out


@dataclass(frozen=True)
class OfferStatus:
    """`GET .../offers/{id}/status`: where the offer stands in publishing."""

    status: OfferState
    raw_status: str | None
    messages: tuple[Message, ...] = ()
    steps: tuple[Step, ...] = ()
    preview_links: tuple[Any, ...] = ()
    live_links: tuple[Any, ...] = ()
    notification_emails: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    _KNOWN = frozenset(
        {"status", "messages", "steps", "previewLinks", "liveLinks", "notificationEmails"}
    )

    @classmethod
    def from_json(cls, data: object) -> OfferStatus:
        obj = _obj(data, "offer status")
        raw_status = _str(obj.get("status"))
        return cls(
            status=OfferState.parse(raw_status),
            raw_status=raw_status,
            messages=_messages(obj.get("messages")),
            steps=_steps(obj.get("steps")),
            preview_links=_links(obj.get("previewLinks")),
            live_links=_links(obj.get("liveLinks")),
            notification_emails=_str(obj.get("notificationEmails")),
            extra=_extra(obj, cls._KNOWN),
        )

    def step(self, step_id: str) -> Step | None:
        for s in self.steps:
            if s.id is not None and enum_key(s.id) == enum_key(step_id):
                return s
        return None

    @property
    def current_step(self) -> Step | None:
        return _current_step(self.steps)


def submission_kind(value: object) -> str:
    """Fold a `submissionType` spelling: `goLive`, `GoLive`, `go-live`, `go_live` -> `golive`."""
    return enum_key(value)


@dataclass(frozen=True)
class Submission:
    """One entry of `GET .../submissions`: an operation summary."""

    id: str
    offer_id: str | None
    submission_type: str | None
    submission_state: str | None
    status: str | None
    publishing_version: int | None
    slot: str | None
    changed_time: datetime | None
    created_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: object) -> Submission:
        obj = _obj(data, "submission")
        op_id = _str(obj.get("id")) or _str(obj.get("operationId"))
        if not op_id:
            raise ValueError("submission: no id")
        return cls(
            id=op_id,
            offer_id=_str(obj.get("offerId")),
            submission_type=_str(obj.get("submissionType")),
            submission_state=_str(obj.get("submissionState")),
            status=_str(obj.get("status")),
            publishing_version=_int(obj.get("publishingVersion")),
            slot=_str(obj.get("slot")),
            changed_time=parse_timestamp(obj.get("changedTime"))
            or parse_timestamp(obj.get("lastActionDateTime")),
            created_time=parse_timestamp(obj.get("createdDateTime"))
            or parse_timestamp(obj.get("createdTime")),
            raw=dict(obj),
        )

    @property
    def state(self) -> OperationStatus:
        """`submissionState`, else `status`, read as an operation status."""
        state = OperationStatus.parse(self.submission_state)
        if state == OperationStatus.UNKNOWN:
            state = OperationStatus.parse(self.status)
        return state

    @property
    def is_go_live(self) -> bool:
        """A go-live, however spelled: `goLive`, `GoLive`, `go-live`, `goLiveSubmission`...;
        with no type the production slot says it (a go-live is the only production write)."""
        kind = submission_kind(self.submission_type)
        if kind.startswith("golive") or kind in ("live", "production"):
            return True
        return not kind and enum_key(self.slot) in ("production", "live")

    @property
    def is_publish(self) -> bool:
        kind = submission_kind(self.submission_type)
        if kind.startswith("publish") or kind in ("preview", "staging"):
            return True
        return not kind and enum_key(self.slot) in ("staging", "preview")

    @property
    def is_in_flight(self) -> bool:
        """Running, or in a state we cannot read: never assume such an operation has ended."""
        return self.is_running or self.state == OperationStatus.UNKNOWN

    @property
    def is_running(self) -> bool:
        return self.state in (OperationStatus.RUNNING, OperationStatus.NOT_STARTED)

    @property
    def sort_time(self) -> datetime | None:
        return self.created_time or self.changed_time

    @property
    def error(self) -> str | None:
        value = self.raw.get("error")
        if isinstance(value, Mapping):
            value = value.get("message") or value.get("code")
        return html_to_text(_str(value)) or None
