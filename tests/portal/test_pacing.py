"""Many go-lives in one process against a portal that throttles: the pacer finds its rate.

Real HTTP to the emulator (its token bucket runs on real time, so the clock here is the system
clock), every go-live driven by the asyncio driver in one event loop, as the plugin does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pulumi_marketplace_provider.pacing import pacer_for
from pulumi_marketplace_provider.partner_portal import PortalClient, StaticToken, ThrottleGate
from pulumi_marketplace_provider.partner_portal.backend import PartnerPortalBackend
from pulumi_marketplace_provider.partner_portal.models import OperationStatus
from pulumi_marketplace_provider.partner_portal.schedule import PollSchedule
from pulumi_marketplace_provider.partner_portal.waiter import wait_for_operation
from pulumi_marketplace_provider.procedure import SystemClock, run_async
from tests.conftest import EmulatorFactory

PUB = "contoso"
OFFERS = 16
RATE = 6.0  # requests per second the emulator accepts (bucket of one second's worth)
STEPS = [{"id": "live", "stepName": "live", "seconds": 2.0}]


def test_many_go_lives_under_a_throttle_share_one_pacer(
    emulator_factory: EmulatorFactory,
) -> None:
    emu = emulator_factory()
    offers = [f"paced-{i}" for i in range(OFFERS)]
    emu.admin.seed({"offers": [{"publisherId": PUB, "offerId": o, "state": "signoff",
                                "goLiveSteps": STEPS} for o in offers]})
    emu.admin.set_throttle(RATE)
    clock = SystemClock()
    client = PortalClient(emu.base_url, StaticToken(emu.token), clock=clock, timeout=(2.0, 5.0))
    backend = PartnerPortalBackend(client)
    gate = ThrottleGate()  # this test's own gate: nothing shared with other tests
    schedule = PollSchedule()
    messages: list[str] = []

    async def one(offer: str) -> Any:
        deadline = clock.now() + 120.0
        start = await run_async(backend.start_go_live(
            PUB, offer, clock=clock, deadline=deadline, on_progress=None, on_submit=None,
        ), clock=clock)
        assert start.ref is not None
        return await run_async(wait_for_operation(
            client, start.ref, clock=clock, deadline=deadline, schedule=schedule, throttle=gate,
            on_progress=lambda p: messages.append(p.message or ""),
        ), clock=clock)

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(one(o) for o in offers)))

    try:
        done = asyncio.run(main())
    finally:
        client.close()
    assert all(op.status == OperationStatus.SUCCEEDED for op in done)
    rows = emu.admin.requests()
    for offer in offers:
        started = [r for r in rows if r["method"] == "POST" and r["path"].endswith(
            f"/offers/{offer}/golive") and r.get("status") == 202]
        assert len(started) == 1, offer
    refused = sum(1 for r in rows if r.get("status") == 429)
    # The first burst (16 lists at once into a bucket of 6) is refused before anything can be
    # learned; after that, few. Paced: 10-16 of ~80 answers were 429. Unpaced (permits not
    # asked), 92 of 156: each wait met the bucket on its own, again and again.
    assert refused <= 2 * OFFERS, (refused, len(rows))
    view = pacer_for(client.origin.url).view()
    assert view.refusals >= 1 and view.rate is not None
    assert view.rate <= 2 * RATE, view  # it learned a rate near the portal's, not "no limit"
    assert any("throttling" in m for m in messages)
