"""Tokens: cached, refreshed before expiry, never shown or pickled."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from pulumi_marketplace_provider.partner_portal import (
    DEFAULT_SCOPE,
    AzureIdentityToken,
    CredentialsUnavailable,
    StaticToken,
    token_provider_from_settings,
)

SECRET = "s3cr3t-token-value"


class Issuer:
    """A credential that issues numbered tokens valid for `ttl` seconds of `wall` time."""

    def __init__(self, wall: list[float], ttl: float = 3600.0, fail: bool = False) -> None:
        self.wall, self.ttl, self.fail = wall, ttl, fail
        self.calls: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append(scopes)
        if self.fail:
            raise ClientAuthenticationError("AADSTS7000215: Invalid client secret provided.")
        return AccessToken(f"tok-{len(self.calls)}", int(self.wall[0] + self.ttl))


def test_static_token_hides_itself() -> None:
    tok = StaticToken(SECRET)
    assert tok.token() == SECRET
    assert SECRET not in repr(tok) and SECRET not in str(tok)
    with pytest.raises(TypeError):
        pickle.dumps(tok)
    with pytest.raises(CredentialsUnavailable):
        StaticToken("  ")


def test_azure_token_is_cached_and_refreshed_before_expiry() -> None:
    wall = [1000.0]
    issuer = Issuer(wall, ttl=3600)
    tokens = AzureIdentityToken(issuer, margin=300, wall=lambda: wall[0])
    assert tokens.token() == "tok-1"
    wall[0] += 3000
    assert tokens.token() == "tok-1"  # still well before expiry
    wall[0] += 400  # inside the margin
    assert tokens.token() == "tok-2"
    assert issuer.calls == [(DEFAULT_SCOPE,), (DEFAULT_SCOPE,)]
    tokens.invalidate()
    assert tokens.token() == "tok-3"
    assert "tok-3" not in repr(tokens)
    with pytest.raises(TypeError):
        pickle.dumps(tokens)


def test_failed_refresh_keeps_a_still_valid_token_and_otherwise_explains() -> None:
    wall = [0.0]
    issuer = Issuer(wall, ttl=600)
    tokens = AzureIdentityToken(issuer, margin=300, wall=lambda: wall[0])
    assert tokens.token() == "tok-1"
    issuer.fail = True
    wall[0] = 400.0  # in the margin, not expired
    assert tokens.token() == "tok-1"
    wall[0] = 700.0  # expired
    with pytest.raises(CredentialsUnavailable) as info:
        tokens.token()
    text = str(info.value)
    assert "AZURE_CLIENT_SECRET" in text and "marketplace:accessToken" in text
    assert "Invalid client secret" in text


def test_settings_choose_the_source() -> None:
    assert isinstance(token_provider_from_settings(access_token=SECRET), StaticToken)
    app = token_provider_from_settings(tenant_id="t", client_id="c", client_secret=SECRET)
    assert isinstance(app, AzureIdentityToken) and "ClientSecretCredential" in repr(app)
    assert SECRET not in repr(app)
    chain = token_provider_from_settings()
    assert "DefaultAzureCredential" in repr(chain)


def test_settings_name_what_is_missing() -> None:
    with pytest.raises(CredentialsUnavailable) as missing:
        token_provider_from_settings(tenant_id="t", client_id="c", environ={})
    assert "marketplace:clientSecret (AZURE_CLIENT_SECRET)" in str(missing.value)
    assert "AZURE_FEDERATED_TOKEN_FILE" in str(missing.value)
    with pytest.raises(CredentialsUnavailable, match=r"marketplace:clientId \(AZURE_CLIENT_ID\) "
                       "not set"):
        token_provider_from_settings(tenant_id="t", client_secret=SECRET, environ={})
    with pytest.raises(CredentialsUnavailable) as info:
        token_provider_from_settings(use_default_chain=False)
    for key in ("marketplace:accessToken", "MARKETPLACE_ACCESS_TOKEN", "AZURE_TENANT_ID",
                "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        assert key in str(info.value)
