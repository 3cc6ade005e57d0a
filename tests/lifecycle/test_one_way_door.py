"""The one-way door: exactly one go-live per intent, nothing claimed that did not happen.

Each test reproduces a defect a review found on 432de4c, through both hosts wherever the path
exists in both, against the emulator over real HTTP.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from marketplace_emulator.harness import RunningEmulator
from tests.lifecycle.conftest import SeedOffer
from tests.lifecycle.support import (
    API,
    PLUGIN_TYPE,
    PUBLISHER,
    Flavour,
    edit_state,
    engine,
    fault_hits,
    golive_posts,
    offer_status,
    operation_status,
    outputs_of,
    said,
    stack_config,
    stamp,
    wait_until,
)

LONG = [{"id": "live", "stepName": "Live", "seconds": 4000}]  # 200 s at the tests' pace


def go_lives(emulator: RunningEmulator, offer: str) -> list[dict[str, Any]]:
    return [
        op
        for op in emulator.admin.operations(PUBLISHER, offer)
        if op["submissionType"] == "goLive"
    ]


def publish(emulator: RunningEmulator, offer: str) -> None:
    answer = requests.post(
        f"{emulator.base_url}/api/publishers/{PUBLISHER}/offers/{offer}/publish",
        params=API,
        headers={"Authorization": f"Bearer {emulator.token}"},
        json={"metadata": {}},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text


# --------------------------------------------------------------------------------------------
# A. Exactly once, and nothing claimed that did not happen


def test_new_triggers_after_a_failed_publish_fail_with_its_words(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """A1: v1 live, the publish of v2 failed: new triggers must not report success."""
    words = "The plan contoso-gen2 has no image in the technical configuration."
    offer = seed_offer(state="live")
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(
            [flavour.resource("live", publisherId=PUBLISHER, offerId=offer, triggers=["v1"])]
        ).raise_for_failure()
        fast_emulator.admin.patch_offer(
            PUBLISHER, offer, publishOutcome={"result": "fail", "messages": [words]}
        )
        publish(fast_emulator, offer)
        wait_until(lambda: offer_status(fast_emulator, offer) == "failed", 30)
        result = eng.up(
            [flavour.resource("live", publisherId=PUBLISHER, offerId=offer, triggers=["v2"])]
        )
        error = result.error("live")
        assert error is not None, "a go-live that did not happen was reported as success"
        assert words in error.message and "publish" in error.message
        recorded = outputs_of(eng, "live")
    assert recorded["triggers"] == ["v1"], "the new intent is not recorded as done"
    assert golive_posts(fast_emulator, offer) == 0


def test_a_post_answered_after_the_read_timeout_goes_live_once(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """A2: the portal applies the POST only after the client stopped waiting for its answer."""
    offer = seed_offer()
    fast_emulator.admin.add_fault("delay", "/golive$", method="POST", delay=3.0)
    env = {"MARKETPLACE_READ_TIMEOUT_SECONDS": "1"}
    with engine(flavour, fast_emulator, tmp_path, extra_env=env) as eng:
        eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)])
        outputs = outputs_of(eng, "live")
    assert outputs["status"] == "succeeded"
    assert golive_posts(fast_emulator, offer) == 1
    assert [op["id"] for op in go_lives(fast_emulator, offer)] == [outputs["operationId"]]


def test_an_unanswered_post_is_never_sent_twice_in_one_up(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """A2: a 5xx may have been applied: list until the deadline, record it, never re-POST."""
    offer = seed_offer()
    fast_emulator.admin.add_fault("status", "/golive$", method="POST", status=503)
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                waitTimeoutSeconds=3)]
    with engine(flavour, fast_emulator, tmp_path) as eng:
        first = eng.up(program)
        error = first.error("live")
        assert error is not None and "NOT sent again" in error.message
        assert golive_posts(fast_emulator, offer) == 1
        recorded = outputs_of(eng, "live")
        assert recorded["status"] == "unknown" and not recorded.get("operationId")
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["status"] == "succeeded"
    assert golive_posts(fast_emulator, offer) == 2
    assert len(go_lives(fast_emulator, offer)) == 1


def test_a_post_applied_after_the_deadline_is_found_by_the_next_up_not_sent_again(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """A2: the portal applies the POST only after the resource's deadline passed: the step
    fails as unconfirmed; the next `up` finds that go-live (not the offer's older one) and
    records it as this resource's, with nothing sent."""
    offer = seed_offer(state="live")
    publish(fast_emulator, offer)
    wait_until(lambda: offer_status(fast_emulator, offer) == "waitingForPublisherReview", 30)
    before = {op["id"] for op in go_lives(fast_emulator, offer)}
    fast_emulator.admin.add_fault("delay", "/golive$", method="POST", delay=4.0)
    env = {"MARKETPLACE_READ_TIMEOUT_SECONDS": "1"}
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                waitTimeoutSeconds=2)]
    with engine(flavour, fast_emulator, tmp_path, extra_env=env) as eng:
        first = eng.up(program)
        assert first.error("live") is not None
        assert outputs_of(eng, "live")["status"] == "unknown"
        wait_until(lambda: len(go_lives(fast_emulator, offer)) == 2, 30)
        (ours,) = {op["id"] for op in go_lives(fast_emulator, offer)} - before
        wait_until(lambda: operation_status(fast_emulator, offer, ours) == "succeeded", 30)
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["operationId"] == ours and outputs["status"] == "succeeded"
    assert outputs["adopted"] is False
    assert golive_posts(fast_emulator, offer) == 1


