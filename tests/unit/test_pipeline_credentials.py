"""Which credential each CI system's environment selects, and the token source's behaviour under
a slow or failing token endpoint. The README's "Credentials in pipelines" table, row by row.

End to end through both providers: tests/lifecycle/test_pipeline_credentials.py.
No test here reaches Azure AD: the token endpoints are loopback fakes (tests/fake_identity.py).
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import trustme
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

from marketplace_emulator.harness import RunningEmulator
from pulumi_marketplace_provider.partner_portal import (
    AzureIdentityToken,
    CredentialsUnavailable,
    StaticToken,
    TokenEndpointUnavailable,
    is_transient,
)
from pulumi_marketplace_provider.settings import ProviderSettings
from tests.fake_identity import FakeManagedIdentity

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "5f1c2a34-0000-4000-8000-00000000c11e"


def _source(config: dict[str, Any], env: dict[str, str]) -> Any:
    client = ProviderSettings.from_config(
        {"marketplace:endpoint": "http://127.0.0.1:9", **config}, environ=env
    ).client()
    return client._tokens


def _credential(config: dict[str, Any], env: dict[str, str]) -> str:
    """The azure-identity credential class the token source holds (or StaticToken)."""
    tokens = _source(config, env)
    if isinstance(tokens, StaticToken):
        return "StaticToken"
    found = re.search(r"credential=(\w+)", repr(tokens))
    assert found, repr(tokens)
    return found.group(1)


@pytest.fixture
def federated(tmp_path: Path) -> str:
    path = tmp_path / "federated.jwt"
    path.write_text("assertion")
    return str(path)


@pytest.fixture
def certificate(tmp_path: Path) -> str:
    path = tmp_path / "sp.pem"
    ca = trustme.CA(key_type=trustme.KeyType.RSA)  # azure-identity signs with RS256
    cert = ca.issue_cert("sp.example", key_type=trustme.KeyType.RSA)
    cert.private_key_and_cert_chain_pem.write_to_path(str(path))
    return str(path)


def test_github_actions_oidc_selects_workload_identity(federated: str) -> None:
    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT,
           "AZURE_FEDERATED_TOKEN_FILE": federated}
    assert _credential({}, env) == "WorkloadIdentityCredential"


def test_azure_pipelines_workload_identity_federation_selects_workload_identity(
    federated: str,
) -> None:
    # AzureCLI@2 with addSpnToEnvironment: the idToken written to a file, the ids exported.
    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT,
           "AZURE_FEDERATED_TOKEN_FILE": federated, "AZURE_CLIENT_SECRET": ""}
    assert _credential({}, env) == "WorkloadIdentityCredential"


def test_aks_workload_identity_selects_workload_identity(federated: str) -> None:
    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT,
           "AZURE_FEDERATED_TOKEN_FILE": federated,
           "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/"}
    assert _credential({}, env) == "WorkloadIdentityCredential"


def test_managed_identity_goes_to_the_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user-assigned identity (AZURE_CLIENT_ID alone, or with the tenant) reaches the chain,
    whose managed identity credential gets the token from the identity endpoint."""
    for name in ("AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE",
                 "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with FakeManagedIdentity(["mi-token"]) as msi:
        for key, value in {**msi.env, "AZURE_CLIENT_ID": CLIENT}.items():
            monkeypatch.setenv(key, value)
        for env in ({"AZURE_CLIENT_ID": CLIENT},
                    {"AZURE_CLIENT_ID": CLIENT, "AZURE_TENANT_ID": TENANT}):
            tokens = _source({}, env)
            assert isinstance(tokens, AzureIdentityToken)
            assert "credential=DefaultAzureCredential" in repr(tokens)
            assert tokens.token() == "mi-token"
        assert msi.seen[0].query["client_id"] == [CLIENT]


def test_certificate_service_principal_selects_the_certificate_credential(
    certificate: str,
) -> None:
    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT,
           "AZURE_CLIENT_CERTIFICATE_PATH": certificate}
    assert _credential({}, env) == "CertificateCredential"
    # Ids in the stack config, the certificate from the pipeline's environment.
    config = {"marketplace:tenantId": TENANT, "marketplace:clientId": CLIENT}
    assert _credential(config, {"AZURE_CLIENT_CERTIFICATE_PATH": certificate}) == (
        "CertificateCredential")


def test_client_secret_selects_the_client_secret_credential() -> None:
    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_SECRET": "s"}
    assert _credential({}, env) == "ClientSecretCredential"


def test_static_token_is_used_as_is_and_cannot_be_refreshed() -> None:
    tokens = _source({}, {"MARKETPLACE_ACCESS_TOKEN": "tok"})
    assert isinstance(tokens, StaticToken) and tokens.refreshable is False


