"""Offer lifecycle: draft -> publish -> sign-off -> go-live -> live, on a controlled clock."""

from __future__ import annotations

import time

import pytest

from marketplace_emulator.harness import RunningEmulator

from ._util import FAST, OFFER, PUB, Api, frozen, step


@pytest.fixture
def api(emulator: RunningEmulator) -> Api:
    frozen(emulator)
    return Api(emulator)


def test_full_lifecycle_signoff_succeeded(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, signoff="succeeded", **FAST)
    assert api.status()["status"] == "neverPublished"
    assert api.status()["steps"] == []

    r = api.publish(json={"metadata": {"notification-emails": "jdoe@contoso.com"}})
    assert r.status_code == 202
    assert r.content == b""
    url = api.pointer(r)
    op = api.follow(url)
    assert op["status"] == "running"
    assert op["cancellationRequestState"] == "canCancel"
    assert [s["id"] for s in op["steps"]] == [
        "displaydummycertify", "displaycertify", "publisher-signoff", "live-preparation", "live",
    ]
    assert step(op, "displaydummycertify")["status"] == "inProgress"
    assert api.status()["status"] == "running"

    emulator.admin.advance(5)
    op = api.follow(url)
    assert step(op, "displaydummycertify")["progressPercentage"] == 50
    emulator.admin.advance(10)
    op = api.follow(url)
    assert step(op, "displaydummycertify")["status"] == "complete"
    assert step(op, "displaydummycertify")["progressPercentage"] == 100
    assert step(op, "displaydummycertify")["messages"][0]["level"] == "information"
    assert step(op, "displaycertify")["status"] == "inProgress"
    assert op["previewLinks"] == []

    emulator.admin.advance(5)  # publish steps done: waiting at sign-off
    op = api.follow(url)
    assert op["status"] == "succeeded"
    assert op["cancellationRequestState"] == "cannotCancel"
    assert step(op, "publisher-signoff")["status"] == "waitingForPublisherReview"
    assert step(op, "live")["status"] == "notStarted"
    assert op["previewLinks"] and op["liveLinks"] == []
    status = api.status()
    assert status["status"] == "waitingForPublisherReview"
    assert status["previewLinks"] and status["liveLinks"] == []

    g = api.golive()
    assert g.status_code == 202
    gurl = api.pointer(g)
    assert gurl != url
    gop = api.follow(gurl)
    assert gop["status"] == "running"
    assert step(gop, "publisher-signoff")["status"] == "complete"
    assert step(gop, "live-preparation")["status"] == "inProgress"
    assert step(api.follow(url), "publisher-signoff")["status"] == "complete"
    assert api.status()["status"] == "running"

    emulator.admin.advance(25)
    gop = api.follow(gurl)
    assert gop["status"] == "succeeded"
    assert all(s["status"] == "complete" for s in gop["steps"])
    assert gop["liveLinks"] and gop["previewLinks"]
    status = api.status()
    assert status["status"] == "succeeded"
    assert status["liveLinks"][0]["uri"].startswith("https://")
    offer = api.get(api.offer_path()).json()
    assert offer["status"] == "succeeded"
    assert offer["version"] == 2
    subs = api.get(api.offer_path(suffix="/submissions/")).json()
    assert [s["submissionType"] for s in subs] == ["goLive", "publish"]
    assert [s["slot"] for s in subs] == ["production", "staging"]
    assert subs[1]["definition"]["metadata"]["emails"] == "jdoe@contoso.com"
    assert subs[0]["definition"]["metadata"]["emails"] == "jdoe@contoso.com"


def test_full_lifecycle_signoff_running(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, signoff="running", **FAST)
    url = api.pointer(api.publish())
    emulator.admin.advance(100)
    op = api.follow(url)
    assert op["status"] == "running"  # the publish op waits at sign-off
    assert step(op, "publisher-signoff")["status"] == "waitingForPublisherReview"
    assert api.status()["status"] == "running"
    # Publishing again while it waits is refused like any running operation.
    assert api.publish().status_code == 409

    g = api.golive()
    assert g.status_code == 202
    op = api.follow(url)
    assert op["status"] == "succeeded"
    assert step(op, "publisher-signoff")["status"] == "complete"
    gurl = api.pointer(g)
    emulator.admin.advance(20)
    assert api.follow(gurl)["status"] == "succeeded"
    assert api.status()["status"] == "succeeded"
    running = api.get(api.offer_path(suffix="/submissions"), status="running").json()
    assert running == []


