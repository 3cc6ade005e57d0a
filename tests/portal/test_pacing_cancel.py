"""Ctrl-C while a go-live request waits for the pacer's permit: nothing is sent.

The plugin cancels the RPC's task. A cancel that lands before the go-live request left must
not send it (a go-live cannot be undone); only one that lands while it is in flight lets it
finish. Real HTTP to the emulator; the origin's pacer is put in a throttled state (one
permit every few seconds) so that the go-live request is queued when the cancel comes.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from marketplace_emulator.harness import RunningEmulator
from pulumi_marketplace_provider.pacing import Pacer, Priority
from pulumi_marketplace_provider.partner_portal import PortalClient, StaticToken, ThrottleGate
from pulumi_marketplace_provider.partner_portal.backend import PartnerPortalBackend
from pulumi_marketplace_provider.partner_portal.errors import WaitTimedOut
from pulumi_marketplace_provider.partner_portal.golive import call_retrying
from pulumi_marketplace_provider.partner_portal.waiter import poll_operation
from pulumi_marketplace_provider.procedure import Procedure, SystemClock, run_async, run_sync
from pulumi_marketplace_provider.product_ingestion import IngestionClient
from pulumi_marketplace_provider.product_ingestion.backend import ProductIngestionBackend

PUB, OFFER = "contoso", "paced-cancel"
STEPS = [{"id": "live", "stepName": "Live", "seconds": 60}]
SPACING = 3.0  # seconds between permits while throttled


def _throttled(pacer: Pacer) -> None:
    with pacer._cond:
        pacer._rate = pacer._ceiling = 1.0 / SPACING
        pacer._last_refusal = pacer._last_probe = time.monotonic()
        pacer._next = -math.inf


def _go_live_queued(pacer: Pacer) -> bool:
    with pacer._cond:
        return any(w.priority == Priority.GO_LIVE and not w.gone for w in pacer._queue)


def _cancel_while_queued(backend: Any, pacer: Pacer) -> None:
    clock = SystemClock()

    async def main() -> None:
        task = asyncio.ensure_future(run_async(backend.start_go_live(
            PUB, OFFER, clock=clock, deadline=clock.now() + 60.0, on_progress=None,
            on_submit=None), clock=clock))
        limit = time.monotonic() + 10.0
        while not _go_live_queued(pacer):
            assert not task.done() and time.monotonic() < limit
            await asyncio.sleep(0.01)
        task.cancel()  # Ctrl-C: the go-live request has not left yet
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    time.sleep(SPACING + 0.5)  # anything still queued would have gone by now


def test_partner_portal_cancel_while_the_post_waits_for_a_permit_sends_nothing(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emu = emulator_factory()
    emu.admin.put_offer(PUB, OFFER, state="signoff", goLiveSteps=STEPS)
    client = PortalClient(emu.base_url, StaticToken(emu.token), timeout=(2.0, 5.0))
    try:
        _throttled(client.pacer)
        _cancel_while_queued(PartnerPortalBackend(client), client.pacer)
    finally:
        client.close()
    assert emu.admin.posts(PUB, OFFER, "golive") == 0


def _ingestion_backend(emu: RunningEmulator) -> tuple[IngestionClient, ProductIngestionBackend]:
    """An offer at sign-off on the Product Ingestion API, its product already resolved (cached),
    so the next request the backend sends is the one under test."""
    emu.admin.put_offer(PUB, OFFER, state="signoff", goLiveSteps=STEPS,
                        productIngestion={"jobStartDelaySeconds": 1})
    client = IngestionClient(emu.base_url, StaticToken(emu.token),
                             api_version="2022-03-01-preview2")
    backend = ProductIngestionBackend(client)
    clock = SystemClock()
    run_sync(backend._product(PUB, OFFER, clock, None), clock=clock)
    return client, backend


def test_product_ingestion_cancel_while_configure_waits_for_a_permit_sends_nothing(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emu = emulator_factory()
    client, backend = _ingestion_backend(emu)
    try:
        _throttled(client.pacer)
        _cancel_while_queued(backend, client.pacer)
    finally:
        client.close()
    configures = [r for r in emu.admin.requests(method="POST")
                  if r["path"].rstrip("/").endswith("/configure")]
    assert configures == [], configures


def _start_past_deadline(backend: Any, limit: float) -> BaseException | None:
    """start_go_live with a wait limit shorter than the pacer's queue: what it raised."""
    clock = SystemClock()
    try:
        asyncio.run(run_async(backend.start_go_live(
            PUB, OFFER, clock=clock, deadline=clock.now() + limit, on_progress=None,
            on_submit=None), clock=clock))
    except Exception as exc:
        return exc
    return None


