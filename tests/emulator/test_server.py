"""The HTTP server itself: keep-alive under concurrency, TLS, chunked bodies, clean stop."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import trustme

from marketplace_emulator.app import EmulatorOptions
from marketplace_emulator.harness import EmulatorProcess
from marketplace_emulator.seed import parse_seed
from marketplace_emulator.server import EmulatorServer

from ._util import OFFER, PUB


def _seed(n: int) -> dict:
    return {"offers": [{"publisherId": PUB, "offerId": f"o{i}", "state": "signoff"}
                       for i in range(n)]}


def test_many_keep_alive_connections() -> None:
    """50 persistent connections, 2000 requests: all answered, few connections opened."""
    offers = 50
    with EmulatorServer(EmulatorOptions(seed=parse_seed(_seed(offers)))) as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        errors: list[str] = []

        def worker(i: int) -> int:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            hdrs = {"Authorization": "Bearer emulator-token"}
            done = 0
            conn.request("POST", f"/api/publishers/{PUB}/offers/o{i}/golive?api-version=2017-10-31",
                         headers=hdrs)
            r = conn.getresponse()
            r.read()
            if r.status != 202:
                errors.append(f"golive {r.status}")
            loc = r.getheader("Location") or ""
            for _ in range(39):
                conn.request("GET", loc, headers=hdrs)
                r = conn.getresponse()
                body = r.read()
                if r.status != 200 or "status" not in json.loads(body):
                    errors.append(f"poll {r.status}")
                done += 1
            conn.close()
            return done + 1

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=offers) as pool:
            total = sum(pool.map(worker, range(offers)))
        elapsed = time.monotonic() - t0
        assert errors == []
        assert total == 2000
        assert elapsed < 15, elapsed
        log = server.emulator.requests.entries(method="POST")
        assert len(log) == offers


def test_concurrent_golive_exactly_one_accepted() -> None:
    with EmulatorServer(EmulatorOptions(seed=parse_seed(_seed(1)))) as server:
        url = f"{server.base_url}/api/publishers/{PUB}/offers/o0/golive?api-version=2017-10-31"
        hdrs = {"Authorization": "Bearer emulator-token"}
        barrier = threading.Barrier(10)

        def post(_: int) -> int:
            barrier.wait()
            return requests.post(url, headers=hdrs, timeout=10).status_code

        with ThreadPoolExecutor(max_workers=10) as pool:
            codes = sorted(pool.map(post, range(10)))
        assert codes == [202] + [409] * 9


def _tls(tmp_path: Path) -> tuple[ssl.SSLContext, trustme.CA, Path, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_path), append=True)
    return ctx, ca, ca_path, cert_path, key_path


def test_tls_in_process(tmp_path: Path) -> None:
    ctx, _, ca_path, _, _ = _tls(tmp_path)
    seed = parse_seed({"offers": [{"publisherId": PUB, "offerId": OFFER, "state": "signoff",
                                   "pointer": "absolute"}]})
    with EmulatorServer(EmulatorOptions(seed=seed), ssl_context=ctx) as server:
        assert server.base_url.startswith("https://127.0.0.1:")
        r = requests.post(
            f"{server.base_url}/api/publishers/{PUB}/offers/{OFFER}/golive",
            params={"api-version": "2017-10-31"},
            headers={"Authorization": "Bearer emulator-token"}, verify=str(ca_path), timeout=10,
        )
        assert r.status_code == 202
        assert r.headers["Operation-Location"].startswith(server.base_url + "/api/")
        # A plain-HTTP client gets nothing useful, and the server keeps serving.
        try:
            requests.get(server.base_url.replace("https", "http"), timeout=3)
        except requests.RequestException:
            pass
        assert requests.get(server.base_url + "/_emulator/health", verify=str(ca_path),
                            timeout=10).json() == {"ok": True}


def test_tls_cli(tmp_path: Path) -> None:
    _, _, ca_path, cert_path, key_path = _tls(tmp_path)
    with EmulatorProcess(extra_args=("--https-cert", str(cert_path), "--https-key",
                                     str(key_path))) as emu:
        assert emu.base_url.startswith("https://")
        r = requests.get(emu.base_url + "/_emulator/health", verify=str(ca_path), timeout=10)
        assert r.json() == {"ok": True}


def test_chunked_request_body(emulator) -> None:
    emulator.admin.put_offer(PUB, OFFER)

    def body():
        yield b'{"metadata": '
        yield b'{"notification-emails": "chunk@contoso.com"}}'

    r = requests.post(
        f"{emulator.base_url}/api/publishers/{PUB}/offers/{OFFER}/publish",
        params={"api-version": "2017-10-31"}, headers=emulator.headers, data=body(), timeout=10,
    )
    assert r.status_code == 202
    subs = requests.get(
        f"{emulator.base_url}/api/publishers/{PUB}/offers/{OFFER}/submissions",
        params={"api-version": "2017-10-31"}, headers=emulator.headers, timeout=10,
    ).json()
    assert subs[0]["definition"]["metadata"]["emails"] == "chunk@contoso.com"


def test_stop_closes_idle_keep_alive_connections() -> None:
    server = EmulatorServer().start()
    s = requests.Session()
    assert s.get(server.base_url + "/_emulator/health", timeout=5).status_code == 200
    t0 = time.monotonic()
    server.stop()
    assert time.monotonic() - t0 < 2
    try:
        s.get(server.base_url + "/_emulator/health", timeout=2)
        raise AssertionError("server still answering after stop")
    except requests.ConnectionError:
        pass
