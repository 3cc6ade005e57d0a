"""Seed documents: per-offer configuration, its defaults, and validation naming the bad field.

A seed is how a test (or the CLI) says what the portal should look like: which offers exist,
where they are in their lifecycle and how their next operations will behave.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .ingestion_seed import IngestionConfig, IngestionSeedError, parse_ingestion

STATES = ("draft", "publishing", "signoff", "live")
SIGNOFF_MODES = ("succeeded", "running")
POINTER_FORMS = ("migrated", "nonMigrated", "absolute")
CANCEL_MODES = ("sync", "async")
RESULTS = ("succeed", "fail")
FAILED_STEP_STATUSES = ("blocked", "failed")
# How operation answers describe a running step (see the README's "Answer shapes").
ANSWER_SHAPES = ("linear", "portal", "mixed")
STEP_SHAPES = ("linear", "portal")
SIGNOFF_STEP_ID = "publisher-signoff"

# Identifiers end up in URL paths and in `$`-separated pointers: keep them to a safe alphabet.
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class SeedError(ValueError):
    """A seed field is invalid; `field` names it (e.g. `offers[0].pointer`)."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True)
class StepSpec:
    """One step of an operation, and how long it runs in emulated seconds."""

    id: str
    stepName: str
    description: str = ""
    estimatedTimeFrame: str | None = None
    seconds: float = 10.0
    answerShape: str | None = None  # None: the offer's answerShape decides
    portalTimeFrame: str | None = None  # the coarse estimate a portal-shaped answer gives

    def to_dict(self) -> dict[str, Any]:
        """Seed form."""
        return {
            "id": self.id,
            "stepName": self.stepName,
            "description": self.description,
            "estimatedTimeFrame": self.estimatedTimeFrame,
            "seconds": self.seconds,
            "answerShape": self.answerShape,
            "portalTimeFrame": self.portalTimeFrame,
        }

    def shape(self, offer_shape: str, index: int) -> str:
        """`linear` or `portal` for this step, the `index`-th of its operation's own steps:
        its own `answerShape`, else the offer's (`mixed`: even indexes linear, odd portal)."""
        if self.answerShape is not None:
            return self.answerShape
        if offer_shape == "mixed":
            return "linear" if index % 2 == 0 else "portal"
        return offer_shape

    def coarse_time_frame(self) -> str:
        """What a portal-shaped answer says the step takes: `portalTimeFrame`, else the
        documentation sample's `~2-5 days` for `live` and `< 1 day` for any other step."""
        if self.portalTimeFrame is not None:
            return self.portalTimeFrame
        return "~2-5 days" if self.id == "live" else "< 1 day"


