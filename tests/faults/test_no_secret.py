"""No secret anywhere: a canary credential is looked for in every artefact a run produces.

Artefacts searched, for both hosts: the engine double's state file (as written) and the
pickled `__provider` inside it (decoded), every gRPC response and every error message, every
`Engine.Log` call, the provider's stderr, and the emulator's request log. The canary may
appear in exactly two places: the `Authorization` header of requests to the configured
origin, and (plugin only) secret-marked inside CheckConfig's answer, which by protocol hands
the provider's config back to the engine (the engine stores it encrypted). Runs include the
failure paths: 401, 400 with a body (one that even echoes the token), a failed go-live, the
wait limit passing, a refused connection, a read timeout. An Azure AD client secret is checked
the same way in runs that fail before any token is requested (azure-identity would otherwise
contact login.microsoftonline.com, which tests must never do; the network guard and a
loopback authority host make sure it does not).
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from marketplace_emulator.harness import AdminClient, RunningEmulator
from pulumi_marketplace_provider.partner_portal import PortalClient, StaticToken, TransportError
from tests.enginedouble import CommandResult, EngineDouble, Secret, secret
from tests.faults.conftest import SeedOffer
from tests.faults.hostile_server import HostileServer, RawAnswer, Seen
from tests.faults.netguard.sitecustomize import loopback_only
from tests.faults.support import NETGUARD_MARKER, crashes, guarded_env
from tests.lifecycle.support import PUBLISHER, Flavour, engine, plain_text, stack_config

TOKEN = "canary-token-4f1d9a7c2e"  # the canary
CLIENT_SECRET = "canary-aad-secret-93be01d7"  # the canary
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "00000000-0000-0000-0000-00000000a11d"


def _decoded_providers(eng: EngineDouble) -> list[bytes]:
    """The pickled `__provider` values in state, base64-decoded (dill bytes)."""
    out = []
    for res in eng.state.resources:
        for props in (res.inputs, res.outputs):
            value = props.get("__provider")
            if isinstance(value, Secret):
                value = value.value
            if isinstance(value, str):
                out.append(base64.b64decode(value))
    return out


def leaks(
    canary: str,
    eng: EngineDouble,
    results: Iterable[CommandResult],
    emulator: RunningEmulator | None = None,
) -> list[str]:
    """Every place the canary shows up where it must not (empty list: none)."""
    found: list[str] = []
    state_text = eng.state_path.read_text() if eng.state_path.exists() else ""
    if canary in state_text:
        found.append("state file")
    for raw in _decoded_providers(eng):
        if canary.encode() in raw:
            found.append("pickled __provider")
    for rec in eng.records:
        if canary in plain_text(rec.response) or canary in rec.message:
            found.append(f"{rec.method} response/message")
        if rec.method != "CheckConfig" and canary in json.dumps(rec.response, default=str):
            found.append(f"{rec.method} response (even secret-marked)")
        if canary in json.dumps(rec.details, default=str):
            found.append(f"{rec.method} error details")
    for log in eng.engine.logs():
        if canary in log.message:
            found.append("Engine.Log")
    for result in results:
        for err in result.errors:
            if canary in err.message:
                found.append(f"error of {err.name} {err.method}")
        for diag in result.diagnostics:
            if canary in diag.message:
                found.append("diagnostic")
        if canary in result.provider_stderr:
            found.append(f"provider stderr ({result.command})")
        if canary.encode() in result.provider_stdout_after_port:
            found.append(f"provider stdout ({result.command})")
    for path in sorted(eng.work_dir.glob("*.stderr")):
        if canary in path.read_text(errors="replace"):
            found.append(f"stderr file {path.name}")
    if emulator is not None:
        for row in emulator.admin.requests():
            headers = dict(row["headers"])
            auth = headers.pop("Authorization", "")
            if canary in auth and auth != f"Bearer {canary}":
                found.append("Authorization header of an odd shape")
            rest = json.dumps({**row, "headers": headers})
            if canary in rest:
                found.append(f"request log entry {row['seq']} outside Authorization")
    return found


def no_crash(results: Iterable[CommandResult]) -> None:
    for result in results:
        assert crashes(result) == [], crashes(result)
        assert NETGUARD_MARKER not in result.provider_stderr


def test_the_token_stays_out_of_every_artefact_on_every_path(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    fast_emulator.admin.set_tokens([TOKEN])
    fast_emulator.token = TOKEN
    ok = seed_offer("ok")
    fails = seed_offer("fails", goLiveOutcome={
        "result": "fail", "atStep": "live", "messages": ["Plan gen2 has no image."]})
    draft = seed_offer("draft", state="draft")  # go-live refused: 400 with the portal's body
    echo = seed_offer("echo")
    slow = seed_offer("slow", goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 5000}])
    # A 400 whose body quotes the token: the client must redact it.
    fast_emulator.admin.add_fault("status", "/echo/golive$", "POST", status=400, times=None,
                                  message=f"Rejected request with Authorization Bearer {TOKEN}")
    program = [
        flavour.resource(name, publisherId=PUBLISHER, offerId=name, waitTimeoutSeconds=3)
        for name in (ok, fails, draft, echo, slow)
    ]
    results: list[CommandResult] = []
    with engine(flavour, fast_emulator, tmp_path, extra_env=guarded_env()) as eng:
        results.append(eng.preview(program))
        up = eng.up(program)
        results.append(up)
        assert up.error(ok) is None
        for name in (fails, draft, echo, slow):
            assert up.error(name) is not None, name
        echo_error = up.error(echo)
        assert echo_error is not None and "<redacted>" in echo_error.message
        results.append(eng.refresh())
        if flavour.name == "plugin":
            results.append(eng.import_(flavour.type_token, "imported", f"{PUBLISHER}/{ok}"))
        # 401: the portal stops accepting the token (refresh and a new offer both fail)
        fast_emulator.admin.set_tokens(["some-other-token"])
        seed_offer("late")
        refused = eng.up([*program, flavour.resource("late", publisherId=PUBLISHER,
                                                     offerId="late", waitTimeoutSeconds=3)])
        results.append(refused)
        late = refused.error("late")
        assert late is not None and "401" in late.message
        fast_emulator.admin.set_tokens([TOKEN])
        results.append(eng.destroy())
        no_crash(results)
        assert leaks(TOKEN, eng, results, fast_emulator) == []
    rows = fast_emulator.admin.requests()
    assert rows and all(r["headers"].get("Authorization") in (f"Bearer {TOKEN}",) for r in rows)


def test_the_token_stays_out_when_the_portal_cannot_be_reached(
    flavour: Flavour, tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {"marketplace:endpoint": f"http://127.0.0.1:{port}",
              "marketplace:accessToken": secret(TOKEN)}
    program = [flavour.resource("live", publisherId=PUBLISHER, offerId="offer",
                                waitTimeoutSeconds=2)]
    target = RunningEmulator(f"http://127.0.0.1:{port}", AdminClient(f"http://127.0.0.1:{port}"))
    with engine(flavour, target, tmp_path, config=config, extra_env=guarded_env()) as eng:
        result = eng.up(program)
    error = result.error("live")
    assert error is not None and "connection" in error.message.lower()
    no_crash([result])
    assert leaks(TOKEN, eng, [result]) == []


def test_a_read_timeout_names_no_token() -> None:
    def slow(seen: Seen) -> RawAnswer:
        time.sleep(1.0)
        return RawAnswer(body=b"{}")

    with loopback_only(), HostileServer(slow) as server:
        client = PortalClient(server.base_url, StaticToken(TOKEN), timeout=(2.0, 0.2))
        try:
            client.get_offer(PUBLISHER, "offer")
        except TransportError as exc:
            assert exc.kind == "timeout"
            assert TOKEN not in str(exc) and TOKEN not in repr(exc)
        else:
            raise AssertionError("no timeout")
        finally:
            client.close()
        assert [s.headers.get("authorization") for s in server.seen] == [f"Bearer {TOKEN}"]


def _aad_config(emulator_url: str, **override: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "marketplace:endpoint": emulator_url,
        "marketplace:tenantId": TENANT,
        "marketplace:clientId": APP,
        "marketplace:clientSecret": Secret(CLIENT_SECRET),
        "marketplace:useDefaultCredential": "false",
    }
    for key, value in override.items():
        if value is None:
            config.pop(f"marketplace:{key}", None)
        else:
            config[f"marketplace:{key}"] = value
    return config


def test_the_client_secret_stays_out_of_every_artefact(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """Each run stops before a token is ever requested (no identity endpoint is contacted)."""
    offer = seed_offer()
    runs: list[tuple[str, dict[str, Any], list[Any]]] = [
        # a Check failure: the provider is configured with the secret, then refuses the input
        ("check", _aad_config(fast_emulator.base_url),
         [flavour.resource("live", publisherId=PUBLISHER, offerId="bad/id")]),
        # azure-identity refuses a malformed tenant while building the credential
        ("tenant", _aad_config(fast_emulator.base_url, tenantId="not a tenant!"),
         [flavour.resource("live", publisherId=PUBLISHER, offerId=offer)]),
        # incomplete app credentials
        ("incomplete", _aad_config(fast_emulator.base_url, tenantId=None),
         [flavour.resource("live", publisherId=PUBLISHER, offerId=offer)]),
        # plain http to a remote host: refused before any connection
        ("insecure", _aad_config("http://cloudpartner.example.com"),
         [flavour.resource("live", publisherId=PUBLISHER, offerId=offer)]),
    ]
    for label, config, program in runs:
        state_dir = tmp_path / label
        state_dir.mkdir()
        with engine(flavour, fast_emulator, state_dir, config=config,
                    extra_env=guarded_env()) as eng:
            results = [eng.preview(program), eng.up(program)]
            assert results[1].failed, label
            no_crash(results)
            assert leaks(CLIENT_SECRET, eng, results, fast_emulator) == [], label
    assert fast_emulator.admin.requests() == [], "no run got as far as a request"


def test_the_canary_check_finds_a_leak(
    fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """The search itself works: a token put where it must not be is found."""
    offer = seed_offer()
    flavour = Flavour("plugin")
    with engine(flavour, fast_emulator, tmp_path, config=stack_config(fast_emulator),
                extra_env=guarded_env()) as eng:
        # the token as a resource input (a user mistake): it reaches state and answers
        result = eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer,
                                          triggers=[fast_emulator.token])])
        found = leaks(fast_emulator.token, eng, [result], fast_emulator)
    assert "state file" in found
    assert any("response" in f for f in found)
