"""Chaos runs: seeded create/update/refresh/destroy through both providers while things break.

Each run gets its own emulator *process* (state file on disk), its own engine double, one
provider flavour (`dynamic` or `plugin`, alternating by seed) and one marketplace API
(`marketplace:api`): the Cloud Partner Portal API, described here, or Partner Center's Product
Ingestion API (`--api`; both by default, alternating runs). What depends on the API (how
go-lives are counted from the request log and the admin API, which requests faults target, how
a new publish, a broken publish and a cancel in the portal are made, what the offer's latest
go-live and its status are, the stack config) is behind `ApiHooks`: `PartnerPortalHooks` below,
`ProductIngestionHooks` in chaos_ingestion.py, whose doc says what each invariant, fault,
disruption and episode means there and which are replaced or left out. Every "chaos" command
runs while
the emulator injects random faults (5xx, resets, 429 storms, dropped answers, delays, go-live
POSTs answered only after the client's read timeout and applied late, malformed JSON, missing
pointers, odd Retry-After) and, on some commands, one disruption: the emulator restarted
mid-operation (SIGTERM or SIGKILL; the state file and request log survive), the provider process
SIGKILLed mid-wait (the next command starts a new one), the CLI killed mid-operation (a pending
create is left in state), Cancel (Ctrl-C) while the go-live POST is in flight (plugin), or
someone else cancelling the go-live in the portal, or an Azure AD outage mid-wait (such runs get
their tokens from a managed identity endpoint on loopback, tokens living 2 s, and the endpoint
answers 503 for a few seconds). Each chaos command is followed, with faults and throttling off,
by a command that must converge.

Between commands a run may also: change the endpoint's spelling (127.0.0.1 <-> localhost), fail
or cancel a publish before new triggers (the up must fail with nothing sent), and rename or
replace the resource while its go-live runs (the old half's delete must not cancel it, even with
cancelOnDestroy).

Invariants, checked after every command:

- **one go-live per intent**: an intent is a create of the offer while it waits at publisher
  sign-off, or a change of `triggers` after a new publish (plus, after a destroy that cancelled
  a go-live in flight, the final create). We count *started* go-live POSTs in the emulator's
  request log: method POST, path `.../offers/{offer}/golive`, `applied: true` and status 202
  or no status at all (a `drop` fault: applied, then the answer was lost). The count never
  exceeds the intents so far and equals them after every converging `up`; the emulator's list
  of go-live operations must agree. Go-live POSTs that reached the API and were refused (4xx)
  are counted separately and reported (with delays below the read timeout there are none).
- **state names the operation**: every operation id in state is a go-live of that offer in the
  emulator (state may name none only with status `unknown`: a POST whose answer was lost), and
  state never claims an end (succeeded/failed/canceled) the portal does not report; after a
  plugin create/update that failed once a go-live had started, state records that go-live
  (partial state); after every converging `up` state names the offer's latest go-live, with the
  portal's status, and no pending operation is left.
- **no crash, no hang**: no error outside the provider's own error types (see `support`), no
  provider that dies unless we killed it, no connection attempt outside loopback (the network
  guard), every command finishes within HANG_LIMIT seconds and every provider stops on the
  engine's SIGINT without needing SIGKILL.

Faults and disruptions are drawn from the run's seed; on top of that, run i is guaranteed fault
kind i mod 9 and disruption i mod 8 on its create, and episode i mod 5 (full profile), so any
ten consecutive runs cover every fault kind, disruption and episode (counting the runs of one
API: with both APIs the n-th run of each gets its n-th kind, disruption and episode; Product
Ingestion has 8 of each, so eight of its runs cover them). A run's draws depend only on its
seed and API. Runs are independent (own emulator process, own engine double and provider
processes) and run `--workers` at a time; most of their time is the client's own backoff (Product
Ingestion's polls start at 10 s and never come closer than 5 s, as Microsoft asks, so its runs
take about twice as long).

Run `python -m tests.faults.chaos --help`; `make chaos` runs the full set, `make test` a bounded
one per API (tests/faults/test_chaos.py). The summary line counts runs per flavour, runs and
violations per API, faults that fired by kind (from the emulator's request log), disruptions and
episodes, restarts, kills, intents, started go-live POSTs and violations.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import requests

from marketplace_emulator.harness import EmulatorProcess
from tests.enginedouble import CommandResult, EngineDouble, ProviderProcess, StackState
from tests.fake_identity import FakeManagedIdentity
from tests.faults.support import crashes, guarded_env
from tests.lifecycle.support import Flavour, engine

T = TypeVar("T")

PUBLISHER = "contoso"
OFFER = "chaos-vm"
TOKEN = "chaos-token"  # a test token for the local emulator
SCALE = 20.0  # emulated seconds per real second
WAIT_SECONDS = 40.0  # the resource's waitTimeoutSeconds: bounds every wait in a run
READ_TIMEOUT = 2.0  # the providers' read timeout here; "late" POSTs are answered after it
# A chain of faults on one request can legitimately add up to minutes of backoff (2, 4, 8, 16,
# 32, 60 s...), and a dynamic-host Delete waits for the cancelled go-live with no deadline of its
# own; so an RPC is only called hung after RPC_DEADLINE, and a command after HANG_LIMIT.
RPC_DEADLINE = 300.0
HANG_LIMIT = 330.0
# The engine's SIGINT-then-SIGKILL on close: generous, as eight runs share two cores.
CLOSE_GRACE = 10.0
API = {"api-version": "2017-10-31"}
FAULT_KINDS = (
    "5xx", "429", "reset", "drop", "delay", "malformed", "nopointer", "retryafter", "late",
)
DISRUPTIONS = (
    "emulator-restart", "emulator-kill", "provider-kill", "cli-kill", "throttle",
    "cancel-during-post", "portal-cancel", "aad-outage",
)
AAD_TOKEN_SECONDS = 2  # managed identity tokens that expire mid-wait, so an outage bites
EPISODES = ("endpoint-change", "failed-publish", "canceled-publish", "rename", "replace")
# The marketplace APIs a run can drive (`marketplace:api`); FAULT_KINDS, DISRUPTIONS and EPISODES
# above are the Cloud Partner Portal's, tests/faults/chaos_ingestion.py has Product Ingestion's.
CPP = "cloudPartnerPortal"
PI = "productIngestion"
APIS = (CPP, PI)
API_SHORT = {CPP: "cpp", PI: "pi"}
ALL_FAULT_KINDS = FAULT_KINDS  # every kind any API uses, in report order


# --------------------------------------------------------------------------------------------
# reports


@dataclass
class RunReport:
    """What one seeded run did and found."""

    seed: int
    flavour: str
    profile: str
    seconds: float = 0.0
    commands: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    restarts: int = 0
    kills: int = 0
    terminates: int = 0
    episodes: Counter[str] = field(default_factory=Counter)
    intents: int = 0
    started: int = 0
    refused: int = 0
    violations: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    api: str = CPP

    def line(self) -> str:
        faults = " ".join(f"{k}={self.faults[k]}" for k in ALL_FAULT_KINDS if self.faults[k])
        verdict = "ok" if not self.violations else f"{len(self.violations)} VIOLATION(S)"
        return (
            f"run seed={self.seed} {API_SHORT[self.api]} {self.flavour:7} {self.profile} "
            f"{self.seconds:5.1f}s "
            f"commands={self.commands} intents={self.intents} started={self.started} "
            f"refused={self.refused} restarts={self.restarts} kills={self.kills} "
            f"terminates={self.terminates} faults[{faults}] {verdict}"
        )


@dataclass
class Summary:
    """Totals over many runs; `line()` is the summary printed at the end."""

    reports: list[RunReport]
    seconds: float

    def total(self, name: str) -> int:
        return sum(int(getattr(r, name)) for r in self.reports)

    @property
    def faults(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for r in self.reports:
            out.update(r.faults)
        return out

    @property
    def violations(self) -> list[str]:
        return [f"seed {r.seed} ({API_SHORT[r.api]} {r.flavour}): {v}"
                for r in self.reports for v in r.violations]

    def line(self) -> str:
        by_flavour = Counter(r.flavour for r in self.reports)
        faults = self.faults
        episodes: Counter[str] = Counter()
        for r in self.reports:
            episodes.update(r.episodes)
        apis = [a for a in APIS if any(r.api == a for r in self.reports)]
        kinds = [k for k in ALL_FAULT_KINDS if any(k in hooks_class(a).fault_kinds for a in apis)]
        shown = [k for a in apis for k in (*hooks_class(a).disruptions[5:],
                                           *hooks_class(a).episodes)]
        per_api = "; ".join(
            f"{a} {sum(1 for r in self.reports if r.api == a)} runs, "
            f"{sum(len(r.violations) for r in self.reports if r.api == a)} violations"
            for a in apis
        )
        return (
            f"chaos: {len(self.reports)} runs ({by_flavour['dynamic']} dynamic, "
            f"{by_flavour['plugin']} plugin; {per_api}) in {self.seconds:.0f} s, "
            f"{self.total('commands')} commands; faults fired {sum(faults.values())} ("
            + ", ".join(f"{k} {faults[k]}" for k in kinds)
            + "); disruptions and episodes ("
            + ", ".join(f"{k} {episodes[k]}" for k in dict.fromkeys(shown))
            + f"); emulator restarts {self.total('restarts')}, provider kills "
            f"{self.total('kills')}, CLI kills {self.total('terminates')}; intents "
            f"{self.total('intents')}, go-live POSTs started {self.total('started')}, refused "
            f"{self.total('refused')}; violations {len(self.violations)}"
        )


# --------------------------------------------------------------------------------------------
# what a run asks of the API it drives


def find_operation(
    operations: list[dict[str, Any]], operation_id: str, offer: str = OFFER
) -> dict[str, Any] | None:
    """The emulator operation an id names: its GUID, or the non-migrated pointer's opaque id
    `{publisher}${offer}${publishingVersion}${slot}` (both case-insensitive)."""
    wanted = operation_id.lower()
    parts = wanted.split("$")
    for op in operations:
        if str(op.get("id", "")).lower() == wanted:
            return op
        if (
            len(parts) == 4
            and parts[:2] == [PUBLISHER, offer.lower()]
            and parts[2] == str(op.get("publishingVersion"))
        ):
            return op
    return None


class _Violation(Exception):
    pass


class ApiHooks:
    """What one run does and reads that depends on the marketplace API it drives.

    `ChaosRun` is the same for every API: commands, disruptions, the invariants. A subclass per
    API says how its go-lives are counted (request log and admin API), which requests faults
    target, how a new publish, a broken publish and a portal-side cancel are made, and what "the
    offer's latest go-live" and its status are. A go-live is a dict with at least `id` and
    `status` (the provider's vocabulary: notStarted, running, succeeded, failed, canceled).
    """

    api = CPP
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    disruptions: tuple[str, ...] = DISRUPTIONS
    episodes: tuple[str, ...] = EPISODES
    post_path = "/golive$"  # the go-live POST, as a request-log/fault path regex

    def __init__(self, run: ChaosRun) -> None:
        self.run = run

    @property
    def emu(self) -> EmulatorProcess:
        return self.run.emu

    def admin(self, fn: Callable[[], T], timeout: float = 20.0) -> T:
        return self.run.admin(fn, timeout)

    def add_fault(self, kind: str, path: str, method: str, **kw: Any) -> None:
        self.run.add_fault(kind, path, method, **kw)

    def configure(self, eng: EngineDouble) -> None:
        """Stack config of this API (the endpoint is set by the run)."""

    def seed_offer(self) -> None:
        raise NotImplementedError

    def go_lives(self) -> list[dict[str, Any]]:
        """The offer's go-lives, oldest first; the last one is "the offer's latest go-live"."""
        raise NotImplementedError

    def find_operation(
        self, go_lives: list[dict[str, Any]], operation_id: str
    ) -> dict[str, Any] | None:
        """The go-live an operation id recorded in state names, if it is one of `go_lives`."""
        raise NotImplementedError

    def golive_posts(self) -> tuple[int, int]:
        """(started, refused) go-live POSTs in the request log."""
        raise NotImplementedError

    def operations_started(self, go_lives: list[dict[str, Any]]) -> int:
        """How many go-lives the emulator says were started: must equal the started POSTs."""
        return len(go_lives)

    def cancel_posts(self) -> int:
        """Cancel requests the providers sent."""
        raise NotImplementedError

    def inject_forced_fault(self, kind: str) -> None:
        raise NotImplementedError

    def inject_faults(self) -> None:
        raise NotImplementedError

    def fault_kind(self, row: dict[str, Any]) -> str | None:
        """The fault kind a request-log row counts as (None: no fault)."""
        kind = row.get("fault")
        if not kind:
            return None
        if kind == "status":
            kind = "429" if row.get("status") == 429 else "5xx"
        elif kind == "throttle":
            kind = "429"
        elif kind == "delay" and row.get("method") == "POST" and re.search(
            self.post_path, str(row.get("path", "")).rstrip("/")
        ):
            kind = "late"
        return str(kind)

    def portal_cancel(self) -> str:
        """Someone cancels the go-live in the portal; returns what happened, for the events."""
        raise NotImplementedError

    def after_command(self, result: CommandResult | None) -> None:
        """Account for go-lives the harness ended (cancel in the portal, a failure it armed)."""
        raise NotImplementedError

    def before_update(self) -> None:
        """Episodes before the update's new publish (run.episode draws them)."""
        raise NotImplementedError

    def publish_new(self) -> None:
        """A new version is ready to go live (harness step, faults off)."""
        raise NotImplementedError

    def draw_move(self) -> str | None:
        """Rename or replace the resource while its go-live runs (or neither)."""
        run = self.run
        return next((m for m in ("rename", "replace") if run.episode(m, 0.2)), None)

    def may_cancel_in_flight(self) -> bool:
        return True

    def hold_go_live(self) -> None:
        """Make the update's go-live last, so the destroy meets it running."""
        raise NotImplementedError

    def before_destroy(self) -> None:
        """Note what the destroy's checks need."""

    def check_after_destroy(self, latest: dict[str, Any]) -> None:
        """The go-live the update left running was cancelled (or had ended); restore timings.
        A canceled go-live is one more intent: the final up sends the offer live again."""
        raise NotImplementedError


class PartnerPortalHooks(ApiHooks):
    """The Cloud Partner Portal API (`/api/publishers/.../offers/...`), the default."""

    def go_lives(self) -> list[dict[str, Any]]:
        ops = self.admin(lambda: self.emu.admin.operations(PUBLISHER, OFFER))
        return [op for op in ops if op.get("submissionType") == "goLive"]

    def find_operation(
        self, go_lives: list[dict[str, Any]], operation_id: str
    ) -> dict[str, Any] | None:
        return find_operation(go_lives, operation_id)

    def golive_posts(self) -> tuple[int, int]:
        """(started, refused) go-live POSTs in the request log, as the module doc defines."""
        wanted = f"/api/publishers/{PUBLISHER}/offers/{OFFER}/golive".lower()
        rows = self.admin(lambda: self.emu.admin.requests(method="POST", path="golive"))
        outcomes = Counter(
            post_outcome(row) for row in rows
            if unquote(row["path"]).rstrip("/").lower() == wanted
        )
        return outcomes["started"], outcomes["refused"]

    def cancel_posts(self) -> int:
        return self.admin(lambda: self.emu.admin.posts(PUBLISHER, OFFER, "cancel"))

    def inject_forced_fault(self, kind: str) -> None:
        """One fault of `kind` on a request the create surely makes (its first listing, or the
        go-live POST for `nopointer`)."""
        if kind == "nopointer":
            self.add_fault("nopointer", "/golive$", "POST")
        elif kind == "late":
            self.add_fault("delay", "/golive$", "POST", delay=READ_TIMEOUT + 1.5)
        elif kind in ("5xx", "429"):
            self.add_fault("status", "/submissions", "GET", status=503 if kind == "5xx" else 429,
                           retry_after="1" if kind == "429" else None)
        elif kind == "delay":
            self.add_fault("delay", "/submissions", "GET", delay=1.0)
        elif kind == "retryafter":
            self.add_fault("retryafter", "/submissions", "GET", retry_after="1")
        else:
            self.add_fault(kind, "/submissions", "GET")

    def inject_faults(self) -> None:
        run = self.run
        rng = run.rng
        paths = [
            ("POST", "/golive$"),
            ("GET", "/submissions"),
            ("GET", "/operations/"),
            ("GET", "/status$"),
            ("*", "/api/"),
            ("POST", "/cancel$"),
        ]
        for _ in range(rng.randint(1, run.max_faults)):
            method, path = rng.choice(paths)
            kind = rng.choice(
                ["5xx", "5xx", "429", "reset", "drop", "delay", "malformed", "nopointer",
                 "retryafter", "late"]
            )
            times = rng.randint(1, 2)
            skip = rng.randint(0, 3)
            if kind == "5xx":
                status = rng.choice([500, 502, 503, 504])
                self.add_fault("status", path, method, status=status, times=times, skip=skip)
            elif kind == "429":  # a storm: several refusals in a row
                ra = rng.choice([None, "1", "2", "0", http_date(1.5), "soon"])
                self.add_fault("status", path, method, status=429, retry_after=ra,
                               times=rng.randint(2, run.max_storm), skip=skip)
            elif kind == "delay":
                delay = round(rng.uniform(0.2, READ_TIMEOUT * 0.8), 2)  # below the read timeout
                if path == "/golive$":
                    path = "/submissions"  # a delayed go-live POST is counted as "late"
                self.add_fault("delay", path, method, delay=delay, times=times, skip=skip)
            elif kind == "late":  # answered after the read timeout, applied late
                delay = round(rng.uniform(READ_TIMEOUT + 0.5, READ_TIMEOUT + 3.0), 2)
                self.add_fault("delay", "/golive$", "POST", delay=delay, times=1)
            elif kind == "nopointer":
                self.add_fault("nopointer", "/golive$|/cancel$", "POST", times=1)
            elif kind == "retryafter":
                ra = rng.choice(["1", "2", http_date(1.0), "1.5"])
                self.add_fault("retryafter", "/operations/|/submissions", "GET",
                               retry_after=ra, times=times)
            else:  # reset, drop, malformed
                self.add_fault(kind, path, method, times=times, skip=skip)

    def portal_cancel(self) -> str:
        # Someone cancels the go-live in Partner Center: the up fails with the portal's
        # words and the next up sends it again (one more intent).
        url = f"{self.emu.base_url}/api/publishers/{PUBLISHER}/offers/{OFFER}/cancel"
        answer = self.admin(lambda: requests.post(
            url, params=API, headers={"Authorization": f"Bearer {TOKEN}"},
            json={"metadata": {}}, timeout=10,
        ))
        return f"portal-cancel answered {answer.status_code}"

    def after_command(self, result: CommandResult | None) -> None:
        run = self.run
        if run.portal_cancelled:
            run.portal_cancelled = False
            go_lives = run.go_lives()
            if go_lives and go_lives[-1].get("status") == "canceled":
                run.report.intents += 1  # the next up sends the canceled go-live again
                result_failed = result.failed if result is not None else True
                if not result_failed:
                    # Cancelled after the command returned (waitForCompletion false): the next
                    # up resumes the recorded go-live, finds it canceled and fails with the
                    # portal's words; the up after sends it again.
                    run.sees_end = SEES_CANCEL

    def before_update(self) -> None:
        # A publish fails or is canceled first: new triggers must fail, send nothing.
        for broken in ("failed-publish", "canceled-publish"):
            if self.run.episode(broken, 0.2):
                self.broken_publish(broken)
                break

    def publish_new(self) -> None:
        """A new version reaches publisher sign-off (harness step, faults off)."""
        run = self.run
        run.calm()
        url = f"{self.emu.base_url}/api/publishers/{PUBLISHER}/offers/{OFFER}/publish"
        answer = self.admin(lambda: requests.post(
            url, params=API, headers={"Authorization": f"Bearer {TOKEN}"},
            json={"metadata": {}}, timeout=10,
        ))
        if answer.status_code != 202:
            raise _Violation(f"harness: publish answered {answer.status_code}: {answer.text}")
        deadline = time.monotonic() + 60
        while self.admin(lambda: self.emu.admin.get_offer(PUBLISHER, OFFER))["status"] != (
            "waitingForPublisherReview"
        ):
            if time.monotonic() > deadline:
                raise _Violation("harness: the publish did not reach sign-off")
            time.sleep(0.1)

    def hold_go_live(self) -> None:
        self.admin(lambda: self.emu.admin.patch_offer(
            PUBLISHER, OFFER,
            goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 4000}],
        ))

    def check_after_destroy(self, latest: dict[str, Any]) -> None:
        run = self.run
        if latest["status"] not in ("canceled", "succeeded"):
            run.violation(f"destroy: the go-live in flight ended {latest['status']}")
        if latest["status"] == "canceled":
            run.report.intents += 1  # the final up sends the offer live again
        self.admin(lambda: self.emu.admin.patch_offer(
            PUBLISHER, OFFER,
            goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 30}],
        ))

    def broken_publish(self, kind: str) -> None:
        """A publish fails (or someone cancels it); `up` with new triggers must fail with the
        portal's words and start nothing."""
        run = self.run
        run.calm()
        # A publish long enough to be caught running (restored before the next publish).
        self.admin(lambda: self.emu.admin.patch_offer(
            PUBLISHER, OFFER, publishSteps=[{"id": "displaycertify", "seconds": 60}],
        ))
        if kind == "failed-publish":
            self.admin(lambda: self.emu.admin.patch_offer(
                PUBLISHER, OFFER,
                publishOutcome={"result": "fail", "messages": ["Chaos: certification failed."],
                                "times": 1},
            ))
        base = f"{self.emu.base_url}/api/publishers/{PUBLISHER}/offers/{OFFER}"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        answer = self.admin(lambda: requests.post(
            f"{base}/publish", params=API, headers=headers, json={"metadata": {}}, timeout=10,
        ))
        if answer.status_code != 202:
            raise _Violation(f"harness: publish answered {answer.status_code}: {answer.text}")
        if kind == "canceled-publish":
            cancel = self.admin(lambda: requests.post(
                f"{base}/cancel", params=API, headers=headers, json={"metadata": {}},
                timeout=10,
            ))
            if cancel.status_code not in (200, 202):
                raise _Violation(f"harness: cancel answered {cancel.status_code}: {cancel.text}")
        wanted = "failed" if kind == "failed-publish" else "canceled"
        self.admin(lambda: self.emu.admin.patch_offer(
            PUBLISHER, OFFER, publishSteps=[{"id": "displaycertify", "seconds": 6}],
        ))
        deadline = time.monotonic() + 60
        while self.admin(lambda: self.emu.admin.get_offer(PUBLISHER, OFFER))["status"] != wanted:
            if time.monotonic() > deadline:
                raise _Violation(f"harness: the publish did not end {wanted}")
            time.sleep(0.1)
        run.report.episodes[kind] += 1
        run.broken_up(kind, f"the publish {wanted}", expect_failure=True)

    def seed_offer(self) -> None:
        run = self.run
        rng = run.rng
        long_go_live = rng.random() < 0.5 or run.forced_disruption is not None
        total = rng.uniform(60, 140) if long_go_live else rng.uniform(20, 60)
        steps = [
            {"id": "live-preparation", "stepName": "Live preparation", "seconds": total / 3},
            {"id": "live", "stepName": "Live", "seconds": total * 2 / 3},
        ]
        config: dict[str, Any] = {
            "state": "signoff",
            "pointer": rng.choice(["migrated", "nonMigrated", "absolute"]),
            "goLiveSteps": steps,
            "publishSteps": [{"id": "displaycertify", "seconds": 6}],
            "stepEstimates": rng.random() < 0.5,
            "cancelMode": rng.choice(["sync", "async"]),
            "cancelSeconds": 10,
        }
        if rng.random() < 0.2:
            config["pollRetryAfter"] = 1
        self.admin(lambda: self.emu.admin.put_offer(PUBLISHER, OFFER, **config))
        run.report.events.append(
            f"offer pointer={config['pointer']} go-live={total:.0f}s "
            f"estimates={config['stepEstimates']} cancel={config['cancelMode']}"
        )


