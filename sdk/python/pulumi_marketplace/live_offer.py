"""`LiveOffer`: a Pulumi resource whose `pulumi up` takes a Marketplace offer live and waits.

This is the dynamic-provider flavour for Python programs (nothing to install but this package).
Programs in other languages, and anyone who needs `pulumi import`, custom timeouts, live progress
or resumable waits, use the plugin flavour (`marketplace:index:LiveOffer`); see the README.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from pulumi_marketplace_provider.dynamic import LiveOfferProvider
from pulumi_marketplace_provider.live_offer import OUTPUT_KEYS


@dataclass
class LiveOfferArgs:
    """The inputs of a LiveOffer, for callers who prefer an args object."""

    publisher_id: pulumi.Input[str]
    offer_id: pulumi.Input[str]
    triggers: pulumi.Input[Sequence[Any]] | None = field(default=None)
    wait_for_completion: pulumi.Input[bool] | None = None
    wait_timeout_seconds: pulumi.Input[float] | None = None
    cancel_on_destroy: pulumi.Input[bool] | None = None


class LiveOffer(Resource, module="marketplace", name="LiveOffer"):
    """An Azure Marketplace offer taken live through the Cloud Partner Portal Go Live API.

    `pulumi up` starts the go-live (attaching to one already running, never starting a second)
    and waits until the portal reports it succeeded; `pulumi refresh` re-reads its status;
    `pulumi destroy` leaves a live offer live, and a go-live still in flight running unless
    `cancel_on_destroy` is set.
    """

    publisher_id: pulumi.Output[str]
    offer_id: pulumi.Output[str]
    triggers: pulumi.Output[list[Any]]
    wait_for_completion: pulumi.Output[bool]
    wait_timeout_seconds: pulumi.Output[float]
    cancel_on_destroy: pulumi.Output[bool]
    operation_id: pulumi.Output[str]
    """The Partner Portal operation id of the go-live."""
    operation_url: pulumi.Output[str]
    """The absolute URL the operation is polled at."""
    status: pulumi.Output[str]
    """The portal's status of the go-live: succeeded, failed, canceled, or running."""
    submitted_at: pulumi.Output[str]
    finished_at: pulumi.Output[str]
    offer_version: pulumi.Output[int]
    publishing_version: pulumi.Output[int]
    live_links: pulumi.Output[list[Any]]
    preview_links: pulumi.Output[list[Any]]
    adopted: pulumi.Output[bool]
    """True when the offer was already live and nothing was waiting at sign-off."""
    product_id: pulumi.Output[str]
    """Product Ingestion only: the product's durable id (`product/<guid>`)."""
    submission_id: pulumi.Output[str]
    """Product Ingestion only: the submission that goes live (`submission/<guid>/<n>`)."""
    job_result: pulumi.Output[str]
    """Product Ingestion only: the configure job's result (pending, succeeded, failed...)."""

    def __init__(
        self,
        resource_name: str,
        args: LiveOfferArgs | None = None,
        *,
        publisher_id: pulumi.Input[str] | None = None,
        offer_id: pulumi.Input[str] | None = None,
        triggers: pulumi.Input[Sequence[Any]] | None = None,
        wait_for_completion: pulumi.Input[bool] | None = None,
        wait_timeout_seconds: pulumi.Input[float] | None = None,
        cancel_on_destroy: pulumi.Input[bool] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare an offer that `pulumi up` takes live.

        :param publisher_id: the Partner Portal publisher id (e.g. ``contoso``); replaces on change.
        :param offer_id: the offer id (e.g. ``contoso-vm``); replaces on change.
        :param triggers: any values; when they change, `pulumi up` sends the offer live again
            (e.g. the version of the plan you just published).
        :param wait_for_completion: wait until the go-live ends (default True); False returns
            as soon as it is submitted, and later `pulumi up` runs pick up its status.
        :param wait_timeout_seconds: how long `pulumi up` waits (default 7200). The dynamic
            host never passes custom timeouts, so this is the limit. When it passes, the go-live
            keeps running and the next `pulumi up` resumes waiting on it.
        :param cancel_on_destroy: cancel a go-live still running when the resource is
            destroyed (default False: it is left running). A go-live that another LiveOffer of
            the same update waits on (a rename, a replacement) is never cancelled.
        """
        if args is not None:
            publisher_id = args.publisher_id if publisher_id is None else publisher_id
            offer_id = args.offer_id if offer_id is None else offer_id
            triggers = args.triggers if triggers is None else triggers
            if wait_for_completion is None:
                wait_for_completion = args.wait_for_completion
            if wait_timeout_seconds is None:
                wait_timeout_seconds = args.wait_timeout_seconds
            if cancel_on_destroy is None:
                cancel_on_destroy = args.cancel_on_destroy
        if publisher_id is None:
            raise TypeError("LiveOffer: missing required argument 'publisher_id'")
        if offer_id is None:
            raise TypeError("LiveOffer: missing required argument 'offer_id'")
        props: dict[str, Any] = {
            "publisherId": publisher_id,
            "offerId": offer_id,
            "triggers": triggers if triggers is not None else [],
            "waitForCompletion": wait_for_completion if wait_for_completion is not None else True,
            "waitTimeoutSeconds": wait_timeout_seconds,
            "cancelOnDestroy": cancel_on_destroy if cancel_on_destroy is not None else False,
        }
        props.update({name: None for name in OUTPUT_KEYS})
        super().__init__(LiveOfferProvider(), resource_name, props, opts)
        # Outputs arrive under their wire names (operationId); offer the Pythonic names too.
        # Pulumi's wire format carries every number as a double, and the dynamic host knows no
        # schema: whole-number and true/false outputs are made int and bool here, so
        # `offer_version` resolves to 3, not 3.0 (as the plugin flavour's generated SDKs do
        # from the schema's integer and boolean types).
        for wire_name in props:
            value = getattr(self, wire_name)
            convert = _CONVERSIONS.get(wire_name)
            if convert is not None and isinstance(value, pulumi.Output):
                value = value.apply(convert)
                setattr(self, wire_name, value)
            setattr(self, _snake(wire_name), value)


def _as_int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _as_bool(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


# Output types as the plugin's schema declares them (integer, boolean).
_CONVERSIONS = {
    "offerVersion": _as_int,
    "publishingVersion": _as_int,
    "waitForCompletion": _as_bool,
    "adopted": _as_bool,
}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
