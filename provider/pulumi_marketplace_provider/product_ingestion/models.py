"""Product Ingestion resources as plain values: product, submission, configure job, job errors.

Parsing is lenient where real clients are (`jobId`/`jobID`, status words in any case) and strict
where a wrong guess could send an offer live twice (a submission without an id is skipped).
Facts: `reference/product-ingestion-api.md` sections 4, 5 and 7.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

PRODUCT_ID = re.compile(r"product/([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})")
SUBMISSION_ID = re.compile(
    r"submission/([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})/(\d{1,25})"
)
JOB_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# What `jobEnd` holds until a job ends.
_NO_END = "0001-01-01"


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _key(value: object) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _field(obj: Mapping[str, Any], *names: str) -> Any:
    """The first of `names` present, compared case-insensitively (`jobId`, `jobID`, ...)."""
    for name in names:
        if name in obj:
            return obj[name]
    lowered = {str(k).lower(): v for k, v in obj.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def parse_time(value: object) -> datetime | None:
    """ISO 8601 with any number of fraction digits; None for `0001-01-01...` or junk."""
    text = _str(value)
    if text is None or text.startswith(_NO_END):
        return None
    match = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?", text.strip()
    )
    if match is None:
        return None
    base, fraction, zone = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    zone = "+00:00" if zone in (None, "Z") else zone
    try:
        moment = datetime.fromisoformat(f"{base}.{micro}{zone}")
    except ValueError:
        return None
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class Product:
    """`GET product?externalId=`: the offer's product; `guid` is what other paths take."""

    durable_id: str
    external_id: str | None
    name: str | None = None

    @property
    def guid(self) -> str:
        match = PRODUCT_ID.fullmatch(self.durable_id)
        assert match is not None  # checked in from_json
        return match.group(1)

    @classmethod
    def from_json(cls, data: object) -> Product:
        if not isinstance(data, Mapping):
            raise ValueError("product: not a JSON object")
        durable = _str(data.get("id"))
        if durable is None or PRODUCT_ID.fullmatch(durable) is None:
            raise ValueError(f"product: id {durable!r} is not product/<guid>")
        identity = data.get("identity")
        external = _str(_field(identity, "externalId")) if isinstance(identity, Mapping) else None
        return cls(durable, external, _str(data.get("name")))


@dataclass(frozen=True)
class IngestionSubmission:
    """One entry of `GET submission/<guid>`: a target (draft, preview, live) and its state.

    `status` is notStarted, running or completed; `result` pending, succeeded or failed (both
    lower-cased here; None for the draft entry, which has neither).
    """

    id: str
    target: str
    status: str | None
    result: str | None
    created: datetime | None

    @property
    def number(self) -> int:
        match = SUBMISSION_ID.fullmatch(self.id)
        assert match is not None  # checked in from_json
        return int(match.group(2))

    @property
    def in_flight(self) -> bool:
        """Not ended: notStarted, running, or a state we cannot read (never taken as ended)."""
        return self.status is not None and self.status != "completed"

    @property
    def succeeded(self) -> bool:
        return self.status == "completed" and self.result == "succeeded"

    @property
    def failed(self) -> bool:
        return self.status == "completed" and self.result != "succeeded"

    @classmethod
    def from_json(cls, data: object) -> IngestionSubmission:
        if not isinstance(data, Mapping):
            raise ValueError("submission: not a JSON object")
        sub_id = _str(data.get("id"))
        if sub_id is None or SUBMISSION_ID.fullmatch(sub_id) is None:
            raise ValueError(f"submission: id {sub_id!r} is not submission/<guid>/<n>")
        target = data.get("target")
        target_type = _field(target, "targetType") if isinstance(target, Mapping) else None
        status = _key(data.get("status")) or None
        return cls(
            id=sub_id,
            target=_key(target_type),
            status=status,
            result=_key(data.get("result")) or None,
            created=parse_time(data.get("created")),
        )


@dataclass(frozen=True)
class JobError:
    """One `errors[]` item of a configure job; `details` nest to any depth."""

    code: str | None
    message: str | None
    resource_id: str | None = None
    details: tuple[JobError, ...] = ()

    @classmethod
    def from_json(cls, data: object, depth: int = 0) -> JobError:
        if not isinstance(data, Mapping):
            return cls(None, _str(data) if isinstance(data, str) else None)
        raw = data.get("details")
        details = (
            tuple(cls.from_json(d, depth + 1) for d in raw[:50])
            if isinstance(raw, list) and depth < 8
            else ()
        )
        return cls(
            _str(data.get("code")),
            _str(data.get("message")),
            _str(_field(data, "resourceId")),
            details,
        )

    def walk(self, depth: int = 0) -> list[tuple[int, JobError]]:
        """This error and its details, depth first, with their depth."""
        out = [(depth, self)]
        for detail in self.details:
            out.extend(detail.walk(depth + 1))
        return out


@dataclass(frozen=True)
class Job:
    """A configure job (`configure-status`): `status` notStarted/running/completed, `result`
    pending/succeeded/failed/cancelled (lower-cased)."""

    job_id: str
    status: str
    result: str
    start: datetime | None
    end: datetime | None
    errors: tuple[JobError, ...] = ()

    @property
    def completed(self) -> bool:
        return self.status == "completed" or self.result in ("succeeded", "failed", "cancelled")

    @property
    def cancelled(self) -> bool:
        return self.result in ("cancelled", "canceled")

    def all_errors(self) -> list[tuple[int, JobError]]:
        out: list[tuple[int, JobError]] = []
        for error in self.errors:
            out.extend(error.walk())
        return out

    def mentions(self, text: str) -> bool:
        """True when any error (at any depth) has `text` in its message, case-insensitively."""
        needle = text.lower()
        return any(needle in (e.message or "").lower() for _, e in self.all_errors())

    @classmethod
    def from_json(cls, data: object) -> Job:
        if not isinstance(data, Mapping):
            raise ValueError("configure status: not a JSON object")
        job_id = _str(_field(data, "jobId"))
        if job_id is None or JOB_ID.fullmatch(job_id) is None:
            raise ValueError(f"configure status: jobId {job_id!r} is not a GUID")
        raw_errors = data.get("errors")
        errors = (
            tuple(JobError.from_json(e) for e in raw_errors[:50])
            if isinstance(raw_errors, list)
            else ()
        )
        return cls(
            job_id=job_id,
            status=_key(_field(data, "jobStatus")) or "notstarted",
            result=_key(_field(data, "jobResult")) or "pending",
            start=parse_time(_field(data, "jobStart")),
            end=parse_time(_field(data, "jobEnd")),
            errors=errors,
        )
