"""Reading one Product Ingestion go-live over real HTTP: the job, then its live submission.

The reader is what every wait and refresh of this backend goes through, so the cases where the
job and the submission tell different stories are pinned here against the emulator.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from marketplace_emulator.harness import RunningEmulator
from pulumi_marketplace_provider.partner_portal import StaticToken
from pulumi_marketplace_provider.partner_portal.models import OperationStatus
from pulumi_marketplace_provider.product_ingestion import IngestionClient
from pulumi_marketplace_provider.product_ingestion.golive import GoLiveReader
from tests.emulator._ingestion import Ingestion

PUB, OFFER = "contoso", "reader"
STEPS = [{"id": "live", "stepName": "Live", "seconds": 60}]


def _setup(factory: Callable[..., RunningEmulator]) -> tuple[RunningEmulator, IngestionClient]:
    emu = factory(time_scale=50.0)
    emu.admin.put_offer(PUB, OFFER, state="signoff", goLiveSteps=STEPS,
                        productIngestion={"jobStartDelaySeconds": 1, "liveLagSeconds": 10})
    return emu, IngestionClient(emu.base_url, StaticToken(emu.token),
                                api_version="2022-03-01-preview2")


def test_a_job_refused_because_the_same_preview_is_going_live_follows_it_to_its_end(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    emu, client = _setup(emulator_factory)
    guid = emu.admin.product_guid(PUB, OFFER)
    Ingestion(emu).go_live(guid)  # someone else, in Partner Center
    product = client.find_product(OFFER)
    preview = next(s for s in client.list_submissions(product) if s.target == "preview")
    job = client.configure_live(product, preview.id)  # ours, a moment later
    reader = GoLiveReader(client, product)
    ref = client.job_ref(job.job_id)
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        op, _ = reader.get_operation(ref)
        seen.append(op.status)
        if op.is_terminal:
            break
        time.sleep(0.2)
    refused = client.get_job(job.job_id)[0]
    assert refused.result == "failed" and refused.mentions("in progress submission")
    # Followed the go-live already running, and kept following it after it ended.
    assert seen[-1] == OperationStatus.SUCCEEDED, seen
    assert OperationStatus.FAILED not in seen
    op, _ = reader.get_operation(ref)
    assert op.status == OperationStatus.SUCCEEDED
    assert op.extra["submissionId"] == preview.id
    client.close()


def test_the_status_follows_the_live_submission_after_the_job_succeeded(
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    _emu, client = _setup(emulator_factory)
    product = client.find_product(OFFER)
    preview = next(s for s in client.list_submissions(product) if s.target == "preview")
    job = client.configure_live(product, preview.id)
    reader = GoLiveReader(client, product)
    ref = client.job_ref(job.job_id)
    saw_job_done_live_running = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        op, _ = reader.get_operation(ref)
        if op.extra.get("jobResult") == "succeeded" and op.status == OperationStatus.RUNNING:
            saw_job_done_live_running = True
        if op.is_terminal:
            break
        time.sleep(0.1)
    assert saw_job_done_live_running  # the job ended first; the resource kept waiting
    assert op.status == OperationStatus.SUCCEEDED
    client.close()