@pytest.mark.parametrize("answer", ["in-time", "after-the-read-timeout"])
def test_cancel_while_the_post_is_in_flight_records_the_go_live(
    plugin: Flavour,
    fast_emulator: RunningEmulator,
    seed_offer: SeedOffer,
    tmp_path: Path,
    answer: str,
) -> None:
    """A3: Ctrl-C during the POST: the go-live it starts is in the partial state, also when
    the POST's answer is lost and the go-live is found by listing within the cancel grace."""
    offer = seed_offer(goLiveSteps=LONG, cancelMode="async")
    held = fast_emulator.admin.add_fault("delay", "/golive$", method="POST", delay=2.0)
    env = {"MARKETPLACE_READ_TIMEOUT_SECONDS": "1"} if answer != "in-time" else {}
    program = [plugin.resource("live", publisherId=PUBLISHER, offerId=offer,
                               cancelOnDestroy=True)]
    with engine(plugin, fast_emulator, tmp_path, extra_env=env) as eng:
        results: list[Any] = []
        runner = threading.Thread(target=lambda: results.append(eng.up(program)))
        runner.start()
        # The fault has matched: the POST has arrived and is held, unanswered (the request log
        # only lists it once answered).
        wait_until(lambda: fault_hits(fast_emulator, held) == 1, timeout=30)
        eng.cancel()
        runner.join(timeout=60)
        assert not runner.is_alive()
        assert golive_posts(fast_emulator, offer) == 1
        error = results[0].error("live")
        assert error is not None and error.init_failed is not None
        recorded = outputs_of(eng, "live")
        assert recorded["operationId"] == go_lives(fast_emulator, offer)[0]["id"]
        eng.destroy().raise_for_failure()
    assert operation_status(fast_emulator, offer, recorded["operationId"]) == "canceled"
    assert golive_posts(fast_emulator, offer) == 1


def test_a_rename_never_cancels_the_go_live_the_new_name_waits_on(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """A4: create-before-delete: the new resource attaches, the old one's delete must not
    cancel, even with cancelOnDestroy."""
    offer = seed_offer(goLiveSteps=LONG)
    props: dict[str, Any] = {"publisherId": PUBLISHER, "offerId": offer,
             "waitForCompletion": False,
             "cancelOnDestroy": True}
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up([flavour.resource("old", **props)]).raise_for_failure()
        first = outputs_of(eng, "old")["operationId"]
        eng.up([flavour.resource("new", **props)]).raise_for_failure()
        assert outputs_of(eng, "new")["operationId"] == first
        assert eng.state.by_name("old") is None
    assert fast_emulator.admin.posts(PUBLISHER, offer, "cancel") == 0
    assert operation_status(fast_emulator, offer, first) == "running"
    assert golive_posts(fast_emulator, offer) == 1


def test_a_failed_go_live_without_waiting_surfaces_and_is_retried_once(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """A5: waitForCompletion false: the failure fails the next up with the portal's words;
    preview says the up after will send it again, and that up sends it once."""
    words = "Live preparation failed: the offer's legal terms are missing."
    offer = seed_offer(goLiveOutcome={"result": "fail", "atStep": "live", "messages": [words],
                                      "times": 1})
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                waitForCompletion=False)]
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
        first = outputs_of(eng, "live")["operationId"]
        wait_until(lambda: operation_status(fast_emulator, offer, first) == "failed", 30)
        failing = eng.up(program)
        error = failing.error("live")
        assert error is not None and words in error.message
        assert outputs_of(eng, "live")["status"] == "failed"
        assert golive_posts(fast_emulator, offer) == 1, "retried at most once per up"
        preview = eng.preview(program)
        assert "will send the offer live again" in said(preview, flavour)
        assert golive_posts(fast_emulator, offer) == 1
        eng.up(program).raise_for_failure()
        assert golive_posts(fast_emulator, offer) == 2
        assert outputs_of(eng, "live")["operationId"] != first


