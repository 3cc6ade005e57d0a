"""HTTPS plumbing shared by the marketplace API clients: one request, its errors.

Each client has one connection pool (`transport.pool_for`, shared by its threads), every
request has explicit connect/read timeouts, redirects are never followed (so the bearer token
cannot leak to another origin), a 401 is retried once with a fresh token, and every failure
becomes one `PortalError` subclass carrying status, code, message, request id. Retrying and
waiting are the callers' job, not this module's.
"""

from __future__ import annotations

import json
import logging
import platform
import re
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import urllib3
import urllib3.exceptions
from requests.utils import requote_uri

from .. import __version__
from ..pacing import Pacer, pacer_for
from ..procedure import Clock
from .credentials import TokenProvider
from .errors import (
    CredentialsUnavailable,
    MalformedResponse,
    PointerError,
    PortalError,
    TransportError,
    error_for_status,
)
from .retry_after import parse_retry_after
from .transport import (
    DEFAULT_POOL_SIZE,
    MAX_ANSWER_BYTES,
    Answer,
    UnsupportedProxy,
    pool_for,
    read_answer,
)
from .urls import Origin, is_loopback_host, origin_of

__all__ = ["USER_AGENT", "ApiClient", "request_id"]

_Client = TypeVar("_Client", bound="ApiClient")

log = logging.getLogger(__name__)

USER_AGENT = (
    f"pulumi-marketplace/{__version__} (+https://github.com/pulumi-marketplace; "
    f"python/{platform.python_version()}) urllib3/{urllib3.__version__}"
)
_REQUEST_ID_HEADERS = (
    "x-ms-request-id",
    "x-ms-correlation-request-id",
    "request-id",
    "x-request-id",
    "x-correlation-id",
)
_MAX_BODY = 64 * 1024
# What may follow "Bearer " in a header: visible ASCII only (RFC 6750's b64token is a subset).
_SENDABLE_TOKEN = re.compile(r"[\x21-\x7e]+")
_TLS_ADVICE = (
    "The server's certificate could not be verified (verification is never turned off). If the "
    "endpoint uses a private or corporate certificate authority, set marketplace:caBundle (or "
    "MARKETPLACE_CA_BUNDLE) to a PEM file holding that CA; also check that "
    "marketplace:endpoint names the host the certificate was issued for."
)


