"""The LiveOffer contract through Partner Center's Product Ingestion API (`marketplace:api`).

Both hosts, driven over gRPC as the engine drives them, against the emulator's
`/rp/product-ingestion` routes over real HTTP. Exactly once is counted from the emulator's own
records: configure jobs created and configure POSTs that arrived.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from marketplace_emulator.harness import RunningEmulator
from tests.enginedouble import EngineDouble
from tests.lifecycle.support import (
    FAST,
    PUBLISHER,
    Flavour,
    engine,
    fast_steps,
    outputs_of,
    stack_config,
    wait_until,
)

OFFER = "contoso-pi"
GUID = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}")
# Jobs queue 5 s (emulated); the job ends 10 s before the live submission does.
PI = {"jobStartDelaySeconds": 5, "liveLagSeconds": 10}


@pytest.fixture
def pi_emulator(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    return emulator_factory(time_scale=FAST)


def seed(emulator: RunningEmulator, state: str = "signoff", **extra: Any) -> None:
    config: dict[str, Any] = {
        "state": state, "goLiveSteps": fast_steps(), "stepEstimates": False,
        "productIngestion": {**PI, **extra.pop("productIngestion", {})},
    }
    config.update(extra)
    emulator.admin.put_offer(PUBLISHER, OFFER, **config)


def pi_engine(flavour: Flavour, emulator: RunningEmulator, tmp_path: Path,
              **extra: Any) -> EngineDouble:
    return engine(flavour, emulator, tmp_path,
                  config=stack_config(emulator, api="productIngestion", **extra))


def jobs(emulator: RunningEmulator) -> list[dict[str, Any]]:
    """The go-live jobs (the seed's publish to preview is a job too)."""
    return [j for j in emulator.admin.ingestion_jobs((PUBLISHER, OFFER))
            if j["internal"]["target"] == "live"]


def live_entries(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return [s for s in emulator.admin.ingestion_submissions((PUBLISHER, OFFER))
            if s["target"]["targetType"] == "live"]


def resource(flavour: Flavour, **props: Any) -> Any:
    return flavour.resource("live", publisherId=PUBLISHER, offerId=OFFER, **props)


def test_create_posts_configure_once_and_follows_the_live_submission(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour)]).raise_for_failure()
        out = outputs_of(eng, "live")
    [job] = jobs(pi_emulator)
    assert out["status"] == "succeeded"
    assert out["operationId"] == job["jobId"] and GUID.fullmatch(out["operationId"])
    assert out["operationUrl"] == (
        f"{pi_emulator.base_url}/rp/product-ingestion/configure/{job['jobId']}/status"
    )
    assert out["jobResult"] == "succeeded"
    assert out["productId"] == f"product/{pi_emulator.admin.product_guid(PUBLISHER, OFFER)}"
    # The job ended before the live submission: the resource waited for the submission.
    [live] = [s for s in live_entries(pi_emulator) if s["id"] == out["submissionId"]]
    assert (live["status"], live["result"]) == ("completed", "succeeded")
    assert pi_emulator.admin.configure_posts() == 1
    assert pi_emulator.admin.golive_posts(PUBLISHER, OFFER) == 0  # nothing through the CPP API


def test_an_offer_already_live_is_adopted_without_a_post(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator, state="live")
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour)]).raise_for_failure()
        out = outputs_of(eng, "live")
    assert out["status"] == "succeeded" and out["adopted"] is True
    assert pi_emulator.admin.configure_posts() == 0


def test_a_failed_job_fails_the_step_in_the_services_words(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    pi_emulator.admin.fail_next_golive((PUBLISHER, OFFER), [{
        "code": "internalServerError", "message": "Certification failed for the plan.",
        "details": [{"code": "invalidState",
                     "message": "Certification: the image contoso-gen2 is not generalized."}],
    }])
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        result = eng.up([resource(flavour)])
    error = result.error("live")
    assert error is not None
    assert "the image contoso-gen2 is not generalized" in error.message
    assert "Certification failed: fix" in error.message
    assert "Partner Center go-live" in error.message
    assert len(jobs(pi_emulator)) == 1


def test_a_lost_post_answer_is_reconciled_from_the_submissions_never_resent(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    pi_emulator.admin.add_fault("drop", "/rp/product-ingestion/configure$", "POST")
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour)]).raise_for_failure()
        out = outputs_of(eng, "live")
    assert out["status"] == "succeeded"
    assert out["operationId"].startswith("submission/")  # known by its live submission
    assert pi_emulator.admin.configure_posts() == 1
    assert len(jobs(pi_emulator)) == 1


