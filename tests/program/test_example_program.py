"""The example program, run by the real Pulumi SDK with mocks that hand each resource to the
real dynamic host through the engine double: SDK serialization, the host and the provider, end
to end. (`set_mocks` alone never calls `create`; here the mock IS the engine's create path.)
"""

from __future__ import annotations

import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from marketplace_emulator.harness import RunningEmulator
from tests.enginedouble import EngineDouble, Resource, Secret
from tests.lifecycle.support import (
    DYNAMIC_TYPE,
    FAST,
    PUBLISHER,
    Flavour,
    engine,
    fast_steps,
    golive_posts,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python" / "__main__.py"
SIG_KEY = "4dabf18193072939515e22adb298388d"


def _engine_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs as the SDK serialized them, with its secret wrappers as the double's Secret."""
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, dict) and SIG_KEY in value:
            out[key] = Secret(value["value"])
        else:
            out[key] = value
    return out


class EngineDoubleMocks(pulumi.runtime.Mocks):
    """Each registered dynamic resource goes through `up` in the engine double."""

    def __init__(self, eng: EngineDouble) -> None:
        self.eng = eng
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        self.registered.append(args)
        assert args.typ == DYNAMIC_TYPE
        result = self.eng.up([Resource(args.name, args.typ, _engine_inputs(args.inputs))])
        result.raise_for_failure()
        state = self.eng.state.by_name(args.name)
        assert state is not None
        outputs = {k: (v.value if isinstance(v, Secret) else v) for k, v in state.outputs.items()}
        return state.id, outputs

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.fixture
def program_emulator(emulator_factory: Callable[..., RunningEmulator]) -> RunningEmulator:
    emu = emulator_factory(time_scale=FAST)
    emu.admin.put_offer(
        PUBLISHER, "contoso-vm", state="signoff", stepEstimates=False, goLiveSteps=fast_steps()
    )
    return emu


@pulumi.runtime.test
def test_example_program_goes_live_end_to_end(
    program_emulator: RunningEmulator, tmp_path: Path
) -> Any:
    eng = engine(Flavour("dynamic"), program_emulator, tmp_path)
    mocks = EngineDoubleMocks(eng)
    pulumi.runtime.set_all_config({"marketplace-golive:planVersion": "2.0.0"})
    pulumi.runtime.set_mocks(mocks, project="marketplace-golive", stack="test", preview=False)
    program = runpy.run_path(str(EXAMPLE))
    offer = program["offer"]

    def check(values: list[Any]) -> None:
        eng.close()
        offer_id, status, operation_id, triggers = values
        assert offer_id == "contoso/contoso-vm"
        assert status == "succeeded"
        assert operation_id
        assert triggers == ["2.0.0"]
        assert golive_posts(program_emulator, "contoso-vm") == 1
        [args] = mocks.registered
        provider = args.inputs["__provider"]
        blob = provider["value"] if isinstance(provider, dict) else provider
        assert len(blob) < 2048, "pickled by reference: small"

    return pulumi.Output.all(offer.id, offer.status, offer.operation_id, offer.triggers).apply(
        check
    )
