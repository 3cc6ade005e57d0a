"""Hostile input for the Product Ingestion backend: its JSON and whole server answers.

The same bar as `tests.faults.fuzz` for the Partner Portal: whatever a server sends to
`IngestionClient` (and through it to the go-live and waiting procedures), the result is an
answer or a `PortalError` of the provider's own: never another exception, never a hang, never
the token in a message, never a request off loopback. Hand-picked answers live in
`corpus/ingestion_answers.json`; hypothesis generates the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pulumi_marketplace_provider.partner_portal import StaticToken, ThrottleGate
from pulumi_marketplace_provider.partner_portal.pointers import OperationRef
from pulumi_marketplace_provider.partner_portal.waiter import wait_for_operation
from pulumi_marketplace_provider.procedure import run_sync
from pulumi_marketplace_provider.product_ingestion import IngestionClient, Product
from pulumi_marketplace_provider.product_ingestion import golive as pi_golive
from pulumi_marketplace_provider.product_ingestion.models import IngestionSubmission, Job
from tests.faults.fuzz import (
    CANARY,
    JSON,
    MAX_MESSAGE,
    JumpClock,
    Tally,
    _run,
    _settings,
    check_answer,
    load,
    unpaced,
)
from tests.faults.hostile_server import HostileServer
from tests.faults.netguard.sitecustomize import loopback_only

GUID = "aaaaaaaa-0000-0000-0000-000000000001"
JOB = "3f2b6c1e-0000-4000-8000-000000000abc"
PRODUCT = Product(f"product/{GUID}", "offer")
SUB = f"submission/{GUID}/5002"
_PI_KEYS = st.sampled_from(["id", "jobId", "jobID", "jobStatus", "jobResult", "jobStart",
                            "jobEnd", "errors", "details", "code", "message", "resourceId",
                            "value", "target", "targetType", "status", "result", "created",
                            "identity", "externalId", "resources"])
_PI_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.sampled_from(["completed", "running", "notStarted", "succeeded", "failed", "pending",
                       "cancelled", "live", "preview", "draft", JOB, SUB, f"product/{GUID}",
                       "0001-01-01T00:00:00", "2026-02-02T10:00:00.1234567Z",
                       "An In Progress submission 5002 already exists."])
)
PI_JSON = st.recursive(
    _PI_SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_PI_KEYS, inner, max_size=8),
    max_leaves=40,
)


def check_ingestion_json(tally: Tally, data: Any, category: str) -> None:
    """Parsing and reading what was parsed: ValueError or a value, nothing else."""
    tally.case(category)
    try:
        job = sub = product = None
        for parse in (Job.from_json, IngestionSubmission.from_json, Product.from_json):
            try:
                parsed = parse(data)
            except ValueError:
                continue
            if isinstance(parsed, Job):
                job = parsed
                _ = (job.completed, job.cancelled, job.all_errors(), job.mentions("x"))
            elif isinstance(parsed, IngestionSubmission):
                sub = parsed
                _ = (sub.number, sub.in_flight, sub.succeeded, sub.failed)
            else:
                product = parsed
                _ = product.guid
        op = pi_golive.go_live_operation(product or PRODUCT, job, sub)
        ref = OperationRef(JOB, f"http://127.0.0.1/rp/product-ingestion/configure/{JOB}/status",
                           "absolute")
        text = pi_golive.describe(op, ref)
        assert isinstance(text, str) and len(text) < MAX_MESSAGE
    except AssertionError as exc:
        tally.crash(category, f"{exc} for {data!r:.300}")
    except Exception as exc:
        tally.crash(category, f"{type(exc).__name__}: {exc} for {data!r:.300}")


def fuzz_ingestion_json(tally: Tally, examples: int, derandomize: bool = True) -> None:
    @_settings(examples, derandomize)
    @given(PI_JSON | JSON)
    def prop(data: Any) -> None:
        check_ingestion_json(tally, data, "ingestion JSON")

    _run(prop)


def call_ingestion(call: str, client: IngestionClient) -> Any:
    """One client call or procedure of the Product Ingestion backend."""
    clock = JumpClock()
    gate = ThrottleGate()
    ref = client.job_ref(JOB)
    if call == "find_product":
        return client.find_product("offer")
    if call == "list_submissions":
        return client.list_submissions(PRODUCT)
    if call == "configure_live":
        return client.configure_live(PRODUCT, SUB)
    if call == "get_job":
        return client.get_job(JOB)
    if call == "job_submission":
        return client.job_submission(JOB)
    if call == "cancel_job":
        return client.cancel_job(JOB)
    if call == "wait":
        reader = pi_golive.GoLiveReader(client, PRODUCT)
        return run_sync(wait_for_operation(reader, ref, clock=clock,
                                           deadline=clock.now() + 600.0, throttle=gate),
                        clock=clock)
    if call == "start_go_live":
        return run_sync(pi_golive.start_go_live(client, PRODUCT, clock=clock,
                                                deadline=clock.now() + 300.0, throttle=gate),
                        clock=clock)
    raise ValueError(f"unknown call {call!r}")


CALLS = ["find_product", "list_submissions", "configure_live", "get_job", "job_submission",
         "cancel_job", "wait", "start_go_live"]


def _ingestion_client(base_url: str) -> IngestionClient:
    return unpaced(IngestionClient(base_url, StaticToken(CANARY), api_version="2022-07-01",
                                   timeout=(2.0, 10.0)))


def check_ingestion_answer(tally: Tally, server: HostileServer, case: Mapping[str, Any],
                           category: str) -> None:
    check_answer(tally, server, case, category, make_client=_ingestion_client,
                 call=call_ingestion)


def corpus_ingestion_answers(tally: Tally) -> None:
    with loopback_only(), HostileServer() as server:
        for case in load("ingestion_answers.json")["cases"]:
            check_ingestion_answer(tally, server, case, "ingestion answers (corpus)")


def fuzz_ingestion_answers(tally: Tally, examples: int, derandomize: bool = True) -> None:
    headers = st.lists(st.tuples(
        st.sampled_from(["Retry-After", "Content-Type", "Location", "x-ms-request-id"]),
        st.sampled_from(["1", "0", "-5", "99999999999", "application/json", "https://evil.example/x",
                         "Wed, 21 Oct 2015 07:28:00 GMT", ""]),
    ), max_size=3)
    bodies = ((PI_JSON | JSON).map(lambda d: {"json": d})
              | st.text(max_size=200).map(lambda t: {"text": t}))
    answers = st.fixed_dictionaries({
        "status": st.sampled_from([200, 202, 204, 302, 400, 401, 403, 404, 409, 429, 500, 503]),
        "headers": headers,
        "body": bodies,
        "truncate": st.booleans(),
    })
    with loopback_only(), HostileServer() as server:

        @_settings(examples, derandomize)
        @given(st.sampled_from(CALLS), answers)
        def prop(call: str, answer: dict[str, Any]) -> None:
            case = {"name": "generated", "call": call, "expect": "either", "answer": answer}
            check_ingestion_answer(tally, server, case, "ingestion answers (generated)")

        _run(prop)


def run_ingestion(examples: int, answers: int, *, derandomize: bool = True) -> Tally:
    tally = Tally()
    corpus_ingestion_answers(tally)
    fuzz_ingestion_json(tally, examples, derandomize)
    fuzz_ingestion_answers(tally, answers, derandomize)
    return tally


