"""The Cloud Partner Portal HTTP client: one method, one request.

The plumbing (sessions, timeouts, no redirects, one 401 retry, errors) is `http.ApiClient`'s;
this module adds the Partner Portal's URLs (`?api-version=`), pointers and models.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from ..procedure import Clock
from .credentials import TokenProvider
from .errors import MalformedResponse, PointerError
from .http import USER_AGENT, ApiClient, request_id
from .identifiers import validate_identifier
from .models import OfferStatus, Operation, OperationStatus, Submission
from .pointers import (
    DEFAULT_API_VERSION,
    OperationRef,
    canonical_ref,
    is_composite_id,
    non_migrated_ref,
    parse_pointer,
)
from .transport import DEFAULT_POOL_SIZE, Answer

__all__ = ["USER_AGENT", "PortalClient"]

log = logging.getLogger(__name__)


class PortalClient(ApiClient):
    """Blocking, thread-safe Partner Portal client (one HTTP request per method)."""

    UNAUTHORIZED_HINT = (
        "check the Partner Portal credentials and that the token is for "
        "https://cloudpartner.azure.com"
    )
    FORBIDDEN_HINT = (
        "this identity has no access to the publisher: add the Azure AD application in Partner "
        "Center, Account settings > User management, and check the publisherId"
    )

    def __init__(
        self,
        endpoint: str,
        tokens: TokenProvider,
        *,
        api_version: str = DEFAULT_API_VERSION,
        timeout: tuple[float, float] = (5.0, 30.0),
        verify: bool | str = True,
        allow_insecure_http: bool = False,
        clock: Clock | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        user_agent: str = USER_AGENT,
    ) -> None:
        super().__init__(
            endpoint, tokens, api_version=api_version, timeout=timeout, verify=verify,
            allow_insecure_http=allow_insecure_http, clock=clock, pool_size=pool_size,
            user_agent=user_agent,
        )

    def _url(self, path: str) -> str:
        return f"{self.endpoint}{path}?api-version={quote(self.api_version, safe='-._~')}"

    def _offer_path(self, publisher_id: str, offer_id: str) -> str:
        pub = validate_identifier("publisherId", publisher_id)
        offer = validate_identifier("offerId", offer_id)
        return f"/api/publishers/{pub}/offers/{offer}"

    def _pointer(self, resp: Answer, what: str) -> OperationRef:
        try:
            ref = parse_pointer(resp.headers, self.endpoint, api_version=self.api_version)
            retry_after = self._retry_after(resp)
            return ref if retry_after is None else replace(ref, retry_after=retry_after)
        except PointerError as exc:
            exc.status = resp.status_code
            exc.request_id = request_id(resp.headers)
            exc.message = f"{what}: {exc.message}"
            exc.args = (exc.message,)
            raise

    # -- API ----------------------------------------------------------------------------

    def go_live(self, publisher_id: str, offer_id: str) -> OperationRef:
        """POST golive: start pushing the previewed offer to production (202 + pointer)."""
        url = self._url(self._offer_path(publisher_id, offer_id) + "/golive")
        resp = self._request("POST", url)
        return self._pointer(resp, "go-live")

    def publish(self, publisher_id: str, offer_id: str, emails: str | None = None) -> OperationRef:
        """POST publish: start publishing to preview (202 + pointer)."""
        url = self._url(self._offer_path(publisher_id, offer_id) + "/publish")
        metadata = {"notification-emails": emails} if emails else {}
        resp = self._request("POST", url, body={"metadata": metadata})
        return self._pointer(resp, "publish")

    def cancel(self, publisher_id: str, offer_id: str) -> OperationRef | None:
        """POST cancel: None when cancelled at once (200), a pointer when it runs on (202)."""
        url = self._url(self._offer_path(publisher_id, offer_id) + "/cancel")
        resp = self._request("POST", url, body={"metadata": {}})
        if resp.status_code == 202:
            return self._pointer(resp, "cancel")
        return None

    def get_offer(self, publisher_id: str, offer_id: str) -> dict[str, Any]:
        """GET the offer (draft slot, latest version)."""
        resp = self._request("GET", self._url(self._offer_path(publisher_id, offer_id)))
        data = self._json(resp, "get offer")
        if not isinstance(data, dict):
            raise MalformedResponse("get offer: the answer is not a JSON object",
                                    status=resp.status_code)
        return data

    def offer_status(self, publisher_id: str, offer_id: str) -> OfferStatus:
        """GET the offer's publishing status."""
        path = self._offer_path(publisher_id, offer_id) + "/status"
        resp = self._request("GET", self._url(path))
        try:
            return OfferStatus.from_json(self._json(resp, "offer status"))
        except ValueError as exc:
            raise MalformedResponse(f"offer status: {exc}", status=resp.status_code,
                                    request_id=request_id(resp.headers)) from None

    def list_operations(
        self, publisher_id: str, offer_id: str, status: str | None = None
    ) -> list[Submission]:
        """GET the offer's operations (submissions), optionally only those in `status`.

        The filter is also applied here, in case the service ignores it.
        """
        path = self._offer_path(publisher_id, offer_id) + "/submissions"
        params = {"status": status} if status else None
        resp = self._request("GET", self._url(path), params=params)
        data = self._json(resp, "list operations")
        if isinstance(data, dict):
            data = data.get("value", data.get("items", data.get("submissions")))
        if not isinstance(data, list):
            raise MalformedResponse("list operations: the answer is not a JSON array",
                                    status=resp.status_code,
                                    request_id=request_id(resp.headers))
        subs: list[Submission] = []
        for item in data:
            try:
                subs.append(Submission.from_json(item))
            except ValueError:
                log.debug("skipping unreadable submission %r", item)
        if status:
            wanted = OperationStatus.parse(status)
            subs = [s for s in subs if s.state == wanted]
        return subs

    def get_operation(self, ref: OperationRef) -> tuple[Operation, float | None]:
        """GET one operation; also the answer's Retry-After in seconds, if any."""
        resp = self._request("GET", ref.url)
        data = self._json(resp, f"operation {ref.operation_id}")
        try:
            op = Operation.from_json(data)
        except ValueError as exc:
            raise MalformedResponse(f"operation {ref.operation_id}: {exc}",
                                    status=resp.status_code,
                                    request_id=request_id(resp.headers)) from None
        return op, self._retry_after(resp)

    def operation_ref(self, publisher_id: str, offer_id: str, operation_id: str) -> OperationRef:
        """The reference for an operation id (from a listing, a pointer or recorded state).

        Always built on the configured endpoint and api-version, never from a stored URL, so a
        stack keeps working when the endpoint's spelling or the api-version changes. A
        non-migrated offer's `{pub}${offer}${n}${slot}` id keeps its `/api/operations/` form.
        """
        path = self._offer_path(publisher_id, offer_id)  # validates both ids
        del path
        if isinstance(operation_id, str) and is_composite_id(operation_id):
            return non_migrated_ref(self.endpoint, operation_id, self.api_version)
        op_id = validate_identifier("operationId", operation_id)
        return canonical_ref(self.endpoint, publisher_id, offer_id, op_id, self.api_version)