def test_import_of_an_offer_whose_only_go_live_failed_is_not_adopted(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer(goLiveOutcome={"result": "fail", "atStep": "live"})
    requests.post(
        fast_emulator.url(f"/api/publishers/{PUBLISHER}/offers/{offer}/golive"),
        headers=fast_emulator.headers, timeout=10,
    ).raise_for_status()
    wait_until(lambda: offer_status(fast_emulator, offer) == "failed", 30)
    with engine(plugin, fast_emulator, tmp_path) as eng:
        result = eng.import_(PLUGIN_TYPE, "imported", f"{PUBLISHER}/{offer}")
        assert eng.state.by_name("imported") is None, "nothing adopted"
    error = result.error("imported")
    assert error is not None and "is not live" in error.message and "failed" in error.message
    assert golive_posts(fast_emulator, offer) == 1


def test_a_status_the_provider_cannot_read_is_resumed_not_sent_again(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """A6: a recorded status we do not know is never taken for an end."""
    offer = seed_offer()
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                waitForCompletion=False)]
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
        first = outputs_of(eng, "live")["operationId"]
        edit_state(eng, "live", status="unknown")
        wait_until(lambda: operation_status(fast_emulator, offer, first) == "succeeded", 30)
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["operationId"] == first and outputs["status"] == "succeeded"
    assert outputs["adopted"] is False
    assert golive_posts(fast_emulator, offer) == 1


# --------------------------------------------------------------------------------------------
# B. Waits that respect their limits, and transient means transient


def test_a_throttled_process_never_sends_a_go_live_past_its_deadline(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """B8: one 429 with Retry-After 60 closes the shared gate; a resource with a 5 s limit
    must give up at its limit without sending anything."""
    first, second = seed_offer("first"), seed_offer("second")
    fast_emulator.admin.add_fault("status", f"/offers/{first}/submissions", method="GET",
                                  status=429, retry_after=60)
    fast_emulator.admin.add_fault("delay", f"/offers/{second}/submissions", method="GET",
                                  delay=1.5)
    program = [
        flavour.resource(name, publisherId=PUBLISHER, offerId=name, waitTimeoutSeconds=5)
        for name in (first, second)
    ]
    started = time.monotonic()
    with engine(flavour, fast_emulator, tmp_path) as eng:
        result = eng.up(program)
    elapsed = time.monotonic() - started
    assert result.error(second) is not None
    assert golive_posts(fast_emulator, second) == 0, "no go-live after the deadline"
    assert elapsed < 40, f"a wait outlived its 5 s limit: {elapsed:.0f} s"


def test_transient_errors_are_retried_on_refresh_and_on_a_create_that_does_not_wait(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """B9: one 503 right after the go-live was accepted, and on refresh, is not a failure."""
    offer = seed_offer()
    fast_emulator.admin.add_fault("status", "/operations/", method="GET", status=503)
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(
            [flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                              waitForCompletion=False)]
        ).raise_for_failure()
        fast_emulator.admin.add_fault("status", "/status$", method="GET", status=503)
        fast_emulator.admin.add_fault("status", "/operations/", method="GET", status=429,
                                      retry_after=1)
        eng.refresh().raise_for_failure()
        assert outputs_of(eng, "live")["operationId"]
    assert golive_posts(fast_emulator, offer) == 1


def test_destroy_is_bounded_when_the_portal_refuses_or_never_ends_the_cancel(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """B11: a refused cancel, and a cancel that never finishes, both end within the limit."""
    refused = seed_offer("refused", goLiveSteps=LONG)
    slow = seed_offer("slow", goLiveSteps=LONG, cancelMode="async", cancelSeconds=100000)
    fast_emulator.admin.add_fault("status", f"/offers/{refused}/cancel$", method="POST",
                                  status=400, times=None)
    program = [
        flavour.resource(name, publisherId=PUBLISHER, offerId=name, waitForCompletion=False,
                         cancelOnDestroy=True, waitTimeoutSeconds=3)
        for name in (refused, slow)
    ]
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
        started = time.monotonic()
        result = eng.destroy()
        elapsed = time.monotonic() - started
    assert elapsed < 40, f"destroy waited {elapsed:.0f} s"
    assert result.error(refused) is None
    assert "refused to cancel" in said(result, flavour)
    error = result.error(slow)
    assert error is not None and "may still go live" in error.message


# --------------------------------------------------------------------------------------------
# C. State that stays usable


def test_a_recorded_operation_the_portal_does_not_know_is_reconciled(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """C12: a 404 for the recorded operation: look among the offer's operations."""
    offer = seed_offer()
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer)]
    bogus = "00000000-0000-4000-8000-000000000000"
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
        real = outputs_of(eng, "live")["operationId"]
        edit_state(eng, "live", operationId=bogus, status="running")
        eng.refresh().raise_for_failure()
        assert outputs_of(eng, "live")["operationId"] == real
        edit_state(eng, "live", operationId=bogus, status="running")
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["operationId"] == real and outputs["status"] == "succeeded"
    assert golive_posts(fast_emulator, offer) == 1


def test_changing_the_endpoint_spelling_keeps_the_stack_working(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """C13: 127.0.0.1 -> localhost: refresh, up and destroy still work."""
    offer = seed_offer(goLiveSteps=LONG)
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                waitForCompletion=False)]
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
    moved = stack_config(fast_emulator)
    moved["marketplace:endpoint"] = fast_emulator.base_url.replace("127.0.0.1", "localhost")
    with engine(flavour, fast_emulator, tmp_path, config=moved) as eng:
        eng.refresh().raise_for_failure()  # the engine refreshes with the recorded provider
        eng.up(program).raise_for_failure()
        assert outputs_of(eng, "live")["operationUrl"].startswith("http://localhost:")
        eng.refresh().raise_for_failure()
        eng.destroy().raise_for_failure()
    assert golive_posts(fast_emulator, offer) == 1


