"""What the e2e tests beyond the smoke test share: environments, YAML projects, request logs.

Every helper drives the real CLI (tests/e2e/cli.py) against an in-process emulator; nothing
here imitates the engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

from marketplace_emulator.harness import RunningEmulator
from tests.e2e.cli import CliEnv, CliProject, cli_env, plugin_dir
from tests.lifecycle.support import CLEAN_ENV, PUBLISHER

PLUGIN_EXE = Path(sys.executable).parent / "pulumi-resource-marketplace"
LIVE_OFFER = "marketplace:index:LiveOffer"


def env_for(cli_bin: Path, tmp_path: Path) -> CliEnv:
    """The offline CLI environment with nothing of the developer's shell for the providers."""
    return cli_env(tmp_path / "pulumi", cli_bin, extra=CLEAN_ENV)


def steps(seconds: float) -> list[dict[str, Any]]:
    """Two go-live steps lasting `seconds` emulated seconds in all, without estimates."""
    return [
        {"id": "live-preparation", "stepName": "Live preparation", "seconds": seconds / 2},
        {"id": "live", "stepName": "Live", "seconds": seconds / 2},
    ]


def yaml_offers_project(
    dest: Path,
    offers: Mapping[str, Mapping[str, Any]],
    *,
    name: str = "e2e-yaml",
    outputs: Mapping[str, str] | None = None,
) -> Path:
    """A YAML project whose resources are LiveOffers, served by the plugin executable.

    `offers` maps a resource name to `{"properties": {...}, "options": {...}}`
    (`publisherId` defaults to contoso).
    """
    dest.mkdir(parents=True, exist_ok=True)
    plugs = plugin_dir(dest / ".plugins", {"marketplace": PLUGIN_EXE})
    resources: dict[str, Any] = {}
    for res_name, spec in offers.items():
        props = {"publisherId": PUBLISHER, **dict(spec.get("properties", {}))}
        entry: dict[str, Any] = {"type": LIVE_OFFER, "properties": props}
        if spec.get("options"):
            entry["options"] = dict(spec["options"])
        resources[res_name] = entry
    project: dict[str, Any] = {
        "name": name,
        "runtime": "yaml",
        "packages": {"marketplace": str(plugs)},
        "resources": resources,
    }
    if outputs:
        project["outputs"] = dict(outputs)
    (dest / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
    return dest


def emulator_config(emulator: RunningEmulator) -> tuple[dict[str, str], dict[str, str]]:
    """(plain config, secret config) pointing the provider at the emulator."""
    return (
        {"marketplace:endpoint": emulator.base_url},
        {"marketplace:accessToken": emulator.token},
    )


def stack_export(project: CliProject) -> dict[str, Any]:
    """`pulumi stack export` (secrets stay encrypted)."""
    out = project.run("stack", "export", "--stack", project.stack)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def resources_of(deployment: dict[str, Any], type_token: str) -> list[dict[str, Any]]:
    """The resources of one type in a `stack export` document."""
    found: list[dict[str, Any]] = [
        r for r in deployment["deployment"].get("resources") or [] if r.get("type") == type_token
    ]
    return found


def pending_operations(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = deployment["deployment"].get("pending_operations") or []
    return result


def posts(emulator: RunningEmulator, since: int | None = None) -> list[dict[str, Any]]:
    """Every POST to the portal API (go-live, cancel, publish), after `since` if given."""
    return emulator.admin.requests(method="POST", since=since)


def last_seq(emulator: RunningEmulator) -> int:
    rows = emulator.admin.requests()
    return max((int(r["seq"]) for r in rows), default=0)


def operation_ids(emulator: RunningEmulator, offer: str) -> list[str]:
    """The ids of the offer's go-live operations, oldest first."""
    return [
        str(op["id"])
        for op in emulator.admin.operations(PUBLISHER, offer)
        if op.get("submissionType") == "goLive"
    ]


def wait_for(predicate: Any, timeout: float, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class Running:
    """A `pulumi` command running in the background, with its output collected on exit."""

    proc: subprocess.Popen[str]
    started: float

    def children(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return list(psutil.Process(self.proc.pid).children(recursive=True))
        return []

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def finish(self, timeout: float) -> tuple[int, str, str, float]:
        """Wait for the exit: (returncode, stdout, stderr, seconds since start)."""
        stdout, stderr = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, stdout, stderr, time.monotonic() - self.started


def start_pulumi(project: CliProject, *args: str) -> Running:
    """Start `pulumi <args> --non-interactive` in the project dir, in its own session (a
    signal sent to it reaches the CLI alone, as `kill <pid>` does; a terminal's Ctrl-C would
    reach the plugin too)."""
    proc = subprocess.Popen(
        [str(project.env.pulumi), *args, "--non-interactive"],
        cwd=project.dir,
        env=project.env.environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return Running(proc, time.monotonic())


def kill_tree(procs: list[psutil.Process]) -> None:
    """SIGKILL processes this test started (the CLI's plugins), ignoring those gone."""
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.send_signal(signal.SIGKILL)
    psutil.wait_procs(procs, timeout=10)


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every regular file under `root` whose bytes contain `needle`."""
    found = []
    raw = needle.encode()
    for dirpath, _, names in os.walk(root):
        for fname in names:
            path = Path(dirpath) / fname
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink() and raw in path.read_bytes():
                    found.append(path)
    return found


@contextlib.contextmanager
def removed_on_exit(project: CliProject) -> Iterator[CliProject]:
    try:
        yield project
    finally:
        project.remove()
