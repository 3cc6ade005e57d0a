"""The shared machinery on the Product Ingestion routes: faults, throttling, request log,
state file across a restart, admin routes and reset."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from marketplace_emulator.harness import AdminError, EmulatorProcess, RunningEmulator
from tests.conftest import EmulatorFactory

from ._ingestion import Ingestion, live_submission, number, seed_offer
from ._util import FAST, OFFER, PUB, frozen


@pytest.fixture
def pi(emulator: RunningEmulator) -> Ingestion:
    frozen(emulator)
    return Ingestion(emulator)


def test_dropped_configure_answer_is_applied(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    emulator.admin.add_fault("drop", "/rp/product-ingestion/configure$", "POST")
    with pytest.raises(requests.ConnectionError):
        pi.configure(live_submission(guid, pi.preview(guid)["id"]))
    entry = emulator.admin.requests(method="POST")[-1]
    assert entry["status"] is None and entry["fault"] == "drop" and entry["applied"] is True
    # The go-live started although the client got no answer: the submissions tell.
    assert [e[0] for e in pi.entries(guid)] == ["draft", "live", "preview"]
    assert emulator.admin.configure_posts() == 1
    api_jobs = [j for j in emulator.admin.ingestion_jobs(guid) if j["internal"]["origin"] == "api"]
    assert len(api_jobs) == 1 and api_jobs[0]["jobStatus"] == "notStarted"


def test_5xx_on_job_status_then_recovery(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    job = pi.go_live(guid)["jobId"]
    emulator.admin.add_fault("status", "/configure/.*/status$", "GET", status=503,
                             retry_after=2, times=2)
    for _ in range(2):
        r = pi.get(f"configure/{job}/status")
        assert r.status_code == 503 and r.headers["Retry-After"] == "2"
        assert r.json() == {"error": {"code": "serviceUnavailable", "message": r.json()["error"][
            "message"], "details": []}}
    assert pi.job(job)["jobId"] == job


def test_reset_fault_is_not_applied(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    emulator.admin.add_fault("reset", "configure$", "POST")
    with pytest.raises(requests.ConnectionError):
        pi.configure(live_submission(guid, None))
    assert [e[0] for e in pi.entries(guid)] == ["draft", "preview"]


def test_delay_fault(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    emulator.admin.add_fault("delay", f"submission/{guid}$", "GET", delay=0.3)
    started = time.monotonic()
    assert pi.get(f"submission/{guid}").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_throttled_like_the_cpp_routes(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory()
    guid = seed_offer(emu)
    emu.admin.set_throttle(1, burst=2, retry_after_seconds=7)
    pi = Ingestion(emu)
    codes = [pi.get(f"product/{guid}").status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and 429 in codes[2:]
    r = pi.get(f"product/{guid}")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert r.json()["error"]["code"] == "tooManyRequests" and r.json()["error"]["details"] == []
    assert emu.admin.requests()[-1]["fault"] == "throttle"


def test_request_log_has_the_same_fields(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    pi.get("product", externalId=OFFER, **{"$version": "2022-07-01"})
    pi.go_live(guid)
    rows = emulator.admin.requests(path="^/rp/product-ingestion/")
    assert [(r["method"], r["path"].split("/")[3]) for r in rows] == [
        ("GET", "product"), ("GET", "submission"), ("POST", "configure")]
    assert set(rows[0]) == {"seq", "time", "emulatedTime", "method", "path", "query", "status",
                            "fault", "applied", "headers"}
    assert "externalId=contoso-vm" in rows[0]["query"] and rows[-1]["status"] == 202


def test_restart_keeps_products_submissions_and_jobs(tmp_path: Path) -> None:
    seed = {"offers": [{"publisherId": PUB, "offerId": OFFER, "state": "signoff", **FAST,
                        "productIngestion": {"jobStartDelaySeconds": 5, "liveLagSeconds": 10}}]}
    with EmulatorProcess(seed=seed, state_file=tmp_path / "state.json") as proc:
        emu = proc.running()
        emu.admin.set_clock(0)
        pi = Ingestion(emu)
        guid = emu.admin.product_guid(PUB, OFFER)
        preview = pi.preview(guid)
        job = pi.go_live(guid)["jobId"]
        emu.admin.advance(6)
        before = pi.entries(guid)
        proc.restart(kill=True)  # SIGKILL: only what was saved survives
        emu = proc.running()
        pi = Ingestion(emu)
        assert emu.admin.product_guid(PUB, OFFER) == guid
        assert pi.preview(guid)["id"] == preview["id"]
        assert pi.entries(guid) == before
        assert pi.job(job)["jobStatus"] == "running"
        emu.admin.advance(30)
        assert pi.job(job)["jobResult"] == "succeeded"
        assert pi.entries(guid)[1] == ("live", number(preview["id"]), "completed", "succeeded")
        assert emu.admin.configure_posts() == 1  # the request log survived too


def test_admin_routes(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    dump = emulator.admin.ingestion_product(guid)
    assert dump == emulator.admin.ingestion_product((PUB, OFFER))
    assert dump["product"]["id"] == f"product/{guid}" and dump["offerId"] == OFFER
    assert dump["config"]["jobStartDelaySeconds"] == 5
    assert [p["product"]["id"] for p in emulator.admin.ingestion_products()] == [f"product/{guid}"]
    running = emulator.admin.new_preview(guid, running=True)
    assert running["status"] == "notStarted"
    assert emulator.admin.ingestion_submissions(guid)[-1]["id"] == running["id"]
    with pytest.raises(AdminError) as bad:
        emulator.admin.fail_next_golive(guid, [{"message": "no code"}])
    assert bad.value.status == 400
    with pytest.raises(AdminError) as missing:
        emulator.admin.ingestion_product("00000000-0000-0000-0000-000000000000")
    assert missing.value.status == 404
    assert emulator.admin.state()["ingestion"][0]["product"]["id"] == f"product/{guid}"


def test_reseed_and_reset_forget_the_history(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    pi.go_live(guid)
    assert "live" in [e[0] for e in pi.entries(guid)]
    seed_offer(emulator)  # PUT again: history re-synthesized from `state`
    assert [e[0] for e in pi.entries(guid)] == ["draft", "preview"]
    emulator.admin.reset()
    assert pi.ok(pi.get("product")) == {"value": []}


def test_bad_seed_block_names_the_field(emulator: RunningEmulator) -> None:
    with pytest.raises(AdminError) as bad:
        emulator.admin.put_offer(PUB, OFFER, productIngestion={"productGuid": "nope"})
    assert bad.value.body["error"]["field"] == "productIngestion.productGuid"
    with pytest.raises(AdminError) as unknown:
        emulator.admin.put_offer(PUB, OFFER, productIngestion={"speed": 1})
    assert unknown.value.body["error"]["field"] == "productIngestion.speed"
