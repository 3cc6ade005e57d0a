"""`python -m pulumi_marketplace_provider.plugin`: run the gRPC plugin."""

from .main import main

raise SystemExit(main())
