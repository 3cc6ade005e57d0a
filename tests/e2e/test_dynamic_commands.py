"""The dynamic flavour under the real CLI: each command against the emulator's request log.

Python programs run as Automation API inline programs (no Python language host in the CLI
build); the engine runs `LiveOffer`'s dynamic provider through `pulumi-resource-pulumi-python`.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto

from marketplace_emulator.harness import RunningEmulator
from pulumi_marketplace import LiveOffer
from tests.e2e.cli import ensure_cli, inline_stack
from tests.e2e.helpers import env_for, files_containing, posts
from tests.enginedouble import SECRET_SIG, SIG_KEY
from tests.lifecycle.support import (
    FAST,
    PUBLISHER,
    fast_steps,
    golive_posts,
    offer_status,
    publish_to_signoff,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

OFFER = "contoso-vm"
CANARY = "canary-token-7f3a9c1e5b2d"  # the emulator accepts it; it must show up nowhere
PORTAL_WORDS = "The offer failed certification: plan contoso-gold has no image."


@pytest.fixture(scope="module")
def cli_bin() -> Path:
    return ensure_cli()


def program_for(triggers: list[str]) -> Callable[[], None]:
    """The inline program; `triggers` is read at each run, so a test can change it."""

    def program() -> None:
        offer = LiveOffer("live", publisher_id=PUBLISHER, offer_id=OFFER, triggers=list(triggers))
        pulumi.export("status", offer.status)
        pulumi.export("operationId", offer.operation_id)

    return program


def outside_secrets(value: Any) -> str:
    """Every string of a decrypted export outside secret envelopes, joined."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return ""
        return " ".join(f"{k} {outside_secrets(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(outside_secrets(v) for v in value)
    return value if isinstance(value, str) else ""


def changes(summary: Any) -> dict[str, int]:
    """resource_changes without `same`: what a command changed."""
    return {k: v for k, v in (summary.resource_changes or {}).items() if k != "same" and v}


def test_dynamic_preview_refresh_trigger_destroy(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    emulator = emulator_factory(time_scale=FAST)
    emulator.admin.put_offer(
        PUBLISHER, OFFER, state="signoff", goLiveSteps=fast_steps(), stepEstimates=False
    )
    triggers = ["1.0.0"]
    timings: dict[str, float] = {}
    with inline_stack(
        env_for(cli_bin, tmp_path),
        program_for(triggers),
        project="e2e-dyn",
        config={"marketplace:endpoint": emulator.base_url},
        secrets={"marketplace:accessToken": emulator.token},
    ) as stack:
        t0 = time.monotonic()
        up = stack.up()
        timings["up"] = time.monotonic() - t0
        assert up.summary.result == "succeeded"
        assert up.outputs["status"].value == "succeeded"
        first_op = up.outputs["operationId"].value
        assert golive_posts(emulator, OFFER) == 1

        # preview with the same inputs: nothing to do, nothing written to the portal
        before = emulator.admin.requests()[-1]["seq"]
        t0 = time.monotonic()
        pre = stack.preview()
        timings["preview"] = time.monotonic() - t0
        summary = {str(getattr(k, "value", k)): v for k, v in pre.change_summary.items()}
        assert summary.get("same", 0) >= 1, summary
        assert {k: v for k, v in summary.items() if k != "same" and v} == {}, summary
        assert posts(emulator, since=before) == []

        # refresh: re-reads the operation, changes nothing, writes nothing
        before = emulator.admin.requests()[-1]["seq"]
        t0 = time.monotonic()
        ref = stack.refresh()
        timings["refresh"] = time.monotonic() - t0
        assert ref.summary.result == "succeeded"
        assert changes(ref.summary) == {}, ref.summary.resource_changes
        assert posts(emulator, since=before) == []
        assert emulator.admin.requests(method="GET", since=before), "refresh read nothing"
        assert stack.outputs()["operationId"].value == first_op

        # a new publish and new triggers: one update, exactly one more go-live
        publish_to_signoff(emulator, OFFER)
        triggers[:] = ["1.0.1"]
        t0 = time.monotonic()
        up2 = stack.up()
        timings["up(new triggers)"] = time.monotonic() - t0
        assert up2.summary.result == "succeeded"
        assert changes(up2.summary) == {"update": 1}, up2.summary.resource_changes
        assert up2.outputs["status"].value == "succeeded"
        assert up2.outputs["operationId"].value != first_op
        assert golive_posts(emulator, OFFER) == 2

        # destroy: the live offer stays live; nothing cancelled
        before = emulator.admin.requests()[-1]["seq"]
        t0 = time.monotonic()
        down = stack.destroy()
        timings["destroy"] = time.monotonic() - t0
        assert down.summary.result == "succeeded"
        # the LiveOffer and the pulumi:pulumi:Stack resource
        assert changes(down.summary) == {"delete": 2}, down.summary.resource_changes
        assert posts(emulator, since=before) == []
        assert emulator.admin.posts(PUBLISHER, OFFER, "cancel") == 0
        assert offer_status(emulator, OFFER) == "succeeded"
        assert "stays live" in down.stdout and "stop-sell" in down.stdout, down.stdout[-2000:]
    assert golive_posts(emulator, OFFER) == 2
    print(f"\ndynamic commands, wall seconds: { {k: round(v, 1) for k, v in timings.items()} }")


def test_dynamic_failed_golive_shows_portal_words_then_converges(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    emulator = emulator_factory(time_scale=FAST)
    emulator.admin.put_offer(
        PUBLISHER,
        OFFER,
        state="signoff",
        goLiveSteps=fast_steps(),
        stepEstimates=False,
        goLiveOutcome={
            "result": "fail",
            "atStep": "live",
            "messages": [PORTAL_WORDS],
            "times": 1,
        },
    )
    with inline_stack(
        env_for(cli_bin, tmp_path),
        program_for(["1.0.0"]),
        project="e2e-dyn-fail",
        config={"marketplace:endpoint": emulator.base_url},
        secrets={"marketplace:accessToken": emulator.token},
    ) as stack:
        t0 = time.monotonic()
        with pytest.raises(auto.CommandError) as failed:
            stack.up()
        took = time.monotonic() - t0
        assert PORTAL_WORDS in str(failed.value), str(failed.value)[-3000:]
        assert golive_posts(emulator, OFFER) == 1
        exported = json.dumps(stack.export_stack().deployment)
        # the failed create is recorded with its operation (ErrorResourceInitFailed details)
        assert "failed" in exported

        t0 = time.monotonic()
        up = stack.up()
        took2 = time.monotonic() - t0
        assert up.summary.result == "succeeded"
        assert up.outputs["status"].value == "succeeded"
        assert golive_posts(emulator, OFFER) == 2
    print(f"\nfailed up {took:.1f} s, converging up {took2:.1f} s")


def test_dynamic_secret_token_is_nowhere(
    cli_bin: Path, emulator_factory: Callable[..., RunningEmulator], tmp_path: Path
) -> None:
    emulator = emulator_factory(time_scale=FAST, tokens=(CANARY,))
    emulator.admin.put_offer(
        PUBLISHER, OFFER, state="signoff", goLiveSteps=fast_steps(), stepEstimates=False
    )
    env = env_for(cli_bin, tmp_path)
    captured: list[str] = []
    with inline_stack(
        env,
        program_for(["1.0.0"]),
        project="e2e-dyn-secret",
        config={"marketplace:endpoint": emulator.base_url},
        secrets={"marketplace:accessToken": CANARY},
    ) as stack:
        up = stack.up(on_output=captured.append, debug=True)
        assert up.summary.result == "succeeded"
        assert golive_posts(emulator, OFFER) == 1
        ref = stack.refresh(on_output=captured.append)
        # Automation API's export_stack() is `stack export --show-secrets`: the token shows
        # there only inside secret envelopes (the default pulumi-python provider records the
        # stack config as its inputs); the plain export has it nowhere.
        shown = stack.export_stack().deployment
        assert CANARY in json.dumps(shown)
        assert CANARY not in outside_secrets(shown)
        plain = subprocess.run(
            [str(env.pulumi), "stack", "export", "--stack", "dev"],
            cwd=stack.workspace.work_dir,
            env=env.environ(),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        assert json.loads(plain)["deployment"]["resources"]
        assert CANARY not in plain
        captured += [up.stdout, up.stderr, ref.stdout, ref.stderr]
        assert not [line for line in captured if CANARY in line]
        # the file backend (checkpoints, history, backups), PULUMI_HOME (logs, plugins) and
        # the work dir (Pulumi.<stack>.yaml holds it encrypted)
        leaks = files_containing(env.state_dir, CANARY)
        assert leaks == [], leaks
        # the provider really authenticated with it
        rows = emulator.admin.requests(method="POST")
        assert rows and all(r["status"] == 202 for r in rows)
        logs = sorted((env.home / "logs").glob("*.log"))
        assert logs, "the CLI wrote no logs under PULUMI_HOME/logs"
    print(f"\nsearched {len(logs)} CLI logs and {len(captured)} captured output chunks")
