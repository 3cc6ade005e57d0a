"""Hostile input: what users, config and servers can send, thrown at the provider's own code.

Two sources of cases, both counted:

- the corpus in `tests/faults/corpus/` (hand-picked nasty cases kept as data files), and
- hypothesis strategies (random, shrinking to the smallest failing case when one fails).

Targets: LiveOffer inputs (`live_offer.check`/`diff`), import ids, configuration
(`ProviderSettings.from_config` and building the client), `Retry-After` values (parser, poll
schedule, throttle gate), operation pointers, the portal's JSON (operations, submissions,
offer status) and whole server answers over real HTTP from `HostileServer` (status lines,
headers, bodies that are not JSON, cut short, huge or deeply nested), through the client and
through the waiting and go-live procedures. The rule everywhere: a clear error of the
provider's own (`PortalError`, `SettingsError`, a Check failure naming the property) or a sane
default; never another exception, never a hang, never the token in a message, never a
connection off loopback (the in-process network guard is on while server answers are fuzzed).

`python -m tests.faults.fuzz` runs it all with many examples and prints the summary line;
tests/faults/test_hostile_input.py runs it with fewer (derandomized) in `make test`.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_marketplace_provider import live_offer
from pulumi_marketplace_provider.pacing import Pacer
from pulumi_marketplace_provider.partner_portal import (
    OfferStatus,
    Operation,
    OperationRef,
    PollSchedule,
    PollState,
    PortalClient,
    PortalError,
    StaticToken,
    Submission,
    ThrottleGate,
    describe_failure,
    is_transient,
    parse_pointer,
    parse_retry_after,
    start_go_live,
    wait_for_operation,
)
from pulumi_marketplace_provider.partner_portal import errors as portal_errors
from pulumi_marketplace_provider.partner_portal.http import ApiClient, _error_fields
from pulumi_marketplace_provider.partner_portal.urls import origin_of
from pulumi_marketplace_provider.procedure import run_sync
from pulumi_marketplace_provider.settings import CONFIG_KEYS, ProviderSettings, SettingsError
from tests.faults.hostile_server import HostileServer, RawAnswer, Seen
from tests.faults.netguard.sitecustomize import loopback_only

CORPUS = Path(__file__).resolve().parent / "corpus"
CANARY = "canary-fuzz-0b5e7d"  # the bearer token; must appear in no message
UNKNOWN = live_offer.UNKNOWN
ID_RULE = re.compile(r"[A-Za-z0-9._~-]{1,256}")
MAX_MESSAGE = 70_000  # a 400's body is kept up to 64 kB; nothing should say more than this


@dataclass
class Tally:
    """Cases tried per category, and every crash found (with the input that caused it)."""

    counts: Counter[str] = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)

    def case(self, category: str) -> None:
        self.counts[category] += 1

    def crash(self, category: str, what: str) -> None:
        self.crashes.append(f"{category}: {what[:1500]}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def line(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return f"fuzz: {self.total} cases ({parts}); crashes {len(self.crashes)}"


def expand(value: Any, subs: Mapping[str, str] | None = None) -> Any:
    """Corpus markers: <<unknown>>, <<huge:N:c>>, <<list:N:v>> and any `subs` key."""
    if isinstance(value, dict):
        return {k: expand(v, subs) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, subs) for v in value]
    if not isinstance(value, str):
        return value
    if value == "<<unknown>>":
        return UNKNOWN
    m = re.fullmatch(r"<<list:(\d+):(.*)>>", value)
    if m:
        return [m.group(2)] * int(m.group(1))
    value = re.sub(r"<<huge:(\d+):(.)>>", lambda m: m.group(2) * int(m.group(1)), value)
    for key, sub in (subs or {}).items():
        value = value.replace(key, sub)
    return value


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / name).read_text(encoding="utf-8"))
    return data


def _settings(examples: int, derandomize: bool) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def _run(prop: Callable[[], None]) -> None:
    """Run a hypothesis property; its own failures are recorded in the tally, never raised."""
    prop()


class JumpClock:
    """A clock whose sleeps return at once and move time on: waits of days in milliseconds."""

    def __init__(self) -> None:
        self._t = 1_000.0
        self._base = datetime.now(timezone.utc)

    def now(self) -> float:
        return self._t

    def wall(self) -> datetime:
        return self._base + timedelta(seconds=self._t - 1_000.0)

    def sleep(self, seconds: float, cancel: Any = None) -> None:
        self._t += max(0.0, seconds)

    async def asleep(self, seconds: float) -> None:
        self._t += max(0.0, seconds)


# --------------------------------------------------------------------------------------------
# strategies

_JSON_KEYS = st.sampled_from([
    "id", "status", "submissionType", "submissionState", "steps", "messages", "stepName",
    "progressPercentage", "processPercentage", "estimatedTimeFrame", "messageHtml", "level",
    "timestamp", "liveLinks", "previewLinks", "offerVersion", "publishingVersion",
    "createdDateTime", "lastActionDateTime", "error", "value", "slot", "cancellationRequestState",
])
_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["running", "succeeded", "failed", "canceled", "notStarted", "completed",
                       "inProgress", "waitingForPublisherReview", "blocked", "goLive",
                       "publish", "~2-5 days", "< 1 hour", "2026-01-01T00:00:00Z", UNKNOWN])
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=6)
    | st.dictionaries(_JSON_KEYS | st.text(max_size=8), inner, max_size=8),
    max_leaves=40,
)
_ID_CHARS = "abcXYZ019._~-/?#%$&\\ \t\r\n\x00\u00e9\u200b\u202e\uff41\U0001f680"
IDS = (
    st.text(alphabet=_ID_CHARS, max_size=40)
    | st.from_regex(r"[a-z0-9][a-z0-9._-]{0,30}", fullmatch=True)
    | st.text(max_size=300)
    | st.sampled_from(["", ".", "..", "a..b", "x" * 256, "x" * 257, "x" * 100_000, UNKNOWN])
)
HOSTILE = IDS | JSON | st.floats(allow_nan=True, allow_infinity=True)


# --------------------------------------------------------------------------------------------
# pure targets


def fuzz_resource_inputs(tally: Tally, examples: int, derandomize: bool = True) -> None:
    """`check` then `diff` on any inputs: failures name the property, valid inputs round-trip."""
    keys = st.sampled_from([*live_offer.INPUT_KEYS, "operationId", "extra", "__provider", ""])

    @_settings(examples, derandomize)
    @given(st.dictionaries(keys, HOSTILE, max_size=7))
    def prop(news: dict[str, Any]) -> None:
        tally.case("resource inputs")
        try:
            inputs, failures = live_offer.check({}, news)
            named = {f.property for f in failures}
            for key in news:
                if key not in live_offer.INPUT_KEYS and not key.startswith("__"):
                    assert key in named, f"unknown property {key!r} not refused"
            for key in ("publisherId", "offerId"):
                value = news.get(key)
                valid = (
                    value == UNKNOWN
                    or (isinstance(value, str) and ID_RULE.fullmatch(value) is not None
                        and ".." not in value and value != ".")
                )
                assert valid != (key in named), f"{key}={value!r}: wrong verdict"
            for f in failures:
                assert len(f.reason) < 2000, "a failure message that long is not clear"
            if not failures and live_offer.without_unknowns(list(inputs.values())):
                checked = live_offer.LiveOfferInputs.from_wire(inputs)
                assert checked.resource_id == f"{inputs['publisherId']}/{inputs['offerId']}"
                olds = {**inputs, "status": "succeeded"}
                live_offer.diff(olds, inputs)
                live_offer.diff({**olds, "triggers": ["other"]}, inputs)
        except AssertionError as exc:
            tally.crash("resource inputs", f"{exc} for {news!r:.300}")
        except Exception as exc:
            tally.crash("resource inputs", f"{type(exc).__name__}: {exc} for {news!r:.300}")

    _run(prop)


def fuzz_import_ids(tally: Tally, examples: int, derandomize: bool = True) -> None:
    """`pulumi import` ids: `{publisherId}/{offerId}` or a clear InvalidIdentifier."""

    @_settings(examples, derandomize)
    @given(IDS.filter(lambda s: isinstance(s, str)) | st.builds("{}/{}".format, IDS, IDS))
    def prop(text: str) -> None:
        tally.case("import ids")
        try:
            pub, offer = live_offer.parse_resource_id(text)
            assert f"{pub}/{offer}" == text
        except portal_errors.InvalidIdentifier:
            pass
        except Exception as exc:
            tally.crash("import ids", f"{type(exc).__name__}: {exc} for {text!r:.200}")

    _run(prop)


def check_config(
    tally: Tally, config: Mapping[str, Any], category: str, *, request: bool = False
) -> str | None:
    """Settings from config, then a client (and with `request`, one GET through it):
    SettingsError, a PortalError or a ValueError with a message, or success; nothing else.
    The identity chain is never built. Returns the error text, if any."""
    tally.case(category)
    try:
        built = ProviderSettings.from_config(config, {})
    except SettingsError as exc:
        return str(exc)
    except Exception as exc:
        tally.crash(category, f"from_config: {type(exc).__name__}: {exc} for {config!r:.300}")
        return None
    if built.use_default_credential and not (built.access_token or built.client_secret):
        return None  # would build DefaultAzureCredential: never in tests
    try:
        client = built.client()
        if request:
            with client:
                client.get_offer("contoso", "offer")
    except (PortalError, ValueError) as exc:
        return str(exc)
    except Exception as exc:
        tally.crash(category, f"client: {type(exc).__name__}: {exc} for {config!r:.300}")
    return None


def fuzz_config(tally: Tally, examples: int, derandomize: bool = True) -> None:
    keys = st.sampled_from(
        [f"marketplace:{k}" for k in CONFIG_KEYS] + list(CONFIG_KEYS) + ["marketplace:bogus"]
    )

    @_settings(examples, derandomize)
    @given(st.dictionaries(keys, HOSTILE | st.sampled_from(
        ["http://10.0.0.1", "https://127.0.0.1:1", "http://localhost:8", "true", "false"]
    ), max_size=6))
    def prop(config: dict[str, Any]) -> None:
        config.setdefault("marketplace:useDefaultCredential", "false")
        text = check_config(tally, config, "config values")
        if text is not None:
            secret = config.get("marketplace:clientSecret", config.get("clientSecret"))
            elsewhere = [v for k, v in config.items() if not k.endswith("clientSecret")]
            if (isinstance(secret, str) and len(secret) > 8 and secret in text
                    and not any(isinstance(v, str) and secret in v for v in elsewhere)):
                tally.crash("config values", f"the client secret is in {text!r:.300}")

    _run(prop)


def check_retry_after(tally: Tally, value: str, category: str) -> None:
    tally.case(category)
    try:
        now = datetime.now(timezone.utc)
        seconds = parse_retry_after(value, now)
        assert seconds is None or (math.isfinite(seconds) and seconds >= 0), seconds
        sched = PollSchedule()
        state = PollState.start(10.0, deadline=10_000.0).failed(10.0, seconds)
        delay = sched.next_delay(state, 10.0)
        assert math.isfinite(delay) and 0 <= delay <= sched.retry_after_max + 1, delay
        gate = ThrottleGate()
        gate.note_429(seconds, 10.0)
        view = gate.snapshot(10.0)
        assert view.not_before <= 10.0 + gate.max_retry_after, view
    except AssertionError as exc:
        tally.crash(category, f"{value!r:.200} gave {exc}")
    except Exception as exc:
        tally.crash(category, f"{type(exc).__name__}: {exc} for {value!r:.200}")


def fuzz_retry_after(tally: Tally, examples: int, derandomize: bool = True) -> None:
    dates = st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)
    ).map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    numbers = st.one_of(st.integers(-10**30, 10**30).map(str), st.floats().map(str))

    @_settings(examples, derandomize)
    @given(st.text() | dates | numbers)
    def prop(value: str) -> None:
        check_retry_after(tally, value, "retry-after")

    _run(prop)


ENDPOINT = "http://127.0.0.1:8787"


def check_pointer(tally: Tally, value: str, category: str) -> None:
    tally.case(category)
    try:
        ref = parse_pointer({"Location": value}, ENDPOINT)
        assert origin_of(ref.url) == origin_of(ENDPOINT), ref.url
        assert "api-version=" in ref.url and ref.operation_id, ref
        assert ".." not in ref.url.split("?")[0].split("/"), ref.url
    except portal_errors.PointerError:
        pass
    except AssertionError as exc:
        tally.crash(category, f"{value!r:.200} gave {exc}")
    except Exception as exc:
        tally.crash(category, f"{type(exc).__name__}: {exc} for {value!r:.200}")


def fuzz_pointers(tally: Tally, examples: int, derandomize: bool = True) -> None:
    parts = st.sampled_from(["http://", "https://", "//", "/", "javascript:", "file:", ""])
    hosts = st.sampled_from(["127.0.0.1:8787", "127.0.0.1:1", "evil.example", "[::1]:8787",
                             "user@127.0.0.1:8787", ""])
    paths = st.sampled_from(["/api/operations/x", "/api/publishers/p/offers/o/operations/g",
                             "/api/operations/p$o$1$preview", "/../x", "/", ""]) | st.text()

    @_settings(examples, derandomize)
    @given(st.text() | st.builds(lambda a, b, c: a + b + c, parts, hosts, paths))
    def prop(value: str) -> None:
        check_pointer(tally, value, "pointers")

    _run(prop)


REF = OperationRef("op1", f"{ENDPOINT}/api/operations/op1?api-version=2017-10-31", "canonical")


def check_portal_json(tally: Tally, data: Any, category: str) -> None:
    tally.case(category)
    try:
        try:
            op = Operation.from_json(data)
        except ValueError:
            op = None
        if op is not None:
            _ = (op.percent, op.current_step, op.all_messages(), op.is_terminal)
            for s in op.steps:
                _ = (s.time_frame, s.name)
            text = describe_failure(op, REF)
            assert isinstance(text, str)
            state = PollState.start(0.0, deadline=1e6).observe(op, 5.0, None)
            state = state.observe(op, 9.0, None)
            delay = PollSchedule().next_delay(state, 10.0)
            assert math.isfinite(delay) and delay >= 0, delay
        for parse in (Submission.from_json, OfferStatus.from_json):
            try:
                parsed = parse(data)
            except ValueError:
                continue
            if isinstance(parsed, Submission):
                _ = (parsed.state, parsed.is_go_live, parsed.is_running, parsed.sort_time,
                     parsed.error)
            else:
                _ = (parsed.current_step, parsed.step("live"))
        _error_fields(json.dumps(data))
    except AssertionError as exc:
        tally.crash(category, f"{exc} for {data!r:.300}")
    except Exception as exc:
        tally.crash(category, f"{type(exc).__name__}: {exc} for {data!r:.300}")


def fuzz_portal_json(tally: Tally, examples: int, derandomize: bool = True) -> None:
    @_settings(examples, derandomize)
    @given(JSON)
    def prop(data: Any) -> None:
        check_portal_json(tally, data, "portal JSON")

    _run(prop)


# --------------------------------------------------------------------------------------------
# server answers over real HTTP


def _deep(depth: int, wrap: str) -> bytes:
    if wrap == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _failed_op(messages: int, size: int) -> dict[str, Any]:
    text = "<script>alert(1)</script>" + "x" * max(0, size - 25)
    return {
        "id": "op1", "status": "failed", "messages": [],
        "steps": [{"id": "live", "stepName": "Live", "status": "blocked", "messages": [
            {"messageHtml": f"<b>{i}</b>{text}", "level": "error"} for i in range(messages)
        ]}],
    }


def body_bytes(spec: Mapping[str, Any] | None, seen: Seen) -> tuple[bytes, bool]:
    """(body, send a Content-Length) for a corpus body spec."""
    if spec is None:
        return b"", True
    if "json" in spec:
        return json.dumps(spec["json"]).encode(), True
    if "text" in spec:
        return str(spec["text"]).encode("utf-8"), True
    if "hex" in spec:
        return bytes.fromhex(spec["hex"]), True
    if "utf16" in spec:
        return json.dumps(spec["utf16"]).encode("utf-16"), True
    if "raw" in spec:
        return str(spec["raw"]).encode(), False
    if spec.get("echoAuth"):
        return json.dumps({"error": {"code": "Echo", "message": seen.headers.get(
            "authorization", "")}}).encode(), True
    gen = spec.get("gen")
    if gen == "deep":
        return _deep(int(spec["depth"]), str(spec.get("wrap", "list"))), True
    if gen == "huge":
        size = int(float(spec["mb"]) * 1024 * 1024)
        if spec.get("of") == "json-field":
            return json.dumps({"id": "op1", "status": "running", "steps": [],
                               "junk": "x" * size}).encode(), True
        return (b"\x00garbage\xff" * (size // 10 + 1))[:size], True
    if gen == "many":
        return b"[" + b",".join([b"{}"] * int(spec["count"])) + b"]", True
    if gen == "failed":
        return json.dumps(_failed_op(int(spec["messages"]), int(spec["size"]))).encode(), True
    raise ValueError(f"unknown body spec {spec!r}")


def raw_answer(spec: Mapping[str, Any], seen: Seen) -> RawAnswer:
    body, with_length = body_bytes(spec.get("body"), seen)
    headers: list[tuple[str, str | bytes]] = []
    for name, value in spec.get("headers", []):
        headers.append((name, bytes.fromhex(value["hex"]) if isinstance(value, dict)
                        else str(value)))
    answer = RawAnswer(status=int(spec.get("status", 200)), reason="X", headers=headers,
                       body=body)
    if spec.get("truncate"):
        answer.content_length = len(body)
        answer.body = body[: len(body) // 2]
    if not with_length or spec.get("noLength"):
        answer.send_length = False
    if spec.get("rawStatus"):
        answer.raw = (str(spec["rawStatus"]).encode()
                      + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    return answer


class _Answers:
    """Responder for one corpus case (optionally routed by path substring)."""

    def __init__(self, case: Mapping[str, Any]) -> None:
        self.case = case

    def __call__(self, seen: Seen) -> RawAnswer:
        spec: Mapping[str, Any] = self.case["answer"]
        routes = spec.get("routes")
        if routes:
            for key, route in routes.items():
                if key in seen.path:
                    return raw_answer(route, seen)
            return RawAnswer(404, "Not Found")
        return raw_answer(spec, seen)


def call_client(call: str, client: PortalClient) -> Any:
    """Run one client call or procedure against the hostile server."""
    pub, offer = "contoso", "offer"
    clock = JumpClock()
    gate = ThrottleGate()
    ref = OperationRef("op1", f"{client.endpoint}/api/publishers/{pub}/offers/{offer}/"
                       f"operations/op1?api-version=2017-10-31", "canonical")
    if call == "go_live":
        return client.go_live(pub, offer)
    if call == "get_operation":
        return client.get_operation(ref)
    if call == "list_operations":
        return client.list_operations(pub, offer)
    if call == "offer_status":
        return client.offer_status(pub, offer)
    if call == "get_offer":
        return client.get_offer(pub, offer)
    if call == "cancel":
        return client.cancel(pub, offer)
    if call == "wait":
        return run_sync(wait_for_operation(client, ref, clock=clock,
                                           deadline=clock.now() + 600.0, throttle=gate),
                        clock=clock)
    if call == "start_go_live":
        return run_sync(start_go_live(client, pub, offer, clock=clock,
                                      deadline=clock.now() + 300.0, throttle=gate), clock=clock)
    raise ValueError(f"unknown call {call!r}")


C = TypeVar("C", bound=ApiClient)


class Unpaced(Pacer):
    """A pacer that never limits. Each case is one hostile answer meeting a fresh client, not a
    quota: with the process's pacer, a server answering 429 to everything is (rightly) polled
    at its floor rate in real time, while the cases' clocks jump. Pacing has its own tests
    (tests/unit/test_pacing.py, tests/portal/test_pacing.py, chaos-many)."""

    def observe(self, *, refused: bool) -> None:
        del refused


def unpaced(client: C) -> C:
    client.pacer = Unpaced(name="fuzz")
    return client


def _portal_client(base_url: str) -> PortalClient:
    return unpaced(PortalClient(base_url, StaticToken(CANARY), timeout=(2.0, 10.0)))


def judge(expect: str, outcome: BaseException | None) -> str | None:
    """Why `outcome` breaks `expect` (None when it is fine)."""
    if outcome is not None and not isinstance(outcome, PortalError):
        return f"{type(outcome).__name__} escaped: {outcome}"
    if expect == "ok":
        return None if outcome is None else f"expected an answer, got {outcome!r:.300}"
    if expect == "either":
        return None
    if expect == "either-transient":
        if outcome is None or isinstance(outcome, portal_errors.WaitTimedOut):
            return None
        return None if is_transient(outcome) else f"expected transient, got {outcome!r:.300}"
    wanted = getattr(portal_errors, expect)
    if not isinstance(outcome, wanted):
        return f"expected {expect}, got {outcome!r:.300}"
    return None


def check_answer(tally: Tally, server: HostileServer, case: Mapping[str, Any],
                 category: str, *, make_client: Callable[[str], Any] | None = None,
                 call: Callable[[str, Any], Any] | None = None) -> None:
    """One case: the server answers as `case` says, a client call meets it, `judge` rules.

    `make_client` (base URL -> client) and `call` default to the Partner Portal's; the Product
    Ingestion fuzzing passes its own (tests/faults/fuzz_ingestion.py)."""
    tally.case(category)
    server.respond_with(_Answers(case))
    client = (make_client or _portal_client)(server.base_url)
    outcome: BaseException | None = None
    began = time.monotonic()
    try:
        (call or call_client)(str(case["call"]), client)
    except Exception as exc:
        outcome = exc
    finally:
        client.close()
    name = f"{case.get('name', '?')} ({case['call']})"
    if case.get("name") == "generated":
        name += f" answering {json.dumps(case['answer'])[:400]}"
    why = judge(str(case.get("expect", "either")), outcome)
    if why:
        tally.crash(category, f"{name}: {why}")
    if outcome is not None:
        text = str(outcome)
        if CANARY in text or CANARY in repr(outcome):
            tally.crash(category, f"{name}: the token is in the error: {text[:300]!r}")
        if len(text) > MAX_MESSAGE:
            tally.crash(category, f"{name}: a {len(text)}-character error message")
    if time.monotonic() - began > 30:
        tally.crash(category, f"{name}: took {time.monotonic() - began:.0f} s")


def corpus_server_answers(tally: Tally) -> None:
    with loopback_only(), HostileServer() as server:
        for case in load("server_answers.json")["cases"]:
            check_answer(tally, server, case, "server answers (corpus)")


def fuzz_server_answers(tally: Tally, examples: int, derandomize: bool = True) -> None:
    header_names = st.sampled_from(["Location", "Operation-Location", "Retry-After",
                                    "Content-Type", "Content-Encoding", "x-ms-request-id",
                                    "Transfer-Encoding", "Content-Length"])
    header_values = (st.text(max_size=40) | st.sampled_from(
        ["/api/operations/x", "https://evil.example/x", "gzip", "chunked", "-1", "0",
         "99999999999", "application/json", "1", "Wed, 21 Oct 2015 07:28:00 GMT"]))
    bodies = (JSON.map(lambda d: {"json": d}) | st.text(max_size=200).map(lambda t: {"text": t})
              | st.binary(max_size=200).map(lambda b: {"hex": b.hex()}))
    answers = st.fixed_dictionaries(
        {
            "status": st.sampled_from([200, 201, 202, 204, 301, 302, 400, 401, 403, 404, 409,
                                       412, 429, 500, 503, 599, 799]),
            "headers": st.lists(st.tuples(header_names, header_values.map(
                lambda v: v.encode("utf-8", "surrogatepass").decode("latin-1")
            )), max_size=4),
            "body": bodies,
            "truncate": st.booleans(),
        }
    )
    calls = st.sampled_from(["go_live", "get_operation", "list_operations", "offer_status",
                             "get_offer", "cancel", "wait", "start_go_live"])

    with loopback_only(), HostileServer() as server:

        @_settings(examples, derandomize)
        @given(calls, answers)
        def prop(call: str, answer: dict[str, Any]) -> None:
            case = {"name": "generated", "call": call, "expect": "either", "answer": answer}
            check_answer(tally, server, case, "server answers (generated)")

        _run(prop)


# --------------------------------------------------------------------------------------------
# corpora of pure cases


def corpus_resource_inputs(tally: Tally) -> None:
    doc = load("resource_inputs.json")
    for case in [*doc["cases"], *doc["previewOnly"]]:
        tally.case("resource inputs (corpus)")
        news = expand(case["inputs"])
        try:
            _, failures = live_offer.check({}, news)
        except Exception as exc:
            tally.crash("resource inputs (corpus)", f"{case['name']}: {type(exc).__name__}")
            continue
        named = sorted({f.property for f in failures})
        if named != sorted(case["fails"]):
            tally.crash("resource inputs (corpus)",
                        f"{case['name']}: Check named {named}, expected {case['fails']}")


def corpus_config(tally: Tally) -> None:
    """Each hostile setting is refused naming the key (at config time, or at the first request
    before anything is sent: the hostile server must see no request then)."""
    with loopback_only(), HostileServer() as server:
        for case in load("config_values.json")["cases"]:
            _config_case(tally, server, case)


def _config_case(tally: Tally, server: HostileServer, case: Mapping[str, Any]) -> None:
    config = {f"marketplace:{k}": v for k, v in
              expand(case["config"], {"<<canary>>": CANARY}).items()}
    config.setdefault("marketplace:accessToken", "token")
    config.setdefault("marketplace:useDefaultCredential", "false")
    config.setdefault("marketplace:endpoint", server.base_url)
    stage = case.get("stage", "config")
    before = len(server.seen)
    text = check_config(tally, config, "config values (corpus)", request=stage == "request")
    if stage in ("config", "request"):
        if len(server.seen) != before:
            tally.crash("config values (corpus)", f"{case['name']}: a request was sent")
        if text is None or case["refused"] not in text:
            tally.crash("config values (corpus)",
                        f"{case['name']}: expected a refusal naming {case['refused']}, "
                        f"got {text!r:.300}")
    if text is not None and (CANARY in text or case.get("mustNotShow", "\0") in text):
        tally.crash("config values (corpus)", f"{case['name']}: secret shown: {text:.300}")


def corpus_retry_after(tally: Tally) -> None:
    for value in load("retry_after.json")["values"]:
        check_retry_after(tally, expand(value), "retry-after (corpus)")


def corpus_pointers(tally: Tally) -> None:
    subs = {"<<origin>>": ENDPOINT, "<<host>>": "127.0.0.1:8787"}
    for value in load("pointers.json")["values"]:
        check_pointer(tally, expand(value, subs), "pointers (corpus)")


# --------------------------------------------------------------------------------------------


def run_all(examples: int, *, derandomize: bool = True, answers: int | None = None) -> Tally:
    """Every corpus and every strategy; `examples` per strategy (`answers` for HTTP ones)."""
    tally = Tally()
    corpus_resource_inputs(tally)
    corpus_config(tally)
    corpus_retry_after(tally)
    corpus_pointers(tally)
    corpus_server_answers(tally)
    fuzz_resource_inputs(tally, examples, derandomize)
    fuzz_import_ids(tally, examples, derandomize)
    fuzz_config(tally, examples, derandomize)
    fuzz_retry_after(tally, examples, derandomize)
    fuzz_pointers(tally, examples, derandomize)
    fuzz_portal_json(tally, examples, derandomize)
    fuzz_server_answers(tally, answers if answers is not None else examples // 4, derandomize)
    return tally


def iter_crashes(tally: Tally) -> Iterator[str]:
    yield from tally.crashes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=5000,
                        help="hypothesis examples per pure strategy (default 5000)")
    parser.add_argument("--answers", type=int, default=1000,
                        help="generated server answers over HTTP (default 1000)")
    parser.add_argument("--random", action="store_true",
                        help="new random examples each run (default: derandomized)")
    args = parser.parse_args(argv)
    # The waiter logs each retry it makes; thousands of hostile answers need no narration.
    logging.getLogger("pulumi_marketplace_provider").setLevel(logging.ERROR)
    began = time.monotonic()
    tally = run_all(args.examples, derandomize=not args.random, answers=args.answers)
    for crash in iter_crashes(tally):
        print(f"CRASH {crash}", flush=True)
    print(f"{tally.line()} in {time.monotonic() - began:.0f} s", flush=True)
    return 1 if tally.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