def test_partner_portal_post_queued_past_the_wait_limit_is_not_sent(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    """A throttled process never sends a go-live past its deadline, also when the wait for
    the pacer's permit is what took it there."""
    emu = emulator_factory()
    emu.admin.put_offer(PUB, OFFER, state="signoff", goLiveSteps=STEPS)
    client = PortalClient(emu.base_url, StaticToken(emu.token), timeout=(2.0, 5.0))
    try:
        _throttled(client.pacer)
        with client.pacer._cond:
            client.pacer._next = time.monotonic() + 1.0  # the listing goes in 1 s, the POST 4 s
        error = _start_past_deadline(PartnerPortalBackend(client), SPACING)
    finally:
        client.close()
    assert emu.admin.posts(PUB, OFFER, "golive") == 0
    assert isinstance(error, WaitTimedOut), error


def test_product_ingestion_configure_queued_past_the_wait_limit_is_not_sent(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emu = emulator_factory()
    client, backend = _ingestion_backend(emu)
    try:
        _throttled(client.pacer)
        with client.pacer._cond:
            client.pacer._next = time.monotonic() + 1.0
        error = _start_past_deadline(backend, SPACING)
    finally:
        client.close()
    configures = [r for r in emu.admin.requests(method="POST")
                  if r["path"].rstrip("/").endswith("/configure")]
    assert configures == [], configures
    assert isinstance(error, WaitTimedOut), error


@pytest.mark.parametrize("kind", ["read", "poll"])
def test_a_request_queued_for_a_permit_waits_out_a_gate_that_closed_meanwhile(
    emulator_factory: Callable[..., RunningEmulator], kind: str,
) -> None:
    """A long Retry-After closes the process's gate: no request goes before it has passed,
    also one that was already queued at the pacer when the 429 came (it re-checks the gate)."""
    emu = emulator_factory()
    emu.admin.put_offer(PUB, OFFER, state="signoff", goLiveSteps=STEPS)
    client = PortalClient(emu.base_url, StaticToken(emu.token), timeout=(2.0, 5.0))
    gate = ThrottleGate()
    clock = SystemClock()
    cancel = threading.Event()
    outcome: list[BaseException | None] = []
    proc: Procedure[Any]
    if kind == "read":
        proc = call_retrying(lambda: client.list_operations(PUB, OFFER), clock=clock,
                             deadline=clock.now() + 60.0, throttle=gate, source=client)
    else:
        ref = replace(client.go_live(PUB, OFFER), retry_after=None)
        proc = poll_operation(client, ref, clock=clock, deadline=clock.now() + 60.0,
                              throttle=gate)
    emu.admin.clear_requests()

    def run() -> None:
        try:
            run_sync(proc, clock=clock, cancel=cancel)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    try:
        _throttled(client.pacer)
        with client.pacer._cond:
            client.pacer._next = time.monotonic() + 1.0
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        limit = time.monotonic() + 5.0
        while not client.pacer.view().waiting:
            assert time.monotonic() < limit
            time.sleep(0.01)
        gate.note_429(20.0, clock.now())  # another request of the process was told: 20 s
        time.sleep(2.5)  # the permit came after 1 s
        sent = emu.admin.requests(method="GET")
        cancel.set()
        thread.join(5.0)
    finally:
        client.close()
    assert sent == [], "a request went out while the gate was closed"
    assert outcome and type(outcome[0]).__name__ == "Cancelled"
