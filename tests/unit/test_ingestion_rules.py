"""Product Ingestion answers as the go-live rules read them (pure functions, no I/O).

The shapes are the reference's (`reference/product-ingestion-api.md` 5, 7, 8): `jobId` and the
documented `jobID`, status words in any case, `0001-01-01` for a job that has not ended, errors
nested to any depth, two `live` entries while one goes live.
"""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_marketplace_provider.partner_portal.models import OperationStatus
from pulumi_marketplace_provider.product_ingestion.golive import go_live_operation, live_in_flight
from pulumi_marketplace_provider.product_ingestion.models import (
    IngestionSubmission,
    Job,
    Product,
)

GUID = "aaaaaaaa-0000-0000-0000-000000000001"
JOB = "3f2b6c1e-0000-4000-8000-000000000abc"
PRODUCT = Product(f"product/{GUID}", "contoso-vm")


def sub(n: int, target: str, status: str | None, result: str | None,
        created: str = "2026-02-01T09:30:00.000Z") -> IngestionSubmission:
    data: dict[str, Any] = {"id": f"submission/{GUID}/{n}", "target": {"targetType": target},
                            "created": created}
    if status is not None:
        data.update(status=status, result=result)
    return IngestionSubmission.from_json(data)


def job(status: str, result: str, errors: list[Any] | None = None, key: str = "jobId") -> Job:
    return Job.from_json({key: JOB, "jobStatus": status, "jobResult": result,
                          "jobStart": "2026-02-02T10:00:00.1234567Z",
                          "jobEnd": "0001-01-01T00:00:00", "errors": errors or []})


def test_job_parsing_accepts_the_documented_spellings() -> None:
    parsed = job("Running", "Pending", key="jobID")
    assert parsed.job_id == JOB and parsed.status == "running" and not parsed.completed
    assert parsed.end is None and parsed.start is not None
    with pytest.raises(ValueError, match="jobId"):
        Job.from_json({"jobStatus": "running"})


def test_nested_errors_are_all_read_and_matched() -> None:
    failed = job("completed", "failed", [{
        "code": "internalServerError", "message": "Certification failed",
        "details": [{"code": "invalidState", "message": "Certification: image is not sealed",
                     "details": [{"code": "deep", "message": "innermost"}]}],
    }])
    assert [d for d, _ in failed.all_errors()] == [0, 1, 2]
    assert failed.mentions("IMAGE IS NOT SEALED")
    op = go_live_operation(PRODUCT, failed, None)
    assert op.status == OperationStatus.FAILED
    texts = [m.text for m in op.messages]
    assert any("innermost" in t for t in texts)
    assert any("Certification failed: fix" in t for t in texts)


@pytest.mark.parametrize(
    ("the_job", "live", "expected"),
    [
        (job("notStarted", "pending"), None, OperationStatus.NOT_STARTED),
        (job("running", "pending"), None, OperationStatus.RUNNING),
        # The job can end long before the live submission does: status follows the submission.
        (job("completed", "succeeded"), sub(5002, "live", "running", "pending"),
         OperationStatus.RUNNING),
        (job("completed", "succeeded"), None, OperationStatus.RUNNING),
        (job("completed", "succeeded"), sub(5002, "live", "completed", "succeeded"),
         OperationStatus.SUCCEEDED),
        (job("completed", "succeeded"), sub(5002, "live", "completed", "failed"),
         OperationStatus.FAILED),
        (job("completed", "cancelled"), None, OperationStatus.CANCELED),
        (job("completed", "failed"), None, OperationStatus.FAILED),
        (None, sub(5002, "live", "notStarted", "pending"), OperationStatus.RUNNING),
    ],
)
def test_status_follows_the_job_then_the_live_submission(
    the_job: Job | None, live: IngestionSubmission | None, expected: OperationStatus
) -> None:
    op = go_live_operation(PRODUCT, the_job, live)
    assert op.status == expected
    assert op.extra["productId"] == PRODUCT.durable_id
    if live is not None:
        assert op.extra["submissionId"] == live.id


def test_two_live_entries_while_one_goes_live() -> None:
    subs = [
        sub(0, "draft", None, None),
        sub(5001, "live", "completed", "succeeded", "2026-01-10T08:00:00Z"),
        sub(5002, "preview", "completed", "succeeded"),
        sub(5002, "live", "running", "pending", "2026-02-02T10:00:01Z"),
    ]
    flying = live_in_flight(subs)
    assert flying is not None and flying.number == 5002
    # A state we cannot read is never taken as ended.
    odd = sub(5003, "live", "queuedSomehow", "pending")
    assert odd.in_flight and live_in_flight([odd]) == odd
    assert live_in_flight(subs[:3]) is None


def test_unusable_ids_are_refused_not_guessed() -> None:
    with pytest.raises(ValueError):
        IngestionSubmission.from_json({"id": "submission/not-a-guid/1", "target": {}})
    with pytest.raises(ValueError):
        Product.from_json({"id": "plan/x", "identity": {"externalId": "x"}})
