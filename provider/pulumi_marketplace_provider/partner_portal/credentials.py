"""Bearer tokens for the Partner Portal: a static token, or any azure-identity credential.

Tokens are cached and refreshed before they expire (a go-live can wait for days), invalidated
on a 401, and never shown: no token in `repr`, logs or errors, and credential objects refuse
to be pickled (the dynamic host pickles providers into stack state).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .errors import CredentialsUnavailable

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
    "MARKETPLACE_ACCESS_TOKEN; or an Azure AD application with AZURE_TENANT_ID, AZURE_CLIENT_ID "
    "and AZURE_CLIENT_SECRET; or sign in for the Azure credential chain (az login, managed "
    "identity, workload identity). The identity needs access to the publisher in Partner Center."
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


class AzureIdentityToken(_NoPickle):
    """Tokens from an azure-identity credential, cached until `margin` seconds before expiry.

    `wall` gives epoch seconds (`AccessToken.expires_on` is epoch); tests may pass their own.
    When a refresh fails but the cached token has not expired yet, the cached one is used.
    """

    def __init__(
        self,
        credential: _TokenCredential,
        scope: str = DEFAULT_SCOPE,
        *,
        margin: float = 300.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self.scope = scope
        self.margin = margin
        self._wall = wall
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on: float = 0.0
        self.fetches = 0

    def token(self) -> str:
        with self._lock:
            now = self._wall()
            if self._token is not None and now < self._expires_on - self.margin:
                return self._token
            try:
                access = self._credential.get_token(self.scope)
            except Exception as exc:
                if self._token is not None and now < self._expires_on:
                    log.warning("token refresh failed (%s); using the cached token until it "
                                "expires", type(exc).__name__)
                    return self._token
                raise CredentialsUnavailable(
                    f"could not get a Partner Portal token for {self.scope} from "
                    f"{type(self._credential).__name__}: {_safe_message(exc)}. {_HOW_TO}"
                ) from None
            self.fetches += 1
            token = getattr(access, "token", None)
            if not isinstance(token, str) or not token:
                raise CredentialsUnavailable(
                    f"{type(self._credential).__name__} returned no token. {_HOW_TO}"
                )
            expires_on = getattr(access, "expires_on", None)
            self._token = token
            self._expires_on = float(expires_on) if expires_on else now + 3600.0
            log.debug("got a Partner Portal token valid for %.0f s", self._expires_on - now)
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
            self._expires_on = 0.0

    @property
    def expires_on(self) -> float | None:
        return self._expires_on if self._token else None

    def __repr__(self) -> str:
        name = type(self._credential).__name__
        return f"AzureIdentityToken(credential={name}, scope={self.scope!r})"


def _safe_message(exc: BaseException) -> str:
    """The first line of an azure-identity error (they carry no secrets, but can be long)."""
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def token_provider_from_settings(
    access_token: str | None = None,
    tenant_id: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    use_default_chain: bool = True,
    *,
    scope: str = DEFAULT_SCOPE,
) -> TokenProvider:
    """Pick a token source: access token, else app credentials, else (opt-in) the Azure chain.

    Raises CredentialsUnavailable naming the settings when nothing is usable. The chain is only
    consulted at the first `token()` call, with short process/probe timeouts.
    """
    if access_token is not None and access_token.strip():
        return StaticToken(access_token)
    app = {"AZURE_TENANT_ID": tenant_id, "AZURE_CLIENT_ID": client_id,
           "AZURE_CLIENT_SECRET": client_secret}
    given = {k for k, v in app.items() if v}
    if given and given != set(app):
        missing = ", ".join(sorted(set(app) - given))
        raise CredentialsUnavailable(
            f"incomplete Azure AD application credentials: {missing} not set. {_HOW_TO}"
        )
    if given:
        from azure.identity import ClientSecretCredential

        return AzureIdentityToken(
            ClientSecretCredential(str(tenant_id), str(client_id), str(client_secret)), scope
        )
    if use_default_chain:
        from azure.identity import DefaultAzureCredential

        return AzureIdentityToken(
            DefaultAzureCredential(
                exclude_interactive_browser_credential=True, process_timeout=10
            ),
            scope,
        )
    raise CredentialsUnavailable("no Partner Portal credentials configured. " + _HOW_TO)
