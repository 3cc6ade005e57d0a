"""A bounded chaos run inside `make test`, and proof that its invariant checks can fail.

`make chaos` runs many more seeds (tests/faults/chaos.py); this runs ten against the Cloud
Partner Portal API, five per flavour, each with every phase (create, refresh, update, destroy,
final up). Run i is guaranteed fault kind i mod 9, disruption i mod 8 and episode i mod 5, so
ten runs cover every fault kind (a late go-live POST among them), every disruption (emulator
restart and kill, provider kill, CLI kill, throttling, Cancel during the POST, a cancel in the
portal, an Azure AD outage) and every episode (endpoint change, failed and canceled publish,
rename, replace).

Then eight against Partner Center's Product Ingestion API (tests/faults/chaos_ingestion.py),
four per flavour: its 8 fault kinds (no `nopointer`; 503 and malformed JSON also on the job's
status, a dropped and a late-applied configure answer), the same 8 disruptions and its 8
episodes (endpoint change, failed and canceled publish to preview, a preview still publishing,
a failed go-live job, a go-live started in Partner Center, rename, replace).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests

from tests.faults import chaos_ingestion
from tests.faults.chaos import (
    API,
    DISRUPTIONS,
    EPISODES,
    FAULT_KINDS,
    OFFER,
    PI,
    PUBLISHER,
    TOKEN,
    ChaosRun,
    Summary,
    run_chaos,
)
from tests.faults.support import crash_in, exception_class

BOUNDED_RUNS = 10
BOUNDED_SEED = int(os.environ.get("CHAOS_SEED", "7000"))
BOUNDED_INGESTION_RUNS = 8


def test_bounded_chaos_keeps_every_invariant(capsys: pytest.CaptureFixture[str]) -> None:
    summary = run_chaos(BOUNDED_RUNS, seed=BOUNDED_SEED, workers=BOUNDED_RUNS, profile="full",
                        max_faults=3, max_storm=3)
    with capsys.disabled():
        print(f"\n{summary.line()}")
    assert summary.violations == [], "\n".join(summary.violations)
    assert len(summary.reports) == BOUNDED_RUNS
    assert {r.flavour for r in summary.reports} == {"dynamic", "plugin"}
    faults = summary.faults
    assert all(faults[kind] > 0 for kind in FAULT_KINDS), faults
    assert summary.total("restarts") > 0
    assert summary.total("kills") > 0
    assert summary.total("terminates") > 0
    assert summary.total("intents") >= 2 * BOUNDED_RUNS
    assert summary.total("started") == summary.total("intents")
    assert summary.total("refused") == 0
    assert len(DISRUPTIONS) <= BOUNDED_RUNS
    assert all(episodes(summary).get(kind, 0) > 0 for kind in EPISODES), episodes(summary)


def test_bounded_chaos_keeps_every_invariant_through_product_ingestion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = run_chaos(BOUNDED_INGESTION_RUNS, seed=BOUNDED_SEED,
                        workers=BOUNDED_INGESTION_RUNS, profile="full", max_faults=3,
                        max_storm=3, apis=(PI,))
    with capsys.disabled():
        print(f"\n{summary.line()}")
    assert summary.violations == [], "\n".join(summary.violations)
    assert len(summary.reports) == BOUNDED_INGESTION_RUNS
    assert {r.api for r in summary.reports} == {PI}
    assert {r.flavour for r in summary.reports} == {"dynamic", "plugin"}
    faults = summary.faults
    assert all(faults[kind] > 0 for kind in chaos_ingestion.FAULT_KINDS), faults
    assert faults["nopointer"] == 0
    assert summary.total("restarts") > 0
    assert summary.total("kills") > 0
    assert summary.total("terminates") > 0
    assert summary.total("intents") >= 2 * BOUNDED_INGESTION_RUNS
    assert summary.total("started") == summary.total("intents")
    assert summary.total("refused") == 0
    assert len(chaos_ingestion.DISRUPTIONS) <= BOUNDED_INGESTION_RUNS
    assert len(chaos_ingestion.EPISODES) <= BOUNDED_INGESTION_RUNS
    seen = episodes(summary)
    assert all(seen.get(kind, 0) > 0 for kind in chaos_ingestion.EPISODES), seen


def episodes(summary: Summary) -> dict[str, int]:
    out: dict[str, int] = {}
    for report in summary.reports:
        for kind, count in report.episodes.items():
            out[kind] = out.get(kind, 0) + count
    return out


class _GoesLiveTwice(ChaosRun):
    """A 'provider' that sends one go-live too many: the checks must say so."""

    def script(self) -> None:
        self.report.intents = 1
        self.converge("converge-create")
        self.publish_to_signoff()
        answer = requests.post(
            f"{self.emu.base_url}/api/publishers/{PUBLISHER}/offers/{OFFER}/golive",
            params=API, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10,
        )
        assert answer.status_code == 202, answer.text
        self.converge("converge-again")


class _ForgetsTheOperation(ChaosRun):
    """State that names an operation the portal never ran, and claims a success."""

    def script(self) -> None:
        self.report.intents = 1
        self.converge("converge-create")
        eng = self.eng
        assert eng is not None
        data = json.loads(eng.state_path.read_text())
        for res in data["checkpoint"]["latest"]["resources"]:
            if res["urn"].endswith("::live"):
                res["outputs"]["operationId"] = "00000000-0000-0000-0000-000000000000"
        eng.state_path.write_text(json.dumps(data))
        # A preview changes nothing (refresh would repair it from the offer's operations).
        self.command("preview", lambda e: e.preview(self.program()), chaos=False)


class _GoesLiveTwiceThroughIngestion(ChaosRun):
    """The same through Product Ingestion: a second configure POST of a new preview, then
    state that names a job the service never ran."""

    def script(self) -> None:
        self.report.intents = 1
        self.converge("converge-create")
        self.publish_to_signoff()  # a new preview
        admin = self.emu.admin
        guid = admin.product_guid(PUBLISHER, OFFER)
        [preview] = [s for s in admin.ingestion_submissions((PUBLISHER, OFFER))
                     if s["target"]["targetType"] == "preview"]
        answer = requests.post(
            f"{self.emu.base_url}{chaos_ingestion.CONFIGURE}",
            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10,
            json={"$schema": chaos_ingestion.CONFIGURE_SCHEMA, "resources": [{
                "$schema": chaos_ingestion.SUBMISSION_SCHEMA, "id": preview["id"],
                "product": f"product/{guid}", "target": {"targetType": "live"}}]},
        )
        assert answer.status_code == 202, answer.text
        self.converge("converge-again")
        eng = self.eng
        assert eng is not None
        data = json.loads(eng.state_path.read_text())
        for res in data["checkpoint"]["latest"]["resources"]:
            if res["urn"].endswith("::live"):
                res["outputs"]["operationId"] = "00000000-0000-0000-0000-000000000000"
        eng.state_path.write_text(json.dumps(data))
        self.command("preview", lambda e: e.preview(self.program()), chaos=False)


def test_the_checks_catch_a_second_go_live(tmp_path: Path) -> None:
    report = _GoesLiveTwice(1, "dynamic", "full", tmp_path).run()
    assert any("2 go-live POSTs started for 1 intent" in v for v in report.violations), (
        report.violations
    )


def test_the_checks_catch_state_that_names_no_real_operation(tmp_path: Path) -> None:
    report = _ForgetsTheOperation(2, "plugin", "full", tmp_path).run()
    assert any("not a go-live of the offer" in v or "the latest go-live is" in v
               for v in report.violations), report.violations


DYNAMIC_KEYERROR = """Traceback (most recent call last):
  File "/x/pulumi/dynamic/__main__.py", line 84, in wrapper
    return fn(self, request, context)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^
