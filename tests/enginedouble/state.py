"""The double's stack state: a JSON file shaped like a Pulumi checkpoint (``version: 3``).

Why: the real engine keeps state between commands (and across CLI processes) in a checkpoint;
lifecycle tests need the same, including partial state (``initErrors``), pending operations and
secrets kept wrapped. Key names follow ``apitype.CheckpointV3``/``ResourceV3`` so a test reading
the file sees what a real checkpoint would hold. Secrets are written as
``{"4dabf...": "1b47...", "ciphertext": ...}`` (see :func:`properties.encrypt_for_state`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .properties import decrypt_from_state, encrypt_for_state


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(eq=False)
class ResourceState:
    """One resource in the checkpoint (custom resources and the default provider).

    Compared by identity (``eq=False``): the engine tracks state objects, not values.
    """

    urn: str
    type: str
    id: str = ""
    custom: bool = True
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    provider: str = ""  # "<provider urn>::<provider id>", as in a checkpoint
    init_errors: list[str] = field(default_factory=list)
    delete: bool = False  # old half of a create-before-delete replacement, still to be deleted
    pending_replacement: bool = False  # deleted by a delete-before-replace; the create is still due
    refresh_before_update: bool = False
    custom_timeouts: dict[str, float] = field(default_factory=dict)
    additional_secret_outputs: list[str] = field(default_factory=list)
    created: str = ""
    modified: str = ""

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "urn": self.urn,
            "custom": self.custom,
            "type": self.type,
        }
        if self.id:
            out["id"] = self.id
        if self.delete:
            out["delete"] = True
        out["inputs"] = encrypt_for_state(self.inputs)
        out["outputs"] = encrypt_for_state(self.outputs)
        if self.provider:
            out["provider"] = self.provider
        if self.init_errors:
            out["initErrors"] = list(self.init_errors)
        if self.pending_replacement:
            out["pendingReplacement"] = True
        if self.additional_secret_outputs:
            out["additionalSecretOutputs"] = list(self.additional_secret_outputs)
        if self.custom_timeouts:
            out["customTimeouts"] = dict(self.custom_timeouts)
        if self.refresh_before_update:
            out["refreshBeforeUpdate"] = True
        if self.created:
            out["created"] = self.created
        if self.modified:
            out["modified"] = self.modified
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceState:
        return cls(
            urn=data["urn"],
            type=data["type"],
            id=data.get("id", ""),
            custom=data.get("custom", True),
            inputs=decrypt_from_state(data.get("inputs") or {}),
            outputs=decrypt_from_state(data.get("outputs") or {}),
            provider=data.get("provider", ""),
            init_errors=list(data.get("initErrors") or []),
            delete=bool(data.get("delete", False)),
            pending_replacement=bool(data.get("pendingReplacement", False)),
            refresh_before_update=bool(data.get("refreshBeforeUpdate", False)),
            custom_timeouts=dict(data.get("customTimeouts") or {}),
            additional_secret_outputs=list(data.get("additionalSecretOutputs") or []),
            created=data.get("created", ""),
            modified=data.get("modified", ""),
        )

    def copy(self) -> ResourceState:
        return ResourceState.from_json(json.loads(json.dumps(self.to_json())))


@dataclass(eq=False)
class PendingOperation:
    """An operation started but not known to have finished (``creating``, ``updating``,
    ``deleting``...).
    """

    resource: ResourceState
    type: str

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource.to_json(), "type": self.type}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingOperation:
        return cls(ResourceState.from_json(data["resource"]), data["type"])


@dataclass
class StackState:
    """Resources (in dependency order: program order here) plus pending operations."""

    stack: str = ""
    resources: list[ResourceState] = field(default_factory=list)
    pending_operations: list[PendingOperation] = field(default_factory=list)

    # --- lookup ---------------------------------------------------------------------------------

    def get(self, urn: str) -> ResourceState | None:
        """The live (not pending-delete) resource with this URN."""
        for res in self.resources:
            if res.urn == urn and not res.delete:
                return res
        return None

    def by_name(self, name: str) -> ResourceState | None:
        for res in self.resources:
            if res.name == name and not res.delete and not _is_provider(res):
                return res
        return None

    def custom_resources(self) -> list[ResourceState]:
        return [r for r in self.resources if not _is_provider(r)]

    def providers(self) -> list[ResourceState]:
        return [r for r in self.resources if _is_provider(r)]

    # --- file -----------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        latest: dict[str, Any] = {
            "manifest": {"time": _now(), "magic": "", "version": "enginedouble"},
            "secrets_providers": {"type": "enginedouble-base64"},
            "resources": [r.to_json() for r in self.resources],
        }
        if self.pending_operations:
            latest["pending_operations"] = [op.to_json() for op in self.pending_operations]
        return {"version": 3, "checkpoint": {"stack": self.stack, "latest": latest}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackState:
        checkpoint = data.get("checkpoint") or {}
        latest = checkpoint.get("latest") or {}
        return cls(
            stack=checkpoint.get("stack", ""),
            resources=[ResourceState.from_json(r) for r in latest.get("resources") or []],
            pending_operations=[
                PendingOperation.from_json(o) for o in latest.get("pending_operations") or []
            ],
        )

    @classmethod
    def load(cls, path: Path, stack: str = "") -> StackState:
        """Load the checkpoint at ``path``; an absent file is an empty stack."""
        if not path.exists():
            return cls(stack=stack)
        return cls.from_json(json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename): a killed test never leaves half a checkpoint."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=False))
        os.replace(tmp, path)


def _is_provider(res: ResourceState) -> bool:
    return res.type.startswith("pulumi:providers:")
