"""pulumi-marketplace provider: Partner Portal client, LiveOffer lifecycle rules and the two Pulumi hosts."""

__version__ = "0.1.0"