def test_an_unconfirmed_post_is_never_mistaken_for_an_earlier_intents_go_live(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Found by chaos (productIngestion seed 5): the update's configure POST is reset (it never
    reached the API, which the client cannot know), so the step fails unconfirmed. Refresh and
    the next `up` look for the go-live that POST may have started: the first intent's live
    submission (another preview, created minutes before) is not it. The next `up` sends the new
    preview live, once."""
    seed(pi_emulator)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour, triggers=["1.0"])]).raise_for_failure()
        first = outputs_of(eng, "live")
        pi_emulator.admin.new_preview((PUBLISHER, OFFER))
        pi_emulator.admin.add_fault("reset", "/rp/product-ingestion/configure$", "POST")
        program = [resource(flavour, triggers=["1.1"], waitTimeoutSeconds=6)]
        unconfirmed = eng.up(program)
        assert unconfirmed.error("live") is not None
        assert outputs_of(eng, "live")["status"] == "unknown"
        assert len(jobs(pi_emulator)) == 1
        eng.refresh().raise_for_failure()
        refreshed = outputs_of(eng, "live")
        assert refreshed["status"] == "unknown" and not refreshed.get("operationId"), refreshed
        eng.up(program).raise_for_failure()
        out = outputs_of(eng, "live")
    assert len(jobs(pi_emulator)) == 2
    assert out["status"] == "succeeded"
    assert out["operationId"] != first["operationId"]
    assert out["submissionId"] != first["submissionId"]


def test_a_throttled_post_is_sent_again_and_starts_one_job(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    pi_emulator.admin.add_fault("status", "/rp/product-ingestion/configure$", "POST",
                                status=429, retry_after=1)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour)]).raise_for_failure()
    assert pi_emulator.admin.configure_posts() == 2
    assert len(jobs(pi_emulator)) == 1


def test_a_go_live_started_in_partner_center_is_attached_to(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    from tests.emulator._ingestion import Ingestion

    portal = Ingestion(pi_emulator)
    portal.go_live(pi_emulator.admin.product_guid(PUBLISHER, OFFER))
    wait_until(lambda: any(s["status"] in ("notStarted", "running")
                           for s in live_entries(pi_emulator)), timeout=30)
    before = pi_emulator.admin.configure_posts()
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour)]).raise_for_failure()
        out = outputs_of(eng, "live")
    assert out["status"] == "succeeded" and out["operationId"].startswith("submission/")
    assert pi_emulator.admin.configure_posts() == before
    assert len(jobs(pi_emulator)) == 1


def test_interrupted_create_attaches_on_the_next_up(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator, goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 400}])
    program = [resource(flavour)]
    eng = pi_engine(flavour, pi_emulator, tmp_path)
    runner = threading.Thread(target=eng.up, args=(program,))
    runner.start()
    wait_until(lambda: len(jobs(pi_emulator)) == 1, timeout=60)
    eng.terminate()
    runner.join(timeout=30)
    with pi_engine(flavour, pi_emulator, tmp_path) as again:
        again.up(program).raise_for_failure()
        assert outputs_of(again, "live")["status"] == "succeeded"
    assert len(jobs(pi_emulator)) == 1


def test_new_preview_and_triggers_go_live_again_refresh_changes_nothing(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour, triggers=["1.0"])]).raise_for_failure()
        first = outputs_of(eng, "live")
        eng.refresh().raise_for_failure()
        assert outputs_of(eng, "live")["status"] == "succeeded"
        assert eng.up([resource(flavour, triggers=["1.0"])]).op("live") == "same"
        assert len(jobs(pi_emulator)) == 1

        pi_emulator.admin.new_preview((PUBLISHER, OFFER))
        result = eng.up([resource(flavour, triggers=["1.1"])])
        result.raise_for_failure()
        assert result.op("live") == "update"
        second = outputs_of(eng, "live")
    assert second["status"] == "succeeded"
    assert second["operationId"] != first["operationId"]
    assert second["submissionId"] != first["submissionId"]
    assert len(jobs(pi_emulator)) == 2


def test_destroy_cancels_a_queued_job_when_asked(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator, productIngestion={"jobStartDelaySeconds": 100000})
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        result = eng.up([resource(plugin, waitForCompletion=False, cancelOnDestroy=True)])
        result.raise_for_failure()
        assert outputs_of(eng, "live")["status"] in ("notStarted", "running")
        eng.destroy().raise_for_failure()
    [job] = jobs(pi_emulator)
    assert job["jobResult"] == "cancelled"


def test_a_rename_never_cancels_the_go_live_the_new_name_knows_by_its_submission(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Found by chaos (productIngestion seeds 7006, 7007): create-before-delete. The old
    resource knows the go-live by the configure job it POSTed, the new one attaches to the live
    submission in flight; the old one's delete must not cancel that job, even with
    cancelOnDestroy (it is one go-live with two names)."""
    seed(pi_emulator, productIngestion={"jobStartDelaySeconds": 100000})
    props: dict[str, Any] = {"publisherId": PUBLISHER, "offerId": OFFER,
                             "waitForCompletion": False, "cancelOnDestroy": True}
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([flavour.resource("old", **props)]).raise_for_failure()
        first = outputs_of(eng, "old")["operationId"]
        assert GUID.fullmatch(first)
        eng.up([flavour.resource("new", **props)]).raise_for_failure()
        attached = outputs_of(eng, "new")
        assert eng.state.by_name("old") is None
    [job] = jobs(pi_emulator)
    assert job["jobId"] == first and job["jobStatus"] == "notStarted", job
    [live] = [s for s in live_entries(pi_emulator) if s["id"] == attached["operationId"]]
    assert live["status"] == "notStarted"
    assert not pi_emulator.admin.requests(method="POST", path="/cancel$")
    assert pi_emulator.admin.configure_posts() == 1


