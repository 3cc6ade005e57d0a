"""Fixtures for the engine double's self-tests: real provider processes, one fake engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.enginedouble import DynamicLauncher, EngineDouble, FakeEngine, Launcher, PluginLauncher

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PLUGIN_DIR = REPO_ROOT / "tests" / "enginedouble" / "sample_plugin"
PLUGIN_PACKAGE = "sample"


@pytest.fixture
def fake_engine() -> Iterator[FakeEngine]:
    with FakeEngine() as engine:
        yield engine


@pytest.fixture
def dynamic_launcher() -> DynamicLauncher:
    # The dynamic host must import tests.enginedouble.sample_provider to unpickle the provider.
    return DynamicLauncher(extra_env={"PYTHONPATH": str(REPO_ROOT)}, startup_timeout=20)


@pytest.fixture
def plugin_launcher() -> PluginLauncher:
    return PluginLauncher(package=PLUGIN_PACKAGE, plugin_dir=SAMPLE_PLUGIN_DIR, startup_timeout=20)


DoubleFactory = Callable[..., EngineDouble]


@pytest.fixture
def make_double(tmp_path: Path, fake_engine: FakeEngine) -> Iterator[DoubleFactory]:
    """Build EngineDoubles sharing one state file (a new one per "CLI run" if a test wants)."""
    made: list[EngineDouble] = []

    def factory(
        launcher: Launcher, config: dict[str, Any] | None = None, **kw: Any
    ) -> EngineDouble:
        kw.setdefault("close_grace", 2.0)
        double = EngineDouble(
            launcher,
            "proj",
            "dev",
            config or {},
            tmp_path / "state.json",
            engine=fake_engine,
            rpc_log_path=tmp_path / "rpc.jsonl",
            **kw,
        )
        made.append(double)
        return double

    yield factory
    for double in made:
        double.close()
