"""Pulumi property values on the wire (``google.protobuf.Struct``) and in the double's state file.

Why this exists: the engine marshals resource properties into ``Struct`` with a few magic
signatures (secrets, unknowns). Tests must be able to build such values and to see, in what a
provider returned, which values came back secret and which plain. Python values used here:

* plain JSON values (``None``, ``bool``, ``float``/``int``, ``str``, ``list``, ``dict``);
* :class:`Secret` wrapping any of those (what the engine calls a secret ``PropertyValue``);
* the string :data:`UNKNOWN` (a computed value during preview).

Numbers come back from a ``Struct`` as ``float``; ``3 == 3.0`` in Python, so comparisons work.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2

#: Key that marks a "special" object in the wire format (pulumi ``sig.Key``).
SIG_KEY = "4dabf18193072939515e22adb298388d"
#: Signature value of a secret.
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
#: Signature of resource references, assets, archives and output values; passed through untouched.
OTHER_SIGS = {
    "5cf8f73096256a8f31e491e813e4eb8e": "resource reference",
    "c44067f5952c0a294b673a41bacd8c17": "asset",
    "0def7320c3a5731c473e5ecbe6d01bc7": "archive",
    "d0e6a833031e9bbcd3f4e8bde6ca49a4": "output value",
}
#: The unknown (computed) sentinel, as the engine sends it during preview.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class Secret:
    """A value the engine treats as secret; tests compare with ``Secret("x")``."""

    value: Any

    def __repr__(self) -> str:
        return f"Secret({self.value!r})"


def secret(value: Any) -> Secret:
    """Wrap ``value`` as a secret (nested secrets collapse, as in the engine)."""
    return value if isinstance(value, Secret) else Secret(value)


def is_secret(value: Any) -> bool:
    return isinstance(value, Secret)


def contains_secrets(value: Any) -> bool:
    """True if ``value`` is or holds a secret anywhere (engine ``ContainsSecrets``)."""
    if isinstance(value, Secret):
        return True
    if isinstance(value, Mapping):
        return any(contains_secrets(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_secrets(v) for v in value)
    return False


def contains_unknowns(value: Any) -> bool:
    """True if ``value`` is or holds the unknown sentinel (engine ``ContainsUnknowns``)."""
    if isinstance(value, Secret):
        return contains_unknowns(value.value)
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(contains_unknowns(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknowns(v) for v in value)
    return False


def unwrap_secrets(value: Any) -> Any:
    """Strip every secret wrapper (what the engine sends to a provider that lacks acceptSecrets)."""
    if isinstance(value, Secret):
        return unwrap_secrets(value.value)
    if isinstance(value, Mapping):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [unwrap_secrets(v) for v in value]
    return value


def drop_unknowns(value: Any) -> Any:
    """Remove unknown values, as ``MarshalProperties`` does without ``KeepUnknowns``."""
    if isinstance(value, Secret):
        return Secret(drop_unknowns(value.value))
    if isinstance(value, Mapping):
        return {k: drop_unknowns(v) for k, v in value.items() if not _is_unknown(v)}
    if isinstance(value, list | tuple):
        return [drop_unknowns(v) for v in value if not _is_unknown(v)]
    return value


def _is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN


# --- wire form (JSON with signatures) -------------------------------------------------------------


def to_wire(value: Any, *, keep_secrets: bool = True) -> Any:
    """Python value -> JSON value with pulumi signatures (``Secret`` -> signature object)."""
    if isinstance(value, Secret):
        inner = to_wire(value.value, keep_secrets=keep_secrets)
        return {SIG_KEY: SECRET_SIG, "value": inner} if keep_secrets else inner
    if isinstance(value, Mapping):
        return {str(k): to_wire(v, keep_secrets=keep_secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v, keep_secrets=keep_secrets) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot encode {type(value).__name__} as a pulumi property value")


def from_wire(value: Any, *, keep_secrets: bool = True) -> Any:
    """JSON value with pulumi signatures -> Python value (secret objects -> :class:`Secret`)."""
    if isinstance(value, Mapping):
        if value.get(SIG_KEY) == SECRET_SIG:
            inner = from_wire(value.get("value"), keep_secrets=keep_secrets)
            return secret(inner) if keep_secrets else inner
        return {k: from_wire(v, keep_secrets=keep_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v, keep_secrets=keep_secrets) for v in value]
    return value


def to_struct(
    props: Mapping[str, Any], *, keep_secrets: bool = True, keep_unknowns: bool = True
) -> struct_pb2.Struct:
    """Build the ``Struct`` the engine would send. ``keep_*=False`` mimics a provider lacking the
    capability.
    """
    value: Any = dict(props)
    if not keep_unknowns:
        value = drop_unknowns(value)
    s = struct_pb2.Struct()
    s.update(to_wire(value, keep_secrets=keep_secrets))
    return s


def from_struct(struct: struct_pb2.Struct | None, keep_secrets: bool = True) -> dict[str, Any]:
    """Decode a ``Struct`` from a provider. Secrets become :class:`Secret` unless
    ``keep_secrets=False``.
    """
    if struct is None:
        return {}
    from google.protobuf import json_format

    raw = json_format.MessageToDict(struct)
    decoded = from_wire(raw, keep_secrets=keep_secrets)
    assert isinstance(decoded, dict)
    return decoded


# --- state form (secrets "encrypted") -------------------------------------------------------------


def encrypt_for_state(value: Any) -> Any:
    """Python value -> checkpoint JSON. Secrets become ``{sig, "ciphertext": ...}`` as in a real
    checkpoint.

    The "cipher" is base64 of the JSON value: not security, just enough that a plaintext secret
    never appears verbatim in the file, so a test can grep the file for leaks.
    """
    if isinstance(value, Secret):
        plain = json.dumps(to_wire(value.value), sort_keys=True)
        return {SIG_KEY: SECRET_SIG, "ciphertext": base64.b64encode(plain.encode()).decode()}
    if isinstance(value, Mapping):
        return {str(k): encrypt_for_state(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encrypt_for_state(v) for v in value]
    return value


def decrypt_from_state(value: Any) -> Any:
    """Inverse of :func:`encrypt_for_state`."""
    if isinstance(value, Mapping):
        if value.get(SIG_KEY) == SECRET_SIG:
            if "ciphertext" in value:
                plain = base64.b64decode(value["ciphertext"]).decode()
                return secret(from_wire(json.loads(plain)))
            return secret(from_wire(value.get("value")))
        return {k: decrypt_from_state(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decrypt_from_state(v) for v in value]
    return value


def annotate_secrets(outs: dict[str, Any], ins: Mapping[str, Any]) -> None:
    """Engine ``annotateSecrets``: mark outputs secret whose same-named input held one."""
    for key, in_value in ins.items():
        if key not in outs:
            continue
        out_value = outs[key]
        if isinstance(out_value, dict) and isinstance(in_value, Mapping):
            annotate_secrets(out_value, in_value)
        elif not isinstance(out_value, Secret) and contains_secrets(in_value):
            outs[key] = Secret(out_value)


def deep_equal_unwrapped(a: Any, b: Any) -> bool:
    """Compare two property values ignoring secretness (the engine's fallback diff does this)."""
    return bool(unwrap_secrets(a) == unwrap_secrets(b))
