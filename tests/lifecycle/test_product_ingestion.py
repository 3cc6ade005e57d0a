"""The LiveOffer contract through Partner Center's Product Ingestion API (`marketplace:api`).

Both hosts, driven over gRPC as the engine drives them, against the emulator's
`/rp/product-ingestion` routes over real HTTP. Exactly once is counted from the emulator's own
records: configure jobs created and configure POSTs that arrived.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from marketplace_emulator.harness import RunningEmulator
from tests.enginedouble import UNKNOWN, EngineDouble, Secret
from tests.lifecycle.support import (
    FAST,
    PLUGIN_TYPE,
    PUBLISHER,
    Flavour,
    edit_state,
    engine,
    fast_steps,
    fault_hits,
    outputs_of,
    plain_text,
    said,
    stack_config,
    stamp,
    wait_until,
)

OFFER = "contoso-pi"
GUID = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}")
# Jobs queue 5 s (emulated); the job ends 10 s before the live submission does.
PI = {"jobStartDelaySeconds": 5, "liveLagSeconds": 10}


@pytest.fixture
def pi_emulator(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    return emulator_factory(time_scale=FAST)


def seed(emulator: RunningEmulator, state: str = "signoff", *, offer: str = OFFER,
         **extra: Any) -> None:
    config: dict[str, Any] = {
        "state": state, "goLiveSteps": fast_steps(), "stepEstimates": False,
        "productIngestion": {**PI, **extra.pop("productIngestion", {})},
    }
    config.update(extra)
    emulator.admin.put_offer(PUBLISHER, offer, **config)


def pi_engine(flavour: Flavour, emulator: RunningEmulator, tmp_path: Path, *,
              extra_env: dict[str, str] | None = None, **extra: Any) -> EngineDouble:
    return engine(flavour, emulator, tmp_path, extra_env=extra_env,
                  config=stack_config(emulator, api="productIngestion", **extra))


def jobs(emulator: RunningEmulator, offer: str = OFFER) -> list[dict[str, Any]]:
    """The go-live jobs (the seed's publish to preview is a job too)."""
    return [j for j in emulator.admin.ingestion_jobs((PUBLISHER, offer))
            if j["internal"]["target"] == "live"]


def live_entries(emulator: RunningEmulator, offer: str = OFFER) -> list[dict[str, Any]]:
    return [s for s in emulator.admin.ingestion_submissions((PUBLISHER, offer))
            if s["target"]["targetType"] == "live"]


def job_state(emulator: RunningEmulator, job_id: str, offer: str = OFFER) -> tuple[str, str]:
    """(jobStatus, jobResult) of one configure job."""
    [job] = [j for j in emulator.admin.ingestion_jobs((PUBLISHER, offer)) if j["jobId"] == job_id]
    return job["jobStatus"], job["jobResult"]


def live_state(emulator: RunningEmulator, job_id: str, offer: str = OFFER) -> tuple[str, str]:
    """(status, result) of the live submission a go-live job started: the go-live itself."""
    [record] = [r for r in emulator.admin.ingestion_product((PUBLISHER, offer))["records"]
                if r["internal"]["job_id"] == job_id and r["internal"]["target"] == "live"]
    return record["status"], record["result"]


def live_id(emulator: RunningEmulator, job: dict[str, Any], offer: str = OFFER) -> str:
    """`submission/<guid>/<n>`: the live submission of a go-live job."""
    guid = emulator.admin.product_guid(PUBLISHER, offer)
    return f"submission/{guid}/{job['internal']['submission']}"


def cancel_posts(emulator: RunningEmulator) -> int:
    """How many `POST configure/<jobId>/cancel` arrived."""
    return len(emulator.admin.requests(method="POST", path="/configure/[^/]+/cancel$"))


def resource(flavour: Flavour, name: str = "live", *, offer: str = OFFER, **props: Any) -> Any:
    return flavour.resource(name, publisherId=PUBLISHER, offerId=offer, **props)


def portal(emulator: RunningEmulator) -> Any:
    """A Product Ingestion session acting as Partner Center's own UI (or another tool)."""
    from tests.emulator._ingestion import Ingestion

    return Ingestion(emulator)


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
    portal(pi_emulator).go_live(pi_emulator.admin.product_guid(PUBLISHER, OFFER))
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


# --------------------------------------------------------------------------------------------
# Counterparts of tests/lifecycle/test_lifecycle.py


def test_refresh_after_the_product_vanished_removes_it(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour)]).raise_for_failure()
        assert eng.refresh().raise_for_failure().op("live") == "refresh"
        assert outputs_of(eng, "live")["status"] == "succeeded"

        pi_emulator.admin.delete_offer(PUBLISHER, OFFER)
        eng.refresh().raise_for_failure()
        assert [r.urn for r in eng.state.resources if r.custom and "LiveOffer" in r.type] == []


