"""The engine double against a stand-in PulumiPlugin.yaml plugin (grpc.aio, full protocol)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.enginedouble import (
    UNKNOWN,
    CommandResult,
    LogRecord,
    PluginLauncher,
    Resource,
    Secret,
    secret,
)

from .conftest import PLUGIN_PACKAGE, DoubleFactory

TYPE = "sample:index:Thing"
CONFIG = {
    "sample:endpoint": "http://127.0.0.1:9",
    "sample:apiKey": secret("cfg-secret"),
    "proj:x": "1",
}
START = ["Handshake", "GetPluginInfo", "CheckConfig", "Configure"]
START_AGAIN = ["Handshake", "GetPluginInfo", "CheckConfig", "DiffConfig", "Configure"]


def thing(name: str, **inputs: Any) -> Resource:
    timeouts = inputs.pop("timeouts", None)
    return Resource(name, TYPE, {"size": 1, **inputs}, custom_timeouts=timeouts)


def run_in_thread(fn: Any) -> tuple[threading.Thread, list[CommandResult]]:
    box: list[CommandResult] = []
    worker = threading.Thread(target=lambda: box.append(fn()))
    worker.start()
    return worker, box


def test_handshake_preview_and_up(
    plugin_launcher: PluginLauncher, make_double: DoubleFactory
) -> None:
    eng = make_double(plugin_launcher, CONFIG)
    program = [thing("a", timeouts={"create": "1m30s"})]

    # After a successful Handshake the engine assumes preview support: Create(preview=True).
    r = eng.preview(program).raise_for_failure()
    assert r.methods() == [*START, "Check", "Create"]
    assert all(c.ok for c in r.rpc_calls)
    handshake = r.calls("Handshake")[0].request
    assert handshake["engineAddress"] == eng.engine.address
    assert handshake["rootDirectory"] == str(plugin_launcher.plugin_dir)
    assert r.calls("Create")[0].request["preview"] is True
    assert r.steps[0].detail["outputs"]["status"] == UNKNOWN
    configure = r.calls("Configure")[0].request
    assert configure["args"] == {
        "endpoint": "http://127.0.0.1:9",
        "apiKey": {
            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
            "value": "cfg-secret",
        },
    }
    assert configure["variables"]["sample:config:apiKey"] == "cfg-secret"
    assert configure["urn"] == eng.provider_urn and configure["id"] == UNKNOWN

    r = eng.up(program).raise_for_failure()
    assert r.methods() == [*START, "Check", "Create"]
    assert r.calls("Create")[0].request["timeout"] == 90
    a = eng.state.by_name("a")
    assert a is not None and a.id == "id-a"
    assert a.outputs["timeout"] == 90  # what the plugin saw
    assert a.outputs["argv"] == ["--logtostderr", "-v=3", eng.engine.address]
    assert a.outputs["engine"] == eng.engine.address
    env = a.outputs["env"]
    assert env["PULUMI_PROJECT"] == "proj" and env["PULUMI_STACK"] is None
    assert json.loads(env["PULUMI_CONFIG"]) == {
        "endpoint": "http://127.0.0.1:9",
        "apiKey": "cfg-secret",
    }
    assert a.outputs["api_key"] == Secret("plugin-made-secret")  # a provider-made secret is kept
    assert "plugin-made-secret" not in eng.state_path.read_text()
    urn = eng.urn(TYPE, "a")
    logs = [(x.message, x.ephemeral) for x in r.engine_logs if x.urn == urn]
    assert logs == [("creating a (timeout=90.0)", True), ("created a", False)]
    assert r.provider_stdout_after_port == b""
    assert r.provider_stats is not None and r.provider_stats.threads >= 1

    # Unchanged program: DiffConfig now runs (provider state exists), then Check/Diff only.
    r = eng.up(program).raise_for_failure()
    assert r.methods() == [*START_AGAIN, "Check", "Diff"]
    # Update in place, and replace on "immutable" (create before delete).
    r = eng.up([thing("a", size=2)]).raise_for_failure()
    assert r.methods()[-3:] == ["Check", "Diff", "Update"] and r.op("a") == "update"
    r = eng.up([thing("a", size=2, immutable="v2")]).raise_for_failure()
    assert (
        r.methods()[-5:] == ["Check", "Diff", "Check", "Create", "Delete"]
        and r.op("a") == "replace"
    )


def test_init_failure_keeps_partial_state_and_next_up_updates(
    plugin_launcher: PluginLauncher, make_double: DoubleFactory
) -> None:
    eng = make_double(plugin_launcher, CONFIG)
    program = [
        thing("a", init_fail="listing stuck in review"),
        thing("b", init_fail="slow start", heal_on_read=True),
        thing("c"),
    ]
    r = eng.up(program)
    assert r.failed and r.ops("c") == ["create"]
    err = r.error("a")
    assert err is not None and err.code == "UNKNOWN" and err.init_failed is not None
    assert err.init_failed.id == "id-a" and err.init_failed.reasons == ["listing stuck in review"]
    create = r.calls("Create", urn=eng.urn(TYPE, "a"))[0]
    assert create.details[0]["@type"].endswith("pulumirpc.ErrorResourceInitFailed")
    a = eng.state.by_name("a")
    assert a is not None and a.id == "id-a" and a.init_errors == ["listing stuck in review"]
    assert a.refresh_before_update and a.outputs["status"] == "failed"
    assert '"initErrors"' in eng.state_path.read_text()

    # Next up: refresh_before_update makes the engine Read first (and diff the refresh).
    # a: Read still reports partial state -> init errors remain -> Diff says no change, yet the
    #    engine sends an (empty) Update to let the provider continue initialising.
    # b: Read succeeds -> the refreshed state has no init errors -> plain "same".
    r = eng.up(program).raise_for_failure()
    per_urn = {
        n: [c.method for c in r.rpc_calls if c.request.get("urn") == eng.urn(TYPE, n)]
        for n in ("a", "b", "c")
    }
    assert per_urn == {
        "a": ["Read", "Diff", "Check", "Diff", "Update"],
        "b": ["Read", "Diff", "Check", "Diff"],
        "c": ["Check", "Diff"],
    }
    assert r.calls("Diff", urn=eng.urn(TYPE, "a"))[-1].response == {"changes": "DIFF_NONE"}
    assert any("unhealthy" in d.message for d in r.diagnostics if d.urn == eng.urn(TYPE, "a"))
    assert r.ops("a") == ["refresh", "update"] and r.ops("b") == ["refresh", "same"]
    a, b = eng.state.by_name("a"), eng.state.by_name("b")
    assert a is not None and a.init_errors == [] and a.outputs["status"] == "ready"
    assert b is not None and b.init_errors == [] and not b.refresh_before_update


def test_partial_update_keeps_old_inputs(
    plugin_launcher: PluginLauncher, make_double: DoubleFactory
) -> None:
    eng = make_double(plugin_launcher)
    eng.up([thing("a")]).raise_for_failure()
    r = eng.up([thing("a", size=5, init_fail_update="half applied")])
    err = r.error("a")
    assert err is not None and err.init_failed is not None and err.op == "update"
    a = eng.state.by_name("a")
    assert a is not None and a.inputs["size"] == 1  # old inputs...
    assert a.outputs["size"] == 5 and a.init_errors == ["half applied"]  # ...new outputs


def test_cancel_mid_create(plugin_launcher: PluginLauncher, make_double: DoubleFactory) -> None:
    eng = make_double(plugin_launcher)
    urn, mark = eng.urn(TYPE, "slow"), eng.engine.log_count()
    worker, box = run_in_thread(lambda: eng.up([thing("slow", sleep=30), thing("later")]))
    eng.engine.wait_for_log(lambda x: x.urn == urn and x.message.startswith("waiting"), 15, mark)
    eng.cancel()  # first Ctrl-C
    worker.join(15)
    r = box[0]
    assert r.cancelled and r.failed
    assert "Cancel" in [c.method for c in eng.records]
    err = r.error("slow")
    assert err is not None and err.init_failed is not None
    assert err.init_failed.reasons == ["cancelled while waiting"]
    assert r.calls("Check", urn=eng.urn(TYPE, "later")) == []  # no new steps after cancel
    slow = eng.state.by_name("slow")
    assert slow is not None and slow.id == "id-slow" and slow.init_errors
    assert eng.state.pending_operations == []


def test_timeout_reaches_the_plugin(
    plugin_launcher: PluginLauncher, make_double: DoubleFactory
) -> None:
    eng = make_double(plugin_launcher)
    r = eng.up([thing("slow", sleep=30, timeouts={"create": "300ms"})])
    err = r.error("slow")
    assert err is not None and err.init_failed is not None
    assert err.init_failed.reasons == ["timed out after 0.3s"]


def test_plugin_killed_mid_create(
    plugin_launcher: PluginLauncher, make_double: DoubleFactory
) -> None:
    eng = make_double(plugin_launcher)
    urn, mark = eng.urn(TYPE, "slow"), eng.engine.log_count()
    worker, box = run_in_thread(lambda: eng.up([thing("slow", sleep=30)]))
    eng.engine.wait_for_log(lambda x: x.urn == urn and x.message.startswith("waiting"), 15, mark)
    assert eng.process is not None
    eng.process.kill()
    worker.join(15)
    err = box[0].error("slow")
    assert err is not None and err.code == "UNAVAILABLE" and err.init_failed is None
    assert eng.state.by_name("slow") is None and eng.state.pending_operations == []


def test_refresh_import_and_destroy(
    plugin_launcher: PluginLauncher, make_double: DoubleFactory
) -> None:
    eng = make_double(plugin_launcher)
    eng.up([thing("keep"), thing("gone")]).raise_for_failure()
    r = eng.refresh().raise_for_failure()
    assert r.methods() == ["Handshake", "GetPluginInfo", "Configure", "Read", "Diff", "Read"]
    assert [s.detail["result"] for s in r.steps] == ["same", "deleted"]
    keep = eng.state.by_name("keep")
    assert keep is not None and keep.outputs["reads"] == 1

    r = eng.import_(TYPE, "imp", "thing-7").raise_for_failure()
    assert r.methods()[-3:] == ["Read", "Check", "Diff"]
    read = r.calls("Read")[0].request
    assert read["id"] == "thing-7" and "properties" not in read
    assert r.calls("Check")[0].request["olds"] == {"name": "thing-7"}
    imp = eng.state.by_name("imp")
    assert imp is not None and imp.id == "thing-7" and imp.inputs == {"name": "thing-7"}
    r = eng.import_(TYPE, "imp2", "thing-8", inputs={"name": "something else"})
    err = r.error("imp2")
    assert err is not None and "do not match" in err.message
    assert eng.import_(TYPE, "imp", "thing-7").error("imp") is not None  # already in state

    r = eng.destroy().raise_for_failure()
    assert [c.request["urn"].rsplit("::", 1)[1] for c in r.calls("Delete")] == ["imp", "keep"]
    assert eng.state.resources == []
    deletes = [x for x in r.engine_logs if x.message.startswith("deleting")]
    assert len(deletes) == 2 and all(x.ephemeral for x in deletes)


def test_check_failure_and_plain_error(
    plugin_launcher: PluginLauncher, make_double: DoubleFactory
) -> None:
    eng = make_double(plugin_launcher)
    r = eng.up([thing("x", bad=True), thing("y", fail="boom"), thing("z")])
    x, y = r.error("x"), r.error("y")
    assert x is not None and x.op == "check" and "bad is not allowed" in x.message
    assert y is not None and y.code == "UNKNOWN" and y.message == "boom" and y.init_failed is None
    assert [res.name for res in eng.state.custom_resources()] == ["z"]


def test_separate_double_per_command_and_secret_config_change(
    plugin_launcher: PluginLauncher, make_double: DoubleFactory
) -> None:
    make_double(plugin_launcher, CONFIG).up([thing("a")]).raise_for_failure()
    changed = {**CONFIG, f"{PLUGIN_PACKAGE}:endpoint": "http://127.0.0.1:10"}
    r = make_double(plugin_launcher, changed).up([thing("a")]).raise_for_failure()
    diff_config = r.calls("DiffConfig")[0]
    assert diff_config.response == {"changes": "DIFF_SOME"}
    # CheckConfig/DiffConfig are marshalled without secrets, as the engine does.
    assert diff_config.request["news"]["apiKey"] == "cfg-secret"
    state = make_double(plugin_launcher).state
    prov = state.get(make_double(plugin_launcher).provider_urn)
    assert prov is not None and prov.inputs["endpoint"] == "http://127.0.0.1:10"
    assert prov.inputs["apiKey"] == Secret("cfg-secret")


def test_preview_passes_unknowns_and_up_rejects_them(
    plugin_launcher: PluginLauncher, make_double: DoubleFactory
) -> None:
    eng = make_double(plugin_launcher)
    r = eng.preview([thing("a", size=UNKNOWN)]).raise_for_failure()
    assert r.calls("Check")[0].request["news"]["size"] == UNKNOWN
    assert r.calls("Create")[0].request["properties"]["size"] == UNKNOWN
    with pytest.raises(ValueError, match="unknown inputs"):
        eng.up([thing("a", size=UNKNOWN)])


def test_provider_that_cannot_start(tmp_path: Path, make_double: DoubleFactory) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "__main__.py").write_text("raise SystemExit('missing dependency foo')\n")
    launcher = PluginLauncher(package="broken", plugin_dir=tmp_path / "broken", startup_timeout=10)
    r = make_double(launcher).up([thing("a")])
    assert r.failed and r.rpc_calls == []
    assert any("missing dependency foo" in d.message for d in r.diagnostics)


def waiting_on(urn: str) -> Callable[[LogRecord], bool]:
    return lambda x: x.urn == urn and x.message.startswith("waiting")


def test_parallel_steps_overlap_and_cancel_keeps_every_partial_state(
    plugin_launcher: PluginLauncher, make_double: DoubleFactory
) -> None:
    # `pulumi up --parallel N`: the Creates are in flight together; a first Ctrl-C ends each
    # with its partial state, and every step is recorded in the one state file.
    eng = make_double(plugin_launcher, parallel=8)
    names = [f"slow{i}" for i in range(6)]
    mark = eng.engine.log_count()
    worker, box = run_in_thread(lambda: eng.up([thing(n, sleep=30) for n in names]))
    for n in names:
        eng.engine.wait_for_log(waiting_on(eng.urn(TYPE, n)), 15, mark)
    eng.cancel()
    worker.join(15)
    r = box[0]
    assert r.cancelled and r.failed
    assert sorted(e.urn for e in r.errors) == sorted(eng.urn(TYPE, n) for n in names)
    state = eng.state
    assert all((res := state.by_name(n)) is not None and res.init_errors for n in names)
    assert state.pending_operations == []
    again = eng.up([thing(n) for n in names])
    assert not again.failed, again.errors
    assert all(again.ops(n)[0] == "refresh" for n in names)  # refresh-before-update, in parallel
    assert all((res := eng.state.by_name(n)) is not None and not res.init_errors for n in names)
