"""Retry-After as RFC 9110 and the portal mean it, over real HTTP against the emulator: an
HTTP-date is measured against the answer's own Date, a 503 (or any status) that carries it is
honoured, and so is the 202 that started the operation. Also: a token endpoint that fails for a
while after the cached token expired does not end a long wait."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

from pulumi_marketplace_provider.partner_portal import (
    AzureIdentityToken,
    CredentialsUnavailable,
    OperationStatus,
    PortalClient,
    StaticToken,
    ThrottleGate,
    wait_for_operation,
)
from pulumi_marketplace_provider.procedure import ScaledClock, SystemClock, run_sync
from tests.conftest import EmulatorFactory

from .conftest import PUB, Portal, emulated

SHORT = [{"id": "live", "stepName": "Live", "seconds": 2}]


class BehindClock(SystemClock):
    """The runner's wall clock, `lag` seconds behind the portal's."""

    def __init__(self, lag: float) -> None:
        self.lag = lag

    def wall(self) -> datetime:
        return datetime.now(timezone.utc) - timedelta(seconds=self.lag)


def test_an_http_date_retry_after_is_measured_against_the_answers_date(
    emulator_factory: EmulatorFactory,
) -> None:
    """The portal's clock 595 s ahead of the runner's: "come back in 3 s" must not become a
    ten-minute pause (on 432de4c it did: the date was read against the local clock)."""
    emu = emulator_factory()
    emu.admin.put_offer(PUB, "skew", state="signoff", goLiveSteps=SHORT)
    clock = BehindClock(595.0)
    client = PortalClient(emu.base_url, StaticToken(emu.token), clock=clock)
    ref = client.go_live(PUB, "skew")
    when = formatdate(time.time() + 3, usegmt=True)
    emu.admin.add_fault("status", "/operations/", method="GET", status=429, retry_after=when)
    began = time.monotonic()
    op = run_sync(wait_for_operation(client, ref, clock=clock, deadline=clock.now() + 60,
                                     throttle=ThrottleGate()), clock=clock)
    assert op.status is OperationStatus.SUCCEEDED
    assert time.monotonic() - began < 30


def test_retry_after_on_a_503_is_honoured(portal: Portal) -> None:
    portal.offer("busy", state="signoff",
                 goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 600}])
    ref = portal.client.go_live(PUB, "busy")
    portal.admin.add_fault("status", "/operations/", method="GET", status=503, retry_after=90)
    op = portal.run(wait_for_operation(portal.client, ref, clock=portal.clock,
                                       deadline=portal.deadline(), throttle=portal.gate))
    assert op.status is OperationStatus.SUCCEEDED
    polls = portal.requests("GET", "/operations/")
    refused = next(r for r in polls if r["status"] == 503)
    after = [emulated(r) - emulated(refused) for r in polls if r["seq"] > refused["seq"]]
    assert after and min(after) >= 90 - 2


def test_the_202s_retry_after_delays_the_first_poll(portal: Portal) -> None:
    portal.offer("accepted", state="signoff", pollRetryAfter=45,
                 goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 300}])
    ref = portal.client.go_live(PUB, "accepted")
    assert ref.retry_after == 45
    portal.run(wait_for_operation(portal.client, ref, clock=portal.clock,
                                  deadline=portal.deadline(), throttle=portal.gate))
    [post] = portal.golive_posts("accepted")
    first = min(emulated(r) for r in portal.requests("GET", "/operations/"))
    assert first - emulated(post) >= 45 - 2


class FlakyIssuer:
    """Issues short-lived tokens; after the first, the token endpoint fails `failures` times
    (timeouts and 503s alternately) before answering again; or refuses for good."""

    def __init__(self, wall: Any, ttl: float, failures: int, refuse: bool = False) -> None:
        self.wall, self.ttl, self.failures, self.refuse = wall, ttl, failures, refuse
        self.issued = 0
        self.failed = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        if self.issued and self.refuse:
            err = ClientAuthenticationError("AADSTS7000215: invalid_client")
            err.status_code = 401
            raise err
        if self.issued and self.failed < self.failures:
            self.failed += 1
            if self.failed % 2:
                raise ServiceRequestError("token endpoint timed out")
            err = ClientAuthenticationError("token endpoint answered 503")
            err.status_code = 503
            raise err
        self.issued += 1
        return AccessToken(f"tok-{self.issued}", int(self.wall() + self.ttl))


def _long_wait(portal: Portal, issuer_args: dict[str, Any]) -> tuple[Any, FlakyIssuer, Any]:
    portal.admin.set_tokens([f"tok-{i}" for i in range(1, 50)])
    clock = ScaledClock(2000.0)
    portal.admin.set_clock(2000.0)
    issuer = FlakyIssuer(lambda: clock.wall().timestamp(), **issuer_args)
    tokens = AzureIdentityToken(issuer, margin=60, wall=lambda: clock.wall().timestamp())
    client = PortalClient(portal.emu.base_url, tokens, clock=clock)
    portal.offer("long", state="signoff", goLiveSteps=[
        {"id": "live", "stepName": "Live", "estimatedTimeFrame": "< 1 day", "seconds": 7200}])
    ref = client.go_live(PUB, "long")
    proc = wait_for_operation(client, ref, clock=clock, deadline=clock.now() + 86400,
                              throttle=portal.gate)
    return proc, issuer, clock


def test_a_transient_token_endpoint_failure_does_not_end_a_long_wait(portal: Portal) -> None:
    """Azure AD times out or answers 503 just after the cached token expired: the waiter
    retries like a 5xx (on 432de4c the wait ended with a credentials error)."""
    proc, issuer, clock = _long_wait(portal, {"ttl": 600, "failures": 4})
    op = run_sync(proc, clock=clock)
    assert op.status is OperationStatus.SUCCEEDED
    assert issuer.failed == 4 and issuer.issued >= 2


def test_a_refused_credential_ends_the_wait(portal: Portal) -> None:
    proc, _, clock = _long_wait(portal, {"ttl": 600, "failures": 0, "refuse": True})
    try:
        run_sync(proc, clock=clock)
    except CredentialsUnavailable as exc:
        assert "invalid_client" in str(exc)
    else:
        raise AssertionError("a refused credential must end the wait")
