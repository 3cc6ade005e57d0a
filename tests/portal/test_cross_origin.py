"""The bearer token never leaves the configured endpoint's origin: pointers, redirects, refs."""

from __future__ import annotations

import pytest

from marketplace_emulator.harness import RunningEmulator
from pulumi_marketplace_provider.partner_portal import (
    PointerError,
    PortalClient,
    PortalError,
    StaticToken,
    ThrottleGate,
    start_go_live,
)
from pulumi_marketplace_provider.procedure import ScaledClock, run_sync
from tests.conftest import EmulatorFactory

from .conftest import PUB
from .rogue import RogueServer, Seen

GUID = "0b7e54a0-6a43-4a0e-9d55-7b3a8c0f4c11"
TOKEN = "secret-portal-token"


@pytest.fixture
def other(emulator_factory: EmulatorFactory) -> RunningEmulator:
    """A second emulator on another port: the origin that must receive nothing."""
    return emulator_factory()


def test_202_pointing_at_another_origin_is_refused_and_nothing_is_sent_there(
    rogue: RogueServer, other: RunningEmulator
) -> None:
    elsewhere = f"{other.base_url}/api/publishers/{PUB}/offers/o/operations/{GUID}"
    rogue.route("POST", "/api/", lambda s: (202, {"Operation-Location": elsewhere}, None))
    client = PortalClient(rogue.base_url, StaticToken(TOKEN))
    with pytest.raises(PointerError, match="refusing to follow"):
        client.go_live(PUB, "o")
    assert other.admin.requests() == []


def test_redirects_are_not_followed(rogue: RogueServer, other: RunningEmulator) -> None:
    target = f"{other.base_url}/api/publishers/{PUB}/offers/o/status?api-version=2017-10-31"
    rogue.route("GET", "/api/", lambda s: (302, {"Location": target}, None))
    client = PortalClient(rogue.base_url, StaticToken(TOKEN))
    with pytest.raises(PortalError, match="not followed") as info:
        client.offer_status(PUB, "o")
    assert info.value.status == 302
    assert other.admin.requests() == []
    assert len(rogue.seen) == 1


def test_a_stored_reference_to_another_origin_is_refused(rogue: RogueServer,
                                                         other: RunningEmulator) -> None:
    client = PortalClient(rogue.base_url, StaticToken(TOKEN))
    foreign = client.operation_ref(PUB, "o", GUID)
    foreign = type(foreign)(GUID, foreign.url.replace(rogue.base_url, other.base_url),
                            "canonical")
    with pytest.raises(PointerError):
        client.get_operation(foreign)
    loopback_alias = type(foreign)(GUID, foreign.url.replace("127.0.0.1", "localhost"),
                                   "canonical")
    with pytest.raises(PointerError):
        client.get_operation(loopback_alias)
    assert other.admin.requests() == [] and rogue.seen == []


def test_go_live_with_a_foreign_pointer_attaches_via_the_listing_without_a_second_post(
    rogue: RogueServer, other: RunningEmulator
) -> None:
    """A portal that starts the go-live but answers a pointer elsewhere: find it by listing."""
    posted: list[Seen] = []
    elsewhere = f"{other.base_url}/api/publishers/{PUB}/offers/o/operations/{GUID}"

    def listing(seen: Seen) -> tuple[int, dict[str, str], object]:
        rows = [{"id": "pub-1", "submissionType": "publish", "submissionState": "succeeded"}]
        if posted:
            rows.insert(0, {"id": GUID, "submissionType": "goLive",
                            "submissionState": "running"})
        return 200, {}, rows

    def post(seen: Seen) -> tuple[int, dict[str, str], object]:
        posted.append(seen)
        return 202, {"Operation-Location": elsewhere}, None

    rogue.route("GET", f"/api/publishers/{PUB}/offers/o/submissions", listing)
    rogue.route("GET", f"/api/publishers/{PUB}/offers/o/status",
                lambda s: (200, {}, {"status": "waitingForPublisherReview", "steps": []}))
    rogue.route("POST", f"/api/publishers/{PUB}/offers/o/golive", post)
    clock = ScaledClock(100.0)
    client = PortalClient(rogue.base_url, StaticToken(TOKEN))
    start = run_sync(start_go_live(client, PUB, "o", clock=clock, deadline=clock.now() + 600,
                                   throttle=ThrottleGate()), clock=clock)
    assert start.ref is not None and start.ref.operation_id == GUID
    assert start.ref.url.startswith(rogue.base_url + "/")
    assert len(posted) == 1 and not start.attached
    assert other.admin.requests() == []
    assert all(s.headers.get("authorization") == f"Bearer {TOKEN}" for s in rogue.seen)
