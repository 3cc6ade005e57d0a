"""The plugin's schema is a valid Pulumi package schema and matches the lifecycle rules."""

import json
import re
from pathlib import Path

import jsonschema
import pytest

from pulumi_marketplace_provider import live_offer, settings
from pulumi_marketplace_provider.plugin.schema import schema

METASCHEMA = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "pulumi-package-metaschema.json"
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    text = METASCHEMA.read_text(encoding="utf-8")
    # The metaschema writes named groups the ECMAScript way, `(?<name>...)`; Python spells them
    # `(?P<name>...)`. Same meaning, so translate before handing it to jsonschema.
    text = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", text)
    return jsonschema.Draft202012Validator(json.loads(text))


def test_schema_is_valid_against_the_metaschema(validator: jsonschema.Draft202012Validator) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(schema())]
    assert errors == []


def test_a_broken_schema_is_caught(validator: jsonschema.Draft202012Validator) -> None:
    broken = json.loads(json.dumps(schema()))
    broken["resources"]["marketplace:index:LiveOffer"]["properties"]["status"]["type"] = "text"
    assert list(validator.iter_errors(broken))


def test_resource_matches_the_lifecycle_rules() -> None:
    resource = schema()["resources"][live_offer.TYPE_TOKEN]
    assert set(resource["inputProperties"]) == set(live_offer.INPUT_KEYS)
    assert set(resource["properties"]) == set(live_offer.INPUT_KEYS) | set(live_offer.OUTPUT_KEYS)
    assert resource["requiredInputs"] == ["publisherId", "offerId"]
    for prop in resource["properties"].values():
        assert prop["description"].strip(), "every property is documented"


def test_config_matches_settings_and_marks_secrets() -> None:
    variables = schema()["config"]["variables"]
    assert set(variables) == set(settings.CONFIG_KEYS)
    assert {k for k, v in variables.items() if v.get("secret")} == set(settings.SECRET_KEYS)
    assert schema()["name"] == "marketplace"