def test_destroy_after_the_go_live_ended_says_the_offer_is_live(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """C14: recorded as running, succeeded since: the message must not say nothing was sent."""
    offer = seed_offer()
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(
            [flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                              waitForCompletion=False)]
        ).raise_for_failure()
        op = outputs_of(eng, "live")["operationId"]
        wait_until(lambda: operation_status(fast_emulator, offer, op) == "succeeded", 30)
        result = eng.destroy()
        result.raise_for_failure()
    text = said(result, flavour)
    assert "stays live" in text and "nothing was sent" not in text


def test_both_hosts_record_the_same_outputs_after_a_wait_limit_and_a_rerun(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """C14: the wait limit passes, the go-live ends, `up` again: not adopted, finishedAt set."""
    offer = seed_offer(goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 60}])
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                waitTimeoutSeconds=1)]
    with engine(flavour, fast_emulator, tmp_path) as eng:
        first = eng.up(program)
        assert first.error("live") is not None
        recorded = outputs_of(eng, "live")
        assert recorded["status"] == "running"
        wait_until(
            lambda: operation_status(fast_emulator, offer, recorded["operationId"])
            == "succeeded",
            30,
        )
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["operationId"] == recorded["operationId"]
    assert outputs["status"] == "succeeded" and outputs["adopted"] is False
    assert outputs["finishedAt"]
    assert golive_posts(fast_emulator, offer) == 1


# --------------------------------------------------------------------------------------------
# Behaviour the mutation sample showed no test pinned


def test_a_409_on_the_post_with_nothing_running_is_an_error_not_live(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer()
    fast_emulator.admin.add_fault("status", "/golive$", method="POST", status=409,
                                  message="Another change is being applied to the offer.")
    with engine(flavour, fast_emulator, tmp_path) as eng:
        result = eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)])
        error = result.error("live")
        assert error is not None
        assert "Another change is being applied" in error.message
        assert "nothing was sent live" in error.message
        state = eng.state.by_name("live")
    assert state is None or state.outputs.get("status") != "succeeded"


