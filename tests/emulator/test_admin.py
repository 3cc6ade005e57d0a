"""Admin API: seeding, offers, tokens, request log, clock, reset, state dump, validation."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from marketplace_emulator.harness import AdminError, RunningEmulator

from ._util import FAST, OFFER, PUB, Api, frozen


def test_health(emulator: RunningEmulator) -> None:
    r = requests.get(emulator.base_url + "/_emulator/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert r.headers["x-ms-request-id"]


def test_put_get_patch_delete_offer(emulator: RunningEmulator) -> None:
    admin = emulator.admin
    created = requests.put(
        emulator.base_url + f"/_emulator/offers/{PUB}/{OFFER}", json={"state": "live"}, timeout=10
    )
    assert created.status_code == 201
    replaced = requests.put(
        emulator.base_url + f"/_emulator/offers/{PUB}/{OFFER}", json={}, timeout=10
    )
    assert replaced.status_code == 200
    dump = admin.get_offer(PUB, OFFER)
    assert dump["status"] == "neverPublished" and dump["operations"] == []
    assert dump["config"]["pointer"] == "migrated"
    assert dump["config"]["signoff"] == "succeeded"
    admin.put_offer(PUB, OFFER, state="signoff")
    ops = admin.operations(PUB, OFFER)
    assert len(ops) == 1 and ops[0]["submissionType"] == "publish"
    patched = admin.patch_offer(PUB, OFFER, pointer="absolute", pollRetryAfter=3)
    assert patched["config"]["pointer"] == "absolute"
    assert len(patched["operations"]) == 1  # kept
    with pytest.raises(AdminError) as info:
        admin.patch_offer(PUB, OFFER, state="draft")
    assert info.value.status == 400
    admin.delete_offer(PUB, OFFER)
    with pytest.raises(AdminError) as info:
        admin.get_offer(PUB, OFFER)
    assert info.value.status == 404
    with pytest.raises(AdminError):
        admin.delete_offer(PUB, OFFER)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "gone"}, "state"),
        ({"pointer": "sideways"}, "pointer"),
        ({"signoff": "maybe"}, "signoff"),
        ({"cancelMode": "later"}, "cancelMode"),
        ({"stepEstimates": "no"}, "stepEstimates"),
        ({"pollRetryAfter": -1}, "pollRetryAfter"),
        ({"pollRetryAfter": 1.5}, "pollRetryAfter"),
        ({"publishSteps": []}, "publishSteps"),
        ({"publishSteps": [{"stepName": "x"}]}, "publishSteps[0].id"),
        ({"goLiveSteps": [{"id": "live", "seconds": -1}]}, "goLiveSteps[0].seconds"),
        ({"goLiveSteps": [{"id": "publisher-signoff"}]}, "goLiveSteps[0].id"),
        ({"goLiveOutcome": {"result": "fail", "atStep": "nope"}}, "goLiveOutcome.atStep"),
        ({"goLiveOutcome": {"result": "explode"}}, "goLiveOutcome.result"),
        ({"publishOutcome": {"stepStatus": "broken"}}, "publishOutcome.stepStatus"),
        ({"colour": "blue"}, "colour"),
        ({"offerId": "different"}, "offerId"),
    ],
)
def test_offer_validation_names_field(emulator: RunningEmulator, body: dict, field: str) -> None:
    r = requests.put(emulator.base_url + f"/_emulator/offers/{PUB}/{OFFER}", json=body, timeout=10)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "InvalidSeed"
    assert err["field"] == field
    assert err["message"].startswith(field)


def test_bad_ids_in_admin_path(emulator: RunningEmulator) -> None:
    r = requests.put(emulator.base_url + "/_emulator/offers/con$toso/x", json={}, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["field"] == "publisherId"


def test_seed_replaces_state_and_validates(emulator: RunningEmulator) -> None:
    admin = emulator.admin
    admin.put_offer(PUB, "old")
    admin.seed({"tokens": ["t1", "t2"], "offers": [
        {"publisherId": PUB, "offerId": OFFER, "state": "live"},
        {"publisherId": "fabrikam", "offerId": "f1"},
    ]})
    assert {o["offerId"] for o in admin.offers()} == {OFFER, "f1"}
    assert admin.tokens() == ["t1", "t2"]
    assert Api(emulator, "t2").get(Api.offer_path()).json()["status"] == "succeeded"
    assert Api(emulator).get(Api.offer_path()).status_code == 401
    cases: list[tuple[dict[str, Any], str]] = [
        ({"offers": [{"offerId": "x"}]}, "offers[0].publisherId"),
        ({"offers": [{"publisherId": PUB, "offerId": "x", "pointer": 3}]}, "offers[0].pointer"),
        ({"offers": [{"publisherId": PUB, "offerId": "x"}, {"publisherId": PUB, "offerId": "X"}]},
         "offers[1].offerId"),
        ({"tokens": "abc"}, "tokens"),
        ({"tokens": [""]}, "tokens[0]"),
        ({"offerz": []}, "offerz"),
    ]
    for bad, field in cases:
        with pytest.raises(AdminError) as info:
            admin.seed(bad)
        assert info.value.body["error"]["field"] == field
    assert {o["offerId"] for o in admin.offers()} == {OFFER, "f1"}  # unchanged


def test_tokens(emulator: RunningEmulator) -> None:
    emulator.admin.put_offer(PUB, OFFER)
    assert emulator.admin.tokens() == ["emulator-token"]
    emulator.admin.set_tokens(["new-token"])
    assert Api(emulator).get(Api.offer_path()).status_code == 401
    assert Api(emulator, "new-token").get(Api.offer_path()).status_code == 200
    emulator.admin.reset()
    assert emulator.admin.tokens() == ["emulator-token"]


def test_request_log(emulator: RunningEmulator) -> None:
    emulator.admin.put_offer(PUB, OFFER, state="signoff")
    api = Api(emulator)
    api.s.headers["x-test"] = "yes"
    api.get(Api.offer_path())
    api.golive()
    api.golive()  # 409, still a POST that arrived
    log = emulator.admin.requests()
    assert [e["method"] for e in log] == ["GET", "POST", "POST"]
    assert [e["status"] for e in log] == [200, 202, 409]
    seqs = [e["seq"] for e in log]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    first = log[0]
    assert first["path"] == f"/api/publishers/{PUB}/offers/{OFFER}"
    assert first["query"] == "api-version=2017-10-31"
    assert first["headers"]["x-test"] == "yes"
    assert first["headers"]["Authorization"] == "Bearer emulator-token"
    assert first["time"].endswith("Z") and first["fault"] is None and first["applied"] is True
    assert emulator.admin.golive_posts(PUB, OFFER) == 2
    assert emulator.admin.golive_posts(PUB, "other") == 0
    assert len(emulator.admin.requests(since=seqs[1])) == 1
    assert len(emulator.admin.requests(method="get")) == 1
    assert len(emulator.admin.requests(path="golive$")) == 2
    # Admin calls are not logged.
    emulator.admin.health()
    assert len(emulator.admin.requests()) == 3
    emulator.admin.clear_requests()
    assert emulator.admin.requests() == []
    api.get(Api.offer_path())
    assert emulator.admin.requests()[0]["seq"] > seqs[-1]


def test_clock_scale_and_advance(emulator: RunningEmulator) -> None:
    admin = emulator.admin
    c = admin.clock()
    assert c["scale"] == 1.0 and c["now"].endswith("Z")
    frozen(emulator)
    t0 = admin.clock()["nowEpoch"]
    t1 = admin.advance(600)["nowEpoch"]
    assert t1 - t0 == pytest.approx(600, abs=0.01)
    admin.set_clock(10_000)
    import time

    time.sleep(0.05)
    assert admin.clock()["nowEpoch"] - t1 > 100
    for bad in ({"scale": -1}, {"scale": "fast"}, {}):
        with pytest.raises(AdminError):
            admin._call("PUT", "/clock", bad)
    with pytest.raises(AdminError):
        admin.advance(-5)
    admin.reset()
    assert admin.clock()["scale"] == 1.0


def test_reset_clears_everything(emulator: RunningEmulator) -> None:
    admin = emulator.admin
    admin.put_offer(PUB, OFFER, **FAST)
    admin.add_fault("status", "/nothing")
    admin.set_throttle(100)
    admin.set_tokens(["x"])
    Api(emulator, "x").publish()
    admin.reset()
    state = admin.state()
    assert state["offers"] == [] and state["faults"] == []
    assert state["throttle"]["maxPerSecond"] is None
    assert state["tokens"] == ["emulator-token"]
    assert admin.requests() == []
    assert Api(emulator).get(f"/api/publishers/{PUB}/offers").status_code == 404


def test_state_dump(emulator: RunningEmulator) -> None:
    emulator.admin.put_offer(PUB, OFFER, state="live")
    state = emulator.admin.state()
    assert set(state) >= {"clock", "tokens", "throttle", "faults", "requestSeq", "offers"}
    offer = state["offers"][0]
    assert offer["status"] == "succeeded"
    assert [o["submissionType"] for o in offer["operations"]] == ["publish", "goLive"]
    assert offer["operations"][0]["internal"]["synthetic"] is True


def test_admin_errors(emulator: RunningEmulator) -> None:
    base = emulator.base_url + "/_emulator"
    assert requests.get(base + "/nope", timeout=10).status_code == 404
    assert requests.post(base + "/health", timeout=10).status_code == 405
    r = requests.put(base + "/seed", data="{", timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequest"
    assert requests.put(base + "/throttle", json={"maxPerSecond": 0}, timeout=10).status_code == 400
    assert requests.put(base + "/throttle", json={"burst": 0.5}, timeout=10).status_code == 400
