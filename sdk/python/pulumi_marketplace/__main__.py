"""`python -m pulumi_marketplace`: run the gRPC plugin.

This is what `python -m pulumi.run.plugin pulumi-marketplace` executes (the language host's way to
run a plugin from an installed distribution): the module named after the distribution, which
exports no components, so its `__main__` is run.
"""

from pulumi_marketplace_provider.plugin.main import main

raise SystemExit(main())
