"""The real Pulumi CLI for end-to-end tests: find or build it, run it offline, run stacks.

The CLI comes from `tools/pulumi-cli/ensure.sh` (built from the Go module proxy; first build
takes minutes, later calls return at once). That build has `pulumi`, `pulumi-language-yaml` and
the dynamic-provider launcher `pulumi-resource-pulumi-python`, but no Python language host, so:

- Python programs run as Automation API *inline* programs (`inline_stack`): the SDK serves the
  LanguageRuntime in this process and passes `--client` to the CLI (up, preview, refresh and
  destroy alike). A dynamic resource makes the engine start `pulumi-resource-pulumi-python`,
  which needs `PULUMI_RUNTIME_VIRTUALENV` (or `PULUMI_PYTHON_CMD`) from the environment: the
  project's `runtime.options` never reach it, because in `--client` mode the engine replaces
  the runtime by `client` (its only option is the address). `cli_env` sets it to this
  interpreter's venv.
- YAML programs run with `pulumi-language-yaml`; a provider written in Python must then be an
  executable `pulumi-resource-<name>` (a console script), found through `packages:` pointing at
  a directory that holds it (`yaml_project` writes that), or else through PATH. A `packages:`
  entry pointing at a PulumiPlugin.yaml directory (`runtime: python`) needs the missing host.

Everything is offline: update check off, no plugin downloads, no registry lookups, a file://
backend and PULUMI_HOME under the caller's state directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools" / "pulumi-cli"
PASSPHRASE = "marketplace-e2e-passphrase"  # a test value for the file backend, not a secret


class CliUnavailableError(RuntimeError):
    """ensure.sh could not provide a Pulumi CLI; the message carries its output."""


def pins() -> dict[str, str]:
    """The pins of tools/pulumi-cli/VERSION, e.g. {"pulumi": "3.259.0", "pulumi-yaml": ...}."""
    result: dict[str, str] = {}
    for line in (TOOLS / "VERSION").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            result[key.strip()] = value.strip()
    return result


@cache
def ensure_cli(timeout: float = 3600.0) -> Path:
    """The bin dir of a usable Pulumi CLI: ensure.sh's last stdout line (builds on first use)."""
    try:
        done = subprocess.run(
            [str(TOOLS / "ensure.sh")],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CliUnavailableError(f"tools/pulumi-cli/ensure.sh did not finish: {exc}") from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise CliUnavailableError(
            f"tools/pulumi-cli/ensure.sh exited {done.returncode}:\n{done.stderr[-4000:]}"
        )
    bin_dir = Path(lines[-1])
    if not os.access(bin_dir / "pulumi", os.X_OK):
        raise CliUnavailableError(f"ensure.sh printed {bin_dir}, which has no pulumi")
    return bin_dir


def running_venv() -> Path | None:
    """The virtual environment of this interpreter, if it runs in one."""
    return Path(sys.prefix) if sys.prefix != sys.base_prefix else None


@dataclass(frozen=True)
class CliEnv:
    """Where the CLI is and the environment it runs in (merged over os.environ when run)."""

    bin_dir: Path
    state_dir: Path
    vars: dict[str, str]

    @property
    def home(self) -> Path:
        return self.state_dir / "home"

    @property
    def backend_url(self) -> str:
        return (self.state_dir / "backend").as_uri()

    @property
    def pulumi(self) -> Path:
        return self.bin_dir / "pulumi"

    def environ(self) -> dict[str, str]:
        """os.environ with these variables on top, for subprocess calls."""
        return {**os.environ, **self.vars}


def cli_env(
    state_dir: Path,
    bin_dir: Path | None = None,
    *,
    path_dirs: Sequence[Path] = (),
    python_venv: Path | None = None,
    extra: Mapping[str, str] | None = None,
) -> CliEnv:
    """The offline environment of tools/pulumi-cli/env.sh, for a state dir of the caller's.

    `path_dirs` go on PATH after the CLI's bin dir (e.g. a dir with `pulumi-resource-<name>`).
    `python_venv` (default: this interpreter's venv) is what `pulumi-resource-pulumi-python`
    runs `python -m pulumi.dynamic` from; without a venv, `PULUMI_PYTHON_CMD` is this
    interpreter. `extra` is added last (e.g. variables that keep a provider's env clean).
    """
    bin_dir = bin_dir or ensure_cli()
    (state_dir / "home").mkdir(parents=True, exist_ok=True)
    (state_dir / "backend").mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join([str(bin_dir), *map(str, path_dirs), os.environ.get("PATH", "")])
    env = {
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_DISABLE_REGISTRY_RESOLVE": "true",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_HOME": str(state_dir / "home"),
        "PULUMI_BACKEND_URL": (state_dir / "backend").as_uri(),
        "PATH": path,
    }
    venv = python_venv or running_venv()
    if venv is not None:
        env["PULUMI_RUNTIME_VIRTUALENV"] = str(venv)
    else:
        env["PULUMI_PYTHON_CMD"] = sys.executable
    env.update(extra or {})
    return CliEnv(bin_dir, state_dir, env)


def _command_root(env: CliEnv) -> str:
    """A root whose bin/pulumi is the CLI (PulumiCommand insists on a `bin` directory)."""
    if env.bin_dir.name == "bin":
        return str(env.bin_dir.parent)
    root = env.state_dir / "cli-root"
    root.mkdir(exist_ok=True)
    link = root / "bin"
    if not link.is_symlink():
        link.symlink_to(env.bin_dir, target_is_directory=True)
    return str(root)


def pulumi_command(env: CliEnv) -> auto.PulumiCommand:
    """The Automation API's handle on this CLI, for workspaces made outside `inline_stack`."""
    return auto.PulumiCommand(root=_command_root(env))


@contextmanager
def inline_stack(
    env: CliEnv,
    program: Callable[[], None],
    *,
    project: str = "e2e",
    stack: str = "dev",
    config: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Iterator[auto.Stack]:
    """An Automation API stack running `program` inline; the stack is removed on exit.

    No Python language host is involved: the SDK serves the program over `--client`.
    `config`/`secrets` take full keys (`marketplace:endpoint`).
    """
    work_dir = env.state_dir / f"work-{project}-{stack}"
    work_dir.mkdir(parents=True, exist_ok=True)
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir),
        pulumi_home=str(env.home),
        env_vars=env.vars,
        pulumi_command=auto.PulumiCommand(root=_command_root(env)),
        project_settings=auto.ProjectSettings(name=project, runtime="python"),
    )
    st = auto.create_or_select_stack(stack, project_name=project, program=program, opts=opts)
    values = {k: auto.ConfigValue(v) for k, v in (config or {}).items()}
    values.update({k: auto.ConfigValue(v, secret=True) for k, v in (secrets or {}).items()})
    if values:
        st.set_all_config(values)
    try:
        yield st
    finally:
        st.workspace.remove_stack(stack, force=True)


