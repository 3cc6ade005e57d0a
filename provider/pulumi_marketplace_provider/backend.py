"""The one small interface `live_offer` needs from a marketplace API, whichever runs.

The lifecycle rules are the same for the Cloud Partner Portal API and for Partner Center's
Product Ingestion API; what differs is how a go-live is found, started, read, waited on and
cancelled. A backend answers exactly those questions in one vocabulary: an `OperationRef` names
one go-live (a Partner Portal operation, a Product Ingestion configure job), an `Operation` is
what was read of it (status, steps, messages, links), `GoLiveStart` says how a go-live began and
`CancelOutcome` what a cancel achieved. Every method that talks to the service is a procedure
(see `procedure`), so both hosts run it; each retries transient errors until `deadline`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from .partner_portal import CancelOutcome, GoLiveStart, Operation, OperationRef, Progress
from .procedure import Clock, Procedure

__all__ = ["Backend", "CancelOutcome", "GoLiveStart", "Operation", "OperationRef", "Progress"]


class Backend(Protocol):
    """What `live_offer` asks of a marketplace API (see the module doc)."""

    # The `marketplace:api` value, and what messages call the service.
    api: str
    service: str

    def operation_ref(self, publisher_id: str, offer_id: str, operation_id: str) -> OperationRef:
        """The reference of a recorded go-live id, rebuilt on the configured endpoint (a stored
        URL is never trusted). Raises InvalidIdentifier/ValueError for ids it cannot use."""
        ...

    def check_offer(
        self, publisher_id: str, offer_id: str, *, clock: Clock, deadline: float
    ) -> Procedure[None]:
        """Return when the offer exists; raise NotFound when it does not."""
        ...

    def read_operation(
        self, publisher_id: str, offer_id: str, ref: OperationRef, *, clock: Clock,
        deadline: float,
    ) -> Procedure[Operation]:
        """Read one go-live once (NotFound when the service does not know it)."""
        ...

    def wait(
        self,
        publisher_id: str,
        offer_id: str,
        ref: OperationRef,
        *,
        clock: Clock,
        deadline: float,
        on_progress: Callable[[Progress], None] | None,
    ) -> Procedure[Operation]:
        """Wait until the go-live succeeds; raise OperationFailed/OperationCanceled when it
        ends otherwise, WaitTimedOut (with the last state) when `deadline` passes."""
        ...

    def start_go_live(
        self,
        publisher_id: str,
        offer_id: str,
        *,
        clock: Clock,
        deadline: float,
        on_progress: Callable[[Progress], None] | None,
        on_submit: Callable[[], None] | None,
    ) -> Procedure[GoLiveStart]:
        """Start (or attach to) exactly one go-live; `on_submit` runs right before the request
        that may start one. GoLiveUnconfirmed when that request's answer was lost and no
        go-live showed up by the deadline; nothing is ever sent twice in one call."""
        ...

    def find_latest_go_live(
        self, publisher_id: str, offer_id: str, *, clock: Clock, deadline: float
    ) -> Procedure[OperationRef | None]:
        """The newest go-live of the offer, whatever its state (import); None if none."""
        ...

    def find_go_live_since(
        self,
        publisher_id: str,
        offer_id: str,
        since: datetime | None,
        *,
        clock: Clock,
        deadline: float,
    ) -> Procedure[OperationRef | None]:
        """The go-live a request sent at `since` may have started (one in flight, else one
        newer than `since`); never an older one of an earlier intent."""
        ...

    def find_go_live_in_flight(
        self, publisher_id: str, offer_id: str, *, clock: Clock, deadline: float
    ) -> Procedure[OperationRef | None]:
        """A go-live of the offer that may still be running; None if none."""
        ...

    def cancel_go_live(
        self,
        publisher_id: str,
        offer_id: str,
        ref: OperationRef,
        *,
        clock: Clock,
        deadline: float,
        on_progress: Callable[[Progress], None] | None,
    ) -> Procedure[CancelOutcome]:
        """Cancel the go-live if it still can be, and wait until `deadline` for it to end."""
        ...

    def describe_failure(self, operation: Operation, ref: OperationRef) -> str:
        """The error text for a failed or canceled go-live, in the service's own words."""
        ...

    def same_go_live(self, operation_id: str, other_id: str) -> bool:
        """Whether two operation ids recorded for one offer may name the same go-live while it
        is in flight (a rename's two halves may know it by different names). No I/O."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
