"""Partner Center's Product Ingestion API as a `Backend` of `live_offer`.

The offer id is the product's external id; the publisher id only names the resource (the
product is found through the identity's Partner Center account). A go-live started here is
known by its configure job (`operationId` is the job id); one found running, or one whose
request's answer was lost, by its live submission (`submission/<guid>/<n>`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from ..partner_portal.golive import CancelOutcome, GoLiveStart, RetryBudget
from ..partner_portal.models import Operation
from ..partner_portal.pointers import OperationRef
from ..partner_portal.schedule import PollSchedule
from ..partner_portal.throttle import GLOBAL_THROTTLE
from ..partner_portal.waiter import Progress, wait_for_operation
from ..procedure import Clock, Procedure
from . import golive
from .client import IngestionClient
from .models import JOB_ID, Product

API = "productIngestion"


class ProductIngestionBackend:
    """Go-lives are configure jobs that push the preview submission live, then that submission."""

    api = API
    service = golive.SERVICE

    def __init__(self, client: IngestionClient, schedule: PollSchedule = golive.SCHEDULE) -> None:
        self.client = client
        self.schedule = schedule
        self._products: dict[str, Product] = {}
        self._readers: dict[str, golive.GoLiveReader] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ProductIngestionBackend({self.client!r})"

    def _retry(self, clock: Clock, deadline: float | None) -> RetryBudget:
        return RetryBudget(clock, deadline, self.schedule, GLOBAL_THROTTLE, self.client)

    def _product(self, publisher_id: str, offer_id: str, clock: Clock,
                 deadline: float | None) -> Procedure[Product]:
        """The offer's product (cached: a product's durable id never changes)."""
        golive.validate_offer(publisher_id, offer_id)
        key = offer_id.lower()
        with self._lock:
            cached = self._products.get(key)
        if cached is not None:
            return cached
        product = yield from golive.resolve_product(self.client, offer_id,
                                                    self._retry(clock, deadline))
        with self._lock:
            self._products[key] = product
        return product

    def _reader(self, product: Product) -> golive.GoLiveReader:
        with self._lock:
            reader = self._readers.get(product.durable_id)
            if reader is None:
                reader = self._readers[product.durable_id] = golive.GoLiveReader(
                    self.client, product)
            return reader

    def operation_ref(self, publisher_id: str, offer_id: str, operation_id: str) -> OperationRef:
        golive.validate_offer(publisher_id, offer_id)
        if JOB_ID.fullmatch(operation_id):
            return self.client.job_ref(operation_id)
        return self.client.submission_ref(operation_id)

    def check_offer(
        self, publisher_id: str, offer_id: str, *, clock: Clock, deadline: float
    ) -> Procedure[None]:
        # Not cached: this is the "does the offer still exist" question.
        golive.validate_offer(publisher_id, offer_id)
        product = yield from golive.resolve_product(self.client, offer_id,
                                                    self._retry(clock, deadline))
        with self._lock:
            self._products[offer_id.lower()] = product

    def read_operation(
        self, publisher_id: str, offer_id: str, ref: OperationRef, *, clock: Clock,
        deadline: float,
    ) -> Procedure[Operation]:
        product = yield from self._product(publisher_id, offer_id, clock, deadline)
        reader = self._reader(product)
        op: Operation
        op, _ = yield from golive.retrying(
            lambda: reader.get_operation(ref), self._retry(clock, deadline),
            f"reading go-live {ref.operation_id}",
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
        product = yield from self._product(publisher_id, offer_id, clock, deadline)
        return (yield from wait_for_operation(
            self._reader(product), ref, clock=clock, deadline=deadline, on_progress=on_progress,
            schedule=self.schedule, what="go-live", service=golive.SERVICE,
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
        product = yield from self._product(publisher_id, offer_id, clock, deadline)
        start: GoLiveStart = yield from golive.start_go_live(
            self.client, product, clock=clock, deadline=deadline, on_progress=on_progress,
            on_submit=on_submit, schedule=self.schedule,
        )
        if start.posted and start.ref is not None and start.submission_id is not None:
            # Our configure request named what it pushes: no need to ask the job's detail.
            self._reader(product).pushes(start.ref.operation_id, start.submission_id)
        return start

    def find_latest_go_live(
        self, publisher_id: str, offer_id: str, *, clock: Clock, deadline: float
    ) -> Procedure[OperationRef | None]:
        product = yield from self._product(publisher_id, offer_id, clock, deadline)
        return (yield from golive.find_latest_go_live(self.client, product,
                                                      self._retry(clock, deadline)))

    def find_go_live_since(
        self,
        publisher_id: str,
        offer_id: str,
        since: datetime | None,
        *,
        clock: Clock,
        deadline: float,
    ) -> Procedure[OperationRef | None]:
        product = yield from self._product(publisher_id, offer_id, clock, deadline)
        return (yield from golive.find_go_live_since(self.client, product, since,
                                                     self._retry(clock, deadline)))

    def find_go_live_in_flight(
        self, publisher_id: str, offer_id: str, *, clock: Clock, deadline: float
    ) -> Procedure[OperationRef | None]:
        product = yield from self._product(publisher_id, offer_id, clock, deadline)
        return (yield from golive.find_go_live_in_flight(self.client, product,
                                                         self._retry(clock, deadline)))

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
        product = yield from self._product(publisher_id, offer_id, clock, deadline)
        return (yield from golive.cancel_go_live(
            self.client, self._reader(product), ref, clock=clock, deadline=deadline,
            on_progress=on_progress, schedule=self.schedule,
        ))

    def describe_failure(self, operation: Operation, ref: OperationRef) -> str:
        return golive.describe(operation, ref)

    def close(self) -> None:
        self.client.close()
