"""Product Ingestion routes over real HTTP: lookup, auth, `$version`, `$schema`, error envelope."""

from __future__ import annotations

import uuid

import pytest
import requests

from marketplace_emulator.harness import RunningEmulator
from marketplace_emulator.ingestion_seed import product_guid

from ._ingestion import Ingestion, live_submission, seed_offer
from ._util import OFFER, PUB, frozen


@pytest.fixture
def pi(emulator: RunningEmulator) -> Ingestion:
    frozen(emulator)
    return Ingestion(emulator)


@pytest.mark.parametrize("name", ["externalId", "externalID", "externalid"])
def test_product_by_external_id(emulator: RunningEmulator, pi: Ingestion, name: str) -> None:
    guid = seed_offer(emulator)
    emulator.admin.put_offer(PUB, "other-offer")
    body = pi.ok(pi.get("product", **{name: OFFER.upper()}))
    [product] = body["value"]
    assert product["id"] == f"product/{guid}"
    assert product["identity"] == {"externalId": OFFER}
    assert product["$schema"] == "https://schema.mp.microsoft.com/schema/product/2022-03-01-preview2"
    assert product["type"] == "azureVirtualMachine"
    assert pi.ok(pi.get("product", externalId="nope")) == {"value": []}
    assert len(pi.ok(pi.get("product"))["value"]) == 2


def test_guid_is_deterministic_or_seeded(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    assert guid == product_guid(PUB, OFFER)
    assert guid == str(uuid.uuid5(uuid.UUID("6f1c5a8e-2b47-4f0e-9d0a-5e3c8b7a1d42"),
                                  f"{PUB}/{OFFER}"))
    mine = "aaaaaaaa-0000-0000-0000-000000000001"
    assert seed_offer(emulator, productIngestion={"productGuid": mine.upper()}) == mine
    assert pi.ok(pi.get(f"product/{mine.upper()}"))["id"] == f"product/{mine}"


def test_unknown_ids_are_404_in_the_envelope(emulator: RunningEmulator, pi: Ingestion) -> None:
    seed_offer(emulator)
    missing = str(uuid.uuid4())
    for path in (f"product/{missing}", f"submission/{missing}",
                 f"resource-tree/product/{missing}", f"configure/{missing}/status",
                 f"configure/{missing}", "plan", "nothing/here"):
        r = pi.get(path)
        assert r.status_code == 404, path
        assert set(r.json()["error"]) == {"code", "message", "details"}
        assert r.json()["error"]["code"] == "notFound"


def test_submissions_filter_and_single(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator, state="live")
    live = pi.ok(pi.get(f"submission/{guid}", targetType="live"))["value"]
    assert [s["target"]["targetType"] for s in live] == ["live"]
    assert live[0]["$schema"].endswith("/submission/2022-03-01-preview2")
    assert live[0]["product"] == f"product/{guid}" and live[0]["created"].endswith("Z")
    draft = pi.ok(pi.get(f"submission/{guid}/0"))
    assert draft == {"$schema": live[0]["$schema"], "id": f"submission/{guid}/0",
                     "product": f"product/{guid}", "target": {"targetType": "draft"}}
    assert pi.get(f"submission/{guid}/12345").status_code == 404


def test_resource_tree_carries_the_targets_submission(
    emulator: RunningEmulator, pi: Ingestion
) -> None:
    guid = seed_offer(emulator, state="live")
    for target in ("draft", "preview", "live"):
        tree = pi.ok(pi.get(f"resource-tree/product/{guid}", targetType=target))
        assert tree["root"] == f"product/{guid}" and tree["target"] == {"targetType": target}
        ids = [r["id"].split("/")[0] for r in tree["resources"]]
        assert ids == ["product", "submission"]
        assert tree["resources"][1]["target"] == {"targetType": target}
    assert pi.ok(pi.get(f"resource-tree/product/{guid}"))["target"] == {"targetType": "draft"}
    assert pi.get(f"resource-tree/product/{guid}", targetType="flight").status_code == 400


def test_auth_like_the_cpp_routes(emulator: RunningEmulator) -> None:
    guid = seed_offer(emulator)
    url = f"{emulator.ingestion_base}/product/{guid}"
    bare = requests.get(url, timeout=10)
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "unauthorized"
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    emulator.admin.set_tokens(["rotated"])
    assert Ingestion(emulator, "rotated").get(f"product/{guid}").status_code == 200
    assert Ingestion(emulator).get(f"product/{guid}").status_code == 401


@pytest.mark.parametrize("version", [None, "2022-03-01-preview2", "2022-03-01-preview3",
                                     "2022-03-01-preview5", "2022-07-01"])
def test_known_versions_or_none(emulator: RunningEmulator, pi: Ingestion,
                                version: str | None) -> None:
    guid = seed_offer(emulator)
    params = {} if version is None else {"$version": version}
    assert pi.get(f"product/{guid}", **params).status_code == 200


def test_unknown_version_is_400(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    r = pi.get(f"product/{guid}", **{"$version": "2099-01-01"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "badRequest"
    assert "2099-01-01" in r.json()["error"]["message"]


def test_old_schema_host_is_refused(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    old = "https://product-ingestion.azureedge.net/schema/configure/2022-03-01-preview2"
    r = pi.configure(live_submission(guid, None), schema=old)
    assert r.status_code == 400
    assert r.json() == {"error": {"code": "badRequest",
                                  "message": f"Schema {old} could not be accessed",
                                  "details": []}}
    sub = live_submission(guid, None)
    sub["$schema"] = "https://product-ingestion.azureedge.net/schema/submission/2022-03-01-preview2"
    assert pi.configure(sub).status_code == 400
    assert emulator.admin.ingestion_jobs(guid) == [j for j in emulator.admin.ingestion_jobs(guid)
                                                   if j["internal"]["origin"] == "seed"]


@pytest.mark.parametrize("version", ["2022-03-01-preview2", "2022-03-01-preview3", "2022-07-01"])
def test_configure_schema_versions(emulator: RunningEmulator, pi: Ingestion,
                                   version: str) -> None:
    guid = seed_offer(emulator)
    schema = f"https://schema.mp.microsoft.com/schema/configure/{version}"
    assert pi.configure(live_submission(guid, None), schema=schema).status_code == 202


@pytest.mark.parametrize("body", [
    None, [], {"$schema": "https://schema.mp.microsoft.com/schema/configure/2022-07-01"},
    {"resources": [{}]},
])
def test_bad_configure_bodies(emulator: RunningEmulator, pi: Ingestion, body: object) -> None:
    seed_offer(emulator)
    r = pi.post("configure", body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "badRequest"


def test_bad_submission_ids(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    for bad in ("submission/x", f"submission/{guid}/abc",
                f"submission/{uuid.uuid4()}/1"):
        r = pi.configure(live_submission(guid, bad))
        assert r.status_code == 400, bad
    unknown = live_submission(str(uuid.uuid4()), None)
    assert pi.configure(unknown).status_code == 400


def test_method_not_allowed(emulator: RunningEmulator, pi: Ingestion) -> None:
    guid = seed_offer(emulator)
    r = pi.post(f"product/{guid}", {})
    assert r.status_code == 405 and r.json()["error"]["code"] == "methodNotAllowed"
    assert pi.get("configure").status_code == 405
