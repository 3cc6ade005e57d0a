"""The examples use the names the provider really has (they are the docs users copy)."""

from pathlib import Path
from typing import Any

import yaml

from pulumi_marketplace_provider import live_offer
from pulumi_marketplace_provider.plugin.schema import schema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_yaml_example_matches_the_schema() -> None:
    program: dict[str, Any] = yaml.safe_load((EXAMPLES / "yaml" / "Pulumi.yaml").read_text())
    resource = schema()["resources"][live_offer.TYPE_TOKEN]
    [declared] = program["resources"].values()
    assert declared["type"] == live_offer.TYPE_TOKEN
    assert set(declared["properties"]) <= set(resource["inputProperties"])
    assert set(resource["requiredInputs"]) <= set(declared["properties"])
    for expression in program["outputs"].values():
        prop = expression.removeprefix("${live.").removesuffix("}")
        assert prop in resource["properties"], prop
    assert program["packages"] == {"marketplace": "../.."}
    assert (EXAMPLES / "yaml" / program["packages"]["marketplace"] / "PulumiPlugin.yaml").is_file()


def test_python_example_uses_the_sdk_names() -> None:
    text = (EXAMPLES / "python" / "__main__.py").read_text()
    assert "from pulumi_marketplace import LiveOffer" in text
    for keyword in ("publisher_id=", "offer_id=", "triggers="):
        assert keyword in text
