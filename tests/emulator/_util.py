"""Small helpers for the emulator tests: an authenticated API session and path builders."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import requests

from marketplace_emulator.harness import API_VERSION, RunningEmulator

PUB = "contoso"
OFFER = "contoso-vm"

# Short steps so lifecycles finish in a few emulated seconds.
FAST = {
    "publishSteps": [
        {"id": "displaydummycertify", "stepName": "Validate Pre-Requisites",
         "estimatedTimeFrame": "< 15 min", "seconds": 10},
        {"id": "displaycertify", "stepName": "Certification",
         "estimatedTimeFrame": "~2-3 days", "seconds": 10},
    ],
    "goLiveSteps": [
        {"id": "live-preparation", "stepName": "Prepare", "estimatedTimeFrame": "< 1 hour",
         "seconds": 10},
        {"id": "live", "stepName": "Live", "estimatedTimeFrame": "~2-5 days", "seconds": 10},
    ],
}


class Api:
    """An authenticated requests session against one emulator."""

    def __init__(self, emu: RunningEmulator, token: str | None = None) -> None:
        self.emu = emu
        self.base = emu.base_url
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {token or emu.token}"

    @staticmethod
    def offer_path(pub: str = PUB, offer: str = OFFER, suffix: str = "") -> str:
        """`/api/publishers/{pub}/offers/{offer}{suffix}`."""
        return f"/api/publishers/{pub}/offers/{offer}{suffix}"

    def get(self, path: str, **params: Any) -> requests.Response:
        """GET with api-version added."""
        params.setdefault("api-version", API_VERSION)
        return self.s.get(self.base + path, params=params, timeout=10)

    def post(self, path: str, json: Any = None, **params: Any) -> requests.Response:
        """POST with api-version added."""
        params.setdefault("api-version", API_VERSION)
        return self.s.post(self.base + path, params=params, json=json, timeout=10)

    def publish(self, pub: str = PUB, offer: str = OFFER, **kw: Any) -> requests.Response:
        """POST publish."""
        return self.post(self.offer_path(pub, offer, "/publish"), **kw)

    def golive(self, pub: str = PUB, offer: str = OFFER) -> requests.Response:
        """POST golive."""
        return self.post(self.offer_path(pub, offer, "/golive"))

    def cancel(self, pub: str = PUB, offer: str = OFFER) -> requests.Response:
        """POST cancel."""
        return self.post(self.offer_path(pub, offer, "/cancel"))

    def status(self, pub: str = PUB, offer: str = OFFER) -> dict[str, Any]:
        """GET offer status (asserting 200)."""
        r = self.get(self.offer_path(pub, offer, "/status"))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def pointer(self, resp: requests.Response) -> str:
        """The absolute URL of the operation a 202 points at (Location or Operation-Location)."""
        loc = resp.headers.get("Location") or resp.headers.get("Operation-Location")
        assert loc, f"no pointer header in {dict(resp.headers)}"
        return urljoin(self.base + "/", loc)

    def follow(self, url: str) -> dict[str, Any]:
        """GET an operation pointer as given (asserting 200)."""
        r = self.s.get(url, timeout=10)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def op(self, resp: requests.Response) -> dict[str, Any]:
        """Follow a 202's pointer."""
        return self.follow(self.pointer(resp))


def step(doc: dict[str, Any], step_id: str) -> dict[str, Any]:
    """The step with this id in an operation/status document."""
    for s in doc["steps"]:
        if s["id"] == step_id:
            result: dict[str, Any] = s
            return result
    raise AssertionError(f"no step {step_id} in {[s['id'] for s in doc['steps']]}")


def frozen(emu: RunningEmulator) -> None:
    """Stop the clock so tests move time only with `advance`."""
    emu.admin.set_clock(0)
