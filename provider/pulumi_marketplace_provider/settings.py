"""Provider settings: the `marketplace:*` configuration keys and their environment fallbacks.

Both hosts read configuration at run time (never from pickled state), so this module turns a
plain mapping of config values plus the process environment into one frozen `ProviderSettings`,
and builds the Partner Portal client from it. Secrets live only in memory and never in `repr`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .partner_portal import PortalClient, token_provider_from_settings

DEFAULT_ENDPOINT = "https://cloudpartner.azure.com"
DEFAULT_API_VERSION = "2017-10-31"
NAMESPACE = "marketplace"

# config key (without namespace) -> environment fallbacks, first found wins
ENV_FALLBACKS: dict[str, tuple[str, ...]] = {
    "endpoint": ("MARKETPLACE_ENDPOINT",),
    "apiVersion": ("MARKETPLACE_API_VERSION",),
    "accessToken": ("MARKETPLACE_ACCESS_TOKEN",),
    "tenantId": ("AZURE_TENANT_ID",),
    "clientId": ("AZURE_CLIENT_ID",),
    "clientSecret": ("AZURE_CLIENT_SECRET",),
    "useDefaultCredential": ("MARKETPLACE_USE_DEFAULT_CREDENTIAL",),
    "caBundle": ("MARKETPLACE_CA_BUNDLE",),
}
SECRET_KEYS = frozenset({"accessToken", "clientSecret"})
CONFIG_KEYS = tuple(ENV_FALLBACKS)


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the key and the fix."""


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ProviderSettings:
    """Everything needed to talk to the Partner Portal; secrets are hidden from `repr`."""

    endpoint: str = DEFAULT_ENDPOINT
    api_version: str = DEFAULT_API_VERSION
    access_token: str | None = field(default=None, repr=False)
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    use_default_credential: bool = True
    ca_bundle: str | None = None

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> ProviderSettings:
        """Read `marketplace:<key>` (or bare `<key>`) from config, else the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for key, env_names in ENV_FALLBACKS.items():
            value = config.get(f"{NAMESPACE}:{key}", config.get(key))
            if value is None or value == "":
                value = next((env[n] for n in env_names if env.get(n)), None)
            values[key] = value
        endpoint = str(values["endpoint"] or DEFAULT_ENDPOINT).rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(
                f"marketplace:endpoint must be an absolute http(s) URL such as "
                f"{DEFAULT_ENDPOINT}; got {endpoint!r}. Set it with "
                f"`pulumi config set marketplace:endpoint <url>` or MARKETPLACE_ENDPOINT."
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise SettingsError(
                f"marketplace:endpoint must be an origin only (scheme://host[:port]), without a "
                f"path, query or fragment; got {endpoint!r}."
            )
        use_chain = values["useDefaultCredential"]
        return cls(
            endpoint=endpoint,
            api_version=str(values["apiVersion"] or DEFAULT_API_VERSION),
            access_token=values["accessToken"] or None,
            tenant_id=values["tenantId"] or None,
            client_id=values["clientId"] or None,
            client_secret=values["clientSecret"] or None,
            use_default_credential=True if use_chain is None else _truthy(use_chain),
            ca_bundle=values["caBundle"] or None,
        )

    def client(self) -> PortalClient:
        """Build a Partner Portal client; raises a clear error when no credential is available."""
        tokens = token_provider_from_settings(
            access_token=self.access_token,
            tenant_id=self.tenant_id,
            client_id=self.client_id,
            client_secret=self.client_secret,
            use_default_chain=self.use_default_credential,
        )
        return PortalClient(
            self.endpoint,
            tokens,
            api_version=self.api_version,
            verify=self.ca_bundle or True,
        )
