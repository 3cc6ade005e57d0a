"""Example stack: take one Azure Marketplace offer live and show what the portal reported.

By default it targets the local emulator that `make demo` starts (marketplace:endpoint and
marketplace:accessToken are set by the demo); set them yourself for the real Partner Portal.
"""

import pulumi

from pulumi_marketplace import LiveOffer

config = pulumi.Config()

offer = LiveOffer(
    "contoso-vm-live",
    publisher_id=config.get("publisherId") or "contoso",
    offer_id=config.get("offerId") or "contoso-vm",
    # A new plan version published to preview? Bump planVersion and `pulumi up` goes live again.
    triggers=[config.get("planVersion") or "1.0.0"],
    wait_timeout_seconds=config.get_float("waitTimeoutSeconds") or 2 * 60 * 60,
)

pulumi.export("offer", offer.id)
pulumi.export("operationId", offer.operation_id)
pulumi.export("operationUrl", offer.operation_url)
pulumi.export("status", offer.status)
pulumi.export("finishedAt", offer.finished_at)
pulumi.export("liveLinks", offer.live_links)
