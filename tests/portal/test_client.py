"""The client over real HTTP against the emulator: endpoints, pointer forms, every error class."""

from __future__ import annotations

import ssl
import threading
import time
from email.utils import formatdate
from pathlib import Path

import pytest
import trustme

from marketplace_emulator.app import EmulatorOptions
from marketplace_emulator.harness import EmulatorServer
from marketplace_emulator.seed import parse_seed
from pulumi_marketplace_provider import __version__
from pulumi_marketplace_provider.partner_portal import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidIdentifier,
    MalformedResponse,
    NotFound,
    OfferState,
    OperationStatus,
    PointerError,
    PortalClient,
    PortalError,
    ServerError,
    StaticToken,
    Throttled,
    TransportError,
    Unauthorized,
)

from .conftest import PUB, Portal


def test_every_call_carries_api_version_user_agent_and_the_token(portal: Portal) -> None:
    offer = portal.offer("o1", state="signoff")
    c = portal.client
    assert c.get_offer(PUB, offer)["id"] == offer
    assert c.offer_status(PUB, offer).status is OfferState.WAITING_FOR_PUBLISHER_REVIEW
    subs = c.list_operations(PUB, offer)
    assert [s.is_publish for s in subs] == [True]
    ref = c.go_live(PUB, offer)
    op, retry_after = c.get_operation(ref)
    assert op.status in (OperationStatus.RUNNING, OperationStatus.NOT_STARTED)
    assert retry_after is None
    assert c.list_operations(PUB, offer, status="running")[0].id == ref.operation_id
    assert c.cancel(PUB, offer) is None  # the emulator's default cancel is synchronous
    log = portal.requests()
    assert len(log) == 7
    for row in log:
        assert "api-version=2017-10-31" in row["query"]
        headers = {k.lower(): v for k, v in row["headers"].items()}
        assert headers["authorization"] == f"Bearer {portal.emu.token}"
        assert headers["user-agent"].startswith(f"pulumi-marketplace/{__version__}")
        assert headers["accept"] == "application/json"


@pytest.mark.parametrize(("pointer", "form"), [("migrated", "migrated"),
                                               ("nonMigrated", "nonMigrated"),
                                               ("absolute", "absolute")])
def test_each_pointer_form_is_followed(portal: Portal, pointer: str, form: str) -> None:
    offer = portal.offer(f"p-{pointer.lower()}", state="signoff", pointer=pointer)
    ref = portal.client.go_live(PUB, offer)
    assert ref.form == form
    assert ref.url.startswith(portal.emu.base_url + "/api/")
    assert "api-version=2017-10-31" in ref.url
    op, _ = portal.client.get_operation(ref)
    assert op.status is not OperationStatus.UNKNOWN
    draft = portal.offer(f"d-{pointer.lower()}", pointer=pointer)
    publish_ref = portal.client.publish(PUB, draft, "ops@contoso.com")
    assert publish_ref.form == form
    assert portal.client.get_operation(publish_ref)[0].steps


def test_canonical_reference_reads_the_same_operation(portal: Portal) -> None:
    offer = portal.offer("canon", state="signoff", pointer="nonMigrated")
    ref = portal.client.go_live(PUB, offer)
    sub = portal.client.list_operations(PUB, offer, status="running")[0]
    canonical = portal.client.operation_ref(PUB, offer, sub.id)
    assert canonical.form == "canonical"
    assert portal.client.get_operation(canonical)[0].publishing_version == (
        portal.client.get_operation(ref)[0].publishing_version)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequest), (403, Forbidden), (409, Conflict), (422, BadRequest),
     (500, ServerError), (502, ServerError), (503, ServerError)],
)
def test_status_faults_map_to_error_classes(portal: Portal, status: int,
                                            cls: type[PortalError]) -> None:
    offer = portal.offer("errs", state="signoff")
    portal.admin.add_fault("status", "/status$", status=status, code="SomeCode",
                           message="Plan <b>x</b> is broken:\n line 2")
    with pytest.raises(cls) as info:
        portal.client.offer_status(PUB, offer)
    err = info.value
    assert err.status == status and err.code == "SomeCode"
    assert err.body is not None and "Plan <b>x</b> is broken:\\n line 2" in err.body
    assert err.request_id  # x-ms-request-id from the emulator
    if status in (400, 422):
        assert err.body in str(err)  # a 400's body reaches the user whole
    assert portal.emu.token not in str(err)


def test_not_found_and_unauthorized(portal: Portal) -> None:
    portal.offer("exists")
    with pytest.raises(NotFound) as info:
        portal.client.offer_status(PUB, "missing")
    assert info.value.code == "OfferNotFound"
    wrong = PortalClient(portal.emu.base_url, StaticToken("wrong-token"))
    with pytest.raises(Unauthorized) as unauth:
        wrong.get_offer(PUB, "exists")
    assert unauth.value.status == 401 and "wrong-token" not in str(unauth.value)
    # A static token cannot be refreshed, so sending it again is pointless: one 401, and the
    # error says why.
    assert [r["status"] for r in portal.requests(path="/offers/exists")] == [401]
    assert "cannot be refreshed" in str(unauth.value)


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_carries_retry_after_in_both_forms(portal: Portal, form: str) -> None:
    offer = portal.offer("busy")
    value = "37" if form == "seconds" else formatdate(time.time() + 37, usegmt=True)
    portal.admin.add_fault("status", "/status$", status=429, retry_after=value)
    real_clock_client = PortalClient(portal.emu.base_url, StaticToken(portal.emu.token))
    with pytest.raises(Throttled) as info:
        real_clock_client.offer_status(PUB, offer)
    assert info.value.retry_after is not None and 34 <= info.value.retry_after <= 37


