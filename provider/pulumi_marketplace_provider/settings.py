"""Provider settings: the `marketplace:*` configuration keys and their environment fallbacks.

Both hosts read configuration at run time (never from pickled state), so this module turns a
plain mapping of config values plus the process environment into one frozen `ProviderSettings`,
and builds the backend `marketplace:api` picks from it (the Cloud Partner Portal API, or Partner
Center's Product Ingestion API). Secrets live only in memory and never in `repr`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .backend import Backend
from .partner_portal import PortalClient, TokenProvider, token_provider_from_settings
from .partner_portal.backend import PartnerPortalBackend
from .partner_portal.urls import is_loopback_host
from .product_ingestion import IngestionClient, ProductIngestionBackend

CLOUD_PARTNER_PORTAL = "cloudPartnerPortal"
PRODUCT_INGESTION = "productIngestion"
APIS = (CLOUD_PARTNER_PORTAL, PRODUCT_INGESTION)
DEFAULT_API = CLOUD_PARTNER_PORTAL
DEFAULT_ENDPOINT = "https://cloudpartner.azure.com"
DEFAULT_API_VERSION = "2017-10-31"
# What follows the backend: endpoint, version, token scope (reference/*.md).
DEFAULT_ENDPOINTS = {
    CLOUD_PARTNER_PORTAL: DEFAULT_ENDPOINT,
    PRODUCT_INGESTION: "https://graph.microsoft.com",
}
DEFAULT_API_VERSIONS = {
    CLOUD_PARTNER_PORTAL: DEFAULT_API_VERSION,
    PRODUCT_INGESTION: "2022-03-01-preview2",
}
SCOPES = {
    CLOUD_PARTNER_PORTAL: "https://cloudpartner.azure.com/.default",
    PRODUCT_INGESTION: "https://graph.microsoft.com/.default",
}
NAMESPACE = "marketplace"

# config key (without namespace) -> environment fallbacks, first found wins
ENV_FALLBACKS: dict[str, tuple[str, ...]] = {
    "api": ("MARKETPLACE_API",),
    "endpoint": ("MARKETPLACE_ENDPOINT",),
    "apiVersion": ("MARKETPLACE_API_VERSION",),
    "accessToken": ("MARKETPLACE_ACCESS_TOKEN",),
    "tenantId": ("AZURE_TENANT_ID",),
    "clientId": ("AZURE_CLIENT_ID",),
    "clientSecret": ("AZURE_CLIENT_SECRET",),
    "useDefaultCredential": ("MARKETPLACE_USE_DEFAULT_CREDENTIAL",),
    "caBundle": ("MARKETPLACE_CA_BUNDLE",),
    "allowInsecureHttp": ("MARKETPLACE_ALLOW_INSECURE_HTTP",),
}
SECRET_KEYS = frozenset({"accessToken", "clientSecret"})
CONFIG_KEYS = tuple(ENV_FALLBACKS)
FLAG_KEYS = frozenset({"useDefaultCredential", "allowInsecureHttp"})
_API_VERSION = re.compile(r"[A-Za-z0-9._-]{1,64}")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_READ_TIMEOUT_SECONDS = 30.0
READ_TIMEOUT_ENV = "MARKETPLACE_READ_TIMEOUT_SECONDS"


def read_timeout_seconds(environ: Mapping[str, str] | None = None) -> float:
    """How long one portal request may wait for its answer (environment only; default 30 s).

    A go-live POST whose answer does not come in time is never sent again in the same run: the
    offer's operations are listed until the wait limit instead. Slow gateways may need more.
    """
    env = os.environ if environ is None else environ
    text = (env.get(READ_TIMEOUT_ENV) or "").strip()
    if not text:
        return DEFAULT_READ_TIMEOUT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.5 <= value <= 600:
        raise SettingsError(
            f"{READ_TIMEOUT_ENV} must be a number of seconds between 0.5 and 600; got "
            f"{text[:40]!r}. Unset it to use {DEFAULT_READ_TIMEOUT_SECONDS:g} s."
        )
    return value


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the key and the fix.

    `key` is the setting at fault (without the namespace), taken from the message when not
    given: every message starts by naming it."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        found = re.search(rf"{NAMESPACE}:(\w+)", message)
        self.key = key or (found.group(1) if found else "endpoint")


def _flag(key: str, value: Any, default: bool) -> bool:
    """A true/false setting; anything else is refused rather than guessed."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    shown = repr(value) if len(repr(value)) <= 40 else f"a {type(value).__name__}"
    raise SettingsError(f"{NAMESPACE}:{key} must be true or false; got {shown}.")


