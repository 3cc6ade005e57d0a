"""Procedures: multi-step I/O logic written once, run by a sync or an asyncio driver.

A procedure is a generator that yields effects (`Call` one blocking step, `Sleep` on the
clock) and returns a result. The dynamic host runs provider methods in threads, so it uses
`run_sync`; the gRPC plugin must hold no thread while an offer waits, so it uses `run_async`.
Both drive the same generator, so the rules (waiting, exactly-once go-live) live in one place.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Generic, Protocol, TypeVar

from .pacing import Pacer

__all__ = [
    "Call",
    "Cancelled",
    "Clock",
    "Effect",
    "Permit",
    "Procedure",
    "ScaledClock",
    "Sleep",
    "SystemClock",
    "permit",
    "run_async",
    "run_sync",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Call(Generic[T]):
    """One blocking I/O step; its result is sent back, its exception thrown in.

    `critical` marks a step whose outcome must be known even when the run is cancelled (the
    go-live POST: if it started a go-live, the state must name it; and the listing that looks
    for it when its answer was lost). The asyncio driver lets such a call finish, hands its
    outcome to the procedure, and goes on through critical effects for at most
    CANCEL_GRACE_SECONDS before it stops.
    """

    fn: Callable[[], T]
    critical: bool = False


@dataclass(frozen=True)
class Sleep:
    """Wait on the driver's clock; cancellable (a `critical` one only after the grace)."""

    seconds: float
    critical: bool = False


@dataclass(frozen=True)
class Permit:
    """Wait for the portal origin's pacer to allow one request (see `pacing`).

    Yielded right before a `Call` that sends a request; `critical` as for `Call`.
    """

    pacer: Pacer
    priority: int
    critical: bool = False


Effect = Call[Any] | Sleep | Permit
Procedure = Generator[Effect, Any, R]


def permit(source: object, priority: int, *, critical: bool = False) -> Procedure[None]:
    """Wait for the pacer of the client `source` (its `pacer` attribute); test doubles
    without one are not paced."""
    pacer = getattr(source, "pacer", None)
    if isinstance(pacer, Pacer):
        yield Permit(pacer, priority, critical)


class Cancelled(Exception):
    """The sync driver was asked to stop (its cancel event was set)."""


class Clock(Protocol):
    """Time as procedures and schedules see it; scaled in tests and benchmarks."""

    def now(self) -> float:
        """Monotonic-ish seconds, for intervals and deadlines."""
        ...

    def wall(self) -> datetime:
        """UTC wall time, for HTTP-date `Retry-After`."""
        ...

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        """Block for `seconds`, returning early when `cancel` is set."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Await for `seconds`."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        if seconds <= 0:
            return
        if cancel is None:
            time.sleep(seconds)
        else:
            cancel.wait(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


class ScaledClock:
    """Time that runs `scale` times faster than real time.

    `now()` advances `scale` seconds per real second and sleeps last `seconds / scale` real
    seconds, so a waiter and an emulator started with the same `--time-scale` share one
    timeline. `wall()` starts at `epoch` (default: the real wall time at construction), so
    anchor it to the emulator's own epoch when HTTP-date answers must line up.
    """

    def __init__(
        self,
        scale: float,
        *,
        epoch: datetime | None = None,
        origin: float | None = None,
    ) -> None:
        if not scale > 0:
            raise ValueError("scale must be positive")
        self.scale = float(scale)
        self._mono0 = time.monotonic()
        self._wall0 = epoch if epoch is not None else datetime.now(timezone.utc)
        self._origin = self._mono0 if origin is None else origin

    def elapsed(self) -> float:
        """Scaled seconds since construction."""
        return (time.monotonic() - self._mono0) * self.scale

    def now(self) -> float:
        return self._origin + self.elapsed()

    def wall(self) -> datetime:
        return self._wall0 + timedelta(seconds=self.elapsed())

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        real = seconds / self.scale
        if real <= 0:
            return
        if cancel is None:
            time.sleep(real)
        else:
            cancel.wait(real)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds / self.scale))

    def __repr__(self) -> str:
        return f"ScaledClock(scale={self.scale})"


def run_sync(
    proc: Procedure[R], *, clock: Clock, cancel: threading.Event | None = None
) -> R:
    """Drive `proc` on this thread. Raises `Cancelled` as soon as `cancel` is set.

    A `Call` already in flight is not interrupted (HTTP timeouts bound it); sleeps are.
    """
    value: Any = None
    error: BaseException | None = None
    while True:
        if cancel is not None and cancel.is_set():
            proc.close()
            raise Cancelled("cancelled")
        try:
            effect = proc.throw(error) if error is not None else proc.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        if isinstance(effect, Sleep):
            clock.sleep(effect.seconds, cancel)
        elif isinstance(effect, Permit):
            if not effect.pacer.acquire(effect.priority, cancel):
                proc.close()
                raise Cancelled("cancelled")
        elif isinstance(effect, Call):
            try:
                value = effect.fn()
            except Exception as exc:  # thrown into the procedure, which decides
                error = exc
        else:
            proc.close()
            raise TypeError(f"procedure yielded {effect!r}, not Call, Sleep or Permit")


CANCEL_GRACE_SECONDS = 30.0  # after a Cancel, how long critical steps may still run

_POOL_LOCK = threading.Lock()
_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_POOL_WORKERS = 8


def _default_executor() -> concurrent.futures.ThreadPoolExecutor:
    """A bounded pool shared by every async procedure in the process, made on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = concurrent.futures.ThreadPoolExecutor(
                max_workers=_POOL_WORKERS, thread_name_prefix="portal-io"
            )
        return _POOL


