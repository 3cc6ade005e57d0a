"""`make demo`: both examples, run by the real Pulumi CLI against the local Partner Portal emulator.

1. Starts the emulator (`examples/emulator-seed.json`: contoso/contoso-vm and contoso/contoso-saas
   waiting at publisher sign-off) on a free loopback port, on a clock running `--time-scale`
   times real time so that each go-live takes about 15 s.
2. Gets the Pulumi CLI from `tools/pulumi-cli/ensure.sh` (the first run builds it from the Go
   module proxy into ~/.cache, which takes minutes; later runs are instant).
3. `pulumi up` of `examples/python` (the dynamic provider): its `__main__.py` run as an Automation
   API inline program, with the project name and config of its `Pulumi.yaml` (the CLI has no
   Python language host, see tools/pulumi-cli/README.md). It takes contoso/contoso-vm live.
4. `pulumi up --yes` of `examples/yaml` (the plugin, as the `pulumi-resource-marketplace` console
   script of this venv) with `offerId: contoso-saas`.
5. `pulumi stack output` of each.

State lives in `.pulumi-state/demo/` (file backend, PULUMI_HOME, work dirs; passphrase secrets
provider). Every run starts by deleting it: the stacks of a previous run point at an emulator
that is gone. Update checks, plugin downloads and registry look-ups are off. The emulator is
stopped on exit and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import runpy
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import psutil
import requests
import yaml
from pulumi import automation as auto

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python examples/demo.py` works from anywhere

from tests.e2e.cli import CliEnv, cli_env, pulumi_command, yaml_project  # noqa: E402

PY_EXAMPLE = ROOT / "examples" / "python"
YAML_EXAMPLE = ROOT / "examples" / "yaml"
SEED = ROOT / "examples" / "emulator-seed.json"
ENSURE = ROOT / "tools" / "pulumi-cli" / "ensure.sh"
STATE_DIR = ROOT / ".pulumi-state" / "demo"
PLUGIN_EXE = Path(sys.executable).parent / "pulumi-resource-marketplace"
STACK = "dev"
PUBLISHER = "contoso"
PY_OFFER = "contoso-vm"  # examples/python's default offerId
YAML_OFFER = "contoso-saas"  # set as the YAML stack's offerId: contoso-vm is live by then
TOKEN = "emulator-token"  # noqa: S105 - the emulator's seeded test token, not a credential
PASSPHRASE = "marketplace-demo-passphrase"  # noqa: S105 - secrets provider of a throwaway backend
API_VERSION = "2017-10-31"
# The seed's go-live steps take 60 emulated seconds: 4x real time shows them in about 15 s.
DEFAULT_TIME_SCALE = 4.0
# Nothing of the developer's own shell reaches the providers: no endpoint or token from the
# environment, and no azure-identity chain (the demo talks to the emulator only).
PROVIDER_ENV = {
    "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
    "MARKETPLACE_ENDPOINT": "",
    "MARKETPLACE_ACCESS_TOKEN": "",
    "MARKETPLACE_API_VERSION": "",
    "MARKETPLACE_CA_BUNDLE": "",
    "MARKETPLACE_USE_DEFAULT_CREDENTIAL": "false",
    "AZURE_TENANT_ID": "",
    "AZURE_CLIENT_ID": "",
    "AZURE_CLIENT_SECRET": "",
}
INTERRUPT_GRACE_SECONDS = 30.0  # a child that got Ctrl-C too gets this long to finish cleanly
PULUMI_FINISHES = "pulumi finish the step in flight (the go-live it waits on)"


class DemoError(Exception):
    """A step failed; the message says which (its own output is already on the terminal)."""


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def heading(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def run_child(
    cmd: Sequence[str], on_interrupt: str, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """subprocess.run, interruptible, and gentle on Ctrl-C: the child got SIGINT as well and is
    given time to finish on its own (`pulumi up` ends the step in flight and records it,
    ensure.sh removes its build dir); it is stopped only if it does not."""
    with subprocess.Popen(cmd, text=True, **kwargs) as proc:
        try:
            while True:
                # Short waits: a Ctrl-C delivered to another thread is then seen at once.
                try:
                    stdout, stderr = proc.communicate(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    continue
        except KeyboardInterrupt:
            _wait_or_stop([psutil.Process(proc.pid)], on_interrupt)
            raise
    return subprocess.CompletedProcess(list(cmd), proc.returncode, stdout, stderr)


def _wait_or_stop(procs: list[psutil.Process], what: str) -> None:
    """After Ctrl-C: wait for these children to end, then terminate (and kill) the rest."""
    if not procs:
        return
    print(
        f"\ndemo: interrupted; letting {what} "
        f"(at most {INTERRUPT_GRACE_SECONDS:.0f} s; Ctrl-C again to stop it now)",
        file=sys.stderr,
        flush=True,
    )
    try:
        _, alive = psutil.wait_procs(procs, timeout=INTERRUPT_GRACE_SECONDS)
    except KeyboardInterrupt:
        alive = [p for p in procs if p.is_running()]
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(alive, timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def _pulumi_children() -> list[psutil.Process]:
    """This process's `pulumi` children (the Automation API starts them)."""
    found = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if child.name() == "pulumi":
                found.append(child)
    return found


