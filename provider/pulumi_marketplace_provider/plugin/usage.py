"""`pulumi-resource-marketplace --help` / `--version`: what a person running it by hand sees.

The engine never passes these flags; it starts the plugin with an engine address and reads
its port from stdout. A person who runs the executable gets this text instead of a server
that waits for an engine.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import __version__
from ..settings import (
    APIS,
    DEFAULT_API,
    DEFAULT_API_VERSIONS,
    DEFAULT_ENDPOINTS,
    ENV_FALLBACKS,
    NAMESPACE,
    READ_TIMEOUT_ENV,
    SECRET_KEYS,
)

HELP_FLAGS = frozenset({"-h", "--help", "-help"})
VERSION_FLAGS = frozenset({"--version", "-version"})


def wants_help(argv: Sequence[str]) -> bool:
    return any(a in HELP_FLAGS for a in argv)


def wants_version(argv: Sequence[str]) -> bool:
    return any(a in VERSION_FLAGS for a in argv)


def help_text() -> str:
    names = {key: f"{NAMESPACE}:{key}" + (" (secret)" if key in SECRET_KEYS else "")
             for key in ENV_FALLBACKS}
    width = max(len(n) for n in names.values())
    rows = [f"  {names[key]:<{width}}  {', '.join(env)}" for key, env in ENV_FALLBACKS.items()]
    defaults = "\n".join(
        f"  {api:<20} endpoint {DEFAULT_ENDPOINTS[api]}, version {DEFAULT_API_VERSIONS[api]}"
        for api in APIS
    )
    return f"""\
pulumi-resource-marketplace {__version__}: the Pulumi resource plugin for
marketplace:index:LiveOffer (take Azure Marketplace offers live, waiting on the go-live).

Usage (the Pulumi engine runs it; you do not):
  pulumi-resource-marketplace [--logtostderr] [-v=N] [--tracing EP] <engine address>
  pulumi-resource-marketplace --help | --version

Give it to Pulumi with `packages: {{marketplace: <folder holding this executable>}}` or
`plugins: {{providers: [{{name: marketplace, path: <that folder>}}]}}` in Pulumi.yaml, or put
it on PATH. The schema: `pulumi package get-schema <path of this executable>`.

Configuration (stack config `{NAMESPACE}:<key>`, else the environment variable):
{chr(10).join(rows)}
  {READ_TIMEOUT_ENV} (environment only): seconds to wait for one answer (default 30)

{NAMESPACE}:api picks the API ({' or '.join(APIS)}; default {DEFAULT_API}):
{defaults}
Credentials: {NAMESPACE}:accessToken, Azure AD app credentials (tenantId, clientId and a secret,
a certificate or a federated token file), or the azure-identity chain (managed identity, Azure
CLI...). See the project README, "Configuration and credentials".
"""
