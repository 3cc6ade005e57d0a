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