def test_throttle_bucket_answers_429_with_an_http_date(portal: Portal) -> None:
    offer = portal.offer("bucket")
    portal.admin.set_throttle(1.0, burst=1, retry_after="http-date", retry_after_seconds=9)
    client = PortalClient(portal.emu.base_url, StaticToken(portal.emu.token))
    client.offer_status(PUB, offer)
    with pytest.raises(Throttled) as info:
        client.offer_status(PUB, offer)
    assert info.value.retry_after is not None and 7 <= info.value.retry_after <= 10


def test_transport_failures(portal: Portal) -> None:
    offer = portal.offer("net", state="signoff")
    portal.admin.add_fault("reset", "/status$")
    with pytest.raises(TransportError) as reset:
        portal.client.offer_status(PUB, offer)
    assert reset.value.kind == "connection" and reset.value.transient
    slow = PortalClient(portal.emu.base_url, StaticToken(portal.emu.token), timeout=(2.0, 0.2))
    portal.admin.add_fault("delay", "/status$", delay=1.0)
    with pytest.raises(TransportError) as timeout:
        slow.offer_status(PUB, offer)
    assert timeout.value.kind == "timeout"
    portal.admin.add_fault("malformed", "/status$")
    with pytest.raises(MalformedResponse):
        portal.client.offer_status(PUB, offer)
    refused = PortalClient("http://127.0.0.1:9", StaticToken("t"), timeout=(0.5, 0.5))
    with pytest.raises(TransportError):
        refused.get_offer(PUB, offer)


def test_202_without_a_pointer_is_an_error(portal: Portal) -> None:
    offer = portal.offer("nop", state="signoff")
    portal.admin.add_fault("nopointer", "/golive$", method="POST")
    with pytest.raises(PointerError) as info:
        portal.client.go_live(PUB, offer)
    assert info.value.status == 202 and info.value.request_id


def test_cancel_that_runs_on_returns_a_pointer(portal: Portal) -> None:
    offer = portal.offer("slowcancel", state="signoff", cancelMode="async", cancelSeconds=30)
    portal.client.go_live(PUB, offer)
    ref = portal.client.cancel(PUB, offer)
    assert ref is not None and portal.client.get_operation(ref)[0].status is not None


@pytest.mark.parametrize(("pub", "offer", "field"), [("con/toso", "o", "publisherId"),
                                                     (PUB, "o?x=1", "offerId"),
                                                     (PUB, "..", "offerId"),
                                                     (PUB, "a b", "offerId")])
def test_unsafe_ids_are_refused_before_any_request(portal: Portal, pub: str, offer: str,
                                                   field: str) -> None:
    for call in (portal.client.go_live, portal.client.offer_status, portal.client.get_offer,
                 portal.client.list_operations, portal.client.cancel, portal.client.publish):
        with pytest.raises(InvalidIdentifier) as info:
            call(pub, offer)
        assert info.value.field == field
    assert portal.requests() == []


def test_endpoint_rules() -> None:
    tokens = StaticToken("t")
    with pytest.raises(ValueError, match="plain http"):
        PortalClient("http://cloudpartner.example.com", tokens)
    assert PortalClient("http://cloudpartner.example.com", tokens, allow_insecure_http=True)
    assert PortalClient("http://localhost:8787", tokens).endpoint == "http://localhost:8787"
    assert PortalClient("https://cloudpartner.azure.com/", tokens).endpoint == (
        "https://cloudpartner.azure.com")
    with pytest.raises(ValueError):
        PortalClient("ftp://x", tokens)
    client = PortalClient("https://cloudpartner.azure.com", StaticToken("secret-tok"))
    assert "secret-tok" not in repr(client)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(client)


def test_one_pool_shared_by_threads_and_thread_safety(portal: Portal) -> None:
    offer = portal.offer("threads", state="signoff")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                portal.client.offer_status(PUB, offer)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(portal.requests()) == 30
    # One pool for the client's one origin, its connections reused across the threads.
    pool = portal.client._connections()
    assert len(pool.pools) == 1
    assert pool.connection_from_url(portal.client.endpoint).num_connections <= 6


def test_https_verifies_the_certificate(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    seed = parse_seed({"offers": [{"publisherId": PUB, "offerId": "tls"}]})
    server = EmulatorServer(EmulatorOptions(seed=seed), ssl_context=ctx).start()
    try:
        bundle = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        trusted = PortalClient(server.base_url, StaticToken("emulator-token"), verify=str(bundle))
        assert trusted.get_offer(PUB, "tls")["id"] == "tls"
        untrusted = PortalClient(server.base_url, StaticToken("emulator-token"))
        with pytest.raises(TransportError) as info:
            untrusted.get_offer(PUB, "tls")
        assert info.value.kind == "tls" and not info.value.transient
    finally:
        server.stop()