@pytest.mark.parametrize("cancel_on_destroy", [True, False])
def test_destroy_cancels_a_go_live_in_flight_only_when_asked(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path, cancel_on_destroy: bool
) -> None:
    """A queued job (Partner Center cancels a go-live only before it starts)."""
    seed(pi_emulator, productIngestion={"jobStartDelaySeconds": 100000})
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour, waitForCompletion=False, cancelOnDestroy=cancel_on_destroy)]
               ).raise_for_failure()
        outputs = outputs_of(eng, "live")
        assert outputs["status"] == "notStarted"
        assert outputs["cancelOnDestroy"] is cancel_on_destroy
        eng.destroy().raise_for_failure()
    [job] = jobs(pi_emulator)
    assert job["jobId"] == outputs["operationId"]
    assert job["jobResult"] == ("cancelled" if cancel_on_destroy else "pending")
    assert cancel_posts(pi_emulator) == int(cancel_on_destroy)
    assert pi_emulator.admin.configure_posts() == 1


def test_destroy_of_a_live_offer_leaves_it_live(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour)]).raise_for_failure()
        job_id = outputs_of(eng, "live")["operationId"]
        result = eng.destroy().raise_for_failure()
    assert cancel_posts(pi_emulator) == 0
    assert live_state(pi_emulator, job_id) == ("completed", "succeeded")
    assert "stays live" in said(result)


def test_bad_ids_fail_check_naming_the_field_and_send_nothing(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        result = eng.up([resource(flavour, "bad", offer="../other?$version=x")])
    error = result.error("bad")
    assert error is not None and "offerId" in error.message
    assert result.calls("Create") == []
    assert pi_emulator.admin.requests() == []


def test_missing_credentials_name_the_settings_and_send_nothing(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    config = {"marketplace:endpoint": pi_emulator.base_url, "marketplace:api": "productIngestion"}
    with engine(flavour, pi_emulator, tmp_path, config=config) as eng:
        result = eng.up([resource(flavour)])
    error = result.error("live")
    assert error is not None
    assert "marketplace:accessToken" in error.message
    assert pi_emulator.admin.requests() == []


def test_the_token_never_reaches_state_or_answers(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    canary = "canary-token-7f3a9c"
    pi_emulator.admin.set_tokens([canary])
    seed(pi_emulator)
    config = stack_config(pi_emulator, api="productIngestion")
    config["marketplace:accessToken"] = Secret(canary)
    with engine(flavour, pi_emulator, tmp_path, config=config) as eng:
        result = eng.up([resource(flavour)]).raise_for_failure()
    assert canary not in (tmp_path / "state.json").read_text()
    for call in result.rpc_calls:
        assert canary not in plain_text(call.response), call.method
        assert canary not in call.message
    assert canary not in result.provider_stderr
    sent = pi_emulator.admin.requests()
    assert sent and all(r["path"].startswith("/rp/product-ingestion/") for r in sent)
    assert all(r["headers"].get("Authorization") == f"Bearer {canary}" for r in sent)


def test_secret_inputs_stay_secret_in_outputs(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        result = eng.up([resource(flavour, triggers=Secret(["build-4711"]))])
        result.raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["triggers"] == Secret(["build-4711"])
    assert "build-4711" not in (tmp_path / "state.json").read_text()
    if flavour.name == "plugin":  # the dynamic host never accepts secrets: the engine re-marks
        assert "build-4711" not in plain_text(result.calls("Create")[0].response)


# --------------------------------------------------------------------------------------------
# Counterparts of tests/lifecycle/test_one_way_door.py: A. exactly once


def test_new_triggers_after_a_failed_publish_to_preview_fail_and_send_nothing(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """A1: v1 live, the publish of v2 to preview failed: new triggers must not report success.
    Partner Center keeps a failed preview's reasons in its job, which no API lists: the error
    names the submission and what it ended as, and where the reasons are."""
    seed(pi_emulator, state="live")
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour, triggers=["v1"])]).raise_for_failure()
        failed = pi_emulator.admin.new_preview((PUBLISHER, OFFER), errors=[{
            "code": "internalServerError",
            "message": "The plan contoso-gen2 has no image in the technical configuration.",
        }])
        result = eng.up([resource(flavour, triggers=["v2"])])
        error = result.error("live")
        assert error is not None, "a go-live that did not happen was reported as success"
        number = failed["id"].rsplit("/", 1)[1]
        assert f"publish to preview (submission {number})" in error.message
        assert "failed" in error.message and "nothing was sent live" in error.message
        assert "Partner Center" in error.message
        recorded = outputs_of(eng, "live")
    assert recorded["triggers"] == ["v1"], "the new intent is not recorded as done"
    assert pi_emulator.admin.configure_posts() == 0


def test_a_publish_to_preview_still_running_is_waited_for_and_never_overtaken(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """A1: v2 is still publishing to preview: nothing is sent until it is there (the wait
    limit says so in words), then v2 goes live once."""
    seed(pi_emulator, state="live")
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour, triggers=["v1"])]).raise_for_failure()
        publishing = pi_emulator.admin.new_preview((PUBLISHER, OFFER), running=True)
        result = eng.up([resource(flavour, triggers=["v2"], waitTimeoutSeconds=1)])
        error = result.error("live")
        assert error is not None
        assert "publish to preview" in error.message and "nothing was sent live" in error.message
        assert outputs_of(eng, "live")["triggers"] == ["v1"]
        assert pi_emulator.admin.configure_posts() == 0
        eng.up([resource(flavour, triggers=["v2"])]).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["status"] == "succeeded" and outputs["submissionId"] == publishing["id"]
    assert pi_emulator.admin.configure_posts() == 1
    assert len(jobs(pi_emulator)) == 2  # the seed's go-live of v1 and ours of v2