def test_stack_config_wins_over_the_environment_source_by_source(federated: str) -> None:
    """A leftover MARKETPLACE_ACCESS_TOKEN does not beat app credentials in the stack config;
    a token in the stack config beats app credentials in the environment."""
    app_config = {"marketplace:tenantId": TENANT, "marketplace:clientId": CLIENT,
                  "marketplace:clientSecret": "s"}
    assert _credential(app_config, {"MARKETPLACE_ACCESS_TOKEN": "stale"}) == (
        "ClientSecretCredential")
    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_SECRET": "s",
           "AZURE_FEDERATED_TOKEN_FILE": federated}
    assert _credential({"marketplace:accessToken": "tok"}, env) == "StaticToken"
    # Within the environment, the token still comes first (the documented order).
    assert _credential({}, {**env, "MARKETPLACE_ACCESS_TOKEN": "tok"}) == "StaticToken"


def test_only_a_truly_incomplete_configuration_is_refused() -> None:
    with pytest.raises(CredentialsUnavailable) as info:
        _source({"marketplace:tenantId": TENANT, "marketplace:clientId": CLIENT}, {})
    assert "marketplace:clientSecret (AZURE_CLIENT_SECRET)" in str(info.value)
    assert "AZURE_FEDERATED_TOKEN_FILE" in str(info.value)
    with pytest.raises(CredentialsUnavailable, match="marketplace:tenantId"):
        _source({"marketplace:clientId": CLIENT, "marketplace:clientSecret": "s"}, {})
    with pytest.raises(CredentialsUnavailable, match="marketplace:clientId"):
        _source({}, {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_SECRET": "s"})


# -- the token source under a slow or failing token endpoint -------------------------------


class SlowIssuer:
    """Blocks in get_token until released; counts calls."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        if self.calls > 1:
            self.release.wait(30)
        return AccessToken(f"tok-{self.calls}", int(time.time()) + 600)


def test_a_slow_refresh_does_not_stall_callers_holding_a_usable_token() -> None:
    """The refresh runs outside the cache lock: while one caller waits on Azure AD, the
    others go on with the token that has not expired. On 432de4c they all queued."""
    issuer = SlowIssuer()
    tokens = AzureIdentityToken(issuer, margin=3600)  # every token is "due for refresh"
    assert tokens.token() == "tok-1"
    refresher = threading.Thread(target=tokens.token)
    refresher.start()
    time.sleep(0.2)  # the refresher is now inside get_token
    began = time.monotonic()
    assert tokens.token() == "tok-1"
    assert time.monotonic() - began < 1.0
    issuer.release.set()
    refresher.join(10)
    assert issuer.calls == 2


class CachingCredential:
    """Like azure-identity's credentials: hands back its cached token until it expires."""

    built = 0

    def __init__(self) -> None:
        CachingCredential.built += 1
        self.token = f"tok-of-credential-{CachingCredential.built}"

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def test_invalidate_gets_a_token_azure_identity_did_not_cache(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A permission granted since the last token: the portal refuses the old token with 401,
    and the token source must not take azure-identity's cached copy of it again (432de4c did,
    so the retry failed too). A system-assigned managed identity from a loopback identity
    endpoint."""
    for name in ("AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE",
                 "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "MSI_ENDPOINT",
                 "AZURE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    emulator.admin.put_offer("contoso", "granted")
    emulator.admin.set_tokens(["before-grant"])
    with FakeManagedIdentity(["before-grant"]) as msi:
        for key, value in msi.env.items():
            monkeypatch.setenv(key, value)
        settings = ProviderSettings.from_config(
            {"marketplace:endpoint": emulator.base_url}, environ={})
        client = settings.client()
        client.offer_status("contoso", "granted")
        # The role is granted: the portal now wants a token issued after it.
        emulator.admin.set_tokens(["after-grant"])
        msi.set_tokens("after-grant")
        client.offer_status("contoso", "granted")
    statuses = [r["status"] for r in emulator.admin.requests()]
    assert statuses == [200, 401, 200]


def test_invalidate_builds_a_fresh_credential() -> None:
    """After a 401 a really new token is fetched (a permission granted since is picked up)."""
    tokens = AzureIdentityToken(factory=CachingCredential)
    first = tokens.token()
    tokens.invalidate()
    assert tokens.token() != first


class FailingIssuer:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise self.exc


def _auth_error(status: int) -> ClientAuthenticationError:
    err = ClientAuthenticationError(f"token endpoint answered {status}")
    err.status_code = status
    return err


@pytest.mark.parametrize("exc", [ServiceRequestError("timed out"), _auth_error(503),
                                 _auth_error(500)])
def test_token_endpoint_timeouts_and_5xx_are_transient(exc: Exception) -> None:
    with pytest.raises(TokenEndpointUnavailable) as info:
        AzureIdentityToken(FailingIssuer(exc)).token()
    assert is_transient(info.value)


@pytest.mark.parametrize("exc", [_auth_error(400), _auth_error(401),
                                 ClientAuthenticationError("no credential configured")])
def test_a_refused_credential_is_final(exc: Exception) -> None:
    with pytest.raises(CredentialsUnavailable) as info:
        AzureIdentityToken(FailingIssuer(exc)).token()
    assert not is_transient(info.value)
