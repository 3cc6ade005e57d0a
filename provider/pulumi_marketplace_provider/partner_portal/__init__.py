"""Cloud Partner Portal client: HTTP client, operation pointers, credentials, waiter, go-live.

Knows HTTP and the Partner Portal API, nothing of Pulumi. Multi-step logic (waiting, going
live exactly once, cancelling) is written as procedures (see `..procedure`) so the sync and
asyncio hosts share it.
"""

from .client import USER_AGENT, PortalClient
from .credentials import (
    DEFAULT_SCOPE,
    AzureIdentityToken,
    StaticToken,
    TokenProvider,
    token_provider_from_settings,
)
from .errors import (
    BadRequest,
    Conflict,
    CredentialsUnavailable,
    Forbidden,
    InvalidIdentifier,
    MalformedResponse,
    NotFound,
    OperationCanceled,
    OperationFailed,
    PointerError,
    PortalError,
    ServerError,
    Throttled,
    TokenEndpointUnavailable,
    TransportError,
    Unauthorized,
    WaitTimedOut,
    is_transient,
)
from .golive import (
    CancelOutcome,
    GoLiveStart,
    GoLiveUnconfirmed,
    call_retrying,
    cancel_go_live,
    find_go_live_in_flight,
    find_go_live_since,
    find_latest_go_live,
    ready_for_go_live,
    start_go_live,
)
from .identifiers import validate_identifier
from .models import (
    Message,
    OfferState,
    OfferStatus,
    Operation,
    OperationStatus,
    Step,
    StepStatus,
    Submission,
)
from .pointers import DEFAULT_API_VERSION, OperationRef, parse_pointer
from .retry_after import parse_retry_after
from .schedule import PollSchedule, PollState
from .throttle import GLOBAL_THROTTLE, ThrottleGate
from .timeframe import TimeFrame, parse_time_frame
from .waiter import Progress, describe_failure, poll_operation, wait_for_operation

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_SCOPE",
    "GLOBAL_THROTTLE",
    "USER_AGENT",
    "AzureIdentityToken",
    "BadRequest",
    "CancelOutcome",
    "Conflict",
    "CredentialsUnavailable",
    "Forbidden",
    "GoLiveStart",
    "GoLiveUnconfirmed",
    "InvalidIdentifier",
    "MalformedResponse",
    "Message",
    "NotFound",
    "OfferState",
    "OfferStatus",
    "Operation",
    "OperationCanceled",
    "OperationFailed",
    "OperationRef",
    "OperationStatus",
    "PointerError",
    "PollSchedule",
    "PollState",
    "PortalClient",
    "PortalError",
    "Progress",
    "ServerError",
    "StaticToken",
    "Step",
    "StepStatus",
    "Submission",
    "ThrottleGate",
    "Throttled",
    "TimeFrame",
    "TokenEndpointUnavailable",
    "TokenProvider",
    "TransportError",
    "Unauthorized",
    "WaitTimedOut",
    "call_retrying",
    "cancel_go_live",
    "describe_failure",
    "find_go_live_in_flight",
    "find_go_live_since",
    "find_latest_go_live",
    "is_transient",
    "parse_pointer",
    "parse_retry_after",
    "parse_time_frame",
    "poll_operation",
    "ready_for_go_live",
    "start_go_live",
    "token_provider_from_settings",
    "validate_identifier",
    "wait_for_operation",
]
