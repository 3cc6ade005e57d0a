"""TLS: the emulator serves HTTPS with a test CA; both providers verify certificates by default,
honour `marketplace:caBundle` (and MARKETPLACE_CA_BUNDLE), fail fast and say what to do on a
certificate they cannot trust, and refuse plain http to anything but loopback before any
connection is made unless `marketplace:allowInsecureHttp` says otherwise.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import trustme

from marketplace_emulator.harness import AdminClient, AdminError, EmulatorProcess
from pulumi_marketplace_provider.partner_portal import PortalClient, StaticToken
from pulumi_marketplace_provider.settings import ProviderSettings, SettingsError
from tests.enginedouble import CommandResult, secret
from tests.faults.netguard.sitecustomize import loopback_only
from tests.faults.support import NETGUARD_MARKER, crashes, guarded_env
from tests.lifecycle.support import PUBLISHER, Flavour, engine, fast_steps

TOKEN = "tls-token"  # a test token for the local emulator


class TlsAdmin(AdminClient):
    """The harness's admin client over HTTPS. It is the test's own back door to its own
    loopback emulator, so it does not verify (the certificates here are made to be wrong);
    the provider under test always does."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE

    def _call(
        self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None
    ) -> Any:
        url = f"{self.base_url}/_emulator{path}"
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.context) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise AdminError(exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None


@dataclass
class TlsPortal:
    """An HTTPS emulator subprocess and what a client needs to trust it."""

    proc: EmulatorProcess
    ca_bundle: Path
    admin: TlsAdmin

    @property
    def base_url(self) -> str:
        return self.proc.base_url

    def running(self) -> Any:
        run = self.proc.running()
        run.admin = self.admin
        return run


@pytest.fixture
def tls_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[EmulatorProcess] = []

    def start(*hosts: str, expired: bool = False, url_host: str = "127.0.0.1") -> TlsPortal:
        ca = trustme.CA()
        kwargs: dict[str, Any] = {}
        if expired:
            now = datetime.now(timezone.utc)
            kwargs = {"not_before": now - timedelta(days=30), "not_after": now - timedelta(days=1)}
        cert = ca.issue_cert(*(hosts or ("127.0.0.1", "localhost")), **kwargs)
        folder = tmp_path / f"tls{len(started)}"
        folder.mkdir()
        chain, key, bundle = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
        cert.private_key_pem.write_to_path(str(key))
        ca.cert_pem.write_to_path(str(bundle))
        proc = EmulatorProcess(
            time_scale=20.0, tokens=(TOKEN,), log_level="WARNING",
            extra_args=("--https-cert", str(chain), "--https-key", str(key)),
        )
        proc.start()
        started.append(proc)
        assert proc.base_url.startswith("https://"), proc.base_url
        if url_host != "127.0.0.1":
            proc.base_url = proc.base_url.replace("127.0.0.1", url_host)
        admin = TlsAdmin(proc.base_url)
        admin.put_offer(PUBLISHER, "tls", state="signoff", goLiveSteps=fast_steps(20),
                        stepEstimates=False)
        return TlsPortal(proc, bundle, admin)

    try:
        yield start
    finally:
        for proc in started:
            proc.stop()


def _config(url: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"marketplace:endpoint": url,
                              "marketplace:accessToken": secret(TOKEN)}
    config.update({f"marketplace:{k}": v for k, v in extra.items()})
    return config


def _up(flavour: Flavour, portal: TlsPortal, state: Path, config: dict[str, Any],
        env: dict[str, str] | None = None) -> CommandResult:
    with engine(flavour, portal.running(), state, config=config,
                extra_env=guarded_env(**(env or {}))) as eng:
        return eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId="tls",
                                        waitTimeoutSeconds=60)])


def test_https_with_the_ca_bundle_setting(
    flavour: Flavour, tls_factory: Any, tmp_path: Path
) -> None:
    portal = tls_factory()
    result = _up(flavour, portal, tmp_path, _config(portal.base_url,
                                                    caBundle=str(portal.ca_bundle)))
    result.raise_for_failure()
    assert crashes(result) == []
    requests_seen = portal.admin.requests()
    assert requests_seen and portal.admin.golive_posts(PUBLISHER, "tls") == 1
    assert portal.admin.get_offer(PUBLISHER, "tls")["status"] == "succeeded"


def test_https_with_the_ca_bundle_from_the_environment(
    flavour: Flavour, tls_factory: Any, tmp_path: Path
) -> None:
    portal = tls_factory()
    result = _up(flavour, portal, tmp_path, _config(portal.base_url),
                 env={"MARKETPLACE_CA_BUNDLE": str(portal.ca_bundle)})
    result.raise_for_failure()
    assert portal.admin.golive_posts(PUBLISHER, "tls") == 1


