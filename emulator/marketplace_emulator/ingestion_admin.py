"""`/_emulator/ingestion/...`: admin routes for the Product Ingestion side of the offers.

Read a product's submissions and jobs, publish a new preview, make the next go-live fail with
given errors. A product is addressed by GUID (`products/<guid>`) or by its offer
(`offers/<pub>/<offer>`), whichever the test has at hand.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .app import Request, Response, json_response
from .ingestion_api import PREFIX
from .ingestion_seed import IngestionSeedError, parse_error_items
from .model import ApiError

if TYPE_CHECKING:
    from .app import Emulator
    from .ingestion_model import Product
    from .model import Offer


class IngestionAdmin:
    """Dispatches `/_emulator/ingestion` requests; mutations are saved before answering."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.ingestion = emulator.ingestion

    def handle(self, req: Request, segs: list[str]) -> Response:
        """Route; `segs` follow `/_emulator/ingestion`."""
        base = f"{req.scheme}://{req.host}/{'/'.join(PREFIX)}"
        if segs == ["products"]:
            _allow(req, "GET")
            with self.ingestion.lock:
                t = self.emu.clock.now()
                dumps = [self.ingestion.dump(o, p, t, base) for o, p in self.ingestion.all()]
            return json_response(200, {"products": dumps})
        offer, product, action = self._target(segs)
        if not action:
            _allow(req, "GET")
            with self.ingestion.lock:
                return json_response(200, self._dump(offer, product, base))
        if action == ["preview"]:
            _allow(req, "POST")
            body = _json(req, required=False)
            running = bool(body.get("running", False))
            try:
                errors = (list(parse_error_items(body["errors"], "errors"))
                          if body.get("errors") is not None else None)
            except IngestionSeedError as exc:
                raise ApiError(400, "InvalidRequest", str(exc)) from None
            with self.ingestion.lock:
                t = self.emu.clock.now()
                sub = self.ingestion.admin_preview(offer, product, t, running, errors)
                doc = self.ingestion.submission_doc(product, sub, t)
            self.emu.commit()
            return json_response(201, doc)
        if action == ["fail-next-golive"]:
            _allow(req, "POST", "DELETE")
            if req.method == "DELETE":
                with self.ingestion.lock:
                    product.pending_failures.clear()
            else:
                body = _json(req, required=True)
                try:
                    errors = list(parse_error_items(body.get("errors"), "errors"))
                except IngestionSeedError as exc:
                    raise ApiError(400, "InvalidRequest", str(exc)) from None
                times = body.get("times", 1)
                if isinstance(times, bool) or not isinstance(times, int) or times < 1:
                    raise ApiError(400, "InvalidRequest", "times: must be an integer >= 1")
                with self.ingestion.lock:
                    product.pending_failures.extend([errors] * times)
            self.emu.commit()
            with self.ingestion.lock:
                return json_response(200, self._dump(offer, product, base))
        raise ApiError(404, "NotFound", f"No admin route {req.raw_path}")

    def handle_state(self) -> list[dict[str, Any]]:
        """Dumps for `/_emulator/state` (no request at hand: resource URIs are relative)."""
        with self.ingestion.lock:
            t = self.emu.clock.now()
            return [self.ingestion.dump(o, p, t, f"/{'/'.join(PREFIX)}")
                    for o, p in self.ingestion.all()]

    def _target(self, segs: list[str]) -> tuple[Offer, Product, list[str]]:
        if len(segs) >= 2 and segs[0] == "products":
            found = self.ingestion.by_guid(segs[1])
            if found is None:
                raise ApiError(404, "ProductNotFound", f"No product {segs[1]}")
            return found[0], found[1], segs[2:]
        if len(segs) >= 3 and segs[0] == "offers":
            offer = self.emu.model.find(segs[1], segs[2])
            if offer is None:
                raise ApiError(404, "OfferNotFound", f"No offer {segs[1]}/{segs[2]}")
            return offer, self.ingestion.record(offer), segs[3:]
        raise ApiError(
            404, "NotFound",
            "use /_emulator/ingestion/products[/<guid>] or .../ingestion/offers/<pub>/<offer>",
        )

    def _dump(self, offer: Offer, product: Product, base: str) -> dict[str, Any]:
        return self.ingestion.dump(offer, product, self.emu.clock.now(), base)


def _allow(req: Request, *allowed: str) -> None:
    if req.method not in allowed:
        raise ApiError(405, "MethodNotAllowed", f"use {' or '.join(allowed)}",
                       {"Allow": ", ".join(allowed)})


def _json(req: Request, *, required: bool) -> dict[str, Any]:
    if not req.body.strip():
        if required:
            raise ApiError(400, "InvalidRequest", "a JSON body is required")
        return {}
    try:
        data = json.loads(req.body)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "InvalidRequest", f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "InvalidRequest", "body must be a JSON object")
    return data