def test_a_post_answered_after_the_read_timeout_goes_live_once(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """A2: Partner Center applies the POST only after the client stopped waiting for it."""
    seed(pi_emulator)
    pi_emulator.admin.add_fault("delay", "/rp/product-ingestion/configure$", "POST", delay=3.0)
    env = {"MARKETPLACE_READ_TIMEOUT_SECONDS": "1"}
    with pi_engine(flavour, pi_emulator, tmp_path, extra_env=env) as eng:
        eng.up([resource(flavour)])
        outputs = outputs_of(eng, "live")
    [job] = jobs(pi_emulator)
    assert outputs["status"] == "succeeded"
    assert outputs["operationId"] == outputs["submissionId"] == live_id(pi_emulator, job)
    assert pi_emulator.admin.configure_posts() == 1


def test_an_unanswered_post_is_never_sent_twice_in_one_up(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """A2: a 5xx may have been applied: list until the deadline, record it, never re-POST."""
    seed(pi_emulator)
    pi_emulator.admin.add_fault("status", "/rp/product-ingestion/configure$", "POST",
                                status=503)
    program = [resource(flavour, waitTimeoutSeconds=3)]
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        first = eng.up(program)
        error = first.error("live")
        assert error is not None and "NOT sent again" in error.message
        assert pi_emulator.admin.configure_posts() == 1
        recorded = outputs_of(eng, "live")
        assert recorded["status"] == "unknown" and not recorded.get("operationId")
        # Long enough for the first status poll (Partner Center asks for one a minute; the
        # provider's first comes after 10 s): the go-live itself takes about 3 s here.
        eng.up([resource(flavour, waitTimeoutSeconds=60)]).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["status"] == "succeeded"
    assert pi_emulator.admin.configure_posts() == 2
    assert len(jobs(pi_emulator)) == 1


def test_an_unanswered_post_that_started_nothing_is_not_taken_for_an_earlier_go_live(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """A2: v1 went live minutes ago; the POST for v2 got a 503 and started nothing: the next
    `up` must not take v1's live submission for the go-live it looks for (a different preview,
    an earlier intent), but send v2 once."""
    seed(pi_emulator, state="live")
    v2 = pi_emulator.admin.new_preview((PUBLISHER, OFFER))
    pi_emulator.admin.add_fault("status", "/rp/product-ingestion/configure$", "POST",
                                status=503)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        first = eng.up([resource(flavour, waitTimeoutSeconds=3)])
        assert first.error("live") is not None
        assert outputs_of(eng, "live")["status"] == "unknown"
        eng.up([resource(flavour, waitTimeoutSeconds=60)]).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["submissionId"] == v2["id"] and outputs["status"] == "succeeded"
    assert pi_emulator.admin.configure_posts() == 2
    assert len(jobs(pi_emulator)) == 2  # the seed's go-live of v1 and ours of v2


def test_a_post_applied_after_the_deadline_is_found_by_the_next_up_not_sent_again(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """A2: Partner Center applies the POST after the resource's deadline passed: the step
    fails as unconfirmed; the next `up` finds that go-live (not the offer's older one) and
    records it as this resource's, with nothing sent."""
    seed(pi_emulator, state="live")
    pi_emulator.admin.new_preview((PUBLISHER, OFFER))
    [older] = jobs(pi_emulator)
    pi_emulator.admin.add_fault("delay", "/rp/product-ingestion/configure$", "POST", delay=4.0)
    env = {"MARKETPLACE_READ_TIMEOUT_SECONDS": "1"}
    program = [resource(flavour, waitTimeoutSeconds=2)]
    with pi_engine(flavour, pi_emulator, tmp_path, extra_env=env) as eng:
        first = eng.up(program)
        assert first.error("live") is not None
        assert outputs_of(eng, "live")["status"] == "unknown"
        wait_until(lambda: len(jobs(pi_emulator)) == 2, 30)
        ours = jobs(pi_emulator)[1]
        wait_until(lambda: live_state(pi_emulator, ours["jobId"]) == ("completed", "succeeded"),
                   30)
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["operationId"] == live_id(pi_emulator, ours) != live_id(pi_emulator, older)
    assert outputs["status"] == "succeeded" and outputs["adopted"] is False
    assert pi_emulator.admin.configure_posts() == 1


@pytest.mark.parametrize("answer", ["in-time", "after-the-read-timeout"])
def test_cancel_while_the_post_is_in_flight_records_the_go_live(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path, answer: str
) -> None:
    """A3: Ctrl-C during the POST: the go-live it starts is in the partial state, by its job
    when the answer came, by its live submission when it was found by listing. Partner Center
    cancels jobs only, so destroy cancels the first and says it cannot cancel the second."""
    seed(pi_emulator, productIngestion={"jobStartDelaySeconds": 100000})
    held = pi_emulator.admin.add_fault("delay", "/rp/product-ingestion/configure$", "POST",
                                       delay=2.0)
    env = {"MARKETPLACE_READ_TIMEOUT_SECONDS": "1"} if answer != "in-time" else {}
    program = [resource(plugin, cancelOnDestroy=True)]
    with pi_engine(plugin, pi_emulator, tmp_path, extra_env=env) as eng:
        results: list[Any] = []
        runner = threading.Thread(target=lambda: results.append(eng.up(program)))
        runner.start()
        wait_until(lambda: fault_hits(pi_emulator, held) == 1, timeout=30)
        eng.cancel()
        runner.join(timeout=60)
        assert not runner.is_alive()
        assert pi_emulator.admin.configure_posts() == 1
        error = results[0].error("live")
        assert error is not None and error.init_failed is not None
        recorded = outputs_of(eng, "live")
        [job] = jobs(pi_emulator)
        expected = job["jobId"] if answer == "in-time" else live_id(pi_emulator, job)
        assert recorded["operationId"] == expected
        destroyed = eng.destroy().raise_for_failure()
    if answer == "in-time":
        assert job_state(pi_emulator, job["jobId"]) == ("completed", "cancelled")
    else:
        assert "refused to cancel" in said(destroyed) and "cancels configure jobs only" in said(
            destroyed)
        assert job_state(pi_emulator, job["jobId"]) == ("notStarted", "pending")
    assert pi_emulator.admin.configure_posts() == 1


@pytest.mark.parametrize("change", ["rename", "replacement"])
def test_a_rename_or_a_replacement_never_cancels_the_go_live_the_new_one_waits_on(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path, change: str
) -> None:
    """A4: create-before-delete: the new resource attaches (by the live submission), the old
    one's delete (recorded by the job) must not cancel, even with cancelOnDestroy."""
    seed(pi_emulator, productIngestion={"jobStartDelaySeconds": 100000})
    props: dict[str, Any] = {"waitForCompletion": False, "cancelOnDestroy": True}
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour, "old", **props)]).raise_for_failure()
        first = outputs_of(eng, "old")["operationId"]
        if change == "rename":
            result = eng.up([resource(flavour, "new", **props)]).raise_for_failure()
            name = "new"
            assert eng.state.by_name("old") is None
        else:  # the offer id spelled in another case: the same product, a new resource
            result = eng.up([resource(flavour, "old", offer=OFFER.upper(), **props)])
            result.raise_for_failure()
            name = "old"
            assert result.op("old") == "replace"
        [job] = jobs(pi_emulator)
        assert outputs_of(eng, name)["operationId"] in (first, live_id(pi_emulator, job))
    assert cancel_posts(pi_emulator) == 0
    assert job["jobId"] == first and job_state(pi_emulator, first) == ("notStarted", "pending")
    assert pi_emulator.admin.configure_posts() == 1


def test_a_failed_go_live_without_waiting_surfaces_and_is_retried_once(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """A5: waitForCompletion false: the failure fails the next up with the service's words;
    preview says the up after will send it again, and that up sends it once."""
    words = "Live preparation failed: the offer's legal terms are missing."
    seed(pi_emulator)
    pi_emulator.admin.fail_next_golive((PUBLISHER, OFFER), [
        {"code": "businessValidationError", "message": words}])
    program = [resource(flavour, waitForCompletion=False)]
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
        first = outputs_of(eng, "live")["operationId"]
        wait_until(lambda: job_state(pi_emulator, first) == ("completed", "failed"), 30)
        failing = eng.up(program)
        error = failing.error("live")
        assert error is not None and words in error.message
        assert outputs_of(eng, "live")["status"] == "failed"
        assert pi_emulator.admin.configure_posts() == 1, "retried at most once per up"
        preview = eng.preview(program)
        assert "will send the offer live again" in said(preview)
        assert pi_emulator.admin.configure_posts() == 1
        eng.up(program).raise_for_failure()
        assert pi_emulator.admin.configure_posts() == 2
        assert outputs_of(eng, "live")["operationId"] != first
    assert len(jobs(pi_emulator)) == 2


def test_import_of_an_offer_whose_only_go_live_failed_is_not_adopted(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    pi_emulator.admin.fail_next_golive((PUBLISHER, OFFER), [
        {"code": "internalServerError", "message": "Certification failed: no image."}])
    job_id = portal(pi_emulator).go_live(pi_emulator.admin.product_guid(PUBLISHER, OFFER))["jobId"]
    wait_until(lambda: live_state(pi_emulator, job_id) == ("completed", "failed"), 30)
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        result = eng.import_(PLUGIN_TYPE, "imported", f"{PUBLISHER}/{OFFER}")
        assert eng.state.by_name("imported") is None, "nothing adopted"
    error = result.error("imported")
    assert error is not None and "is not live" in error.message and "failed" in error.message
    assert pi_emulator.admin.configure_posts() == 1  # the portal's own


def test_a_status_the_provider_cannot_read_is_resumed_not_sent_again(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """A6: a recorded status we do not know is never taken for an end."""
    seed(pi_emulator)
    program = [resource(flavour, waitForCompletion=False)]
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
        first = outputs_of(eng, "live")["operationId"]
        edit_state(eng, "live", status="unknown")
        wait_until(lambda: live_state(pi_emulator, first) == ("completed", "succeeded"), 30)
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["operationId"] == first and outputs["status"] == "succeeded"
    assert outputs["adopted"] is False
    assert pi_emulator.admin.configure_posts() == 1


def test_cancel_while_a_lost_post_is_reconciled_records_that_it_may_have_started(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """The POST got a 503 and nothing shows up during the cancel grace: the partial state
    says `unknown`, so the next `up` looks before it sends."""
    seed(pi_emulator)
    pi_emulator.admin.add_fault("status", "/rp/product-ingestion/configure$", "POST",
                                status=503)
    program = [resource(plugin)]
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        results: list[Any] = []
        runner = threading.Thread(target=lambda: results.append(eng.up(program)))
        runner.start()
        wait_until(lambda: pi_emulator.admin.configure_posts() == 1, timeout=30)
        eng.cancel()
        runner.join(timeout=90)
        assert not runner.is_alive()
        error = results[0].error("live")
        assert error is not None and "may have started" in error.message
        recorded = outputs_of(eng, "live")
        assert recorded["status"] == "unknown" and not recorded.get("operationId")
        eng.up(program).raise_for_failure()
    assert pi_emulator.admin.configure_posts() == 2
    assert len(jobs(pi_emulator)) == 1


@pytest.mark.parametrize("known_by", ["job", "live-submission"])
def test_a_go_live_cancelled_in_partner_center_fails_the_next_up_without_waiting(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path, known_by: str
) -> None:
    """waitForCompletion false; someone cancels the configure job in Partner Center: the next
    `up` says so and records it canceled (the one after sends it again). Also when the resource
    knows the go-live only by its live submission (it attached to one started in Partner
    Center), whose entry the cancel removes from the list."""
    seed(pi_emulator, productIngestion={"jobStartDelaySeconds": 100000})
    guid = pi_emulator.admin.product_guid(PUBLISHER, OFFER)
    program = [resource(flavour, waitForCompletion=False)]
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        if known_by == "live-submission":
            job_id = portal(pi_emulator).go_live(guid)["jobId"]
        eng.up(program).raise_for_failure()
        recorded = outputs_of(eng, "live")["operationId"]
        if known_by == "job":
            job_id = recorded
        else:
            assert recorded == live_id(pi_emulator, jobs(pi_emulator)[0])
        posts = pi_emulator.admin.configure_posts()
        portal(pi_emulator).ok(portal(pi_emulator).post(f"configure/{job_id}/cancel"))
        result = eng.up(program)
        error = result.error("live")
        assert error is not None and "was canceled" in error.message
        assert "Partner Center" in error.message
        assert outputs_of(eng, "live")["status"] == "canceled"
        assert pi_emulator.admin.configure_posts() == posts, "not sent again by that up"
        eng.up(program).raise_for_failure()  # the one after sends it again, once
        assert pi_emulator.admin.configure_posts() == posts + 1
    assert len(jobs(pi_emulator)) == 2


# --------------------------------------------------------------------------------------------
# B. Waits that respect their limits, and transient means transient


def test_a_throttled_process_never_sends_a_configure_post_past_its_deadline(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """B8: one 429 with Retry-After 60 closes the shared gate; a resource with a 5 s limit
    must give up at its limit without sending anything."""
    for name in ("first", "second"):
        seed(pi_emulator, offer=name)
    first, second = (pi_emulator.admin.product_guid(PUBLISHER, n) for n in ("first", "second"))
    pi_emulator.admin.add_fault("status", f"/submission/{first}$", "GET", status=429,
                                retry_after=60)
    pi_emulator.admin.add_fault("delay", f"/submission/{second}$", "GET", delay=1.5)
    program = [resource(flavour, name, offer=name, waitTimeoutSeconds=5)
               for name in ("first", "second")]
    started = time.monotonic()
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        result = eng.up(program)
    elapsed = time.monotonic() - started
    assert result.error("second") is not None
    assert jobs(pi_emulator, "second") == [], "no go-live after the deadline"
    assert elapsed < 40, f"a wait outlived its 5 s limit: {elapsed:.0f} s"


def test_transient_errors_are_retried_on_refresh_and_on_a_create_that_does_not_wait(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """B9: one 503 right after the go-live was accepted, and on refresh, is not a failure."""
    seed(pi_emulator)
    pi_emulator.admin.add_fault("status", "/configure/[^/]+/status$", "GET", status=503)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour, waitForCompletion=False)]).raise_for_failure()
        pi_emulator.admin.add_fault("status", "/rp/product-ingestion/product$", "GET",
                                    status=503)
        pi_emulator.admin.add_fault("status", "/configure/[^/]+/status$", "GET", status=429,
                                    retry_after=1)
        eng.refresh().raise_for_failure()
        assert outputs_of(eng, "live")["operationId"]
    assert all(f["remaining"] == 0 for f in pi_emulator.admin.faults()), "every fault was hit"
    assert pi_emulator.admin.configure_posts() == 1


def test_destroy_is_bounded_when_the_service_refuses_or_never_ends_the_cancel(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """B11: a refused cancel, and a cancel that never finishes, both end within the limit."""
    seed(pi_emulator, offer="refused", productIngestion={"jobStartDelaySeconds": 100000})
    seed(pi_emulator, offer="slow", productIngestion={"jobStartDelaySeconds": 100000,
                                                      "cancelSeconds": 100000})
    program = [resource(flavour, name, offer=name, waitForCompletion=False,
                        cancelOnDestroy=True, waitTimeoutSeconds=3)
               for name in ("refused", "slow")]
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
        [refused] = jobs(pi_emulator, "refused")
        pi_emulator.admin.add_fault("status", f"/configure/{refused['jobId']}/cancel$", "POST",
                                    status=400, times=None)
        started = time.monotonic()
        result = eng.destroy()
        elapsed = time.monotonic() - started
    assert elapsed < 40, f"destroy waited {elapsed:.0f} s"
    assert result.error("refused") is None
    assert "refused to cancel" in said(result)
    error = result.error("slow")
    assert error is not None and "may still go live" in error.message


# --------------------------------------------------------------------------------------------
# C. State that stays usable


def test_a_recorded_job_the_service_does_not_know_is_reconciled(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """C12: a 404 for the recorded configure job: look among the product's live submissions
    (no API lists jobs), so the go-live is then known by its live submission."""
    seed(pi_emulator)
    program = [resource(flavour)]
    bogus = "00000000-0000-4000-8000-000000000000"
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
        real = outputs_of(eng, "live")["submissionId"]
        edit_state(eng, "live", operationId=bogus, status="running")
        eng.refresh().raise_for_failure()
        assert outputs_of(eng, "live")["operationId"] == real
        edit_state(eng, "live", operationId=bogus, status="running")
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["operationId"] == real and outputs["status"] == "succeeded"
    assert pi_emulator.admin.configure_posts() == 1


def test_changing_the_endpoint_spelling_keeps_the_stack_working(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """C13: 127.0.0.1 -> localhost: refresh, up and destroy still work."""
    seed(pi_emulator, goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 4000}])
    program = [resource(flavour, waitForCompletion=False)]
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
    moved = stack_config(pi_emulator, api="productIngestion")
    moved["marketplace:endpoint"] = pi_emulator.base_url.replace("127.0.0.1", "localhost")
    with engine(flavour, pi_emulator, tmp_path, config=moved) as eng:
        eng.refresh().raise_for_failure()  # the engine refreshes with the recorded provider
        eng.up(program).raise_for_failure()
        assert outputs_of(eng, "live")["operationUrl"].startswith("http://localhost:")
        eng.refresh().raise_for_failure()
        eng.destroy().raise_for_failure()
    assert pi_emulator.admin.configure_posts() == 1


def test_destroy_after_the_go_live_ended_says_the_offer_is_live(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """C14: recorded as not started, succeeded since: the message must not say nothing was
    sent."""
    seed(pi_emulator)
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up([resource(flavour, waitForCompletion=False)]).raise_for_failure()
        job_id = outputs_of(eng, "live")["operationId"]
        wait_until(lambda: live_state(pi_emulator, job_id) == ("completed", "succeeded"), 30)
        result = eng.destroy().raise_for_failure()
    text = said(result)
    assert "stays live" in text and "nothing was sent" not in text


def test_both_hosts_record_the_same_outputs_after_a_wait_limit_and_a_rerun(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """C14: the wait limit passes, the go-live ends, `up` again: not adopted, finishedAt set."""
    seed(pi_emulator, goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 60}])
    program = [resource(flavour, waitTimeoutSeconds=1)]
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        first = eng.up(program)
        assert first.error("live") is not None
        recorded = outputs_of(eng, "live")
        assert recorded["status"] in ("notStarted", "running")
        wait_until(lambda: live_state(pi_emulator, recorded["operationId"])
                   == ("completed", "succeeded"), 30)
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    [job] = jobs(pi_emulator)
    assert outputs["operationId"] == recorded["operationId"] == job["jobId"]
    assert outputs["status"] == "succeeded" and outputs["adopted"] is False
    assert outputs["finishedAt"] and outputs["jobResult"] == "succeeded"
    assert outputs["submissionId"] == live_id(pi_emulator, job)
    assert pi_emulator.admin.configure_posts() == 1


# --------------------------------------------------------------------------------------------
# Behaviour the Partner Portal's mutation sample pinned


def test_a_409_on_the_post_with_nothing_running_is_an_error_not_live(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    pi_emulator.admin.add_fault("status", "/rp/product-ingestion/configure$", "POST",
                                status=409, message="Another change is being applied.")
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        result = eng.up([resource(flavour)])
        error = result.error("live")
        assert error is not None
        assert "Another change is being applied" in error.message
        assert "nothing was sent live" in error.message
        state = eng.state.by_name("live")
    assert state is None or state.outputs.get("status") != "succeeded"
    assert jobs(pi_emulator) == []


def test_update_resumes_the_recorded_go_live_and_never_sends_a_newer_preview(
    flavour: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Same triggers after a wait limit: resume the recorded go-live; a preview published
    since is a new intent only when the triggers say so."""
    seed(pi_emulator, goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 60}])
    program = [resource(flavour, waitTimeoutSeconds=1)]
    with pi_engine(flavour, pi_emulator, tmp_path) as eng:
        eng.up(program)
        job_id = outputs_of(eng, "live")["operationId"]
        wait_until(lambda: live_state(pi_emulator, job_id) == ("completed", "succeeded"), 30)
        pi_emulator.admin.new_preview((PUBLISHER, OFFER))
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["operationId"] == job_id and outputs["status"] == "succeeded"
    assert pi_emulator.admin.configure_posts() == 1


def test_a_refused_token_is_final_not_retried_as_transient(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """A 401 is final: a static token cannot be refreshed, so it is sent once."""
    seed(pi_emulator)
    pi_emulator.admin.add_fault("status", "/submission/", "GET", status=401, times=None)
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        result = eng.up([resource(plugin)])
    error = result.error("live")
    assert error is not None and "cannot be refreshed" in error.message
    assert len(pi_emulator.admin.requests(method="GET", path="/submission/")) == 1
    assert pi_emulator.admin.configure_posts() == 0


@pytest.mark.parametrize("status", [429, 503])
def test_a_listing_refused_with_retry_after_waits_as_told(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path, status: int
) -> None:
    seed(pi_emulator)
    pi_emulator.admin.add_fault("status", "/submission/", "GET", status=status, retry_after=2)
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        eng.up([resource(plugin)]).raise_for_failure()
    lists = pi_emulator.admin.requests(method="GET", path="/submission/")
    assert len(lists) >= 2
    gap = stamp(lists[1]["time"]) - stamp(lists[0]["time"])
    assert gap >= 1.9, f"Retry-After: 2 was not honoured ({gap:.2f} s)"


# --------------------------------------------------------------------------------------------
# Counterparts of tests/lifecycle/test_plugin.py and test_plugin_messages.py (plugin only)


def test_import_adopts_an_offer_already_live(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator, state="live")
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        eng.import_(PLUGIN_TYPE, "adopted", f"{PUBLISHER}/{OFFER}").raise_for_failure()
        outputs = outputs_of(eng, "adopted")
        assert outputs["status"] == "succeeded" and outputs["adopted"] is True
        assert outputs["operationId"] == outputs["submissionId"]
        # The program now declares it: nothing to do, nothing sent live.
        same = eng.up([resource(plugin, "adopted")])
        assert same.raise_for_failure().op("adopted") == "same"
    assert pi_emulator.admin.configure_posts() == 0


def test_import_of_an_offer_never_live_says_so(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        result = eng.import_(PLUGIN_TYPE, "adopted", f"{PUBLISHER}/{OFFER}")
    error = result.error("adopted")
    assert error is not None and "never been sent live" in error.message
    assert pi_emulator.admin.configure_posts() == 0


def test_custom_timeout_records_the_operation_and_the_next_up_resumes_it(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator, goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 120}])
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        first = eng.up([resource(plugin, custom_timeouts={"create": "2s"})])
        error = first.error("live")
        assert error is not None and error.init_failed is not None, "partial state returned"
        assert "still running" in error.message
        recorded = outputs_of(eng, "live")
        assert recorded["status"] in ("notStarted", "running") and recorded["operationId"]
        eng.up([resource(plugin)]).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["status"] == "succeeded"
    assert outputs["operationId"] == recorded["operationId"]
    assert pi_emulator.admin.configure_posts() == 1


def _cancel_during(eng: EngineDouble, program: list[Any], started: Callable[[], bool]) -> Any:
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(eng.up(program)))
    runner.start()
    wait_until(started, timeout=30)
    time.sleep(0.5)
    eng.cancel()
    runner.join(timeout=30)
    assert not runner.is_alive(), "Cancel stopped the wait promptly"
    return results[0]


def test_cancel_mid_wait_returns_partial_state_names_the_go_live_and_up_resumes(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator, goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 400}])
    program = [resource(plugin)]
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        result = _cancel_during(eng, program, lambda: pi_emulator.admin.configure_posts() == 1)
        error = result.error("live")
        assert error is not None and error.init_failed is not None
        assert "cancelled while waiting" in error.message
        job_id = outputs_of(eng, "live")["operationId"]
        assert f"Go-live {job_id} was sent" in error.message
        assert "not cancelled in the Partner Center" in error.message
        assert "Partner Portal" not in error.message
        assert job_state(pi_emulator, job_id)[1] == "pending", "not cancelled in Partner Center"
        eng.up(program).raise_for_failure()
        assert outputs_of(eng, "live")["status"] == "succeeded"
    assert pi_emulator.admin.configure_posts() == 1


def test_cancel_before_any_go_live_says_nothing_was_sent(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Ctrl-C while the publish to preview still runs (no go-live sent yet)."""
    seed(pi_emulator, state="publishing",
         publishSteps=[{"id": "displaycertify", "stepName": "Certification", "seconds": 400}])
    program = [resource(plugin)]
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        result = _cancel_during(eng, program, lambda: bool(
            pi_emulator.admin.requests(method="GET", path="/submission/")))
    error = result.error("live")
    assert error is not None
    assert "nothing was sent" in error.message and "resume waiting" not in error.message
    assert "Partner Portal" not in error.message
    assert pi_emulator.admin.configure_posts() == 0


def test_preview_with_unknowns_sends_nothing(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator)
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        result = eng.preview([resource(plugin, triggers=UNKNOWN)]).raise_for_failure()
        creates = result.calls("Create")
        assert len(creates) == 1 and creates[0].request.get("preview") is True
    assert pi_emulator.admin.requests() == []


def test_progress_reaches_the_engine_as_ephemeral_messages(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    seed(pi_emulator, goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 400}])
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        result = eng.up([resource(plugin)]).raise_for_failure()
        urn = eng.urn(PLUGIN_TYPE, "live")
    progress = [log for log in result.engine_logs if log.ephemeral and log.urn == urn]
    assert progress, "at least one progress line"
    assert any("step 'Live submission" in log.message or "step 'Configure job'" in log.message
               for log in progress)
    assert len(progress) < 30, "a modest rate"
    summary = [log for log in result.engine_logs if not log.ephemeral and log.urn == urn]
    assert any("succeeded" in log.message for log in summary)


def test_a_failure_is_shown_once(
    plugin: Flavour, pi_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """The RPC error carries the service's words; no Engine.Log error repeats them."""
    words = "No virtual machine image was found for the plan contoso-gen2."
    seed(pi_emulator)
    pi_emulator.admin.fail_next_golive((PUBLISHER, OFFER), [
        {"code": "businessValidationError", "message": words}])
    with pi_engine(plugin, pi_emulator, tmp_path) as eng:
        result = eng.up([resource(plugin)])
    error = result.error("live")
    assert error is not None and words in error.message
    repeated = [log for log in result.engine_logs if words in log.message and not log.ephemeral]
    assert repeated == [], "the engine would print the failure twice"
    assert not [log for log in result.engine_logs if log.severity == "error"]
