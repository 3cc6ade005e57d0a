"""Messages to the engine's `Log` service: ephemeral progress lines and lasting diagnostics.

Ephemeral messages show in the resource's row while it waits and vanish from the summary, which is
what progress on a long go-live wants. Progress is rate-limited per resource: a line when the step
or status changes, else at most one every `interval` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

from .. import live_offer
from ..partner_portal import Progress

LOG = logging.getLogger(__name__)
SEVERITY = {
    "debug": engine_pb2.DEBUG,
    "info": engine_pb2.INFO,
    "warning": engine_pb2.WARNING,
    "error": engine_pb2.ERROR,
}


class EngineLog:
    """A client of the engine's Log service; a no-op (debug log) when no engine address is known."""

    def __init__(self, address: str | None = None) -> None:
        self._address: str | None = None
        self._channel: grpc.aio.Channel | None = None
        self._stub: engine_pb2_grpc.EngineStub | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        if address:
            self.connect(address)

    @property
    def address(self) -> str | None:
        return self._address

    def connect(self, address: str) -> None:
        if address == self._address:
            return
        self._address = address
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = engine_pb2_grpc.EngineStub(self._channel)

    async def log(
        self, message: str, *, urn: str = "", severity: str = "info", ephemeral: bool = False
    ) -> None:
        """Send one message; failures to log never fail the resource operation."""
        if self._stub is None:
            LOG.debug("engine log (no engine): %s", message)
            return
        request = engine_pb2.LogRequest(
            severity=SEVERITY[severity], message=message, urn=urn, ephemeral=ephemeral
        )
        try:
            await self._stub.Log(request, timeout=10)
        except grpc.RpcError as exc:
            LOG.debug("engine log failed: %s", exc)

    def log_soon(
        self, message: str, *, urn: str = "", severity: str = "info", ephemeral: bool = False
    ) -> None:
        """Fire-and-forget from synchronous callbacks running on the event loop."""
        task = asyncio.get_running_loop().create_task(
            self.log(message, urn=urn, severity=severity, ephemeral=ephemeral)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def progress_reporter(self, urn: str, *, interval: float = 5.0) -> ProgressReporter:
        return ProgressReporter(self, urn, interval)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._channel is not None:
            await self._channel.close()


class ProgressReporter:
    """Turns waiter progress into ephemeral engine messages at a modest rate."""

    def __init__(self, engine: EngineLog, urn: str, interval: float) -> None:
        self._engine = engine
        self._urn = urn
        self._interval = interval
        self._last_key: tuple[str | None, str] | None = None
        self._last_time = 0.0
        self.sent = 0

    def __call__(self, progress: Progress) -> None:
        key = (progress.step_name, str(progress.status))
        now = time.monotonic()
        if key == self._last_key and now - self._last_time < self._interval:
            return
        self._last_key, self._last_time = key, now
        self.sent += 1
        self._engine.log_soon(live_offer.describe_progress(progress), urn=self._urn, ephemeral=True)
