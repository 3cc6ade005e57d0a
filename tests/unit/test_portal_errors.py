"""The error hierarchy."""

from __future__ import annotations

import pickle

import pytest

from pulumi_marketplace_provider.partner_portal import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidIdentifier,
    NotFound,
    PortalError,
    ServerError,
    Throttled,
    TransportError,
    Unauthorized,
    is_transient,
)
from pulumi_marketplace_provider.partner_portal.errors import error_for_status


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequest), (401, Unauthorized), (403, Forbidden), (404, NotFound), (409, Conflict),
     (412, Conflict), (422, BadRequest), (429, Throttled), (500, ServerError),
     (503, ServerError), (418, BadRequest)],
)
def test_status_classes(status: int, cls: type[PortalError]) -> None:
    assert error_for_status(status) is cls


def test_transience() -> None:
    assert is_transient(ServerError("x", status=503))
    assert is_transient(Throttled("x", retry_after=3))
    assert is_transient(TransportError("x", kind="timeout"))
    assert not is_transient(TransportError("x", kind="tls", transient=False))
    assert not is_transient(BadRequest("x", status=400))
    assert not is_transient(ValueError("x"))


def test_bad_request_shows_the_body_whole_and_pickles() -> None:
    body = '{"error": {"code": "InvalidOffer", "message": "Plan <b>x</b>\\nis broken"}}'
    err = BadRequest("POST /golive failed: Plan is broken", status=400, code="InvalidOffer",
                     request_id="rid-1", body=body)
    text = str(err)
    assert body in text and "rid-1" in text and "HTTP 400" in text
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is BadRequest and again.body == body and str(again) == text
    ident = pickle.loads(pickle.dumps(InvalidIdentifier("bad", field="offerId")))
    assert ident.field == "offerId" and isinstance(ident, ValueError)
