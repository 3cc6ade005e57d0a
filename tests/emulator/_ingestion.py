"""Helpers for the Product Ingestion tests: an authenticated session on `rp/product-ingestion`
and the request bodies real clients send."""

from __future__ import annotations

from typing import Any

import requests

from marketplace_emulator.harness import RunningEmulator

from ._util import FAST, OFFER, PUB

SCHEMA = "https://schema.mp.microsoft.com/schema"
CONFIGURE_SCHEMA = f"{SCHEMA}/configure/2022-03-01-preview2"
SUBMISSION_SCHEMA = f"{SCHEMA}/submission/2022-03-01-preview2"
# Jobs queue 5 s; FAST go-live steps take 20 s; the job ends 10 s before the live submission.
PI = {"jobStartDelaySeconds": 5, "liveLagSeconds": 10}


def seed_offer(emu: RunningEmulator, state: str = "signoff", **extra: Any) -> str:
    """Put the standard offer (FAST steps) and return its product GUID."""
    config: dict[str, Any] = {"state": state, **FAST, "productIngestion": dict(PI)}
    config.update(extra)
    emu.admin.put_offer(PUB, OFFER, **config)
    return emu.admin.product_guid(PUB, OFFER)


class Ingestion:
    """An authenticated session against one emulator's Product Ingestion routes."""

    def __init__(self, emu: RunningEmulator, token: str | None = None) -> None:
        self.emu = emu
        self.base = emu.ingestion_base
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {token or emu.token}"

    def get(self, path: str, **params: Any) -> requests.Response:
        """GET a path relative to the base."""
        return self.s.get(f"{self.base}/{path}", params=params, timeout=10)

    def post(self, path: str, json: Any = None, **params: Any) -> requests.Response:
        """POST a path relative to the base."""
        return self.s.post(f"{self.base}/{path}", params=params, json=json, timeout=10)

    def ok(self, resp: requests.Response, status: int = 200) -> Any:
        """The JSON body, asserting the status."""
        assert resp.status_code == status, resp.text
        return resp.json()

    def submissions(self, guid: str) -> list[dict[str, Any]]:
        """`GET submission/<guid>` values."""
        values: list[dict[str, Any]] = self.ok(self.get(f"submission/{guid}"))["value"]
        return values

    def entries(self, guid: str) -> list[tuple[str, int, str | None, str | None]]:
        """(targetType, number, status, result) of each listed submission."""
        return [
            (s["target"]["targetType"], int(s["id"].rsplit("/", 1)[1]), s.get("status"),
             s.get("result"))
            for s in self.submissions(guid)
        ]

    def preview(self, guid: str) -> dict[str, Any]:
        """The listed preview submission."""
        return next(s for s in self.submissions(guid) if s["target"]["targetType"] == "preview")

    def configure(self, *resources: dict[str, Any], schema: str = CONFIGURE_SCHEMA,
                  **params: Any) -> requests.Response:
        """POST configure with these resources."""
        return self.post("configure", {"$schema": schema, "resources": list(resources)}, **params)

    def go_live(self, guid: str, submission_id: str | None = None) -> dict[str, Any]:
        """Push the listed preview (or `submission_id`) live; the 202's configure-status."""
        sub = live_submission(guid, submission_id or self.preview(guid)["id"])
        body: dict[str, Any] = self.ok(self.configure(sub), 202)
        return body

    def job(self, job_id: str) -> dict[str, Any]:
        """`GET configure/<id>/status`."""
        body: dict[str, Any] = self.ok(self.get(f"configure/{job_id}/status"))
        return body


def live_submission(guid: str, submission_id: str | None) -> dict[str, Any]:
    """The submission resource of a live publish (the docs' shape)."""
    sub: dict[str, Any] = {"$schema": SUBMISSION_SCHEMA, "product": f"product/{guid}",
                           "target": {"targetType": "live"}}
    if submission_id is not None:
        sub["id"] = submission_id
    return sub


def preview_submission(guid: str) -> dict[str, Any]:
    """The submission resource of a preview publish (no id: publish the whole draft)."""
    return {"$schema": SUBMISSION_SCHEMA, "product": f"product/{guid}",
            "target": {"targetType": "preview"}}


def number(submission_id: str) -> int:
    """`submission/<guid>/<n>` → n."""
    return int(submission_id.rsplit("/", 1)[1])
