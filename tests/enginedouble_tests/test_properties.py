"""Property encoding: the wire format the engine uses, and the state file's secret form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st
from pulumi.runtime import rpc as sdk_rpc

from tests.enginedouble import SECRET_SIG, SIG_KEY, UNKNOWN, Secret, from_struct, secret, to_struct
from tests.enginedouble.engine import parse_timeout
from tests.enginedouble.properties import (
    annotate_secrets,
    decrypt_from_state,
    encrypt_for_state,
    unwrap_secrets,
)


def test_constants_match_the_sdk() -> None:
    assert UNKNOWN == sdk_rpc.UNKNOWN
    assert SIG_KEY == sdk_rpc._special_sig_key
    assert SECRET_SIG == sdk_rpc._special_secret_sig


def test_secret_and_unknown_on_the_wire() -> None:
    s = to_struct({"a": secret("pw"), "b": UNKNOWN, "c": [1, secret({"x": True})]})
    raw = json_format.MessageToDict(s)
    assert raw["a"] == {SIG_KEY: SECRET_SIG, "value": "pw"}
    assert raw["b"] == UNKNOWN
    assert raw["c"][1] == {SIG_KEY: SECRET_SIG, "value": {"x": True}}
    back = from_struct(s)
    assert back["a"] == Secret("pw")
    assert back["c"][1] == Secret({"x": True})
    assert from_struct(s, keep_secrets=False)["a"] == "pw"


def test_capabilities_strip_secrets_and_unknowns() -> None:
    s = to_struct(
        {"a": secret("pw"), "b": UNKNOWN, "n": None}, keep_secrets=False, keep_unknowns=False
    )
    assert json_format.MessageToDict(s) == {"a": "pw", "n": None}


def test_sdk_decodes_what_we_encode() -> None:
    decoded = sdk_rpc.deserialize_properties(to_struct({"a": secret("pw"), "b": "x"}), True)
    assert sdk_rpc.is_rpc_secret(decoded["a"])
    assert sdk_rpc.unwrap_rpc_secret(decoded["a"]) == "pw"


def test_state_form_hides_plaintext() -> None:
    value = {"pw": secret("hunter2"), "nested": {"k": [secret(1)]}, "plain": "ok"}
    text = json.dumps(encrypt_for_state(value))
    assert "hunter2" not in text
    assert SECRET_SIG in text and "ciphertext" in text
    assert decrypt_from_state(json.loads(text)) == value


def test_annotate_secrets_recurses_into_objects() -> None:
    outs: dict[str, Any] = {"pw": "x", "obj": {"inner": "y", "open": 1}, "arr": [1, 2], "other": 3}
    annotate_secrets(outs, {"pw": secret("x"), "obj": {"inner": secret("y")}, "arr": [secret(1)]})
    assert outs == {
        "pw": Secret("x"),
        "obj": {"inner": Secret("y"), "open": 1},
        "arr": Secret([1, 2]),
        "other": 3,
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300.0), ("1h30m", 5400.0), ("1.5s", 1.5), (20, 20.0), ("250ms", 0.25)],
)
def test_parse_timeout(text: str | int, seconds: float) -> None:
    assert parse_timeout(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5", "m5", "5 m", "5d"])
def test_parse_timeout_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_timeout(bad)


json_values = st.recursive(
    st.none() | st.booleans() | st.text(max_size=8) | st.integers(-(2**40), 2**40).map(float),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        | inner.map(secret)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
def test_roundtrips(props: dict[str, Any]) -> None:
    assert from_struct(to_struct(props)) == props
    assert decrypt_from_state(json.loads(json.dumps(encrypt_for_state(props)))) == props
    assert from_struct(to_struct(props, keep_secrets=False)) == unwrap_secrets(props)
