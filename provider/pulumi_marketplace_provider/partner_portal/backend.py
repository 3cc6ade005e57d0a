"""The Cloud Partner Portal as a `Backend` of `live_offer` (delegation to this package)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..procedure import Clock, Procedure
from .client import PortalClient
from .golive import (
    CancelOutcome,
    GoLiveStart,
    call_retrying,
    cancel_go_live,
    find_go_live_in_flight,
    find_go_live_since,
    find_latest_go_live,
    start_go_live,
)
from .models import Operation
from .pointers import OperationRef
from .waiter import Progress, describe_failure, wait_for_operation

API = "cloudPartnerPortal"


class PartnerPortalBackend:
    """Go-lives are the offer's `golive` operations (`reference/cpp-api.md`)."""

    api = API
    service = "Partner Portal"

    def __init__(self, client: PortalClient) -> None:
        self.client = client

    def __repr__(self) -> str:
        return f"PartnerPortalBackend({self.client!r})"

    def operation_ref(self, publisher_id: str, offer_id: str, operation_id: str) -> OperationRef:
        return self.client.operation_ref(publisher_id, offer_id, operation_id)

    def check_offer(
        self, publisher_id: str, offer_id: str, *, clock: Clock, deadline: float
    ) -> Procedure[None]:
        yield from call_retrying(
            lambda: self.client.offer_status(publisher_id, offer_id),
            clock=clock,
            deadline=deadline,
            what=f"reading {publisher_id}/{offer_id} status",
            source=self.client,
        )

    def read_operation(
        self, publisher_id: str, offer_id: str, ref: OperationRef, *, clock: Clock,
        deadline: float,
    ) -> Procedure[Operation]:
        op, _ = yield from call_retrying(
            lambda: self.client.get_operation(ref),
            clock=clock,
            deadline=deadline,
            what=f"reading go-live {ref.operation_id}",
            source=self.client,
        )
        return op

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
        return (yield from wait_for_operation(
            self.client, ref, clock=clock, deadline=deadline, on_progress=on_progress
        ))

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
        return (yield from start_go_live(
            self.client, publisher_id, offer_id, clock=clock, deadline=deadline,
            on_progress=on_progress, on_submit=on_submit,
        ))

    def find_latest_go_live(
        self, publisher_id: str, offer_id: str, *, clock: Clock, deadline: float
    ) -> Procedure[OperationRef | None]:
        return (yield from find_latest_go_live(
            self.client, publisher_id, offer_id, clock=clock, deadline=deadline
        ))

    def find_go_live_since(
        self,
        publisher_id: str,
        offer_id: str,
        since: datetime | None,
        *,
        clock: Clock,
        deadline: float,
    ) -> Procedure[OperationRef | None]:
        return (yield from find_go_live_since(
            self.client, publisher_id, offer_id, since, clock=clock, deadline=deadline
        ))

    def find_go_live_in_flight(
        self, publisher_id: str, offer_id: str, *, clock: Clock, deadline: float
    ) -> Procedure[OperationRef | None]:
        return (yield from find_go_live_in_flight(
            self.client, publisher_id, offer_id, clock=clock, deadline=deadline
        ))

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
        return (yield from cancel_go_live(
            self.client, publisher_id, offer_id, ref, clock=clock, deadline=deadline,
            on_progress=on_progress,
        ))

    def describe_failure(self, operation: Operation, ref: OperationRef) -> str:
        return describe_failure(operation, ref, what="go-live")

    def close(self) -> None:
        self.client.close()