def request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def _error_fields(text: str) -> tuple[str | None, str | None]:
    """(code, message) from `{"error": {"code", "message"}}` and the usual variants."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None, None
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, Mapping):
        return None, None
    inner = data.get("error", data)
    if isinstance(inner, str):
        return None, inner
    if not isinstance(inner, Mapping):
        return None, None
    code = inner.get("code") or inner.get("Code")
    message = inner.get("message") or inner.get("Message")
    return (str(code) if code else None), (str(message) if message else None)


class ApiClient:
    """Blocking, thread-safe HTTPS plumbing shared by the marketplace API clients.

    Subclasses add the API's own URLs and methods; this class sends one request at a time to
    the configured endpoint's origin only, with the bearer token, and maps failures to errors.
    """

    # What to tell the user when the token is refused (401 after a refresh) or lacks access.
    UNAUTHORIZED_HINT = "check the credentials and the token's audience"
    FORBIDDEN_HINT = "this identity has no access"

    def __init__(
        self,
        endpoint: str,
        tokens: TokenProvider,
        *,
        api_version: str,
        timeout: tuple[float, float] = (5.0, 30.0),
        verify: bool | str = True,
        allow_insecure_http: bool = False,
        clock: Clock | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        user_agent: str = USER_AGENT,
    ) -> None:
        try:
            origin = origin_of(endpoint.strip())
        except ValueError as exc:
            raise ValueError(f"marketplace endpoint {endpoint!r} is not usable: {exc}") from None
        if origin.scheme == "http" and not (allow_insecure_http or is_loopback_host(origin.host)):
            raise ValueError(
                f"marketplace endpoint {endpoint!r} uses plain http to a non-loopback host; "
                "use https (plain http is only allowed for localhost/127.0.0.1/::1)"
            )
        if not api_version or any(c in api_version for c in "&#?/ "):
            raise ValueError(f"api version {api_version!r} is not usable")
        self.origin: Origin = origin
        # Every client of this origin in the process shares its quota, so its pacer too.
        self.pacer: Pacer = pacer_for(origin.url)
        self.endpoint = origin.url
        self.api_version = api_version
        self.timeout = timeout
        self.verify = verify
        self.user_agent = user_agent
        self._tokens = tokens
        self._clock = clock
        self._pool_size = pool_size
        self._pool: urllib3.PoolManager | None = None
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(endpoint={self.endpoint!r}, api_version={self.api_version!r})"

    def __reduce__(self) -> Any:
        raise TypeError(
            f"{type(self).__name__} holds a credential and connections; it cannot be pickled"
        )

    # -- plumbing ---------------------------------------------------------------------

    def _connections(self) -> urllib3.PoolManager:
        """The client's pool, made on first use (so a bad proxy setting fails a request, with
        its error, not the client's construction)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = pool_for(self.endpoint, verify=self.verify,
                                      maxsize=self._pool_size)
            return self._pool

    def close(self) -> None:
        """Close the pooled connections (a later request opens new ones)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.clear()

    def __enter__(self: _Client) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wall(self) -> datetime:
        return self._clock.wall() if self._clock is not None else datetime.now(timezone.utc)

    def _answered_at(self, resp: Answer) -> datetime:
        """The server's clock when it answered (its `Date`), else ours.

        An HTTP-date Retry-After is measured from the answer's own Date (RFC 9110 10.2.3), so
        a portal clock ahead of or behind ours does not stretch or cut the wait.
        """
        value = resp.headers.get("Date")
        if value:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError, OverflowError):
                when = None
            if when is not None:
                return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
        return self._wall()

    def _retry_after(self, resp: Answer) -> float | None:
        return parse_retry_after(resp.headers.get("Retry-After"), self._answered_at(resp))

    def _request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one request (plus one retry on 401 with a fresh token); raise on >= 300."""
        try:
            if origin_of(url) != self.origin:
                raise PointerError(
                    f"refusing to send a request to {origin_of(url).url}: credentials are only "
                    f"sent to the configured endpoint {self.endpoint}"
                )
        except ValueError as exc:
            raise PointerError(f"not a usable URL {url!r}: {exc}") from None
        headers = {
            "Accept": "application/json",
            "User-Agent": self.user_agent,
            "x-ms-client-request-id": str(uuid.uuid4()),
        }
        data: bytes | None = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        elif method == "POST":
            headers["Content-Type"] = "application/json"
            data = b""
        target = requote_uri(url)
        if params:
            target += ("&" if urlsplit(target).query else "?") + urlencode(params)
        timeout = urllib3.Timeout(connect=self.timeout[0], read=self.timeout[1])
        for attempt in (0, 1):
            token = self._tokens.token()
            if not _SENDABLE_TOKEN.fullmatch(token):
                # http.client would refuse it with an error that quotes the header, token included.
                raise CredentialsUnavailable(
                    "the bearer token contains whitespace, a line break or a non-ASCII "
                    "character, so it cannot be sent in an Authorization header; check the "
                    "value of marketplace:accessToken (or MARKETPLACE_ACCESS_TOKEN)",
                    method=method, url=url,
                )
            try:
                # No replays (retries=False): retrying is the waiter's and go-live's decision
                # (a POST replayed blindly could start a second go-live). urllib3 still
                # reconnects a pooled connection it finds dropped before using it.
                raw = self._connections().request(
                    method, target, body=data,
                    headers={**headers, "Authorization": f"Bearer {token}"},
                    timeout=timeout, redirect=False, retries=False, preload_content=False,
                )
                resp = read_answer(raw)
            except urllib3.exceptions.SSLError as exc:
                raise TransportError(
                    f"TLS failure talking to {self.endpoint}: {_first_line(exc)}. {_TLS_ADVICE}",
                    kind="tls", transient=False, method=method, url=url,
                ) from None
            except urllib3.exceptions.NewConnectionError as exc:
                # Refused before a connection existed: the request was surely never sent.
                # (A subclass of ConnectTimeoutError, so it is caught first.)
                raise TransportError(
                    f"connection to {self.endpoint} failed: {_first_line(exc)}",
                    kind="connect-refused", method=method, url=url,
                ) from None
            except urllib3.exceptions.TimeoutError as exc:
                kind = "connect-timeout" if isinstance(
                    exc, urllib3.exceptions.ConnectTimeoutError) else "timeout"
                raise TransportError(
                    f"{method} timed out ({kind}) talking to {self.endpoint}",
                    kind=kind, method=method, url=url,
                ) from None
            except UnsupportedProxy as exc:
                raise TransportError(str(exc), kind="other", transient=False,
                                     method=method, url=url) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                # Reset, closed mid-answer, a truncated or undecodable body, a proxy failure.
                if isinstance(exc, urllib3.exceptions.LocationValueError):
                    raise TransportError(
                        f"request to {self.endpoint} failed: {_first_line(exc)}",
                        kind="other", transient=False, method=method, url=url,
                    ) from None
                raise TransportError(
                    f"connection to {self.endpoint} failed: {_first_line(exc)}",
                    kind="connection", method=method, url=url,
                ) from None
            except ValueError as exc:
                raise TransportError(
                    f"request to {self.endpoint} failed: "
                    f"{_first_line(exc).replace(token, '<redacted>')}",
                    kind="other", transient=False, method=method, url=url,
                ) from None
            log.debug("%s %s -> %s", method, url, resp.status_code)
            self.pacer.observe(refused=resp.status_code == 429)
            if resp.status_code == 401 and attempt == 0 and getattr(
                self._tokens, "refreshable", True
            ):
                log.info("401 from the portal; refreshing the token and retrying once")
                self._tokens.invalidate()
                continue
            if resp.status_code >= 300:
                raise self._error(method, url, resp, token)
            if resp.cut_short:
                raise MalformedResponse(
                    f"{method} {_path_of(url)}: the portal answered {resp.status_code} with a "
                    f"body over {MAX_ANSWER_BYTES // (1024 * 1024)} MB, which is not read",
                    status=resp.status_code, request_id=request_id(resp.headers),
                )
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, method: str, url: str, resp: Answer, token: str) -> PortalError:
        text = resp.text[:_MAX_BODY] if resp.content else ""
        if token and token in text:
            text = text.replace(token, "<redacted>")
        code, message = _error_fields(text)
        status = resp.status_code
        rid = request_id(resp.headers)
        what = f"{method} {_path_of(url)}"
        retry_after = self._retry_after(resp)
        if 300 <= status < 400:
            where = resp.headers.get("Location", "")
            return PortalError(
                f"{what} answered a redirect ({status}) to {where[:200]!r}, which is not "
                "followed (credentials stay with the configured endpoint)",
                status=status, request_id=rid, body=text or None, method=method, url=url,
                retry_after=retry_after,
            )
        cls = error_for_status(status)
        summary = message or resp.reason or "error"
        msg = f"{what} failed: {summary}"
        if status == 401 and not getattr(self._tokens, "refreshable", True):
            msg += (" (the static token was refused: it has probably expired, and a static "
                    "token (marketplace:accessToken or MARKETPLACE_ACCESS_TOKEN) cannot be "
                    "refreshed; use app credentials or workload identity for waits longer "
                    "than a token lives)")
        elif status == 401:
            msg += f" (the token was refused, also after a refresh; {self.UNAUTHORIZED_HINT})"
        elif status == 403:
            msg += f" ({self.FORBIDDEN_HINT})"
        return cls(msg, status=status, code=code, request_id=rid, body=text or None,
                   retry_after=retry_after)

    def _json(self, resp: Answer, what: str) -> Any:
        try:
            return resp.json()
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            raise MalformedResponse(
                f"{what}: the portal answered {resp.status_code} with a body that is not JSON",
                status=resp.status_code, request_id=request_id(resp.headers),
                body=resp.text[:2000] or None,
            ) from None



def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _path_of(url: str) -> str:
    return urlsplit(url).path or "/"
