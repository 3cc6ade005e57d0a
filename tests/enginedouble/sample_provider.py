"""A tiny dynamic provider for the engine double's self-tests: one file per resource.

Why a module (not ``__main__``): dill pickles classes outside ``__main__`` by reference, so the
dynamic host must be able to import ``tests.enginedouble.sample_provider`` (PYTHONPATH=repo root),
exactly the constraint real users hit (pulumi/pulumi#7453).

Inputs: ``dir`` and ``filename`` (changing either replaces), ``content`` (updates in place),
anything else is echoed. Test knobs: ``sleep_create`` (seconds; writes ``<file>.creating`` first
so a test knows Create is in flight), ``fail_create`` (raise with this message), ``dbr`` (ask
for delete-before-replace).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.dynamic.dynamic import serialize_provider

from .properties import Secret, secret

PROVIDER_KEY = "__provider"
TYPE_TOKEN = "pulumi-python:dynamic:Resource"
REPLACE_KEYS = ("dir", "filename")
KNOBS = ("sleep_create", "fail_create", "dbr")


def _path(props: dict[str, Any]) -> Path:
    return Path(props["dir"]) / props["filename"]


class FileProvider(ResourceProvider):
    """Writes ``content`` to ``dir/filename``; the id is the path."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not isinstance(news.get("content", ""), str):
            failures.append(CheckFailure("content", "content must be a string"))
        for key in ("dir", "filename"):
            if not news.get(key):
                failures.append(CheckFailure(key, f"{key} is required"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        path = _path(props)
        path.parent.mkdir(parents=True, exist_ok=True)
        if props.get("sleep_create"):
            path.with_name(path.name + ".creating").write_text("in flight")
            time.sleep(float(props["sleep_create"]))
        if props.get("fail_create"):
            raise RuntimeError(str(props["fail_create"]))
        path.write_text(props.get("content", ""))
        outs = {k: v for k, v in props.items() if k not in KNOBS}
        outs.update(size=path.stat().st_size, token=uuid.uuid4().hex)
        return CreateResult(id_=str(path), outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = (set(olds) | set(news)) - {PROVIDER_KEY, "size", "token"}
        changed = sorted(k for k in keys if olds.get(k) != news.get(k))
        replaces = [k for k in changed if k in REPLACE_KEYS]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=bool(news.get("dbr")),
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        path = _path(news)
        path.write_text(news.get("content", ""))
        outs = {k: v for k, v in news.items() if k not in KNOBS}
        outs.update(size=path.stat().st_size, token=olds.get("token", ""))
        return UpdateResult(outs=outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _path(props).unlink(missing_ok=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        path = Path(id_)
        if not path.exists():
            return ReadResult(id_=None, outs={})
        outs = dict(props)
        outs.update(content=path.read_text(), size=path.stat().st_size)
        return ReadResult(id_=id_, outs=outs)


def provider_input(as_secret: bool = True) -> Secret | str:
    """``__provider`` as the SDK sends it: pickled, secret (serialize_as_secret_always)."""
    blob = serialize_provider(FileProvider())
    return secret(blob) if as_secret else blob


def file_inputs(directory: Path, filename: str, content: str, **extra: Any) -> dict[str, Any]:
    """Inputs a program would register for a :class:`FileProvider` resource."""
    return {
        PROVIDER_KEY: provider_input(),
        "dir": str(directory),
        "filename": filename,
        "content": content,
        **extra,
    }
