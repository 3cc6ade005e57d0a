"""The engine double against the REAL dynamic provider host (``python -m pulumi.dynamic``)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from tests.enginedouble import CommandResult, DynamicLauncher, Resource, Secret, secret
from tests.enginedouble.sample_provider import TYPE_TOKEN, file_inputs

from .conftest import DoubleFactory

START = ["Handshake", "GetPluginInfo", "CheckConfig", "Configure"]
START_AGAIN = ["Handshake", "GetPluginInfo", "CheckConfig", "DiffConfig", "Configure"]
START_FROM_STATE = ["Handshake", "GetPluginInfo", "Configure"]
CONFIG = {"proj:greeting": "hi", "proj:dbpass": secret("config-secret-1")}


def res(files: Path, name: str, content: str, **kw: Any) -> Resource:
    extra = {
        k: kw.pop(k) for k in list(kw) if k not in ("custom_timeouts", "delete_before_replace")
    }
    return Resource(
        name,
        TYPE_TOKEN,
        file_inputs(files, f"{name}.txt", content, **extra),
        additional_secret_outputs=["token"],
        **kw,
    )


def call(result: CommandResult, method: str) -> dict[str, Any]:
    calls = result.calls(method)
    assert calls, f"no {method} in {result.methods()}"
    return calls[-1].request


def wait_for(path: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_preview_up_update_replace_refresh_destroy(
    tmp_path: Path, dynamic_launcher: DynamicLauncher, make_double: DoubleFactory
) -> None:
    files = tmp_path / "files"
    eng = make_double(dynamic_launcher, CONFIG)
    program = [res(files, "a", "one", custom_timeouts={"create": "2m"})]

    # preview: the host has no Handshake/CheckConfig and no supportsPreview -> no Create at all.
    r = eng.preview(program).raise_for_failure()
    assert r.methods() == [*START, "Check"]
    assert [c.code for c in r.rpc_calls[:3]] == ["UNIMPLEMENTED", "OK", "UNIMPLEMENTED"]
    assert r.ops("a") == ["create"]
    assert not eng.state_path.exists() and not files.exists()
    configure = call(r, "Configure")
    assert configure["variables"] == {
        "pulumi-python:config:proj:greeting": "hi",
        "pulumi-python:config:proj:dbpass": "config-secret-1",
    }
    assert configure["args"]["proj:dbpass"]["value"] == "config-secret-1"  # secret-marked
    assert configure["acceptSecrets"] and configure["sendsOldInputsToDelete"]

    # up: Create with the custom timeout in seconds (which the dynamic host ignores).
    r = eng.up(program).raise_for_failure()
    assert r.methods() == [*START, "Check", "Create"]
    assert call(r, "Create")["timeout"] == 120
    assert (files / "a.txt").read_text() == "one"
    a = eng.state.by_name("a")
    assert a is not None and a.id == str(files / "a.txt")
    assert isinstance(a.outputs["token"], Secret)  # additional_secret_outputs
    assert isinstance(a.outputs["__provider"], Secret)  # re-annotated from the secret input
    assert r.provider_stdout_after_port == b""

    # no change: Diff only.
    r = eng.up(program).raise_for_failure()
    assert r.methods() == [*START_AGAIN, "Check", "Diff"]
    assert r.ops("a") == ["same"]

    # in-place update.
    program = [res(files, "a", "two")]
    assert eng.preview(program).raise_for_failure().ops("a") == ["update"]
    r = eng.up(program).raise_for_failure()
    assert r.methods()[-3:] == ["Check", "Diff", "Update"]
    assert (files / "a.txt").read_text() == "two"

    # replace (filename): create-before-delete, Check re-run with no olds.
    program = [Resource("a", TYPE_TOKEN, file_inputs(files, "a2.txt", "two"))]
    r = eng.up(program).raise_for_failure()
    assert r.methods()[-5:] == ["Check", "Diff", "Check", "Create", "Delete"]
    assert r.calls("Check")[-1].request["olds"] == {}
    assert r.ops("a") == ["create-replacement", "replace", "delete-replaced"]
    assert not (files / "a.txt").exists() and (files / "a2.txt").exists()

    # replace with delete-before-replace asked by the provider's Diff.
    program = [Resource("a", TYPE_TOKEN, file_inputs(files, "a3.txt", "two", dbr=True))]
    r = eng.up(program).raise_for_failure()
    assert r.methods()[-5:] == ["Check", "Diff", "Check", "Delete", "Create"]
    assert r.ops("a") == ["delete-replaced", "replace", "create-replacement"]
    assert [x.name for x in eng.state.custom_resources()] == ["a"]

    # refresh: drift is read back and classified by an inverted Diff.
    (files / "a3.txt").write_text("changed outside")
    r = eng.refresh().raise_for_failure()
    assert r.methods() == [*START_FROM_STATE, "Read", "Diff"]
    assert r.steps[0].detail["result"] == "update"
    a = eng.state.by_name("a")
    assert a is not None and a.outputs["content"] == "changed outside"
    (files / "a3.txt").unlink()
    r = eng.refresh().raise_for_failure()
    assert r.steps[0].detail["result"] == "deleted"
    assert eng.state.by_name("a") is None

    # destroy with something to delete.
    eng.up([res(files, "b", "bee"), res(files, "c", "sea")]).raise_for_failure()
    r = eng.destroy().raise_for_failure()
    assert r.methods() == [*START_FROM_STATE, "Delete", "Delete"]
    assert [c.request["urn"].rsplit("::", 1)[1] for c in r.calls("Delete")] == ["c", "b"]
    assert eng.state.resources == [] and not list(files.glob("*.txt"))
    lines = (tmp_path / "rpc.jsonl").read_text().splitlines()
    assert len(lines) == len(eng.records) and json.loads(lines[0])["method"] == "Handshake"


def test_secrets_stay_wrapped_in_state(
    tmp_path: Path, dynamic_launcher: DynamicLauncher, make_double: DoubleFactory
) -> None:
    files = tmp_path / "files"
    eng = make_double(dynamic_launcher, CONFIG)
    eng.up([res(files, "a", "x", password=secret("hunter2"))]).raise_for_failure()
    text = eng.state_path.read_text()
    assert "hunter2" not in text and "config-secret-1" not in text
    a = eng.state.by_name("a")
    assert a is not None
    assert a.inputs["password"] == Secret("hunter2")
    assert a.outputs["password"] == Secret("hunter2")  # annotateSecrets: same-named secret input
    token = a.outputs["token"]
    assert isinstance(token, Secret) and token.value not in text
    # The host lacks acceptSecrets, so the engine strips secret wrappers on the way in and the
    # host echoes plaintext back: visible in the RPC log (as in PULUMI_DEBUG_GRPC), never in state.
    create = eng.records[-1]
    assert create.method == "Create"
    sent = create.request["properties"]["password"]
    assert create.response is not None
    assert sent == create.response["properties"]["password"] == a.inputs["password"].value


def test_import_is_impossible_for_dynamic_providers(
    tmp_path: Path, dynamic_launcher: DynamicLauncher, make_double: DoubleFactory
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "x.txt").write_text("exists")
    eng = make_double(dynamic_launcher)
    r = eng.import_(TYPE_TOKEN, "x", str(files / "x.txt"))
    assert r.failed
    assert r.methods()[-1] == "Read"
    read = call(r, "Read")
    assert "properties" not in read and "inputs" not in read  # id only: no __provider to unpickle
    err = r.error("x")
    assert err is not None and err.code == "UNKNOWN" and "KeyError: '__provider'" in err.message
    assert eng.state.by_name("x") is None


def test_errors_do_not_hide_other_resources(
    tmp_path: Path, dynamic_launcher: DynamicLauncher, make_double: DoubleFactory
) -> None:
    files = tmp_path / "files"
    eng = make_double(dynamic_launcher)
    program = [
        res(files, "bad", "x", fail_create="quota exceeded"),
        Resource("invalid", TYPE_TOKEN, file_inputs(files, "i.txt", 42)),  # type: ignore[arg-type]
        res(files, "good", "fine"),
    ]
    r = eng.up(program)
    assert r.failed and r.ops("good") == ["create"]
    bad, invalid = r.error("bad"), r.error("invalid")
    assert bad is not None and bad.method == "Create" and "quota exceeded" in bad.message
    assert bad.init_failed is None  # the dynamic host cannot report partial state
    assert (
        invalid is not None
        and invalid.op == "check"
        and "content must be a string" in invalid.message
    )
    state = eng.state
    assert [x.name for x in state.custom_resources()] == ["good"]
    assert state.pending_operations == []  # a failed Create clears its pending op
    # stop-on-first-error mode (the CLI default) never reaches "good2".
    r = eng.up([program[0], res(files, "good2", "x")], continue_on_error=False)
    assert r.failed and r.ops("good2") == [] and r.ops("good") == []


def test_provider_killed_mid_create(
    tmp_path: Path, dynamic_launcher: DynamicLauncher, make_double: DoubleFactory
) -> None:
    files = tmp_path / "files"
    eng = make_double(dynamic_launcher)
    program = [res(files, "slow", "x", sleep_create=30)]
    box: list[CommandResult] = []
    worker = threading.Thread(target=lambda: box.append(eng.up(program)))
    worker.start()
    wait_for(files / "slow.txt.creating")
    assert eng.process is not None
    eng.process.kill()  # the host dies mid-wait; the engine sees the RPC fail
    worker.join(15)
    r = box[0]
    err = r.error("slow")
    assert err is not None and err.code == "UNAVAILABLE"
    # Like the real engine: a failed Create clears the pending op; the resource is simply absent.
    assert eng.state.pending_operations == [] and eng.state.by_name("slow") is None
    r = eng.up([res(files, "slow", "x")]).raise_for_failure()
    assert r.ops("slow") == ["create"]


def test_cli_terminated_mid_create_leaves_pending_create(
    tmp_path: Path, dynamic_launcher: DynamicLauncher, make_double: DoubleFactory
) -> None:
    files = tmp_path / "files"
    first = make_double(dynamic_launcher)
    box: list[CommandResult] = []
    program = [res(files, "slow", "x", sleep_create=30)]
    worker = threading.Thread(target=lambda: box.append(first.up(program)))
    worker.start()
    wait_for(files / "slow.txt.creating")
    first.terminate()  # second Ctrl-C: provider killed, no more checkpoint writes
    worker.join(15)
    assert box[0].terminated and box[0].failed
    ops = first.state.pending_operations
    assert [(o.type, o.resource.name) for o in ops] == [("creating", "slow")]
    assert isinstance(ops[0].resource.inputs["__provider"], Secret)

    # A new CLI run: warns, creates again; the pending create stays until refresh deals with it.
    second = make_double(dynamic_launcher)
    r = second.up([res(files, "slow", "x")]).raise_for_failure()
    assert r.ops("slow") == ["create"]
    assert any("interrupted while creating" in d.message for d in r.diagnostics)
    assert [o.type for o in second.state.pending_operations] == ["creating"]
    r = second.refresh(clear_pending_creates=True).raise_for_failure()
    assert second.state.pending_operations == []
    assert second.state.by_name("slow") is not None


def test_import_pending_create_via_refresh(
    tmp_path: Path, dynamic_launcher: DynamicLauncher, make_double: DoubleFactory
) -> None:
    files = tmp_path / "files"
    eng = make_double(dynamic_launcher)
    box: list[CommandResult] = []
    worker = threading.Thread(
        target=lambda: box.append(eng.up([res(files, "slow", "x", sleep_create=30)]))
    )
    worker.start()
    wait_for(files / "slow.txt.creating")
    eng.terminate()
    worker.join(15)
    (files / "slow.txt").write_text("it did get made")  # the create finished "remotely"
    urn = eng.urn(TYPE_TOKEN, "slow")
    r = eng.refresh(import_pending_creates={urn: str(files / "slow.txt")}).raise_for_failure()
    # Read gets empty outputs but the op's inputs, which carry __provider: the host can read it.
    assert r.methods() == [*START_FROM_STATE, "Read", "Diff"]
    slow = eng.state.by_name("slow")
    assert slow is not None and slow.outputs["content"] == "it did get made"
    assert eng.state.pending_operations == []