def plugin_dir(base: Path, plugins: Mapping[str, Path]) -> Path:
    """A directory of `pulumi-resource-<name>` symlinks to the given provider executables."""
    base.mkdir(parents=True, exist_ok=True)
    for name, exe in plugins.items():
        link = base / f"pulumi-resource-{name}"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(Path(exe).resolve())
    return base


def yaml_project(
    src: Path, dest: Path, plugins: Mapping[str, Path], *, via: str = "packages"
) -> Path:
    """Copy the YAML project `src` to `dest`, wired to provider executables, not source dirs.

    via="packages": every `packages:` entry named in `plugins` points at a directory holding
    `pulumi-resource-<name>` (found before PATH, works with PULUMI_IGNORE_AMBIENT_PLUGINS).
    via="path": those entries are dropped and the engine finds the plugins on PATH, which it
    warns about ("using pulumi-resource-<name> from $PATH") and which
    PULUMI_IGNORE_AMBIENT_PLUGINS=true turns off; put `dest/.plugins` on PATH (`cli_env`).
    """
    if via not in ("packages", "path"):
        raise ValueError(f"via must be 'packages' or 'path', not {via!r}")
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("Pulumi.*.yaml"))
    plugs = plugin_dir(dest / ".plugins", plugins)
    project_file = dest / "Pulumi.yaml"
    project: dict[str, Any] = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    packages: dict[str, Any] = dict(project.get("packages") or {})
    for name in plugins:
        if via == "packages":
            packages[name] = str(plugs)
        else:
            packages.pop(name, None)
    if packages:
        project["packages"] = packages
    else:
        project.pop("packages", None)
    project_file.write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
    return dest


@dataclass(frozen=True)
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> CliResult:
        if self.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(self.args)} exited {self.returncode}\n"
                f"--- stdout\n{self.stdout[-6000:]}\n--- stderr\n{self.stderr[-6000:]}"
            )
        return self


@dataclass(frozen=True)
class CliProject:
    """A project directory (e.g. from `yaml_project`) driven by `pulumi` commands."""

    dir: Path
    env: CliEnv
    stack: str = "dev"

    def run(self, *args: str, check: bool = True, timeout: float = 600.0) -> CliResult:
        done = subprocess.run(
            [str(self.env.pulumi), *args, "--non-interactive"],
            cwd=self.dir,
            env=self.env.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = CliResult(list(args), done.returncode, done.stdout, done.stderr)
        return result.check() if check else result

    def init(
        self, config: Mapping[str, str] | None = None, secrets: Mapping[str, str] | None = None
    ) -> CliProject:
        self.run("stack", "init", self.stack)
        for key, value in (config or {}).items():
            self.run("config", "set", "--stack", self.stack, key, value)
        for key, value in (secrets or {}).items():
            self.run("config", "set", "--stack", self.stack, "--secret", key, value)
        return self

    def up(self, **kw: Any) -> CliResult:
        return self.run("up", "--stack", self.stack, "--yes", "--skip-preview", **kw)

    def refresh(self, **kw: Any) -> CliResult:
        return self.run("refresh", "--stack", self.stack, "--yes", "--skip-preview", **kw)

    def destroy(self, **kw: Any) -> CliResult:
        return self.run("destroy", "--stack", self.stack, "--yes", "--skip-preview", **kw)

    def outputs(self) -> dict[str, Any]:
        out = self.run("stack", "output", "--stack", self.stack, "--json", "--show-secrets")
        result: dict[str, Any] = json.loads(out.stdout)
        return result

    def remove(self) -> CliResult:
        return self.run("stack", "rm", "--yes", "--force", self.stack, check=False)
