"""examples/pipelines: the CI workflows name only settings the provider knows.

A plain, fast test (no CLI, not marked e2e): each workflow is parsed as YAML, and every
`marketplace:<key>` config key and every MARKETPLACE_* / AZURE_* variable it names must be one
the provider reads (pulumi_marketplace_provider.settings) or one the README's credential
sections name (the azure-identity variables such as AZURE_FEDERATED_TOKEN_FILE).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_marketplace_provider.settings import CONFIG_KEYS, ENV_FALLBACKS, READ_TIMEOUT_ENV

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / "examples" / "pipelines"
WORKFLOWS = ["github-actions.yml", "azure-pipelines.yml"]

CONFIG_KEY = re.compile(r"\bmarketplace:([A-Za-z]+)\b")
ENV_NAME = re.compile(r"\b((?:MARKETPLACE|AZURE)_[A-Z0-9_]+)\b")
# The Azure Pipelines `${{ if ... }}:` keys and GitHub's `${{ ... }}` are plain YAML strings.


def strings(value: Any) -> Iterator[str]:
    """Every key and string value of a parsed YAML document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def known_env_names() -> set[str]:
    names = {n for names in ENV_FALLBACKS.values() for n in names} | {READ_TIMEOUT_ENV}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Configuration and credentials")
    end = readme.index("\n## ", start + 1)
    names |= set(ENV_NAME.findall(readme[start:end]))
    return names


def parsed(name: str) -> Any:
    return yaml.safe_load((PIPELINES / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_names_only_known_settings(name: str) -> None:
    text = "\n".join(strings(parsed(name)))
    keys = set(CONFIG_KEY.findall(text))
    envs = set(ENV_NAME.findall(text))
    assert keys, f"{name} sets no marketplace:* config"
    assert keys <= set(CONFIG_KEYS), f"unknown config keys in {name}: {keys - set(CONFIG_KEYS)}"
    unknown = envs - known_env_names()
    assert not unknown, f"{name} names variables the provider does not read: {sorted(unknown)}"


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_uses_workload_identity_and_no_stored_secret(name: str) -> None:
    text = "\n".join(strings(parsed(name)))
    envs = set(ENV_NAME.findall(text))
    assert {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"} <= envs
    for stored in (
        "AZURE_CLIENT_SECRET",
        "MARKETPLACE_ACCESS_TOKEN",
        "PULUMI_ACCESS_TOKEN",
        "PULUMI_CONFIG_PASSPHRASE",
        "secrets.",
    ):
        assert stored not in text, f"{name} uses a stored secret: {stored}"
    for secret_key in ("marketplace:accessToken", "marketplace:clientSecret"):
        assert secret_key not in text
    # the e2e tests' CLI environment (tests/e2e/cli.py cli_env), minus the local-only parts
    for var in ("PULUMI_BACKEND_URL", "PULUMI_SKIP_UPDATE_CHECK"):
        assert var in text, f"{name} does not set {var}"


def test_github_actions_previews_pull_requests_and_ups_main() -> None:
    doc = parsed("github-actions.yml")
    triggers = doc.get("on", doc.get(True))  # PyYAML 1.1 reads a bare `on` key as True
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    assert doc["permissions"]["id-token"] == "write"
    runs = {s.get("name"): s for s in doc["jobs"]["marketplace"]["steps"]}
    preview, up = runs["pulumi preview"], runs["pulumi up"]
    assert "pull_request" in preview["if"] and preview["run"].startswith("pulumi preview")
    assert "refs/heads/main" in up["if"]
    assert "pulumi up" in up["run"] and "--yes" in up["run"] and "--non-interactive" in up["run"]


def test_azure_pipelines_uses_a_federated_service_connection() -> None:
    doc = parsed("azure-pipelines.yml")
    assert doc["trigger"]["branches"]["include"] == ["main"]
    assert doc["pr"]["branches"]["include"] == ["main"]
    tasks = [s for s in doc["jobs"][0]["steps"] if s.get("task") == "AzureCLI@2"]
    assert len(tasks) == 1
    inputs = tasks[0]["inputs"]
    assert inputs["addSpnToEnvironment"] is True
    assert "idToken" in inputs["inlineScript"]
    commands = {k: v for k, v in doc["variables"].items() if "PULUMI_COMMAND" in str(v)}
    text = str(commands)
    assert "preview" in text and "up --yes" in text
