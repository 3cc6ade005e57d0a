"""Many offers in one `pulumi up` of the real Pulumi CLI (the engine itself, not its double).

A YAML program with N LiveOffers (30-second go-lives, the emulator on the system clock) goes
live through the plugin under the CLI that tools/pulumi-cli/ensure.sh provides. The engine runs
at most `--parallel` steps at once (default 4 per CPU), so the run is made with `--parallel N`
(what the README tells users with many offers) and, in the full run, with the default.
Target: `--parallel N` within 2x one go-live, exactly one go-live POST per offer.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import PUBLISHER, TOKEN, Emulator, Table, golive_steps, log
from tests.e2e.cli import CliProject, ensure_cli
from tests.e2e.helpers import LIVE_OFFER, env_for, resources_of, stack_export, yaml_offers_project


@dataclass(frozen=True)
class RealCliConfig:
    n: int = 20
    duration: float = 30.0
    parallel: tuple[int | None, ...] = (20, None)  # None: the engine's default
    target_ratio: float = 2.0


QUICK = RealCliConfig(parallel=(20,))


def _one(cli_bin: Path, cfg: RealCliConfig, parallel: int | None, work: Path) -> dict[str, Any]:
    names = [f"offer-{i:02d}" for i in range(cfg.n)]
    with Emulator(time_scale=1.0) as emulator:
        for name in names:
            emulator.admin.put_offer(PUBLISHER, name, state="signoff",
                                     goLiveSteps=golive_steps(cfg.duration))
        project_dir = yaml_offers_project(
            work / "yaml",
            {n: {"properties": {"publisherId": PUBLISHER, "offerId": n, "triggers": ["1"]}}
             for n in names},
            name="bench-real-cli",
        )
        project = CliProject(project_dir, env_for(cli_bin, work)).init(
            {"marketplace:endpoint": emulator.base_url}, {"marketplace:accessToken": TOKEN})
        args = ["up", "--stack", "dev", "--yes", "--skip-preview"]
        if parallel:
            args += ["--parallel", str(parallel)]
        t0 = time.monotonic()
        done = project.run(*args, check=False, timeout=1200)
        wall = time.monotonic() - t0
        offers = resources_of(stack_export(project), LIVE_OFFER)
        posts = emulator.admin.requests(method="POST")
        requests = emulator.admin.requests()
        project.remove()
    ratio = wall / cfg.duration
    succeeded = sum(1 for o in offers if o["outputs"].get("status") == "succeeded")
    once = len(posts) == cfg.n and succeeded == cfg.n
    met = done.returncode == 0 and once and (parallel is None or ratio <= cfg.target_ratio)
    return {
        "n": cfg.n, "parallel": parallel, "wall_s": wall, "ratio": ratio,
        "exit_code": done.returncode, "succeeded": succeeded, "golive_posts": len(posts),
        "requests_per_offer": len(requests) / cfg.n, "met": met,
    }


def run(cfg: RealCliConfig) -> tuple[Table, dict[str, Any]]:
    cli_bin = ensure_cli()
    table = Table(
        f"Real Pulumi CLI: {cfg.n} LiveOffers in one `pulumi up` (YAML, plugin), "
        f"{cfg.duration:g} s go-lives",
        ["--parallel", "wall", "÷ one go-live", "succeeded", "go-live POSTs",
         "requests/offer", f"target ≤ {cfg.target_ratio:g}x"],
    )
    runs = []
    for parallel in cfg.parallel:
        label = str(parallel) if parallel else "default"
        log(f"real CLI: {cfg.n} offers, --parallel {label}")
        with tempfile.TemporaryDirectory(prefix="bench-real-cli-") as tmp:
            result = _one(cli_bin, cfg, parallel, Path(tmp))
        runs.append(result)
        if parallel is None:
            verdict = ("n/a (waves; each offer live once)" if result["met"]
                       else "MISSED (not every offer went live exactly once)")
        else:
            verdict = "met" if result["met"] else "MISSED"
        if not result["met"] and parallel:
            verdict += (f" (exit {result['exit_code']}, {result['golive_posts']} POSTs, "
                        f"{result['ratio']:.2f}x)")
        table.add(label, f"{result['wall_s']:.1f} s", f"{result['ratio']:.2f}x",
                  f"{result['succeeded']}/{cfg.n}", result["golive_posts"],
                  f"{result['requests_per_offer']:.1f}", verdict)
    table.notes.append(
        "The engine runs at most --parallel steps at once (default 4 per CPU): with the default, "
        "offers go live in waves; the target applies to --parallel N.")
    return table, {"config": {"n": cfg.n, "duration": cfg.duration,
                              "target_ratio": cfg.target_ratio}, "runs": runs}
