"""Product Ingestion go-live over real HTTP on a frozen clock: job and submission states,
two live entries during a go-live, failures and conflicts as failed jobs, cancel, detail."""

from __future__ import annotations

import pytest

from marketplace_emulator.harness import RunningEmulator

from ._ingestion import Ingestion, live_submission, number, preview_submission, seed_offer
from ._util import OFFER, PUB, frozen


@pytest.fixture
def pi(emulator: RunningEmulator) -> Ingestion:
    frozen(emulator)
    return Ingestion(emulator)


def test_first_go_live_moves_on_the_clock(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    preview = pi.preview(guid)
    assert (preview["status"], preview["result"]) == ("completed", "succeeded")
    n = number(preview["id"])
    assert n > 1 << 60  # large integers like the real ones
    assert pi.entries(guid) == [("draft", 0, None, None), ("preview", n, "completed", "succeeded")]

    accepted = pi.go_live(guid)
    assert (accepted["jobStatus"], accepted["jobResult"]) == ("notStarted", "pending")
    assert accepted["jobEnd"] == "0001-01-01T00:00:00" and accepted["errors"] == []
    job = accepted["jobId"]
    # A first-ever go-live shows one live entry.
    assert ("live", n, "notStarted", "pending") in pi.entries(guid)
    emulator.admin.advance(6)
    assert pi.job(job)["jobStatus"] == "running"
    assert pi.entries(guid)[1] == ("live", n, "running", "pending")
    # Default: the job completes 10 s before the live submission does.
    emulator.admin.advance(10)
    done = pi.job(job)
    assert (done["jobStatus"], done["jobResult"]) == ("completed", "succeeded")
    assert done["jobEnd"] != "0001-01-01T00:00:00" and done["resourceUri"].endswith(job)
    assert pi.entries(guid)[1] == ("live", n, "running", "pending")
    emulator.admin.advance(10)
    assert pi.entries(guid) == [
        ("draft", 0, None, None),
        ("live", n, "completed", "succeeded"),
        ("preview", n, "completed", "succeeded"),
    ]
    detail = pi.ok(pi.get(f"configure/{job}"))
    assert detail["$schema"].endswith("/configure-detail/2022-03-01-preview2")
    assert detail["resources"][0]["id"] == preview["id"]
    assert detail["resources"][0]["target"] == {"targetType": "live"}


def test_two_live_entries_during_a_go_live(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator, state="live")
    old = number(pi.preview(guid)["id"])
    assert pi.entries(guid)[1:] == [("live", old, "completed", "succeeded"),
                                    ("preview", old, "completed", "succeeded")]
    new = number(emulator.admin.new_preview((PUB, OFFER))["id"])
    assert new > old
    pi.go_live(guid)
    emulator.admin.advance(6)
    assert pi.entries(guid)[1:] == [
        ("live", old, "completed", "succeeded"),
        ("live", new, "running", "pending"),
        ("preview", new, "completed", "succeeded"),
    ]
    emulator.admin.advance(30)
    assert pi.entries(guid)[1:] == [("live", new, "completed", "succeeded"),
                                    ("preview", new, "completed", "succeeded")]
    one = pi.ok(pi.get(f"submission/{guid}/{new}"))
    assert one["target"] == {"targetType": "live"} and one["status"] == "completed"


@pytest.mark.parametrize(("lag", "job_at_25", "live_at_25"), [
    (10, "completed", "completed"),  # default shape: the job ended at 15 s
    (0, "completed", "completed"),  # together
    (-5, "running", "completed"),  # the live submission first, the job 5 s later
])
def test_live_lag_orders_job_and_submission(
    emulator: RunningEmulator, pi: Ingestion, lag: float, job_at_25: str, live_at_25: str
) -> None:
    guid = seed_offer(emulator, productIngestion={"jobStartDelaySeconds": 5,
                                                  "liveLagSeconds": lag})
    job = pi.go_live(guid)["jobId"]
    emulator.admin.advance(24)  # the live submission ends at 5 + 20 = 25 s
    expected_job_at_24 = "completed" if lag >= 1 else "running"
    assert (pi.job(job)["jobStatus"], pi.entries(guid)[1][2]) == (expected_job_at_24, "running")
    emulator.admin.advance(1)
    assert (pi.job(job)["jobStatus"], pi.entries(guid)[1][2]) == (job_at_25, live_at_25)


def test_certification_failure_from_the_seed(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator, goLiveOutcome={
        "result": "fail", "messages": ["The image failed certification: no SSH."], "times": 1})
    job = pi.go_live(guid)["jobId"]
    emulator.admin.advance(60)
    done = pi.job(job)
    assert (done["jobStatus"], done["jobResult"]) == ("completed", "failed")
    [error] = done["errors"]
    assert error["code"] == "internalServerError"
    [detail] = error["details"]
    assert detail["code"] == "invalidState" and "certification" in detail["message"].lower()
    assert detail["details"] == []
    assert pi.entries(guid)[1][2:] == ("completed", "failed")
    assert pi.ok(pi.get(f"configure/{job}"))["resources"] == []
    # times: 1 -> the retry of the same preview goes live.
    job = pi.go_live(guid)["jobId"]
    emulator.admin.advance(60)
    assert pi.job(job)["jobResult"] == "succeeded"


def test_admin_fails_the_next_go_live(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    errors = [{"code": "badRequest", "message": "Plan x has no image.",
               "details": [{"code": "businessValidationError", "message": "x",
                            "details": [{"code": "invalidState", "message": "deep"}]}]}]
    dump = emulator.admin.fail_next_golive(guid, errors)
    assert len(dump["pendingFailures"]) == 1
    job = pi.go_live(guid)["jobId"]
    emulator.admin.advance(60)
    failed = pi.job(job)
    assert failed["jobResult"] == "failed"
    assert failed["errors"][0]["details"][0]["details"][0] == {
        "code": "invalidState", "message": "deep", "details": []}


def test_second_go_live_while_one_runs_fails_as_a_job(
    emulator: RunningEmulator, pi: Ingestion
) -> None:
    guid = seed_offer(emulator)
    n = number(pi.preview(guid)["id"])
    first = pi.go_live(guid)["jobId"]
    second = pi.go_live(guid)  # the API accepts it (202) ...
    emulator.admin.advance(5)
    failed = pi.job(second["jobId"])  # ... and the job fails
    assert (failed["jobStatus"], failed["jobResult"]) == ("completed", "failed")
    assert failed["errors"] == [{"code": "internalServerError",
                                 "message": f"An In Progress submission {n} already exists.",
                                 "details": []}]
    emulator.admin.advance(60)
    assert pi.job(first)["jobResult"] == "succeeded"


def test_go_live_of_a_stale_preview_fails_as_a_conflict(
    emulator: RunningEmulator, pi: Ingestion
) -> None:
    guid = seed_offer(emulator)
    stale = pi.preview(guid)["id"]
    emulator.admin.new_preview(guid)
    job = pi.go_live(guid, stale)["jobId"]
    emulator.admin.advance(5)
    assert pi.job(job)["errors"] == [{
        "code": "conflict",
        "message": "The submission cannot be pushed to live as its not the latest submission.",
        "details": []}]


def test_go_live_of_what_is_already_live_fails(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator, state="live")
    job = pi.go_live(guid)["jobId"]
    emulator.admin.advance(5)
    done = pi.job(job)
    assert done["jobResult"] == "failed" and done["errors"][0]["code"] == "conflict"
    assert "already live" in done["errors"][0]["message"]


def test_live_publish_without_id_takes_the_latest_preview(
    emulator: RunningEmulator, pi: Ingestion
) -> None:
    guid = seed_offer(emulator)
    n = number(pi.preview(guid)["id"])
    pi.ok(pi.configure(live_submission(guid, None)), 202)
    assert ("live", n, "notStarted", "pending") in pi.entries(guid)


def test_preview_publish_then_go_live(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator, state="draft")
    assert pi.entries(guid) == [("draft", 0, None, None)]
    missing = pi.get(f"resource-tree/product/{guid}", targetType="preview")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "notFound"
    job = pi.ok(pi.configure(preview_submission(guid)), 202)["jobId"]
    assert pi.entries(guid)[1][0::2] == ("preview", "notStarted")
    emulator.admin.advance(5 + 20)  # FAST publish steps: 20 s
    assert pi.job(job)["jobResult"] == "succeeded"
    tree = pi.ok(pi.get(f"resource-tree/product/{guid}", targetType="preview"))
    assert tree["resources"][-1]["id"] == pi.preview(guid)["id"]
    live_job = pi.go_live(guid)["jobId"]
    emulator.admin.advance(30)
    assert pi.job(live_job)["jobResult"] == "succeeded"


def test_cancel_while_queued_then_not_after(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    job = pi.go_live(guid)["jobId"]
    cancelled = pi.ok(pi.post(f"configure/{job}/cancel"))
    assert (cancelled["jobStatus"], cancelled["jobResult"]) == ("completed", "cancelled")
    assert [e[0] for e in pi.entries(guid)] == ["draft", "preview"]  # nothing went live
    assert pi.job(job)["jobResult"] == "cancelled"
    # A running go-live can no longer be cancelled; a completed one neither.
    job = pi.go_live(guid)["jobId"]
    emulator.admin.advance(6)
    refused = pi.post(f"configure/{job}/cancel")
    assert refused.status_code == 400
    assert refused.json() == {"error": {"code": "badRequest", "message":
                                        "Cannot cancel job, job has already completed.",
                                        "details": []}}
    emulator.admin.advance(60)
    assert pi.post(f"configure/{job}/cancel").status_code == 400


def test_configure_detail_fails_before_completion(
    emulator: RunningEmulator, pi: Ingestion
) -> None:
    guid = seed_offer(emulator)
    job = pi.go_live(guid)["jobId"]
    early = pi.get(f"configure/{job}")
    assert early.status_code == 400 and early.json()["error"]["code"] == "badRequest"
    assert isinstance(early.json()["error"]["details"], list)


def test_a_slow_cancel_is_accepted_then_ends_the_job_later(
    emulator: RunningEmulator, pi: Ingestion
) -> None:
    """`cancelSeconds`: the cancel answers at once, the job holds, then ends cancelled."""
    guid = seed_offer(emulator, productIngestion={"jobStartDelaySeconds": 5,
                                                  "cancelSeconds": 100})
    job = pi.go_live(guid)["jobId"]
    accepted = pi.ok(pi.post(f"configure/{job}/cancel"))
    assert (accepted["jobStatus"], accepted["jobResult"]) == ("notStarted", "pending")
    emulator.admin.advance(50)
    assert (pi.job(job)["jobStatus"], pi.job(job)["jobResult"]) == ("notStarted", "pending")
    assert pi.ok(pi.post(f"configure/{job}/cancel"))["jobResult"] == "pending"  # no sooner
    emulator.admin.advance(51)
    assert pi.job(job)["jobResult"] == "cancelled"
    assert [e[0] for e in pi.entries(guid)] == ["draft", "preview"]  # nothing went live


def test_the_admin_route_publishes_a_preview_that_fails(
    emulator: RunningEmulator, pi: Ingestion
) -> None:
    guid = seed_offer(emulator, state="live")
    errors = [{"code": "internalServerError", "message": "The plan x has no image."}]
    failed = emulator.admin.new_preview(guid, errors=errors)
    assert (failed["status"], failed["result"]) == ("completed", "failed")
    assert pi.preview(guid)["id"] == failed["id"]
    [job] = [j for j in emulator.admin.ingestion_jobs(guid)
             if j["internal"]["submission"] == number(failed["id"])]
    assert job["jobResult"] == "failed" and job["errors"][0]["message"] == errors[0]["message"]
