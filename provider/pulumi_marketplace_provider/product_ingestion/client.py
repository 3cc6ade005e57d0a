"""The Product Ingestion HTTP client (Partner Center, under Microsoft Graph): one method, one
request. Plumbing is `partner_portal.http.ApiClient`'s (origin-only, no redirects, one 401
retry, errors with the service's own words); this module adds the routes under
`/rp/product-ingestion` with `$version`, and the JSON bodies of going live.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from ..partner_portal.errors import MalformedResponse, NotFound
from ..partner_portal.http import ApiClient, request_id
from ..partner_portal.identifiers import validate_identifier
from ..partner_portal.pointers import OperationRef
from .models import JOB_ID, SUBMISSION_ID, IngestionSubmission, Job, Product

__all__ = ["BASE_PATH", "DEFAULT_VERSION", "IngestionClient"]

log = logging.getLogger(__name__)

BASE_PATH = "/rp/product-ingestion"
# The `$version` most documented calls and clients send; 2022-07-01 is cloudpub's.
DEFAULT_VERSION = "2022-03-01-preview2"
SCHEMA_HOST = "https://schema.mp.microsoft.com/schema"
# The submission schema is 2022-03-01-preview2 whatever the configure version (reference 2).
SUBMISSION_SCHEMA = f"{SCHEMA_HOST}/submission/2022-03-01-preview2"


class IngestionClient(ApiClient):
    """Blocking, thread-safe Product Ingestion client (one HTTP request per method)."""

    UNAUTHORIZED_HINT = (
        "check the credentials and that the token is for Microsoft Graph "
        "(https://graph.microsoft.com/.default), from a Microsoft Entra application added to the "
        "Partner Center account"
    )
    FORBIDDEN_HINT = (
        "the Microsoft Entra application needs a Partner Center role (Manager): Account "
        "settings > User management > Microsoft Entra applications"
    )

    def _url(self, path: str) -> str:
        return f"{self.endpoint}{BASE_PATH}/{path}"

    def _params(self, **extra: str) -> dict[str, str]:
        return {"$version": self.api_version, **extra}

    def _object(self, body: Any, what: str, status: int) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise MalformedResponse(f"{what}: the answer is not a JSON object", status=status)
        return body

    def job_url(self, job_id: str) -> str:
        return f"{self._url('configure/' + quote(job_id, safe='-'))}/status"

    def submission_url(self, submission_id: str) -> str:
        return self._url(quote(submission_id, safe="/-"))

    def job_ref(self, job_id: str) -> OperationRef:
        """A configure job as the operation of a go-live (`operationId` is the job id)."""
        if JOB_ID.fullmatch(job_id) is None:
            raise ValueError(f"operationId {job_id!r} is not a configure job id (a GUID)")
        return OperationRef(job_id, self.job_url(job_id), "absolute")

    def submission_ref(self, submission_id: str) -> OperationRef:
        """A live submission as the operation of a go-live this resource attached to."""
        if SUBMISSION_ID.fullmatch(submission_id) is None:
            raise ValueError(f"operationId {submission_id!r} is not submission/<guid>/<n>")
        return OperationRef(submission_id, self.submission_url(submission_id), "absolute")

    # -- API ----------------------------------------------------------------------------

    def find_product(self, external_id: str) -> Product:
        """The product whose external id is the offer id; NotFound when there is none."""
        offer = validate_identifier("offerId", external_id)
        resp = self._request("GET", self._url("product"), params=self._params(externalId=offer))
        data = self._object(self._json(resp, "find product"), "find product", resp.status_code)
        items = data.get("value")
        if not isinstance(items, list):
            raise MalformedResponse("find product: the answer has no `value` list",
                                    status=resp.status_code, request_id=request_id(resp.headers))
        products = []
        for item in items:
            try:
                products.append(Product.from_json(item))
            except ValueError:
                log.debug("skipping unreadable product %r", item)
        exact = [p for p in products if (p.external_id or "").lower() == offer.lower()]
        if exact or products:
            return (exact or products)[0]
        raise NotFound(
            f"Partner Center has no product with external id {offer!r} (GET product?externalId=): "
            f"check offerId, and that the Entra application's Partner Center account owns it",
            status=404, request_id=request_id(resp.headers),
        )

    def list_submissions(self, product: Product) -> list[IngestionSubmission]:
        """The product's active submissions (draft, preview, live; two live while one goes live)."""
        url = self._url(f"submission/{product.guid}")
        resp = self._request("GET", url, params=self._params())
        data = self._object(self._json(resp, "list submissions"), "list submissions",
                            resp.status_code)
        items = data.get("value")
        if not isinstance(items, list):
            raise MalformedResponse("list submissions: the answer has no `value` list",
                                    status=resp.status_code, request_id=request_id(resp.headers))
        subs = []
        for item in items:
            try:
                subs.append(IngestionSubmission.from_json(item))
            except ValueError:
                log.debug("skipping unreadable submission %r", item)
        return subs

    def configure_live(self, product: Product, submission_id: str) -> Job:
        """POST configure: move the preview submission `submission_id` to the live target."""
        if SUBMISSION_ID.fullmatch(submission_id) is None:
            raise ValueError(f"{submission_id!r} is not submission/<guid>/<n>")
        body = {
            "$schema": f"{SCHEMA_HOST}/configure/{self._configure_version()}",
            "resources": [{
                "$schema": SUBMISSION_SCHEMA,
                "id": submission_id,
                "product": product.durable_id,
                "target": {"targetType": "live"},
            }],
        }
        resp = self._request("POST", self._url("configure"), body=body, params=self._params())
        return self._job(resp, "go-live configure")

    def get_job(self, job_id: str) -> tuple[Job, float | None]:
        """GET configure/<jobId>/status; also the answer's Retry-After (seconds), if any."""
        resp = self._request("GET", self.job_url(job_id), params=self._params())
        return self._job(resp, f"configure job {job_id}"), self._retry_after(resp)

    def job_submission(self, job_id: str) -> str | None:
        """The submission a completed job pushed: `GET configure/<jobId>` (configure-detail,
        which fails while the job runs); None when the detail names none."""
        url = self._url("configure/" + quote(job_id, safe="-"))
        resp = self._request("GET", url, params=self._params())
        data = self._json(resp, f"configure job {job_id} detail")
        resources = data.get("resources") if isinstance(data, dict) else None
        for item in resources if isinstance(resources, list) else []:
            sub_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(sub_id, str) and SUBMISSION_ID.fullmatch(sub_id):
                return sub_id
        return None

    def cancel_job(self, job_id: str) -> Job:
        """POST configure/<jobId>/cancel (400 when the job can no longer be cancelled)."""
        url = f"{self._url('configure/' + quote(job_id, safe='-'))}/cancel"
        resp = self._request("POST", url, params=self._params())
        return self._job(resp, f"cancel of configure job {job_id}")

    def _configure_version(self) -> str:
        # The configure schema versions clients use; any other `$version` maps to preview2.
        return self.api_version if self.api_version in ("2022-07-01",) else DEFAULT_VERSION

    def _job(self, resp: Any, what: str) -> Job:
        data = self._json(resp, what)
        try:
            return Job.from_json(data)
        except ValueError as exc:
            raise MalformedResponse(f"{what}: {exc}", status=resp.status_code,
                                    request_id=request_id(resp.headers),
                                    body=resp.text[:2000] or None) from None
