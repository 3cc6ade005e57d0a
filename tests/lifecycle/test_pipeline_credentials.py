"""Credentials in pipelines, through both hosts: each CI system's environment reaches the right
azure-identity credential, which gets its token from a loopback stand-in for Azure AD or the
managed identity endpoint, and the go-live runs on the emulator with that token.

Backs the README's "Credentials in pipelines" table, row by row (together with
tests/unit/test_pipeline_credentials.py for the credential each environment selects).
The providers run behind the loopback-only network guard: nothing reaches Azure AD.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace_emulator.harness import RunningEmulator
from tests.enginedouble import secret
from tests.fake_identity import FakeAzureAD, FakeManagedIdentity
from tests.faults.support import crashes, guarded_env
from tests.lifecycle.conftest import SeedOffer
from tests.lifecycle.support import PUBLISHER, Flavour, engine, golive_posts, outputs_of

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "5f1c2a34-0000-4000-8000-00000000c11e"


def _workload_env(aad: FakeAzureAD, token_file: Path) -> dict[str, str]:
    return guarded_env(**aad.env(TENANT, CLIENT, token_file))


@pytest.mark.parametrize("system", ["github-actions-oidc", "azure-pipelines-wif", "aks-wi"])
def test_workload_identity_pipelines_go_live_without_a_secret(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path,
    system: str,
) -> None:
    """AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_FEDERATED_TOKEN_FILE, no secret: what GitHub
    Actions OIDC, Azure Pipelines workload identity federation and AKS workload identity set.
    (On 432de4c every call failed with "AZURE_CLIENT_SECRET not set".)"""
    offer = seed_offer()
    fast_emulator.admin.set_tokens(["wi-access-token"])
    token_file = tmp_path / f"{system}.jwt"
    token_file.write_text(f"federated-assertion-from-{system}")
    config = {"marketplace:endpoint": fast_emulator.base_url}
    with FakeAzureAD(tmp_path, ["wi-access-token"]) as aad, engine(
        flavour, fast_emulator, tmp_path, config=config,
        extra_env=_workload_env(aad, token_file),
    ) as eng:
        result = eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)])
        seen = aad.seen
    assert not crashes(result)
    result.raise_for_failure()
    assert outputs_of(eng, "live")["status"] == "succeeded"
    assert golive_posts(fast_emulator, offer) == 1
    assert seen, "the federated token was never redeemed"
    assert all(r.path == f"/{TENANT}/oauth2/v2.0/token" for r in seen)
    assert seen[0].form["client_assertion"] == [f"federated-assertion-from-{system}"]
    assert seen[0].form["client_id"] == [CLIENT]
    assert seen[0].form["scope"] == ["https://cloudpartner.azure.com/.default"]


def test_managed_identity_goes_live_with_a_user_assigned_client_id(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """AZURE_CLIENT_ID alone (a user-assigned managed identity) reaches the chain's managed
    identity credential; on 432de4c it was refused as half-set app credentials."""
    offer = seed_offer()
    fast_emulator.admin.set_tokens(["mi-access-token"])
    config = {"marketplace:endpoint": fast_emulator.base_url}
    with FakeManagedIdentity(["mi-access-token"]) as msi:
        env = guarded_env(**msi.env, AZURE_CLIENT_ID=CLIENT, AZURE_TENANT_ID=TENANT,
                          MARKETPLACE_USE_DEFAULT_CREDENTIAL="true")
        with engine(flavour, fast_emulator, tmp_path, config=config, extra_env=env) as eng:
            result = eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)])
        seen = msi.seen
    assert not crashes(result)
    result.raise_for_failure()
    assert outputs_of(eng, "live")["status"] == "succeeded"
    assert seen and seen[0].query["client_id"] == [CLIENT]
    assert seen[0].headers["x-identity-header"] == FakeManagedIdentity.header


def test_stack_config_app_credentials_win_over_a_leftover_environment_token(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """Workload identity set in the stack config (tenantId, clientId) beats a stale
    MARKETPLACE_ACCESS_TOKEN left in the environment: the portal only ever sees the token
    the app credentials got. On 432de4c the stale token was sent and refused."""
    offer = seed_offer()
    fast_emulator.admin.set_tokens(["wi-access-token"])
    token_file = tmp_path / "fed.jwt"
    token_file.write_text("assertion")
    config = {
        "marketplace:endpoint": fast_emulator.base_url,
        "marketplace:tenantId": TENANT,
        "marketplace:clientId": CLIENT,
    }
    with FakeAzureAD(tmp_path, ["wi-access-token"]) as aad:
        env = guarded_env(AZURE_FEDERATED_TOKEN_FILE=str(token_file),
                          AZURE_AUTHORITY_HOST=aad.authority,
                          REQUESTS_CA_BUNDLE=str(aad.ca_pem),
                          MARKETPLACE_ACCESS_TOKEN="stale-token-from-an-old-job")
        with engine(flavour, fast_emulator, tmp_path, config=config, extra_env=env) as eng:
            result = eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)])
    assert not crashes(result)
    result.raise_for_failure()
    sent = {r["headers"].get("Authorization") or r["headers"].get("authorization")
            for r in fast_emulator.admin.requests() if r["path"].startswith("/api/")}
    assert sent == {"Bearer wi-access-token"}


def test_static_token_expiry_says_it_cannot_be_refreshed(
    flavour: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    """A static token the portal stops accepting: the error says the truth (it cannot be
    refreshed), not that it was refreshed. On 432de4c: "also after a refresh"."""
    offer = seed_offer()
    fast_emulator.admin.set_tokens(["another-token"])
    config = {"marketplace:endpoint": fast_emulator.base_url,
              "marketplace:accessToken": secret("expired-static-token")}
    with engine(flavour, fast_emulator, tmp_path, config=config,
                extra_env=guarded_env()) as eng:
        result = eng.up([flavour.resource("live", publisherId=PUBLISHER, offerId=offer)])
    error = result.error("live")
    assert error is not None
    assert "static token" in error.message and "cannot be refreshed" in error.message
    assert "app credentials or workload identity" in error.message
    assert "after a refresh" not in error.message
    refused = [r for r in fast_emulator.admin.requests() if r["status"] == 401]
    assert len(refused) == 1, "a static token is not sent twice"
