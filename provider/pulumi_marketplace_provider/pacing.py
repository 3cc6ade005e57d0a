"""One request pacer per portal origin, shared by every wait in the process.

The portal limits how fast a client may send (HTTP 429). Waits that each back off on their
own either leave the quota unused or keep running into it; instead every request asks its
origin's pacer for a permit. Until the portal refuses a request, permits are free. After a
429 the pacer sends at the rate the portal was just seen to accept, climbs back (doubling up to
the rate last seen accepted, then 3 % a second) while requests wait and no 429 comes, and
forgets the limit after a quiet minute. When requests
wait, the most urgent goes first: a go-live POST (and the listing that reconciles a lost
answer), then polls aimed at an operation's expected end, then the reads that decide whether
to go live, then blind polls.

The pacer runs on real (monotonic) time whatever clock the procedures use: the portal's quota
is in real seconds. A long `Retry-After` still closes the whole process's gate
(`throttle.ThrottleGate`); the pacer spaces requests, it does not replace that.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["Pacer", "PacerView", "Priority", "pacer_for", "reset_pacers"]

log = logging.getLogger(__name__)


class Priority(IntEnum):
    """Who goes first when requests wait for the quota (lower first)."""

    GO_LIVE = 0  # the go-live POST and the listing that finds what a lost POST started
    AIMED = 1  # a poll aimed at an operation's expected end
    START = 2  # reads that decide whether to go live; cancels
    BLIND = 3  # any other poll


@dataclass(frozen=True)
class PacerView:
    """What the pacer is doing, for progress lines, logs and benchmarks."""

    rate: float | None  # permits per second; None: not limited
    waiting: int
    refusals: int
    granted: int


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    grant: Callable[[], bool] = field(compare=False)
    gone: bool = field(default=False, compare=False)


class Pacer:
    """Thread-safe; usable from threads (`acquire`) and from asyncio (`acquire_async`)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        window: float = 1.0,
        cut_factor: float = 0.95,
        cut_every: float = 0.5,
        probe_every: float = 1.0,
        probe_factor: float = 1.03,
        min_rate: float = 0.2,
        forget_after: float = 60.0,
        name: str = "",
    ) -> None:
        self.name = name
        self._clock = clock
        self.window = window
        self.cut_factor = cut_factor
        self.cut_every = cut_every
        self.probe_every = probe_every
        self.probe_factor = probe_factor
        self.min_rate = min_rate
        self.forget_after = forget_after
        self._cond = threading.Condition()
        self._rate: float | None = None
        self._ceiling = math.inf  # the rate before the last cut: climb back to it quickly
        self._next = -math.inf  # no permit before this (while limited)
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()
        self._accepted: deque[float] = deque()
        self._last_refusal = -math.inf
        self._last_cut = -math.inf
        self._last_probe = -math.inf
        self._thread: threading.Thread | None = None
        self.refusals = 0
        self.granted = 0
        _ALL.add(self)

    # -- what the portal answered ------------------------------------------------------

    def observe(self, *, refused: bool) -> None:
        """One answer from the portal: `refused` when it was a 429."""
        with self._cond:
            now = self._clock()
            if not refused:
                self._accepted.append(now)
                self._trim(now)
                return
            self.refusals += 1
            self._last_refusal = now
            if now - self._last_cut < self.cut_every:
                return  # one cut per burst of refusals: they answer requests sent together
            self._trim(now)
            measured = len(self._accepted) / self.window
            base = measured if self._rate is None else min(self._rate, measured)
            # Where to climb back to fast. The first 429 (from no limit) says little about the
            # portal's rate: it answers refusals at once and the work it accepted later, so few
            # acceptances are counted yet; climb by doubling until the next 429. Once limited,
            # what got through in the last window is the portal's rate (or, if far below half
            # the rate it refused, a moment's lull: half that rate).
            if self._rate is None:
                self._ceiling = math.inf
            else:
                self._ceiling = max(measured, 0.5 * self._rate)
            self._rate = max(self.min_rate, self.cut_factor * base)
            self._last_cut = self._last_probe = now
            self._cond.notify_all()

    def _trim(self, now: float) -> None:
        while self._accepted and self._accepted[0] < now - self.window:
            self._accepted.popleft()

    # -- permits -------------------------------------------------------------------------

    def acquire(self, priority: int, cancel: threading.Event | None = None) -> bool:
        """Block until this thread may send one request; False when `cancel` was set first."""
        granted = threading.Event()

        def grant() -> bool:
            granted.set()
            return True

        waiter = self._enter(priority, grant)
        if waiter is None:
            return True
        while not granted.wait(0.2 if cancel is not None else None):
            if cancel is not None and cancel.is_set() and self._withdraw(waiter):
                return False
        return True

    async def acquire_async(self, priority: int) -> None:
        """Await a permit; cancelling the awaiting task gives its place up."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def grant() -> bool:
            if future.done():
                return False
            loop.call_soon_threadsafe(_resolve, future)
            return True

        waiter = self._enter(priority, grant)
        if waiter is None:
            return
        try:
            await future
        except asyncio.CancelledError:
            self._withdraw(waiter)
            raise

    def _enter(self, priority: int, grant: Callable[[], bool]) -> _Waiter | None:
        """Grant at once when nothing limits or waits; else queue (None: granted)."""
        with self._cond:
            now = self._clock()
            self._forget(now)
            if self._rate is None or (not self._queue and now >= self._next):
                self._take(now)
                return None
            waiter = _Waiter(int(priority), next(self._seq), grant)
            heapq.heappush(self._queue, waiter)
            if self._thread is None:
                self._thread = threading.Thread(target=self._dispatch, daemon=True,
                                                name=f"pacer-{self.name or 'portal'}")
                self._thread.start()
            self._cond.notify_all()
            return waiter

    def _after_fork_in_child(self) -> None:
        """The dispatcher thread and every other thread's wait stayed in the parent."""
        self._cond = threading.Condition()
        self._queue = []
        self._thread = None

    def _withdraw(self, waiter: _Waiter) -> bool:
        """Give a queued place up; False when it was granted meanwhile."""
        with self._cond:
            if waiter in self._queue:
                waiter.gone = True
                return True
            return False

    def _take(self, now: float) -> None:
        self.granted += 1
        if self._rate is not None:
            self._next = max(self._next, now) + 1.0 / self._rate

    def _forget(self, now: float) -> None:
        if self._rate is not None and now - self._last_refusal >= self.forget_after:
            self._rate, self._ceiling, self._next = None, math.inf, -math.inf

    def _probe(self, now: float) -> None:
        """Requests are waiting: after a quiet interval, allow a little more."""
        if self._rate is None or now - self._last_probe < self.probe_every:
            return
        if self._last_refusal <= self._last_probe:
            if self._rate < self._ceiling:
                self._rate = min(2.0 * self._rate, self._ceiling)
            else:
                self._rate *= self.probe_factor
        self._last_probe = now

    def _dispatch(self) -> None:
        with self._cond:
            while True:
                while self._queue and self._queue[0].gone:
                    heapq.heappop(self._queue)
                if not self._queue:
                    self._cond.wait()
                    continue
                now = self._clock()
                self._forget(now)
                self._probe(now)
                if self._rate is not None and now < self._next:
                    self._cond.wait(min(self._next - now, self.probe_every))
                    continue
                waiter = heapq.heappop(self._queue)
                try:
                    granted = waiter.grant()
                except Exception:  # e.g. its event loop was closed: that waiter is gone
                    log.warning("a pacer permit could not be handed over", exc_info=True)
                    granted = False
                if granted:
                    self._take(now)

    def view(self) -> PacerView:
        with self._cond:
            self._forget(self._clock())
            waiting = sum(1 for w in self._queue if not w.gone)
            return PacerView(self._rate, waiting, self.refusals, self.granted)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_PACERS: dict[str, Pacer] = {}
_PACERS_LOCK = threading.Lock()
_ALL: weakref.WeakSet[Pacer] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _PACERS_LOCK
    _PACERS_LOCK = threading.Lock()
    for pacer in list(_ALL):
        pacer._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def pacer_for(origin: str) -> Pacer:
    """The process's pacer for one portal origin (scheme://host:port): one quota, one pacer."""
    with _PACERS_LOCK:
        pacer = _PACERS.get(origin)
        if pacer is None:
            pacer = _PACERS[origin] = Pacer(name=origin)
        return pacer


def reset_pacers() -> None:
    """Forget every origin's pacer (tests; a new process starts with none)."""
    with _PACERS_LOCK:
        _PACERS.clear()