KeyError: 'operationId'
"""
DYNAMIC_EXPECTED = """Traceback (most recent call last):
  File "/x/pulumi_marketplace_provider/dynamic.py", line 73, in _run
    raise live_offer.LiveOfferError(str(exc)) from None
pulumi_marketplace_provider.live_offer.LiveOfferError: offer contoso/vm did not go live.
The Partner Portal go-live op1 failed (status 'failed').
KeyError: this line is part of the portal's message, not a traceback
"""


def test_crash_detection_reads_both_hosts_error_shapes() -> None:
    assert exception_class(DYNAMIC_KEYERROR) == "KeyError"
    assert crash_in(DYNAMIC_KEYERROR) is not None
    assert exception_class(DYNAMIC_EXPECTED) == "LiveOfferError"
    assert crash_in(DYNAMIC_EXPECTED) is None
    assert crash_in("Unexpected <class 'TypeError'>: 'NoneType' object is not iterable")
    assert crash_in("offer contoso/vm did not go live.\nNext: publish again") is None
    assert crash_in("NETGUARD-BLOCKED: connect to '192.0.2.1'") is not None


def test_the_checks_catch_a_second_go_live_and_a_wrong_job_through_product_ingestion(
    tmp_path: Path,
) -> None:
    report = _GoesLiveTwiceThroughIngestion(3, "plugin", "full", tmp_path, api=PI).run()
    assert any("2 go-live POSTs started for 1 intent" in v for v in report.violations), (
        report.violations
    )
    assert any("not a go-live of the offer" in v for v in report.violations), report.violations
