"""A recording gRPC client for ``pulumirpc.ResourceProvider``.

Why: lifecycle tests count calls, check call order, and scan every request and response for
leaked secrets. Each call is recorded with its request, response or error (status code, message
and the ``grpc-status-details-bin`` details, e.g. ``ErrorResourceInitFailed``), like the
``PULUMI_DEBUG_GRPC`` log the real engine can write.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import (
    provider_pb2,
    provider_pb2_grpc,
    status_pb2,  # the SDK ships google.rpc.Status itself
)

from .properties import from_struct

STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class InitFailed:
    """Unpacked ``ErrorResourceInitFailed``: the resource exists but did not initialise."""

    id: str
    properties: dict[str, Any]
    reasons: list[str]
    inputs: dict[str, Any] | None
    refresh_before_update: bool


class ProviderRpcError(Exception):
    """A provider RPC failed. ``code`` is the gRPC status name (``"UNKNOWN"``,
    ``"UNAVAILABLE"``...).
    """

    def __init__(
        self,
        method: str,
        code: str,
        message: str,
        *,
        init_failed: InitFailed | None = None,
        await_failed: bool = False,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{method}: {code}: {message}")
        self.method = method
        self.code = code
        self.message = message
        self.init_failed = init_failed
        self.await_failed = await_failed
        self.details = details or []


@dataclass
class RpcRecord:
    """One provider RPC as the engine double made it."""

    seq: int
    command: str
    method: str
    request: dict[str, Any]
    response: dict[str, Any] | None = None
    code: str = "OK"
    message: str = ""
    details: list[dict[str, Any]] = field(default_factory=list)
    started: float = 0.0  # time.time()
    duration: float = 0.0  # seconds

    @property
    def ok(self) -> bool:
        return self.code == "OK"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RpcRecorder:
    """Thread-safe list of :class:`RpcRecord`, optionally mirrored to a JSONL file."""

    def __init__(self, jsonl_path: Path | None = None) -> None:
        self.records: list[RpcRecord] = []
        self._lock = threading.Lock()
        self._seq = 0
        self.jsonl_path = jsonl_path

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def append(self, rec: RpcRecord) -> None:
        with self._lock:
            self.records.append(rec)
            if self.jsonl_path is not None:
                self.jsonl_path.parent.mkdir(parents=True, exist_ok=True)
                with self.jsonl_path.open("a") as fh:
                    fh.write(json.dumps(rec.to_json(), default=str) + "\n")

    def snapshot(self) -> list[RpcRecord]:
        with self._lock:
            return list(self.records)


def message_to_dict(msg: Message) -> dict[str, Any]:
    return json_format.MessageToDict(msg)


def unpack_status_details(
    err: grpc.RpcError,
) -> tuple[list[dict[str, Any]], InitFailed | None, bool]:
    """Decode ``google.rpc.Status`` details from trailing metadata (how Go's ``rpcerror`` sends
    them).
    """
    details: list[dict[str, Any]] = []
    init_failed: InitFailed | None = None
    await_failed = False
    trailing = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    for key, value in trailing or ():
        if key != STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value if isinstance(value, bytes) else value.encode())
        for any_detail in status.details:
            if any_detail.Is(provider_pb2.ErrorResourceInitFailed.DESCRIPTOR):
                msg = provider_pb2.ErrorResourceInitFailed()
                any_detail.Unpack(msg)
                details.append({"@type": any_detail.type_url, **message_to_dict(msg)})
                init_failed = InitFailed(
                    id=msg.id,
                    properties=from_struct(msg.properties) if msg.HasField("properties") else {},
                    reasons=list(msg.reasons),
                    inputs=from_struct(msg.inputs) if msg.HasField("inputs") else None,
                    refresh_before_update=msg.refresh_before_update,
                )
            elif any_detail.Is(provider_pb2.ErrorResourceAwaitFailed.DESCRIPTOR):
                details.append({"@type": any_detail.type_url})
                await_failed = True
            else:
                details.append({"@type": any_detail.type_url})
    return details, init_failed, await_failed


class ProviderClient:
    """Calls ``ResourceProvider`` methods on one provider process and records every call."""

    def __init__(
        self,
        address: str,
        recorder: RpcRecorder,
        *,
        connect_timeout: float = 10.0,
        deadline: float | None = None,
    ) -> None:
        self.address = address
        self.recorder = recorder
        self.deadline = deadline
        self.command = ""
        self.channel = grpc.insecure_channel(address, options=_GRPC_CHANNEL_OPTIONS)
        grpc.channel_ready_future(self.channel).result(timeout=connect_timeout)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def call(self, method: str, request: Message) -> Any:
        """Make one RPC (no deadline unless configured: the engine sets none). Raises
        ProviderRpcError.
        """
        rec = RpcRecord(
            seq=self.recorder.next_seq(),
            command=self.command,
            method=method,
            request=message_to_dict(request),
            started=time.time(),
        )
        t0 = time.monotonic()
        try:
            response = getattr(self.stub, method)(request, timeout=self.deadline)
        except grpc.RpcError as err:
            rec.duration = time.monotonic() - t0
            code = err.code().name if hasattr(err, "code") and err.code() is not None else "UNKNOWN"
            message = err.details() if hasattr(err, "details") else str(err)
            details, init_failed, await_failed = unpack_status_details(err)
            rec.code, rec.message, rec.details = code, message or "", details
            self.recorder.append(rec)
            raise ProviderRpcError(
                method,
                code,
                message or "",
                init_failed=init_failed,
                await_failed=await_failed,
                details=details,
            ) from None
        rec.duration = time.monotonic() - t0
        rec.response = message_to_dict(response)
        self.recorder.append(rec)
        return response

    def close(self) -> None:
        # grpc's sync Channel.close() blocks ~200 ms on its polling thread; nothing waits on it.
        threading.Thread(target=self.channel.close, name="close-channel", daemon=True).start()
