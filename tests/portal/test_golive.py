"""Go live exactly once: look first, wait for the publish, reconcile lost answers by listing."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from pulumi_marketplace_provider.partner_portal import (
    BadRequest,
    GoLiveStart,
    GoLiveUnconfirmed,
    InvalidIdentifier,
    OperationFailed,
    OperationStatus,
    PortalClient,
    StaticToken,
    TransportError,
    WaitTimedOut,
    cancel_go_live,
    find_go_live_in_flight,
    find_latest_go_live,
    start_go_live,
    wait_for_operation,
)
from pulumi_marketplace_provider.partner_portal.errors import surely_not_applied

from .conftest import PUB, Portal, emulated

GOLIVE = "goLive"


def go(portal: Portal, offer: str, client: PortalClient | None = None,
       deadline: float | None = None) -> GoLiveStart:
    return portal.run(start_go_live(client or portal.client, PUB, offer, clock=portal.clock,
                                    deadline=deadline or portal.deadline(),
                                    throttle=portal.gate))


@pytest.mark.parametrize("signoff", ["succeeded", "running"])
@pytest.mark.parametrize("pointer", ["migrated", "nonMigrated", "absolute"])
def test_offer_at_signoff_goes_live_with_one_post(portal: Portal, signoff: str,
                                                  pointer: str) -> None:
    offer = portal.offer("ready", state="signoff", signoff=signoff, pointer=pointer)
    start = go(portal, offer)
    assert not start.attached and not start.already_live and start.ref is not None
    op = portal.run(wait_for_operation(portal.client, start.ref, clock=portal.clock,
                                       deadline=portal.deadline(), throttle=portal.gate))
    assert op.status is OperationStatus.SUCCEEDED
    assert len(portal.golive_posts(offer)) == 1
    assert len(portal.operations(offer, GOLIVE)) == 1


def test_running_go_live_is_attached_to(portal: Portal) -> None:
    offer = portal.offer("running", state="signoff")
    first = portal.client.go_live(PUB, offer)
    start = go(portal, offer)
    assert start.attached and start.ref is not None
    assert start.ref.operation_id == first.operation_id
    assert len(portal.golive_posts(offer)) == 1


@pytest.mark.parametrize("signoff", ["running", "succeeded"])
def test_publish_in_progress_is_waited_for_until_signoff(portal: Portal, signoff: str) -> None:
    offer = portal.offer("publishing", state="publishing", signoff=signoff)
    publish = portal.operations(offer, "publish")[0]
    steps_end = publish["internal"]["created"] + sum(
        s["seconds"] for s in publish["internal"]["publishSteps"])
    start = go(portal, offer)
    assert not start.attached and start.ref is not None
    posts = portal.golive_posts(offer)
    assert len(posts) == 1 and posts[0]["status"] == 202
    assert emulated(posts[0]) >= steps_end  # not before the publish reached sign-off
    # ...and as soon as a poll saw it there: one look, one listing, the POST.
    log = portal.requests()
    after_end = [r for r in log if emulated(r) >= steps_end]
    assert ["/operations/" in r["path"] for r in after_end[:1]] == [True]
    assert [r["method"] for r in after_end[1:]] == ["GET", "POST"]
    assert "/submissions" in after_end[1]["path"]


def test_publish_that_fails_is_reported_and_nothing_goes_live(portal: Portal) -> None:
    offer = portal.offer("pubfail", state="publishing", publishOutcome={
        "result": "fail", "atStep": "displaycertify", "messages": ["Image <i>missing</i>."]})
    with pytest.raises(OperationFailed) as info:
        go(portal, offer)
    assert "Image missing." in str(info.value) and "publish" in str(info.value)
    assert portal.golive_posts(offer) == []


def test_publish_not_at_signoff_by_the_deadline_times_out_without_posting(portal: Portal) -> None:
    offer = portal.offer("pubslow", state="publishing")
    with pytest.raises(WaitTimedOut, match="nothing was sent live"):
        go(portal, offer, deadline=portal.deadline(20.0))
    assert portal.golive_posts(offer) == []


def test_live_offer_is_adopted_not_sent_live_again(portal: Portal) -> None:
    offer = portal.offer("live", state="live")
    go_live_op = portal.operations(offer, GOLIVE)[0]
    start = go(portal, offer)
    assert start.already_live and start.ref is not None
    assert start.ref.operation_id == go_live_op["id"]
    assert portal.golive_posts(offer) == []


def test_live_offer_with_a_new_publish_at_signoff_goes_live_again(portal: Portal) -> None:
    offer = portal.offer("relive", state="live")
    pub_ref = portal.client.publish(PUB, offer)
    start = go(portal, offer)  # waits for the new publish to reach sign-off, then posts
    assert not start.already_live and start.ref is not None
    assert start.ref.operation_id != pub_ref.operation_id
    assert len(portal.golive_posts(offer)) == 1


def test_draft_offer_gets_the_portals_400_whole_and_no_retry(portal: Portal) -> None:
    offer = portal.offer("draft")
    with pytest.raises(BadRequest) as info:
        go(portal, offer)
    assert info.value.body and info.value.body in str(info.value)
    assert len(portal.golive_posts(offer)) == 1


# Faults after which the POST may have been applied: answered by 5xx, reset, dropped after the
# portal acted, accepted without a pointer, or answered after the client's read timeout.
APPLIED: list[tuple[str, dict[str, Any]]] = [
    ("drop", {}),
    ("nopointer", {}),
    ("delay", {"delay": 1.0}),
]
NOT_APPLIED: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 503}),
    ("status", {"status": 500}),
    ("status", {"status": 502}),
    ("reset", {}),
]


@pytest.mark.parametrize(("kind", "extra"), APPLIED, ids=[f"{k}{e}" for k, e in APPLIED])
def test_a_lost_answer_that_started_a_go_live_is_found_by_listing(
        portal: Portal, kind: str, extra: dict[str, Any]) -> None:
    offer = portal.offer("lossy", state="signoff")
    portal.admin.add_fault(kind, "/golive$", method="POST", **extra)
    client = PortalClient(portal.emu.base_url, StaticToken(portal.emu.token),
                          clock=portal.clock, timeout=(2.0, 0.3))
    start = go(portal, offer, client=client)
    assert start.ref is not None and start.posted and not start.attached
    golives = portal.operations(offer, GOLIVE)
    assert len(golives) == 1 and golives[0]["id"] == start.ref.operation_id
    time.sleep(1.2)  # a delayed POST is still being served: let it end before counting
    posts = portal.golive_posts(offer)
    assert len(posts) == 1 and posts[0]["applied"], "the POST was never sent again"
    op = portal.run(wait_for_operation(client, start.ref, clock=portal.clock,
                                       deadline=portal.deadline(), throttle=portal.gate))
    assert op.status is OperationStatus.SUCCEEDED


@pytest.mark.parametrize(("kind", "extra"), NOT_APPLIED, ids=[f"{k}{e}" for k, e in NOT_APPLIED])
def test_an_ambiguous_failure_is_never_followed_by_a_second_post(
        portal: Portal, kind: str, extra: dict[str, Any]) -> None:
    """5xx or a reset may have been applied: list until the deadline, never POST again; the
    next attempt (the next `up`) lists first and sends it once."""
    offer = portal.offer("lossy", state="signoff")
    portal.admin.add_fault(kind, "/golive$", method="POST", **extra)
    with pytest.raises(GoLiveUnconfirmed, match="NOT sent again"):
        go(portal, offer, deadline=portal.deadline(120.0))
    assert len(portal.golive_posts(offer)) == 1
    assert len(portal.requests("GET", "/submissions")) >= 3, "it kept looking until the deadline"
    assert portal.operations(offer, GOLIVE) == []
    start = go(portal, offer)  # the next run: the listing shows nothing, so one POST
    assert start.posted and start.ref is not None
    assert len(portal.golive_posts(offer)) == 2
    assert len(portal.operations(offer, GOLIVE)) == 1


def test_a_post_answered_after_the_read_timeout_is_applied_late_and_never_repeated(
        portal: Portal) -> None:
    """The portal acts on the POST only after the client gave up waiting for the answer."""
    offer = portal.offer("late", state="signoff")
    portal.admin.add_fault("delay", "/golive$", method="POST", delay=2.0)
    client = PortalClient(portal.emu.base_url, StaticToken(portal.emu.token),
                          clock=portal.clock, timeout=(2.0, 0.2))
    start = go(portal, offer, client=client)
    assert start.posted and start.ref is not None
    time.sleep(0.5)
    assert len(portal.golive_posts(offer)) == 1
    assert len(portal.operations(offer, GOLIVE)) == 1


def test_a_refused_connection_is_retried_because_nothing_was_sent(portal: Portal) -> None:
    offer = portal.offer("refused", state="signoff")
    dead = PortalClient("http://127.0.0.1:9", StaticToken(portal.emu.token), clock=portal.clock,
                        timeout=(0.5, 0.5))
    with pytest.raises(TransportError) as caught:
        dead.go_live(PUB, offer)
    assert caught.value.kind == "connect-refused"
    assert surely_not_applied(caught.value)


def test_lost_answer_and_a_failing_listing_still_start_exactly_one(portal: Portal) -> None:
    offer = portal.offer("lossy2", state="signoff")
    portal.admin.add_fault("drop", "/golive$", method="POST")
    portal.admin.add_fault("status", "/submissions", method="GET", status=503, skip=1, times=2)
    start = go(portal, offer)
    assert start.ref is not None
    assert len(portal.golive_posts(offer)) == 1
    assert len(portal.operations(offer, GOLIVE)) == 1


def test_repeated_429_on_post_is_retried_within_the_deadline(portal: Portal) -> None:
    offer = portal.offer("busy", state="signoff")
    portal.admin.add_fault("status", "/golive$", method="POST", status=429, retry_after=40,
                           times=2)
    start = go(portal, offer)
    assert start.posted
    posts = portal.golive_posts(offer)
    assert len(posts) == 3 and [p["applied"] for p in posts] == [False, False, True]
    stamps = [emulated(p) for p in posts]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 39.0, f"Retry-After: 40 not honoured between POSTs: {gaps}"


def test_find_latest_go_live(portal: Portal) -> None:
    live = portal.offer("found", state="live")
    ref = portal.run(find_latest_go_live(portal.client, PUB, live))
    assert ref is not None and ref.operation_id == portal.operations(live, GOLIVE)[0]["id"]
    assert portal.run(find_latest_go_live(portal.client, PUB, portal.offer("none"))) is None


def test_cancel_a_running_go_live(portal: Portal) -> None:
    offer = portal.offer("cancelme", state="signoff", goLiveSteps=[
        {"id": "live", "stepName": "Live", "seconds": 600}])
    ref = portal.client.go_live(PUB, offer)
    outcome = portal.run(cancel_go_live(portal.client, PUB, offer, ref, clock=portal.clock,
                                        deadline=None, throttle=portal.gate))
    assert outcome.requested and outcome.refused is None
    assert outcome.operation is not None
    assert outcome.operation.status is OperationStatus.CANCELED
    assert len(portal.requests("POST", "/cancel$")) == 1


def test_cancel_that_takes_time_is_waited_out(portal: Portal) -> None:
    offer = portal.offer("slowcancel", state="signoff", cancelMode="async", cancelSeconds=60,
                         goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 600}])
    portal.client.go_live(PUB, offer)
    ref = portal.run(find_go_live_in_flight(portal.client, PUB, offer))
    assert ref is not None
    outcome = portal.run(cancel_go_live(portal.client, PUB, offer, ref, clock=portal.clock,
                                        deadline=None, throttle=portal.gate))
    assert outcome.operation is not None
    assert outcome.operation.status is OperationStatus.CANCELED


def test_cancel_when_nothing_runs_sends_nothing(portal: Portal) -> None:
    offer = portal.offer("idle", state="live")
    ref = portal.run(find_latest_go_live(portal.client, PUB, offer))
    assert ref is not None
    outcome = portal.run(cancel_go_live(portal.client, PUB, offer, ref, clock=portal.clock,
                                        deadline=None))
    assert not outcome.requested
    assert outcome.operation is not None and outcome.operation.is_terminal
    assert portal.run(find_go_live_in_flight(portal.client, PUB, offer)) is None
    assert portal.requests("POST") == []


def test_invalid_ids_are_refused_before_any_request(portal: Portal) -> None:
    for proc in (start_go_live(portal.client, PUB, "a/b", clock=portal.clock, deadline=None),
                 find_latest_go_live(portal.client, "p?x", "o"),
                 find_go_live_in_flight(portal.client, PUB, "%2e")):
        with pytest.raises(InvalidIdentifier):
            portal.run(proc)
    assert portal.requests() == []


def _live_with_a_new_publish_at_signoff(portal: Portal, name: str) -> tuple[str, str]:
    """An offer live from go-live A, with a newer publish waiting at sign-off."""
    offer = portal.offer(name, state="live")
    (earlier,) = [op["id"] for op in portal.operations(offer, GOLIVE)]
    portal.client.publish(PUB, offer)
    for _ in range(200):
        if portal.admin.get_offer(PUB, offer)["status"] == "waitingForPublisherReview":
            break
        time.sleep(0.05)
    return offer, earlier


def test_an_unconfirmed_post_never_takes_an_earlier_go_live_for_its_own(portal: Portal) -> None:
    offer, earlier = _live_with_a_new_publish_at_signoff(portal, "again")
    portal.admin.add_fault("reset", "/golive$", method="POST")
    with pytest.raises(GoLiveUnconfirmed):
        go(portal, offer, deadline=portal.deadline(120.0))
    assert [op["id"] for op in portal.operations(offer, GOLIVE)] == [earlier]


def test_listings_failing_until_the_deadline_end_as_unconfirmed_not_as_their_error(
        portal: Portal) -> None:
    offer = portal.offer("blind", state="signoff")
    portal.admin.add_fault("drop", "/golive$", method="POST")
    portal.admin.add_fault("status", "/submissions", method="GET", status=503, skip=1,
                           times=None)
    with pytest.raises(GoLiveUnconfirmed, match="NOT sent again"):
        go(portal, offer, deadline=portal.deadline(120.0))
    assert len(portal.golive_posts(offer)) == 1


def test_a_canceled_publish_blocks_the_go_live_with_its_words(portal: Portal) -> None:
    offer = portal.offer("halted", state="live", publishSteps=[
        {"id": "displaycertify", "seconds": 6000}])
    portal.client.publish(PUB, offer)
    portal.client.cancel(PUB, offer)
    with pytest.raises(OperationFailed, match="was canceled") as caught:
        go(portal, offer)
    assert "nothing was sent live" in str(caught.value)
    assert portal.golive_posts(offer) == []
