"""Secrets survive the trip through the plugin's property encoding."""

from typing import Any

from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from pulumi_marketplace_provider.plugin.properties import (
    UNKNOWN,
    is_secret,
    marshal,
    secret,
    unmarshal,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1), inner, max_size=4)
    ),
    max_leaves=10,
)


def test_nested_secret_marks_its_top_level_property() -> None:
    struct = marshal({"triggers": ["a", secret("s3cret")], "offerId": "o"})
    plain, secrets = unmarshal(struct)
    assert plain == {"triggers": ["a", "s3cret"], "offerId": "o"}
    assert secrets == {"triggers"}


def test_marshal_wraps_only_the_named_keys() -> None:
    struct = marshal({"status": "succeeded", "triggers": [1]}, {"triggers"})
    wire = json_format.MessageToDict(struct)
    assert is_secret(wire["triggers"])
    assert wire["status"] == "succeeded"


def test_unknown_sentinel_passes_through() -> None:
    plain, _ = unmarshal(marshal({"offerId": UNKNOWN}))
    assert plain["offerId"] == UNKNOWN


@given(st.dictionaries(st.text(min_size=1), json_values, max_size=5), st.data())
def test_round_trip_keeps_values_and_secret_keys(
    values: dict[str, Any], data: st.DataObject
) -> None:
    present = sorted(k for k, v in values.items() if v is not None)
    secret_keys = (
        set(data.draw(st.lists(st.sampled_from(present), unique=True))) if present else set()
    )
    plain, secrets = unmarshal(marshal(values, secret_keys))
    assert secrets == secret_keys
    assert set(plain) == set(present)
