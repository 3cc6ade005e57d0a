"""What the fault tests share: a loopback-only provider environment and crash detection.

A "crash" is an error a user should never see: an exception type that is not one of the
provider's own (a `KeyError`, `TypeError`, `RecursionError`... escaping to the host), a provider
that died on its own, or a connection attempt to anything but loopback. The providers report
their own errors in three shapes, which `crash_in` reads:

- plugin: `str(exc)` of a `LiveOfferError`/`PortalError`/`SettingsError`/`ValueError`; anything
  else escapes to grpc.aio, which answers "Unexpected <class '...'>" and logs a traceback;
- dynamic host: always a traceback (Pulumi's host formats every exception); its last exception
  line names the class.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from tests.enginedouble import CommandResult

NETGUARD_DIR = Path(__file__).resolve().parent / "netguard"
NETGUARD_MARKER = "NETGUARD-BLOCKED"

# The errors a user may legitimately see: the provider's own hierarchy (plus ValueError, which
# carries a readable message, e.g. azure-identity refusing a malformed tenant id).
EXPECTED_ERROR_CLASSES = frozenset(
    {
        "LiveOfferError",
        "GoLiveFailed",
        "GoLiveStillRunning",
        "SettingsError",
        "ValueError",
        "PortalError",
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "Conflict",
        "Throttled",
        "ServerError",
        "MalformedResponse",
        "TransportError",
        "InvalidIdentifier",
        "PointerError",
        "CredentialsUnavailable",
        "OperationFailed",
        "OperationCanceled",
        "WaitTimedOut",
    }
)
# Engine-side errors that mean the provider broke the protocol (check failures are fine).
ENGINE_RULES = ("unknown values outside of a preview", "returned empty resource.ID")
_FRAME = re.compile(r'^\s+File "')
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")


def guarded_env(**extra: str) -> dict[str, str]:
    """Provider env: the loopback-only network guard first on PYTHONPATH, plus `extra`.

    Credentials and endpoints from the developer's shell are blanked by `CLEAN_ENV` (applied
    by `Flavour.launcher`); the identity chain is off, and azure-identity's authority points
    at a closed loopback port in case anything ever asked it for a token.
    """
    paths = [str(NETGUARD_DIR)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env = {
        "PYTHONPATH": os.pathsep.join(paths),
        "MARKETPLACE_ALLOW_INSECURE_HTTP": "",
        "MARKETPLACE_USE_DEFAULT_CREDENTIAL": "false",
        "AZURE_AUTHORITY_HOST": "https://127.0.0.1:9",
        "AZURE_USERNAME": "",
        "AZURE_PASSWORD": "",
        "AZURE_CLIENT_CERTIFICATE_PATH": "",
        "AZURE_FEDERATED_TOKEN_FILE": "",
        "IDENTITY_ENDPOINT": "",
        "MSI_ENDPOINT": "",
        "REQUESTS_CA_BUNDLE": "",
        "CURL_CA_BUNDLE": "",
    }
    env.update(extra)
    return env


def exception_class(message: str) -> str | None:
    """The exception class a dynamic-host traceback ends with (None if it is no traceback)."""
    if "Traceback (most recent call last)" not in message:
        return None
    lines = message.splitlines()
    last_frame = max((i for i, line in enumerate(lines) if _FRAME.match(line)), default=-1)
    for line in lines[last_frame + 1:]:
        if not line.strip() or line.startswith((" ", "\t")):
            continue  # the source line under the frame, or the caret line
        m = _EXC_LINE.match(line)
        if m:
            return m.group(1).rsplit(".", 1)[-1]
    return "<unreadable traceback>"


def crash_in(message: str) -> str | None:
    """Why this error message shows a crash, or None when it is a clear, expected error."""
    if NETGUARD_MARKER in message:
        return "tried to reach a non-loopback address"
    if "Unexpected <class" in message or "Exception calling application" in message:
        return "unhandled exception in the plugin: " + message[:300]
    cls = exception_class(message)
    if cls is not None and cls not in EXPECTED_ERROR_CLASSES:
        return f"unhandled {cls} in the dynamic host: " + message[-400:]
    return None


def crashes(result: CommandResult, *, killed: bool = False) -> list[str]:
    """Every crash a command shows: in its errors, diagnostics, Log calls and provider stderr.

    `killed` says the provider was killed on purpose (UNAVAILABLE is then expected).
    """
    found: list[str] = []
    for err in result.errors:
        why = crash_in(err.message)
        if why:
            found.append(f"{err.name} {err.method}: {why}")
        if err.code == "UNAVAILABLE" and not killed:
            found.append(f"{err.name} {err.method}: the provider went away ({err.message[:200]})")
        if err.code == "ENGINE" and any(rule in err.message for rule in ENGINE_RULES):
            found.append(f"{err.name} {err.method}: engine rule broken: {err.message[:300]}")
        if err.code == "DEADLINE_EXCEEDED":
            found.append(f"{err.name} {err.method}: hung past the RPC deadline")
    for diag in result.diagnostics:
        if diag.message.startswith("could not start provider"):
            found.append(diag.message[:300])
    for log in result.engine_logs:
        why = crash_in(log.message)
        if why:
            found.append(f"engine log: {why}")
    stderr = result.provider_stderr
    if NETGUARD_MARKER in stderr:
        found.append("provider stderr: tried to reach a non-loopback address")
    if "Traceback (most recent call last)" in stderr:
        tail = stderr[stderr.rindex("Traceback (most recent call last)"):][:600]
        if "KeyboardInterrupt" not in tail:
            found.append("provider stderr shows a traceback: " + tail)
    return found


def all_text(parts: Iterable[str]) -> str:
    return "\n".join(parts)