def test_progress_increases_on_real_fast_clock(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(
        PUB, OFFER, state="signoff",
        goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 600}],
    )
    url = api.pointer(api.golive())
    emulator.admin.set_clock(300)  # 600 emulated seconds in ~2 real seconds
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        op = api.follow(url)
        seen.append(step(op, "live")["progressPercentage"])
        if op["status"] == "succeeded":
            break
        time.sleep(0.05)
    assert op["status"] == "succeeded"
    assert seen == sorted(seen)
    assert seen[-1] == 100
    assert len(set(seen)) >= 3, seen  # several distinct intermediate values


def test_failure_outcome_with_messages(emulator: RunningEmulator, api: Api) -> None:
    message = "The offer failed certification: plan contoso has no image."
    emulator.admin.put_offer(
        PUB, OFFER, state="signoff", **FAST,
        goLiveOutcome={"result": "fail", "atStep": "live", "messages": [message]},
    )
    url = api.pointer(api.golive())
    emulator.admin.advance(15)
    assert api.follow(url)["status"] == "running"
    emulator.admin.advance(10)
    op = api.follow(url)
    assert op["status"] == "failed"
    live = step(op, "live")
    assert live["status"] == "blocked"
    assert live["messages"][0]["messageHtml"] == message
    assert live["messages"][0]["level"] == "error"
    assert live["messages"][0]["timestamp"].endswith("Z")
    assert step(op, "live-preparation")["status"] == "complete"
    assert api.status()["status"] == "failed"
    sub = api.get(api.offer_path(suffix="/submissions"), status="failed").json()
    assert len(sub) == 1 and message in sub[0]["error"]
    # A failed go-live may be retried (our choice); it fails again by the same outcome.
    assert api.golive().status_code == 202


def test_failure_in_publish_with_failed_spelling_and_times(
    emulator: RunningEmulator, api: Api
) -> None:
    emulator.admin.put_offer(
        PUB, OFFER, **FAST,
        publishOutcome={"result": "fail", "atStep": "displaydummycertify", "stepStatus": "failed",
                        "times": 1},
    )
    url = api.pointer(api.publish())
    emulator.admin.advance(10)
    op = api.follow(url)
    assert op["status"] == "failed"
    assert step(op, "displaydummycertify")["status"] == "failed"
    assert step(op, "displaycertify")["status"] == "notStarted"
    assert step(op, "displaydummycertify")["messages"][0]["messageHtml"]
    assert api.golive().status_code == 400  # never reached sign-off
    # `times: 1`: the next publish succeeds.
    url2 = api.pointer(api.publish())
    emulator.admin.advance(30)
    assert api.follow(url2)["status"] == "succeeded"


def test_step_estimates_can_be_omitted(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, stepEstimates=False)
    op = api.op(api.publish())
    assert all("estimatedTimeFrame" not in s for s in op["steps"])
    emulator.admin.put_offer(PUB, "other")
    op = api.op(api.publish(offer="other"))
    assert step(op, "displaydummycertify")["estimatedTimeFrame"] == "< 15 min"
    assert step(op, "displaycertify")["estimatedTimeFrame"] == "~2-3 days"
    assert "estimatedTimeFrame" not in step(op, "publisher-signoff")


def test_default_durations(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER)
    url = api.pointer(api.publish())
    emulator.admin.advance(59)
    assert api.follow(url)["status"] == "running"
    emulator.admin.advance(1)
    assert api.follow(url)["status"] == "succeeded"
    gurl = api.pointer(api.golive())
    gop = api.follow(gurl)
    assert [s["id"] for s in gop["steps"][-2:]] == ["live-preparation", "live"]
    emulator.admin.advance(59)
    assert api.follow(gurl)["status"] == "running"
    emulator.admin.advance(1)
    assert api.follow(gurl)["status"] == "succeeded"


def test_seed_states(emulator_factory) -> None:
    emu = emulator_factory({"offers": [
        {"publisherId": PUB, "offerId": "d"},
        {"publisherId": PUB, "offerId": "p", "state": "publishing"},
        {"publisherId": PUB, "offerId": "s", "state": "signoff"},
        {"publisherId": PUB, "offerId": "r", "state": "signoff", "signoff": "running"},
        {"publisherId": PUB, "offerId": "l", "state": "live"},
    ]})
    api = Api(emu)
    assert api.status(offer="d")["status"] == "neverPublished"
    assert api.status(offer="p")["status"] == "running"
    assert api.status(offer="s")["status"] == "waitingForPublisherReview"
    r = api.status(offer="r")
    assert r["status"] == "running"
    assert step(r, "publisher-signoff")["status"] == "waitingForPublisherReview"
    live = api.status(offer="l")
    assert live["status"] == "succeeded" and live["liveLinks"]
    subs = api.get(api.offer_path(offer="l", suffix="/submissions")).json()
    assert [s["submissionType"] for s in subs] == ["goLive", "publish"]
    assert all(s["status"] == "succeeded" for s in subs)


