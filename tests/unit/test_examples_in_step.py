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


REPO = EXAMPLES.parent


def test_generated_sdks_carry_the_schema_names_and_the_project_version() -> None:
    """What users type (README, examples) is what the generated SDKs are called."""
    import json
    import re

    def toml_string(path: Path, key: str) -> str:
        """A top-level `key = "..."` of [project] (tomllib is 3.11+; we support 3.10)."""
        found = re.search(rf'^\s*{key} = "([^"]+)"', path.read_text(), re.MULTILINE)
        assert found, (path, key)
        return found.group(1)

    document = schema()
    version = toml_string(REPO / "pyproject.toml", "version")
    assert document["version"] == version
    for key in ("homepage", "repository", "license", "publisher"):
        assert document[key], key
    languages = document["language"]
    assert {"nodejs", "go", "python", "csharp", "java"} <= set(languages)

    package = json.loads((REPO / "sdk" / "nodejs" / "package.json").read_text())
    assert package["name"] == languages["nodejs"]["packageName"]
    assert package["version"] == version
    assert package["pulumi"] == {"resource": True, "name": "marketplace", "version": version}
    go_mod = (REPO / "sdk" / "go" / "go.mod").read_text()
    go_import = languages["go"]["importBasePath"]
    assert f"module {go_import.rsplit('/', 1)[0]}\n" in go_mod
    python_sdk = REPO / "sdk" / "python-plugin" / "pyproject.toml"
    assert toml_string(python_sdk, "name") == languages["python"]["packageName"]
    assert toml_string(python_sdk, "version") == version

    readme = (REPO / "README.md").read_text()
    ts = (EXAMPLES / "typescript" / "index.ts").read_text()
    go = (EXAMPLES / "go" / "golive" / "program.go").read_text()
    for text in (readme, ts):
        assert f'from "{package["name"]}"' in text
    for text in (readme, go):
        assert f'"{go_import}"' in text
    assert f"import {languages['python']['packageName']} as marketplace" in readme
    ts_package = json.loads((EXAMPLES / "typescript" / "package.json").read_text())
    assert ts_package["dependencies"][package["name"]] == "file:../../sdk/nodejs/bin"
    assert "=> ../../sdk/go" in (EXAMPLES / "go" / "go.mod").read_text()
