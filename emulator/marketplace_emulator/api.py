"""The `/api` routes: the Cloud Partner Portal endpoints needed to take an offer live and watch it.

Paths, headers, field names and enum spellings follow the docs (see cpp-api.md); where the docs
are silent the behaviour is ours and listed in emulator/README.md.
"""

from __future__ import annotations

import ast
import json
from typing import TYPE_CHECKING, Any

from .app import API_VERSION, Request, Response, json_response
from .model import ApiError, Offer, Operation, Submitted

if TYPE_CHECKING:
    from .app import Emulator

SLOTS = ("draft", "preview", "production")


class Api:
    """Routes API requests to the model and shapes the answers."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.model = emulator.model

    def handle(self, req: Request) -> Response:
        """Authenticate, check api-version, then route (raises ApiError for error answers)."""
        segs = req.segments()
        if not segs or segs[0] != "api":
            raise ApiError(404, "NotFound", f"No such resource: {req.raw_path}")
        self._authorize(req)
        version = req.params.get("api-version")
        if version != [API_VERSION]:
            raise ApiError(
                400,
                "InvalidAPIVersion",
                f"Invalid api version. Allowed values are [{API_VERSION}]",
            )
        rest = segs[1:]
        if len(rest) == 2 and rest[0] == "operations":
            self._method(req, "GET")
            return self._get_operation_by_pointer(req, rest[1])
        if len(rest) < 3 or rest[0] != "publishers" or rest[2] != "offers":
            raise ApiError(404, "NotFound", f"No such resource: {req.raw_path}")
        pub = rest[1]
        if len(rest) == 3:
            self._method(req, "GET")
            return self._list_offers(pub)
        off = rest[3]
        tail = rest[4:]
        if not tail:
            self._method(req, "GET")
            return self._get_offer(pub, off)
        action = tail[0].lower()
        if len(tail) == 1:
            if action == "publish":
                self._method(req, "POST")
                return self._publish(req, pub, off)
            if action == "golive":
                self._method(req, "POST")
                return self._golive(req, pub, off)
            if action == "cancel":
                self._method(req, "POST")
                return self._cancel(req, pub, off)
            if action == "status":
                self._method(req, "GET")
                return self._status(pub, off)
            if action == "submissions":
                self._method(req, "GET")
                return self._submissions(req, pub, off)
        if len(tail) == 2:
            if action == "operations":
                self._method(req, "GET")
                return self._get_operation(pub, off, tail[1])
            if action == "versions":
                self._method(req, "GET")
                return self._get_offer_version(pub, off, tail[1])
            if action == "slot":
                self._method(req, "GET")
                return self._get_offer_slot(pub, off, tail[1])
        raise ApiError(404, "NotFound", f"No such resource: {req.raw_path}")

    # ------------------------------------------------------------ checks

    def _authorize(self, req: Request) -> None:
        value = req.header("Authorization")
        if not value:
            raise ApiError(
                401,
                "Unauthorized",
                "Authorization header is missing; send 'Authorization: Bearer <token>'.",
                {"WWW-Authenticate": 'Bearer realm="cloudpartner"'},
            )
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.emu.tokens:
            raise ApiError(
                401,
                "Unauthorized",
                "The access token is invalid or expired.",
                {"WWW-Authenticate": 'Bearer realm="cloudpartner", error="invalid_token"'},
            )

    @staticmethod
    def _method(req: Request, allowed: str) -> None:
        if req.method != allowed:
            raise ApiError(
                405,
                "MethodNotAllowed",
                f"{req.method} is not supported on this resource; use {allowed}.",
                {"Allow": allowed},
            )

    # ------------------------------------------------------------ offers

    def _list_offers(self, pub: str) -> Response:
        with self.model.lock:
            offers = self.model.require_publisher(pub)
            t = self.model.now()
            body = [self.model.offer_summary(o, t) for o in offers]
        return json_response(200, body)

    def _get_offer(self, pub: str, off: str) -> Response:
        with self.model.lock:
            offer = self.model.require_offer(pub, off)
            doc = self.model.offer_document(offer, self.model.now())
        return json_response(200, doc, {"ETag": doc["eTag"]})

    def _get_offer_version(self, pub: str, off: str, raw: str) -> Response:
        with self.model.lock:
            offer = self.model.require_offer(pub, off)
            t = self.model.now()
            try:
                version = int(raw)
            except ValueError:
                version = -1
            if not 1 <= version <= offer.version(t):
                raise ApiError(
                    404, "OfferVersionNotFound", f"Offer '{off}' has no version '{raw}'."
                )
            doc = self.model.offer_document(offer, t, version)
        return json_response(200, doc, {"ETag": doc["eTag"]})

    def _get_offer_slot(self, pub: str, off: str, slot: str) -> Response:
        if slot.lower() not in SLOTS:
            raise ApiError(
                400,
                "InvalidSlotId",
                f"Invalid slot '{slot}'. Allowed values are Draft, Preview, Production.",
            )
        with self.model.lock:
            offer = self.model.require_offer(pub, off)
            t = self.model.now()
            if slot.lower() == "preview" and offer.preview_since(t) is None:
                raise ApiError(404, "OfferNotFound", f"Offer '{off}' has never been previewed.")
            if slot.lower() == "production" and offer.live_since(t) is None:
                raise ApiError(404, "OfferNotFound", f"Offer '{off}' was never published live.")
            doc = self.model.offer_document(offer, t)
        return json_response(200, doc, {"ETag": doc["eTag"]})

    def _status(self, pub: str, off: str) -> Response:
        with self.model.lock:
            offer = self.model.require_offer(pub, off)
            doc = self.model.status_document(offer, self.model.now())
        return json_response(200, doc)

    # ------------------------------------------------------------ long-running POSTs

    def _publish(self, req: Request, pub: str, off: str) -> Response:
        emails = _notification_emails(req.body)
        submitted = self.model.publish(pub, off, emails)
        self.emu.commit()
        return self._accepted(req, submitted)

    def _golive(self, req: Request, pub: str, off: str) -> Response:
        submitted = self.model.golive(pub, off)
        self.emu.commit()
        return self._accepted(req, submitted)

    def _cancel(self, req: Request, pub: str, off: str) -> Response:
        submitted = self.model.cancel(pub, off)
        self.emu.commit()
        if submitted.op is None:
            return Response(200, {}, b"")
        return self._accepted(req, submitted)

    def _accepted(self, req: Request, submitted: Submitted) -> Response:
        assert submitted.op is not None
        headers = self.pointer_headers(req, submitted.offer, submitted.op)
        headers.update(self._retry_after(submitted.offer))
        return Response(202, headers, b"")

    def pointer_headers(self, req: Request, offer: Offer, op: Operation) -> dict[str, str]:
        """The operation pointer in the offer's form (migrated / nonMigrated / absolute)."""
        pub, off = offer.config.publisherId, offer.config.offerId
        form = offer.config.pointer
        if form == "nonMigrated":
            path = f"/api/operations/{pub}${off}${op.publishing_version}$preview"
            return {"Location": f"{path}?api-version={API_VERSION}"}
        path = f"/api/publishers/{pub}/offers/{off}/operations/{op.id}"
        if form == "absolute":
            return {"Operation-Location": f"{req.scheme}://{req.host}{path}"}
        return {"Location": f"{path}?api-version={API_VERSION}"}

    @staticmethod
    def _retry_after(offer: Offer) -> dict[str, str]:
        n = offer.config.pollRetryAfter
        return {} if n is None else {"Retry-After": str(n)}

    # ------------------------------------------------------------ operations

    def _submissions(self, req: Request, pub: str, off: str) -> Response:
        wanted = req.param("status")
        with self.model.lock:
            offer = self.model.require_offer(pub, off)
            t = self.model.now()
            rows = [self.model.submission_summary(offer, op, t) for op in reversed(offer.ops)]
        if wanted:
            rows = [r for r in rows if r["status"].lower() == wanted.lower()]
        return json_response(200, rows)

    def _get_operation(self, pub: str, off: str, op_id: str) -> Response:
        with self.model.lock:
            offer = self.model.require_offer(pub, off)
            op = offer.op(op_id)
            if op is None:
                raise ApiError(
                    404,
                    "OperationNotFound",
                    f"Operation '{op_id}' was not found for offer '{off}'.",
                )
            doc = self.model.operation_document(offer, op, self.model.now())
        return json_response(200, doc, self._retry_after(offer))

    def _get_operation_by_pointer(self, req: Request, pointer: str) -> Response:
        """`/api/operations/{pub}${offer}${n}${slot}` (also the 2018 `{pub}${guid}${n}${slot}`)."""
        parts = pointer.split("$")
        if len(parts) < 4:
            raise ApiError(404, "OperationNotFound", f"Operation '{pointer}' was not found.")
        pub, middle, raw_n = parts[0], "$".join(parts[1:-2]), parts[-2]
        with self.model.lock:
            offers = self.model.require_publisher(pub)
            offer = self.model.find(pub, middle)
            op: Operation | None = None
            if offer is not None:
                try:
                    op = offer.op_by_publishing_version(int(raw_n))
                except ValueError:
                    op = None
            else:
                for candidate in offers:  # 2018 publish form: an operation GUID in the middle
                    op = candidate.op(middle)
                    if op is not None:
                        offer = candidate
                        break
            if offer is None or op is None:
                raise ApiError(404, "OperationNotFound", f"Operation '{pointer}' was not found.")
            doc = self.model.operation_document(offer, op, self.model.now())
        return json_response(200, doc, self._retry_after(offer))


def _notification_emails(body: bytes) -> str | None:
    """`{"metadata": {"notification-emails": ...}}`, optional; tolerates the docs' single quotes."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    data: Any
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = ast.literal_eval(text)  # the docs' sample: { 'metadata': { ... } }
        except (ValueError, SyntaxError) as exc:
            raise ApiError(400, "InvalidRequestBody", "The body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "InvalidRequestBody", "The request body must be a JSON object.")
    metadata = data.get("metadata")
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise ApiError(400, "InvalidRequestBody", "'metadata' must be an object.")
    emails = metadata.get("notification-emails")
    if emails is None:
        return None
    if isinstance(emails, list) and all(isinstance(e, str) for e in emails):
        return ",".join(emails)
    if not isinstance(emails, str):
        raise ApiError(
            400, "InvalidRequestBody", "'notification-emails' must be a comma-separated string."
        )
    return emails