def _text(key: str, value: Any) -> str | None:
    """A string setting (numbers are taken as their text); lists, objects... are refused."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    # The value itself is not shown: it may be a secret put under the wrong key.
    raise SettingsError(f"{NAMESPACE}:{key} must be a string; got a {type(value).__name__}.")


@dataclass(frozen=True)
class ProviderSettings:
    """Everything needed to talk to the marketplace API; secrets are hidden from `repr`."""

    api: str = DEFAULT_API
    endpoint: str = DEFAULT_ENDPOINT
    api_version: str = DEFAULT_API_VERSION
    access_token: str | None = field(default=None, repr=False)
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    use_default_credential: bool = True
    ca_bundle: str | None = None
    allow_insecure_http: bool = False
    # The keys set in the stack config (the rest came from the environment or defaults): the
    # stack config wins over the environment, credential source by credential source.
    set_in_config: frozenset[str] = frozenset()
    # The environment azure-identity reads (certificate path, federated token file, ...).
    environ: Mapping[str, str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> ProviderSettings:
        """Read `marketplace:<key>` (or bare `<key>`) from config, else the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        from_config: set[str] = set()
        for key, env_names in ENV_FALLBACKS.items():
            value = config.get(f"{NAMESPACE}:{key}", config.get(key))
            if value is None or value == "":
                value = next((env[n] for n in env_names if env.get(n)), None)
            else:
                from_config.add(key)
            values[key] = value if key in FLAG_KEYS else _text(key, value)
        allow_insecure = _flag("allowInsecureHttp", values["allowInsecureHttp"], False)
        use_chain = _flag("useDefaultCredential", values["useDefaultCredential"], True)
        api = _api(values["api"])
        endpoint = str(values["endpoint"] or DEFAULT_ENDPOINTS[api]).rstrip("/")
        try:
            parts = urlsplit(endpoint)
            host, _ = parts.hostname or "", parts.port
        except ValueError:
            raise SettingsError(
                f"marketplace:endpoint is not a usable URL (bad host or port): {endpoint[:200]!r}."
            ) from None
        if "@" in parts.netloc:
            raise SettingsError(
                "marketplace:endpoint must not carry user information (user:password@host); "
                "credentials go in marketplace:accessToken or the Azure AD settings."
            )
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
        if parts.scheme == "http" and not allow_insecure and not is_loopback_host(host):
            raise SettingsError(
                f"marketplace:endpoint {endpoint!r} uses plain http to a host that is not "
                f"loopback, so the bearer token would travel unencrypted. Use https; plain http "
                f"is only accepted for localhost/127.0.0.1/::1, or when "
                f"marketplace:allowInsecureHttp is true."
            )
        _fits_api(api, host)
        api_version = values["apiVersion"] or DEFAULT_API_VERSIONS[api]
        _version_fits_api(api, api_version)
        if not _API_VERSION.fullmatch(api_version):
            raise SettingsError(
                f"marketplace:apiVersion must look like {DEFAULT_API_VERSION} (letters, digits, "
                f"'.', '_', '-'); got {api_version[:80]!r}."
            )
        ca_bundle = values["caBundle"] or None
        if ca_bundle is not None and not os.path.exists(ca_bundle):
            raise SettingsError(
                f"marketplace:caBundle {ca_bundle[:300]!r} does not exist; give the path of a "
                f"PEM file (or directory) with the certificate authorities to trust, or unset "
                f"it to use the system's."
            )
        return cls(
            api=api,
            endpoint=endpoint,
            api_version=api_version,
            access_token=values["accessToken"] or None,
            tenant_id=values["tenantId"] or None,
            client_id=values["clientId"] or None,
            client_secret=values["clientSecret"] or None,
            use_default_credential=use_chain,
            ca_bundle=ca_bundle,
            allow_insecure_http=allow_insecure,
            set_in_config=frozenset(from_config),
            environ=dict(env),
        )

    def _tokens(self) -> TokenProvider:
        """The token source, for the backend's scope; a clear error when there is none."""
        return token_provider_from_settings(
            access_token=self.access_token,
            tenant_id=self.tenant_id,
            client_id=self.client_id,
            client_secret=self.client_secret,
            use_default_chain=self.use_default_credential,
            scope=SCOPES[self.api],
            explicit=self.set_in_config,
            environ=self.environ,
        )

    def client(self) -> PortalClient:
        """Build a Partner Portal client; raises a clear error when no credential is available."""
        return PortalClient(
            self.endpoint,
            self._tokens(),
            api_version=self.api_version,
            timeout=(CONNECT_TIMEOUT_SECONDS, read_timeout_seconds()),
            verify=self.ca_bundle or True,
            allow_insecure_http=self.allow_insecure_http,
        )

    def ingestion_client(self) -> IngestionClient:
        """Build a Product Ingestion client; a clear error when no credential is available."""
        return IngestionClient(
            self.endpoint,
            self._tokens(),
            api_version=self.api_version,
            timeout=(CONNECT_TIMEOUT_SECONDS, read_timeout_seconds()),
            verify=self.ca_bundle or True,
            allow_insecure_http=self.allow_insecure_http,
        )

    def backend(self) -> Backend:
        """The backend `marketplace:api` picks, with its client."""
        if self.api == PRODUCT_INGESTION:
            return ProductIngestionBackend(self.ingestion_client())
        return PartnerPortalBackend(self.client())