# ------------------------------------------------------------------------------- emulator


def _stop_with_parent() -> None:
    """In the emulator's process, before exec: SIGTERM when the demo dies, even by SIGKILL."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Emulator:
    """The emulator as a child process, seeded from examples/emulator-seed.json."""

    def __init__(self, time_scale: float) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "marketplace_emulator",
                "--port", "0",
                "--seed", str(SEED),
                "--time-scale", f"{time_scale:g}",
                "--log-level", "WARNING",
            ],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            # Its own session: a Ctrl-C must not stop it while pulumi still finishes the step
            # in flight (the go-live it waits on); it is stopped when the demo ends.
            start_new_session=True,
            preexec_fn=_stop_with_parent,
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self.stop()
            raise DemoError(f"the emulator did not start (it printed {self.base_url!r})")

    def offer_status(self, offer_id: str) -> str:
        answer = requests.get(
            f"{self.base_url}/api/publishers/{PUBLISHER}/offers/{offer_id}/status",
            params={"api-version": API_VERSION},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["status"])

    def show(self, *offer_ids: str) -> None:
        for offer_id in offer_ids:
            say(f"offer {PUBLISHER}/{offer_id}: {self.offer_status(offer_id)}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# ------------------------------------------------------------------------------- the CLI


def ensure_cli() -> Path | None:
    """The CLI's bin dir from ensure.sh (its progress and its advice go to the terminal)."""
    say("getting the Pulumi CLI (tools/pulumi-cli/ensure.sh; the first run builds it)")
    done = run_child(
        ["nice", "-n", "10", str(ENSURE)], "ensure.sh clean up", stdout=subprocess.PIPE
    )
    lines = (done.stdout or "").strip().splitlines()
    if done.returncode != 0 or not lines:
        return None
    bin_dir = Path(lines[-1])
    if not os.access(bin_dir / "pulumi", os.X_OK):
        print(f"demo: ensure.sh printed {bin_dir}, which holds no pulumi", file=sys.stderr)
        return None
    return bin_dir


def cli(env: CliEnv, cwd: Path, *args: str) -> None:
    """Run `pulumi ARGS` in `cwd` (the offline environment), its output on the terminal."""
    say(f"$ pulumi {' '.join(args)}")
    done = run_child(
        [str(env.pulumi), *args],
        PULUMI_FINISHES,
        cwd=cwd,
        env=env.environ(),
        stdin=subprocess.DEVNULL,  # never a prompt: the passphrase comes from the environment
    )
    if done.returncode != 0:
        raise DemoError(f"`pulumi {' '.join(args)}` exited {done.returncode} (output above)")


# ------------------------------------------------------------------------------- the examples


