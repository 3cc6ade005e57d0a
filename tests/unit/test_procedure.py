"""The effect drivers: same procedure, sync and asyncio; cancellation; scaled clocks."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from pulumi_marketplace_provider.procedure import (
    Call,
    Cancelled,
    Procedure,
    ScaledClock,
    Sleep,
    SystemClock,
    run_async,
    run_sync,
)


def sample(log: list[str]) -> Procedure[int]:
    a = yield Call(lambda: 20)
    yield Sleep(0.01)
    try:
        yield Call(lambda: 1 / 0)
    except ZeroDivisionError:
        log.append("caught")
    b = yield Call(lambda: 22)
    return int(a) + int(b)


def test_sync_and_async_drivers_agree() -> None:
    log: list[str] = []
    assert run_sync(sample(log), clock=SystemClock()) == 42
    assert asyncio.run(run_async(sample(log), clock=SystemClock())) == 42
    assert log == ["caught", "caught"]


def test_errors_not_handled_propagate() -> None:
    def boom() -> Procedure[None]:
        yield Call(lambda: int("x"))

    with pytest.raises(ValueError):
        run_sync(boom(), clock=SystemClock())
    with pytest.raises(ValueError):
        asyncio.run(run_async(boom(), clock=SystemClock()))


def long_wait(cleaned: list[bool]) -> Procedure[None]:
    try:
        yield Sleep(3600)
    finally:
        cleaned.append(True)


def test_sync_cancel_stops_a_sleep_promptly() -> None:
    cancel = threading.Event()
    cleaned: list[bool] = []
    threading.Timer(0.05, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(Cancelled):
        run_sync(long_wait(cleaned), clock=SystemClock(), cancel=cancel)
    assert time.monotonic() - began < 10  # generous: an hour's sleep was cut short
    assert cleaned == [True]


def test_async_cancel_stops_at_once() -> None:
    cleaned: list[bool] = []

    async def main() -> None:
        task = asyncio.create_task(run_async(long_wait(cleaned), clock=SystemClock()))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert cleaned == [True]


def test_scaled_clock_runs_fast() -> None:
    clock = ScaledClock(1000.0)
    t0, w0 = clock.now(), clock.wall()
    clock.sleep(50.0)  # 50 ms real
    assert clock.now() - t0 >= 49.0
    assert (clock.wall() - w0).total_seconds() >= 49.0
    asyncio.run(clock.asleep(10.0))
    with pytest.raises(ValueError):
        ScaledClock(0)


def test_a_critical_call_finishes_and_is_seen_when_the_task_is_cancelled() -> None:
    """Cancel during the go-live POST: the procedure still gets the POST's answer (so it can
    record the go-live), and the cancellation takes effect at its next plain effect."""
    import asyncio
    import threading

    from pulumi_marketplace_provider.procedure import Call, Sleep, SystemClock, run_async

    release = threading.Event()
    seen: list[str] = []

    def post() -> str:
        release.wait(5)
        return "ref"

    def proc():
        value = yield Call(post, critical=True)
        seen.append(value)
        yield Sleep(5.0)
        seen.append("after the sleep")
        return value

    async def main() -> float:
        task = asyncio.ensure_future(run_async(proc(), clock=SystemClock()))
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.sleep(0.1)
        release.set()
        started = asyncio.get_running_loop().time()
        try:
            await task
        except asyncio.CancelledError:
            return asyncio.get_running_loop().time() - started
        raise AssertionError("the task was not cancelled")

    took = asyncio.run(main())
    assert seen == ["ref"], "the critical call's answer reached the procedure, nothing after"
    assert took < 1.0, f"the cancellation waited for the next sleep ({took:.1f} s)"
