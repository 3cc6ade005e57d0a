"""Injected faults: each kind, whether it applies the request, and how it is logged."""

from __future__ import annotations

import time

import pytest
import requests

from marketplace_emulator.harness import AdminError, RunningEmulator

from ._util import FAST, OFFER, PUB, Api, frozen


@pytest.fixture
def api(emulator: RunningEmulator) -> Api:
    frozen(emulator)
    emulator.admin.put_offer(PUB, OFFER, state="signoff", **FAST)
    return Api(emulator)


def _running_golives(api: Api) -> list[dict]:
    rows = api.get(api.offer_path(suffix="/submissions"), status="running").json()
    return [r for r in rows if r["submissionType"] == "goLive"]


def test_status_fault_not_applied(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.add_fault("status", "/golive$", "POST", status=503, retry_after="3")
    r = api.golive()
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "3"
    assert r.json()["error"]["code"] == "ServiceUnavailable"
    assert _running_golives(api) == []
    log = emulator.admin.requests(method="POST")
    assert log[-1]["status"] == 503 and log[-1]["fault"] == "status"
    assert log[-1]["applied"] is False
    # times=1: the next one goes through.
    assert api.golive().status_code == 202
    assert emulator.admin.golive_posts(PUB, OFFER) == 2


def test_reset_fault_nothing_applied(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.add_fault("reset", "/golive", "POST")
    with pytest.raises(requests.ConnectionError):
        requests.post(
            api.base + api.offer_path(suffix="/golive"), params={"api-version": "2017-10-31"},
            headers=dict(api.s.headers), timeout=10,
        )
    assert _running_golives(api) == []
    entry = emulator.admin.requests(method="POST")[-1]
    assert entry["status"] is None and entry["fault"] == "reset" and entry["applied"] is False
    assert emulator.admin.golive_posts(PUB, OFFER) == 1


def test_drop_fault_applies_but_does_not_answer(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.add_fault("drop", "/golive", "POST")
    with pytest.raises(requests.ConnectionError):
        requests.post(
            api.base + api.offer_path(suffix="/golive"), params={"api-version": "2017-10-31"},
            headers=dict(api.s.headers), timeout=10,
        )
    running = _running_golives(api)
    assert len(running) == 1  # the go-live started although the client got no answer
    entry = emulator.admin.requests(method="POST")[-1]
    assert entry["status"] is None and entry["fault"] == "drop" and entry["applied"] is True
    # A client retrying blindly now gets a conflict.
    assert api.golive().status_code == 409


def test_delay_fault(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.add_fault("delay", "/status", "GET", delay=0.4)
    t0 = time.monotonic()
    r = api.get(api.offer_path(suffix="/status"))
    assert r.status_code == 200
    assert time.monotonic() - t0 >= 0.4
    with pytest.raises(requests.Timeout):
        emulator.admin.add_fault("delay", "/status", "GET", delay=1.0)
        requests.get(
            api.base + api.offer_path(suffix="/status"), params={"api-version": "2017-10-31"},
            headers=dict(api.s.headers), timeout=0.2,
        )


def test_malformed_fault_applies(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.add_fault("malformed", "/status$", "GET")
    r = api.get(api.offer_path(suffix="/status"))
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    emulator.admin.add_fault("malformed", "/golive$", "POST")
    g = api.golive()
    assert g.status_code == 202
    assert "Location" in g.headers
    with pytest.raises(ValueError):
        g.json()
    assert len(_running_golives(api)) == 1


def test_nopointer_fault_applies(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.add_fault("nopointer", "/golive$", "POST")
    g = api.golive()
    assert g.status_code == 202
    assert "Location" not in g.headers and "Operation-Location" not in g.headers
    assert len(_running_golives(api)) == 1


def test_retryafter_fault(emulator: RunningEmulator, api: Api) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    emulator.admin.add_fault("retryafter", "/status", "GET", retry_after=date, times=2)
    assert api.get(api.offer_path(suffix="/status")).headers["Retry-After"] == date
    assert api.get(api.offer_path(suffix="/status")).headers["Retry-After"] == date
    assert "Retry-After" not in api.get(api.offer_path(suffix="/status")).headers


def test_skip_times_forever_and_method_filter(emulator: RunningEmulator, api: Api) -> None:
    fid = emulator.admin.add_fault("status", "/status", "GET", status=500, skip=1, times=None)
    codes = [api.get(api.offer_path(suffix="/status")).status_code for _ in range(4)]
    assert codes == [200, 500, 500, 500]
    # POSTs are not matched by a GET fault.
    assert api.golive().status_code == 202
    faults = emulator.admin.faults()
    assert faults[0]["id"] == fid and faults[0]["hits"] == 3 and faults[0]["remaining"] is None
    emulator.admin.clear_faults()
    assert emulator.admin.faults() == []
    assert api.get(api.offer_path(suffix="/status")).status_code == 200


def test_remaining_counts_and_percent_encoded_paths(
    emulator: RunningEmulator, api: Api
) -> None:
    emulator.admin.add_fault("status", r"/api/operations/.*\$", "GET", status=502, times=2)
    emulator.admin.put_offer(PUB, OFFER, pointer="nonMigrated", **FAST)
    url = api.pointer(api.publish())
    encoded = url.replace("$", "%24")
    assert api.s.get(encoded, timeout=10).status_code == 502
    assert emulator.admin.faults()[0]["remaining"] == 1
    assert api.s.get(url, timeout=10).status_code == 502
    assert emulator.admin.faults()[0]["remaining"] == 0
    assert api.s.get(url, timeout=10).status_code == 200


def test_bad_fault_definitions(emulator: RunningEmulator) -> None:
    for bad, field in [
        ({"kind": "explode"}, "kind"),
        ({"kind": "status", "path": "("}, "path"),
        ({"kind": "status", "status": 99}, "status"),
        ({"kind": "delay", "delay": -1}, "delay"),
        ({"kind": "status", "times": -1}, "times"),
        ({"kind": "retryafter"}, "retryAfter"),
        ({"kind": "status", "colour": "red"}, "colour"),
    ]:
        with pytest.raises(AdminError) as info:
            emulator.admin._call("POST", "/faults", bad)
        assert info.value.status == 400
        assert info.value.body["error"]["message"].startswith(field), info.value.body


def test_faults_do_not_touch_admin_routes(emulator: RunningEmulator) -> None:
    emulator.admin.add_fault("reset", "", "*", times=None)
    assert emulator.admin.health() is True
