"""The client's own transport (urllib3, settings read once) honours what `requests` honoured.

A corporate network reaches the portal through a proxy and trusts its own CA: `HTTPS_PROXY`
(with `NO_PROXY`) and `REQUESTS_CA_BUNDLE` are what every Python HTTP client user sets, so the
client must keep honouring them after leaving `requests.Session` behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from marketplace_emulator.app import EmulatorOptions
from marketplace_emulator.harness import EmulatorServer
from marketplace_emulator.seed import parse_seed
from pulumi_marketplace_provider.partner_portal import PortalClient, StaticToken, TransportError
from pulumi_marketplace_provider.plugin.server import HTTP_POOL_SIZE
from tests.intercepting_proxy import InterceptingProxy

PUB = "contoso"
PORTAL_HOST = "cloudpartner.azure.com"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    seed = parse_seed({"offers": [{"publisherId": PUB, "offerId": "proxied"}]})
    server = EmulatorServer(EmulatorOptions(seed=seed)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def portal_behind_proxy(
    emulator: EmulatorServer, clean_proxy_env: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[InterceptingProxy]:
    """The emulator as https://cloudpartner.azure.com behind a TLS-intercepting proxy, with
    HTTPS_PROXY and REQUESTS_CA_BUNDLE set as a corporate network would."""
    host, port = emulator.base_url.removeprefix("http://").rsplit(":", 1)
    with InterceptingProxy(tmp_path, {PORTAL_HOST: (host, int(port))}) as proxy:
        for name, value in proxy.env.items():
            clean_proxy_env.setenv(name, value)
        yield proxy


def test_the_environments_proxy_and_ca_bundle_are_used(
    portal_behind_proxy: InterceptingProxy,
) -> None:
    client = PortalClient(f"https://{PORTAL_HOST}", StaticToken("emulator-token"))
    assert client.get_offer(PUB, "proxied")["id"] == "proxied"
    assert client.get_offer(PUB, "proxied")["id"] == "proxied"
    # One tunnel, reused: the pool keeps the proxied connection.
    assert portal_behind_proxy.connects == [PORTAL_HOST]


def test_no_proxy_sends_the_request_directly(
    emulator: EmulatorServer, clean_proxy_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with InterceptingProxy(tmp_path, {PORTAL_HOST: ("127.0.0.1", 9)}) as proxy:
        clean_proxy_env.setenv("HTTP_PROXY", proxy.url)
        clean_proxy_env.setenv("NO_PROXY", "127.0.0.1,localhost")
        client = PortalClient(emulator.base_url, StaticToken("emulator-token"))
        assert client.get_offer(PUB, "proxied")["id"] == "proxied"
        assert proxy.connects == []


def test_a_ca_bundle_given_in_settings_wins_over_the_environments(
    portal_behind_proxy: InterceptingProxy, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    client = PortalClient(f"https://{PORTAL_HOST}", StaticToken("emulator-token"),
                          verify=str(other))
    with pytest.raises(TransportError) as info:
        client.get_offer(PUB, "proxied")
    assert info.value.kind == "tls" and not info.value.transient


def test_a_socks_proxy_is_refused_naming_the_setting(
    clean_proxy_env: pytest.MonkeyPatch,
) -> None:
    clean_proxy_env.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    client = PortalClient(f"https://{PORTAL_HOST}", StaticToken("secret-token-value"))
    with pytest.raises(TransportError) as info:
        client.get_offer(PUB, "proxied")
    text = str(info.value)
    assert info.value.kind == "other" and not info.value.transient
    assert "HTTPS_PROXY" in text and "NO_PROXY" in text and "socks5" in text
    assert "secret-token-value" not in text


def test_the_plugins_threads_sending_at_once_keep_their_connections(
    emulator: EmulatorServer, clean_proxy_env: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As many threads as the plugin sends from, all at once: no connection is opened and
    dropped for want of room in the pool (urllib3 warns "Connection pool is full" when so)."""
    client = PortalClient(emulator.base_url, StaticToken("emulator-token"))
    start = threading.Barrier(HTTP_POOL_SIZE)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            start.wait(10)
            for _ in range(3):
                client.get_offer(PUB, "proxied")
        except BaseException as exc:
            errors.append(exc)

    with caplog.at_level(logging.WARNING, logger="urllib3"):
        threads = [threading.Thread(target=send) for _ in range(HTTP_POOL_SIZE)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
