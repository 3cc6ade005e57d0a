"""Bearer tokens for the Partner Portal: a static token, or any azure-identity credential.

Tokens are cached and refreshed before they expire (a go-live can wait for days), invalidated
on a 401, and never shown: no token in `repr`, logs or errors, and credential objects refuse
to be pickled (the dynamic host pickles providers into stack state).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol, runtime_checkable

from .errors import CredentialsUnavailable, TokenEndpointUnavailable

__all__ = [
    "DEFAULT_SCOPE",
    "AzureIdentityToken",
    "StaticToken",
    "TokenProvider",
    "token_provider_from_settings",
]

log = logging.getLogger(__name__)

DEFAULT_SCOPE = "https://cloudpartner.azure.com/.default"

_HOW_TO = (
    "Set marketplace:accessToken (pulumi config set --secret marketplace:accessToken ...) or "
    "MARKETPLACE_ACCESS_TOKEN; or an Azure AD application with AZURE_TENANT_ID and "
    "AZURE_CLIENT_ID plus AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or (workload "
    "identity in pipelines) AZURE_FEDERATED_TOKEN_FILE; or a managed identity or az login for "
    "the Azure credential chain. The identity needs access to the publisher in Partner Center."
)


@runtime_checkable
class TokenProvider(Protocol):
    """Gives a bearer token for the Partner Portal; `invalidate()` forces the next one fresh."""

    def token(self) -> str: ...

    def invalidate(self) -> None: ...


class _NoPickle:
    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} holds a credential and cannot be pickled")

    def __getstate__(self) -> Any:
        raise TypeError(f"{type(self).__name__} holds a credential and cannot be pickled")


class StaticToken(_NoPickle):
    """A token given as-is (`marketplace:accessToken`); it cannot be refreshed."""

    __slots__ = ("_token",)
    refreshable = False

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token.strip():
            raise CredentialsUnavailable("the access token is empty. " + _HOW_TO)
        self._token = token.strip()

    def token(self) -> str:
        return self._token

    def invalidate(self) -> None:
        """Nothing to refresh: the same token is all there is."""

    def __repr__(self) -> str:
        return "StaticToken(<redacted>)"


class _TokenCredential(Protocol):
    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...



# Timeouts for every token request azure-identity makes for us (its defaults are 300 s each,
# longer than any portal call may take).
TOKEN_CONNECT_TIMEOUT = 5.0
TOKEN_READ_TIMEOUT = 20.0
_TIMEOUTS: dict[str, Any] = {"connection_timeout": TOKEN_CONNECT_TIMEOUT,
                             "read_timeout": TOKEN_READ_TIMEOUT}


def _is_transient_token_failure(exc: BaseException) -> bool:
    """A token request that may succeed later: no answer, a timeout, or a 5xx/408/429 answer.

    A refused credential (a 4xx such as invalid_client) and "no credential configured"
    (CredentialUnavailableError, which carries no response) are not.
    """
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    if isinstance(exc, (ServiceRequestError, ServiceResponseError, TimeoutError,
                        ConnectionError)):
        return True
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return isinstance(status, int) and (status >= 500 or status in (408, 429))


class AzureIdentityToken(_NoPickle):
    """Tokens from an azure-identity credential, cached until `margin` seconds before expiry.

    `wall` gives epoch seconds (`AccessToken.expires_on` is epoch); tests may pass their own.
    When a refresh fails but the cached token has not expired yet, the cached one is used.

    The credential is asked outside the lock that guards the cache: while one thread refreshes,
    others keep using a token that has not expired yet, and only callers without a usable
    token wait for the refresh (at most `wait` seconds). `factory`, when given, builds the
    credential; after `invalidate()` (a 401) a new one is built, so azure-identity's own cache
    cannot hand back the token the portal just refused. A token endpoint that times out or
    answers 5xx raises `TokenEndpointUnavailable` (transient: the waiter retries it); a refused
    credential raises `CredentialsUnavailable` (final).
    """

    refreshable = True

    def __init__(
        self,
        credential: _TokenCredential | None = None,
        scope: str = DEFAULT_SCOPE,
        *,
        margin: float = 300.0,
        wall: Callable[[], float] = time.time,
        factory: Callable[[], _TokenCredential] | None = None,
        wait: float = 2 * (TOKEN_CONNECT_TIMEOUT + TOKEN_READ_TIMEOUT),
    ) -> None:
        if credential is None:
            if factory is None:
                raise TypeError("AzureIdentityToken needs a credential or a factory")
            credential = factory()
        self._credential = credential
        self._factory = factory
        self.scope = scope
        self.margin = margin
        self.wait = wait
        self._wall = wall
        self._lock = threading.Lock()  # guards the fields below; never held while fetching
        self._fetching = threading.Lock()  # one fetch at a time
        self._token: str | None = None
        self._expires_on: float = 0.0
        self._stale_credential = False
        self.fetches = 0

    def _cached(self, now: float, *, fresh: bool) -> str | None:
        if self._token is None:
            return None
        limit = self._expires_on - self.margin if fresh else self._expires_on
        return self._token if now < limit else None

    def token(self) -> str:
        with self._lock:
            hit = self._cached(self._wall(), fresh=True)
            if hit is not None:
                return hit
            usable = self._cached(self._wall(), fresh=False)
        if usable is not None:
            # In the refresh margin: one caller refreshes, the others go on with this one.
            if not self._fetching.acquire(blocking=False):
                return usable
        elif not self._fetching.acquire(timeout=self.wait):
            raise TokenEndpointUnavailable(
                f"no Partner Portal token: a token request to Azure AD has not finished within "
                f"{self.wait:.0f} s"
            )
        try:
            with self._lock:
                hit = self._cached(self._wall(), fresh=True)
                if hit is not None:  # refreshed by another caller meanwhile
                    return hit
                credential = self._credential
                if self._stale_credential and self._factory is not None:
                    credential = self._credential = self._factory()
                self._stale_credential = False
            return self._fetch(credential)
        finally:
            self._fetching.release()

    def _fetch(self, credential: _TokenCredential) -> str:
        now = self._wall()
        name = type(credential).__name__
        try:
            access = credential.get_token(self.scope)
        except Exception as exc:
            with self._lock:
                usable = self._cached(now, fresh=False)
            if usable is not None:
                log.warning("token refresh failed (%s); using the cached token until it "
                            "expires", type(exc).__name__)
                return usable
            if _is_transient_token_failure(exc):
                raise TokenEndpointUnavailable(
                    f"could not get a Partner Portal token from {name}: the token endpoint "
                    f"did not answer or failed ({_safe_message(exc)}); retrying"
                ) from None
            raise CredentialsUnavailable(
                f"could not get a Partner Portal token for {self.scope} from "
                f"{name}: {_safe_message(exc)}. {_HOW_TO}"
            ) from None
        token = getattr(access, "token", None)
        if not isinstance(token, str) or not token:
            raise CredentialsUnavailable(f"{name} returned no token. {_HOW_TO}")
        expires_on = getattr(access, "expires_on", None)
        with self._lock:
            self.fetches += 1
            self._token = token
            self._expires_on = float(expires_on) if expires_on else now + 3600.0
            log.debug("got a Partner Portal token valid for %.0f s", self._expires_on - now)
        return token

    def invalidate(self) -> None:
        """Drop the cached token, and the credential's own cache with it (when it can be
        rebuilt), so the next token is really new: after a 401, a permission granted since
        the last token was issued is picked up."""
        with self._lock:
            self._token = None
            self._expires_on = 0.0
            self._stale_credential = True

    @property
    def credential_name(self) -> str:
        return type(self._credential).__name__

    @property
    def expires_on(self) -> float | None:
        return self._expires_on if self._token else None

    def __repr__(self) -> str:
        return f"AzureIdentityToken(credential={self.credential_name}, scope={self.scope!r})"


def _safe_message(exc: BaseException) -> str:
    """The first line of an azure-identity error (they carry no secrets, but can be long)."""
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


APP_KEYS = ("tenantId", "clientId", "clientSecret")
_ENV_OF = {"tenantId": "AZURE_TENANT_ID", "clientId": "AZURE_CLIENT_ID",
           "clientSecret": "AZURE_CLIENT_SECRET", "accessToken": "MARKETPLACE_ACCESS_TOKEN"}


def _named(key: str) -> str:
    return f"marketplace:{key} ({_ENV_OF[key]})"


def token_provider_from_settings(
    access_token: str | None = None,
    tenant_id: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    use_default_chain: bool = True,
    *,
    scope: str = DEFAULT_SCOPE,
    explicit: Collection[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TokenProvider:
    """Pick a token source; the stack config wins over the environment, source by source.

    1. `marketplace:accessToken` in the stack config: a static token.
    2. App credentials in the stack config (any of tenantId/clientId/clientSecret; missing
       ones are taken from AZURE_*): with a secret, a client secret credential; else with
       AZURE_CLIENT_CERTIFICATE_PATH a certificate credential; else with
       AZURE_FEDERATED_TOKEN_FILE workload identity. Anything less is refused, naming what
       is missing.
    3. MARKETPLACE_ACCESS_TOKEN in the environment: a static token.
    4. App credentials in the environment: secret, certificate or federated token file
       (GitHub Actions OIDC, Azure Pipelines workload identity federation, AKS workload
       identity), as azure-identity reads them.
    5. The azure-identity chain (`useDefaultCredential`, default on): managed identity (with
       AZURE_CLIENT_ID for a user-assigned one), Azure CLI, ...

    `explicit` names the settings that came from the stack config (None: all given ones).
    Raises CredentialsUnavailable naming the settings when nothing is usable. No token is
    asked for here: only at the first `token()` call.
    """
    env = os.environ if environ is None else environ
    given = {k for k, v in (("accessToken", access_token), ("tenantId", tenant_id),
                            ("clientId", client_id), ("clientSecret", client_secret)) if v}
    from_config = given if explicit is None else set(explicit) & given
    token_given = access_token is not None and bool(access_token.strip())
    app_in_config = bool(from_config & set(APP_KEYS))
    if token_given and "accessToken" in from_config:
        return StaticToken(str(access_token))
    if app_in_config:
        chosen = _app_credential(tenant_id, client_id, client_secret, env, scope)
        if chosen is not None:
            return chosen
        raise CredentialsUnavailable(
            "incomplete Azure AD application credentials in the stack config: "
            + _missing(tenant_id, client_id) + ". " + _HOW_TO
        )
    if token_given:
        return StaticToken(str(access_token))
    chosen = _app_credential(tenant_id, client_id, client_secret, env, scope)
    if chosen is not None:
        return chosen
    if client_secret or env.get("AZURE_CLIENT_CERTIFICATE_PATH"):
        # A secret or a certificate with nothing to use it for: a half-set configuration.
        raise CredentialsUnavailable(
            "incomplete Azure AD application credentials in the environment: "
            + _missing(tenant_id, client_id) + ". " + _HOW_TO
        )
    if use_default_chain:
        from azure.identity import DefaultAzureCredential

        # App credentials and workload identity from the environment were handled above
        # (empty values read as unset, as CI systems leave undefined secrets); the chain's own
        # copies would choke on an empty AZURE_CLIENT_SECRET. Username/password stays.
        by_password = bool(env.get("AZURE_USERNAME"))

        def chain() -> _TokenCredential:
            return DefaultAzureCredential(
                exclude_interactive_browser_credential=True,
                exclude_environment_credential=not by_password,
                exclude_workload_identity_credential=True,
                process_timeout=10,
                **_TIMEOUTS,
            )

        return AzureIdentityToken(factory=chain, scope=scope)
    raise CredentialsUnavailable("no Partner Portal credentials configured. " + _HOW_TO)


def _missing(tenant_id: str | None, client_id: str | None) -> str:
    missing = [_named(k) for k, v in (("tenantId", tenant_id), ("clientId", client_id)) if not v]
    if tenant_id and client_id:
        missing.append(
            f"{_named('clientSecret')}, or AZURE_CLIENT_CERTIFICATE_PATH for a certificate, or "
            f"AZURE_FEDERATED_TOKEN_FILE for workload identity"
        )
    return " and ".join(missing) + " not set"


def _app_credential(
    tenant_id: str | None, client_id: str | None, client_secret: str | None,
    env: Mapping[str, str], scope: str,
) -> AzureIdentityToken | None:
    """The credential for an app registration: secret, certificate or federated token file."""
    if not (tenant_id and client_id):
        return None
    tenant, client = str(tenant_id), str(client_id)
    factory: Callable[[], _TokenCredential]
    if client_secret:
        secret = str(client_secret)

        def factory() -> _TokenCredential:
            from azure.identity import ClientSecretCredential

            return ClientSecretCredential(tenant, client, secret, **_TIMEOUTS)
    elif env.get("AZURE_CLIENT_CERTIFICATE_PATH"):
        path = env["AZURE_CLIENT_CERTIFICATE_PATH"]
        password = env.get("AZURE_CLIENT_CERTIFICATE_PASSWORD") or None

        def factory() -> _TokenCredential:
            from azure.identity import CertificateCredential

            return CertificateCredential(tenant, client, certificate_path=path,
                                         password=password, **_TIMEOUTS)
    elif env.get("AZURE_FEDERATED_TOKEN_FILE"):
        token_file = env["AZURE_FEDERATED_TOKEN_FILE"]

        def factory() -> _TokenCredential:
            from azure.identity import WorkloadIdentityCredential

            # The file is read at every token request: the pipeline may rotate it.
            return WorkloadIdentityCredential(tenant_id=tenant, client_id=client,
                                              token_file_path=token_file, **_TIMEOUTS)
    else:
        return None
    return AzureIdentityToken(factory=factory, scope=scope)
