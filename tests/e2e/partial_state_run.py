"""Run by test_dynamic_partial_state in its own process: an inline program whose LiveOffer's
wait limit passes, then the same program with a longer limit. Prints one JSON line.

In its own process because a failed inline `up` leaves the Pulumi SDK's program coroutine to
be finalised at garbage collection, which disturbs the interpreter of a pytest session.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pulumi
from pulumi import automation as auto

from pulumi_marketplace import LiveOffer
from tests.e2e.cli import cli_env, inline_stack
from tests.lifecycle.support import CLEAN_ENV, PUBLISHER


def main(cli_bin: str, work: str, endpoint: str, token: str) -> dict[str, Any]:
    limit = {"seconds": 2.0}
    report: dict[str, Any] = {}

    def program() -> None:
        offer = LiveOffer(
            "live",
            publisher_id=PUBLISHER,
            offer_id="contoso-vm",
            wait_timeout_seconds=limit["seconds"],
        )
        pulumi.export("status", offer.status)
        pulumi.export("operationId", offer.operation_id)

    with inline_stack(
        cli_env(Path(work), Path(cli_bin), extra=CLEAN_ENV),
        program,
        project="e2e-partial",
        config={"marketplace:endpoint": endpoint},
        secrets={"marketplace:accessToken": token},
    ) as stack:
        try:
            stack.up()
            report["first"] = "succeeded"
        except auto.CommandError as exc:
            report["first"] = str(exc)
        deployment = stack.export_stack().deployment or {}
        report["recorded"] = [
            r.get("outputs", {}) for r in deployment["resources"] if r["type"].endswith("LiveOffer")
        ]
        report["pending"] = deployment.get("pending_operations") or []
        limit["seconds"] = 600.0
        up = stack.up()
        report["second"] = {k: v.value for k, v in up.outputs.items()}
    return report


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])), flush=True)
