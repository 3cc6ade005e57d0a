"""The `/rp/product-ingestion` routes: Partner Center's Product Ingestion API, the successor of
the CPP API, as far as taking an offer live needs it (see product-ingestion-api.md).

The real base is `https://graph.microsoft.com/rp/product-ingestion`; here it is
`<emulator>/rp/product-ingestion`, so a client only swaps the origin. Where the docs are silent
the behaviour is ours and listed in emulator/README.md ("Product Ingestion: our choices").
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .app import Request, Response, json_response
from .ingestion_model import DRAFT, LIVE, PREVIEW, IngestionError, error_item
from .model import ApiError

if TYPE_CHECKING:
    from .app import Emulator
    from .ingestion_model import Product
    from .model import Offer

PREFIX = ("rp", "product-ingestion")
# `$version` values seen in the docs and in clients that work against production.
VERSIONS = ("2022-03-01-preview2", "2022-03-01-preview3", "2022-03-01-preview5", "2022-07-01")
CONFIGURE_VERSIONS = ("2022-03-01-preview2", "2022-03-01-preview3", "2022-07-01")
SCHEMA_HOST = "schema.mp.microsoft.com"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def owns(raw_path: str) -> bool:
    """True for paths under `/rp/product-ingestion`."""
    parts = raw_path.split("/")
    return len(parts) >= 3 and parts[1] == PREFIX[0] and parts[2].lower() == PREFIX[1]


def as_ingestion_error(err: ApiError) -> IngestionError:
    """Give a pipeline error (fault, throttle) this API's envelope and camelCase code."""
    if isinstance(err, IngestionError):
        return err
    code = err.code[:1].lower() + err.code[1:]
    return IngestionError(err.status, code, err.message, headers=err.headers)


