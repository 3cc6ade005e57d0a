"""Start provider processes the way the Pulumi engine does, and control them.

Why: tests must exercise the provider as the CLI would run it (argv, env, stdout port protocol,
process group, kill on close), not an in-process object. Two flavours:

* dynamic: ``python -u -m pulumi.dynamic <engine>`` (what ``pulumi-resource-pulumi-python`` runs);
* plugin: ``python <plugin dir> [--logtostderr -v=N] [--tracing EP] <engine>`` (what
  pulumi-language-python's ``RunPlugin`` runs for a ``PulumiPlugin.yaml`` directory).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

DYNAMIC_PACKAGE = "pulumi-python"


# A shell that runs us in the background ignores SIGINT, and children inherit an ignored
# signal across exec. The engine's plugins get the default, so Close's SIGINT can stop them:
# give this process a handler again (a handled signal is reset to default in children).
if (
    threading.current_thread() is threading.main_thread()
    and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
):
    signal.signal(signal.SIGINT, signal.default_int_handler)


class LaunchError(RuntimeError):
    """The provider did not start (no port on stdout in time, bad port, or it exited)."""


@dataclass(frozen=True)
class ProcessStats:
    """Resource use of a provider process (for benchmarks and leak checks)."""

    rss: int  # bytes, current
    peak_rss: int  # bytes, VmHWM on Linux (else the largest rss seen by stats())
    threads: int
    cpu_user: float  # seconds
    cpu_system: float  # seconds


class ProviderProcess:
    """A running provider: port, stderr file, stdout after the port line, process control."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        stderr_path: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        if stderr_path is None:
            fd, name = tempfile.mkstemp(prefix="provider-", suffix=".stderr")
            os.close(fd)
            stderr_path = Path(name)
        self.stderr_path = stderr_path
        self.startup_timeout = startup_timeout
        self.port = 0
        self._first_line = b""
        self._got_line = False
        self._after_port = bytearray()
        self._stdout_lock = threading.Lock()
        self._port_ready = threading.Event()
        self._stdout_eof = threading.Event()
        self._max_rss_seen = 0
        self._stderr_file = open(self.stderr_path, "wb")
        # Own process group, as the engine does (RegisterProcessGroup), so kill hits the whole
        # group.
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=str(cwd) if cwd else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read_stdout, name=f"stdout-{self.pid}", daemon=True
        )
        self._reader.start()
        self._await_port()

    # --- startup -----------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        got_line = False
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            with self._stdout_lock:
                if got_line:
                    self._after_port.extend(chunk)
                    continue
                self._first_line += chunk
                if b"\n" in self._first_line:
                    line, _, rest = self._first_line.partition(b"\n")
                    self._first_line = line
                    self._after_port.extend(rest)
                    got_line = True
                    self._got_line = True
                    self._port_ready.set()
        self._stdout_eof.set()
        self._port_ready.set()

    def _await_port(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while not self._port_ready.wait(0.05):
            if time.monotonic() > deadline:
                self.kill()
                raise LaunchError(
                    f"provider {self.argv!r} wrote no port within {self.startup_timeout}s; "
                    f"stderr:\n{self._stderr_tail()}"
                )
        with self._stdout_lock:
            line, got_line = self._first_line, self._got_line
        text = line.decode(errors="replace").strip()
        if not got_line:
            code = self._reap(5.0)
            raise LaunchError(
                f"could not read plugin {self.argv!r}: exited with status {code} before writing a "
                f"port line (read {text!r}); stderr:\n{self._stderr_tail()}"
            )
        try:
            self.port = int(text)
        except ValueError:
            self.kill()
            raise LaunchError(
                f"plugin {self.argv!r} wrote an invalid port to stdout: {text!r}; "
                f"stderr:\n{self._stderr_tail()}"
            ) from None

    def _stderr_tail(self, limit: int = 8000) -> str:
        time.sleep(0.05)  # let the child finish writing its traceback
        try:
            return self.stderr_path.read_text(errors="replace")[-limit:]
        except OSError:
            return "<stderr unavailable>"

    # --- accessors ---------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    @property
    def stdout_after_port(self) -> bytes:
        """Everything the provider wrote to stdout after the port line (must stay empty)."""
        with self._stdout_lock:
            return bytes(self._after_port)

    def assert_stdout_clean(self) -> None:
        """Fail if the provider wrote anything but its port to stdout (the engine hides it)."""
        extra = self.stdout_after_port
        if extra:
            raise AssertionError(f"provider wrote to stdout after its port line: {extra[:2000]!r}")

    def stderr_text(self) -> str:
        if not self._stderr_file.closed:
            self._stderr_file.flush()
        return self.stderr_path.read_text(errors="replace")

    def stats(self) -> ProcessStats:
        """Current rss, peak rss (VmHWM), thread count and CPU time via psutil."""
        proc = psutil.Process(self.pid)
        with proc.oneshot():
            mem = proc.memory_info()
            cpu = proc.cpu_times()
            threads = proc.num_threads()
        self._max_rss_seen = max(self._max_rss_seen, mem.rss)
        peak = self._max_rss_seen
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        except OSError:
            pass
        return ProcessStats(mem.rss, peak, threads, cpu.user, cpu.system)

    # --- control -----------------------------------------------------------------------------

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        """SIGKILL the provider's process group, like a host dying mid-wait."""
        self._signal_group(signal.SIGKILL)
        self._reap(5.0)

    def terminate(self) -> None:
        """SIGTERM the provider (not what the engine sends; for provider shutdown tests)."""
        if self.alive:
            self.popen.terminate()

    def interrupt(self) -> None:
        """SIGINT the process group (the engine's first step when closing a plugin)."""
        self._signal_group(signal.SIGINT)

    def close(self, grace: float = 5.0) -> int | None:
        """Shut down like the engine's ``Plugin.Close``: SIGINT the group, wait ``grace``, then
        SIGKILL.
        """
        if self.alive:
            self.interrupt()
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
        return self._reap(5.0)

    def wait(self, timeout: float | None = None) -> int:
        code = self.popen.wait(timeout=timeout)
        self._reap(1.0)
        return code

    def _reap(self, timeout: float) -> int | None:
        try:
            code: int | None = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        self._stdout_eof.wait(1.0)
        if self.popen.stdout is not None and self._stdout_eof.is_set():
            self.popen.stdout.close()
        if not self._stderr_file.closed:
            self._stderr_file.close()
        return code

    def restart(self) -> ProviderProcess:
        """Close this process and start the same command again (a fresh port)."""
        self.close(grace=1.0)
        return ProviderProcess(
            self.argv,
            self.env,
            cwd=self.cwd,
            stderr_path=self.stderr_path.with_suffix(".restart.stderr"),
            startup_timeout=self.startup_timeout,
        )


@dataclass
class Launcher:
    """Base launcher: builds argv/env for one provider flavour. ``package`` names its config
    namespace.
    """

    package: str = DYNAMIC_PACKAGE
    extra_env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    startup_timeout: float = 30.0
    python: str = sys.executable

    def argv(self, engine_address: str) -> list[str]:
        raise NotImplementedError

    @property
    def binary_dir(self) -> Path:
        """Directory the engine reports as root/program directory in Handshake."""
        return Path(self.python).parent

    def env(self, overrides: Mapping[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def launch(
        self,
        engine_address: str,
        env: Mapping[str, str] | None = None,
        *,
        stderr_path: Path | None = None,
    ) -> ProviderProcess:
        """Start the provider and wait for its port. ``env`` is what the engine adds
        (PULUMI_PROJECT...).
        """
        return ProviderProcess(
            self.argv(engine_address),
            self.env(env or {}),
            cwd=self.cwd,
            stderr_path=stderr_path,
            startup_timeout=self.startup_timeout,
        )


@dataclass
class DynamicLauncher(Launcher):
    """``python -u -m pulumi.dynamic <engine>``: the Python dynamic provider host."""

    package: str = DYNAMIC_PACKAGE

    def argv(self, engine_address: str) -> list[str]:
        return [self.python, "-u", "-m", "pulumi.dynamic", engine_address]


@dataclass
class PluginLauncher(Launcher):
    """``python <dir> --logtostderr -v=N [--tracing EP] <engine>``: a PulumiPlugin.yaml directory.

    The engine passes ``--logtostderr``/``-v`` only with ``--logflow``/``-v``; both default on here
    so that argv parsing is exercised. ``tracing`` adds ``--tracing EP`` before the address.
    """

    package: str = ""
    plugin_dir: Path = Path()
    log_flow: bool = True
    verbosity: int = 3
    tracing: str | None = None

    def __post_init__(self) -> None:
        if not self.package:
            raise ValueError("PluginLauncher needs package= (the provider's config namespace)")
        if not (Path(self.plugin_dir) / "__main__.py").is_file():
            raise ValueError(f"{self.plugin_dir} has no __main__.py")

    @property
    def binary_dir(self) -> Path:
        return self.plugin_dir

    def argv(self, engine_address: str) -> list[str]:
        args = [self.python, str(self.plugin_dir)]
        if self.log_flow:
            args.append("--logtostderr")
            if self.verbosity > 0:
                args.append(f"-v={self.verbosity}")
        if self.tracing:
            args += ["--tracing", self.tracing]
        args.append(engine_address)
        return args

