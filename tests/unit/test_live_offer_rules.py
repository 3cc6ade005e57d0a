"""Check and Diff: the pure lifecycle rules, exercised with the values the engine sends."""

import pytest

from pulumi_marketplace_provider import live_offer
from pulumi_marketplace_provider.live_offer import UNKNOWN, check, diff


def failures_by_property(news: dict) -> dict[str, str]:
    _, failures = check({}, news)
    return {f.property: f.reason for f in failures}


def test_check_fills_defaults() -> None:
    inputs, failures = check({}, {"publisherId": "contoso", "offerId": "contoso-vm"})
    assert failures == []
    assert inputs == {
        "publisherId": "contoso",
        "offerId": "contoso-vm",
        "triggers": [],
        "waitForCompletion": True,
        "cancelOnDestroy": False,
    }, "waitTimeoutSeconds is not filled in: a custom timeout must be able to govern"


class _Clock:
    def now(self) -> float:
        return 1000.0


@pytest.mark.parametrize(
    ("explicit", "custom", "limit"),
    [
        (None, None, float(live_offer.DEFAULT_WAIT_TIMEOUT_SECONDS)),
        (None, 6 * 3600.0, 6 * 3600.0),  # customTimeouts {create: 6h} lengthens the wait
        (600.0, None, 600.0),
        (600.0, 6 * 3600.0, 600.0),  # both set: the tighter one
        (9 * 3600.0, 6 * 3600.0, 6 * 3600.0),
    ],
)
def test_the_wait_limit_follows_custom_timeouts_and_the_input(
    explicit: float | None, custom: float | None, limit: float
) -> None:
    news: dict = {"publisherId": "contoso", "offerId": "contoso-vm"}
    if explicit is not None:
        news["waitTimeoutSeconds"] = explicit
    checked, _ = check({}, news)
    inputs = live_offer.LiveOfferInputs.from_wire(checked)
    ctx = live_offer.RunContext(backend=None, clock=_Clock(), host_timeout_seconds=custom)  # type: ignore[arg-type]
    assert ctx.limit(inputs) == limit
    assert ctx.deadline(inputs) == 1000.0 + limit


def test_check_refuses_a_cancel_on_destroy_that_is_not_a_flag() -> None:
    failures = failures_by_property(
        {"publisherId": "contoso", "offerId": "vm", "cancelOnDestroy": "yes"}
    )
    assert set(failures) == {"cancelOnDestroy"}


@pytest.mark.parametrize(
    "offer_id",
    ["", "a/b", "a?x=1", "a#frag", "..", "a%2Fb", "a b", "tab\there", "nul\x00", "x" * 1000],
)
def test_check_refuses_ids_that_could_change_the_url(offer_id: str) -> None:
    failures = failures_by_property({"publisherId": "contoso", "offerId": offer_id})
    assert set(failures) == {"offerId"}
    assert "offerId" in failures["offerId"]


def test_check_refuses_wrong_types_and_names_the_field() -> None:
    failures = failures_by_property(
        {
            "publisherId": 42,
            "offerId": "ok",
            "triggers": "not-a-list",
            "waitForCompletion": "yes",
            "waitTimeoutSeconds": -5,
            "offerid": "typo",
        }
    )
    assert set(failures) == {
        "publisherId",
        "triggers",
        "waitForCompletion",
        "waitTimeoutSeconds",
        "offerid",
    }
    assert "LiveOffer takes" in failures["offerid"]


def test_check_lets_unknowns_through_during_preview() -> None:
    inputs, failures = check({}, {"publisherId": UNKNOWN, "offerId": UNKNOWN, "triggers": UNKNOWN})
    assert failures == []
    assert inputs["publisherId"] == UNKNOWN and inputs["triggers"] == UNKNOWN


OLD = {
    "publisherId": "contoso",
    "offerId": "vm",
    "triggers": ["1"],
    "status": "succeeded",
    "operationId": "op",
}


def test_diff_nothing_when_live_and_unchanged() -> None:
    assert (
        diff(OLD, {"publisherId": "contoso", "offerId": "vm", "triggers": ["1"]}).changes is False
    )


def test_diff_replaces_on_a_different_offer() -> None:
    decision = diff(OLD, {"publisherId": "contoso", "offerId": "vm2", "triggers": ["1"]})
    assert decision.changes and decision.replaces == ("offerId",)


def test_diff_updates_on_new_triggers() -> None:
    decision = diff(OLD, {"publisherId": "contoso", "offerId": "vm", "triggers": ["2"]})
    assert decision.changes and decision.replaces == () and decision.changed_keys == ("triggers",)


@pytest.mark.parametrize("status", ["running", "failed", "canceled", None])
def test_diff_resumes_when_the_recorded_go_live_did_not_succeed(status: str | None) -> None:
    decision = diff(
        {**OLD, "status": status}, {"publisherId": "contoso", "offerId": "vm", "triggers": ["1"]}
    )
    assert decision.changes and decision.changed_keys == ("status",)


def test_resource_id_round_trip_and_errors() -> None:
    assert live_offer.parse_resource_id("contoso/vm") == ("contoso", "vm")
    for bad in ["contoso", "a/b/c", "/vm", "contoso/../x"]:
        with pytest.raises(ValueError, match=r"id|publisherId|offerId"):
            live_offer.parse_resource_id(bad)


def test_a_provider_pickled_where_the_environment_holds_a_token_does_not_carry_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dynamic provider is pickled into state: settings read at run time must stay out."""
    from pulumi.dynamic.dynamic import serialize_provider

    from pulumi_marketplace_provider.dynamic import LiveOfferProvider

    token = "env-token-c4n4ry-0123456789"
    monkeypatch.setenv("MARKETPLACE_ACCESS_TOKEN", token)
    monkeypatch.setenv("MARKETPLACE_ENDPOINT", "http://127.0.0.1:9")
    provider = LiveOfferProvider()
    provider._context("contoso/vm")  # reads settings and builds a client, as a create would
    assert provider._settings is not None and provider._settings.access_token == token
    blob = serialize_provider(provider)
    assert token not in blob
    import base64

    assert token.encode() not in base64.b64decode(blob)
