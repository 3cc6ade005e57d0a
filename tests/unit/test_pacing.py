"""The process-wide pacer: free until a 429, then the accepted rate, most urgent first."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from pulumi_marketplace_provider import procedure
from pulumi_marketplace_provider.pacing import Pacer, Priority, pacer_for, reset_pacers
from pulumi_marketplace_provider.procedure import (
    Permit,
    Procedure,
    SystemClock,
    permit,
    run_async,
    run_sync,
)


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def limited(rate_accepted: int, clock: FakeTime | None = None) -> Pacer:
    """A pacer that saw `rate_accepted` answers in the last second, then a 429."""
    fake = clock or FakeTime()
    pacer = Pacer(clock=fake)
    for _ in range(rate_accepted):
        fake.t += 0.5 / rate_accepted
        pacer.observe(refused=False)
    pacer.observe(refused=True)
    return pacer


def test_permits_are_free_until_the_portal_refuses_one() -> None:
    pacer = Pacer()
    for _ in range(100):
        assert pacer.acquire(Priority.BLIND)
        pacer.observe(refused=False)
    view = pacer.view()
    assert view.rate is None and view.granted == 100 and view.waiting == 0


def test_a_429_sets_the_rate_the_portal_was_just_seen_to_accept() -> None:
    pacer = limited(40)
    assert pacer.view().rate == 0.95 * 40
    assert pacer.refusals == 1


def test_a_burst_of_refusals_cuts_once_then_later_ones_cut_again() -> None:
    clock = FakeTime()
    pacer = limited(40, clock)
    first = pacer.view().rate
    clock.t += 0.1
    pacer.observe(refused=True)  # the same burst: no second cut
    assert pacer.view().rate == first
    for _ in range(10):
        clock.t += 0.05
        pacer.observe(refused=False)
    pacer.observe(refused=True)  # later, still refused: the rate it measures now
    rate = pacer.view().rate
    assert rate is not None and first is not None and rate < first


def test_a_storm_with_nothing_accepted_keeps_a_minimum_rate() -> None:
    pacer = limited(0)
    assert pacer.view().rate == pacer.min_rate


def test_the_limit_is_forgotten_after_a_quiet_minute() -> None:
    clock = FakeTime()
    pacer = limited(20, clock)
    assert pacer.view().rate is not None
    clock.t += pacer.forget_after + 0.1
    assert pacer.view().rate is None


def test_it_probes_up_while_requests_wait_and_no_429_comes() -> None:
    clock = FakeTime()
    pacer = limited(20, clock)
    rate0 = pacer.view().rate
    assert rate0 is not None
    # The first 429 says little (acceptances are counted later than refusals): double each
    # quiet second until the next 429.
    clock.t += pacer.probe_every
    pacer._probe(clock.t)
    assert pacer.view().rate == 2 * rate0
    # Then the rate that got through is the portal's: back to it fast, past it slowly.
    for _ in range(40):
        clock.t += 0.025
        pacer.observe(refused=False)
    clock.t += pacer.cut_every
    pacer.observe(refused=True)
    cut = pacer.view().rate
    assert cut is not None and cut < 2 * rate0
    clock.t += pacer.probe_every
    pacer._probe(clock.t)
    assert pacer.view().rate == pacer._ceiling
    ceiling = pacer._ceiling
    clock.t += pacer.probe_every
    pacer._probe(clock.t)
    assert pacer.view().rate == ceiling * pacer.probe_factor
    # After a storm that let nothing through, it climbs back by doubling.
    storm = limited(0, clock)
    rates = []
    for _ in range(8):
        clock.t += storm.probe_every
        storm._probe(clock.t)
        rates.append(storm.view().rate)
    assert rates[-1] == storm.min_rate * 2 ** 8


def test_waiting_requests_go_most_urgent_first() -> None:
    pacer = limited(10, FakeTime())
    real = Pacer()
    real._rate, real._ceiling = 10.0, 10.0  # a limit of 10 per second, on real time
    real._last_refusal = time.monotonic()
    order: list[Priority] = []
    done = threading.Event()
    assert pacer.view().rate is not None
    assert real._enter(Priority.BLIND, lambda: True) is None  # takes the free slot
    for priority in (Priority.BLIND, Priority.START, Priority.AIMED, Priority.GO_LIVE):
        def grant(p: Priority = priority) -> bool:
            order.append(p)
            if len(order) == 4:
                done.set()
            return True
        assert real._enter(priority, grant) is not None  # queued behind the slot
    assert done.wait(5.0)
    assert order == [Priority.GO_LIVE, Priority.AIMED, Priority.START, Priority.BLIND]


def test_a_cancelled_wait_gives_its_place_up() -> None:
    real = Pacer()
    real._rate, real._ceiling = 5.0, 5.0
    real._last_refusal = time.monotonic()
    real._enter(Priority.BLIND, lambda: True)

    async def main() -> None:
        first = asyncio.create_task(real.acquire_async(Priority.GO_LIVE))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await asyncio.wait_for(real.acquire_async(Priority.BLIND), 5.0)

    asyncio.run(main())
    assert real.view().waiting == 0
    cancel = threading.Event()
    cancel.set()
    real._next = time.monotonic() + 60.0  # no permit for a minute: the cancel wins
    assert real.acquire(Priority.BLIND, cancel) is False
    assert real.view().waiting == 0


def test_both_drivers_wait_for_a_permit_before_the_call() -> None:
    pacer = Pacer()
    seen: list[str] = []

    def proc() -> Procedure[str]:
        yield from permit(type("Client", (), {"pacer": pacer})(), Priority.START)
        seen.append("permitted")
        yield from permit(object(), Priority.START)  # a double without a pacer: not paced
        return "done"

    assert run_sync(proc(), clock=SystemClock()) == "done"
    assert asyncio.run(run_async(proc(), clock=SystemClock())) == "done"
    assert seen == ["permitted", "permitted"] and pacer.granted == 2
    assert isinstance(next(proc()), Permit)


def test_one_pacer_per_origin() -> None:
    reset_pacers()
    a = pacer_for("https://api.example")
    assert pacer_for("https://api.example") is a
    assert pacer_for("http://127.0.0.1:1") is not a
    reset_pacers()
    assert pacer_for("https://api.example") is not a



def _throttled(rate: float = 20.0) -> Pacer:
    """A pacer limited on real time, whose next permit is not free."""
    pacer = Pacer()
    pacer._rate = pacer._ceiling = rate
    pacer._last_refusal = time.monotonic()
    pacer._next = time.monotonic() + 0.1
    return pacer


def _acquire_then(pacer: Pacer, done: threading.Event) -> None:
    if pacer.acquire(Priority.BLIND):
        done.set()


def test_a_forked_child_still_gets_permits() -> None:
    """The dispatcher thread does not survive fork: the child must not wait for it for ever."""
    pacer = _throttled()
    assert pacer.acquire(Priority.BLIND)  # queued: the parent's dispatcher runs now
    assert pacer._thread is not None and pacer._thread.is_alive()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            with pacer._cond:
                pacer._next = time.monotonic() + 0.1  # queue again
            got = threading.Event()
            threading.Thread(target=_acquire_then, args=(pacer, got), daemon=True).start()
            code = 0 if got.wait(3.0) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the child's permit never came"


def test_a_waiter_whose_loop_closed_does_not_stop_every_other_waiter() -> None:
    """A grant that fails (its event loop is gone) must not kill the process's dispatcher."""
    pacer = _throttled(rate=10.0)
    loop = asyncio.new_event_loop()
    task = loop.create_task(pacer.acquire_async(Priority.GO_LIVE))
    loop.run_until_complete(asyncio.sleep(0))  # queued
    loop.close()  # abandoned without cancelling its task
    assert not task.done()
    assert pacer.view().waiting == 1
    later = threading.Event()
    threading.Thread(target=_acquire_then, args=(pacer, later), daemon=True).start()
    assert later.wait(3.0), "a dead dispatcher left every later request waiting"


def test_a_critical_permit_in_the_cancel_grace_is_waited_for_no_longer_than_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a Cancel, a critical request (finding out what a go-live POST did) may still go
    out in the grace; a pacer that has no permit for it within the grace must not hold the
    cancelled task (the RPC) past it."""
    monkeypatch.setattr(procedure, "CANCEL_GRACE_SECONDS", 0.5)
    pacer = _throttled(rate=0.2)
    with pacer._cond:
        pacer._next = time.monotonic() + 60.0  # no permit for a minute
    sent: list[str] = []

    def proc() -> Procedure[None]:
        yield from permit(type("Client", (), {"pacer": pacer})(), Priority.GO_LIVE,
                          critical=True)
        sent.append("listing")

    async def main() -> float:
        task = asyncio.ensure_future(run_async(proc(), clock=SystemClock()))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10.0)
        return time.monotonic() - started

    took = asyncio.run(main())
    assert took < 3.0, f"the cancelled task waited {took:.1f} s for a permit"
    assert sent == []
    assert pacer.view().waiting == 0
