"""The gRPC plugin host: LiveOffer as `marketplace:index:LiveOffer` for every Pulumi language."""
