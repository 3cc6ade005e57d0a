"""Plugin entry point for the Pulumi engine (PulumiPlugin.yaml, runtime: python).

pulumi-language-python runs a plugin directory as `python <dir> <args>`, which executes this
file. It serves `marketplace:index:LiveOffer` over gRPC and prints only its port on stdout.
"""

import sys
from pathlib import Path

# Running from a checkout whose project is not installed: make the provider package importable.
_PROVIDER = Path(__file__).resolve().parent / "provider"
if str(_PROVIDER) not in sys.path:
    sys.path.insert(0, str(_PROVIDER))

from pulumi_marketplace_provider.plugin.main import main  # noqa: E402

raise SystemExit(main())
