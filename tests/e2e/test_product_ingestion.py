"""The Product Ingestion backend under the real CLI (`marketplace:api: productIngestion`).

A YAML program through the plugin, and a Python inline program through the dynamic provider,
against the emulator's `/rp/product-ingestion` routes: `up` POSTs `configure` once and ends
when the live submission does, `refresh` changes nothing, `destroy` leaves the offer live, a
custom timeout shorter than the go-live fails saying it still runs and the next `up` resumes it,
and `pulumi import` adopts a live offer with no POST. Counted from the emulator's records.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from marketplace_emulator.harness import RunningEmulator
from pulumi_marketplace import LiveOffer
from tests.e2e.cli import CliProject, ensure_cli, inline_stack
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
from tests.lifecycle.support import PUBLISHER

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

OFFER = "contoso-graph"
SCALE = 10.0
OUTPUTS = {"status": "${live.status}", "operationId": "${live.operationId}",
           "jobResult": "${live.jobResult}", "submissionId": "${live.submissionId}"}


@pytest.fixture(scope="module")
def cli_bin() -> Path:
    assert PLUGIN_EXE.exists(), f"{PLUGIN_EXE} missing: run `make setup` (pip install -e .)"
    return ensure_cli()


def seeded(factory: Callable[..., RunningEmulator], golive_seconds: float,
           state: str = "signoff") -> RunningEmulator:
    emulator = factory(time_scale=SCALE)
    emulator.admin.put_offer(
        PUBLISHER, OFFER, state=state, goLiveSteps=steps(golive_seconds), stepEstimates=False,
        productIngestion={"jobStartDelaySeconds": 5, "liveLagSeconds": 20},
    )
    return emulator


def live_jobs(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return [j for j in emulator.admin.ingestion_jobs((PUBLISHER, OFFER))
            if j["internal"]["target"] == "live"]


def project_for(cli_bin: Path, tmp_path: Path, emulator: RunningEmulator,
                options: dict[str, Any] | None = None, offers: bool = True) -> CliProject:
    spec: dict[str, Any] = {"properties": {"offerId": OFFER, "triggers": ["1.0.0"]}}
    if options:
        spec["options"] = options
    project_dir = yaml_offers_project(tmp_path / "yaml", {"live": spec} if offers else {},
                                      outputs=OUTPUTS if offers else None)
    config, secrets = emulator_config(emulator)
    config["marketplace:api"] = "productIngestion"
    return CliProject(project_dir, env_for(cli_bin, tmp_path)).init(config, secrets)


def test_plugin_up_refresh_destroy_through_product_ingestion(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    emulator = seeded(emulator_factory, 100.0)
    project = project_for(cli_bin, tmp_path, emulator)
    try:
        t0 = time.monotonic()
        up = project.up()
        print(f"\n--- up ({time.monotonic() - t0:.1f} s)\n{up.stdout[-2500:]}")
        outputs = project.outputs()
        [job] = live_jobs(emulator)
        assert outputs["status"] == "succeeded"
        assert outputs["operationId"] == job["jobId"]
        assert outputs["jobResult"] == "succeeded"
        assert "Configure job" in up.stdout or "Live submission" in up.stdout  # progress
        assert emulator.admin.configure_posts() == 1
        refresh = project.refresh()
        assert "~ 1 updated" not in refresh.stdout and "~ " not in refresh.stdout.split(
            "Resources:")[-1]
        project.destroy()
        live = [s for s in emulator.admin.ingestion_submissions((PUBLISHER, OFFER))
                if s["target"]["targetType"] == "live"]
        assert [s["result"] for s in live] == ["succeeded"]
        assert emulator.admin.configure_posts() == 1
    finally:
        project.remove()


def test_custom_timeout_then_up_resumes_the_same_job(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    emulator = seeded(emulator_factory, 200.0)
    project = project_for(cli_bin, tmp_path, emulator,
                          options={"customTimeouts": {"create": "5s"}})
    try:
        first = project.up(check=False)
        text = first.stdout + first.stderr
        assert first.returncode != 0 and "still running" in text
        [job] = live_jobs(emulator)
        recorded = resources_of(stack_export(project), LIVE_OFFER)[0]["outputs"]
        assert recorded["operationId"] == job["jobId"]
        for _ in range(12):
            if project.up(check=False).returncode == 0:
                break
        outputs = project.outputs()
        assert outputs["status"] == "succeeded" and outputs["operationId"] == job["jobId"]
        assert len(live_jobs(emulator)) == 1 and emulator.admin.configure_posts() == 1
    finally:
        project.remove()


def test_import_adopts_a_live_product_with_no_post(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    emulator = seeded(emulator_factory, 20.0, state="live")
    project = project_for(cli_bin, tmp_path, emulator, offers=False)
    try:
        project.run("import", "--stack", "dev", "--yes", "--generate-code=false", LIVE_OFFER,
                    "adopted", f"{PUBLISHER}/{OFFER}")
        [offer] = resources_of(stack_export(project), LIVE_OFFER)
        assert offer["outputs"]["adopted"] is True and offer["outputs"]["status"] == "succeeded"
        assert offer["outputs"]["productId"].startswith("product/")
        assert emulator.admin.configure_posts() == 0
    finally:
        project.remove()


def test_dynamic_provider_goes_live_through_product_ingestion(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    emulator = seeded(emulator_factory, 40.0)

    def program() -> None:
        offer = LiveOffer("live", publisher_id=PUBLISHER, offer_id=OFFER, triggers=["1"])
        pulumi.export("status", offer.status)
        pulumi.export("operationId", offer.operation_id)

    config, secrets = emulator_config(emulator)
    config["marketplace:api"] = "productIngestion"
    with inline_stack(env_for(cli_bin, tmp_path), program, project="e2e-pi-dynamic",
                      config=config, secrets=secrets) as stack:
        result = stack.up(on_output=print)
        [job] = live_jobs(emulator)
        assert result.outputs["status"].value == "succeeded"
        assert result.outputs["operationId"].value == job["jobId"]
        stack.destroy(on_output=print)
    assert emulator.admin.configure_posts() == 1
