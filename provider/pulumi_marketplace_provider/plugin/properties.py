"""Pulumi's property encoding on the wire: Struct values with secret and unknown sentinels.

The lifecycle rules work on plain values; this module unwraps secrets on the way in (remembering
which top-level properties held one) and wraps the same properties on the way out, so a secret
input never comes back as a plain output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a wire signature
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def secret(value: Any) -> dict[str, Any]:
    return {SIG_KEY: SECRET_SIG, "value": value}


def _unwrap(value: Any) -> tuple[Any, bool]:
    """Return the value without secret wrappers, and whether any were found."""
    if is_secret(value):
        inner, _ = _unwrap(value.get("value"))
        return inner, True
    if isinstance(value, dict):
        found = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key], nested = _unwrap(item)
            found = found or nested
        return out, found
    if isinstance(value, list):
        items = [_unwrap(item) for item in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def unmarshal(struct: struct_pb2.Struct | None) -> tuple[dict[str, Any], set[str]]:
    """Struct -> (plain dict, names of top-level properties that held a secret)."""
    if struct is None:
        return {}, set()
    raw = json_format.MessageToDict(struct)
    plain: dict[str, Any] = {}
    secrets: set[str] = set()
    for key, value in raw.items():
        plain[key], was_secret = _unwrap(value)
        if was_secret:
            secrets.add(key)
    return plain, secrets


def marshal(values: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> struct_pb2.Struct:
    """Plain dict -> Struct, wrapping `secret_keys` as secrets and dropping None values."""
    keep_secret = set(secret_keys)
    out = struct_pb2.Struct()
    body: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        body[key] = secret(value) if key in keep_secret else value
    out.update(body)
    return out
