"""The three documented operation pointer forms, and what must be refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_marketplace_provider.partner_portal import OperationRef, PointerError, parse_pointer

EP = "https://cloudpartner.azure.com"
GUID = "56615b67-2185-49fe-80d2-c4ddf77bb2e8"


def test_migrated_relative_location() -> None:
    value = f"/api/publishers/contoso/offers/contoso-offer/operations/{GUID}?api-version=2017-10-31"
    ref = parse_pointer({"Location": value}, EP)
    assert ref == OperationRef(GUID, EP + value, "migrated")


def test_non_migrated_relative_location_keeps_dollars_opaque() -> None:
    value = "/api/operations/contoso$contoso-offer$2$preview?api-version=2017-10-31"
    ref = parse_pointer({"location": value}, EP)
    assert ref.form == "nonMigrated"
    assert ref.operation_id == "contoso$contoso-offer$2$preview"
    assert ref.url == EP + value


def test_absolute_operation_location_gets_an_api_version() -> None:
    value = f"{EP}/api/publishers/contoso/offers/contoso-virtualmachineoffer/operations/{GUID}"
    ref = parse_pointer({"Operation-Location": value}, EP)
    assert ref.form == "absolute" and ref.operation_id == GUID
    assert ref.url == value + "?api-version=2017-10-31"


def test_location_wins_over_operation_location() -> None:
    ref = parse_pointer({"Operation-Location": f"{EP}/api/operations/a$b$1$preview",
                         "Location": f"/api/publishers/p/offers/o/operations/{GUID}"}, EP)
    assert ref.form == "migrated"


def test_api_version_is_kept_when_present_and_added_otherwise() -> None:
    ref = parse_pointer("/api/operations/p$o$3$preview?foo=1", EP, api_version="2099-01-01")
    assert parse_qs(urlsplit(ref.url).query) == {"foo": ["1"], "api-version": ["2099-01-01"]}
    ref = parse_pointer("/api/operations/p$o$3$preview?API-VERSION=x", EP)
    assert "api-version=2017" not in ref.url


def test_default_ports_and_case_are_the_same_origin() -> None:
    ref = parse_pointer("HTTPS://CloudPartner.Azure.com:443/api/operations/x$y$1$p", EP)
    assert ref.url.startswith(EP + "/api/operations/")


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example/api/operations/x",
        "http://cloudpartner.azure.com/api/operations/x",  # scheme downgrade
        "https://cloudpartner.azure.com:8443/api/operations/x",
        "https://cloudpartner.azure.com.evil.example/api/operations/x",
        "//evil.example/api/operations/x",
        "https://user@cloudpartner.azure.com/api/operations/x",
        "ftp://cloudpartner.azure.com/api/operations/x",
        "/api/operations/../../admin",
        "/api/operations/%2e%2e/x",
        "/api/operations/x\r\nSet-Cookie: a=b",
        "/api/op erations/x",
        "\\\\evil.example\\x",
        "",
        "   ",
    ],
)
def test_refused_pointers(value: str) -> None:
    with pytest.raises(PointerError):
        parse_pointer({"Location": value}, EP)


def test_missing_pointer() -> None:
    with pytest.raises(PointerError, match="no Location or Operation-Location"):
        parse_pointer({"Content-Type": "application/json"}, EP)
    with pytest.raises(PointerError):
        parse_pointer(None, EP)


def test_ref_round_trips_and_rejects_junk() -> None:
    ref = parse_pointer("/api/operations/p$o$2$preview", EP)
    assert OperationRef.from_dict(ref.to_dict()) == ref
    for bad in ({}, {"operationId": "x", "url": "/relative", "form": "migrated"},
                {"operationId": "x", "url": EP, "form": "other"}):
        with pytest.raises(ValueError):
            OperationRef.from_dict(bad)


ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=40).filter(
    lambda s: ".." not in s and s not in (".",))


@given(pub=ids, offer=ids, n=st.integers(min_value=1, max_value=10**6),
       absolute=st.booleans(), with_version=st.booleans())
def test_generated_pointers_parse_onto_the_endpoint(
    pub: str, offer: str, n: int, absolute: bool, with_version: bool
) -> None:
    opaque = f"{pub}${offer}${n}$preview"
    for path, op_id in [(f"/api/publishers/{pub}/offers/{offer}/operations/{GUID}", GUID),
                        (f"/api/operations/{opaque}", opaque)]:
        query = "?api-version=2017-10-31" if with_version else ""
        value = (EP if absolute else "") + path + query
        ref = parse_pointer({"Location": value}, EP)
        assert ref.operation_id == op_id
        parts = urlsplit(ref.url)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "cloudpartner.azure.com", path)
        assert parse_qs(parts.query)["api-version"] == ["2017-10-31"]
        assert ref.form == ("absolute" if absolute else
                            "migrated" if "/publishers/" in path else "nonMigrated")


@given(st.text(max_size=200))
def test_any_text_is_refused_or_stays_on_the_endpoint(value: str) -> None:
    try:
        ref = parse_pointer({"Location": value}, EP)
    except PointerError:
        return
    parts = urlsplit(ref.url)
    assert (parts.scheme, parts.hostname, parts.port) == ("https", "cloudpartner.azure.com", None)
    assert "api-version" in parse_qs(parts.query)
    assert ".." not in parts.path.split("/")