def post_outcome(row: dict[str, Any]) -> str | None:
    """What a go-live POST in the request log did: `started` (applied, answered 202 or not at
    all), `refused` (applied, answered otherwise) or None (it never reached the API)."""
    if not row.get("applied"):
        return None
    return "started" if row.get("status") in (202, None) else "refused"


def hooks_class(api: str) -> type[ApiHooks]:
    """The hooks of `api` (cloudPartnerPortal or productIngestion)."""
    if api == CPP:
        return PartnerPortalHooks
    if api == PI:
        from tests.faults.chaos_ingestion import ProductIngestionHooks

        return ProductIngestionHooks
    raise ValueError(f"unknown api {api!r}: one of {', '.join(APIS)}")


def http_date(ahead: float) -> str:
    return formatdate(time.time() + ahead, usegmt=True)


@dataclass(frozen=True)
class SeesEnd:
    """The next converging up must fail saying the recorded go-live ended this way."""

    label: str  # suffix of the command's label
    words: str  # in the error
    missing: str  # the violation when it does not say so


SEES_CANCEL = SeesEnd("sees-cancel", "was canceled",
                      "a go-live canceled in the portal was not reported")


# --------------------------------------------------------------------------------------------
# one run


@dataclass
class _Disruption:
    kind: str  # emulator-restart | emulator-kill | provider-kill | cli-kill | throttle
    after_post: bool  # wait for a go-live POST first (mid-wait); else a random delay
    delay: float


