"""The real Pulumi CLI (tools/pulumi-cli, no Python language host) against the emulator.

- Python: an Automation API inline program with the dynamic `LiveOffer`; the engine starts
  `pulumi-resource-pulumi-python`, which runs `python -m pulumi.dynamic` from this venv.
- YAML: examples/yaml, with the plugin as the `pulumi-resource-marketplace` console script.
- `pulumi package get-schema <path to that executable>`.

A CLI that cannot be provided (no Go, build failure) is an error, not a skip: CI must build it.
Select with `-m e2e`; the first run builds the CLI (minutes), so `make e2e` builds it first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pulumi
import pytest

from marketplace_emulator.harness import RunningEmulator
from pulumi_marketplace import LiveOffer
from tests.e2e.cli import REPO, CliEnv, CliProject, cli_env, ensure_cli, inline_stack, yaml_project
from tests.lifecycle.support import CLEAN_ENV, FAST, PUBLISHER, fast_steps, golive_posts

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PLUGIN_EXE = Path(sys.executable).parent / "pulumi-resource-marketplace"


@pytest.fixture(scope="module")
def cli_bin() -> Path:
    """The CLI's bin dir; ensure.sh failing fails the tests loudly (no skip)."""
    return ensure_cli()


@pytest.fixture
def offer_emulator(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    """An emulator at FAST times real time with contoso/contoso-vm waiting at sign-off."""
    emulator = emulator_factory(time_scale=FAST)
    emulator.admin.put_offer(
        PUBLISHER, "contoso-vm", state="signoff", goLiveSteps=fast_steps(), stepEstimates=False
    )
    return emulator


def env_for(cli_bin: Path, tmp_path: Path) -> CliEnv:
    return cli_env(tmp_path / "pulumi", cli_bin, extra=CLEAN_ENV)


def test_inline_program_takes_the_offer_live_once(
    cli_bin: Path, offer_emulator: RunningEmulator, tmp_path: Path
) -> None:
    def program() -> None:
        offer = LiveOffer("live", publisher_id=PUBLISHER, offer_id="contoso-vm")
        pulumi.export("status", offer.status)
        pulumi.export("operationId", offer.operation_id)

    with inline_stack(
        env_for(cli_bin, tmp_path),
        program,
        project="e2e-inline",
        config={"marketplace:endpoint": offer_emulator.base_url},
        secrets={"marketplace:accessToken": offer_emulator.token},
    ) as stack:
        up = stack.up()
        assert up.summary.result == "succeeded"
        assert up.outputs["status"].value == "succeeded"
        assert up.outputs["operationId"].value
        assert golive_posts(offer_emulator, "contoso-vm") == 1

        assert stack.refresh().summary.result == "succeeded"
        assert stack.outputs()["status"].value == "succeeded"
        assert stack.destroy().summary.result == "succeeded"
    assert golive_posts(offer_emulator, "contoso-vm") == 1


def test_yaml_example_through_the_plugin_executable(
    cli_bin: Path, offer_emulator: RunningEmulator, tmp_path: Path
) -> None:
    assert PLUGIN_EXE.exists(), f"{PLUGIN_EXE} missing: run `make setup` (pip install -e .)"
    project_dir = yaml_project(
        REPO / "examples" / "yaml", tmp_path / "yaml", {"marketplace": PLUGIN_EXE}
    )
    project = CliProject(project_dir, env_for(cli_bin, tmp_path)).init(
        config={"marketplace:endpoint": offer_emulator.base_url},
        secrets={"marketplace:accessToken": offer_emulator.token},
    )
    try:
        up = project.up()
        assert "from $PATH" not in up.stdout + up.stderr
        outputs = project.outputs()
        assert outputs["status"] == "succeeded"
        assert outputs["operationId"]
        assert golive_posts(offer_emulator, "contoso-vm") == 1
        project.refresh()
        assert project.outputs()["status"] == "succeeded"
        project.destroy()
    finally:
        project.remove()
    assert golive_posts(offer_emulator, "contoso-vm") == 1


def test_get_schema_from_the_plugin_executable(cli_bin: Path, tmp_path: Path) -> None:
    env = env_for(cli_bin, tmp_path)
    done = subprocess.run(
        [str(env.pulumi), "package", "get-schema", str(PLUGIN_EXE)],
        cwd=tmp_path,
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["name"] == "marketplace"
    assert "marketplace:index:LiveOffer" in schema["resources"]
