"""Products, submissions and configure jobs of the Product Ingestion API, on the emulator clock.

An offer of the seed is one offer served through both APIs: this module keeps, per offer, the
Product Ingestion history (preview/live submissions and configure jobs) next to the CPP
operations in `model.py`, shares its lock and clock, and reuses the offer's step durations.
Like `model.py`, nothing runs on a timer: records hold emulated timestamps and every view is
computed from them, so a fast clock, a clock jump and a restart all just work.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from .clock import iso
from .ingestion_seed import IngestionConfig, product_guid
from .model import ApiError, Model, Offer
from .seed import OfferConfig, Outcome

SCHEMA_BASE = "https://schema.mp.microsoft.com/schema"
SUBMISSION_SCHEMA = f"{SCHEMA_BASE}/submission/2022-03-01-preview2"
PRODUCT_SCHEMA = f"{SCHEMA_BASE}/product/2022-03-01-preview2"
RESOURCE_TREE_SCHEMA = f"{SCHEMA_BASE}/resource-tree/2022-03-01-preview2"
CONFIGURE_STATUS_SCHEMA = f"{SCHEMA_BASE}/configure-status/2022-03-01-preview2"
CONFIGURE_DETAIL_SCHEMA = f"{SCHEMA_BASE}/configure-detail/2022-03-01-preview2"
NEVER = "0001-01-01T00:00:00"  # jobEnd until the job ends (docs' sample)

NOT_STARTED, RUNNING, COMPLETED = "notStarted", "running", "completed"
PENDING, SUCCEEDED, FAILED, CANCELLED = "pending", "succeeded", "failed", "cancelled"
PREVIEW, LIVE, DRAFT = "preview", "live", "draft"
DRAFT_JOB_SECONDS = 5.0  # a configure job that only updates draft resources

# Messages real clients saw as job errors (cloudpub commits 907cb65, 9ffe3ea).
NOT_LATEST = "The submission cannot be pushed to live as its not the latest submission."

_PRODUCT_TYPES = {
    "microsoft-azure-virtualmachines": "azureVirtualMachine",
    "microsoft-azure-corevm": "coreVirtualMachine",
    "microsoft-azure-applications": "azureApplication",
    "microsoft-azure-containers": "azureContainer",
}


class IngestionError(ApiError):
    """An HTTP error of the Product Ingestion API: `{"error": {code, message, details}}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, code, message, headers)
        self.details = details or []

    def body(self) -> dict[str, Any]:
        """The envelope every peer parses (details always a list)."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def error_item(code: str, message: str, details: list[dict[str, Any]] | None = None,
               resource_id: str | None = None) -> dict[str, Any]:
    """One job `errors[]` item (details always present: cloudpub requires the list)."""
    item: dict[str, Any] = {}
    if resource_id is not None:
        item["resourceId"] = resource_id
    item.update({"code": code, "message": message, "details": details or []})
    return item


def phase(
    start_at: float, end_at: float, result: str, cancelled_at: float | None, t: float
) -> tuple[str, str, float | None]:
    """(status, result, ended_at) of a job or submission at emulated time `t`."""
    if cancelled_at is not None and t >= cancelled_at:
        return COMPLETED, CANCELLED, cancelled_at
    if t < start_at:
        return NOT_STARTED, PENDING, None
    if t < end_at:
        return RUNNING, PENDING, None
    return COMPLETED, result, end_at


@dataclass
class Submission:
    """A preview or live submission: `submission/<guid>/<number>` moving on its timestamps."""

    number: int
    target: str
    created: float
    start_at: float
    end_at: float
    result: str
    job_id: str | None
    origin: str = "api"  # api | seed | admin
    cancelled_at: float | None = None

    def phase(self, t: float) -> tuple[str, str, float | None]:
        """(status, result, ended_at) at `t`."""
        return phase(self.start_at, self.end_at, self.result, self.cancelled_at, t)

    def gone(self, t: float) -> bool:
        """A cancelled submission is no longer listed."""
        return self.cancelled_at is not None and t >= self.cancelled_at


@dataclass
class Job:
    """A configure job; `submission` is the number it publishes (None: draft-only update)."""

    id: str
    created: float
    start_at: float
    end_at: float
    result: str
    errors: list[dict[str, Any]]
    target: str | None
    submission: int | None
    resources: list[dict[str, Any]] = field(default_factory=list)
    origin: str = "api"
    cancelled_at: float | None = None

    def phase(self, t: float) -> tuple[str, str, float | None]:
        """(jobStatus, jobResult, ended_at) at `t`."""
        return phase(self.start_at, self.end_at, self.result, self.cancelled_at, t)


@dataclass
class Product:
    """The Product Ingestion side of one offer."""

    publisher_id: str
    offer_id: str
    guid: str
    next_number: int
    submissions: list[Submission] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    pending_failures: list[list[dict[str, Any]]] = field(default_factory=list)
    fails_used: dict[str, int] = field(default_factory=dict)

    @property
    def durable_id(self) -> str:
        """`product/<guid>`."""
        return f"product/{self.guid}"

    def submission_id(self, number: int) -> str:
        """`submission/<guid>/<n>`."""
        return f"submission/{self.guid}/{number}"

    def job(self, job_id: str) -> Job | None:
        """A job by id (case-insensitive)."""
        wanted = job_id.lower()
        return next((j for j in self.jobs if j.id == wanted), None)

    def to_dict(self) -> dict[str, Any]:
        """Persistable form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Product:
        """Inverse of `to_dict` (state file)."""
        return cls(
            publisher_id=data["publisher_id"],
            offer_id=data["offer_id"],
            guid=data["guid"],
            next_number=int(data["next_number"]),
            submissions=[Submission(**s) for s in data["submissions"]],
            jobs=[Job(**j) for j in data["jobs"]],
            pending_failures=list(data.get("pending_failures", [])),
            fails_used={k: int(v) for k, v in data.get("fails_used", {}).items()},
        )

    # ------------------------------------------------------------ what the API lists

    def previews(self, t: float) -> list[Submission]:
        """Preview submissions still listed, oldest first."""
        return [s for s in self.submissions if s.target == PREVIEW and not s.gone(t)]

    def lives(self, t: float) -> list[Submission]:
        """Live submissions still listed, oldest first."""
        return [s for s in self.submissions if s.target == LIVE and not s.gone(t)]

    def latest_preview(self, t: float) -> Submission | None:
        """The preview entry of the list (the newest one, whatever its state)."""
        previews = self.previews(t)
        return previews[-1] if previews else None

    def current_live(self, t: float) -> Submission | None:
        """The submission that is live now (the newest live that succeeded)."""
        done = [s for s in self.lives(t) if s.phase(t)[:2] == (COMPLETED, SUCCEEDED)]
        return done[-1] if done else None

    def listed(self, t: float) -> list[Submission]:
        """Preview and live entries of `GET submission/<guid>` (draft aside), in list order.

        Live: the one that is live now, plus the newest go-live attempt when it is another one
        (running or failed): two `live` entries during a go-live, one for a first go-live.
        """
        out: list[Submission] = []
        current = self.current_live(t)
        lives = self.lives(t)
        if current is not None:
            out.append(current)
        if lives and lives[-1] is not current:
            out.append(lives[-1])
        preview = self.latest_preview(t)
        if preview is not None:
            out.append(preview)
        return out

    def in_progress(self, t: float) -> int | None:
        """The number of a submission still being published, if any."""
        for sub in self.submissions:
            if not sub.gone(t) and sub.phase(t)[0] != COMPLETED:
                return sub.number
        for job in self.jobs:
            if job.submission is not None and job.phase(t)[0] != COMPLETED:
                return job.submission
        return None


def first_number(guid: str) -> int:
    """Large submission numbers like the real ones (`1152921515689847470`), stable per product."""
    return (1 << 60) + (int(guid.replace("-", "")[:8], 16) % 1_000_000) * 1_000


class IngestionModel:
    """Per-offer Product Ingestion records, created from the offer's seed on first use."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.lock = model.lock  # one lock for both APIs: an offer is one offer
        self.products: dict[tuple[str, str], Product] = {}

    # ------------------------------------------------------------ records

    def clear(self) -> None:
        """Forget every record (seed replaced, reset)."""
        with self.lock:
            self.products.clear()

    def forget(self, publisher_id: str, offer_id: str) -> None:
        """Drop one offer's record (the offer was re-seeded or deleted)."""
        with self.lock:
            self.products.pop((publisher_id.lower(), offer_id.lower()), None)

    def record(self, offer: Offer) -> Product:
        """The offer's record, synthesized from its seed `state` the first time."""
        with self.lock:
            found = self.products.get(offer.key)
            if found is None:
                found = self._synthesize(offer)
                self.products[offer.key] = found
            return found

    def all(self) -> Iterator[tuple[Offer, Product]]:
        """Every offer with its record."""
        with self.lock:
            for offer in list(self.model.offers.values()):
                yield offer, self.record(offer)

    def by_guid(self, guid: str) -> tuple[Offer, Product] | None:
        """The offer whose product GUID this is (case-insensitive)."""
        wanted = guid.lower()
        for offer, product in self.all():
            if product.guid == wanted:
                return offer, product
        return None

    def require(self, guid: str) -> tuple[Offer, Product]:
        """`by_guid`, or the 404 the API answers."""
        found = self.by_guid(guid)
        if found is None:
            raise IngestionError(404, "notFound", f"Product 'product/{guid}' was not found.")
        return found

    def job(self, job_id: str) -> tuple[Offer, Product, Job] | None:
        """A job of any product."""
        for offer, product in self.all():
            job = product.job(job_id)
            if job is not None:
                return offer, product, job
        return None

    def _synthesize(self, offer: Offer) -> Product:
        cfg = offer.config
        guid = product_guid(cfg.publisherId, cfg.offerId, cfg.productIngestion.productGuid)
        product = Product(cfg.publisherId, cfg.offerId, guid, first_number(guid))
        t0 = offer.created
        pi = cfg.productIngestion
        preview_span = pi.jobStartDelaySeconds + _publish_seconds(cfg) + 1.0
        live_span = pi.jobStartDelaySeconds + _golive_seconds(cfg) + 1.0
        if cfg.state == "publishing":
            self._add_preview(product, cfg, t0, None, origin="seed")
        elif cfg.state == "signoff":
            self._add_preview(product, cfg, t0 - preview_span, None, origin="seed")
        elif cfg.state == "live":
            sub, _ = self._add_preview(
                product, cfg, t0 - live_span - preview_span, None, origin="seed"
            )
            self._add_golive(product, cfg, t0 - live_span, sub.number, None, origin="seed")
        return product

    # ------------------------------------------------------------ building blocks

    def _new_job(self, product: Product, created: float, start: float, end: float, result: str,
                 errors: list[dict[str, Any]], target: str | None, number: int | None,
                 resources: list[dict[str, Any]], origin: str) -> Job:
        # Seeded history gets stable ids, so re-synthesizing it after a restart changes nothing.
        job_id = (
            str(uuid.uuid5(uuid.UUID(product.guid), f"seed-job/{len(product.jobs)}"))
            if origin == "seed"
            else str(uuid.uuid4())
        )
        job = Job(job_id, created, start, end, result, errors, target, number, resources, origin)
        product.jobs.append(job)
        return job

    def _add_preview(self, product: Product, cfg: OfferConfig, created: float,
                     errors: list[dict[str, Any]] | None, *, origin: str = "api",
                     resources: list[dict[str, Any]] | None = None) -> tuple[Submission, Job]:
        start = created + cfg.productIngestion.jobStartDelaySeconds
        end = start + _publish_seconds(cfg)
        number = product.next_number
        product.next_number += 1
        result = FAILED if errors else SUCCEEDED
        job = self._new_job(product, created, start, end, result, errors or [], PREVIEW, number,
                            resources or [], origin)
        sub = Submission(number, PREVIEW, created, start, end, result, job.id, origin)
        product.submissions.append(sub)
        return sub, job

    def _add_golive(self, product: Product, cfg: OfferConfig, created: float, number: int,
                    errors: list[dict[str, Any]] | None, *, origin: str = "api") -> Job:
        """The live submission runs the offer's go-live steps; the job ends `liveLagSeconds`
        before it (a failure ends both at the job's end)."""
        pi = cfg.productIngestion
        start = created + pi.jobStartDelaySeconds
        live_end = start + _golive_seconds(cfg)
        job_end = max(start, live_end - pi.liveLagSeconds)
        result = FAILED if errors else SUCCEEDED
        if errors:
            live_end = job_end
        job = self._new_job(product, created, start, job_end, result, errors or [], LIVE, number,
                            [], origin)
        product.submissions.append(
            Submission(number, LIVE, created, start, live_end, result, job.id, origin)
        )
        return job

    def _failed_job(self, product: Product, cfg: OfferConfig, t: float, target: str,
                    error: dict[str, Any]) -> Job:
        """A job refused for a conflict: queued like any job, then completed/failed."""
        start = t + cfg.productIngestion.jobStartDelaySeconds
        return self._new_job(product, t, start, start, FAILED, [error], target, None, [], "api")

    def _outcome_errors(self, product: Product, cfg: OfferConfig, kind: str,
                        number: int) -> list[dict[str, Any]] | None:
        """Errors the next job of `kind` fails with, or None when it succeeds."""
        if kind == LIVE and product.pending_failures:
            return product.pending_failures.pop(0)
        outcome: Outcome = cfg.goLiveOutcome if kind == LIVE else cfg.publishOutcome
        if outcome.result != "fail":
            return None
        used = product.fails_used.get(kind, 0)
        if outcome.times is not None and used >= outcome.times:
            return None
        product.fails_used[kind] = used + 1
        if kind == LIVE and cfg.productIngestion.goLiveErrors is not None:
            return [dict(e) for e in cfg.productIngestion.goLiveErrors]
        text = " ".join(outcome.messages)
        if "certification" not in text.lower():
            text = f"Certification failed: {text}"
        detail = error_item("invalidState", text)
        return [error_item("internalServerError", f"The submission could not be published to "
                           f"{kind}.", [detail], product.submission_id(number))]

    # ------------------------------------------------------------ API actions

    def publish_preview(self, offer: Offer, product: Product, t: float,
                        resources: list[dict[str, Any]]) -> Job:
        """Publish the draft to preview (`Method 1`; extra resources make it modular)."""
        cfg = offer.config
        busy = product.in_progress(t)
        if busy is not None:
            return self._failed_job(product, cfg, t, PREVIEW, _in_progress_error(busy))
        errors = self._outcome_errors(product, cfg, PREVIEW, product.next_number)
        _, job = self._add_preview(product, cfg, t, errors, resources=resources)
        return job

    def publish_live(self, offer: Offer, product: Product, t: float, number: int | None) -> Job:
        """Push the latest preview live; conflicts become failed jobs, as peers observed."""
        cfg = offer.config
        busy = product.in_progress(t)
        if busy is not None:
            return self._failed_job(product, cfg, t, LIVE, _in_progress_error(busy))
        preview = product.latest_preview(t)
        if preview is None:
            return self._failed_job(product, cfg, t, LIVE, error_item(
                "conflict", "The product has no preview submission; publish to preview first."))
        if number is None:
            number = preview.number  # our choice: a live publish without `id` takes the latest
        if number != preview.number:
            return self._failed_job(product, cfg, t, LIVE, error_item("conflict", NOT_LATEST))
        if preview.phase(t)[1] != SUCCEEDED:
            return self._failed_job(product, cfg, t, LIVE, error_item(
                "conflict", f"The submission {number} did not complete successfully in preview."))
        current = product.current_live(t)
        if current is not None and current.number == number:
            return self._failed_job(product, cfg, t, LIVE, error_item(
                "conflict", f"The submission {number} is already live."))
        errors = self._outcome_errors(product, cfg, LIVE, number)
        return self._add_golive(product, cfg, t, number, errors)

    def update_draft(self, offer: Offer, product: Product, t: float,
                     resources: list[dict[str, Any]]) -> Job:
        """A configure without a submission: draft resources only, a short successful job."""
        start = t + offer.config.productIngestion.jobStartDelaySeconds
        return self._new_job(product, t, start, start + DRAFT_JOB_SECONDS, SUCCEEDED, [], None,
                             None, resources, "api")

    def cancel(self, product: Product, job: Job, t: float, seconds: float = 0.0) -> None:
        """Cancel while queued (any job) or running (preview/draft); never once live started.

        With `seconds` > 0 the cancel is accepted now and ends the job that much later; until
        then the job and its submission hold where they are (a cancel that is slow to end).
        """
        status = job.phase(t)[0]
        if status == COMPLETED or (status == RUNNING and job.target == LIVE):
            raise IngestionError(400, "badRequest", "Cannot cancel job, job has already completed.")
        if job.cancelled_at is not None:
            return  # a cancel already accepted ends the job when it was going to
        ends = t + seconds
        job.cancelled_at = ends
        if seconds > 0:
            job.start_at = ends if status == NOT_STARTED else job.start_at
            job.end_at = max(job.end_at, ends)
        for sub in product.submissions:
            if sub.job_id == job.id:
                sub.cancelled_at = ends
                if seconds > 0:
                    sub.start_at = max(sub.start_at, ends) if status == NOT_STARTED \
                        else sub.start_at
                    sub.end_at = max(sub.end_at, ends)

    # ------------------------------------------------------------ admin actions

    def admin_preview(self, offer: Offer, product: Product, t: float, running: bool,
                      errors: list[dict[str, Any]] | None = None) -> Submission:
        """A new preview submission, already completed (default) or starting now; with
        `errors` its publish job fails with them (the preview ends `completed/failed`)."""
        cfg = offer.config
        created = t if running else t - cfg.productIngestion.jobStartDelaySeconds - \
            _publish_seconds(cfg)
        sub, _ = self._add_preview(product, cfg, created, errors or None, origin="admin")
        return sub

    # ------------------------------------------------------------ JSON documents

    def product_doc(self, offer: Offer, product: Product) -> dict[str, Any]:
        """The `product` resource."""
        cfg = offer.config
        return {
            "$schema": PRODUCT_SCHEMA,
            "id": product.durable_id,
            "identity": {"externalId": cfg.offerId},
            "type": _PRODUCT_TYPES.get(cfg.offerTypeId, "azureVirtualMachine"),
            "alias": cfg.title,
            "lifecycleState": "generallyAvailable",
        }

    def draft_doc(self, product: Product) -> dict[str, Any]:
        """The draft submission `/0` (no status, result or created)."""
        return {
            "$schema": SUBMISSION_SCHEMA,
            "id": product.submission_id(0),
            "product": product.durable_id,
            "target": {"targetType": DRAFT},
        }

    def submission_doc(self, product: Product, sub: Submission, t: float) -> dict[str, Any]:
        """One preview/live submission as the API shows it at `t`."""
        status, result, _ = sub.phase(t)
        doc = self.draft_doc(product)
        doc["id"] = product.submission_id(sub.number)
        doc["target"] = {"targetType": sub.target}
        doc.update({"status": status, "result": result, "created": iso(sub.created),
                    "lifecycleState": "generallyAvailable"})
        return doc

    def submissions_doc(self, product: Product, t: float) -> list[dict[str, Any]]:
        """`GET submission/<guid>` values: draft, live entries, preview."""
        return [self.draft_doc(product)] + [
            self.submission_doc(product, s, t) for s in product.listed(t)
        ]

    def one_submission(self, product: Product, number: int, t: float) -> dict[str, Any]:
        """`GET submission/<guid>/<n>`: its newest live attempt, else its preview."""
        if number == 0:
            return self.draft_doc(product)
        candidates = [s for s in product.submissions if s.number == number and not s.gone(t)]
        lives = [s for s in candidates if s.target == LIVE]
        chosen = lives[-1] if lives else (candidates[-1] if candidates else None)
        if chosen is None:
            raise IngestionError(
                404, "notFound", f"Submission '{product.submission_id(number)}' was not found."
            )
        return self.submission_doc(product, chosen, t)

    def resource_tree(self, offer: Offer, product: Product, target: str,
                      t: float) -> dict[str, Any]:
        """Every resource of one target (ours: the product and that target's submission)."""
        if target == DRAFT:
            sub_doc = self.draft_doc(product)
        else:
            if target == LIVE:
                chosen = product.current_live(t)
            else:
                done = [s for s in product.previews(t) if s.phase(t)[:2] == (COMPLETED, SUCCEEDED)]
                chosen = done[-1] if done else None
            if chosen is None:
                raise IngestionError(404, "notFound",
                                     f"Product '{product.durable_id}' has no {target} resources.")
            sub_doc = self.submission_doc(product, chosen, t)
        return {
            "$schema": RESOURCE_TREE_SCHEMA,
            "root": product.durable_id,
            "target": {"targetType": target},
            "resources": [self.product_doc(offer, product), sub_doc],
        }

    def job_status(self, job: Job, t: float, resource_base: str) -> dict[str, Any]:
        """configure-status of a job at `t`."""
        status, result, ended = job.phase(t)
        doc: dict[str, Any] = {
            "$schema": CONFIGURE_STATUS_SCHEMA,
            "jobId": job.id,
            "jobStatus": status,
            "jobResult": result,
            "jobStart": iso(job.created),
            "jobEnd": iso(ended) if ended is not None else NEVER,
        }
        if result == SUCCEEDED:
            doc["resourceUri"] = f"{resource_base}/configure/{job.id}"
        doc["errors"] = list(job.errors) if result == FAILED else []
        return doc

    def job_detail(self, product: Product, job: Job, t: float) -> dict[str, Any]:
        """configure-detail: the resources the job completed; an error before it completed."""
        status, result, _ = job.phase(t)
        if status != COMPLETED:
            raise IngestionError(400, "badRequest", f"Job '{job.id}' has not completed yet.", [
                error_item("invalidState", "Poll configure/<jobId>/status until jobStatus is "
                           "completed.")])
        resources: list[dict[str, Any]] = []
        if result == SUCCEEDED:
            resources = [dict(r) for r in job.resources]
            if job.submission is not None and job.target is not None:
                resources.append({
                    "$schema": SUBMISSION_SCHEMA,
                    "id": product.submission_id(job.submission),
                    "product": product.durable_id,
                    "target": {"targetType": job.target},
                })
        return {"$schema": CONFIGURE_DETAIL_SCHEMA, "resources": resources}

    def dump(self, offer: Offer, product: Product, t: float, base: str) -> dict[str, Any]:
        """Admin view: product, listed submissions, every record with internals, every job."""
        return {
            "product": self.product_doc(offer, product),
            "publisherId": offer.config.publisherId,
            "offerId": offer.config.offerId,
            "config": offer.config.productIngestion.to_dict(),
            "submissions": self.submissions_doc(product, t),
            "records": [
                {**self.submission_doc(product, s, t), "internal": asdict(s)}
                for s in product.submissions
            ],
            "jobs": [{**self.job_status(j, t, base), "internal": asdict(j)} for j in product.jobs],
            "pendingFailures": product.pending_failures,
        }

    # ------------------------------------------------------------ state file

    def to_state(self) -> list[dict[str, Any]]:
        """Records of offers that still exist."""
        with self.lock:
            return [p.to_dict() for key, p in self.products.items() if key in self.model.offers]

    def load_state(self, data: list[dict[str, Any]]) -> None:
        """Replace all records from the state file."""
        with self.lock:
            self.products = {}
            for raw in data:
                product = Product.from_dict(raw)
                self.products[(product.publisher_id.lower(), product.offer_id.lower())] = product


def _publish_seconds(cfg: OfferConfig) -> float:
    return sum(s.seconds for s in cfg.publishSteps)


def _golive_seconds(cfg: OfferConfig) -> float:
    return sum(s.seconds for s in cfg.goLiveSteps)


def _in_progress_error(number: int) -> dict[str, Any]:
    return error_item("internalServerError", f"An In Progress submission {number} already exists.")


__all__ = ["IngestionConfig", "IngestionError", "IngestionModel", "Job", "Product", "Submission"]
