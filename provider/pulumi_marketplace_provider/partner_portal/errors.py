"""One error hierarchy for everything the Partner Portal client and waiter can report.

Every error carries what a user needs to act or to open a support case (HTTP status, the
portal's error code and message, the request id) and never a credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Operation
    from .pointers import OperationRef

__all__ = [
    "BadRequest",
    "Conflict",
    "CredentialsUnavailable",
    "Forbidden",
    "InvalidIdentifier",
    "MalformedResponse",
    "NotFound",
    "OperationCanceled",
    "OperationFailed",
    "PointerError",
    "PortalError",
    "ServerError",
    "Throttled",
    "TokenEndpointUnavailable",
    "TransportError",
    "Unauthorized",
    "WaitTimedOut",
    "error_for_status",
    "is_transient",
    "surely_not_applied",
]


class PortalError(Exception):
    """Base of every Partner Portal error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        body: str | None = None,
        method: str | None = None,
        url: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # The answer's Retry-After in seconds (any status may carry it), None when absent.
        self.retry_after = retry_after
        self.status = status
        self.code = code
        self.request_id = request_id
        self.body = body
        self.method = method
        self.url = url

    def __str__(self) -> str:
        parts = [self.message]
        details = []
        if self.method and self.url:
            details.append(f"{self.method} {self.url}")
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if self.code:
            details.append(f"code {self.code}")
        if self.request_id:
            details.append(f"request id {self.request_id}")
        if details:
            parts.append(f"[{', '.join(details)}]")
        return " ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep attributes across pickling (engine/worker boundaries) without custom __init__ args.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[PortalError], message: str, state: dict[str, Any]) -> PortalError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class BadRequest(PortalError):
    """400/422/other 4xx: wrong as sent, retrying cannot help. The body is kept whole."""

    def __str__(self) -> str:
        text = super().__str__()
        if self.body and self.body.strip() and self.body.strip() not in text:
            text += "\nPortal response body:\n" + self.body
        return text


class Unauthorized(PortalError):
    """401: the token was refused (after one refresh and retry)."""


class Forbidden(PortalError):
    """403: the identity has no access to this publisher."""


class NotFound(PortalError):
    """404: publisher, offer or operation does not exist (or is not visible to this identity)."""


class Conflict(PortalError):
    """409/412: another operation or a concurrent change is in the way."""


class Throttled(PortalError):
    """429: too many requests; `retry_after` is the server's wait in seconds, if it said."""


class ServerError(PortalError):
    """5xx (or 408): the service failed this time; worth retrying."""


class MalformedResponse(ServerError):
    """A success status with a body we cannot read; treated like a server error."""


class TransportError(PortalError):
    """No HTTP answer: connection refused or reset, timeout, TLS failure."""

    def __init__(self, message: str, *, kind: str = "connection", transient: bool = True,
                 **kw: Any) -> None:
        super().__init__(message, **kw)
        self.kind = kind
        self.transient = transient


class InvalidIdentifier(PortalError, ValueError):
    """A publisher/offer/operation id that could change the request URL; refused before sending."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class PointerError(PortalError):
    """An operation pointer that is missing, unreadable, or points to another origin."""


class CredentialsUnavailable(Unauthorized):
    """No credential could produce a token; the message names the settings to provide."""


class TokenEndpointUnavailable(TransportError):
    """Azure AD (or the managed identity endpoint) timed out or answered 5xx when asked for a
    token: transient, retried inside the wait like a 5xx from the portal."""

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("kind", "token-endpoint")
        super().__init__(message, **kw)


class OperationFailed(PortalError):
    """The operation ended `failed`; the message carries the portal's step messages."""

    def __init__(
        self,
        message: str,
        *,
        operation: Operation | None,
        operation_id: str | None,
        ref: OperationRef | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.operation = operation
        self.operation_id = operation_id
        self.ref = ref


class OperationCanceled(OperationFailed):
    """The operation ended `canceled`."""


class WaitTimedOut(PortalError):
    """The deadline passed before the operation ended; it may still be running."""

    def __init__(
        self,
        message: str,
        *,
        operation_id: str | None,
        last: Operation | None,
        ref: OperationRef | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.operation_id = operation_id
        self.last = last
        self.ref = ref


_BY_STATUS: dict[int, type[PortalError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    408: ServerError,
    409: Conflict,
    412: Conflict,
    422: BadRequest,
    429: Throttled,
}


def error_for_status(status: int) -> type[PortalError]:
    """The error class for an HTTP status (unknown 4xx are bad requests, 5xx server errors)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if status >= 400:
        return BadRequest
    return PortalError


def is_transient(exc: BaseException) -> bool:
    """True when the same request may succeed later: 5xx, 408, 429, resets, timeouts."""
    if isinstance(exc, TransportError):
        return exc.transient
    if isinstance(exc, (ServerError, Throttled)):
        return True
    return False


def surely_not_applied(exc: BaseException) -> bool:
    """True when a failed request certainly changed nothing on the server, so a POST may be
    sent again: a refusal (429, other 4xx but 408) or a connection that was never made.

    Everything else (read timeout, reset mid-request, 5xx, a 2xx we could not read) may have
    been applied, and a go-live POST is then reconciled by listing, never sent again.
    """
    if isinstance(exc, TransportError):
        # token-endpoint: Azure AD failed before the request was built, so nothing was sent.
        return exc.kind in ("connect-refused", "connect-timeout", "token-endpoint")
    if isinstance(exc, (ServerError, PointerError, WaitTimedOut, OperationFailed)):
        return False
    if isinstance(exc, PortalError) and exc.status is not None:
        return 400 <= exc.status < 500 and exc.status != 408
    return False
