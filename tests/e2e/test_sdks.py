"""The generated SDKs: in step with the schema, and real programs in each language under the CLI.

- The committed `sdk/nodejs`, `sdk/go` and `sdk/python-plugin` equal a fresh generation from the
  plugin's schema (`tools/sdkgen/generate.sh`: `pulumi package get-schema` of the plugin, then
  Pulumi's code generators), so a schema change without `make sdk` cannot land.
- `examples/typescript` (compiled with tsc, the SDK from `sdk/nodejs`) and `examples/go` (the SDK
  through a `replace` to `sdk/go`) run as Automation API inline programs against the emulator,
  through the plugin: a custom timeout shorter than the go-live fails the step saying it still
  runs, the next `up` resumes the same operation, `status` and `operationId` are read back with
  `pulumi stack output`, `destroy` leaves the offer live; one go-live POST in all.
- A Python program on the plugin's generated SDK (`pulumi_marketplace_plugin`) goes live once.

No language host is needed: the CLI built from the Go module proxy has none for nodejs, go or
python (tools/pulumi-cli/README.md), and inline programs serve the program themselves.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pytest

from marketplace_emulator.harness import RunningEmulator
from tests.e2e.cli import CliEnv, ensure_cli, inline_stack, plugin_dir
from tests.e2e.helpers import (
    LIVE_OFFER,
    PLUGIN_EXE,
    env_for,
    operation_ids,
    posts,
    steps,
)
from tests.lifecycle.support import PUBLISHER, golive_posts

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "sdk"
GENERATED = ("nodejs", "go", "python-plugin")
BUILD_OUTPUTS = {"node_modules", "bin", "__pycache__"}
TS_EXAMPLE = REPO / "examples" / "typescript"
GO_EXAMPLE = REPO / "examples" / "go"
OFFER = "contoso-saas"
SCALE = 10.0  # 200 emulated seconds of go-live last about 20 s
LONG_GOLIVE = 200.0


def run(args: Sequence[str], cwd: Path, timeout: float = 900.0, **kw: Any) -> str:
    """Run a build step; fail the test with its output when it fails."""
    t0 = time.monotonic()
    done = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, **kw
    )
    print(f"$ {' '.join(args)}  ({time.monotonic() - t0:.1f} s, in {cwd})")
    assert done.returncode == 0, (
        f"{args} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def tree(root: Path) -> set[str]:
    """The files under root, relative, without build outputs."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d for d in dirnames if d not in BUILD_OUTPUTS and not d.endswith(".egg-info")
        ]
        for name in filenames:
            found.add(str((Path(dirpath) / name).relative_to(root)))
    return found


@pytest.fixture(scope="module")
def cli_bin() -> Path:
    assert PLUGIN_EXE.exists(), f"{PLUGIN_EXE} missing: run `make setup` (pip install -e .)"
    return ensure_cli()


def test_committed_sdks_equal_a_fresh_generation(cli_bin: Path, tmp_path: Path) -> None:
    out = tmp_path / "sdk"
    t0 = time.monotonic()
    run([str(REPO / "tools" / "sdkgen" / "generate.sh"), str(out)], REPO)
    print(f"generation: {time.monotonic() - t0:.1f} s")
    stale = []
    for language in GENERATED:
        fresh, committed = tree(out / language), tree(SDK / language)
        stale += [f"{language}/{f}: only in a fresh generation" for f in sorted(fresh - committed)]
        stale += [f"{language}/{f}: not generated any more" for f in sorted(committed - fresh)]
        stale += [
            f"{language}/{f}: differs"
            for f in sorted(fresh & committed)
            if not filecmp.cmp(out / language / f, SDK / language / f, shallow=False)
        ]
    assert not stale, "the committed SDKs are stale; run `make sdk` and commit:\n" + "\n".join(
        stale
    )


# ------------------------------------------------------------------ programs in each language


