"""Refuse publisher/offer/operation ids that could change a request's path or query.

Ids are pasted into URL paths. Rather than escaping (which a server may undo) we accept only
RFC 3986 unreserved characters, which need no escaping anywhere in a URL, and refuse dot
segments. Real Partner Center ids (lowercase letters, digits, `-`, `_`, GUIDs) all pass.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import InvalidIdentifier

__all__ = ["MAX_IDENTIFIER_LENGTH", "validate_identifier"]

MAX_IDENTIFIER_LENGTH = 256
_ALLOWED = re.compile(r"[A-Za-z0-9._~-]+")
_RULE = "letters, digits, '-', '_', '.' and '~' only, at most 256 characters"


def _describe(ch: str) -> str:
    if ch.isspace():
        return "whitespace"
    if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
        return f"control character U+{ord(ch):04X}"
    if ch.isprintable() and ord(ch) < 128:
        return repr(ch)
    return f"character U+{ord(ch):04X} ({ch!r})"


def validate_identifier(field: str, value: object) -> str:
    """Return `value` when it is safe to place in a URL path segment, else raise InvalidIdentifier.

    `field` names the setting for the message (`publisherId`, `offerId`, `operationId`).
    """
    fix = f"use the {field} exactly as Partner Center shows it ({_RULE})"
    if not isinstance(value, str):
        raise InvalidIdentifier(
            f"{field} must be a string, not {type(value).__name__}; {fix}", field=field
        )
    if value == "" or value.strip() == "":
        raise InvalidIdentifier(f"{field} is empty; {fix}", field=field)
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifier(
            f"{field} is {len(value)} characters long, more than {MAX_IDENTIFIER_LENGTH}; {fix}",
            field=field,
        )
    if _ALLOWED.fullmatch(value) is None:
        bad = next(ch for ch in value if _ALLOWED.fullmatch(ch) is None)
        why = {
            "/": "which would change the request path",
            "\\": "which some servers read as a path separator",
            "?": "which would start a query string",
            "#": "which would start a URL fragment",
            "%": "which would be read as a percent-escape",
            "$": "which separates fields in Partner Portal operation paths",
            "&": "which would split a query string",
        }.get(bad, "which is not allowed in an id")
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidIdentifier(
            f"{field} {shown!r} contains {_describe(bad)}, {why}; {fix}", field=field
        )
    if value in (".", "..") or ".." in value:
        raise InvalidIdentifier(
            f"{field} {value!r} contains '..', which could step out of the request path; {fix}",
            field=field,
        )
    return value