def test_a_go_live_known_by_its_submission_and_cancelled_in_partner_center_is_not_success(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """The update's configure answer is lost, so the resource knows its go-live by the live
    submission; someone cancels the queued job in Partner Center, and the submission is no
    longer listed. The next `up` took the offer's older live submission for this go-live's
    success (state said succeeded, the new preview never went live); it must say the go-live
    was canceled, as for a go-live known by its job, and the up after sends it again, once."""
    seed(pi_emulator)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour, triggers=["1.0"])]).raise_for_failure()
        first = outputs_of(eng, "live")
        pi_emulator.admin.patch_offer(PUBLISHER, OFFER,
                                      productIngestion={"jobStartDelaySeconds": 100000})
        pi_emulator.admin.new_preview((PUBLISHER, OFFER))
        pi_emulator.admin.add_fault("drop", "/rp/product-ingestion/configure$", "POST")
        program = [resource(flavour, triggers=["1.1"], waitForCompletion=False)]
        eng.up(program).raise_for_failure()
        known = outputs_of(eng, "live")
        assert known["operationId"].startswith("submission/")
        assert known["status"] in ("notStarted", "running")
        [_, queued] = jobs(pi_emulator)
        from tests.emulator._ingestion import Ingestion

        cancelled = Ingestion(pi_emulator).post(f"configure/{queued['jobId']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        pi_emulator.admin.patch_offer(PUBLISHER, OFFER,
                                      productIngestion={"jobStartDelaySeconds": 5})
        again = [resource(flavour, triggers=["1.1"])]
        seen = eng.up(again)
        error = seen.error("live")
        assert error is not None and "was canceled" in error.message, error
        assert outputs_of(eng, "live")["status"] == "canceled"
        assert len(jobs(pi_emulator)) == 2
        eng.up(again).raise_for_failure()
        out = outputs_of(eng, "live")
    assert first["status"] == "succeeded"
    live = jobs(pi_emulator)
    assert len(live) == 3 and live[-1]["jobResult"] == "succeeded"
    assert out["status"] == "succeeded"
    assert out["submissionId"] == known["operationId"]


def test_settings_of_the_other_api_are_refused_naming_the_key(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    with pi_engine(flavour, pi_emulator, tmp_path, apiVersion="2017-10-31") as eng:
        result = eng.up([resource(flavour)])
    assert result.failed
    text = "\n".join([*(e.message for e in result.errors),
                      *(d.message for d in result.diagnostics)])
    assert "marketplace:apiVersion" in text, text
    assert pi_emulator.admin.requests() == []
