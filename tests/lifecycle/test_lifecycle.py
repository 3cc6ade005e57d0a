"""The LiveOffer contract through both hosts, driven over gRPC as the engine drives them.

Every case runs twice: in Pulumi's dynamic host (`python -m pulumi.dynamic`, the pickled
provider in `__provider`) and in our plugin (`python <repo> ... <engine address>`), each
against the emulator over real HTTP.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from marketplace_emulator.harness import RunningEmulator
from tests.enginedouble import Secret
from tests.lifecycle.conftest import SeedOffer
from tests.lifecycle.support import (
    PUBLISHER,
    Flavour,
    api_requests,
    engine,
    golive_posts,
    operation_status,
    outputs_of,
    plain_text,
    publish_to_signoff,
    stack_config,
    wait_until,
)


def test_create_takes_the_offer_live(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer()
    with engine(flavour, fast_emulator, tmp_path) as eng:
        result = eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)])
    result.raise_for_failure()
    state = eng.state.by_name("live")
    assert state is not None
    assert state.id == f"{PUBLISHER}/{offer}"
    assert state.outputs["status"] == "succeeded"
    assert state.outputs["operationUrl"].startswith(fast_emulator.base_url)
    assert state.outputs["finishedAt"]
    assert operation_status(fast_emulator, offer, state.outputs["operationId"]) == "succeeded"
    assert golive_posts(fast_emulator, offer) == 1


def test_failed_go_live_reports_the_portals_words(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    words = "No virtual machine image was found for the plan contoso-gen2."
    offer = seed_offer(goLiveOutcome={"result": "fail", "atStep": "live", "messages": [words]})
    with engine(flavour, fast_emulator, tmp_path) as eng:
        result = eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)])
    error = result.error("live")
    assert error is not None
    assert words in error.message
    go_lives = [
        op
        for op in fast_emulator.admin.operations(PUBLISHER, offer)
        if op["submissionType"] == "goLive"
    ]
    assert len(go_lives) == 1
    operation_id = go_lives[0]["id"]
    assert operation_id in error.message
    assert golive_posts(fast_emulator, offer) == 1


def test_interrupted_create_attaches_on_the_next_up(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """The CLI dies mid-wait (pending create); the next up attaches instead of going live twice."""
    offer = seed_offer(goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 200}])
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer)]
    eng = engine(flavour, fast_emulator, tmp_path)
    runner = threading.Thread(target=eng.up, args=(program,))
    runner.start()
    wait_until(lambda: golive_posts(fast_emulator, offer) == 1, timeout=30)
    eng.terminate()
    runner.join(timeout=30)
    assert eng.state.pending_operations, "the engine keeps a pending create"

    with engine(flavour, fast_emulator, tmp_path) as again:
        result = again.up(program)
    result.raise_for_failure()
    assert outputs_of(again, "live")["status"] == "succeeded"
    assert golive_posts(fast_emulator, offer) == 1


def test_new_triggers_make_a_new_go_live(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer()
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(
            [flavour.resource("live", publisherId=PUBLISHER, offerId=offer, triggers=["1.0"])]
        ).raise_for_failure()
        first = outputs_of(eng, "live")["operationId"]

        same = eng.up(
            [flavour.resource("live", publisherId=PUBLISHER, offerId=offer, triggers=["1.0"])]
        )
        assert same.raise_for_failure().op("live") == "same"
        assert golive_posts(fast_emulator, offer) == 1

        publish_to_signoff(fast_emulator, offer)
        result = eng.up(
            [flavour.resource("live", publisherId=PUBLISHER, offerId=offer, triggers=["1.1"])]
        )
        result.raise_for_failure()
        assert result.op("live") == "update"
        outputs = outputs_of(eng, "live")
    assert outputs["status"] == "succeeded"
    assert outputs["operationId"] != first
    assert golive_posts(fast_emulator, offer) == 2


def test_refresh_after_the_offer_vanished_removes_it(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer()
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)]).raise_for_failure()
        refreshed = eng.refresh().raise_for_failure()
        assert refreshed.op("live") == "refresh"
        assert outputs_of(eng, "live")["status"] == "succeeded"

        fast_emulator.admin.delete_offer(PUBLISHER, offer)
        eng.refresh().raise_for_failure()
        assert [r.urn for r in eng.state.resources if r.custom and "LiveOffer" in r.type] == []


@pytest.mark.parametrize("cancel_on_destroy", [True, False])
def test_destroy_cancels_a_go_live_in_flight_only_when_asked(
    flavour: Flavour,
    fast_emulator: RunningEmulator,
    seed_offer: SeedOffer,
    tmp_path: Path,
    cancel_on_destroy: bool,
) -> None:
    offer = seed_offer(goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 2000}])
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up(
            [
                flavour.resource(
                    "live",
                    publisherId=PUBLISHER,
                    offerId=offer,
                    waitForCompletion=False,
                    cancelOnDestroy=cancel_on_destroy,
                )
            ]
        ).raise_for_failure()
        outputs = outputs_of(eng, "live")
        assert outputs["status"] == "running"
        assert outputs["cancelOnDestroy"] is cancel_on_destroy
        eng.destroy().raise_for_failure()
    status = operation_status(fast_emulator, offer, outputs["operationId"])
    assert status == ("canceled" if cancel_on_destroy else "running")
    assert fast_emulator.admin.posts(PUBLISHER, offer, "cancel") == int(cancel_on_destroy)
    assert golive_posts(fast_emulator, offer) == 1


def test_destroy_of_a_live_offer_leaves_it_live(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer()
    with engine(flavour, fast_emulator, tmp_path) as eng:
        eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)]).raise_for_failure()
        eng.destroy().raise_for_failure()
    assert fast_emulator.admin.posts(PUBLISHER, offer, "cancel") == 0
    assert fast_emulator.admin.get_offer(PUBLISHER, offer)["status"] == "succeeded"


def test_bad_ids_fail_check_naming_the_field_and_send_nothing(
    flavour: Flavour, fast_emulator: RunningEmulator, tmp_path: Path
) -> None:
    with engine(flavour, fast_emulator, tmp_path) as eng:
        result = eng.up(
            [flavour.resource("bad", publisherId="contoso", offerId="../other?api-version=x")]
        )
    error = result.error("bad")
    assert error is not None and "offerId" in error.message
    assert result.calls("Create") == []
    assert api_requests(fast_emulator) == []


def test_missing_credentials_name_the_settings_and_send_nothing(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer()
    config = {"marketplace:endpoint": fast_emulator.base_url}
    with engine(flavour, fast_emulator, tmp_path, config=config) as eng:
        result = eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)])
    error = result.error("live")
    assert error is not None
    assert "marketplace:accessToken" in error.message
    assert api_requests(fast_emulator) == []


def test_the_token_never_reaches_state_or_answers(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    canary = "canary-token-7f3a9c"
    fast_emulator.admin.set_tokens([canary])
    offer = seed_offer()
    config = stack_config(fast_emulator)
    config["marketplace:accessToken"] = Secret(canary)
    with engine(flavour, fast_emulator, tmp_path, config=config) as eng:
        result = eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)])
        result.raise_for_failure()
    assert canary not in (tmp_path / "state.json").read_text()
    for call in result.rpc_calls:
        assert canary not in plain_text(call.response), call.method
        assert canary not in call.message
    assert canary not in result.provider_stderr
    assert all(
        r["headers"].get("Authorization") == f"Bearer {canary}" for r in api_requests(fast_emulator)
    )


def test_secret_inputs_stay_secret_in_outputs(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer()
    with engine(flavour, fast_emulator, tmp_path) as eng:
        result = eng.up(
            [
                flavour.resource(
                    "live", publisherId=PUBLISHER, offerId=offer, triggers=Secret(["build-4711"])
                )
            ]
        )
        result.raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["triggers"] == Secret(["build-4711"])
    assert "build-4711" not in (tmp_path / "state.json").read_text()
    create = result.calls("Create")[0]
    if flavour.name == "plugin":  # the dynamic host never accepts secrets: the engine re-marks
        assert "build-4711" not in plain_text(create.response)
