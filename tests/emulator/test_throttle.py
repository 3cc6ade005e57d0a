"""Throttling: 429 with Retry-After in both forms once the token bucket is empty."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import requests

from marketplace_emulator.harness import RunningEmulator
from marketplace_emulator.throttle import ThrottleConfig

from ._util import OFFER, PUB, Api


def _burst(api: Api, n: int) -> list[requests.Response]:
    return [api.get(api.offer_path()) for _ in range(n)]


def test_throttle_seconds_form(emulator: RunningEmulator) -> None:
    emulator.admin.put_offer(PUB, OFFER)
    api = Api(emulator)
    emulator.admin.set_throttle(0.2, burst=3, retry_after="seconds", retry_after_seconds=4)
    assert emulator.admin._call("GET", "/throttle") == {
        "maxPerSecond": 0.2, "burst": 3, "retryAfter": "seconds", "retryAfterSeconds": 4,
    }
    answers = _burst(api, 5)
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    r = answers[-1]
    assert r.headers["Retry-After"] == "4"
    assert r.json()["error"]["code"] == "TooManyRequests"
    log = emulator.admin.requests()
    assert [e["fault"] for e in log[-2:]] == ["throttle", "throttle"]
    emulator.admin.set_throttle(None)
    assert all(r.status_code == 200 for r in _burst(api, 10))


def test_throttle_http_date_form_and_computed_wait(emulator: RunningEmulator) -> None:
    emulator.admin.put_offer(PUB, OFFER)
    api = Api(emulator)
    emulator.admin.set_throttle(0.5, burst=1, retry_after="http-date")
    assert api.get(api.offer_path()).status_code == 200
    r = api.get(api.offer_path())
    assert r.status_code == 429
    when = parsedate_to_datetime(r.headers["Retry-After"]).timestamp()
    assert time.time() + 0.5 <= when <= time.time() + 4


def test_throttle_refills(emulator: RunningEmulator) -> None:
    emulator.admin.put_offer(PUB, OFFER)
    api = Api(emulator)
    emulator.admin.set_throttle(2, burst=1)
    assert api.get(api.offer_path()).status_code == 200
    assert api.get(api.offer_path()).status_code == 429
    time.sleep(0.6)
    assert api.get(api.offer_path()).status_code == 200


def test_throttle_from_startup_and_reset(emulator_factory) -> None:
    emu = emulator_factory(
        {"offers": [{"publisherId": PUB, "offerId": OFFER}]},
        throttle=ThrottleConfig(max_per_second=0.2, retry_after_form="seconds"),
    )
    api = Api(emu)
    codes = [r.status_code for r in _burst(api, 3)]
    assert codes[0] == 200 and 429 in codes
    emu.admin.set_throttle(None)
    emu.admin.reset()  # back to the start-up throttle
    emu.admin.put_offer(PUB, OFFER)
    assert 429 in [r.status_code for r in _burst(api, 3)]
