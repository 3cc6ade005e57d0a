"""The waiters compared in the waiting scenario, each starting its own go-live and waiting on it.

- `ours`: the provider's client and `wait_for_operation` (the schedule both hosts run).
- `azure-core`: `azure.core.polling.LROPoller` + `LROBasePolling` over a `PipelineClient`, set
  up as an Azure Python user would for this API: the initial 202 of the go-live POST, the
  `Location` header as the status monitor read by `OperationResourcePolling` (status from the
  body's `status`), the poller's defaults otherwise (30 s interval, `Retry-After` honoured).
- `fixed-30s` / `fixed-5s`: the loop people write by hand: GET, check `status`, sleep N s.
- `oracle`: knows when the operation ends (from the emulator) and polls once, right then.

On a scaled emulator clock every waiter sleeps on the same scaled time: ours through
`ScaledClock(scale)`, the fixed loops through the same clock, azure-core through a subclass of
`LROBasePolling` whose `_sleep` divides the delay by the scale (nothing else is changed).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests
from azure.core import PipelineClient
from azure.core.pipeline.policies import (
    ContentDecodePolicy,
    HeadersPolicy,
    RedirectPolicy,
    RequestIdPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.polling import LROPoller
from azure.core.polling.base_polling import LROBasePolling, OperationResourcePolling
from azure.core.rest import HttpRequest

from bench.common import API_VERSION, PUBLISHER, TERMINAL, TOKEN, ClockMap, operation_end
from marketplace_emulator.harness import AdminClient
from pulumi_marketplace_provider.partner_portal import (
    PortalClient,
    StaticToken,
    wait_for_operation,
)
from pulumi_marketplace_provider.procedure import Clock, ScaledClock, SystemClock, run_sync

WAITERS = ("ours", "azure-core", "fixed-30s", "fixed-5s", "oracle")


@dataclass(frozen=True)
class WaitSpec:
    """One waiter on one offer."""

    waiter: str
    offer: str
    base_url: str
    scale: float
    clock_map: ClockMap
    start_delay: float = 0.0  # real seconds before the POST


@dataclass
class WaitOutcome:
    waiter: str
    offer: str
    returned_wall: float = float("nan")
    status: str = ""
    client_gets: int = 0
    error: str | None = None


def _clock(scale: float) -> Clock:
    return SystemClock() if scale == 1.0 else ScaledClock(scale)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _golive_url(base_url: str, offer: str) -> str:
    return f"{base_url}/api/publishers/{PUBLISHER}/offers/{offer}/golive?api-version={API_VERSION}"


def _post_golive(session: requests.Session, spec: WaitSpec) -> str:
    """POST go-live as a hand-written client would; the absolute operation URL."""
    resp = session.post(_golive_url(spec.base_url, spec.offer), headers=_auth(), timeout=30)
    resp.raise_for_status()
    pointer = resp.headers.get("Operation-Location") or resp.headers["Location"]
    return urljoin(spec.base_url + "/", pointer)


# ------------------------------------------------------------------------------- ours


def wait_ours(spec: WaitSpec, out: WaitOutcome) -> None:
    clock = _clock(spec.scale)
    client = PortalClient(spec.base_url, StaticToken(TOKEN), clock=clock)
    original = client.get_operation

    def counted(ref: Any) -> Any:
        out.client_gets += 1
        return original(ref)

    client.get_operation = counted  # type: ignore[method-assign]
    try:
        ref = client.go_live(PUBLISHER, spec.offer)
        op = run_sync(wait_for_operation(client, ref, clock=clock, deadline=None), clock=clock)
        out.returned_wall = time.time()
        out.status = op.raw_status or op.status.value
    finally:
        client.close()


# ------------------------------------------------------------------------------- azure-core


class ScaledLROBasePolling(LROBasePolling):
    """`LROBasePolling` whose sleeps run on the emulator's scaled clock (delay / scale).

    Only `_sleep` is overridden: the interval (30 s default or `Retry-After`) is chosen by
    azure-core exactly as without scaling.
    """

    def __init__(self, scale: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bench_scale = scale

    def _sleep(self, delay: float) -> None:
        self._transport.sleep(delay / self._bench_scale)


def azure_client(base_url: str, on_request: Callable[[], None] | None = None) -> PipelineClient:
    """A PipelineClient with the policies an SDK client would have (auth as a plain header:
    azure-core's bearer-token policy refuses plain-http URLs such as the emulator's)."""

    class _Count(HeadersPolicy):
        def on_request(self, request: Any) -> None:
            super().on_request(request)
            if on_request is not None:
                on_request()

    return PipelineClient(
        base_url=base_url,
        policies=[
            RequestIdPolicy(),
            _Count(_auth()),
            UserAgentPolicy(sdk_moniker="marketplace-bench-user/1.0"),
            ContentDecodePolicy(),
            RedirectPolicy(),
            RetryPolicy(),
        ],
    )


def wait_azure_core(spec: WaitSpec, out: WaitOutcome) -> None:
    def count() -> None:
        out.client_gets += 1

    client = azure_client(spec.base_url, count)
    with client:
        request = HttpRequest(
            "POST",
            client.format_url("/api/publishers/{pub}/offers/{offer}/golive",
                              pub=PUBLISHER, offer=spec.offer),
            params={"api-version": API_VERSION},
        )
        initial = client.send_request(request, _return_pipeline_response=True)
        out.client_gets -= 1  # the POST went through the same counting policy
        polling = ScaledLROBasePolling(
            spec.scale,
            lro_algorithms=[
                OperationResourcePolling(
                    "location", lro_options={"final-state-via": "operation-location"}
                )
            ],
            path_format_arguments={"endpoint": spec.base_url},
        )
        poller: LROPoller[dict[str, Any]] = LROPoller(
            client, initial, lambda r: r.http_response.json(), polling
        )
        result = poller.result()
        out.returned_wall = time.time()
        out.status = str(result.get("status", poller.status()))


# ------------------------------------------------------------------------------- fixed loops


def wait_fixed(interval: float) -> Callable[[WaitSpec, WaitOutcome], None]:
    def wait(spec: WaitSpec, out: WaitOutcome) -> None:
        clock = _clock(spec.scale)
        with requests.Session() as session:
            url = _post_golive(session, spec)
            while True:
                resp = session.get(url, headers=_auth(), timeout=30)
                out.client_gets += 1
                resp.raise_for_status()
                status = str(resp.json().get("status", ""))
                if status.lower() in TERMINAL:
                    out.returned_wall = time.time()
                    out.status = status
                    return
                clock.sleep(interval)

    return wait


# ------------------------------------------------------------------------------- oracle


def wait_oracle(spec: WaitSpec, out: WaitOutcome) -> None:
    admin = AdminClient(spec.base_url, timeout=30)
    with requests.Session() as session:
        url = _post_golive(session, spec)
        ops = admin.operations(PUBLISHER, spec.offer)
        end = operation_end(ops[-1]["internal"])
        target = spec.clock_map.wall(end) + 0.002
        while True:
            delay = target - time.time()
            if delay > 0:
                time.sleep(delay)
            resp = session.get(url, headers=_auth(), timeout=30)
            out.client_gets += 1
            resp.raise_for_status()
            status = str(resp.json().get("status", ""))
            if status.lower() in TERMINAL:
                out.returned_wall = time.time()
                out.status = status
                return
            target = time.time() + 0.005


RUNNERS: dict[str, Callable[[WaitSpec, WaitOutcome], None]] = {
    "ours": wait_ours,
    "azure-core": wait_azure_core,
    "fixed-30s": wait_fixed(30.0),
    "fixed-5s": wait_fixed(5.0),
    "oracle": wait_oracle,
}


def run_waiter(spec: WaitSpec) -> WaitOutcome:
    out = WaitOutcome(spec.waiter, spec.offer)
    time.sleep(spec.start_delay)
    try:
        RUNNERS[spec.waiter](spec, out)
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    return out
