"""Liberal parsing of the portal's JSON: both spellings, any case, arrays, unknown fields."""

from __future__ import annotations

import pytest

from pulumi_marketplace_provider.partner_portal import (
    OfferState,
    OfferStatus,
    Operation,
    OperationStatus,
    Step,
    StepStatus,
    Submission,
)
from pulumi_marketplace_provider.partner_portal.text import html_to_text

DOC_OPERATION = {
    "status": "running",
    "messages": [],
    "publishingVersion": 2,
    "offerVersion": 1,
    "cancellationRequestState": "canCancel",
    "steps": [
        {"estimatedTimeFrame": "< 15 min", "id": "displaydummycertify",
         "stepName": "Validate Pre-Requisites", "status": "complete", "messages": [],
         "progressPercentage": 100},
        {"estimatedTimeFrame": "< 5 day", "id": "displaycertify", "stepName": "Certification",
         "status": "blocked",
         "messages": [{"messageHtml": "No virtual machine image was found for the plan contoso.",
                       "level": "error", "timestamp": "2017-03-28T19:50:39.5506018Z"}],
         "progressPercentage": 0},
        {"id": "publisher-signoff", "stepName": "Publisher signoff", "status": "notStarted",
         "messages": [], "progressPercentage": 0},
        {"estimatedTimeFrame": "~2-5 days", "id": "live", "stepName": "Live",
         "status": "notStarted", "messages": [], "progressPercentage": 0},
    ],
    "previewLinks": [],
    "liveLinks": [],
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("completed", OperationStatus.SUCCEEDED),
        ("Succeeded", OperationStatus.SUCCEEDED),
        ("SUCCEEDED", OperationStatus.SUCCEEDED),
        ("not started", OperationStatus.NOT_STARTED),
        ("notStarted", OperationStatus.NOT_STARTED),
        ("Not_Started", OperationStatus.NOT_STARTED),
        ("running", OperationStatus.RUNNING),
        ("Failed", OperationStatus.FAILED),
        ("cancelled", OperationStatus.CANCELED),
        ("Canceled", OperationStatus.CANCELED),
        ("somethingNew", OperationStatus.UNKNOWN),
    ],
)
def test_operation_status_spellings(raw: str, expected: OperationStatus) -> None:
    assert Operation.from_json({"status": raw}).status is expected
    assert Operation.from_json({"status": raw}).raw_status == raw


def test_documented_sample_parses_with_every_field() -> None:
    op = Operation.from_json(DOC_OPERATION)
    assert op.status is OperationStatus.RUNNING and not op.is_terminal
    assert op.publishing_version == 2 and op.offer_version == 1
    assert op.cancellation_request_state == "canCancel"
    assert [s.status for s in op.steps] == [
        StepStatus.COMPLETE, StepStatus.BLOCKED, StepStatus.NOT_STARTED, StepStatus.NOT_STARTED
    ]
    assert op.current_step is not None and op.current_step.id == "displaycertify"
    message = op.steps[1].messages[0]
    assert message.level == "error" and message.timestamp is not None
    assert message.timestamp.microsecond == 550601
    # A publish's own steps run up to the sign-off; a go-live's are those after it.
    assert op.progress("publish") == 33.3
    assert op.percent == op.progress("go-live") == 0.0
    assert op.steps[1].time_frame is not None


def test_array_wrapped_operation_and_unknown_fields_are_kept() -> None:
    op = Operation.from_json([{**DOC_OPERATION, "notificationEmails": "a@b.c", "newField": 7}])
    assert op.notification_emails == "a@b.c"
    assert op.extra == {"newField": 7}


@pytest.mark.parametrize("bad", [[], {"messages": []}, "running", 3])
def test_unreadable_operation_is_a_value_error(bad: object) -> None:
    with pytest.raises(ValueError):
        Operation.from_json(bad)


def test_step_reads_misspelt_percentage_and_liberal_statuses() -> None:
    step = Step.from_json({"id": "x", "status": "In Progress", "processPercentage": "40"})
    assert step.progress_percentage == 40.0 and step.status is StepStatus.IN_PROGRESS
    assert Step.from_json({"status": "completed"}).status is StepStatus.COMPLETE
    assert Step.from_json({"status": "waitingForPublisherReview"}).status is (
        StepStatus.WAITING_FOR_PUBLISHER_REVIEW)
    assert Step.from_json({"status": "weird"}).status is StepStatus.UNKNOWN


def test_offer_status_states() -> None:
    for raw, state in [("WaitingForPublisherReview", OfferState.WAITING_FOR_PUBLISHER_REVIEW),
                       ("neverPublished", OfferState.NEVER_PUBLISHED),
                       ("published", OfferState.PUBLISHED),
                       ("Succeeded", OfferState.SUCCEEDED)]:
        status = OfferStatus.from_json({"status": raw, "steps": DOC_OPERATION["steps"],
                                        "notificationEmails": "x@y.z", "other": 1})
        assert status.status is state
        assert status.step("LIVE") is not None
        assert status.extra == {"other": 1}


@pytest.mark.parametrize("kind", ["goLive", "GoLive", "golive", "go-live", "go_live", "GO_LIVE"])
def test_submission_type_compares_loosely(kind: str) -> None:
    sub = Submission.from_json({"id": "1", "submissionType": kind, "submissionState": "running"})
    assert sub.is_go_live and not sub.is_publish and sub.is_running


def test_submission_times_and_state_fallback() -> None:
    sub = Submission.from_json({"id": "1", "submissionType": "Publish", "status": "Completed",
                                "createdDateTime": "2018-03-26T21:46:01.179948Z",
                                "error": {"message": "<b>bad</b> thing"}})
    assert sub.is_publish and sub.state is OperationStatus.SUCCEEDED and not sub.is_running
    assert sub.created_time is not None and sub.created_time.year == 2018
    assert sub.error == "bad thing"
    with pytest.raises(ValueError):
        Submission.from_json({"submissionType": "publish"})


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("No image found.", "No image found."),
        ("<p>Plan <b>contoso</b> failed</p>", "Plan contoso failed"),
        ("a &amp; b&lt;c", "a & b<c"),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("line<br/>next", "line\nnext"),
        ("<script>alert(1)</script>ok", "ok"),
        ("", ""),
    ],
)
def test_html_messages_become_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_a_running_step_without_a_progress_figure_gives_no_percentage() -> None:
    op = Operation.from_json({"status": "running", "steps": [
        {"id": "publisher-signoff", "status": "complete", "progressPercentage": 100},
        {"id": "live-preparation", "status": "complete", "progressPercentage": 100},
        {"id": "live", "status": "inProgress"}]})
    assert op.percent is None
    running = Operation.from_json({"status": "running", "steps": [
        {"id": "displaycertify", "status": "complete", "progressPercentage": 100},
        {"id": "publisher-signoff", "status": "complete", "progressPercentage": 100},
        {"id": "live", "status": "inProgress", "progressPercentage": 40}]})
    assert running.percent == 40.0
