"""cloudpub (release-engineering's Product Ingestion client, from PyPI) run unchanged against the
emulator over real HTTPS.

cloudpub has no setting for its hosts: `PartnerPortalSession.make_graph_api_session` builds
`https://graph.microsoft.com/rp/product-ingestion` in code and the token comes from the class
constant `https://login.microsoftonline.com/{AZURE_TENANT_ID}/oauth2/token`. Rather than patch
either, the test sets what every requests-based client honours, `HTTPS_PROXY` and
`REQUESTS_CA_BUNDLE`, to a TLS-intercepting proxy on loopback (tests/intercepting_proxy.py)
that serves `graph.microsoft.com` from the emulator and `login.microsoftonline.com` from a fake
v1 token endpoint (tests/fake_identity.py). cloudpub's code, constants and HTTPS retry adapter
run exactly as in production. Its sleeps are its own `retry_interval`/`retry_timeout`, set
small, with the emulator clock fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudpub.error import CertificationError, ConflictError
from cloudpub.ms_azure import AzureService

from marketplace_emulator.harness import RunningEmulator
from tests.conftest import EmulatorFactory
from tests.fake_identity import FakeAzureADv1
from tests.intercepting_proxy import InterceptingProxy

from ._util import FAST

PUB, OFFER = "contoso", "contoso-vm"
GRAPH_TOKEN = "graph-token-for-cloudpub"  # fake
CREDENTIALS = {
    "AZURE_TENANT_ID": "00000000-0000-0000-0000-0000000000aa",
    "AZURE_CLIENT_ID": "11111111-0000-0000-0000-0000000000bb",
    "AZURE_API_SECRET": "fake-secret",
}
# Job starts 5 s after the POST, live submission takes FAST's 20 s, the job ends 10 s earlier.
INGESTION = {"jobStartDelaySeconds": 5, "liveLagSeconds": 10}
SCALE = 50.0  # emulated seconds per real second: a go-live takes about half a real second


@pytest.fixture
def graph(
    emulator_factory: EmulatorFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RunningEmulator, FakeAzureADv1, InterceptingProxy]]:
    """Emulator as graph.microsoft.com, a fake AAD as login.microsoftonline.com, via the proxy."""
    emu = emulator_factory(
        {"offers": [{"publisherId": PUB, "offerId": OFFER, "state": "signoff",
                     "productIngestion": INGESTION, **FAST}]},
        tokens=(GRAPH_TOKEN,), time_scale=SCALE,
    )
    emu_host, emu_port = emu.base_url.removeprefix("http://").rsplit(":", 1)
    with FakeAzureADv1(tokens=[GRAPH_TOKEN]) as aad:
        routes = {"graph.microsoft.com": (emu_host, int(emu_port)),
                  "login.microsoftonline.com": aad.address}
        with InterceptingProxy(tmp_path, routes) as proxy:
            for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
                monkeypatch.delenv(name, raising=False)
            for name, value in proxy.env.items():
                monkeypatch.setenv(name, value)
            yield emu, aad, proxy


def _service() -> AzureService:
    return AzureService(CREDENTIALS, retry_interval=0.1, retry_timeout=30)


def test_cloudpub_takes_an_offer_live(graph) -> None:
    emu, aad, proxy = graph
    svc = _service()
    # Resolve the product by the CPP offer id (cloudpub lists products, matches identity).
    product_id = svc.get_productid(OFFER)
    assert product_id == emu.admin.product_guid(PUB, OFFER)
    product = svc.get_product(product_id, "preview")
    assert product.id == product_id
    preview = svc.get_submission_state(product_id, "preview")
    assert preview is not None and svc.get_submission_state(product_id, "live") is None
    # Nothing in flight, then go live: cloudpub reads the preview, POSTs it as live, waits.
    svc.wait_active_publishing(product_id)
    status = svc.submit_to_status(product_id, "live")
    assert status.job_status == "completed" and status.job_result == "succeeded"
    # The job ended first; the live submission is still running (the provider must follow it).
    live = svc.get_submission_state(product_id, "live")
    assert live is not None and live.status == "running" and live.id == preview.id
    svc.wait_active_publishing(product_id)  # polls until every submission completed
    live = svc.get_submission_state(product_id, "live")
    assert live is not None and (live.status, live.result) == ("completed", "succeeded")
    again = svc.get_submission_state(product_id, "preview")
    assert again is not None and again.id == live.id  # live now: preview id == live id
    assert svc.get_product(product_id, "live").id == product_id

    # It spoke the real wire: v1 token for Graph, $version on every call, one configure.
    assert aad.seen[0].path == f"/{CREDENTIALS['AZURE_TENANT_ID']}/oauth2/token"
    assert aad.seen[0].form["resource"] == ["https://graph.microsoft.com"]
    assert set(proxy.connects) == {"login.microsoftonline.com", "graph.microsoft.com"}
    log = emu.admin.requests()
    assert log and all("%24version=2022-07-01" in r["query"] or "$version=2022-07-01"
                       in r["query"] for r in log)
    assert emu.admin.configure_posts() == 1
    jobs = emu.admin.ingestion_jobs((PUB, OFFER))
    assert [j["jobResult"] for j in jobs if j["internal"]["origin"] == "api"] == ["succeeded"]


def test_cloudpub_rides_out_a_5xx_on_job_status(graph) -> None:
    emu, _, _ = graph
    emu.admin.add_fault("status", r"/configure/[^/]+/status$", "GET", status=503, times=1)
    svc = _service()
    status = svc.submit_to_status(emu.admin.product_guid(PUB, OFFER), "live")
    assert status.job_result == "succeeded"
    served = [r for r in emu.admin.requests(path="/status$") if r["fault"] == "status"]
    assert [r["status"] for r in served] == [503]  # urllib3 retried it, as in production


def test_cloudpub_sees_a_certification_failure(graph) -> None:
    emu, _, _ = graph
    emu.admin.fail_next_golive((PUB, OFFER), [{
        "code": "internalServerError", "message": "Submission failed.",
        "details": [{"code": "invalidState",
                     "message": "Certification failed: the image has no SSH daemon."}],
    }])
    svc = _service()
    product_id = emu.admin.product_guid(PUB, OFFER)
    with pytest.raises(CertificationError, match="SSH daemon"):
        svc.submit_to_status(product_id, "live")
    lives = [s for s in svc.get_submissions(product_id) if s.target.targetType == "live"]
    assert [(s.status, s.result) for s in lives] == [("completed", "failed")]


def test_cloudpub_waits_while_a_preview_is_publishing(graph) -> None:
    emu, _, _ = graph
    product_id = emu.admin.product_guid(PUB, OFFER)
    emu.admin.new_preview((PUB, OFFER), running=True)
    svc = _service()
    with pytest.raises(ConflictError, match="already being published to preview"):
        svc.ensure_can_publish(product_id)
    svc.wait_active_publishing(product_id)  # the preview completes on the fast clock
    assert svc.submit_to_status(product_id, "live").job_result == "succeeded"
