"""Operation pointers: the three documented forms, parsed into one reference.

A long-running POST answers 202 with `Location` (relative; migrated offers
`/api/publishers/{pub}/offers/{offer}/operations/{guid}?api-version=...`, non-migrated offers
`/api/operations/{pub}${offer}${n}$preview?api-version=...` with a literal, opaque `$` path) or
`Operation-Location` (2018: absolute, no api-version). Each becomes an `OperationRef` whose URL
is absolute, on the configured endpoint's origin, and carries an api-version. A pointer to any
other origin is refused so the bearer token never travels there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .errors import PointerError
from .urls import Origin, origin_of

__all__ = [
    "DEFAULT_API_VERSION",
    "OperationRef",
    "PointerForm",
    "canonical_ref",
    "is_composite_id",
    "non_migrated_ref",
    "parse_pointer",
    "pointer_header",
]

DEFAULT_API_VERSION = "2017-10-31"
PointerForm = Literal["migrated", "nonMigrated", "absolute", "canonical"]
_FORMS: tuple[str, ...] = ("migrated", "nonMigrated", "absolute", "canonical")

_MIGRATED = re.compile(r"^/api/publishers/[^/]+/offers/[^/]+/operations/(?P<id>[^/]+)/?$")
_NON_MIGRATED = re.compile(r"^/api/operations/(?P<id>[^/]+)/?$")
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]|[^\x00-\x7f]")
_MAX_POINTER = 4096


@dataclass(frozen=True)
class OperationRef:
    """One operation: its id and a normalized absolute URL on the endpoint's origin."""

    operation_id: str
    url: str
    form: PointerForm
    # The `Retry-After` (seconds) of the answer that gave this pointer (a 202): the first poll
    # waits that long. Not part of the identity and never stored.
    retry_after: float | None = field(default=None, compare=False)
    # Our own pause before the first poll (the answers that gave this pointer showed it just
    # started or running): unlike a Retry-After, the wait limit cuts it short. Never stored.
    first_look: float | None = field(default=None, compare=False)
    # Our POST created it, and was sent then (the clock's `now()`): it began no earlier, which
    # bounds its first step's start (a progress reading then gives a pace). Never stored.
    began_after: float | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, str]:
        return {"operationId": self.operation_id, "url": self.url, "form": self.form}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperationRef:
        """Rebuild from `to_dict()` output (e.g. stack state); ValueError when it is not one."""
        op_id, url, form = data.get("operationId"), data.get("url"), data.get("form")
        if not isinstance(op_id, str) or not op_id:
            raise ValueError("operation reference has no operationId")
        if not isinstance(url, str):
            raise ValueError("operation reference has no url")
        if form not in _FORMS:
            raise ValueError(f"operation reference has an unknown form {form!r}")
        origin_of(url)  # absolute http(s), no userinfo
        return cls(op_id, url, cast(PointerForm, form))

    @property
    def origin(self) -> Origin:
        return origin_of(self.url)


def pointer_header(headers: Mapping[str, str]) -> str | None:
    """`Location`, else `Operation-Location` (any case), else None."""
    lowered: dict[str, str] = {}
    for key, value in headers.items():
        lowered.setdefault(str(key).lower(), value)
    for name in ("location", "operation-location"):
        found = lowered.get(name)
        if isinstance(found, str) and found.strip():
            return found.strip()
    return None


def _with_api_version(query: str, api_version: str) -> str:
    names = {k.lower() for k, _ in parse_qsl(query, keep_blank_values=True)}
    if "api-version" in names:
        return query
    extra = "api-version=" + quote(api_version, safe="-._~")
    return f"{query}&{extra}" if query else extra


