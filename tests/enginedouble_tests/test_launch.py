"""Launching providers the way the engine does: argv, env, the stdout port line, process control."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.enginedouble import DynamicLauncher, FakeEngine, LaunchError, PluginLauncher

from .conftest import PLUGIN_PACKAGE, SAMPLE_PLUGIN_DIR


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_dynamic_host_argv_env_and_port(dynamic_launcher: DynamicLauncher, tmp_path: Path) -> None:
    proc = dynamic_launcher.launch("127.0.0.1:1", {"PULUMI_PROJECT": "proj", "PULUMI_CONFIG": "{}"})
    try:
        assert proc.argv[1:] == ["-u", "-m", "pulumi.dynamic", "127.0.0.1:1"]
        assert proc.port > 0 and proc.alive
        env = _environ(proc.pid)
        assert env["PULUMI_PROJECT"] == "proj"
        assert env["PULUMI_CONFIG"] == "{}"
        stats = proc.stats()
        assert stats.rss > 0 and stats.peak_rss >= stats.rss and stats.threads >= 2
        proc.assert_stdout_clean()
    finally:
        proc.kill()
    assert not proc.alive


def test_plugin_argv_with_tracing_and_stderr_capture(
    fake_engine: FakeEngine, tmp_path: Path
) -> None:
    launcher = PluginLauncher(
        package=PLUGIN_PACKAGE, plugin_dir=SAMPLE_PLUGIN_DIR, tracing="127.0.0.1:9"
    )
    proc = launcher.launch(fake_engine.address, stderr_path=tmp_path / "p.stderr")
    try:
        assert proc.argv[1:] == [
            str(SAMPLE_PLUGIN_DIR),
            "--logtostderr",
            "-v=3",
            "--tracing",
            "127.0.0.1:9",
            fake_engine.address,
        ]
        deadline = time.monotonic() + 5
        while "sample plugin argv" not in proc.stderr_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "sample plugin argv" in proc.stderr_text()
        proc.assert_stdout_clean()
    finally:
        assert proc.close(grace=2.0) is not None


def test_stray_stdout_after_port_is_caught(tmp_path: Path) -> None:
    launcher = PluginLauncher(
        package=PLUGIN_PACKAGE,
        plugin_dir=SAMPLE_PLUGIN_DIR,
        extra_env={"SAMPLE_PLUGIN_STDOUT_JUNK": "1"},
    )
    proc = launcher.launch("127.0.0.1:1", stderr_path=tmp_path / "p.stderr")
    try:
        deadline = time.monotonic() + 5
        while not proc.stdout_after_port and time.monotonic() < deadline:
            time.sleep(0.02)
        assert b"stray print" in proc.stdout_after_port
        with pytest.raises(AssertionError, match="stdout after its port"):
            proc.assert_stdout_clean()
    finally:
        proc.kill()


def _plugin_dir(tmp_path: Path, body: str) -> Path:
    (tmp_path / "PulumiPlugin.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text(body)
    return tmp_path


def test_launch_failure_shows_stderr(tmp_path: Path) -> None:
    plugin = _plugin_dir(
        tmp_path, "import sys\nsys.stderr.write('boom: no config\\n')\nsys.exit(3)\n"
    )
    launcher = PluginLauncher(package="x", plugin_dir=plugin, startup_timeout=10)
    with pytest.raises(LaunchError, match="boom: no config") as info:
        launcher.launch("127.0.0.1:1", stderr_path=tmp_path / "p.stderr")
    assert "status 3" in str(info.value)


def test_invalid_port_line(tmp_path: Path) -> None:
    plugin = _plugin_dir(
        tmp_path, "print('listening on 1234', flush=True)\nimport time\ntime.sleep(30)\n"
    )
    launcher = PluginLauncher(package="x", plugin_dir=plugin, startup_timeout=10)
    with pytest.raises(LaunchError, match="invalid port"):
        launcher.launch("127.0.0.1:1", stderr_path=tmp_path / "p.stderr")


def test_startup_timeout(tmp_path: Path) -> None:
    plugin = _plugin_dir(tmp_path, "import time\ntime.sleep(30)\n")
    launcher = PluginLauncher(package="x", plugin_dir=plugin, startup_timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(LaunchError, match="no port within"):
        launcher.launch("127.0.0.1:1", stderr_path=tmp_path / "p.stderr")
    assert time.monotonic() - t0 < 5


def test_restart_gives_a_fresh_process(plugin_launcher: PluginLauncher, tmp_path: Path) -> None:
    first = plugin_launcher.launch("127.0.0.1:1", stderr_path=tmp_path / "p.stderr")
    second = first.restart()
    try:
        assert not first.alive
        assert second.alive and second.pid != first.pid and second.port > 0
    finally:
        second.kill()
