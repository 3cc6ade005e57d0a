"""The package schema served by GetSchema (hand-written: the SDK cannot infer custom resources)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from .. import __version__


@cache
def schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    document["version"] = __version__
    return document


def schema_text() -> str:
    return json.dumps(schema(), indent=2)
