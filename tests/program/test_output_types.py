"""Output types as a program sees them, in both flavours' SDKs: integers are int and booleans
bool. The dynamic flavour's Python SDK runs for real (the Pulumi SDK serializing, the dynamic
host creating through the engine double against the emulator); the plugin flavour's SDKs are
generated from its schema, whose declared types must be those the dynamic SDK gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from marketplace_emulator.harness import RunningEmulator
from pulumi_marketplace import LiveOffer
from tests.lifecycle.support import Flavour, engine
from tests.program.test_example_program import EngineDoubleMocks, program_emulator

__all__ = ["program_emulator"]  # the fixture, shared with the example program's test

SCHEMA = (Path(__file__).resolve().parents[2] / "provider" / "pulumi_marketplace_provider"
          / "plugin" / "schema.json")


@pulumi.runtime.test
def test_dynamic_outputs_are_int_and_bool(program_emulator: RunningEmulator, tmp_path: Path
                                          ) -> Any:
    """On 432de4c offer_version resolved to 1.0, so f"v{v}" gave "v1.0"."""
    eng = engine(Flavour("dynamic"), program_emulator, tmp_path)
    pulumi.runtime.set_mocks(EngineDoubleMocks(eng), project="p", stack="test", preview=False)
    offer = LiveOffer("live", publisher_id="contoso", offer_id="contoso-vm")

    def check(values: list[Any]) -> None:
        eng.close()
        offer_version, publishing_version, wire, adopted, wait = values
        assert type(offer_version) is int and f"v{offer_version}" == "v1"
        assert type(publishing_version) is int and type(wire) is int
        assert type(adopted) is bool and type(wait) is bool

    return pulumi.Output.all(offer.offer_version, offer.publishing_version,
                             offer.offerVersion, offer.adopted,  # type: ignore[attr-defined]
                             offer.wait_for_completion).apply(check)


def test_the_plugins_schema_declares_the_same_types() -> None:
    props = json.loads(SCHEMA.read_text())["resources"]["marketplace:index:LiveOffer"][
        "properties"]
    assert props["offerVersion"]["type"] == props["publishingVersion"]["type"] == "integer"
    assert props["adopted"]["type"] == props["waitForCompletion"]["type"] == "boolean"