def test_republish_live_offer_then_golive_again(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, state="live", **FAST)
    assert api.golive().json()["error"]["code"] == "OfferAlreadyLive"
    url = api.pointer(api.publish())
    emulator.admin.advance(20)
    assert api.follow(url)["status"] == "succeeded"
    assert api.status()["liveLinks"]  # still live while the new version previews
    g = api.golive()
    assert g.status_code == 202
    emulator.admin.advance(20)
    assert api.op(g)["status"] == "succeeded"
    assert api.get(api.offer_path()).json()["version"] == 3


def test_cancel_sync_publish(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, **FAST)
    url = api.pointer(api.publish())
    emulator.admin.advance(12)
    r = api.cancel()
    assert r.status_code == 200
    assert "Location" not in r.headers
    op = api.follow(url)
    assert op["status"] == "canceled"
    assert step(op, "displaydummycertify")["status"] == "complete"
    assert step(op, "displaycertify")["status"] == "canceled"
    assert step(op, "displaycertify")["progressPercentage"] == 20
    emulator.admin.advance(100)
    assert api.follow(url)["status"] == "canceled"
    assert api.status()["status"] == "canceled"
    assert api.golive().json()["error"]["code"] == "OfferNotReadyForGoLive"
    assert api.cancel().json()["error"]["code"] == "NoOperationInProgress"


def test_cancel_golive_allows_new_golive(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, state="signoff", **FAST)
    gurl = api.pointer(api.golive())
    emulator.admin.advance(5)
    assert api.cancel().status_code == 200
    op = api.follow(gurl)
    assert op["status"] == "canceled"
    assert step(op, "live-preparation")["status"] == "canceled"
    assert api.status()["status"] == "canceled"
    g2 = api.golive()
    assert g2.status_code == 202
    emulator.admin.advance(20)
    assert api.op(g2)["status"] == "succeeded"


def test_cancel_while_waiting_at_signoff_running(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, state="signoff", signoff="running", **FAST)
    assert api.cancel().status_code == 200
    doc = api.status()
    assert doc["status"] == "canceled"
    assert step(doc, "publisher-signoff")["status"] == "canceled"
    assert api.golive().json()["error"]["code"] == "OfferNotReadyForGoLive"


