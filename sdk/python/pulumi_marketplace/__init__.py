"""Take Azure Marketplace offers live with Pulumi: `from pulumi_marketplace import LiveOffer`."""

from .live_offer import LiveOffer, LiveOfferArgs

__all__ = ["LiveOffer", "LiveOfferArgs"]