def parse_pointer(
    headers_or_value: Mapping[str, str] | str | None,
    endpoint: str,
    *,
    api_version: str = DEFAULT_API_VERSION,
) -> OperationRef:
    """Parse a 202's pointer (headers or the header value) against `endpoint`.

    Raises PointerError when it is missing, unreadable, or names another origin or scheme.
    """
    if isinstance(headers_or_value, Mapping):
        value = pointer_header(headers_or_value)
    else:
        value = headers_or_value.strip() if isinstance(headers_or_value, str) else None
    if not value:
        raise PointerError(
            "the portal accepted the request but its answer has no Location or "
            "Operation-Location header, so the operation cannot be followed"
        )
    if len(value) > _MAX_POINTER or _BAD_CHARS.search(value):
        raise PointerError(f"unreadable operation pointer {value[:200]!r}")
    try:
        home = origin_of(endpoint)
    except ValueError as exc:
        raise PointerError(f"endpoint {endpoint!r} is not a usable origin: {exc}") from exc

    try:
        parts = urlsplit(value)
        absolute = bool(parts.scheme or parts.netloc)
        if absolute and not parts.scheme:  # scheme-relative //host/path
            parts = urlsplit(f"{home.scheme}:{value}")
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise PointerError(f"operation pointer {value[:200]!r} is not a URL: {exc}") from None
    if absolute:
        try:
            there = origin_of(parts.geturl())
        except ValueError as exc:
            raise PointerError(f"operation pointer {value!r} is not usable: {exc}") from exc
        if there != home:
            raise PointerError(
                f"operation pointer goes to {there.url}, not the configured endpoint "
                f"{home.url}; refusing to follow it (credentials are only sent to the endpoint)"
            )
    path = parts.path
    if not path.startswith("/"):
        path = "/" + path
    segments = [unquote(s) for s in path.split("/")]
    if any(s in (".", "..") for s in segments):
        raise PointerError(f"operation pointer {value!r} has dot segments")

    m = _MIGRATED.match(path) or _NON_MIGRATED.match(path)
    if m is not None:
        op_id = unquote(m.group("id"))
        form: PointerForm = "migrated" if m.re is _MIGRATED else "nonMigrated"
    else:
        op_id = unquote(path.rstrip("/").rsplit("/", 1)[-1])
        form = "nonMigrated"  # unknown shape: followed as an opaque path
    if not op_id:
        raise PointerError(f"operation pointer {value!r} names no operation")
    if absolute:
        form = "absolute"
    query = _with_api_version(parts.query, api_version)
    return OperationRef(op_id, f"{home.url}{path}?{query}", form)


def canonical_ref(
    endpoint: str, publisher_id: str, offer_id: str, operation_id: str, api_version: str
) -> OperationRef:
    """The documented GET-operation URL for an id (ids must already be validated)."""
    home = origin_of(endpoint)
    url = (
        f"{home.url}/api/publishers/{publisher_id}/offers/{offer_id}/operations/"
        f"{operation_id}?api-version={quote(api_version, safe='-._~')}"
    )
    return OperationRef(operation_id, url, "canonical")


# A non-migrated offer's operation id: `{pub}${offer}${n}${slot}`, fields of safe characters.
_COMPOSITE_ID = re.compile(r"[A-Za-z0-9._~-]+(?:\$[A-Za-z0-9._~-]+){2,5}")


def is_composite_id(operation_id: str) -> bool:
    """True for the `$`-separated ids that non-migrated offers' pointers carry."""
    return _COMPOSITE_ID.fullmatch(operation_id) is not None and ".." not in operation_id


def non_migrated_ref(endpoint: str, operation_id: str, api_version: str) -> OperationRef:
    """The `/api/operations/{id}` URL of a composite id (check `is_composite_id` first)."""
    if not is_composite_id(operation_id):
        raise PointerError(f"{operation_id!r} is not a non-migrated operation id")
    home = origin_of(endpoint)
    url = f"{home.url}/api/operations/{operation_id}?api-version={quote(api_version, safe='-._~')}"
    return OperationRef(operation_id, url, "nonMigrated")