def run_python_example(env: CliEnv, base_url: str) -> None:
    """examples/python as an Automation API inline program: its own __main__.py and Pulumi.yaml."""
    project: dict[str, Any] = yaml.safe_load((PY_EXAMPLE / "Pulumi.yaml").read_text("utf-8"))
    # The project file, copied (the workspace writes stack files next to it, never into
    # examples/), with its relative virtualenv made absolute for the new place.
    options = (project.get("runtime") or {}).get("options") or {}
    if isinstance(options, dict) and options.get("virtualenv"):
        options["virtualenv"] = str((PY_EXAMPLE / options["virtualenv"]).resolve())
    work_dir = env.state_dir / "python"
    work_dir.mkdir(parents=True)
    (work_dir / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False), "utf-8")

    def program() -> None:
        runpy.run_path(str(PY_EXAMPLE / "__main__.py"), run_name="__main__")

    stack = auto.create_or_select_stack(
        STACK,
        project_name=project["name"],
        program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            pulumi_home=str(env.home),
            env_vars=env.vars,
            pulumi_command=pulumi_command(env),
        ),
    )
    stack.set_all_config(
        {
            "marketplace:endpoint": auto.ConfigValue(base_url),
            "marketplace:accessToken": auto.ConfigValue(TOKEN, secret=True),
        }
    )
    say(f"$ pulumi up  (examples/python/__main__.py as an inline program, stack {STACK})")
    failure: list[BaseException] = []

    def up() -> None:
        try:
            stack.up(
                on_output=print,
                on_error=lambda line: print(line, file=sys.stderr),
                color="always" if sys.stdout.isatty() else "never",
            )
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)

    # In a thread, so that the main thread waits in short steps and sees Ctrl-C at once.
    worker = threading.Thread(target=up, name="pulumi-up", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.25)
    except KeyboardInterrupt:
        _wait_or_stop(_pulumi_children(), PULUMI_FINISHES)
        worker.join(5)
        raise
    if failure:
        if isinstance(failure[0], auto.CommandError):
            raise DemoError("`pulumi up` of examples/python failed (its output is above)")
        raise failure[0]
    cli(env, work_dir, "stack", "output", "--stack", STACK)


def run_yaml_example(env: CliEnv, base_url: str) -> None:
    """examples/yaml, copied with `packages: marketplace:` at this venv's plugin executable."""
    if not PLUGIN_EXE.exists():
        raise DemoError(f"{PLUGIN_EXE} is missing: run `make setup` (pip install -e .)")
    work_dir = yaml_project(YAML_EXAMPLE, env.state_dir / "yaml", {"marketplace": PLUGIN_EXE})
    cli(env, work_dir, "stack", "init", STACK)
    cli(env, work_dir, "config", "set", "marketplace:endpoint", base_url)
    cli(env, work_dir, "config", "set", "--secret", "marketplace:accessToken", TOKEN)
    cli(env, work_dir, "config", "set", "offerId", YAML_OFFER)
    cli(env, work_dir, "up", "--yes")
    cli(env, work_dir, "stack", "output")


# ------------------------------------------------------------------------------- main


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=DEFAULT_TIME_SCALE,
        help=f"emulator clock speed, emulated seconds per real second (default "
        f"{DEFAULT_TIME_SCALE:g}: each go-live takes about 15 s)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    emulator: Emulator | None = None
    try:
        heading("Partner Portal emulator")
        emulator = Emulator(args.time_scale)
        say(f"emulator at {emulator.base_url} (clock x{args.time_scale:g})")
        emulator.show(PY_OFFER, YAML_OFFER)

        heading("Pulumi CLI")
        bin_dir = ensure_cli()
        if bin_dir is None:
            print(
                "demo: stopping here: no Pulumi CLI to run `pulumi up` with (ensure.sh says why "
                "and what to install, above). The emulator part worked.",
                file=sys.stderr,
            )
            return 1
        say(f"pulumi from {bin_dir}")
        shutil.rmtree(STATE_DIR, ignore_errors=True)  # fresh stacks: the last emulator is gone
        env = cli_env(STATE_DIR, bin_dir, extra=PROVIDER_ENV)
        say(f"state: {env.backend_url} (passphrase secrets provider)")

        heading(f"examples/python: LiveOffer (dynamic provider) takes {PUBLISHER}/{PY_OFFER} live")
        run_python_example(env, emulator.base_url)

        heading(f"examples/yaml: LiveOffer (plugin) takes {PUBLISHER}/{YAML_OFFER} live")
        run_yaml_example(env, emulator.base_url)

        heading("Done")
        emulator.show(PY_OFFER, YAML_OFFER)
        return 0
    except KeyboardInterrupt:
        print("\ndemo: interrupted; stopping the emulator", file=sys.stderr)
        return 130
    except (DemoError, requests.RequestException, OSError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if emulator is not None:
            emulator.stop()


if __name__ == "__main__":
    raise SystemExit(main())
