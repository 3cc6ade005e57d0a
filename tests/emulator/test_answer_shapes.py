"""Answer shapes: `linear` (truthful estimates, progress that moves), `portal` (progress 0 until
a step completes, coarse estimates, as the documentation's samples), `mixed` (some of each)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace_emulator.harness import RunningEmulator
from marketplace_emulator.model import Operation, view_operation
from marketplace_emulator.seed import Outcome, SeedError, StepSpec, parse_offer

from ._util import OFFER, PUB, Api, frozen, step

STEPS = [
    {"id": "live-preparation", "stepName": "Prepare", "estimatedTimeFrame": "< 15 min",
     "seconds": 100},
    {"id": "live", "stepName": "Live", "estimatedTimeFrame": "~3-5 minutes", "seconds": 200},
]


@pytest.fixture
def api(emulator: RunningEmulator) -> Api:
    frozen(emulator)
    return Api(emulator)


def _golive(emulator: RunningEmulator, api: Api, shape: str, steps: Any = STEPS) -> str:
    emulator.admin.put_offer(PUB, OFFER, state="signoff", goLiveSteps=steps, answerShape=shape)
    return api.pointer(api.golive())


def _read(api: Api, url: str) -> tuple[str, dict[str, tuple[str, int, str | None]]]:
    doc = api.follow(url)
    return doc["status"], {
        sid: (step(doc, sid)["status"], step(doc, sid)["progressPercentage"],
              step(doc, sid).get("estimatedTimeFrame"))
        for sid in ("live-preparation", "live")
    }


def test_linear_is_the_default_and_tells_the_truth(emulator: RunningEmulator, api: Api) -> None:
    url = _golive(emulator, api, "linear")
    emulator.admin.advance(50)
    _, steps = _read(api, url)
    assert steps["live-preparation"] == ("inProgress", 50, "< 15 min")
    assert steps["live"] == ("notStarted", 0, "~3-5 minutes")


def test_portal_shape_reports_zero_until_complete_and_coarse_estimates(
    emulator: RunningEmulator, api: Api
) -> None:
    url = _golive(emulator, api, "portal")
    emulator.admin.advance(50)
    status, steps = _read(api, url)
    assert status == "running"
    assert steps["live-preparation"] == ("inProgress", 0, "< 1 day")
    assert steps["live"] == ("notStarted", 0, "~2-5 days")
    emulator.admin.advance(150)  # t = 200: the live step half done
    _, steps = _read(api, url)
    assert steps["live-preparation"] == ("complete", 100, "< 1 day")
    assert steps["live"] == ("inProgress", 0, "~2-5 days")
    emulator.admin.advance(99)
    assert _read(api, url)[0] == "running"  # durations are the seed's, whatever the answers say
    emulator.admin.advance(1)
    status, steps = _read(api, url)
    assert status == "succeeded" and steps["live"] == ("complete", 100, "~2-5 days")


def test_mixed_shape_is_honest_on_even_steps_only(emulator: RunningEmulator, api: Api) -> None:
    url = _golive(emulator, api, "mixed")
    emulator.admin.advance(50)
    _, steps = _read(api, url)
    assert steps["live-preparation"] == ("inProgress", 50, "< 15 min")
    emulator.admin.advance(150)
    _, steps = _read(api, url)
    assert steps["live"] == ("inProgress", 0, "~2-5 days")


def test_a_step_can_choose_its_own_shape_and_coarse_estimate(
    emulator: RunningEmulator, api: Api
) -> None:
    steps = [{**STEPS[0], "answerShape": "portal", "portalTimeFrame": "< 2 days"},
             {**STEPS[1], "answerShape": "linear"}]
    url = _golive(emulator, api, "portal", steps)
    emulator.admin.advance(50)
    _, seen = _read(api, url)
    assert seen["live-preparation"] == ("inProgress", 0, "< 2 days")
    emulator.admin.advance(150)
    _, seen = _read(api, url)
    assert seen["live"] == ("inProgress", 50, "~3-5 minutes")


def test_step_estimates_off_still_omits_the_coarse_ones(
    emulator: RunningEmulator, api: Api
) -> None:
    emulator.admin.put_offer(PUB, OFFER, state="signoff", goLiveSteps=STEPS,
                             answerShape="portal", stepEstimates=False)
    url = api.pointer(api.golive())
    emulator.admin.advance(50)
    assert all("estimatedTimeFrame" not in s for s in api.follow(url)["steps"])


def test_bad_shapes_are_refused_naming_the_field() -> None:
    with pytest.raises(SeedError) as exc:
        parse_offer({"publisherId": "p", "offerId": "o", "answerShape": "honest"}, "offers[0]")
    assert exc.value.field == "offers[0].answerShape"
    with pytest.raises(SeedError) as exc:
        parse_offer({"publisherId": "p", "offerId": "o",
                     "goLiveSteps": [{"id": "live", "answerShape": "mixed"}]}, "offers[0]")
    assert exc.value.field == "offers[0].goLiveSteps[0].answerShape"


def test_the_shape_is_kept_in_the_state_file() -> None:
    op = _op((10.0, 20.0), "mixed")
    again = Operation.from_dict(op.to_dict())
    assert again.answer_shape == "mixed"
    assert again.golive_steps == op.golive_steps


def _op(durations: tuple[float, ...], shape: str) -> Operation:
    steps = tuple(StepSpec(f"s{i}", f"Step {i}", "", "< 1 hour", d)
                  for i, d in enumerate(durations))
    return Operation(
        id="00000000-0000-0000-0000-000000000001", kind="goLive", publishing_version=1,
        offer_version=1, created=1000.0, start_delay=0.0, publish_steps=(), golive_steps=steps,
        step_estimates=True, outcome=Outcome(),
        emails=None, answer_shape=shape,
    )


@settings(max_examples=100, deadline=None)
@given(durations=st.lists(st.floats(1, 1e6), min_size=1, max_size=5),
       t=st.floats(0, 6e6), shape=st.sampled_from(["portal", "mixed"]))
def test_portal_shaped_steps_only_ever_say_0_or_100(durations: list[float], t: float,
                                                    shape: str) -> None:
    view = view_operation(_op(tuple(durations), shape), 1000.0 + t)
    own = view.steps[-len(durations):]
    for i, doc in enumerate(own):
        if shape == "portal" or i % 2 == 1:
            assert doc["progressPercentage"] in (0, 100)
            assert doc["progressPercentage"] == 100 or doc["status"] != "complete"
            assert doc["estimatedTimeFrame"] in ("< 1 day", "~2-5 days")
