"""Engine double: drives Pulumi providers over real gRPC the way the Pulumi engine does.

See README.md in this directory. Typical use::

    from tests.enginedouble import DynamicLauncher, EngineDouble, Resource, secret
"""

from .engine import (
    CommandResult,
    Diagnostic,
    EngineDouble,
    EngineRuleError,
    Resource,
    ResourceError,
    Step,
    parse_timeout,
)
from .fake_engine import FakeEngine, LogRecord
from .launch import (
    DynamicLauncher,
    Launcher,
    LaunchError,
    PluginLauncher,
    ProcessStats,
    ProviderProcess,
)
from .properties import (
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN,
    Secret,
    contains_secrets,
    from_struct,
    secret,
    to_struct,
    unwrap_secrets,
)
from .rpc import InitFailed, ProviderRpcError, RpcRecord
from .state import PendingOperation, ResourceState, StackState

__all__ = [
    "SECRET_SIG",
    "SIG_KEY",
    "UNKNOWN",
    "CommandResult",
    "Diagnostic",
    "DynamicLauncher",
    "EngineDouble",
    "EngineRuleError",
    "FakeEngine",
    "InitFailed",
    "LaunchError",
    "Launcher",
    "LogRecord",
    "PendingOperation",
    "PluginLauncher",
    "ProcessStats",
    "ProviderProcess",
    "ProviderRpcError",
    "Resource",
    "ResourceError",
    "ResourceState",
    "RpcRecord",
    "Secret",
    "StackState",
    "Step",
    "contains_secrets",
    "from_struct",
    "parse_timeout",
    "secret",
    "to_struct",
    "unwrap_secrets",
]