@dataclass(frozen=True)
class Outcome:
    """How the next operations of one kind end: succeed, or fail at a step with messages."""

    result: str = "succeed"
    atStep: str | None = None
    messages: tuple[str, ...] = ()
    stepStatus: str = "blocked"
    times: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Seed form."""
        return {
            "result": self.result,
            "atStep": self.atStep,
            "messages": list(self.messages),
            "stepStatus": self.stepStatus,
            "times": self.times,
        }


DEFAULT_PUBLISH_STEPS: tuple[StepSpec, ...] = (
    StepSpec(
        "displaydummycertify",
        "Validate Pre-Requisites",
        "Offer settings provided are validated.",
        "< 15 min",
        10.0,
    ),
    StepSpec(
        "displaycertify",
        "Certification",
        "The offer is certified for the marketplace.",
        "~2-3 days",
        20.0,
    ),
    StepSpec(
        "displayprovision",
        "Provisioning",
        "The offer's artifacts are provisioned.",
        "< 1 hour",
        15.0,
    ),
    StepSpec(
        "displaypackage",
        "Packaging",
        "The offer is packaged for the marketplace.",
        "< 1 hour",
        15.0,
    ),
)

DEFAULT_GOLIVE_STEPS: tuple[StepSpec, ...] = (
    StepSpec(
        "live-preparation",
        "Prepare for Live",
        "The previewed offer is prepared for the production marketplace.",
        "< 1 hour",
        20.0,
    ),
    StepSpec(
        "live",
        "Live",
        "The offer is published to the production marketplace.",
        "~2-5 days",
        40.0,
    ),
)

SIGNOFF_STEP = StepSpec(
    SIGNOFF_STEP_ID,
    "Publisher signoff",
    "Offer is available to preview. Ensure that everything looks good before making your "
    "offer live.",
    None,
    0.0,
)


@dataclass(frozen=True)
class OfferConfig:
    """Everything a seed says about one offer (ids, starting state and future behaviour)."""

    publisherId: str
    offerId: str
    state: str = "draft"
    signoff: str = "succeeded"
    pointer: str = "migrated"
    offerTypeId: str = "microsoft-azure-virtualmachines"
    displayText: str = ""
    definition: dict[str, Any] | None = None
    stepEstimates: bool = True
    answerShape: str = "linear"
    pollRetryAfter: int | None = None
    cancelMode: str = "sync"
    cancelSeconds: float = 10.0
    startDelaySeconds: float = 0.0
    publishSteps: tuple[StepSpec, ...] = DEFAULT_PUBLISH_STEPS
    goLiveSteps: tuple[StepSpec, ...] = DEFAULT_GOLIVE_STEPS
    publishOutcome: Outcome = field(default_factory=Outcome)
    goLiveOutcome: Outcome = field(default_factory=Outcome)
    notificationEmails: str | None = None
    productIngestion: IngestionConfig = field(default_factory=IngestionConfig)

    @property
    def title(self) -> str:
        """Display text, defaulting to the offer id."""
        return self.displayText or self.offerId

    def to_dict(self) -> dict[str, Any]:
        """Seed form (round-trips through `parse_offer`)."""
        return {
            "publisherId": self.publisherId,
            "offerId": self.offerId,
            "state": self.state,
            "signoff": self.signoff,
            "pointer": self.pointer,
            "offerTypeId": self.offerTypeId,
            "displayText": self.title,
            "definition": self.definition,
            "stepEstimates": self.stepEstimates,
            "answerShape": self.answerShape,
            "pollRetryAfter": self.pollRetryAfter,
            "cancelMode": self.cancelMode,
            "cancelSeconds": self.cancelSeconds,
            "startDelaySeconds": self.startDelaySeconds,
            "publishSteps": [s.to_dict() for s in self.publishSteps],
            "goLiveSteps": [s.to_dict() for s in self.goLiveSteps],
            "publishOutcome": self.publishOutcome.to_dict(),
            "goLiveOutcome": self.goLiveOutcome.to_dict(),
            "notificationEmails": self.notificationEmails,
            "productIngestion": self.productIngestion.to_dict(),
        }


@dataclass(frozen=True)
class Seed:
    """A whole seed document: accepted tokens (None = leave as is) and offers."""

    tokens: tuple[str, ...] | None
    offers: tuple[OfferConfig, ...]


# ---------------------------------------------------------------- validation helpers


def _str(value: Any, where: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise SeedError(where, f"must be a string (got {json.dumps(value)})")
    if not allow_empty and not value:
        raise SeedError(where, "must not be empty")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where, allow_empty=True)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SeedError(where, f"must be true or false (got {json.dumps(value)})")
    return value


def _number(value: Any, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SeedError(where, f"must be a number (got {json.dumps(value)})")
    if value < minimum:
        raise SeedError(where, f"must be >= {minimum:g} (got {value})")
    return float(value)


def _opt_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SeedError(where, f"must be an integer or null (got {json.dumps(value)})")
    if value < 0:
        raise SeedError(where, f"must be >= 0 (got {value})")
    return value


def _enum(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SeedError(
            where, f"must be one of {', '.join(allowed)} (got {json.dumps(value)})"
        )
    return str(value)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SeedError(where, f"must be a JSON object (got {json.dumps(value)[:60]})")
    return value


def _no_unknown(data: dict[str, Any], where: str, known: set[str]) -> None:
    for key in data:
        if key not in known:
            prefix = f"{where}." if where else ""
            raise SeedError(
                f"{prefix}{key}", f"unknown field (known: {', '.join(sorted(known))})"
            )


def validate_id(value: Any, where: str) -> str:
    """Publisher/offer ids: non-empty, URL-path safe, no `$` (it separates pointer parts)."""
    text = _str(value, where)
    if not _ID_RE.match(text):
        raise SeedError(
            where,
            f"must match {_ID_RE.pattern} (letters, digits, '.', '_', '-'; got {json.dumps(text)})",
        )
    return text


_STEP_FIELDS = {"id", "stepName", "description", "estimatedTimeFrame", "seconds", "answerShape",
                "portalTimeFrame"}


def _steps(value: Any, where: str) -> tuple[StepSpec, ...]:
    if not isinstance(value, list) or not value:
        raise SeedError(where, "must be a non-empty list of steps")
    seen: set[str] = set()
    steps = []
    for i, raw in enumerate(value):
        at = f"{where}[{i}]"
        data = _object(raw, at)
        _no_unknown(data, at, _STEP_FIELDS)
        if "id" not in data:
            raise SeedError(f"{at}.id", "is required")
        step_id = _str(data["id"], f"{at}.id")
        if step_id == SIGNOFF_STEP_ID:
            raise SeedError(f"{at}.id", f"{SIGNOFF_STEP_ID!r} is added by the emulator itself")
        if step_id in seen:
            raise SeedError(f"{at}.id", f"duplicate step id {step_id!r}")
        seen.add(step_id)
        steps.append(
            StepSpec(
                id=step_id,
                stepName=_str(data.get("stepName", step_id), f"{at}.stepName"),
                description=_str(
                    data.get("description", ""), f"{at}.description", allow_empty=True
                ),
                estimatedTimeFrame=_opt_str(
                    data.get("estimatedTimeFrame"), f"{at}.estimatedTimeFrame"
                ),
                seconds=_number(data.get("seconds", 10.0), f"{at}.seconds"),
                answerShape=(None if data.get("answerShape") is None else _enum(
                    data["answerShape"], f"{at}.answerShape", STEP_SHAPES)),
                portalTimeFrame=_opt_str(data.get("portalTimeFrame"), f"{at}.portalTimeFrame"),
            )
        )
    return tuple(steps)


_OUTCOME_FIELDS = {"result", "atStep", "messages", "stepStatus", "times"}


def _outcome(value: Any, where: str, steps: tuple[StepSpec, ...]) -> Outcome:
    data = _object(value, where)
    _no_unknown(data, where, _OUTCOME_FIELDS)
    result = _enum(data.get("result", "succeed"), f"{where}.result", RESULTS)
    at_step = _opt_str(data.get("atStep"), f"{where}.atStep")
    ids = [s.id for s in steps]
    if at_step is not None and at_step not in ids:
        raise SeedError(f"{where}.atStep", f"must be one of the step ids {ids} (got {at_step!r})")
    if result == "fail" and at_step is None:
        at_step = ids[-1]
    raw_messages = data.get("messages", [])
    if not isinstance(raw_messages, list):
        raise SeedError(f"{where}.messages", "must be a list of strings")
    messages = tuple(_str(m, f"{where}.messages[{i}]") for i, m in enumerate(raw_messages))
    if result == "fail" and not messages:
        messages = (f"The operation failed at step {at_step}.",)
    return Outcome(
        result=result,
        atStep=at_step,
        messages=messages,
        stepStatus=_enum(
            data.get("stepStatus", "blocked"), f"{where}.stepStatus", FAILED_STEP_STATUSES
        ),
        times=_opt_int(data.get("times"), f"{where}.times"),
    )


OFFER_FIELDS = set(OfferConfig.__dataclass_fields__)


def parse_offer(
    value: Any,
    where: str = "",
    *,
    publisher_id: str | None = None,
    offer_id: str | None = None,
    base: OfferConfig | None = None,
) -> OfferConfig:
    """Validate one offer seed; ids may come from the URL (admin PUT) instead of the body.

    With `base`, fields absent from `value` keep the base's values (admin PATCH).
    """
    data = _object(value, where or "offer")
    _no_unknown(data, where, OFFER_FIELDS)
    p = f"{where}." if where else ""
    pub = data.get("publisherId", publisher_id)
    off = data.get("offerId", offer_id)
    if pub is None:
        raise SeedError(f"{p}publisherId", "is required")
    if off is None:
        raise SeedError(f"{p}offerId", "is required")
    pub = validate_id(pub, f"{p}publisherId")
    off = validate_id(off, f"{p}offerId")
    if publisher_id is not None and pub.lower() != publisher_id.lower():
        raise SeedError(f"{p}publisherId", f"does not match the URL ({publisher_id!r})")
    if offer_id is not None and off.lower() != offer_id.lower():
        raise SeedError(f"{p}offerId", f"does not match the URL ({offer_id!r})")

    cfg = base or OfferConfig(publisherId=pub, offerId=off)
    cfg = replace(cfg, publisherId=pub, offerId=off)
    changes: dict[str, Any] = {}
    if "state" in data:
        changes["state"] = _enum(data["state"], f"{p}state", STATES)
    if "signoff" in data:
        changes["signoff"] = _enum(data["signoff"], f"{p}signoff", SIGNOFF_MODES)
    if "pointer" in data:
        changes["pointer"] = _enum(data["pointer"], f"{p}pointer", POINTER_FORMS)
    if "offerTypeId" in data:
        changes["offerTypeId"] = _str(data["offerTypeId"], f"{p}offerTypeId")
    if "displayText" in data:
        changes["displayText"] = _str(data["displayText"], f"{p}displayText", allow_empty=True)
    if "definition" in data:
        changes["definition"] = (
            None if data["definition"] is None else _object(data["definition"], f"{p}definition")
        )
    if "stepEstimates" in data:
        changes["stepEstimates"] = _bool(data["stepEstimates"], f"{p}stepEstimates")
    if "answerShape" in data:
        changes["answerShape"] = _enum(data["answerShape"], f"{p}answerShape", ANSWER_SHAPES)
    if "pollRetryAfter" in data:
        changes["pollRetryAfter"] = _opt_int(data["pollRetryAfter"], f"{p}pollRetryAfter")
    if "cancelMode" in data:
        changes["cancelMode"] = _enum(data["cancelMode"], f"{p}cancelMode", CANCEL_MODES)
    if "cancelSeconds" in data:
        changes["cancelSeconds"] = _number(data["cancelSeconds"], f"{p}cancelSeconds")
    if "startDelaySeconds" in data:
        changes["startDelaySeconds"] = _number(
            data["startDelaySeconds"], f"{p}startDelaySeconds"
        )
    if "notificationEmails" in data:
        changes["notificationEmails"] = _opt_str(
            data["notificationEmails"], f"{p}notificationEmails"
        )
    if "productIngestion" in data:
        try:
            changes["productIngestion"] = parse_ingestion(
                data["productIngestion"], f"{p}productIngestion", cfg.productIngestion
            )
        except IngestionSeedError as exc:
            raise SeedError(exc.field, exc.problem) from None
    if "publishSteps" in data:
        changes["publishSteps"] = _steps(data["publishSteps"], f"{p}publishSteps")
    if "goLiveSteps" in data:
        changes["goLiveSteps"] = _steps(data["goLiveSteps"], f"{p}goLiveSteps")
    cfg = replace(cfg, **changes)
    # Outcomes are checked against the (possibly new) step lists.
    outcome_changes: dict[str, Any] = {}
    if "publishOutcome" in data:
        outcome_changes["publishOutcome"] = _outcome(
            data["publishOutcome"], f"{p}publishOutcome", cfg.publishSteps
        )
    elif cfg.publishOutcome.atStep not in (None, *[s.id for s in cfg.publishSteps]):
        raise SeedError(f"{p}publishOutcome.atStep", "names a step not in publishSteps")
    if "goLiveOutcome" in data:
        outcome_changes["goLiveOutcome"] = _outcome(
            data["goLiveOutcome"], f"{p}goLiveOutcome", cfg.goLiveSteps
        )
    elif cfg.goLiveOutcome.atStep not in (None, *[s.id for s in cfg.goLiveSteps]):
        raise SeedError(f"{p}goLiveOutcome.atStep", "names a step not in goLiveSteps")
    return replace(cfg, **outcome_changes)


def parse_tokens(value: Any, where: str = "tokens") -> tuple[str, ...]:
    """A list of accepted bearer tokens."""
    if not isinstance(value, list):
        raise SeedError(where, "must be a list of strings")
    return tuple(_str(t, f"{where}[{i}]") for i, t in enumerate(value))


def parse_seed(value: Any) -> Seed:
    """Validate a whole seed document."""
    data = _object(value, "seed")
    _no_unknown(data, "", {"tokens", "offers"})
    tokens = None if data.get("tokens") is None else parse_tokens(data["tokens"])
    raw_offers = data.get("offers", [])
    if not isinstance(raw_offers, list):
        raise SeedError("offers", "must be a list of offers")
    offers = []
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(raw_offers):
        cfg = parse_offer(raw, f"offers[{i}]")
        key = (cfg.publisherId.lower(), cfg.offerId.lower())
        if key in seen:
            raise SeedError(
                f"offers[{i}].offerId", f"duplicate offer {cfg.publisherId}/{cfg.offerId}"
            )
        seen.add(key)
        offers.append(cfg)
    return Seed(tokens=tokens, offers=tuple(offers))


def load_seed_file(path: str | Path) -> Seed:
    """Read and validate a seed file; errors name the file and the field."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedError("seed", f"not valid JSON ({exc})") from exc
    return parse_seed(data)
