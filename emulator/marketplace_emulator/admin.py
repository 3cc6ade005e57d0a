"""The `/_emulator` admin routes: seed offers, inject faults, read the request log, drive the
clock. No auth: they exist for tests and demos on loopback, never under `/api`."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .app import Request, Response, json_response
from .faults import FaultError
from .model import ApiError
from .seed import SeedError, parse_offer, parse_seed, parse_tokens, validate_id
from .throttle import ThrottleError, parse_throttle

if TYPE_CHECKING:
    from .app import Emulator


def _bad(message: str, code: str = "InvalidRequest") -> ApiError:
    return ApiError(400, code, message)


class Admin:
    """Dispatches admin requests; every mutation is persisted before it is answered."""

    def __init__(self, emulator: Emulator) -> None:
        from .ingestion_admin import IngestionAdmin  # it imports app, like this module

        self.emu = emulator
        self.ingestion = IngestionAdmin(emulator)

    def handle(self, req: Request) -> Response:
        """Route one admin request; errors use the same JSON error shape as the API."""
        try:
            return self._route(req)
        except ApiError as err:
            return json_response(err.status, err.body(), err.headers)
        except SeedError as err:
            return json_response(400, {"error": {"code": "InvalidSeed", "message": str(err),
                                                 "field": err.field}})
        except (FaultError, ThrottleError) as err:
            return json_response(400, {"error": {"code": "InvalidRequest", "message": str(err)}})

    def _route(self, req: Request) -> Response:
        segs = req.segments()[1:]  # drop "_emulator"
        m = req.method
        route = segs[0] if segs else ""
        if route == "health" and len(segs) == 1:
            self._allow(m, "GET")
            return json_response(200, {"ok": True})
        if route == "reset" and len(segs) == 1:
            self._allow(m, "POST")
            self.emu.reset()
            self.emu.commit()
            return json_response(200, {"ok": True})
        if route == "state" and len(segs) == 1:
            self._allow(m, "GET")
            return json_response(200, self._state())
        if route == "offers":
            return self._offers(req, segs[1:])
        if route == "seed" and len(segs) == 1:
            self._allow(m, "PUT")
            seed = parse_seed(self._json(req))
            self.emu.apply_seed(seed)
            self.emu.commit()
            return json_response(200, {"ok": True, "offers": len(seed.offers)})
        if route == "tokens" and len(segs) == 1:
            self._allow(m, "GET", "PUT")
            if m == "PUT":
                body = self._json(req)
                if not isinstance(body, dict) or "tokens" not in body:
                    raise SeedError("tokens", "is required")
                self.emu.tokens = set(parse_tokens(body["tokens"]))
                self.emu.commit()
            return json_response(200, {"tokens": sorted(self.emu.tokens)})
        if route == "faults" and len(segs) == 1:
            self._allow(m, "GET", "POST", "DELETE")
            if m == "POST":
                fault = self.emu.faults.add(self._json(req))
                self.emu.commit()
                return json_response(201, {"id": fault.id, "fault": fault.to_dict()})
            if m == "DELETE":
                self.emu.faults.clear()
                self.emu.commit()
            return json_response(200, {"faults": self.emu.faults.list()})
        if route == "requests" and len(segs) == 1:
            self._allow(m, "GET", "DELETE")
            if m == "DELETE":
                self.emu.requests.clear()
                return json_response(200, {"requests": []})
            since = req.param("since")
            try:
                rows = self.emu.requests.entries(
                    method=req.param("method"),
                    path=req.param("path"),
                    since=int(since) if since else None,
                )
            except ValueError as exc:
                raise _bad(f"bad filter: {exc}") from exc
            return json_response(200, {"requests": rows, "seq": self.emu.requests.seq})
        if route == "throttle" and len(segs) == 1:
            self._allow(m, "GET", "PUT")
            if m == "PUT":
                cfg = parse_throttle(self._json(req), self.emu.throttle.config)
                self.emu.throttle.configure(cfg)
                self.emu.commit()
            return json_response(200, self.emu.throttle.config.to_dict())
        if route == "clock":
            return self._clock(req, segs[1:])
        if route == "ingestion":
            return self.ingestion.handle(req, segs[1:])
        raise ApiError(404, "NotFound", f"No admin route {req.raw_path}")

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ApiError(
                405,
                "MethodNotAllowed",
                f"use {' or '.join(allowed)}",
                {"Allow": ", ".join(allowed)},
            )

    @staticmethod
    def _json(req: Request) -> Any:
        if not req.body.strip():
            raise _bad("a JSON body is required")
        try:
            return json.loads(req.body)
        except json.JSONDecodeError as exc:
            raise _bad(f"body is not valid JSON: {exc}") from exc

    def _offers(self, req: Request, segs: list[str]) -> Response:
        model = self.emu.model
        m = req.method
        if not segs:
            self._allow(m, "GET")
            with model.lock:
                t = model.now()
                return json_response(
                    200, {"offers": [model.dump_offer(o, t) for o in model.offers.values()]}
                )
        if len(segs) != 2:
            raise ApiError(404, "NotFound", "use /_emulator/offers/{publisherId}/{offerId}")
        pub = validate_id(segs[0], "publisherId")
        off = validate_id(segs[1], "offerId")
        self._allow(m, "GET", "PUT", "PATCH", "DELETE")
        if m == "PUT":
            cfg = parse_offer(self._json(req), "", publisher_id=pub, offer_id=off)
            with model.lock:
                existed = model.find(pub, off) is not None
                self.emu.ingestion.forget(pub, off)  # its history is re-synthesized too
                offer = model.put_offer(cfg)
                doc = model.dump_offer(offer, model.now())
            self.emu.commit()
            return json_response(200 if existed else 201, doc)
        if m == "DELETE":
            if not model.delete_offer(pub, off):
                raise ApiError(404, "OfferNotFound", f"No offer {pub}/{off}")
            self.emu.ingestion.forget(pub, off)
            self.emu.commit()
            return json_response(200, {"deleted": True})
        with model.lock:
            found = model.find(pub, off)
            if found is None:
                raise ApiError(404, "OfferNotFound", f"No offer {pub}/{off}")
            offer = found
            if m == "PATCH":
                body = self._json(req)
                if isinstance(body, dict) and "state" in body:
                    raise SeedError("state", "cannot be patched; PUT the offer to reseed it")
                cfg = parse_offer(body, "", publisher_id=pub, offer_id=off, base=offer.config)
                model.patch_offer(offer, cfg)
            doc = model.dump_offer(offer, model.now())
        if m == "PATCH":
            self.emu.commit()
        return json_response(200, doc)

    def _clock(self, req: Request, segs: list[str]) -> Response:
        clock = self.emu.clock
        if not segs:
            self._allow(req.method, "GET", "PUT")
            if req.method == "PUT":
                body = self._json(req)
                scale = _number_field(body, "scale")
                if scale is None or scale < 0:
                    raise _bad("scale: must be a number >= 0 (emulated seconds per real second)")
                clock.set_scale(scale)
                self.emu.commit()
            return json_response(200, clock.describe())
        if segs == ["advance"]:
            self._allow(req.method, "POST")
            body = self._json(req)
            seconds = _number_field(body, "seconds")
            if seconds is None or seconds < 0:
                raise _bad("seconds: must be a number >= 0")
            clock.advance(seconds)
            self.emu.commit()
            return json_response(200, clock.describe())
        raise ApiError(404, "NotFound", f"No admin route {req.raw_path}")

    def _state(self) -> dict[str, Any]:
        model = self.emu.model
        with model.lock:
            t = model.now()
            offers = [model.dump_offer(o, t) for o in model.offers.values()]
        return {
            "clock": self.emu.clock.describe(),
            "tokens": sorted(self.emu.tokens),
            "throttle": self.emu.throttle.config.to_dict(),
            "faults": self.emu.faults.list(),
            "requestSeq": self.emu.requests.seq,
            "stateFile": str(self.emu.store.path) if self.emu.store.path else None,
            "offers": offers,
            "ingestion": self.ingestion.handle_state(),
        }


def _number_field(body: Any, name: str) -> float | None:
    """A finite number from a JSON object, else None."""
    value = body.get(name) if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