def test_update_resumes_the_recorded_go_live_and_never_sends_a_newer_publish(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """Same triggers after a wait limit: resume the recorded go-live; a publish made since is
    a new intent only when the triggers say so."""
    offer = seed_offer(goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 60}])
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                waitTimeoutSeconds=1)]
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(program)
        op = outputs_of(eng, "live")["operationId"]
        wait_until(lambda: operation_status(fast_emulator, offer, op) == "succeeded", 30)
        publish(fast_emulator, offer)
        wait_until(lambda: offer_status(fast_emulator, offer) == "waitingForPublisherReview", 30)
        eng.up(program).raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["operationId"] == op
    assert golive_posts(fast_emulator, offer) == 1


def test_a_refused_token_is_final_not_retried_as_transient(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """A 401 is final: a static token cannot be refreshed, so it is sent once, not retried
    with backoff as a 5xx would be."""
    offer = seed_offer()
    fast_emulator.admin.add_fault("status", "/submissions", method="GET", status=401,
                                  times=None)
    with engine(plugin, fast_emulator, tmp_path) as eng:
        result = eng.up([plugin.resource("live", publisherId=PUBLISHER, offerId=offer)])
    error = result.error("live")
    assert error is not None and "cannot be refreshed" in error.message
    assert len(fast_emulator.admin.requests(method="GET", path="/submissions")) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_listing_refused_with_retry_after_waits_as_told(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path,
    status: int,
) -> None:
    offer = seed_offer()
    fast_emulator.admin.add_fault("status", "/submissions", method="GET", status=status,
                                  retry_after=2)
    with engine(plugin, fast_emulator, tmp_path) as eng:
        eng.up([plugin.resource("live", publisherId=PUBLISHER, offerId=offer)]
               ).raise_for_failure()
    lists = fast_emulator.admin.requests(method="GET", path="/submissions")
    assert len(lists) >= 2
    gap = stamp(lists[1]["time"]) - stamp(lists[0]["time"])
    assert gap >= 1.9, f"Retry-After: 2 was not honoured ({gap:.2f} s)"


@pytest.mark.parametrize("status", ["unknown", "Queued2"])
def test_unknown_recorded_statuses_resume(status: str) -> None:
    """Pure rule: only an ended status lets update go down the go-live path."""
    from pulumi_marketplace_provider import live_offer

    olds = {"publisherId": "p", "offerId": "o", "triggers": [], "status": status,
            "operationId": "x"}
    decision = live_offer.diff(olds, dict(olds))
    assert decision.changes and decision.warning and "resumes" in decision.warning


def test_cancel_while_a_lost_post_is_reconciled_records_that_it_may_have_started(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """The POST got a 503 and nothing shows up during the cancel grace: the partial state
    says `unknown`, so the next `up` looks before it sends."""
    offer = seed_offer()
    fast_emulator.admin.add_fault("status", "/golive$", method="POST", status=503)
    program = [plugin.resource("live", publisherId=PUBLISHER, offerId=offer)]
    with engine(plugin, fast_emulator, tmp_path) as eng:
        results: list[Any] = []
        runner = threading.Thread(target=lambda: results.append(eng.up(program)))
        runner.start()
        wait_until(lambda: golive_posts(fast_emulator, offer) == 1, timeout=30)
        eng.cancel()
        runner.join(timeout=90)
        assert not runner.is_alive()
        error = results[0].error("live")
        assert error is not None and "may have started" in error.message
        recorded = outputs_of(eng, "live")
        assert recorded["status"] == "unknown" and not recorded.get("operationId")
        eng.up(program).raise_for_failure()
    assert golive_posts(fast_emulator, offer) == 2
    assert len(go_lives(fast_emulator, offer)) == 1


def test_a_go_live_canceled_in_the_portal_fails_the_next_up_without_waiting(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """waitForCompletion false; someone cancels the go-live in Partner Center: the next `up`
    says so in the portal's words and records it canceled (the one after sends it again)."""
    offer = seed_offer(goLiveSteps=LONG)
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                waitForCompletion=False)]
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
        op = outputs_of(eng, "live")["operationId"]
        requests.post(
            fast_emulator.url(f"/api/publishers/{PUBLISHER}/offers/{offer}/cancel"),
            headers=fast_emulator.headers, json={"metadata": {}}, timeout=10,
        ).raise_for_status()
        wait_until(lambda: operation_status(fast_emulator, offer, op) == "canceled", 30)
        result = eng.up(program)
        error = result.error("live")
        assert error is not None and "was canceled" in error.message
        assert outputs_of(eng, "live")["status"] == "canceled"
    assert golive_posts(fast_emulator, offer) == 1