class ChaosRun:
    """One seeded run against one emulator process, one provider flavour and one API."""

    def __init__(
        self,
        seed: int,
        flavour: str,
        profile: str,
        root: Path,
        *,
        forced_fault: str | None = None,
        forced_disruption: str | None = None,
        forced_episode: str | None = None,
        max_faults: int = 5,
        max_storm: int = 4,
        api: str = CPP,
    ) -> None:
        """`forced_*`: the create command surely meets this fault kind / disruption (so a
        handful of runs covers every kind); everything else is drawn from the seed.
        `max_faults` bounds the random faults per chaos command, `max_storm` the 429s in a
        row of one storm (each consecutive failure doubles the client's backoff)."""
        self.seed = seed
        self.max_faults = max(1, max_faults)
        self.max_storm = max(2, max_storm)
        self.forced_fault = forced_fault
        self.forced_disruption = forced_disruption
        self.forced_episode = forced_episode
        self.rng = random.Random(seed)
        self.flavour = Flavour(flavour)
        self.profile = profile
        self.hooks = hooks_class(api)(self)
        suffix = "" if api == CPP else f"-{API_SHORT[api]}"
        self.dir = root / f"run-{seed:05d}-{flavour}{suffix}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.report = RunReport(seed, flavour, profile, api=api)
        self.emu = EmulatorProcess(
            state_file=self.dir / "emulator-state.json",
            time_scale=SCALE,
            tokens=(TOKEN,),
            log_level="WARNING",
        )
        self.eng: EngineDouble | None = None
        self.triggers = "v1"
        self.wait = True
        self.name = "live"
        self.offer = OFFER  # the offerId as the program spells it (a case change replaces)
        self.cancel_on_destroy = False
        self.launched: list[ProviderProcess] = []
        self.killed: set[int] = set()
        self.pending_allowed = False
        self.portal_cancelled = False
        self.sees_end: SeesEnd | None = None
        # Runs meant for an Azure AD outage take their tokens from a managed identity endpoint.
        self.identity: FakeManagedIdentity | None = None
        if forced_disruption == "aad-outage":
            self.identity = FakeManagedIdentity([TOKEN])
            self.identity.behaviour.expires_in = AAD_TOKEN_SECONDS

    # -- plumbing -------------------------------------------------------------------------

    def admin(self, fn: Callable[[], T], timeout: float = 20.0) -> T:
        """An admin call that rides out an emulator restart."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return fn()
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def violation(self, text: str) -> None:
        self.report.violations.append(text)

    def program(self) -> list[Any]:
        return [
            self.flavour.resource(
                self.name,
                publisherId=PUBLISHER,
                offerId=self.offer,
                triggers=[self.triggers],
                waitForCompletion=self.wait,
                waitTimeoutSeconds=WAIT_SECONDS,
                cancelOnDestroy=self.cancel_on_destroy,
            )
        ]

    def go_lives(self) -> list[dict[str, Any]]:
        return self.hooks.go_lives()

    def golive_posts(self) -> tuple[int, int]:
        """(started, refused) go-live POSTs in the request log, as the module doc defines."""
        return self.hooks.golive_posts()

    def publish_to_signoff(self) -> None:
        """A new version is ready to go live (harness step, faults off)."""
        self.hooks.publish_new()

    def calm(self) -> None:
        """Faults and throttling off (for converging commands and harness steps)."""
        self.admin(self.emu.admin.clear_faults)
        self.admin(lambda: self.emu.admin.set_throttle(None))

    def start_engine(self) -> EngineDouble:
        extra = {"MARKETPLACE_READ_TIMEOUT_SECONDS": f"{READ_TIMEOUT:g}"}
        if self.identity is not None:
            extra.update(self.identity.env, MARKETPLACE_USE_DEFAULT_CREDENTIAL="true")
        eng = engine(
            self.flavour,
            self.emu.running(),
            self.dir,
            extra_env=guarded_env(**extra),
        )
        eng.config["marketplace:endpoint"] = self.emu.base_url
        if self.identity is not None:
            eng.config.pop("marketplace:accessToken", None)
        self.hooks.configure(eng)
        eng.rpc_deadline = RPC_DEADLINE
        eng.close_grace = CLOSE_GRACE

        def launched(proc: ProviderProcess) -> None:
            self.launched.append(proc)

        eng.on_launch = launched
        return eng

    # -- faults and disruptions -----------------------------------------------------------

    def add_fault(self, kind: str, path: str, method: str, **kw: Any) -> None:
        self.admin(lambda: self.emu.admin.add_fault(kind, path, method, **kw))

    def pick_disruption(
        self, allowed: tuple[str, ...], forced: str | None = None
    ) -> _Disruption | None:
        rng = self.rng
        if forced is not None and forced in allowed:
            return _Disruption(forced, forced != "throttle", rng.uniform(0.0, 0.5))
        if not allowed or rng.random() < 0.3:
            return None
        kind = rng.choice(allowed)
        after_post = kind in ("provider-kill", "cli-kill") or rng.random() < 0.5
        return _Disruption(kind, after_post, rng.uniform(0.0, 0.8 if after_post else 1.5))

    def _wait_for_post(self, since: int, done: threading.Event, *, applied: bool = True) -> bool:
        path = self.hooks.post_path
        while not done.is_set():
            with contextlib.suppress(Exception):
                rows = self.emu.admin.requests(method="POST", path=path, since=since)
                if any(r.get("applied") or not applied for r in rows):
                    return True
            time.sleep(0.02)
        return False

    def disrupt(self, d: _Disruption, since: int, done: threading.Event) -> None:
        """Fire one disruption while the command runs (skipped if it ends first)."""
        if d.kind == "cancel-during-post":
            # The POST is held by a delay fault (below the read timeout): Cancel lands mid-POST.
            if not self._wait_for_post(since, done, applied=False):
                return
            time.sleep(0.2)
            eng = self.eng
            assert eng is not None
            self.report.episodes[d.kind] += 1
            self.report.events.append("cancel during the go-live POST")
            eng.cancel()
            return
        if d.after_post and not self._wait_for_post(since, done):
            return
        if done.wait(d.delay):
            return
        eng = self.eng
        assert eng is not None
        if d.kind in ("emulator-restart", "emulator-kill"):
            port = self.emu.port
            self.emu.restart(same_port=True, kill=d.kind == "emulator-kill")
            self.report.restarts += 1
            self.report.events.append(f"{d.kind} (port {port} -> {self.emu.port})")
            if self.emu.port != port:
                # The in-flight command cannot find the portal again: end it, as a user would.
                eng.config["marketplace:endpoint"] = self.emu.base_url
                self._kill_provider(eng)
        elif d.kind == "provider-kill":
            self._kill_provider(eng)
        elif d.kind == "cli-kill":
            self.report.terminates += 1
            self.report.events.append("cli-kill")
            self.pending_allowed = True
            eng.terminate()
        elif d.kind == "portal-cancel":
            # Someone cancels the go-live in the portal: the up fails with the portal's words
            # and the next up sends it again (one more intent).
            what = self.hooks.portal_cancel()
            self.report.episodes[d.kind] += 1
            self.report.events.append(what)
            # Faults hit the harness's own cancel too (a dropped answer was still applied): the
            # go-live's status after the command says whether it took.
            self.portal_cancelled = True
        elif d.kind == "aad-outage":
            identity = self.identity
            if identity is None:
                return
            outage = self.rng.uniform(2.0, 6.0)
            identity.fail_next(503, times=10_000)
            self.report.episodes[d.kind] += 1
            self.report.events.append(f"Azure AD answers 503 for {outage:.1f}s")
            done.wait(outage)
            with identity.behaviour.lock:
                identity.behaviour.failures.clear()
        elif d.kind == "throttle":
            rate = self.rng.choice([1.0, 2.0, 4.0])
            form = self.rng.choice(["seconds", "http-date"])
            self.admin(lambda: self.emu.admin.set_throttle(rate, retry_after=form))
            self.report.events.append(f"throttle {rate}/s ({form})")
            done.wait(self.rng.uniform(1.0, 4.0))
            self.admin(lambda: self.emu.admin.set_throttle(None))

    def _kill_provider(self, eng: EngineDouble) -> None:
        proc = eng.process
        if proc is None or not proc.alive:
            return
        self.killed.add(proc.pid)
        self.report.kills += 1
        self.report.events.append("provider-kill")
        proc.kill()

    # -- commands and checks --------------------------------------------------------------

    def command(
        self,
        label: str,
        fn: Callable[[EngineDouble], CommandResult],
        *,
        chaos: bool,
        disruptions: tuple[str, ...] = (),
        forced_fault: str | None = None,
        forced_disruption: str | None = None,
        expect_failure: bool = False,
    ) -> CommandResult | None:
        eng = self.eng
        assert eng is not None
        self.report.commands += 1
        if chaos:
            if forced_fault is not None:
                self.hooks.inject_forced_fault(forced_fault)
            self.hooks.inject_faults()
        else:
            self.calm()
        since = self.admin(lambda: int(self.emu.admin._call("GET", "/requests")["seq"]))
        started_before, _ = self.golive_posts()
        first_launch = len(self.launched)
        box: list[CommandResult] = []
        errors: list[BaseException] = []

        def body() -> None:
            try:
                box.append(fn(eng))
            except BaseException as exc:
                errors.append(exc)

        done = threading.Event()
        command_began = time.monotonic()
        disruption = self.pick_disruption(disruptions, forced_disruption) if chaos else None
        if disruption is not None and disruption.kind == "cancel-during-post":
            self.add_fault("delay", self.hooks.post_path, "POST", delay=READ_TIMEOUT * 0.75)
        runner = threading.Thread(target=body, name=f"chaos-{self.seed}-{label}", daemon=True)
        runner.start()
        if disruption is not None:
            watcher = threading.Thread(
                target=self.disrupt, args=(disruption, since, done), daemon=True
            )
            watcher.start()
        runner.join(HANG_LIMIT)
        done.set()
        if runner.is_alive():
            self.violation(f"{label}: still running after {HANG_LIMIT:.0f} s (hung)")
            eng.terminate()
            runner.join(30)
        if disruption is not None:
            watcher.join(60)
        took = time.monotonic() - command_began
        self.calm()
        self.hooks.after_command(box[0] if box else None)
        if errors:
            text = "".join(traceback.format_exception(errors[0]))
            self.violation(f"{label}: the engine double raised: {text[-1500:]}")
            return None
        result = box[0] if box else None
        if result is None:
            return None
        outcome = "ok"
        if result.failed:
            first = result.errors[0].message.strip().splitlines() if result.errors else []
            outcome = "failed" + (f" ({first[-1][:160]})" if first else "")
        self.report.events.append(f"{label}: {outcome} in {took:.1f}s")
        procs = self.launched[first_launch:]
        killed = any(p.pid in self.killed for p in procs)
        for why in crashes(result, killed=killed or result.terminated):
            self.violation(f"{label}: {why}")
        for proc in procs:
            code = proc.returncode
            if code == -signal.SIGKILL and proc.pid not in self.killed and not result.terminated:
                tail = proc.stderr_text()[-600:]
                self.violation(f"{label}: provider {proc.pid} did not stop within "
                               f"{CLOSE_GRACE:.0f} s of SIGINT and needed SIGKILL; stderr: {tail}")
        if not chaos and result.failed and not expect_failure:
            lines = [f"{e.method} {e.code}: {e.message[:600]}" for e in result.errors]
            lines += [d.message[:300] for d in result.diagnostics if d.severity == "error"]
            self.violation(f"{label}: did not converge with faults off: {' | '.join(lines)}")
        self.check_state(label, result, started_before, killed=killed)
        return result

    def check_state(
        self, label: str, result: CommandResult, started_before: int, *, killed: bool
    ) -> None:
        eng = self.eng
        assert eng is not None
        started, refused = self.golive_posts()
        self.report.started, self.report.refused = started, refused
        go_lives = self.go_lives()
        if started > self.report.intents:
            self.violation(
                f"{label}: {started} go-live POSTs started for {self.report.intents} intent(s)"
            )
        held = self.hooks.operations_started(go_lives)
        if held != started:
            self.violation(
                f"{label}: the emulator holds {held} go-live operations but its log "
                f"shows {started} started go-live POSTs"
            )
        state = eng.state
        self.check_pending(label, state, result)
        res = state.by_name(self.name)
        if res is None:
            return
        op_id = self.check_recorded(label, res.outputs, go_lives, self.hooks.find_operation)
        if op_id is None:
            return
        if (
            self.flavour.name == "plugin"
            and result.failed
            and not result.terminated
            and not killed
            and started > started_before
            and go_lives
            and self.hooks.find_operation(go_lives[-1:], op_id) is None
        ):
            self.violation(
                f"{label}: the plugin started go-live {go_lives[-1]['id']} and failed, but "
                f"state names {op_id} (partial state was not recorded)"
            )

    def check_pending(self, label: str, state: StackState, result: CommandResult) -> None:
        """A killed CLI leaves what it was doing; later checkpoints keep only pending creates."""
        kinds = [p.type for p in state.pending_operations]
        if kinds and not result.terminated and not (
            self.pending_allowed and set(kinds) == {"creating"}
        ):
            self.violation(f"{label}: pending operations {kinds} in state without a CLI kill "
                           f"mid-create")

    def check_recorded(
        self, label: str, outputs: dict[str, Any], go_lives: list[dict[str, Any]],
        find: Callable[[list[dict[str, Any]], str], dict[str, Any] | None],
    ) -> str | None:
        """What state records of one offer's go-live: an operation that is one of `go_lives`
        (as `find` reads ids), its URL on loopback, no end the portal does not report. Returns
        the operation id when it names one of them."""
        op_id = outputs.get("operationId")
        if not isinstance(op_id, str) or not op_id:
            if outputs.get("status") == "unknown":
                return None  # a POST whose answer was lost: the next up looks before it sends
            self.violation(f"{label}: the resource in state names no operation: {outputs}")
            return None
        op = find(go_lives, op_id)
        if op is None:
            self.violation(f"{label}: state names operation {op_id}, not a go-live of the offer")
            return None
        url = str(outputs.get("operationUrl") or "")
        if op_id not in unquote(url) or urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            self.violation(f"{label}: operationUrl {url!r} does not point at {op_id}")
        recorded, actual = outputs.get("status"), op.get("status")
        if recorded in ("succeeded", "failed", "canceled") and recorded != actual:
            self.violation(f"{label}: state says {recorded} but the portal says {actual}")
        return op_id

    def check_latest(
        self, label: str, outputs: dict[str, Any], go_lives: list[dict[str, Any]],
        find: Callable[[list[dict[str, Any]], str], dict[str, Any] | None],
        expect_status: str,
    ) -> None:
        """After a converging up: state names the offer's latest go-live (and, when
        `expect_status` is succeeded, both say it succeeded)."""
        if not go_lives:
            self.violation(f"{label}: no go-live operation exists")
            return
        latest = go_lives[-1]
        if find([latest], str(outputs.get("operationId", ""))) is None:
            self.violation(
                f"{label}: state names {outputs.get('operationId')}, the latest go-live "
                f"is {latest['id']}"
            )
        status = outputs.get("status")
        if expect_status == "succeeded" and (status != "succeeded" or latest["status"] !=
                                             "succeeded"):
            self.violation(f"{label}: converged to {status} (portal: {latest['status']})")

    def converge(self, label: str, *, expect_status: str = "succeeded") -> None:
        """`up` with faults off must succeed and leave state naming the latest go-live.

        After a CLI kill mid-create the engine keeps a pending create (as Pulumi does) until a
        `pulumi refresh --clear-pending-creates`, which the user runs after this `up`.
        """
        if self.sees_end is not None:
            sees, self.sees_end = self.sees_end, None
            seen = self.command(f"{label}-{sees.label}", lambda e: e.up(self.program()),
                                chaos=False, expect_failure=True)
            if seen is not None and not any(sees.words in e.message for e in seen.errors):
                self.violation(f"{label}: {sees.missing}")
        self.command(label, lambda e: e.up(self.program()), chaos=False)
        if self.pending_allowed:
            self.command(f"{label}-clear-pending",
                         lambda e: e.refresh(clear_pending_creates=True), chaos=False)
            self.pending_allowed = False
        self.check_converged(label, expect_status=expect_status)

    def check_converged(self, label: str, *, expect_status: str = "succeeded") -> None:
        eng = self.eng
        assert eng is not None
        started, _ = self.golive_posts()
        if started != self.report.intents:
            self.violation(
                f"{label}: {started} go-live POSTs started for {self.report.intents} intent(s)"
            )
        state = eng.state
        if state.pending_operations:
            self.violation(f"{label}: pending operations remain after a converging up")
        res = state.by_name(self.name)
        if res is None:
            self.violation(f"{label}: the offer is not in state after a converging up")
            return
        self.check_latest(label, res.outputs, self.go_lives(), self.hooks.find_operation,
                          expect_status)

    # -- the run --------------------------------------------------------------------------

    def run(self) -> RunReport:
        began = time.monotonic()
        if self.identity is not None:
            self.identity.start()
        try:
            with self.emu:
                self.hooks.seed_offer()
                self.eng = self.start_engine()
                try:
                    self.script()
                finally:
                    self.eng.close()
                self.count_faults()
        except _Violation as exc:
            self.violation(str(exc))
        except Exception:
            self.violation("harness error: " + traceback.format_exc()[-2000:])
        finally:
            for proc in self.launched:
                if proc.alive:
                    self.violation(f"provider {proc.pid} still running after the run")
                    proc.kill()
            if self.identity is not None:
                self.identity.stop()
            self.report.seconds = time.monotonic() - began
        return self.report

    def script(self) -> None:
        hooks = self.hooks
        everything = hooks.disruptions
        # 1. create: one intent
        self.report.intents = 1
        self.command("create", lambda e: e.up(self.program()), chaos=True,
                     disruptions=everything, forced_fault=self.forced_fault,
                     forced_disruption=self.forced_disruption)
        self.converge("converge-create")
        # 2. refresh under faults (and maybe a restart), sometimes on another spelling of the
        # endpoint: recorded operation URLs are rebuilt, never trusted
        if self.episode("endpoint-change", 0.5):
            self.change_endpoint()
        self.command("refresh", lambda e: e.refresh(), chaos=True,
                     disruptions=("emulator-restart", "emulator-kill", "throttle"))
        if self.profile == "short":
            self.converge("final-up")
            return
        # 2b. sometimes an episode of the API first (a publish fails or is canceled: new
        # triggers must fail and send nothing)
        hooks.before_update()
        # 3. update: a new publish, new triggers, one more intent (sometimes without waiting)
        hooks.publish_new()
        self.triggers = "v2"
        self.report.intents += 1
        move = hooks.draw_move()
        cancel_in_flight = (move is not None or self.rng.random() < 0.3) and (
            hooks.may_cancel_in_flight())
        if cancel_in_flight:
            self.wait = False
            self.cancel_on_destroy = True
            hooks.hold_go_live()
            self.report.events.append("update without waiting, destroy cancels it")
        self.command("update", lambda e: e.up(self.program()), chaos=True,
                     disruptions=everything)
        self.converge("converge-update",
                      expect_status="running" if cancel_in_flight else "succeeded")
        if move is not None:
            self.move_resource(move)
        # 4. destroy under faults, then for real
        hooks.before_destroy()
        self.command("destroy", lambda e: e.destroy(), chaos=True,
                     disruptions=("emulator-restart", "emulator-kill", "throttle"))
        if self.eng is not None and self.eng.state.by_name(self.name) is not None:
            self.command("converge-destroy", lambda e: e.destroy(), chaos=False)
        if self.eng is not None and self.eng.state.by_name(self.name) is not None:
            self.violation("converge-destroy: the offer is still in state")
        latest = self.go_lives()[-1]
        if cancel_in_flight:
            hooks.check_after_destroy(latest)
        # 5. final up: adopts the live offer (or goes live again after a cancel)
        self.wait = True
        self.cancel_on_destroy = False
        self.converge("final-up")

    def episode(self, kind: str, chance: float) -> bool:
        """Whether this run has episode `kind`: forced on it, else drawn with `chance`."""
        if self.forced_episode is not None:
            return self.forced_episode == kind
        return self.rng.random() < chance

    def change_endpoint(self) -> None:
        """Spell the endpoint the other way (127.0.0.1 <-> localhost) from now on."""
        eng = self.eng
        assert eng is not None
        current = str(eng.config.get("marketplace:endpoint") or self.emu.base_url)
        if "127.0.0.1" in current:
            moved = current.replace("127.0.0.1", "localhost")
        else:
            moved = current.replace("localhost", "127.0.0.1")
        eng.config["marketplace:endpoint"] = moved
        self.report.episodes["endpoint-change"] += 1
        self.report.events.append(f"endpoint -> {moved}")

    def broken_up(self, kind: str, why: str, *, expect_failure: bool) -> None:
        """`up` with new triggers after a publish that cannot go live (`why`: what happened to
        it) must start nothing; it fails, unless the API shows nothing new to send
        (`expect_failure` false: then it must succeed and send nothing)."""
        started_before, _ = self.golive_posts()
        self.triggers = "v2-broken"
        result = self.command(kind, lambda e: e.up(self.program()), chaos=False,
                              expect_failure=expect_failure)
        self.triggers = "v1"
        started, _ = self.golive_posts()
        if started != started_before:
            self.violation(f"{kind}: a go-live was sent although {why}")
        if not expect_failure:
            return
        if result is not None and not result.failed:
            self.violation(f"{kind}: new triggers succeeded although {why}")
        res = self.eng.state.by_name(self.name) if self.eng is not None else None
        if res is not None and res.outputs.get("triggers") == ["v2-broken"]:
            self.violation(f"{kind}: state records the new triggers as done")

    def move_resource(self, kind: str) -> None:
        """Rename the resource (no alias) or replace it (the offerId's case changes) while its
        go-live runs: create-before-delete must leave that go-live running."""
        before = self.go_lives()[-1]
        cancels_before = self.hooks.cancel_posts()
        if kind == "rename":
            self.name = "live-renamed"
        else:
            self.offer = OFFER.upper()
        self.report.episodes[kind] += 1
        self.report.events.append(f"{kind} while go-live {before['id']} runs")
        self.command(kind, lambda e: e.up(self.program()), chaos=False)
        cancels = self.hooks.cancel_posts()
        after = self.hooks.find_operation(self.go_lives(), str(before["id"]))
        if cancels != cancels_before or (after is not None and after["status"] == "canceled"):
            self.violation(f"{kind}: the go-live the new resource waits on was cancelled")
        res = self.eng.state.by_name(self.name) if self.eng is not None else None
        if res is None or self.hooks.find_operation(
                [before], str(res.outputs.get("operationId"))) is None:
            self.violation(f"{kind}: the new resource does not name the running go-live")

    def count_faults(self) -> None:
        rows = self.admin(lambda: self.emu.admin.requests())
        for row in rows:
            kind = self.hooks.fault_kind(row)
            if kind is not None:
                self.report.faults[kind] += 1
        # Cancel-during-post holds its POST with a delay below the read timeout: not "late".
        held = min(self.report.episodes["cancel-during-post"], self.report.faults["late"])
        self.report.faults["late"] -= held
        self.report.faults["delay"] += held


# --------------------------------------------------------------------------------------------
# many runs


def run_chaos(
    runs: int,
    *,
    seed: int = 1,
    workers: int = 4,
    profile: str = "full",
    flavours: tuple[str, ...] = ("dynamic", "plugin"),
    root: Path | None = None,
    keep: bool = False,
    on_report: Callable[[RunReport], None] | None = None,
    max_faults: int = 5,
    max_storm: int = 4,
    apis: tuple[str, ...] = (CPP,),
) -> Summary:
    """Run `runs` seeded runs (seeds seed..seed+runs-1), `workers` at a time.

    Runs alternate over `apis`; within one API they alternate over `flavours`, and its n-th run
    is guaranteed that API's fault kind, disruption and episode n (mod their numbers)."""
    began = time.monotonic()
    with _workdir(root, keep) as base:
        jobs = []
        for i in range(runs):
            api = apis[i % len(apis)]
            n = i // len(apis)  # the n-th run of this API
            jobs.append((seed + i, flavours[n % len(flavours)], api, n))

        def one(job: tuple[int, str, str, int]) -> RunReport:
            run_seed, flavour, api, n = job
            hooks = hooks_class(api)
            run = ChaosRun(
                run_seed, flavour, profile, base,
                forced_fault=hooks.fault_kinds[n % len(hooks.fault_kinds)],
                forced_disruption=hooks.disruptions[n % len(hooks.disruptions)],
                forced_episode=(hooks.episodes[n % len(hooks.episodes)]
                                if profile == "full" else None),
                max_faults=max_faults, max_storm=max_storm, api=api,
            )
            report = run.run()
            if not report.violations and not keep:
                shutil.rmtree(run.dir, ignore_errors=True)
            if on_report is not None:
                on_report(report)
            return report

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            reports = list(pool.map(one, jobs))
    return Summary(reports, time.monotonic() - began)


@contextlib.contextmanager
def _workdir(root: Path | None, keep: bool) -> Iterator[Path]:
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
        yield root
        return
    path = Path(tempfile.mkdtemp(prefix="chaos-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.faults.chaos",
        description="Seeded chaos runs of LiveOffer through both providers (see module doc).",
        epilog="The summary line says, per API, how many runs there were and how many "
               "violations they found; the exit status is 1 if there was any violation.",
    )
    parser.add_argument("--runs", type=int, default=200, help="number of runs (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    parser.add_argument("--workers", type=int, default=8, help="runs at a time (default 8)")
    parser.add_argument("--max-faults", type=int, default=5,
                        help="random faults per chaos command, at most (default 5)")
    parser.add_argument("--max-storm", type=int, default=4,
                        help="429s in a row in one storm, at most (default 4)")
    parser.add_argument("--profile", choices=("full", "short"), default="full",
                        help="full: create, refresh, update, destroy, final up; "
                             "short: create, refresh, final up")
    parser.add_argument("--flavour", action="append", choices=("dynamic", "plugin"),
                        help="only this flavour (repeatable; default both, alternating)")
    parser.add_argument("--api", choices=(*APIS, "both"), default="both",
                        help="the marketplace API the runs drive (marketplace:api): "
                             "cloudPartnerPortal (Cloud Partner Portal API), productIngestion "
                             "(Partner Center's Product Ingestion API) or both (default; "
                             "alternating runs)")
    parser.add_argument("--workdir", type=Path, help="keep run directories here")
    parser.add_argument("--json", type=Path, help="write every run report here")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per run")
    args = parser.parse_args(argv)
    lock = threading.Lock()

    def show(report: RunReport) -> None:
        if args.verbose or report.violations:
            with lock:
                print(report.line(), flush=True)
                for text in report.violations:
                    print(f"  VIOLATION: {text}", flush=True)

    summary = run_chaos(
        args.runs,
        seed=args.seed,
        workers=args.workers,
        profile=args.profile,
        flavours=tuple(args.flavour or ("dynamic", "plugin")),
        root=args.workdir,
        keep=args.workdir is not None,
        on_report=show,
        max_faults=args.max_faults,
        max_storm=args.max_storm,
        apis=APIS if args.api == "both" else (args.api,),
    )
    return finish(summary, args.json)


def finish(summary: Summary, json_path: Path | None) -> int:
    """Write every run report to `json_path` (if any), print the summary line; the exit
    status: 1 if there was any violation."""
    if json_path is not None:
        json_path.write_text(json.dumps([
            {**{k: v for k, v in vars(r).items() if k != "faults"}, "faults": dict(r.faults)}
            for r in summary.reports
        ], indent=1))
    print(summary.line(), flush=True)
    return 1 if summary.violations else 0


if __name__ == "__main__":
    # Run as tests.faults.chaos, the module chaos_ingestion imports (not a second copy of it).
    from tests.faults.chaos import main as _main

    sys.exit(_main())
