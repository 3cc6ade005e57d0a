"""Partial state for a create or update that cannot finish: Pulumi's `ErrorResourceInitFailed`.

A go-live that started must never be lost from state. When a step fails after the go-live was
sent (wait limit, Cancel, a failed go-live, an unconfirmed POST), both hosts end the RPC with
status details holding `ErrorResourceInitFailed`: the engine then records the outputs given
here, and the next `pulumi up` resumes the recorded operation instead of going live again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from pulumi.runtime.proto import provider_pb2, status_pb2

from .plugin.properties import marshal

STATUS_DETAILS_KEY = "grpc-status-details-bin"


def status_details(
    message: str,
    *,
    id_: str,
    outputs: Mapping[str, Any],
    inputs: Mapping[str, Any],
    secrets: Iterable[str] = (),
) -> bytes:
    """The serialized google.rpc.Status (code UNKNOWN) carrying ErrorResourceInitFailed."""
    keys = set(secrets)
    detail = provider_pb2.ErrorResourceInitFailed(
        id=id_,
        properties=marshal(outputs, keys),
        inputs=marshal(inputs, keys),
        reasons=[message],
        refresh_before_update=True,
    )
    status = status_pb2.Status(code=grpc.StatusCode.UNKNOWN.value[0], message=message)
    status.details.add().Pack(detail)
    return status.SerializeToString()


def servicer_context(max_depth: int = 8) -> Any | None:
    """The gRPC context of the RPC this thread serves, found on the call stack.

    Pulumi's dynamic host calls `provider.create(props)` from `Create(self, request, context)`
    and gives the provider no handle on the call; its error wrapper aborts with UNKNOWN and
    keeps any trailing metadata already set. So the provider looks one or two frames up for the
    `context` argument. None when it is not there (another SDK version): the step then fails
    without partial state, as before.
    """
    frame = sys._getframe(1)
    for _ in range(max_depth):
        if frame is None:
            return None
        candidate = frame.f_locals.get("context")
        if candidate is not None and callable(getattr(candidate, "set_trailing_metadata", None)):
            return candidate
        frame = frame.f_back  # type: ignore[assignment]
    return None
