"""What the user sees from the plugin: each failure once, a Cancel message that says what was
and was not sent, config failures under their own property, and attaching for debugging
(PULUMI_DEBUG_PROVIDERS). Driven over gRPC as the engine drives the plugin."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from marketplace_emulator.harness import RunningEmulator
from tests.enginedouble import CommandResult, EngineDouble, FakeEngine, Resource, to_struct
from tests.lifecycle.conftest import SeedOffer
from tests.lifecycle.support import (
    CLEAN_ENV,
    PLUGIN_TYPE,
    PUBLISHER,
    REPO,
    Flavour,
    engine,
    golive_posts,
    wait_until,
)


def test_a_failure_is_shown_once(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """The RPC error carries the text; no Engine.Log error repeats it (432de4c sent both)."""
    words = "No virtual machine image was found for the plan contoso-gen2."
    offer = seed_offer(goLiveOutcome={"result": "fail", "atStep": "live", "messages": [words]})
    with engine(plugin, fast_emulator, tmp_path) as eng:
        result = eng.up([plugin.resource("live", publisherId=PUBLISHER, offerId=offer)])
    error = result.error("live")
    assert error is not None and words in error.message
    repeated = [log for log in result.engine_logs if words in log.message and not log.ephemeral]
    assert repeated == [], "the engine would print the failure twice"
    assert not [log for log in result.engine_logs if log.severity == "error"]


def _cancel_during(eng: EngineDouble, program: list[Resource], started: Callable[[], bool]
                   ) -> CommandResult:
    results: list[CommandResult] = []
    runner = threading.Thread(target=lambda: results.append(eng.up(program)))
    runner.start()
    wait_until(started, timeout=30)
    time.sleep(0.5)
    eng.cancel()
    runner.join(timeout=30)
    assert not runner.is_alive(), "Cancel stopped the wait promptly"
    return results[0]


def test_cancel_before_any_go_live_says_nothing_was_sent(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """Ctrl-C while a publish is still running (no go-live sent yet): on 432de4c the message
    said a go-live would be resumed."""
    offer = seed_offer(state="publishing",
                       publishSteps=[{"id": "displaycertify", "stepName": "Certification",
                                      "seconds": 400}])
    program = [plugin.resource("live", publisherId=PUBLISHER, offerId=offer)]
    with engine(plugin, fast_emulator, tmp_path) as eng:
        result = _cancel_during(eng, program, lambda: any(
            "/operations/" in r["path"] for r in fast_emulator.admin.requests()))
    error = result.error("live")
    assert error is not None
    assert "nothing was sent" in error.message
    assert "resume waiting" not in error.message
    assert golive_posts(fast_emulator, offer) == 0


def test_cancel_after_the_go_live_was_sent_names_it(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer(goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 100}])
    program = [plugin.resource("live", publisherId=PUBLISHER, offerId=offer)]
    with engine(plugin, fast_emulator, tmp_path) as eng:
        result = _cancel_during(eng, program, lambda: golive_posts(fast_emulator, offer) == 1)
    error = result.error("live")
    assert error is not None and error.init_failed is not None
    [op] = [o for o in fast_emulator.admin.operations(PUBLISHER, offer)
            if o["submissionType"].lower() == "golive"]
    assert f"Go-live {op['id']} was sent" in error.message
    assert "not cancelled in the Partner Portal" in error.message


def _plugin_stub(extra_env: dict[str, str] | None = None
                 ) -> tuple[subprocess.Popen[str], provider_pb2_grpc.ResourceProviderStub]:
    """The plugin started by hand, as for PULUMI_DEBUG_PROVIDERS: no engine address."""
    import os

    env = {**os.environ, **CLEAN_ENV, **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, str(REPO)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    port = int(proc.stdout.readline().strip())
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return proc, provider_pb2_grpc.ResourceProviderStub(channel)


def test_config_failures_name_their_own_property(tmp_path: Path) -> None:
    """On 432de4c every settings error was filed under `endpoint`."""
    proc, stub = _plugin_stub()
    try:
        resp = stub.CheckConfig(provider_pb2.CheckRequest(
            urn="urn:pulumi:s::p::pulumi:providers:marketplace::default",
            news=to_struct({"caBundle": str(tmp_path / "missing.pem"),
                            "apiVersion": "2017-10-31&x=1",
                            "allowInsecureHttp": "maybe"})), timeout=20)
    finally:
        proc.terminate()
        proc.wait(10)
    by_property = {f.property: f.reason for f in resp.failures}
    assert set(by_property) == {"caBundle", "apiVersion", "allowInsecureHttp"}
    assert by_property["caBundle"].startswith("marketplace:caBundle")
    assert by_property["apiVersion"].startswith("marketplace:apiVersion")


def test_attach_connects_a_plugin_started_by_hand_to_the_engine(
    fast_emulator: RunningEmulator, seed_offer: SeedOffer
) -> None:
    """PULUMI_DEBUG_PROVIDERS=marketplace:<port>: the engine calls Handshake, then Attach with
    its address; progress then reaches that engine (432de4c answered UNIMPLEMENTED)."""
    offer = seed_offer()
    proc, stub = _plugin_stub()
    try:
        with FakeEngine() as fake:
            stub.Handshake(provider_pb2.ProviderHandshakeRequest(), timeout=20)
            stub.Attach(plugin_pb2.PluginAttach(address=fake.address), timeout=20)
            stub.Configure(provider_pb2.ConfigureRequest(
                args=to_struct({"endpoint": fast_emulator.base_url,
                                "accessToken": fast_emulator.token}),
                acceptSecrets=True), timeout=20)
            urn = f"urn:pulumi:s::p::{PLUGIN_TYPE}::live"
            created = stub.Create(provider_pb2.CreateRequest(
                urn=urn, properties=to_struct({"publisherId": PUBLISHER, "offerId": offer,
                                                "triggers": [], "waitForCompletion": True})),
                timeout=60)
            assert created.id == f"{PUBLISHER}/{offer}"
            fake.wait_for_log(lambda r: r.urn == urn and "succeeded" in r.message, timeout=10)
    finally:
        proc.terminate()
        proc.wait(10)


def test_cancel_during_a_read_or_a_delete_answers_the_rpc(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """Found by chaos-many: Ctrl-C while a Read (refresh) or a Delete retried a failing portal
    left the RPC unanswered for ever (the handler ended cancelled, so gRPC sent no status)."""
    offer = seed_offer(goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 1}])
    program = [plugin.resource("live", publisherId=PUBLISHER, offerId=offer)]
    with engine(plugin, fast_emulator, tmp_path) as eng:
        eng.up(program).raise_for_failure()
        fast_emulator.admin.add_fault("status", f"/offers/{offer}", "GET", status=503,
                                      times=None)
        for command, word in ((eng.refresh, "reading"), (eng.destroy, "deleting")):
            results: list[CommandResult] = []
            seen = len(fast_emulator.admin.requests())
            def run(c: Callable[[], CommandResult] = command,
                    r: list[CommandResult] = results) -> None:
                r.append(c())

            def asked(s: int = seen) -> bool:
                return len(fast_emulator.admin.requests()) > s

            runner = threading.Thread(target=run)
            runner.start()
            wait_until(asked, timeout=30)
            time.sleep(0.5)
            eng.cancel()
            runner.join(timeout=30)
            assert not runner.is_alive(), f"the {word} RPC was never answered"
            [error] = results[0].errors
            assert f"cancelled while {word}" in error.message, error.message
        assert eng.state.by_name("live") is not None  # the delete did not finish
