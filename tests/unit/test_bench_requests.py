"""The pure helpers of the `requests` benchmark: classifying and attributing logged requests,
and the floors it shows."""

from __future__ import annotations

from typing import Any

from bench.requests import (
    ADOPT,
    ATTACH,
    FLOORS,
    FRESH,
    LIST,
    LOOKUP,
    LOST,
    MIN_REQUESTS_PER_GOLIVE,
    OP,
    OTHER,
    PI,
    POST,
    PP,
    REFRESH,
    SECOND_UP,
    attribute,
    backend_of,
    breakdown,
    classify,
    match_configure_posts,
    offer_of,
    sequence,
)

OFFERS = "/api/publishers/bench/offers"
PIB = "/rp/product-ingestion"
GUID = "2de5bef2-e537-51e3-a73b-258f178f04cd"
JOB = "7a1f0c2e-1111-4222-8333-944455556666"


def row(seq: int, method: str, path: str, t: str = "2026-12-01T10:00:00.000000Z",
        query: str = "", applied: bool = True, status: int = 200) -> dict[str, Any]:
    return {"seq": seq, "method": method, "path": path, "query": query, "emulatedTime": t,
            "applied": applied, "status": status, "fault": None}


def test_partner_portal_requests_are_classified_by_what_they_read() -> None:
    assert classify("GET", f"{OFFERS}/o1/submissions/") == LIST
    assert classify("GET", f"{OFFERS}/o1/submissions") == LIST
    assert classify("GET", f"{OFFERS}/o1/status") == LOOKUP
    assert classify("GET", f"{OFFERS}/o1") == LOOKUP
    assert classify("GET", OFFERS) == LOOKUP
    assert classify("POST", f"{OFFERS}/o1/golive") == POST
    assert classify("GET", f"{OFFERS}/o1/operations/abc") == OP
    assert classify("GET", "/api/operations/bench$o1$3$preview") == OP
    assert classify("GET", "/api/operations/bench%24o1%243%24preview") == OP
    assert classify("POST", f"{OFFERS}/o1/cancel") == OTHER
    assert classify("POST", f"{OFFERS}/o1/publish") == OTHER
    assert classify("GET", f"{OFFERS}/o1/slot/Preview") == OTHER


def test_product_ingestion_requests_are_classified_by_what_they_read() -> None:
    assert classify("GET", f"{PIB}/product") == LOOKUP
    assert classify("GET", f"{PIB}/product/{GUID}") == LOOKUP
    assert classify("GET", f"{PIB}/resource-tree/product/{GUID}") == LOOKUP
    assert classify("GET", f"{PIB}/submission/{GUID}") == LIST
    assert classify("GET", f"{PIB}/submission/{GUID}/1152921504606846977") == OP
    assert classify("POST", f"{PIB}/configure") == POST
    assert classify("GET", f"{PIB}/configure/{JOB}/status") == OP
    assert classify("GET", f"{PIB}/configure/{JOB}") == OP
    assert classify("POST", f"{PIB}/configure/{JOB}/cancel") == OTHER
    assert backend_of(f"{PIB}/configure") == PI
    assert backend_of(f"{OFFERS}/o1/status") == PP
    assert backend_of("/_emulator/clock") is None


def test_requests_are_attributed_to_their_offer() -> None:
    guids = {GUID: "o2"}
    jobs = {JOB: "o2"}
    assert offer_of(row(1, "GET", f"{OFFERS}/O1/status"), guids, jobs) == "o1"
    assert offer_of(row(1, "GET", "/api/operations/bench%24o1%243%24preview"), guids, jobs) == "o1"
    assert offer_of(row(1, "GET", f"{PIB}/product", query="externalID=O2&$version=x"),
                    guids, jobs) == "o2"
    assert offer_of(row(1, "GET", f"{PIB}/submission/{GUID}"), guids, jobs) == "o2"
    assert offer_of(row(1, "GET", f"{PIB}/configure/{JOB}/status"), guids, jobs) == "o2"
    assert offer_of(row(1, "GET", f"{PIB}/configure/unknown/status"), guids, jobs) is None
    assert offer_of(row(1, "POST", f"{PIB}/configure"), guids, jobs) is None


def test_configure_posts_go_to_the_job_they_created_one_each() -> None:
    posts = [row(5, "POST", f"{PIB}/configure", t="2026-12-01T10:00:01.000000Z"),
             row(6, "POST", f"{PIB}/configure", t="2026-12-01T10:00:01.000000Z"),
             row(7, "POST", f"{PIB}/configure", t="2026-12-01T10:00:09.000000Z", applied=False)]
    t = 1796119201.0  # 2026-12-01T10:00:01Z
    created = [(t + 0.002, "b"), (t + 0.001, "a"), (t - 30.0, "older")]
    matched = match_configure_posts(posts, created)
    assert sorted(matched.values()) == ["a", "b"]  # one POST per job; the older job is not one
    assert 7 not in matched  # refused before it was applied: it created no job


def test_attribute_groups_rows_and_keeps_the_unclaimed() -> None:
    rows = [row(1, "GET", f"{OFFERS}/o1/submissions"),
            row(2, "GET", f"{PIB}/product", query="externalId=o2"),
            row(3, "POST", f"{PIB}/configure", t="2026-12-01T10:00:01.000000Z"),
            row(4, "GET", f"{PIB}/configure/{JOB}/status"),
            row(5, "GET", "/api/somewhere-else")]
    by_offer, unclaimed = attribute(rows, {GUID: "o2"}, {JOB: "o2"},
                                    [(1796119201.01, "o2")])
    assert [r["seq"] for r in by_offer["o1"]] == [1]
    assert [r["seq"] for r in by_offer["o2"]] == [2, 3, 4]
    assert [r["seq"] for r in unclaimed] == [5]
    assert breakdown(by_offer["o2"]) == {LIST: 0, LOOKUP: 1, POST: 1, OP: 1, OTHER: 0}
    assert sequence(by_offer["o2"])[1].startswith("+1.0s POST post ")


def test_floors() -> None:
    for api in (PP, PI):
        floor = FLOORS[api]
        assert floor.of(FRESH) == 4 == MIN_REQUESTS_PER_GOLIVE[api]
        assert floor.of(ATTACH) == 3
        assert floor.of(ADOPT) == 2
        assert floor.of(LOST) == 5
        assert floor.of(REFRESH) == 2
        assert floor.of(SECOND_UP) == 0
    assert FLOORS[PP].describe() == "list operations + offer status + POST golive + GET operation"