def _api(value: Any) -> str:
    """`marketplace:api`: one of APIS (any case); anything else is refused."""
    if value is None or value == "":
        return DEFAULT_API
    text = str(value).strip()
    for api in APIS:
        if text.lower() == api.lower():
            return api
    raise SettingsError(
        f"marketplace:api must be {CLOUD_PARTNER_PORTAL} (the Cloud Partner Portal API, the "
        f"default) or {PRODUCT_INGESTION} (Partner Center's Product Ingestion API); got "
        f"{text[:60]!r}. Set it with `pulumi config set marketplace:api <value>` or "
        f"MARKETPLACE_API."
    )


# Hosts that serve only one of the APIs: an endpoint of the other is a mistake, refused.
_HOSTS_OF = {
    CLOUD_PARTNER_PORTAL: ("cloudpartner.azure.com",),
    PRODUCT_INGESTION: ("graph.microsoft.com",),
}


def _fits_api(api: str, host: str) -> None:
    for other, hosts in _HOSTS_OF.items():
        if other != api and host.lower().rstrip(".") in hosts:
            raise SettingsError(
                f"marketplace:endpoint {host!r} serves the {other} API, but marketplace:api is "
                f"{api}. Unset marketplace:endpoint to use {DEFAULT_ENDPOINTS[api]}, or set "
                f"marketplace:api to {other}."
            )


def _version_fits_api(api: str, version: str) -> None:
    if api == PRODUCT_INGESTION and version == DEFAULT_API_VERSIONS[CLOUD_PARTNER_PORTAL]:
        raise SettingsError(
            f"marketplace:apiVersion {version} is a Cloud Partner Portal api-version, but "
            f"marketplace:api is {PRODUCT_INGESTION}; unset it (default "
            f"{DEFAULT_API_VERSIONS[PRODUCT_INGESTION]}) or give a Product Ingestion $version "
            f"such as 2022-07-01."
        )
    if api == CLOUD_PARTNER_PORTAL and version.startswith("2022-"):
        raise SettingsError(
            f"marketplace:apiVersion {version} is a Product Ingestion $version, but "
            f"marketplace:api is {CLOUD_PARTNER_PORTAL}; unset it (default "
            f"{DEFAULT_API_VERSION}) or set marketplace:api to {PRODUCT_INGESTION}."
        )
