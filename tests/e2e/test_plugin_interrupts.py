"""The plugin flavour under the real CLI when a go-live outlasts the command.

- SIGINT to the CLI mid-wait, then `up` again: resumes the recorded operation.
- SIGKILL to the CLI (and its plugin, as a dying CI runner does) mid-wait: the engine leaves a
  pending create; the test does what the CLI tells the user, and `up` converges.
- `customTimeouts.create` shorter than the go-live: the step fails saying it still runs; the
  next `up` resumes it.
- `pulumi import` of an offer that is already live: adopted, nothing sent. (`--generate-code`
  need not be off: with it, the CLI prints YAML for the resource from the plugin's schema.)

Each asserts exactly one go-live POST in all (the emulator's request log).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from marketplace_emulator.harness import RunningEmulator
from tests.e2e.cli import CliProject, ensure_cli
from tests.e2e.helpers import (
    LIVE_OFFER,
    PLUGIN_EXE,
    emulator_config,
    env_for,
    kill_tree,
    operation_ids,
    pending_operations,
    posts,
    resources_of,
    stack_export,
    start_pulumi,
    steps,
    wait_for,
    yaml_offers_project,
)
from tests.lifecycle.support import PUBLISHER, golive_posts

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

OFFER = "contoso-saas"
SCALE = 10.0  # 200 emulated seconds of go-live last about 20 s
LONG_GOLIVE = 200.0
OUTPUTS = {"status": "${live.status}", "operationId": "${live.operationId}"}


@pytest.fixture(scope="module")
def cli_bin() -> Path:
    assert PLUGIN_EXE.exists(), f"{PLUGIN_EXE} missing: run `make setup` (pip install -e .)"
    return ensure_cli()


@pytest.fixture
def slow_emulator(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    emulator = emulator_factory(time_scale=SCALE)
    emulator.admin.put_offer(
        PUBLISHER, OFFER, state="signoff", goLiveSteps=steps(LONG_GOLIVE), stepEstimates=False
    )
    return emulator


def project_for(
    cli_bin: Path,
    tmp_path: Path,
    emulator: RunningEmulator,
    options: dict[str, Any] | None = None,
) -> CliProject:
    spec: dict[str, Any] = {"properties": {"offerId": OFFER, "triggers": ["1.0.0"]}}
    if options:
        spec["options"] = options
    project_dir = yaml_offers_project(tmp_path / "yaml", {"live": spec}, outputs=OUTPUTS)
    config, secrets = emulator_config(emulator)
    return CliProject(project_dir, env_for(cli_bin, tmp_path)).init(config, secrets)


def the_offer(deployment: dict[str, Any]) -> dict[str, Any]:
    found = resources_of(deployment, LIVE_OFFER)
    assert len(found) == 1, json.dumps(deployment)[-3000:]
    return found[0]


def interrupt_mid_wait(project: CliProject, emulator: RunningEmulator, sig: int) -> Any:
    """`pulumi up` in the background; `sig` to the CLI once the go-live POST is logged."""
    run = start_pulumi(project, "up", "--stack", project.stack, "--yes", "--skip-preview")
    try:
        wait_for(lambda: golive_posts(emulator, OFFER) == 1, timeout=120)
        time.sleep(2.0)  # well inside the wait (20 s)
        tree = run.children()
        run.signal(sig)
        if sig == signal.SIGKILL:
            kill_tree(tree)  # the runner died: the plugin goes with it
        return run.finish(timeout=120), tree
    finally:
        if run.proc.poll() is None:
            kill_tree([*run.children()])
            run.proc.kill()
            run.proc.wait()


def test_sigint_mid_wait_then_up_resumes(
    cli_bin: Path, slow_emulator: RunningEmulator, tmp_path: Path
) -> None:
    project = project_for(cli_bin, tmp_path, slow_emulator)
    try:
        (code, out, err, took), _ = interrupt_mid_wait(project, slow_emulator, signal.SIGINT)
        print(f"\n--- up after SIGINT: exit {code} in {took:.1f} s\n{out[-2500:]}\n{err[-1500:]}")
        assert golive_posts(slow_emulator, OFFER) == 1
        mid = stack_export(project)
        offer = the_offer(mid)
        print(f"pending_operations: {pending_operations(mid)}")
        print(f"recorded: id={offer.get('id')} initErrors={offer.get('initErrors')}")
        print(f"outputs.status={offer.get('outputs', {}).get('status')}")
        [op_id] = operation_ids(slow_emulator, OFFER)
        if code != 0:
            # The engine asked the plugin to cancel: the step failed, and the plugin's
            # ErrorResourceInitFailed recorded the go-live it sent.
            assert pending_operations(mid) == []
            assert offer["outputs"]["operationId"] == op_id
            assert offer.get("initErrors"), offer

        t0 = time.monotonic()
        project.up()
        print(f"converging up: {time.monotonic() - t0:.1f} s")
        outputs = project.outputs()
        assert outputs["status"] == "succeeded"
        assert outputs["operationId"] == op_id
        assert golive_posts(slow_emulator, OFFER) == 1
    finally:
        project.remove()


def test_sigkill_mid_wait_leaves_pending_create_then_converges(
    cli_bin: Path, slow_emulator: RunningEmulator, tmp_path: Path
) -> None:
    project = project_for(cli_bin, tmp_path, slow_emulator)
    try:
        (code, _, _, _), _ = interrupt_mid_wait(project, slow_emulator, signal.SIGKILL)
        assert code == -signal.SIGKILL
        assert golive_posts(slow_emulator, OFFER) == 1
        mid = stack_export(project)
        pending = pending_operations(mid)
        print(f"\npending_operations after SIGKILL: {json.dumps(pending)[:1500]}")
        assert [p["type"] for p in pending] == ["creating"], pending
        assert resources_of(mid, LIVE_OFFER) == []

        # The killed CLI also left the stack locked: every command refuses until the lock goes
        locked = project.run("up", "--stack", "dev", "--yes", "--skip-preview", check=False)
        assert locked.returncode != 0
        assert "the stack is currently locked" in locked.stderr, locked.stderr
        assert "pulumi cancel" in locked.stderr
        cancel = project.run("cancel", "--stack", "dev", "--yes", check=False)
        print(f"--- pulumi cancel: exit {cancel.returncode}\n{cancel.stdout}\n{cancel.stderr}")
        cancel.check()

        # The next `up` warns about the pending create, creates the resource again, and the
        # provider attaches to the go-live already running: no second POST.
        again = project.run("up", "--stack", "dev", "--yes", "--skip-preview")
        text = again.stdout + again.stderr
        print(f"--- next up\n{again.stdout[-3000:]}")
        assert "1 pending operations from previous deployment" in text
        assert "interrupted while creating" in text
        [op_id] = operation_ids(slow_emulator, OFFER)
        outputs = project.outputs()
        assert outputs["status"] == "succeeded"
        assert outputs["operationId"] == op_id
        assert golive_posts(slow_emulator, OFFER) == 1

        # ...but the pending create stays in the state until the user clears it, as the
        # warning says (`pulumi refresh`; non-interactively with --clear-pending-creates).
        assert [p["type"] for p in pending_operations(stack_export(project))] == ["creating"]
        project.run("refresh", "--stack", "dev", "--yes", "--clear-pending-creates")
        after = stack_export(project)
        assert pending_operations(after) == []
        assert the_offer(after)["outputs"]["operationId"] == op_id
        assert project.outputs()["status"] == "succeeded"
        assert golive_posts(slow_emulator, OFFER) == 1
        assert len(posts(slow_emulator)) == 1
    finally:
        project.remove()


def test_custom_timeout_shorter_than_golive_then_up_resumes(
    cli_bin: Path, slow_emulator: RunningEmulator, tmp_path: Path
) -> None:
    project = project_for(
        cli_bin, tmp_path, slow_emulator, options={"customTimeouts": {"create": "5s"}}
    )
    try:
        t0 = time.monotonic()
        first = project.up(check=False)
        took = time.monotonic() - t0
        text = first.stdout + first.stderr
        print(f"\n--- up with create: 5s, exit {first.returncode} in {took:.1f} s\n{text[-2500:]}")
        assert first.returncode != 0
        assert "still running" in text
        assert golive_posts(slow_emulator, OFFER) == 1
        [op_id] = operation_ids(slow_emulator, OFFER)
        offer = the_offer(stack_export(project))
        assert offer["outputs"]["operationId"] == op_id
        assert offer["outputs"]["status"] == "running"

        # The next up resumes the same operation (it may time out again before the end).
        for _ in range(10):
            if project.up(check=False).returncode == 0:
                break
        outputs = project.outputs()
        assert outputs["status"] == "succeeded"
        assert outputs["operationId"] == op_id
        assert golive_posts(slow_emulator, OFFER) == 1
        assert posts(slow_emulator) and len(posts(slow_emulator)) == 1
    finally:
        project.remove()


def test_import_of_a_live_offer_adopts_it_and_sends_nothing(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    emulator = emulator_factory(time_scale=SCALE)
    emulator.admin.put_offer(PUBLISHER, OFFER, state="live")
    project_dir = yaml_offers_project(tmp_path / "yaml", {})
    config, secrets = emulator_config(emulator)
    project = CliProject(project_dir, env_for(cli_bin, tmp_path)).init(config, secrets)
    try:
        done = project.run(
            "import",
            "--stack",
            "dev",
            "--yes",
            "--generate-code=false",
            LIVE_OFFER,
            "adopted",
            f"{PUBLISHER}/{OFFER}",
            check=False,
        )
        print(f"\n--- import: exit {done.returncode}\n{done.stdout[-2500:]}\n{done.stderr[-1500:]}")
        done.check()
        offer = the_offer(stack_export(project))
        assert offer["id"] == f"{PUBLISHER}/{OFFER}"
        assert offer["outputs"]["adopted"] is True
        assert offer.get("protect") is True  # `pulumi import` protects what it imports
        assert offer["outputs"]["status"] == "succeeded"
        assert posts(emulator) == []
        assert golive_posts(emulator, OFFER) == 0
    finally:
        project.remove()