class IngestionApi:
    """Routes Product Ingestion requests to the ingestion model and shapes the answers."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.ingestion = emulator.ingestion

    def handle(self, req: Request) -> Response:
        """Authenticate, check `$version`, then route (raises IngestionError)."""
        segs = req.segments()[len(PREFIX):]
        self._authorize(req)
        params = {k.lower(): v[0] for k, v in req.params.items() if v}
        version = params.get("$version")
        if version is not None and version not in VERSIONS:
            raise IngestionError(
                400, "badRequest",
                f"The $version '{version}' is not supported. Supported: {', '.join(VERSIONS)}.",
                [error_item("invalidRequest", "Unknown $version.")],
            )
        base = f"{req.scheme}://{req.host}/{'/'.join(PREFIX)}"
        route = segs[0].lower() if segs else ""
        if route == "product" and len(segs) in (1, 2):
            _method(req, "GET")
            return self._products(params) if len(segs) == 1 else self._product(segs[1])
        if route == "submission" and len(segs) in (2, 3):
            _method(req, "GET")
            return self._submissions(segs[1], segs[2] if len(segs) == 3 else None, params)
        if route == "resource-tree" and len(segs) == 3 and segs[1].lower() == "product":
            _method(req, "GET")
            return self._resource_tree(segs[2], params.get("targettype") or DRAFT)
        if route == "configure":
            return self._configure_routes(req, segs[1:], base)
        raise IngestionError(404, "notFound", f"No such resource: {req.raw_path}")

    def _configure_routes(self, req: Request, rest: list[str], base: str) -> Response:
        if not rest:
            _method(req, "POST")
            return self._configure(req, base)
        if len(rest) == 1:
            _method(req, "GET")
            return self._job_detail(rest[0])
        if len(rest) == 2 and rest[1].lower() == "status":
            _method(req, "GET")
            return self._job_status(rest[0], base)
        if len(rest) == 2 and rest[1].lower() == "cancel":
            _method(req, "POST")
            return self._cancel(rest[0], base)
        raise IngestionError(404, "notFound", f"No such resource: {req.raw_path}")

    # ------------------------------------------------------------ checks

    def _authorize(self, req: Request) -> None:
        """Bearer tokens exactly like the CPP routes (same accepted set)."""
        value = req.header("Authorization")
        if not value:
            raise IngestionError(
                401, "unauthorized",
                "Authorization header is missing; send 'Authorization: Bearer <token>'.",
                headers={"WWW-Authenticate": 'Bearer realm="graph.microsoft.com"'},
            )
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.emu.tokens:
            raise IngestionError(
                401, "unauthorized", "The access token is invalid or expired.",
                headers={"WWW-Authenticate":
                         'Bearer realm="graph.microsoft.com", error="invalid_token"'},
            )

    # ------------------------------------------------------------ reads

    def _products(self, params: dict[str, str]) -> Response:
        external = params.get("externalid")
        wanted_type = params.get("type")
        with self.ingestion.lock:
            docs = [self.ingestion.product_doc(o, p) for o, p in self.ingestion.all()]
        if external is not None:
            docs = [d for d in docs if d["identity"]["externalId"].lower() == external.lower()]
        if wanted_type:
            docs = [d for d in docs if d["type"].lower() == wanted_type.lower()]
        return json_response(200, {"value": docs})

    def _product(self, guid: str) -> Response:
        with self.ingestion.lock:
            offer, product = self.ingestion.require(guid)
            return json_response(200, self.ingestion.product_doc(offer, product))

    def _submissions(self, guid: str, raw_number: str | None, params: dict[str, str]) -> Response:
        with self.ingestion.lock:
            _, product = self.ingestion.require(guid)
            t = self.emu.clock.now()
            if raw_number is not None:
                if not raw_number.isdigit():
                    raise IngestionError(404, "notFound", f"Submission '{raw_number}' not found.")
                return json_response(200, self.ingestion.one_submission(
                    product, int(raw_number), t))
            docs = self.ingestion.submissions_doc(product, t)
        target = params.get("targettype")
        if target:
            docs = [d for d in docs if d["target"]["targetType"] == target.lower()]
        return json_response(200, {"value": docs})

    def _resource_tree(self, guid: str, target: str) -> Response:
        target = target.lower()
        if target not in (DRAFT, PREVIEW, LIVE):
            raise IngestionError(400, "badRequest", f"Invalid targetType '{target}'.",
                                 [error_item("invalidRequest", "Use draft, preview or live.")])
        with self.ingestion.lock:
            offer, product = self.ingestion.require(guid)
            doc = self.ingestion.resource_tree(offer, product, target, self.emu.clock.now())
        return json_response(200, doc)

    # ------------------------------------------------------------ jobs

    def _find_job(self, job_id: str) -> tuple[Offer, Product, Any]:
        found = self.ingestion.job(job_id) if _GUID.match(job_id) else None
        if found is None:
            raise IngestionError(404, "notFound", f"Job '{job_id}' was not found.")
        return found

    def _job_status(self, job_id: str, base: str) -> Response:
        with self.ingestion.lock:
            _, _, job = self._find_job(job_id)
            return json_response(200, self.ingestion.job_status(job, self.emu.clock.now(), base))

    def _job_detail(self, job_id: str) -> Response:
        with self.ingestion.lock:
            _, product, job = self._find_job(job_id)
            return json_response(200, self.ingestion.job_detail(product, job,
                                                                self.emu.clock.now()))

    def _cancel(self, job_id: str, base: str) -> Response:
        with self.ingestion.lock:
            offer, product, job = self._find_job(job_id)
            t = self.emu.clock.now()
            self.ingestion.cancel(product, job, t, offer.config.productIngestion.cancelSeconds)
            doc = self.ingestion.job_status(job, t, base)
        self.emu.commit()
        return json_response(200, doc)

    # ------------------------------------------------------------ configure

    def _configure(self, req: Request, base: str) -> Response:
        body = _json_object(req.body)
        _check_schema(body.get("$schema"), "configure", top_level=True)
        resources = body.get("resources")
        if not isinstance(resources, list) or not resources or not all(
            isinstance(r, dict) for r in resources
        ):
            raise _invalid("'resources' must be a non-empty list of resource objects.")
        submissions = [r for r in resources if _is_submission(r)]
        others = [r for r in resources if not _is_submission(r)]
        for res in resources:
            _check_schema(res.get("$schema"), None, top_level=False)
        if len(submissions) > 1:
            raise _invalid("Only one submission resource may be sent per configure request.")
        with self.ingestion.lock:
            t = self.emu.clock.now()
            if not submissions:
                offer, product = self._product_of(others[0])
                job = self.ingestion.update_draft(offer, product, t, others)
            else:
                sub = submissions[0]
                offer, product = self._product_of(sub)
                target, number = _submission_target(sub, product.guid)
                if target == LIVE:
                    if others:
                        raise IngestionError(400, "badRequest",
                                             "Modular publish is not supported for live.",
                                             [error_item("notSupported",
                                                         "Send only the submission resource.")])
                    job = self.ingestion.publish_live(offer, product, t, number)
                else:
                    job = self.ingestion.publish_preview(offer, product, t, others)
            doc = self.ingestion.job_status(job, t, base)
        self.emu.commit()
        return json_response(202, doc)

    def _product_of(self, resource: dict[str, Any]) -> tuple[Offer, Product]:
        """The product a resource names: `product`, else the GUID in a submission `id`."""
        ref = resource.get("product")
        if isinstance(ref, dict) and isinstance(ref.get("externalId"), str):
            with self.ingestion.lock:
                for offer, product in self.ingestion.all():
                    if offer.config.offerId.lower() == ref["externalId"].lower():
                        return offer, product
            raise _not_found(f"No product with externalId '{ref['externalId']}'.")
        guid: str | None = None
        if isinstance(ref, str) and ref.lower().startswith("product/"):
            guid = ref.split("/", 1)[1]
        elif ref is None and isinstance(resource.get("id"), str):
            parts = resource["id"].split("/")
            if len(parts) >= 2 and parts[0] == "submission":
                guid = parts[1]
            elif len(parts) == 2 and parts[0] == "product":
                guid = parts[1]
        if guid is None:
            raise _invalid("Each resource must name its product ('product': 'product/<guid>').")
        found = self.ingestion.by_guid(guid)
        if found is None:
            raise _not_found(f"Product 'product/{guid}' was not found.")
        return found


def _method(req: Request, allowed: str) -> None:
    if req.method != allowed:
        raise IngestionError(
            405, "methodNotAllowed", f"{req.method} is not supported on this resource.",
            headers={"Allow": allowed},
        )


def _invalid(message: str) -> IngestionError:
    return IngestionError(400, "badRequest", message, [error_item("invalidRequest", message)])


def _not_found(message: str) -> IngestionError:
    return IngestionError(400, "badRequest", message, [error_item("resourceNotFound", message)])


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if not isinstance(data, dict):
        raise IngestionError(400, "badRequest", "The request body must be a JSON object.",
                             [error_item("schemaValidationError", "Invalid JSON body.")])
    return data


def _check_schema(uri: Any, kind: str | None, *, top_level: bool) -> None:
    """Schemas come from schema.mp.microsoft.com; the old azureedge host has been refused
    since 2025 with the body peers reported (`could not be accessed`)."""
    if uri is None and not top_level:
        return
    if not isinstance(uri, str) or not uri:
        raise IngestionError(400, "badRequest", "The request has no '$schema'.",
                             [error_item("schemaValidationError", "'$schema' is required.")])
    parts = urlsplit(uri)
    path = parts.path.strip("/").split("/")
    ok = parts.scheme == "https" and parts.netloc.lower() == SCHEMA_HOST and len(path) == 3 and (
        path[0] == "schema"
    )
    if ok and kind is not None:
        ok = path[1] == kind and path[2] in CONFIGURE_VERSIONS
    if not ok:
        raise IngestionError(400, "badRequest", f"Schema {uri} could not be accessed")


def _is_submission(resource: dict[str, Any]) -> bool:
    schema = resource.get("$schema")
    rid = resource.get("id")
    return (isinstance(schema, str) and "/schema/submission/" in schema) or (
        isinstance(rid, str) and rid.startswith("submission/")
    )


def _submission_target(resource: dict[str, Any], guid: str) -> tuple[str, int | None]:
    """(`preview`|`live`, the submission number the `id` names, if any)."""
    target = resource.get("target")
    kind = target.get("targetType") if isinstance(target, dict) else None
    if kind not in (PREVIEW, LIVE):
        raise _invalid("A submission's 'target.targetType' must be 'preview' or 'live'.")
    rid = resource.get("id")
    if rid is None:
        return kind, None
    parts = rid.split("/") if isinstance(rid, str) else []
    if len(parts) != 3 or parts[0] != "submission" or not parts[2].isdigit():
        raise IngestionError(400, "badRequest", f"Invalid submission id {rid!r}.",
                             [error_item("invalidId", "Use submission/<productGuid>/<number>.")])
    if parts[1].lower() != guid:
        raise _invalid(f"Submission id {rid!r} does not belong to product/{guid}.")
    return kind, (None if kind == PREVIEW else int(parts[2]))
