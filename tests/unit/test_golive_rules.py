"""Pure go-live rules: what counts as in flight, as a go-live, and how recorded ids are rebuilt."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_marketplace_provider.partner_portal import PortalClient, StaticToken, Submission
from pulumi_marketplace_provider.partner_portal.golive import (
    _blocking_publish,
    _go_live_in_flight,
)


def sub(id_: str, kind: str | None, state: str, when: str, **extra: Any) -> Submission:
    data: dict[str, Any] = {"id": id_, "status": state, "createdDateTime": when, **extra}
    if kind is not None:
        data["submissionType"] = kind
    return Submission.from_json(data)


def test_a_go_live_in_a_state_we_cannot_read_is_treated_as_running() -> None:
    subs = [
        sub("old", "goLive", "succeeded", "2026-01-01T00:00:00Z"),
        sub("new", "goLive", "Queued2", "2026-02-01T00:00:00Z"),
    ]
    found = _go_live_in_flight(subs)
    assert found is not None and found.id == "new"


def test_an_old_unreadable_go_live_does_not_block_forever() -> None:
    subs = [
        sub("old", "goLive", "Weird", "2026-01-01T00:00:00Z"),
        sub("new", "goLive", "failed", "2026-02-01T00:00:00Z"),
    ]
    assert _go_live_in_flight(subs) is None


@pytest.mark.parametrize("kind", ["goLive", "GoLive", "go-live", "go_live", "goLiveSubmission"])
def test_go_live_spellings(kind: str) -> None:
    assert sub("x", kind, "running", "2026-01-01T00:00:00Z").is_go_live


def test_a_go_live_listed_without_a_type_is_known_by_its_production_slot() -> None:
    untyped = sub("x", None, "running", "2026-01-01T00:00:00Z", slot="Production")
    assert untyped.is_go_live and not untyped.is_publish
    staged = sub("y", None, "running", "2026-01-01T00:00:00Z", slot="staging")
    assert staged.is_publish and not staged.is_go_live


def test_a_failed_publish_newer_than_the_last_go_live_blocks() -> None:
    subs = [
        sub("live1", "goLive", "succeeded", "2026-01-01T00:00:00Z"),
        sub("pub2", "publish", "failed", "2026-02-01T00:00:00Z"),
    ]
    blocking = _blocking_publish(subs)
    assert blocking is not None and blocking.id == "pub2"
    subs.append(sub("live2", "goLive", "succeeded", "2026-03-01T00:00:00Z"))
    assert _blocking_publish(subs) is None


def test_recorded_ids_are_rebuilt_on_the_configured_endpoint() -> None:
    client = PortalClient("http://localhost:8080", StaticToken("t"), api_version="2099-01-01")
    ref = client.operation_ref("contoso", "vm", "6f1c2d9e-0000-4000-8000-000000000001")
    assert ref.url == (
        "http://localhost:8080/api/publishers/contoso/offers/vm/operations/"
        "6f1c2d9e-0000-4000-8000-000000000001?api-version=2099-01-01"
    )
    composite = client.operation_ref("contoso", "vm", "contoso$vm$3$preview")
    assert composite.url == (
        "http://localhost:8080/api/operations/contoso$vm$3$preview?api-version=2099-01-01"
    )
    with pytest.raises(ValueError):
        client.operation_ref("contoso", "vm", "../x")


class _FakePortal:
    """Answers from lists, for the decisions start_go_live takes on what it reads."""

    def __init__(self, listings: list[list[Submission]], status: str,
                 post_error: Exception | None = None) -> None:
        self.listings, self.status, self.post_error = listings, status, post_error
        self.posts = 0

    def list_operations(self, pub: str, offer: str) -> list[Submission]:
        return self.listings.pop(0) if len(self.listings) > 1 else self.listings[0]

    def offer_status(self, pub: str, offer: str) -> Any:
        from pulumi_marketplace_provider.partner_portal import OfferStatus

        return OfferStatus.from_json({"status": self.status, "steps": []})

    def go_live(self, pub: str, offer: str) -> Any:
        self.posts += 1
        if self.post_error is not None:
            raise self.post_error
        return self.operation_ref(pub, offer, "posted")

    def operation_ref(self, pub: str, offer: str, op_id: str) -> Any:
        from pulumi_marketplace_provider.partner_portal import OperationRef

        return OperationRef(op_id, f"http://127.0.0.1:9/op/{op_id}?api-version=x", "canonical")


def _start(fake: _FakePortal) -> Any:
    from pulumi_marketplace_provider.partner_portal import ThrottleGate, start_go_live
    from pulumi_marketplace_provider.procedure import SystemClock, run_sync

    clock = SystemClock()
    return run_sync(start_go_live(fake, "contoso", "vm", clock=clock,  # type: ignore[arg-type]
                                  deadline=clock.now() + 30, throttle=ThrottleGate()),
                    clock=clock)


def test_a_409_on_the_post_attaches_to_the_go_live_that_got_in_first() -> None:
    from pulumi_marketplace_provider.partner_portal import Conflict

    before = [sub("pub", "publish", "succeeded", "2026-01-01T00:00:00Z")]
    after = [*before, sub("theirs", "goLive", "running", "2026-01-02T00:00:00Z")]
    fake = _FakePortal([before, after], "waitingForPublisherReview",
                       post_error=Conflict("in progress", status=409))
    start = _start(fake)
    assert start.attached and start.ref.operation_id == "theirs" and fake.posts == 1


def test_a_publish_newer_than_the_last_go_live_is_sent_live() -> None:
    subs = [
        sub("live1", "goLive", "succeeded", "2026-01-01T00:00:00Z"),
        sub("pub2", "publish", "succeeded", "2026-02-01T00:00:00Z"),
    ]
    fake = _FakePortal([subs], "published")
    start = _start(fake)
    assert start.posted and not start.already_live and fake.posts == 1


def test_a_succeeded_publish_is_ready_for_go_live() -> None:
    from pulumi_marketplace_provider.partner_portal import Operation, ready_for_go_live

    assert ready_for_go_live(Operation.from_json({"status": "succeeded"}))
    assert not ready_for_go_live(Operation.from_json({"status": "running", "steps": []}))
