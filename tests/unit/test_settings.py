"""Configuration keys, environment fallbacks, and secrets kept out of repr."""

import pickle

import pytest

from pulumi_marketplace_provider.settings import DEFAULT_ENDPOINT, ProviderSettings, SettingsError


def test_defaults() -> None:
    settings = ProviderSettings.from_config({}, environ={})
    assert settings.endpoint == DEFAULT_ENDPOINT
    assert settings.api_version == "2017-10-31"
    assert settings.access_token is None


def test_config_wins_over_environment_and_namespaced_keys_work() -> None:
    settings = ProviderSettings.from_config(
        {"marketplace:endpoint": "http://127.0.0.1:9/", "accessToken": "from-config"},
        environ={"MARKETPLACE_ENDPOINT": "http://other", "MARKETPLACE_ACCESS_TOKEN": "from-env"},
    )
    assert settings.endpoint == "http://127.0.0.1:9"
    assert settings.access_token == "from-config"


def test_environment_fallbacks() -> None:
    settings = ProviderSettings.from_config(
        {}, environ={"MARKETPLACE_ACCESS_TOKEN": "t", "AZURE_TENANT_ID": "tenant"}
    )
    assert (settings.access_token, settings.tenant_id) == ("t", "tenant")


@pytest.mark.parametrize(
    "endpoint", ["ftp://x", "cloudpartner.azure.com", "https://h/api", "https://h?x=1"]
)
def test_bad_endpoint_names_the_key(endpoint: str) -> None:
    with pytest.raises(SettingsError, match="marketplace:endpoint"):
        ProviderSettings.from_config({"endpoint": endpoint}, environ={})


def test_secrets_never_in_repr() -> None:
    settings = ProviderSettings.from_config(
        {"accessToken": "canary-token-123", "clientSecret": "canary-secret-456"}, environ={}
    )
    text = repr(settings)
    assert "canary-token-123" not in text and "canary-secret-456" not in text
    assert "canary" not in str(pickle.loads(pickle.dumps(settings)).__repr__())