async def run_async(
    proc: Procedure[R],
    *,
    clock: Clock,
    executor: concurrent.futures.Executor | None = None,
) -> R:
    """Drive `proc` on the running loop: Calls in a bounded pool, Sleeps on `clock.asleep`.

    Task cancellation stops at once: the generator is closed (its `finally` blocks run) and
    `asyncio.CancelledError` propagates; a plain Call already in a pool thread finishes
    unobserved. A `critical` Call is awaited to its end (its HTTP timeouts bound it), its outcome
    is handed to the procedure, and the cancellation takes effect at the procedure's next
    effect, so whatever the procedure records right after it (a checkpoint) is not lost.
    """
    loop = asyncio.get_running_loop()
    pool = executor if executor is not None else _default_executor()
    value: Any = None
    error: BaseException | None = None
    cancelled: asyncio.CancelledError | None = None
    grace_until = 0.0
    try:
        while True:
            try:
                effect = proc.throw(error) if error is not None else proc.send(value)
            except StopIteration as stop:
                if cancelled is not None:
                    raise cancelled from None
                return stop.value
            value, error = None, None
            if cancelled is not None:
                left = grace_until - loop.time()
                if not getattr(effect, "critical", False) or left <= 0:
                    raise cancelled
                if isinstance(effect, Sleep):
                    await _sleep_shielded(clock, min(effect.seconds, left))
                    continue
                if isinstance(effect, Permit):
                    if not await _permit_within(effect, left):
                        raise cancelled
                    continue
            if isinstance(effect, Permit):
                try:
                    await effect.pacer.acquire_async(effect.priority)
                except asyncio.CancelledError as exc:
                    if not effect.critical:
                        raise
                    cancelled = exc  # a critical request still goes out in the grace
                    grace_until = loop.time() + CANCEL_GRACE_SECONDS
                    if not await _permit_within(effect, CANCEL_GRACE_SECONDS):
                        raise cancelled from None
            elif isinstance(effect, Sleep):
                try:
                    await clock.asleep(effect.seconds)
                except asyncio.CancelledError as exc:
                    if not effect.critical:
                        raise
                    cancelled = exc  # a critical wait (reconciling a POST) runs on in the grace
                    grace_until = loop.time() + CANCEL_GRACE_SECONDS
            elif isinstance(effect, Call):
                future = loop.run_in_executor(pool, effect.fn)
                try:
                    value = await (asyncio.shield(future) if effect.critical else future)
                except asyncio.CancelledError as exc:
                    if not effect.critical:
                        raise
                    if cancelled is None:
                        grace_until = loop.time() + CANCEL_GRACE_SECONDS
                    cancelled = exc
                    log.info("cancel requested during a critical call; letting it finish")
                    try:
                        value = await _finish(future)
                    except Exception as call_error:
                        error = call_error
                except Exception as exc:
                    error = exc
            else:
                raise TypeError(f"procedure yielded {effect!r}, not Call, Sleep or Permit")
    except BaseException:
        proc.close()
        raise


async def _permit_within(effect: Permit, seconds: float) -> bool:
    """A permit in the cancel grace: False (its place given up) when none came within
    `seconds`; a repeated Cancel does not cut the wait short."""
    waiter = asyncio.ensure_future(
        asyncio.wait_for(effect.pacer.acquire_async(effect.priority), max(0.0, seconds)))
    try:
        await _finish(waiter)
    except asyncio.TimeoutError:
        return False
    return True


async def _sleep_shielded(clock: Clock, seconds: float) -> None:
    """A sleep inside the cancel grace: a repeated Cancel does not cut it short."""
    sleeper = asyncio.ensure_future(clock.asleep(seconds))
    await _finish(sleeper)


async def _finish(future: asyncio.Future[Any]) -> Any:
    """Await a critical call's future even if this task is cancelled again meanwhile."""
    while True:
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.done():
                return future.result()