def _fails_clearly(result: CommandResult, portal: TlsPortal, started: float) -> str:
    assert time.monotonic() - started < 20, "a certificate problem must fail fast, not retry"
    assert crashes(result) == []
    assert NETGUARD_MARKER not in result.provider_stderr
    error = result.error("live")
    assert error is not None
    message = error.message
    assert "certificate" in message.lower()
    assert "marketplace:caBundle" in message, "the message says what to do"
    assert portal.admin.requests() == [], "no request may pass an untrusted TLS handshake"
    return message


def test_an_untrusted_certificate_fails_fast_and_says_what_to_do(
    flavour: Flavour, tls_factory: Any, tmp_path: Path
) -> None:
    portal = tls_factory()
    started = time.monotonic()
    result = _up(flavour, portal, tmp_path, _config(portal.base_url))
    message = _fails_clearly(result, portal, started)
    assert "verify" in message.lower()


def test_a_certificate_for_another_host_is_refused(
    flavour: Flavour, tls_factory: Any, tmp_path: Path
) -> None:
    portal = tls_factory("localhost")  # but the endpoint says 127.0.0.1
    started = time.monotonic()
    result = _up(flavour, portal, tmp_path, _config(portal.base_url,
                                                    caBundle=str(portal.ca_bundle)))
    _fails_clearly(result, portal, started)


def test_an_expired_certificate_is_refused(
    flavour: Flavour, tls_factory: Any, tmp_path: Path
) -> None:
    portal = tls_factory(expired=True)
    started = time.monotonic()
    result = _up(flavour, portal, tmp_path, _config(portal.base_url,
                                                    caBundle=str(portal.ca_bundle)))
    message = _fails_clearly(result, portal, started)
    assert "expired" in message.lower()


def test_https_by_the_name_localhost(tls_factory: Any, tmp_path: Path) -> None:
    portal = tls_factory("localhost", url_host="localhost")
    result = _up(Flavour("plugin"), portal, tmp_path,
                 _config(portal.base_url, caBundle=str(portal.ca_bundle)))
    result.raise_for_failure()


class _Spy:
    """Counts name lookups and connections attempted while it is installed."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __enter__(self) -> _Spy:
        self._getaddrinfo, self._connect = socket.getaddrinfo, socket.socket.connect
        spy = self

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            spy.calls.append(f"resolve {host}")
            return spy._getaddrinfo(host, *args, **kwargs)

        def connect(sock: socket.socket, address: Any) -> None:
            spy.calls.append(f"connect {address}")
            spy._connect(sock, address)

        socket.getaddrinfo = getaddrinfo
        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        socket.getaddrinfo = self._getaddrinfo
        socket.socket.connect = self._connect  # type: ignore[method-assign]


@pytest.mark.parametrize("endpoint", [
    "http://cloudpartner.example.com",
    "http://10.1.2.3:8080",
    "http://[2001:db8::1]:80",
    "HTTP://CLOUDPARTNER.EXAMPLE.COM",
    "http://127.0.0.1.nip.io",  # a name, not a loopback address: refused too
])
def test_plain_http_to_a_remote_host_is_refused_before_connecting(endpoint: str) -> None:
    config = {"marketplace:endpoint": endpoint, "marketplace:accessToken": TOKEN}
    with loopback_only(), _Spy() as spy:
        with pytest.raises(SettingsError) as info:
            ProviderSettings.from_config(config, {})
        with pytest.raises(ValueError, match="plain http"):
            PortalClient(endpoint, StaticToken(TOKEN))
    assert "marketplace:allowInsecureHttp" in str(info.value)
    assert TOKEN not in str(info.value)
    assert spy.calls == [], "refused before any lookup or connection"


def test_allow_insecure_http_is_explicit_and_strict() -> None:
    with loopback_only(), _Spy() as spy:
        allowed = ProviderSettings.from_config(
            {"marketplace:endpoint": "http://cloudpartner.example.com",
             "marketplace:allowInsecureHttp": "true", "marketplace:accessToken": TOKEN}, {})
        client = allowed.client()  # built, not used: nothing is contacted
        assert client.endpoint == "http://cloudpartner.example.com"
        from_env = ProviderSettings.from_config(
            {"marketplace:endpoint": "http://cloudpartner.example.com"},
            {"MARKETPLACE_ALLOW_INSECURE_HTTP": "1", "MARKETPLACE_ACCESS_TOKEN": TOKEN})
        assert from_env.allow_insecure_http
        for value in ("maybe", "2", "yes please"):
            with pytest.raises(SettingsError, match="allowInsecureHttp"):
                ProviderSettings.from_config(
                    {"marketplace:endpoint": "http://cloudpartner.example.com",
                     "marketplace:allowInsecureHttp": value}, {})
        for loopback in ("http://127.0.0.1:8787", "http://localhost:1", "http://[::1]:2",
                         "http://127.9.9.9:3"):
            assert ProviderSettings.from_config(
                {"marketplace:endpoint": loopback}, {}).endpoint == loopback
        assert ProviderSettings.from_config({}, {}).endpoint.startswith("https://")
    assert spy.calls == []
