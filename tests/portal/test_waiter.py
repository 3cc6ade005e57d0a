"""The waiter over real HTTP on the emulator's scaled clock: success, failure, faults, 429s,
token refresh, cancellation, and both drivers."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from pulumi_marketplace_provider.partner_portal import (
    AzureIdentityToken,
    OperationCanceled,
    OperationFailed,
    OperationStatus,
    PortalClient,
    Progress,
    WaitTimedOut,
    wait_for_operation,
)
from pulumi_marketplace_provider.procedure import Cancelled, ScaledClock, run_async, run_sync

from .conftest import PUB, Portal, emulated

ONE_STEP = [{"id": "live", "stepName": "Live", "estimatedTimeFrame": "< 1 hour", "seconds": 600}]


def started(portal: Portal, offer: str, **config: Any) -> Any:
    portal.offer(offer, state="signoff", **config)
    return portal.client.go_live(PUB, offer)


def test_waits_until_succeeded_reporting_progress(portal: Portal) -> None:
    ref = started(portal, "ok")
    seen: list[Progress] = []
    op = portal.run(wait_for_operation(portal.client, ref, clock=portal.clock,
                                       deadline=portal.deadline(), on_progress=seen.append,
                                       throttle=portal.gate))
    assert op.status is OperationStatus.SUCCEEDED and op.live_links
    assert {p.step_name for p in seen} >= {"Prepare for Live", "Live"}
    assert all(p.operation_id == ref.operation_id for p in seen)
    assert seen[-1].status == "succeeded" and seen[-1].percent == 100.0
    assert [p.elapsed for p in seen] == sorted(p.elapsed for p in seen)
    polls = portal.requests("GET", "/operations/")
    assert 3 <= len(polls) <= 40  # a 60 s operation: a handful of polls, not hundreds


def test_async_driver_runs_the_same_wait(portal: Portal) -> None:
    ref = started(portal, "async")
    op = asyncio.run(run_async(
        wait_for_operation(portal.client, ref, clock=portal.clock, deadline=portal.deadline(),
                           throttle=portal.gate),
        clock=portal.clock))
    assert op.status is OperationStatus.SUCCEEDED


def test_failure_carries_the_portals_words_the_id_and_what_next(portal: Portal) -> None:
    ref = started(portal, "bad", goLiveOutcome={
        "result": "fail", "atStep": "live",
        "messages": ["<p>No <b>virtual machine image</b> was found for plan &quot;gold&quot;.</p>"],
    })
    with pytest.raises(OperationFailed) as info:
        portal.run(wait_for_operation(portal.client, ref, clock=portal.clock,
                                      deadline=portal.deadline(), throttle=portal.gate))
    err = info.value
    text = str(err)
    assert 'No virtual machine image was found for plan "gold".' in text
    assert "<b>" not in text
    assert ref.operation_id in text and err.operation_id == ref.operation_id
    assert "Next:" in text and "pulumi up" in text
    assert err.operation is not None and err.operation.status is OperationStatus.FAILED
    assert not isinstance(err, OperationCanceled)


def test_canceled_operation_raises_canceled(portal: Portal) -> None:
    ref = started(portal, "cxl", goLiveSteps=ONE_STEP)
    portal.client.cancel(PUB, "cxl")
    with pytest.raises(OperationCanceled) as info:
        portal.run(wait_for_operation(portal.client, ref, clock=portal.clock,
                                      deadline=portal.deadline(), throttle=portal.gate))
    assert info.value.operation_id == ref.operation_id and "canceled" in str(info.value)


def test_deadline_gives_wait_timed_out_with_the_reference(portal: Portal) -> None:
    ref = started(portal, "slow", goLiveSteps=ONE_STEP)
    deadline = portal.deadline(120.0)
    with pytest.raises(WaitTimedOut) as info:
        portal.run(wait_for_operation(portal.client, ref, clock=portal.clock,
                                      deadline=deadline, throttle=portal.gate))
    assert info.value.ref == ref and info.value.last is not None
    assert info.value.last.status is OperationStatus.RUNNING
    assert portal.clock.now() < deadline + 200  # stopped at the deadline (1 s real slack)


def test_transient_faults_are_retried(portal: Portal) -> None:
    ref = started(portal, "flaky")
    admin = portal.admin
    admin.add_fault("status", "/operations/", method="GET", status=503, times=2)
    admin.add_fault("reset", "/operations/", method="GET", skip=1)
    admin.add_fault("malformed", "/operations/", method="GET", skip=2)
    admin.add_fault("status", "/operations/", method="GET", status=500, skip=3)
    op = portal.run(wait_for_operation(portal.client, ref, clock=portal.clock,
                                       deadline=portal.deadline(), throttle=portal.gate))
    assert op.status is OperationStatus.SUCCEEDED
    assert all(f["remaining"] == 0 for f in admin.faults())


def test_a_client_error_is_final(portal: Portal) -> None:
    ref = started(portal, "gone")
    portal.admin.add_fault("status", "/operations/", method="GET", status=403)
    with pytest.raises(Exception, match="HTTP 403"):
        portal.run(wait_for_operation(portal.client, ref, clock=portal.clock,
                                      deadline=portal.deadline(), throttle=portal.gate))
    assert len(portal.requests("GET", "/operations/")) == 1


def test_a_429_slows_every_waiter_sharing_the_gate(portal: Portal) -> None:
    short = [{**ONE_STEP[0], "seconds": 300}]
    refs = [started(portal, "first", goLiveSteps=short),
            started(portal, "second", goLiveSteps=short)]
    portal.admin.add_fault("status", "/offers/first/operations/", method="GET", status=429,
                           retry_after=120, skip=3)
    outcomes: list[Any] = []

    def wait(ref: Any) -> None:
        try:
            outcomes.append(portal.run(wait_for_operation(
                portal.client, ref, clock=portal.clock, deadline=portal.deadline(),
                throttle=portal.gate)))
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=wait, args=(r,)) for r in refs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [o.status for o in outcomes] == [OperationStatus.SUCCEEDED] * 2
    assert portal.gate.refusals == 1
    log = portal.requests("GET", "/operations/")
    refused = next(r for r in log if r["status"] == 429)
    t429 = emulated(refused)
    after = [emulated(r) - t429 for r in log if r["seq"] > refused["seq"]]
    # Neither waiter polled again before Retry-After had passed, except for a request of
    # the other waiter already on its way when the 429 was answered.
    early = [a for a in after if a < 120]
    assert len(after) > 2 and len(early) <= 1


def test_retry_after_on_a_poll_answer_is_honoured(portal: Portal) -> None:
    ref = started(portal, "hint", pollRetryAfter=40,
                  goLiveSteps=[{**ONE_STEP[0], "seconds": 240}])
    portal.run(wait_for_operation(portal.client, ref, clock=portal.clock,
                                  deadline=portal.deadline(), throttle=portal.gate))
    times = [emulated(r) for r in portal.requests("GET", "/operations/")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps and min(gaps) >= 40 - 2


class Issuer:
    """Issues tok-1, tok-2, ... each valid for `ttl` seconds of the given (emulated) wall."""

    def __init__(self, wall: Any, ttl: float) -> None:
        self.wall, self.ttl, self.issued = wall, ttl, 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.issued += 1
        return AccessToken(f"tok-{self.issued}", int(self.wall() + self.ttl))


def test_token_is_refreshed_during_a_long_wait(portal: Portal) -> None:
    portal.admin.set_tokens([f"tok-{i}" for i in range(1, 200)])
    clock = ScaledClock(5000.0)
    portal.admin.set_clock(5000.0)
    issuer = Issuer(lambda: clock.wall().timestamp(), ttl=1800)
    tokens = AzureIdentityToken(issuer, margin=300, wall=lambda: clock.wall().timestamp())
    client = PortalClient(portal.emu.base_url, tokens, clock=clock)
    portal.offer("long", state="signoff", goLiveSteps=[
        {"id": "live", "stepName": "Live", "estimatedTimeFrame": "< 5 day", "seconds": 7200}])
    ref = client.go_live(PUB, "long")
    op = run_sync(wait_for_operation(client, ref, clock=clock, deadline=clock.now() + 86400,
                                     throttle=portal.gate), clock=clock)
    assert op.status is OperationStatus.SUCCEEDED
    used = [r["headers"].get("Authorization") or r["headers"].get("authorization")
            for r in portal.requests()]
    distinct = list(dict.fromkeys(used))
    assert len(distinct) >= 3  # refreshed before expiry, several times over two hours
    assert all(r["status"] != 401 for r in portal.requests())


def test_a_401_is_retried_once_with_a_fresh_token(portal: Portal) -> None:
    portal.admin.set_tokens(["tok-2"])
    tokens = AzureIdentityToken(Issuer(time.time, ttl=3600), margin=300)
    client = PortalClient(portal.emu.base_url, tokens)
    portal.offer("auth")
    client.offer_status(PUB, "auth")
    assert [r["status"] for r in portal.requests()] == [401, 200]


LONG = [{**ONE_STEP[0], "seconds": 3600}]  # 18 s real: cancellation must cut it short


def test_sync_cancel_stops_the_wait_promptly(portal: Portal) -> None:
    ref = started(portal, "stop", goLiveSteps=LONG)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(Cancelled):
        run_sync(wait_for_operation(portal.client, ref, clock=portal.clock,
                                    deadline=portal.deadline(), throttle=portal.gate),
                 clock=portal.clock, cancel=cancel)
    assert time.monotonic() - began < 10  # generous; the operation had 18 s (real) to go
    count = len(portal.requests("GET", "/operations/"))
    time.sleep(0.3)
    assert len(portal.requests("GET", "/operations/")) == count


def test_async_cancel_stops_the_wait_at_once(portal: Portal) -> None:
    ref = started(portal, "astop", goLiveSteps=LONG)

    async def main() -> None:
        task = asyncio.create_task(run_async(
            wait_for_operation(portal.client, ref, clock=portal.clock,
                               deadline=portal.deadline(), throttle=portal.gate),
            clock=portal.clock))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    count = len(portal.requests("GET", "/operations/"))
    time.sleep(0.3)
    assert len(portal.requests("GET", "/operations/")) == count


def test_progress_counts_the_go_lives_own_steps(portal: Portal) -> None:
    """A go-live's answer also lists the publish steps before it (all complete); the percentage
    is that of the go-live's own steps: one just started is near 0 %, not ~70 % (432de4c)."""
    ref = started(portal, "pct", goLiveSteps=[
        {"id": "live-preparation", "stepName": "Live preparation", "seconds": 200},
        {"id": "live", "stepName": "Live", "seconds": 200}])
    seen: list[Progress] = []
    portal.run(wait_for_operation(portal.client, ref, clock=portal.clock,
                                  deadline=portal.deadline(), on_progress=seen.append,
                                  throttle=portal.gate))
    first = next(p for p in seen if p.status == "running")
    assert first.step_name == "Live preparation"
    assert first.percent is not None and first.percent < 50.0
    live = [p.percent for p in seen if p.step_name == "Live" and p.status == "running"]
    assert live and all(p is not None and 50.0 <= p < 100.0 for p in live)
    assert seen[-1].percent == 100.0
