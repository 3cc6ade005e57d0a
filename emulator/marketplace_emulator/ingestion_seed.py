"""The `productIngestion` part of an offer seed: what only the Product Ingestion API needs.

An offer is one offer served through both APIs; this block holds the few settings the CPP seed
has no field for (the product GUID, job timings, the shape of go-live errors). It has no
dependency on `seed.py` so `seed.py` can embed it; errors carry the full field path.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from typing import Any

# Where the job ends relative to the live submission (see `liveLagSeconds`).
DEFAULT_LIVE_LAG_SECONDS = 30.0
DEFAULT_JOB_START_DELAY_SECONDS = 5.0
# Namespace for the deterministic product GUID (uuid5 of "publisher/offer", lower-cased).
PRODUCT_NAMESPACE = uuid.UUID("6f1c5a8e-2b47-4f0e-9d0a-5e3c8b7a1d42")


class IngestionSeedError(ValueError):
    """A `productIngestion` field is invalid; `field` is its full path."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True)
class IngestionConfig:
    """Product Ingestion settings of one offer (all optional)."""

    productGuid: str | None = None
    jobStartDelaySeconds: float = DEFAULT_JOB_START_DELAY_SECONDS
    liveLagSeconds: float = DEFAULT_LIVE_LAG_SECONDS
    goLiveErrors: tuple[dict[str, Any], ...] | None = None
    # How long an accepted cancel takes to end the job (0: at once, as documented).
    cancelSeconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Seed form (round-trips through `parse_ingestion`)."""
        return {
            "productGuid": self.productGuid,
            "jobStartDelaySeconds": self.jobStartDelaySeconds,
            "liveLagSeconds": self.liveLagSeconds,
            "goLiveErrors": None if self.goLiveErrors is None else list(self.goLiveErrors),
            "cancelSeconds": self.cancelSeconds,
        }


def product_guid(publisher_id: str, offer_id: str, configured: str | None = None) -> str:
    """The product GUID: the seed's, else derived from the ids so tests and state are stable."""
    if configured:
        return configured.lower()
    return str(uuid.uuid5(PRODUCT_NAMESPACE, f"{publisher_id.lower()}/{offer_id.lower()}"))


def _finite(value: Any, where: str, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise IngestionSeedError(where, f"must be a number (got {json.dumps(value)})")
    if minimum is not None and value < minimum:
        raise IngestionSeedError(where, f"must be >= {minimum:g} (got {value})")
    return float(value)


def parse_error_items(value: Any, where: str) -> tuple[dict[str, Any], ...]:
    """Job `errors[]` items: `{code, message?, resourceId?, details?: [same shape]}`.

    `details` defaults to `[]` at every level (cloudpub insists on the list being there).
    """
    if not isinstance(value, list) or not value:
        raise IngestionSeedError(where, "must be a non-empty list of error objects")
    return tuple(_error_item(item, f"{where}[{i}]") for i, item in enumerate(value))


def _error_item(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IngestionSeedError(where, "must be an object with at least a 'code'")
    known = {"code", "message", "resourceId", "details"}
    for key in value:
        if key not in known:
            raise IngestionSeedError(f"{where}.{key}", f"unknown field (known: {sorted(known)})")
    code = value.get("code")
    if not isinstance(code, str) or not code:
        raise IngestionSeedError(f"{where}.code", "must be a non-empty string")
    item: dict[str, Any] = {"code": code}
    for key in ("message", "resourceId"):
        if key in value:
            if not isinstance(value[key], str):
                raise IngestionSeedError(f"{where}.{key}", "must be a string")
            item[key] = value[key]
    raw_details = value.get("details", [])
    if not isinstance(raw_details, list):
        raise IngestionSeedError(f"{where}.details", "must be a list")
    item["details"] = [_error_item(d, f"{where}.details[{i}]") for i, d in enumerate(raw_details)]
    return item


_FIELDS = {
    "productGuid", "jobStartDelaySeconds", "liveLagSeconds", "goLiveErrors", "cancelSeconds",
}


def parse_ingestion(value: Any, where: str, base: IngestionConfig) -> IngestionConfig:
    """Validate a `productIngestion` object; absent fields keep `base`'s values."""
    if value is None:
        return base
    if not isinstance(value, dict):
        raise IngestionSeedError(where, "must be a JSON object")
    for key in value:
        if key not in _FIELDS:
            raise IngestionSeedError(
                f"{where}.{key}", f"unknown field (known: {', '.join(sorted(_FIELDS))})"
            )
    guid = base.productGuid
    if "productGuid" in value:
        raw = value["productGuid"]
        if raw is None:
            guid = None
        else:
            try:
                guid = str(uuid.UUID(str(raw)))
            except ValueError:
                raise IngestionSeedError(
                    f"{where}.productGuid", f"must be a GUID (got {json.dumps(raw)})"
                ) from None
    delay = base.jobStartDelaySeconds
    if "jobStartDelaySeconds" in value:
        delay = _finite(value["jobStartDelaySeconds"], f"{where}.jobStartDelaySeconds", minimum=0)
    lag = base.liveLagSeconds
    if "liveLagSeconds" in value:
        lag = _finite(value["liveLagSeconds"], f"{where}.liveLagSeconds")
    errors = base.goLiveErrors
    if "goLiveErrors" in value:
        raw_errors = value["goLiveErrors"]
        errors = None if raw_errors is None else parse_error_items(
            raw_errors, f"{where}.goLiveErrors"
        )
    cancel = base.cancelSeconds
    if "cancelSeconds" in value:
        cancel = _finite(value["cancelSeconds"], f"{where}.cancelSeconds", minimum=0)
    return IngestionConfig(
        productGuid=guid, jobStartDelaySeconds=delay, liveLagSeconds=lag, goLiveErrors=errors,
        cancelSeconds=cancel,
    )
