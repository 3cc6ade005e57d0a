"""What the lifecycle tests share: the two provider flavours, engine doubles and offer seeds.

Both flavours are started exactly as the engine starts them (the dynamic host with the pickled
provider in `__provider`; the plugin as `python <repo> <flags> <engine address>`) and talk to
the emulator over real HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from pulumi.dynamic.dynamic import serialize_provider

from marketplace_emulator.harness import RunningEmulator
from pulumi_marketplace_provider.dynamic import LiveOfferProvider
from tests.enginedouble import (
    SECRET_SIG,
    SIG_KEY,
    DynamicLauncher,
    EngineDouble,
    Launcher,
    PluginLauncher,
    Resource,
    StackState,
    secret,
)

REPO = Path(__file__).resolve().parents[2]
PLUGIN_TYPE = "marketplace:index:LiveOffer"
DYNAMIC_TYPE = "pulumi-python:dynamic/marketplace:LiveOffer"
PUBLISHER = "contoso"
API = {"api-version": "2017-10-31"}

# The provider processes must see nothing of the developer's own environment: no endpoint or
# token from the shell, and never the azure-identity chain (it would probe the network).
CLEAN_ENV = {
    "MARKETPLACE_ENDPOINT": "",
    "MARKETPLACE_ACCESS_TOKEN": "",
    "MARKETPLACE_API_VERSION": "",
    "MARKETPLACE_CA_BUNDLE": "",
    "MARKETPLACE_USE_DEFAULT_CREDENTIAL": "false",
    "AZURE_TENANT_ID": "",
    "AZURE_CLIENT_ID": "",
    "AZURE_CLIENT_SECRET": "",
}

# Go-live steps short enough for tests on a clock running FAST times real time.
FAST = 20.0


def fast_steps(seconds: float = 40.0) -> list[dict[str, Any]]:
    """Two go-live steps lasting `seconds` emulated seconds in all, with no time estimates."""
    return [
        {"id": "live-preparation", "stepName": "Live preparation", "seconds": seconds / 2},
        {"id": "live", "stepName": "Live", "seconds": seconds / 2},
    ]


@dataclass(frozen=True)
class Flavour:
    """One way of hosting LiveOffer: `dynamic` (Pulumi's dynamic host) or `plugin` (ours)."""

    name: str

    @property
    def type_token(self) -> str:
        return DYNAMIC_TYPE if self.name == "dynamic" else PLUGIN_TYPE

    def launcher(self, extra_env: dict[str, str] | None = None) -> Launcher:
        env = {**CLEAN_ENV, **(extra_env or {})}
        if self.name == "dynamic":
            return DynamicLauncher(extra_env=env)
        return PluginLauncher(package="marketplace", plugin_dir=REPO, extra_env=env)

    def inputs(self, **props: Any) -> dict[str, Any]:
        """Resource inputs as the SDK sends them (the dynamic SDK adds the pickled provider)."""
        if self.name == "dynamic":
            props["__provider"] = secret(serialize_provider(LiveOfferProvider()))
        return props

    def resource(
        self, name: str, *, custom_timeouts: dict[str, Any] | None = None, **props: Any
    ) -> Resource:
        return Resource(
            name, self.type_token, self.inputs(**props), custom_timeouts=custom_timeouts
        )


def stack_config(emulator: RunningEmulator, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "marketplace:endpoint": emulator.base_url,
        "marketplace:accessToken": secret(emulator.token),
    }
    config.update({f"marketplace:{k}": v for k, v in extra.items()})
    return config


def engine(
    flavour: Flavour,
    emulator: RunningEmulator,
    state_dir: Path,
    *,
    config: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
) -> EngineDouble:
    return EngineDouble(
        flavour.launcher(extra_env),
        "golive",
        "test",
        stack_config(emulator) if config is None else config,
        state_dir / "state.json",
        rpc_log_path=state_dir / "rpc.jsonl",
        rpc_deadline=120.0,
    )


def golive_posts(emulator: RunningEmulator, offer: str, publisher: str = PUBLISHER) -> int:
    return emulator.admin.golive_posts(publisher, offer)


def api_requests(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return emulator.admin.requests()


def publish_to_signoff(emulator: RunningEmulator, offer: str, timeout: float = 30.0) -> None:
    """Publish a new version the way a pipeline would, and wait until it awaits sign-off."""
    answer = requests.post(
        f"{emulator.base_url}/api/publishers/{PUBLISHER}/offers/{offer}/publish",
        params=API,
        headers={"Authorization": f"Bearer {emulator.token}"},
        json={"metadata": {"notification-emails": "ops@contoso.example"}},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    wait_until(lambda: offer_status(emulator, offer) == "waitingForPublisherReview", timeout)


def offer_status(emulator: RunningEmulator, offer: str) -> str:
    answer = requests.get(
        f"{emulator.base_url}/api/publishers/{PUBLISHER}/offers/{offer}/status",
        params=API,
        headers={"Authorization": f"Bearer {emulator.token}"},
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["status"])


def operation_status(emulator: RunningEmulator, offer: str, operation_id: str) -> str:
    answer = requests.get(
        f"{emulator.base_url}/api/publishers/{PUBLISHER}/offers/{offer}/operations/{operation_id}",
        params=API,
        headers={"Authorization": f"Bearer {emulator.token}"},
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["status"])


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def outputs_of(eng: EngineDouble, name: str) -> dict[str, Any]:
    """The recorded outputs of one resource; fails the test when it is not in state."""
    state = eng.state.by_name(name)
    assert state is not None, f"{name} is not in the stack's state"
    return state.outputs


def plain_text(value: Any) -> str:
    """Every string in a wire value outside secret wrappers, joined: where a leak would show."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return ""
        return " ".join(plain_text(k) + " " + plain_text(v) for k, v in value.items())
    if isinstance(value, list):
        return " ".join(plain_text(v) for v in value)
    return value if isinstance(value, str) else ""


def fault_hits(emulator: RunningEmulator, fault_id: int) -> int:
    """How often an injected fault has fired (a held request counts once it matched)."""
    return next(int(f["hits"]) for f in emulator.admin.faults() if f["id"] == fault_id)


def stamp(text: str) -> float:
    """An ISO 8601 time from the request log as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def edit_state(eng: EngineDouble, name: str, **outputs: Any) -> None:
    """Change recorded outputs, as another tool or an older version might have left them."""
    state = StackState.load(eng.state_path)
    found = state.by_name(name)
    assert found is not None
    found.outputs.update(outputs)
    state.save(eng.state_path)


def said(result: Any, eng_flavour: Flavour | None = None) -> str:
    """What the provider told the user: engine log lines (plugin) or stderr (dynamic)."""
    logs = " ".join(log.message for log in result.engine_logs)
    return logs + " " + result.provider_stderr
