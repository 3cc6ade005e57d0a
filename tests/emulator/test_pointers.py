"""Operation pointer forms: migrated / non-migrated `Location`, absolute `Operation-Location`."""

from __future__ import annotations

import re

import pytest
import requests

from marketplace_emulator.harness import RunningEmulator

from ._util import FAST, OFFER, PUB, Api, frozen

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def api(emulator: RunningEmulator) -> Api:
    frozen(emulator)
    return Api(emulator)


def test_migrated_pointer(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, pointer="migrated", **FAST)
    r = api.publish()
    loc = r.headers["Location"]
    assert "Operation-Location" not in r.headers
    assert re.fullmatch(
        rf"/api/publishers/{PUB}/offers/{OFFER}/operations/({GUID})\?api-version=2017-10-31", loc
    )
    op = api.op(r)
    assert op["status"] == "running" and op["publishingVersion"] == 1
    assert "notificationEmails" not in op  # deprecated for migrated offers


def test_non_migrated_pointer_unique_per_submission(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, pointer="nonMigrated", **FAST)
    p = api.publish(json={"metadata": {"notification-emails": "x@contoso.com"}})
    assert p.headers["Location"] == (
        f"/api/operations/{PUB}${OFFER}$1$preview?api-version=2017-10-31"
    )
    op = api.op(p)
    assert op["publishingVersion"] == 1 and op["notificationEmails"] == "x@contoso.com"
    emulator.admin.advance(20)
    g = api.golive()
    assert g.headers["Location"] == (
        f"/api/operations/{PUB}${OFFER}$2$preview?api-version=2017-10-31"
    )
    gop = api.op(g)
    assert gop["publishingVersion"] == 2
    assert gop["steps"][-1]["id"] == "live"
    # `$` percent-encoded also works.
    encoded = f"{api.base}/api/operations/{PUB}%24{OFFER}%242%24preview?api-version=2017-10-31"
    assert api.follow(encoded)["publishingVersion"] == 2


def test_non_migrated_2018_guid_form(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, **FAST)
    op_id = api.op(api.publish())["id"]
    doc = api.get(f"/api/operations/{PUB}${op_id}$1$preview").json()
    assert doc["id"] == op_id


def test_absolute_pointer_uses_host_as_addressed(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, pointer="absolute", **FAST)
    port = emulator.base_url.rsplit(":", 1)[1]
    r = requests.post(
        f"http://localhost:{port}{api.offer_path(suffix='/publish')}",
        params={"api-version": "2017-10-31"}, headers=dict(api.s.headers), timeout=10,
    )
    assert r.status_code == 202
    assert "Location" not in r.headers
    loc = r.headers["Operation-Location"]
    assert re.fullmatch(
        rf"http://localhost:{port}/api/publishers/{PUB}/offers/{OFFER}/operations/{GUID}", loc
    )
    # Pollable as given: no api-version in the URL, so the client must add it.
    assert api.s.get(loc, timeout=10).status_code == 400
    assert api.s.get(loc, params={"api-version": "2017-10-31"}, timeout=10).json()["status"]


def test_operation_ids_from_submissions_are_pollable(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, state="live", **FAST)
    for row in api.get(api.offer_path(suffix="/submissions")).json():
        doc = api.get(api.offer_path(suffix=f"/operations/{row['id']}")).json()
        assert doc["status"] == row["status"] == "succeeded"
        upper = api.get(api.offer_path(suffix=f"/operations/{row['id'].upper()}"))
        assert upper.status_code == 200


def test_operation_document_shape(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, **FAST)
    op = api.op(api.publish())
    for key in ("status", "messages", "publishingVersion", "offerVersion",
                "cancellationRequestState", "steps", "previewLinks", "liveLinks"):
        assert key in op
    assert isinstance(op, dict)
    s = op["steps"][0]
    assert set(s) == {"estimatedTimeFrame", "id", "stepName", "description", "status",
                      "messages", "progressPercentage"}


def test_poll_retry_after(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, pollRetryAfter=7, pointer="nonMigrated", **FAST)
    r = api.publish()
    assert r.headers["Retry-After"] == "7"
    assert api.s.get(api.pointer(r), timeout=10).headers["Retry-After"] == "7"
    op_id = api.follow(api.pointer(r))["id"]
    r2 = api.get(api.offer_path(suffix=f"/operations/{op_id}"))
    assert r2.headers["Retry-After"] == "7"
    assert "Retry-After" not in api.get(api.offer_path(suffix="/status")).headers
    emulator.admin.patch_offer(PUB, OFFER, pollRetryAfter=None)
    assert "Retry-After" not in api.s.get(api.pointer(r), timeout=10).headers
