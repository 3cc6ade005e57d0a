"""Publisher/offer ids that could change the request URL are refused before any request."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_marketplace_provider.partner_portal import InvalidIdentifier, validate_identifier

SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"


@pytest.mark.parametrize("value", ["contoso", "contoso-offer", "offer_1", "a.b",
                                   "059afc24-07de-4126-b004-4e42a51816fe", "x" * 256])
def test_real_ids_pass(value: str) -> None:
    assert validate_identifier("offerId", value) == value


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("a/b", "'/'"), ("a?b", "'?'"), ("a#b", "'#'"), ("..", "'..'"), ("a..b", "'..'"),
        (".", "'..'"), ("a%2fb", "'%'"), ("a$b", "'\\$'"), ("a b", "whitespace"),
        ("a\tb", "whitespace"), ("a\x00b", "control"), ("a\u200bb", "control"),
        ("", "empty"), ("   ", "empty"), ("x" * 257, "more than 256"), ("a\\b", "separator"),
        ("caf\u00e9", "U\\+00E9"),
    ],
)
def test_unsafe_ids_are_refused_naming_field_and_fix(value: str, why: str) -> None:
    with pytest.raises(InvalidIdentifier, match=why) as info:
        validate_identifier("publisherId", value)
    assert info.value.field == "publisherId"
    assert str(info.value).startswith("publisherId")
    assert "Partner Center" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [None, 3, b"abc", ["a"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidIdentifier, match="offerId must be a string"):
        validate_identifier("offerId", value)


@given(st.text(alphabet=SAFE, min_size=1, max_size=256))
def test_accepted_ids_never_change_the_url_shape(value: str) -> None:
    try:
        validate_identifier("offerId", value)
    except InvalidIdentifier:
        assert ".." in value or value == "."
        return
    url = f"https://h/api/publishers/p/offers/{value}/golive?api-version=1"
    parts = urlsplit(url)
    assert parts.path.split("/") == ["", "api", "publishers", "p", "offers", value, "golive"]
    assert parts.query == "api-version=1" and parts.fragment == ""


@given(st.text(min_size=0, max_size=300))
def test_anything_accepted_is_unreserved_only(value: str) -> None:
    try:
        validate_identifier("offerId", value)
    except InvalidIdentifier as exc:
        assert exc.field == "offerId"
        return
    assert set(value) <= set(SAFE) and 0 < len(value) <= 256 and ".." not in value