def test_cancel_async_returns_pointer_to_cancellation(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(
        PUB, OFFER, state="signoff", cancelMode="async", cancelSeconds=4, **FAST
    )
    gurl = api.pointer(api.golive())
    emulator.admin.advance(2)
    c = api.cancel()
    assert c.status_code == 202
    curl = api.pointer(c)
    cop = api.follow(curl)
    assert cop["status"] == "running"
    gop = api.follow(gurl)
    assert gop["status"] == "running"
    assert gop["cancellationRequestState"] == "cancelRequested"
    # Asking again points at the same cancellation.
    assert api.pointer(api.cancel()) == curl
    emulator.admin.advance(4)
    assert api.follow(curl)["status"] == "succeeded"
    gop = api.follow(gurl)
    assert gop["status"] == "canceled"
    assert step(gop, "live-preparation")["status"] == "canceled"
    subs = api.get(api.offer_path(suffix="/submissions")).json()
    assert subs[0]["submissionType"] == "cancel"


def test_async_cancel_too_late_fails(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(
        PUB, OFFER, state="signoff", cancelMode="async", cancelSeconds=30, **FAST
    )
    gurl = api.pointer(api.golive())
    curl = api.pointer(api.cancel())
    emulator.admin.advance(30)
    assert api.follow(gurl)["status"] == "succeeded"
    cop = api.follow(curl)
    assert cop["status"] == "failed"
    assert cop["messages"][0]["level"] == "error"


def test_start_delay_reports_not_started(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, startDelaySeconds=5, **FAST)
    url = api.pointer(api.publish())
    assert api.follow(url)["status"] == "notStarted"
    assert api.status()["status"] == "notStarted"
    emulator.admin.advance(5)
    assert api.follow(url)["status"] == "running"


def test_offer_get_versions_and_slots(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(
        PUB, OFFER, displayText="Contoso VM",
        definition={"plans": [{"planId": "p1"}]},
    )
    r = api.get(api.offer_path())
    assert r.status_code == 200
    doc = r.json()
    assert doc["id"] == OFFER and doc["publisherId"] == PUB
    assert doc["offerTypeId"] == "microsoft-azure-virtualmachines"
    assert doc["status"] == "neverPublished" and doc["version"] == 1
    assert doc["definition"]["displayText"] == "Contoso VM"
    assert doc["definition"]["plans"] == [{"planId": "p1"}]
    assert doc["changedTime"].endswith("Z")
    assert r.headers["ETag"] == doc["eTag"]
    assert api.get(api.offer_path(suffix="/versions/1")).status_code == 200
    assert api.get(api.offer_path(suffix="/versions/2")).status_code == 404
    assert api.get(api.offer_path(suffix="/slot/Draft")).status_code == 200
    assert api.get(api.offer_path(suffix="/slot/Preview")).status_code == 404
    assert api.get(api.offer_path(suffix="/slot/Production")).status_code == 404
    assert api.get(api.offer_path(suffix="/slot/Bogus")).status_code == 400
    emulator.admin.put_offer(PUB, OFFER, state="live")
    assert api.get(api.offer_path(suffix="/slot/Preview")).status_code == 200
    assert api.get(api.offer_path(suffix="/slot/Production")).status_code == 200
    assert api.get(api.offer_path(suffix="/versions/2")).json()["version"] == 2


def test_list_offers(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, "a", displayText="A")
    emulator.admin.put_offer(PUB, "b", state="live")
    emulator.admin.put_offer("fabrikam", "c")
    r = api.get(f"/api/publishers/{PUB}/offers")
    assert r.status_code == 200
    rows = {o["id"]: o for o in r.json()}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["definition"] == {"displayText": "A"}
    assert rows["a"]["status"] == "neverPublished"
    assert rows["b"]["status"] == "succeeded"
    assert set(rows["a"]) == {"offerTypeId", "publisherId", "status", "id", "version",
                              "definition", "changedTime"}


def test_submissions_filter_and_shape(emulator: RunningEmulator, api: Api) -> None:
    emulator.admin.put_offer(PUB, OFFER, state="live", **FAST)
    api.publish(json={"metadata": {"notification-emails": "a@contoso.com"}})
    for path in ("/submissions/", "/submissions"):
        all_rows = api.get(api.offer_path(suffix=path)).json()
        assert len(all_rows) == 3
    running = api.get(api.offer_path(suffix="/submissions/"), status="running").json()
    assert len(running) == 1
    row = running[0]
    assert row["submissionType"] == "publish" and row["slot"] == "staging"
    assert row["submissionState"] == "running"
    assert row["definition"] == {"metadata": {"emails": "a@contoso.com"}}
    assert row["offerId"] == OFFER and row["publisherId"] == PUB
    assert isinstance(row["version"], int) and row["version"] > 600_000_000_000_000_000
    for key in ("changedTime", "createdDateTime", "lastActionDateTime"):
        assert row[key].endswith("Z")
    assert row["error"] is None
    succeeded = api.get(api.offer_path(suffix="/submissions/"), status="succeeded").json()
    assert {r["submissionType"] for r in succeeded} == {"publish", "goLive"}
    assert api.get(api.offer_path(suffix="/submissions/"), status="failed").json() == []
    ids = [r["publishingVersion"] for r in all_rows]
    assert len(set(ids)) == 3


def test_publish_accepts_docs_single_quoted_body_and_rejects_garbage(
    emulator: RunningEmulator, api: Api
) -> None:
    emulator.admin.put_offer(PUB, OFFER)
    r = api.s.post(
        api.base + api.offer_path(suffix="/publish"),
        params={"api-version": "2017-10-31"},
        data="{ 'metadata': { 'notification-emails': 'jdoe@contoso.com' } }",
        timeout=10,
    )
    assert r.status_code == 202
    subs = api.get(api.offer_path(suffix="/submissions")).json()
    assert subs[0]["definition"]["metadata"]["emails"] == "jdoe@contoso.com"
    api.cancel()
    bad = api.s.post(
        api.base + api.offer_path(suffix="/publish"),
        params={"api-version": "2017-10-31"}, data="{nope", timeout=10,
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "InvalidRequestBody"
