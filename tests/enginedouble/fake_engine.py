"""A fake ``pulumirpc.Engine`` gRPC service: the address the double hands to providers.

Why: a plugin provider reports progress with ``Engine.Log(urn, ephemeral)``; tests need to see
exactly what reached the engine (and in which order) without the Pulumi CLI.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

SEVERITY_NAMES = {
    engine_pb2.DEBUG: "debug",
    engine_pb2.INFO: "info",
    engine_pb2.WARNING: "warning",
    engine_pb2.ERROR: "error",
}


@dataclass(frozen=True)
class LogRecord:
    """One ``Engine.Log`` call as received."""

    severity: str  # "debug" | "info" | "warning" | "error"
    message: str
    urn: str
    ephemeral: bool
    stream_id: int
    received_at: float  # time.monotonic()


class _EngineServicer(engine_pb2_grpc.EngineServicer):
    def __init__(self, owner: FakeEngine) -> None:
        self._owner = owner

    def Log(self, request: Any, context: Any) -> Any:
        self._owner._record_log(request)
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse(urn=self._owner.root_urn)

    def SetRootResource(self, request: Any, context: Any) -> Any:
        self._owner.root_urn = request.urn
        return engine_pb2.SetRootResourceResponse()

    def StartDebugging(self, request: Any, context: Any) -> Any:
        with self._owner._lock:
            self._owner.debug_requests.append(json_format.MessageToDict(request))
        return empty_pb2.Empty()

    def RequirePulumiVersion(self, request: Any, context: Any) -> Any:
        return engine_pb2.RequirePulumiVersionResponse()


class FakeEngine:
    """Serves ``pulumirpc.Engine`` on 127.0.0.1 (free port) and records every ``LogRequest``.

    Use as a context manager or call :meth:`start`/:meth:`stop`. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._logs: list[LogRecord] = []
        self.debug_requests: list[dict[str, Any]] = []
        self.root_urn = ""
        self._server: grpc.Server | None = None
        self.port = 0

    @property
    def address(self) -> str:
        """The ``host:port`` passed to providers as the engine address."""
        if not self.port:
            raise RuntimeError("FakeEngine not started")
        return f"127.0.0.1:{self.port}"

    def start(self) -> FakeEngine:
        if self._server is not None:
            return self
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="fake-engine")
        )
        engine_pb2_grpc.add_EngineServicer_to_server(_EngineServicer(self), server)
        self.port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=0.5).wait(2)
            self._server = None

    def __enter__(self) -> FakeEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record_log(self, request: Any) -> None:
        rec = LogRecord(
            severity=SEVERITY_NAMES.get(request.severity, str(request.severity)),
            message=request.message,
            urn=request.urn,
            ephemeral=request.ephemeral,
            stream_id=request.streamId,
            received_at=time.monotonic(),
        )
        with self._lock:
            self._logs.append(rec)
            self._lock.notify_all()

    def logs(
        self, *, urn: str | None = None, ephemeral: bool | None = None, severity: str | None = None
    ) -> list[LogRecord]:
        """A snapshot of received logs, optionally filtered."""
        with self._lock:
            out = list(self._logs)
        return [
            r
            for r in out
            if (urn is None or r.urn == urn)
            and (ephemeral is None or r.ephemeral == ephemeral)
            and (severity is None or r.severity == severity)
        ]

    def clear_logs(self) -> None:
        with self._lock:
            self._logs.clear()

    def log_count(self) -> int:
        """A mark for :meth:`wait_for_log` ``since=``: logs received so far."""
        with self._lock:
            return len(self._logs)

    def wait_for_log(
        self, predicate: Callable[[LogRecord], bool], timeout: float = 10.0, since: int = 0
    ) -> LogRecord:
        """Block until a log matching ``predicate`` arrives (e.g. "provider is now waiting").

        ``since`` (from :meth:`log_count`) skips logs received before it.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            seen = since
            while True:
                for rec in self._logs[seen:]:
                    if predicate(rec):
                        return rec
                seen = len(self._logs)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching engine log within {timeout}s; got {self._logs!r}"
                    )
                self._lock.wait(remaining)