@pytest.fixture
def slow_emulator(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    emulator = emulator_factory(time_scale=SCALE)
    emulator.admin.put_offer(
        PUBLISHER, OFFER, state="signoff", goLiveSteps=steps(LONG_GOLIVE), stepEstimates=False
    )
    return emulator


@pytest.fixture(scope="module")
def typescript_runner(cli_bin: Path) -> list[str]:
    """Build sdk/nodejs (npm install, tsc) and examples/typescript on it; the inline runner."""
    npm = shutil.which("npm")
    assert npm, "npm is not on PATH: install Node.js 20+ with npm"
    quiet = ["--no-audit", "--no-fund", "--loglevel=error"]
    sdk = SDK / "nodejs"
    run([npm, "install", "--no-package-lock", *quiet], sdk)
    run([str(sdk / "node_modules" / ".bin" / "tsc")], sdk)
    for name in ("package.json", "README.md"):
        shutil.copy2(sdk / name, sdk / "bin" / name)
    # The SDK is installed as a copy (.npmrc install-links): take the fresh build.
    shutil.rmtree(TS_EXAMPLE / "node_modules" / "@pulumi-marketplace", ignore_errors=True)
    run([npm, "install", *quiet], TS_EXAMPLE)
    run([str(TS_EXAMPLE / "node_modules" / ".bin" / "tsc")], TS_EXAMPLE)
    return [shutil.which("node") or "node", str(TS_EXAMPLE / "bin" / "inline.js")]


@pytest.fixture(scope="module")
def go_runner(cli_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Build examples/go's inline runner (the SDK through the replace to sdk/go)."""
    go = shutil.which("go")
    assert go, "go is not on PATH (it built the CLI: see tools/pulumi-cli/README.md)"
    exe = tmp_path_factory.mktemp("go") / "inline"
    env = {**os.environ, "GOWORK": "off", "GOFLAGS": "-mod=readonly"}
    run([go, "build", "-o", str(exe), "./inline"], GO_EXAMPLE, env=env)
    return [str(exe)]


def language_run(
    runner: list[str], env: CliEnv, work: Path, plugins: Path, command: str, *config: str
) -> subprocess.CompletedProcess[str]:
    """`<runner> <command> --stack dev --work-dir work --plugin-dir plugins [--config k=v]...`"""
    args = [
        *runner,
        command,
        "--stack",
        "dev",
        "--work-dir",
        str(work),
        "--plugin-dir",
        str(plugins),
    ]
    for item in config:
        args += ["--secret" if item.startswith("marketplace:accessToken=") else "--config", item]
    t0 = time.monotonic()
    done = subprocess.run(
        args, env=env.environ(), capture_output=True, text=True, timeout=600, check=False
    )
    took = time.monotonic() - t0
    print(f"\n--- {command} {' '.join(config)}: exit {done.returncode} in {took:.1f} s")
    print((done.stdout + done.stderr)[-2500:])
    return done


def stack_output(env: CliEnv, work: Path, name: str) -> str:
    done = subprocess.run(
        [str(env.pulumi), "stack", "output", name, "--stack", "dev", "--cwd", str(work)],
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def the_recorded_offer(env: CliEnv, work: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(env.pulumi), "stack", "export", "--stack", "dev", "--cwd", str(work)],
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = [
        r for r in json.loads(done.stdout)["deployment"]["resources"] if r["type"] == LIVE_OFFER
    ]
    assert len(found) == 1, done.stdout[-2000:]
    result: dict[str, Any] = found[0]
    return result


def timeout_resume_destroy(
    runner: list[str], cli_bin: Path, emulator: RunningEmulator, tmp_path: Path
) -> None:
    """The scenario every language runs (see the module docstring)."""
    env = env_for(cli_bin, tmp_path)
    work = tmp_path / "work"
    plugins = plugin_dir(tmp_path / "plugins", {"marketplace": PLUGIN_EXE})
    base = [
        f"marketplace:endpoint={emulator.base_url}",
        f"marketplace:accessToken={emulator.token}",
        f"offerId={OFFER}",
    ]

    first = language_run(runner, env, work, plugins, "up", *base, "timeout=5s")
    text = first.stdout + first.stderr
    assert first.returncode != 0
    assert "still running" in text
    assert "step 'Live preparation'" in text  # progress lines during the wait
    assert golive_posts(emulator, OFFER) == 1
    [op_id] = operation_ids(emulator, OFFER)
    recorded = the_recorded_offer(env, work)
    assert recorded["outputs"]["operationId"] == op_id
    assert recorded["outputs"]["status"] == "running"

    second = language_run(runner, env, work, plugins, "up", "timeout=2h")
    assert second.returncode == 0
    assert stack_output(env, work, "status") == "succeeded"
    assert stack_output(env, work, "operationId") == op_id
    assert golive_posts(emulator, OFFER) == 1

    third = language_run(runner, env, work, plugins, "destroy")
    assert third.returncode == 0
    assert emulator.admin.get_offer(PUBLISHER, OFFER)["status"] == "succeeded"  # live
    assert len(posts(emulator)) == 1  # the go-live; no cancel, no second go-live


def test_typescript_program_goes_live_once_honours_its_timeout_and_resumes(
    typescript_runner: list[str], cli_bin: Path, slow_emulator: RunningEmulator, tmp_path: Path
) -> None:
    timeout_resume_destroy(typescript_runner, cli_bin, slow_emulator, tmp_path)


def test_go_program_goes_live_once_honours_its_timeout_and_resumes(
    go_runner: list[str], cli_bin: Path, slow_emulator: RunningEmulator, tmp_path: Path
) -> None:
    timeout_resume_destroy(go_runner, cli_bin, slow_emulator, tmp_path)


def test_python_program_on_the_plugin_sdk_goes_live_once(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    # `make setup` installs sdk/python-plugin (editable) into the project's venv.
    import pulumi_marketplace_plugin as marketplace

    emulator = emulator_factory(time_scale=SCALE)
    emulator.admin.put_offer(PUBLISHER, OFFER, state="signoff", goLiveSteps=steps(20.0))

    def program() -> None:
        offer = marketplace.LiveOffer("live", publisher_id=PUBLISHER, offer_id=OFFER)
        pulumi.export("status", offer.status)
        pulumi.export("operationId", offer.operation_id)

    plugins = plugin_dir(tmp_path / "plugins", {"marketplace": PLUGIN_EXE})
    env = env_for(cli_bin, tmp_path)
    env.vars["PATH"] = os.pathsep.join([str(plugins), env.vars["PATH"]])
    with inline_stack(
        env,
        program,
        project="e2e-python-plugin",
        config={"marketplace:endpoint": emulator.base_url},
        secrets={"marketplace:accessToken": emulator.token},
    ) as stack:
        result = stack.up(on_output=print)
        assert result.outputs["status"].value == "succeeded"
        [op_id] = operation_ids(emulator, OFFER)
        assert result.outputs["operationId"].value == op_id
        # The resource came from the plugin (the dynamic provider's type is pulumi-python:...).
        deployment = stack.export_stack().deployment or {}
        types = {r["type"] for r in deployment["resources"]}
        assert LIVE_OFFER in types
        stack.destroy(on_output=print)
    assert golive_posts(emulator, OFFER) == 1
    assert emulator.admin.get_offer(PUBLISHER, OFFER)["status"] == "succeeded"  # live
