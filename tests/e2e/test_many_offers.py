"""Twenty LiveOffers in one YAML program: one `pulumi up` waits on all go-lives at once.

The engine sends the Creates in parallel (no dependencies between them) and the plugin waits on
them concurrently, so the whole update takes about one go-live, not twenty.

The real engine runs at most `--parallel` steps at once, and its default is 4 x the CPUs
(`pulumi up --help`: "(default 8)" on 2 cores). With the default, 20 offers went live in three
waves of at most 8 (95.4 s for 30 s go-lives, measured here). So the test passes `--parallel`
at least the number of offers, as a pipeline with many offers should.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from marketplace_emulator.harness import RunningEmulator
from tests.e2e.cli import CliProject, ensure_cli
from tests.e2e.helpers import (
    LIVE_OFFER,
    PLUGIN_EXE,
    emulator_config,
    env_for,
    resources_of,
    stack_export,
    steps,
    yaml_offers_project,
)
from tests.lifecycle.support import PUBLISHER, golive_posts

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

COUNT = 20
GOLIVE_SECONDS = 30.0  # at time scale 1: 30 real seconds


@pytest.fixture(scope="module")
def cli_bin() -> Path:
    assert PLUGIN_EXE.exists(), f"{PLUGIN_EXE} missing: run `make setup` (pip install -e .)"
    return ensure_cli()


def test_twenty_offers_in_one_up_take_about_one_golive(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    emulator = emulator_factory(time_scale=1.0)
    names = [f"offer-{i:02d}" for i in range(COUNT)]
    for name in names:
        emulator.admin.put_offer(
            PUBLISHER,
            name,
            state="signoff",
            goLiveSteps=steps(GOLIVE_SECONDS),
            stepEstimates=False,
        )
    project_dir = yaml_offers_project(
        tmp_path / "yaml",
        {n: {"properties": {"offerId": n, "triggers": ["1"]}} for n in names},
        name="e2e-many",
    )
    config, secrets = emulator_config(emulator)
    project = CliProject(project_dir, env_for(cli_bin, tmp_path)).init(config, secrets)
    try:
        t0 = time.monotonic()
        project.run("up", "--stack", "dev", "--yes", "--skip-preview", "--parallel", str(COUNT))
        wall = time.monotonic() - t0
        sent = sorted(
            datetime.fromisoformat(str(r["time"]).replace("Z", "+00:00")).timestamp()
            for r in emulator.admin.requests(method="POST")
        )
        print(
            f"\n{COUNT} offers, {GOLIVE_SECONDS:.0f} s go-lives: `pulumi up --parallel {COUNT}` "
            f"took {wall:.1f} s ({wall / GOLIVE_SECONDS:.2f} x one go-live); go-live POSTs "
            f"spread over {sent[-1] - sent[0]:.1f} s"
        )
        offers = resources_of(stack_export(project), LIVE_OFFER)
        assert len(offers) == COUNT
        assert {o["outputs"]["status"] for o in offers} == {"succeeded"}
        assert [golive_posts(emulator, n) for n in names] == [1] * COUNT
        assert len(emulator.admin.requests(method="POST")) == COUNT
        assert wall < 2 * GOLIVE_SECONDS, f"{wall:.1f} s is not within 2x one go-live"
    finally:
        project.remove()
