"""pulumi-marketplace provider: Partner Portal client, LiveOffer lifecycle rules, two hosts."""

__version__ = "0.1.0"
