"""Hostile input through the provider's code and through both provider processes.

- every corpus and hypothesis strategy of `tests.faults.fuzz` (pure code and real HTTP from a
  hostile server), derandomized so `make test` is repeatable;
- the resource-input corpus through Check in both hosts (preview and up): each bad input is
  refused naming its property, nothing is created and not one request leaves;
- the configuration corpus through both hosts: refused naming the key, before any request;
- a hostile portal as the configured endpoint: bodies that are deep, huge, truncated or not
  JSON, a pointer to another origin, an error body that echoes the token, an operation stuck
  in an unknown status. Each resource fails with a clear error; no process crashes.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from marketplace_emulator.harness import AdminClient, RunningEmulator
from tests.enginedouble import UNKNOWN, CommandResult, Secret, secret
from tests.faults.conftest import SeedOffer
from tests.faults.fuzz import CANARY, expand, load, run_all
from tests.faults.hostile_server import HostileServer, RawAnswer, Seen
from tests.faults.support import NETGUARD_MARKER, crashes, guarded_env
from tests.lifecycle.support import PUBLISHER, Flavour, engine, plain_text

SECRET_KEYS = ("accessToken", "clientSecret")


def everything_said(result: CommandResult) -> str:
    """Every message a command produced: errors, diagnostics, Log calls, responses, stderr."""
    parts = [e.message for e in result.errors]
    parts += [d.message for d in result.diagnostics]
    parts += [log.message for log in result.engine_logs]
    parts += [plain_text(c.response) + " " + c.message for c in result.rpc_calls]
    parts.append(result.provider_stderr)
    return "\n".join(parts)


def test_fuzz_every_target_without_a_crash(capsys: pytest.CaptureFixture[str]) -> None:
    tally = run_all(400, derandomize=True, answers=120)
    with capsys.disabled():
        print(f"\n{tally.line()}")
    assert tally.crashes == [], "\n".join(tally.crashes[:20])
    assert tally.counts["server answers (corpus)"] == len(load("server_answers.json")["cases"])
    assert tally.total > 2500


def test_resource_input_corpus_through_check(
    flavour: Flavour, fast_emulator: RunningEmulator, tmp_path: Path
) -> None:
    doc = load("resource_inputs.json")
    wire = [c for c in doc["cases"] if not c.get("pureOnly")]
    everything = [*wire, *doc["previewOnly"]]
    bad = [c for c in wire if c["fails"]]
    assert len(bad) > 30 and len(everything) - len(bad) > 10

    def program(cases: list[dict[str, Any]]) -> list[Any]:
        return [flavour.resource(f"r{i}", **expand(c["inputs"])) for i, c in enumerate(cases)]

    with engine(flavour, fast_emulator, tmp_path, extra_env=guarded_env()) as eng:
        preview = eng.preview(program(everything))
        up = eng.up(program(bad))
    assert crashes(preview) == [] and crashes(up) == []
    for result, cases in ((preview, everything), (up, bad)):
        for i, case in enumerate(cases):
            urn = eng.urn(flavour.type_token, f"r{i}")
            checks = result.calls("Check", urn)
            assert checks, f"{case['name']}: no Check"
            named = sorted({f["property"] for f in (checks[-1].response or {}).get("failures",
                                                                                    [])})
            assert named == sorted(case["fails"]), f"{case['name']}: Check named {named}"
            assert result.calls("Create", urn) == [] or not case["fails"], case["name"]
            error = result.error(f"r{i}")
            assert (error is not None) == bool(case["fails"]), case["name"]
            for prop in case["fails"]:
                assert error is not None and prop in error.message, case["name"]
    assert [c for c in up.calls("Create") if not c.request.get("preview")] == []
    assert fast_emulator.admin.requests() == [], "nothing may be sent for refused inputs"


def _config(case: dict[str, Any], emulator: RunningEmulator) -> dict[str, Any]:
    values = expand(case["config"], {"<<canary>>": CANARY})
    config: dict[str, Any] = {
        "marketplace:endpoint": emulator.base_url,
        "marketplace:accessToken": secret(emulator.token),
    }
    for key, value in values.items():
        config[f"marketplace:{key}"] = Secret(value) if key in SECRET_KEYS else value
    return config


def test_config_corpus_through_the_provider(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer()
    cases = load("config_values.json")["cases"]

    def run(index: int) -> tuple[dict[str, Any], CommandResult]:
        case = cases[index]
        state_dir = tmp_path / f"case{index}"
        state_dir.mkdir()
        with engine(flavour, fast_emulator, state_dir, config=_config(case, fast_emulator),
                    extra_env=guarded_env()) as eng:
            program = [flavour.resource("live", publisherId=PUBLISHER, offerId=offer)]
            if case.get("stage") == "preview":
                return case, eng.preview(program)
            return case, eng.up(program)

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(run, range(len(cases))))
    for case, result in outcomes:
        name = case["name"]
        assert crashes(result) == [], f"{name}: {crashes(result)}"
        said = everything_said(result)
        assert CANARY not in said, f"{name}: the secret was shown"
        assert NETGUARD_MARKER not in said, f"{name}: tried to leave loopback"
        failure = "\n".join([e.message for e in result.errors]
                            + [d.message for d in result.diagnostics]
                            + [log.message for log in result.engine_logs])
        # (CheckConfig hands config back as the engine gave it: only messages count here.)
        assert case.get("mustNotShow", "\0") not in failure + result.provider_stderr, name
        if case.get("stage") == "preview":
            assert not result.failed, f"{name}: {said[:500]}"
            continue
        assert result.failed, f"{name}: was accepted"
        assert case["refused"] in failure, f"{name}: {failure[:500]}"
    assert fast_emulator.admin.requests() == [], "a refused setting must send nothing"


# --------------------------------------------------------------------------------------------
# a hostile portal as the configured endpoint


def _deep() -> bytes:
    return b"[" * 200_000 + b"]" * 200_000


def _portal(other: HostileServer) -> Any:
    """Routes by offer id: each offer meets one kind of hostility."""

    def answer(seen: Seen) -> RawAnswer:
        parts = seen.path.split("/")
        offer = parts[5] if len(parts) > 5 and parts[2] == "publishers" else ""
        action = parts[6] if len(parts) > 6 else ""
        if offer == "deep":
            return RawAnswer(body=_deep())
        if offer == "huge":
            return RawAnswer(body=b"\xff garbage " * 400_000)
        if offer == "html":
            return RawAnswer(headers=[("Content-Type", "text/html")],
                             body=b"<html><h1>Gateway</h1></html>")
        if offer == "truncated":
            body = json.dumps([{"id": "x", "submissionType": "goLive", "status": "running"}])
            return RawAnswer(body=body.encode()[:10], content_length=len(body))
        if action == "submissions":
            return RawAnswer(body=b"[]")
        if action == "status":
            return RawAnswer(body=json.dumps({"status": "waitingForPublisherReview",
                                              "steps": []}).encode())
        if offer == "foreign" and action == "golive":
            return RawAnswer(202, "Accepted", headers=[
                ("Operation-Location", f"{other.base_url}/api/operations/stolen")])
        if offer == "echo" and action == "golive":
            body = json.dumps({"error": {"code": "BadRequest", "message":
                                         f"cannot accept {seen.headers.get('authorization')}"}})
            return RawAnswer(400, "Bad Request", body=body.encode())
        if offer == "stuck" and action == "golive":
            return RawAnswer(202, "Accepted", headers=[
                ("Location", f"/api/publishers/{PUBLISHER}/offers/stuck/operations/op1")])
        if offer == "stuck" and action == "operations":
            return RawAnswer(headers=[("Retry-After", "tomorrow")], body=json.dumps(
                {"status": "exploded", "steps": [{"id": "live", "status": "on fire",
                                                  "progressPercentage": "lots"}]}).encode())
        return RawAnswer(404, "Not Found", body=b'{"error": {"code": "NotFound"}}')

    return answer


HOSTILE_OFFERS = ("deep", "huge", "html", "truncated", "foreign", "echo", "stuck")


def test_a_hostile_portal_gets_clear_errors_and_no_crash(
    flavour: Flavour, tmp_path: Path
) -> None:
    with HostileServer() as other, HostileServer() as portal:
        portal.respond_with(_portal(other))
        config = {"marketplace:endpoint": portal.base_url,
                  "marketplace:accessToken": secret(CANARY)}
        program = [
            flavour.resource(offer, publisherId=PUBLISHER, offerId=offer, waitTimeoutSeconds=2)
            for offer in HOSTILE_OFFERS
        ]
        target = RunningEmulator(portal.base_url, AdminClient(portal.base_url))
        with engine(flavour, target, tmp_path, config=config, extra_env=guarded_env()) as eng:
            result = eng.up(program)
        seen_by_portal, seen_by_other = portal.seen, other.seen
    assert crashes(result) == [], crashes(result)
    for offer in HOSTILE_OFFERS:
        error = result.error(offer)
        assert error is not None, f"{offer} did not fail"
        assert len(error.message) < 70_000
    said = everything_said(result)
    assert CANARY not in said
    assert CANARY not in (tmp_path / "state.json").read_text()
    assert seen_by_other == [], "nothing may be sent to another origin"
    for seen in seen_by_portal:
        assert seen.headers.get("authorization") == f"Bearer {CANARY}"
        assert CANARY not in seen.target
    foreign = result.error("foreign")
    assert foreign is not None and "not the configured endpoint" in foreign.message
    echo = result.error("echo")
    assert echo is not None and "<redacted>" in echo.message
    stuck = result.error("stuck")
    assert stuck is not None and "still running" in stuck.message



def test_unknowns_in_a_preview_of_an_existing_offer(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """Values computed from other resources are unknown in preview: Check and Diff take them,
    say what may change, and send nothing."""
    offer = seed_offer()
    with engine(flavour, fast_emulator, tmp_path, extra_env=guarded_env()) as eng:
        eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                 triggers=["1"])]).raise_for_failure()
        before = len(fast_emulator.admin.requests())
        preview = eng.preview([flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                                triggers=UNKNOWN)])
        replace = eng.preview([flavour.resource("live", publisherId=PUBLISHER, offerId=UNKNOWN,
                                                triggers=[UNKNOWN])])
    assert crashes(preview) == [] and crashes(replace) == []
    preview.raise_for_failure()
    replace.raise_for_failure()
    assert preview.op("live") == "update"
    assert replace.op("live") in ("update", "replace")
    assert len(fast_emulator.admin.requests()) == before, "a preview sends nothing"


def test_fuzz_the_product_ingestion_backend_without_a_crash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same bar for the second backend: its JSON, its client, its go-live and wait."""
    from tests.faults.fuzz_ingestion import run_ingestion

    tally = run_ingestion(300, 120, derandomize=True)
    with capsys.disabled():
        print(f"\n{tally.line()}")
    assert tally.crashes == [], "\n".join(tally.crashes[:20])
    assert tally.counts["ingestion answers (corpus)"] == len(
        load("ingestion_answers.json")["cases"]
    )
