"""Every documented (and our-choice) error answer of the API."""

from __future__ import annotations

import uuid

import pytest
import requests

from marketplace_emulator.harness import RunningEmulator

from ._util import FAST, OFFER, PUB, Api, frozen


@pytest.fixture
def api(emulator: RunningEmulator) -> Api:
    frozen(emulator)
    emulator.admin.put_offer(PUB, OFFER, **FAST)
    return Api(emulator)


def _error(r: requests.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


@pytest.mark.parametrize("version", [None, "", "2016-08-01-preview", "2017-10-30"])
def test_bad_api_version(api: Api, version: str | None) -> None:
    params = {} if version is None else {"api-version": version}
    r = api.s.get(api.base + api.offer_path(), params=params, timeout=10)
    body = _error(r, 400, "InvalidAPIVersion")
    assert body["error"]["message"] == "Invalid api version. Allowed values are [2017-10-31]"


def test_bad_api_version_on_post_changes_nothing(emulator: RunningEmulator, api: Api) -> None:
    r = api.s.post(api.base + api.offer_path(suffix="/publish"), timeout=10)
    _error(r, 400, "InvalidAPIVersion")
    assert emulator.admin.operations(PUB, OFFER) == []


def test_missing_token(api: Api) -> None:
    r = requests.get(api.base + api.offer_path(), params={"api-version": "2017-10-31"}, timeout=10)
    _error(r, 401, "Unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer wrong", "Basic emulator-token", "emulator-token",
                                    "Bearer "])
def test_wrong_token(api: Api, header: str) -> None:
    r = requests.post(
        api.base + api.offer_path(suffix="/golive"),
        params={"api-version": "2017-10-31"}, headers={"Authorization": header}, timeout=10,
    )
    _error(r, 401, "Unauthorized")


def test_token_scheme_is_case_insensitive(api: Api) -> None:
    r = requests.get(
        api.base + api.offer_path(), params={"api-version": "2017-10-31"},
        headers={"Authorization": "bearer emulator-token"}, timeout=10,
    )
    assert r.status_code == 200


def test_unknown_publisher_offer_operation(api: Api) -> None:
    _error(api.get("/api/publishers/nobody/offers"), 404, "PublisherNotFound")
    _error(api.get(api.offer_path("nobody", OFFER)), 404, "PublisherNotFound")
    _error(api.get(api.offer_path(PUB, "nothing")), 404, "OfferNotFound")
    _error(api.publish(PUB, "nothing"), 404, "OfferNotFound")
    _error(api.golive(PUB, "nothing"), 404, "OfferNotFound")
    _error(api.cancel(PUB, "nothing"), 404, "OfferNotFound")
    _error(api.get(api.offer_path(PUB, "nothing", "/status")), 404, "OfferNotFound")
    _error(api.get(api.offer_path(PUB, "nothing", "/submissions/")), 404, "OfferNotFound")
    _error(
        api.get(api.offer_path(suffix=f"/operations/{uuid.uuid4()}")), 404, "OperationNotFound"
    )
    _error(api.get(f"/api/operations/{PUB}${OFFER}$99$preview"), 404, "OperationNotFound")
    _error(api.get(f"/api/operations/{PUB}${OFFER}$x$preview"), 404, "OperationNotFound")
    _error(api.get(f"/api/operations/{PUB}$nothing$1$preview"), 404, "OperationNotFound")
    _error(api.get("/api/operations/garbage"), 404, "OperationNotFound")
    _error(api.get("/api/nothing/here"), 404, "NotFound")
    _error(api.get(api.offer_path(suffix="/bogus")), 404, "NotFound")


def test_second_operation_conflicts(api: Api) -> None:
    assert api.publish().status_code == 202
    body = _error(api.publish(), 409, "OperationInProgress")
    assert "publish" in body["error"]["message"]
    _error(api.golive(), 409, "OperationInProgress")


def test_golive_before_publish(api: Api) -> None:
    _error(api.golive(), 400, "OfferNotReadyForGoLive")


def test_golive_already_live(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, state="live")
    _error(api.golive(), 400, "OfferAlreadyLive")


def test_golive_twice_conflicts(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, state="signoff", **FAST)
    assert api.golive().status_code == 202
    _error(api.golive(), 409, "OperationInProgress")


def test_cancel_idle(api: Api) -> None:
    _error(api.cancel(), 400, "NoOperationInProgress")


def test_wrong_method(api: Api) -> None:
    r = api.s.delete(api.base + api.offer_path(), params={"api-version": "2017-10-31"}, timeout=10)
    _error(r, 405, "MethodNotAllowed")
    assert r.headers["Allow"] == "GET"
    _error(api.get(api.offer_path(suffix="/golive")), 405, "MethodNotAllowed")


def test_request_ids_on_every_answer(api: Api) -> None:
    ok = api.get(api.offer_path())
    bad = requests.get(api.base + "/api/x", timeout=10)
    seen = set()
    for r in (ok, bad, api.publish()):
        rid = r.headers["x-ms-request-id"]
        assert uuid.UUID(rid)
        seen.add(rid)
        assert r.headers["x-ms-correlation-id"]
    assert len(seen) == 3
    r = api.s.get(
        api.base + api.offer_path(), params={"api-version": "2017-10-31"},
        headers={"x-ms-correlation-id": "abc-123"}, timeout=10,
    )
    assert r.headers["x-ms-correlation-id"] == "abc-123"


def test_deleted_offer_is_gone(emulator: RunningEmulator, api: Api) -> None:
    url = api.pointer(api.publish())
    emulator.admin.put_offer(PUB, "other")
    emulator.admin.delete_offer(PUB, OFFER)
    _error(api.get(api.offer_path()), 404, "OfferNotFound")
    assert api.s.get(url, timeout=10).status_code == 404
