"""Partner Center Product Ingestion client: products, submissions, configure jobs, go-live.

Knows HTTP and the Product Ingestion API (under Microsoft Graph), nothing of Pulumi. It shares
the HTTPS plumbing, errors, credentials, throttle gate, schedule and waiter of
`partner_portal`; what is its own is the API's routes and bodies and the rules for going live
exactly once through a configure job (`golive`).
"""

from .backend import API, ProductIngestionBackend
from .client import BASE_PATH, DEFAULT_VERSION, IngestionClient
from .models import IngestionSubmission, Job, JobError, Product

__all__ = [
    "API",
    "BASE_PATH",
    "DEFAULT_VERSION",
    "IngestionClient",
    "IngestionSubmission",
    "Job",
    "JobError",
    "Product",
    "ProductIngestionBackend",
]
