"""Under the real engine, the dynamic provider records the go-live it started when its wait
limit passes (ErrorResourceInitFailed set through the RPC context, see `init_error`), and the
next `up` resumes it: one go-live POST in all, and no traceback in what the user reads."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from marketplace_emulator.harness import RunningEmulator
from tests.e2e.cli import REPO, ensure_cli
from tests.lifecycle.support import FAST, PUBLISHER, golive_posts, operation_status

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def cli_bin() -> Path:
    return ensure_cli()


def test_a_wait_limit_records_the_go_live_and_the_next_up_resumes_it(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    emulator = emulator_factory(time_scale=FAST)
    emulator.admin.put_offer(
        PUBLISHER,
        "contoso-vm",
        state="signoff",
        stepEstimates=False,
        goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 200}],
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.e2e.partial_state_run",
            str(cli_bin),
            str(tmp_path / "pulumi"),
            emulator.base_url,
            emulator.token,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "still running after the wait limit" in report["first"]
    assert "Traceback" not in report["first"]
    (recorded,) = report["recorded"]
    assert recorded["status"] == "running" and recorded["operationId"]
    assert report["pending"] == []
    assert report["second"]["operationId"] == recorded["operationId"]
    assert report["second"]["status"] == "succeeded"
    assert operation_status(emulator, "contoso-vm", recorded["operationId"]) == "succeeded"
    assert golive_posts(emulator, "contoso-vm") == 1
