"""Chaos with many offers at once: one provider process, a throttling portal, restarts.

`tests/faults/chaos.py` drives one offer per run through every fault and disruption; this
drives many (`--offers`, 30 by default) going live *together* through ONE provider process
(the `plugin` flavour; `--flavour dynamic` works with a few offers: its host serves 4 calls at
a time), as `pulumi up` does with `--parallel N`: the engine double (tests/enginedouble/,
`parallel=` the number of offers) sends every offer's step at once and keeps the stack's state
file between commands. The emulator runs in its own process with its state on disk, and is set
to throttle hard through its admin API: a token bucket well below what the offers want (about
`--rate-factor` requests per second per offer; each offer needs several requests to go live),
answering 429 with a Retry-After in delta-seconds on some commands and as an HTTP-date on the
others (both forms occur in every run of two chaos commands or more).

A run (seeded: every draw comes from `random.Random(seed)`, so a seed replays the same run):

1. seed N offers waiting at publisher sign-off, each with its own pointer form (migrated,
   non-migrated, absolute), go-live length (2-10 s on the emulator's clock x20), step
   estimates or not, and wait limit (`waitTimeoutSeconds`, 10-40 s);
2. `--rounds` chaos `up`s of all N offers (default 3), each under throttling, the random
   faults of chaos.py (`PartnerPortalHooks.inject_faults`, up to `--max-faults`: 5xx, 429
   storms, resets, dropped answers, delays, late go-live POSTs, malformed JSON, missing
   pointers, odd Retry-After), one forced fault kind, and N/4-N/2 go-live POSTs whose answer
   is lost after they were applied (`drop`, or `late`: answered after the read timeout; a
   POST the throttle refuses uses one up), and two disruptions, each fired once
   some go-live POSTs of the command were applied (or, when none is due, after 1-3 s), i.e.
   mid-wait. First (after 1-3 s at the latest) one the command goes on through:
   - `emulator-restart` / `emulator-kill`: the emulator SIGTERMed or SIGKILLed and started
     again on the same state file (and port; the throttle is part of its saved state);
   - `throttle-flip`: the throttle changes rate and Retry-After form;
   then, once more POSTs were applied (or after 4-10 s), one that ends it (forced on a
   run's first three chaos commands, else drawn, or none):
   - `provider-kill`: the provider SIGKILLed; the command's steps in flight fail, and the next
     command's new provider resumes from the state the engine double kept (or, for an offer
     whose Create died with the process, finds its go-live by listing);
   - `cancel`: Ctrl-C (`Cancel`): every waiting offer returns partial state naming its go-live;
   - `cli-kill`: the CLI killed (pending creates left, cleared by the converging run's
     `refresh --clear-pending-creates`);
   chaos command c of a run (counting on from the previous runs') is guaranteed the first kind
   c mod 3 and fault kind c mod 9, so any three chaos commands cover every disruption;
3. a converging `up` with faults and throttling off (and a wait limit of CALM_WAIT);
4. unless `--no-update`: a new publish of a third of the offers and new `triggers` for them
   (one more intent each), a chaos `up` as above, and a converging `up`.

Invariants, per offer, checked after every command (chaos.py's, kept per offer):

- **one go-live per intent**: started go-live POSTs of the offer in the emulator's request
  log (`post_outcome`: applied, answered 202 or not at all) never exceed its intents, equal
  them after each converging `up`, and equal the emulator's go-live operations of the offer;
  and none was refused (applied, answered 4xx): the emulator answers 409 to a go-live POST
  while the offer's go-live runs, so a second POST for an intent mostly shows up as that;
- **state names the offer's go-live**: an operation id in state is a go-live of that offer
  (state may name none only with status `unknown`), its URL points at it on loopback, and
  state never claims an end the portal does not report; after a plugin step that failed once
  the offer's go-live had started, state names that go-live (partial state); after each
  converging `up` every offer is in state, names its latest go-live, and it succeeded;
- **no crash, no hang** (chaos.py's `command`: `support.crashes`, the network guard, every
  command within HANG_LIMIT, every provider stopping on SIGINT);
- **no token** anywhere but the Authorization header (`test_no_secret.leaks`: state file,
  RPC answers and errors, Engine.Log, provider stderr, the emulator's request log);
- **Retry-After honoured** (README, "One pacer per portal"): each throttled 429 asks for at
  least 1 s, so within one command (one provider process) the refused request (same method and
  path) may not arrive again 0.3-0.9 s after it (EARLY; EARLY_TOLERANCE allows stragglers: up to
  a quarter of the 429s, where ignoring Retry-After gives ~all). A Retry-After this short asks
  only the refused request to wait (the pacer slows the others); one over 2 s closes the gate
  for the whole process, which the existing chaos run's 429 storms exercise. The share of
  requests answered 429 is reported (the pacer keeps it low).

Run `python -m tests.faults.chaos_many --help`; `make chaos-many` runs a set
(CHAOS_MANY_ARGS overrides it), `make test` a bounded run (tests/faults/test_chaos_many.py).
Only the Cloud Partner Portal API is driven (`marketplace:api` cloudPartnerPortal, the default).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import functools
import re
import shutil
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import requests

from tests.enginedouble import CommandResult, EngineDouble, Resource
from tests.faults.chaos import (
    API,
    CPP,
    FAULT_KINDS,
    PUBLISHER,
    READ_TIMEOUT,
    RPC_DEADLINE,
    TOKEN,
    ChaosRun,
    PartnerPortalHooks,
    RunReport,
    Summary,
    _Disruption,
    _Violation,
    _workdir,
    find_operation,
    finish,
    post_outcome,
)
from tests.faults.test_no_secret import leaks

# Each chaos command meets one disruption that lets it go on, then maybe one that ends it.
GOING_ON = ("emulator-restart", "emulator-kill", "throttle-flip")
ENDING = ("provider-kill", "cancel", "cli-kill")
DISRUPTIONS = GOING_ON + ENDING
FORMS = ("seconds", "http-date")
CALM_WAIT = 90  # the converging runs' waitTimeoutSeconds: longer than any go-live here
# Every throttled 429 says wait at least 1 s (the provider clamps Retry-After to 1-600 s): the
# refused request may not arrive again in this window after it (a retry sent at once arrives
# within it; the first 0.3 s leave room for a copy of it already on its way).
EARLY = (0.3, 0.9)
# Stragglers: requests already past the gate when a 429 arrives can reach the emulator late on
# a loaded machine (once seen: 18 after 132 429s, 0 in most runs); a provider that retries a
# 429 at once sends about one early request per 429 (6 000 after 6 300 429s).
EARLY_TOLERANCE = (2, 0.25)  # at most max(2, 25 % of the throttled 429s) per run
GOLIVE_PATH = re.compile(r"^/api/publishers/([^/]+)/offers/([^/]+)/golive/?$", re.IGNORECASE)


@dataclass
class _Trigger(_Disruption):
    """A disruption fired once `posts` go-live POSTs of the command were applied, `delay`
    seconds later; or after `fallback` seconds when fewer POSTs are due."""

    posts: int = 1
    fallback: float = 3.0
    then: _Trigger | None = None  # fired after this one, while the command still runs


class ManyHooks(PartnerPortalHooks):
    """The Partner Portal hooks of chaos.py, for many offers: counts and go-lives per offer,
    throttling on every chaos command."""

    def __init__(self, run: ChaosRun) -> None:
        super().__init__(run)
        assert isinstance(run, ManyRun)
        self.many = run

    def posts_by_offer(self) -> dict[str, Counter[str]]:
        """Per offer (lower case), its go-live POSTs by `post_outcome` (started, refused)."""
        rows = self.admin(lambda: self.emu.admin.requests(method="POST", path="golive"))
        out: dict[str, Counter[str]] = {o.lower(): Counter() for o in self.many.offers}
        for row in rows:
            m = GOLIVE_PATH.match(unquote(row["path"]))
            if m and m.group(1).lower() == PUBLISHER and m.group(2).lower() in out:
                out[m.group(2).lower()][str(post_outcome(row))] += 1
        return out

    def golive_posts(self) -> tuple[int, int]:
        counts = self.posts_by_offer().values()
        return sum(c["started"] for c in counts), sum(c["refused"] for c in counts)

    def go_lives_of(self, offer: str) -> list[dict[str, Any]]:
        ops = self.admin(lambda: self.emu.admin.operations(PUBLISHER, offer))
        return [op for op in ops if op.get("submissionType") == "goLive"]

    def inject_faults(self) -> None:
        """chaos.py's random faults, go-live POSTs whose answers are lost after they were
        applied (dropped, or answered after the read timeout), then the throttle."""
        super().inject_faults()
        many = self.many
        rng = many.rng
        # Faults are matched before the throttle: a POST refused with 429 uses one up.
        n = len(many.offers)
        times, skip = rng.randint(max(2, n // 4), max(3, n // 2)), rng.randint(0, n // 4)
        if rng.random() < 0.5:
            self.add_fault("drop", "/golive$", "POST", times=times, skip=skip)
        else:
            self.add_fault("delay", "/golive$", "POST", delay=READ_TIMEOUT + 1.0, times=times,
                           skip=skip)
        form = FORMS[(many.seed + many.report.commands) % 2]
        rate = many.throttle_rate()
        self.admin(lambda: self.emu.admin.set_throttle(rate, retry_after=form))
        many.report.episodes[f"throttle-{form}"] += 1
        many.report.events.append(f"throttle {rate:.1f}/s ({form})")

    def seed_offers(self) -> None:
        run = self.many
        rng = run.rng
        for offer in run.offers:
            total = rng.uniform(40, 200)
            config: dict[str, Any] = {
                "state": "signoff",
                "pointer": rng.choice(["migrated", "nonMigrated", "absolute"]),
                "goLiveSteps": [
                    {"id": "live-preparation", "stepName": "Live preparation",
                     "seconds": total / 3},
                    {"id": "live", "stepName": "Live", "seconds": total * 2 / 3},
                ],
                "publishSteps": [{"id": "displaycertify", "seconds": 6}],
                "stepEstimates": rng.random() < 0.5,
            }
            self.admin(functools.partial(self.emu.admin.put_offer, PUBLISHER, offer, **config))
            run.wait_limit[offer] = round(rng.uniform(8, 25))

    def publish_offers(self, offers: list[str]) -> None:
        """New versions reach publisher sign-off (harness step, faults off)."""
        self.run.calm()
        for offer in offers:
            url = f"{self.emu.base_url}/api/publishers/{PUBLISHER}/offers/{offer}/publish"
            answer = self.admin(functools.partial(
                requests.post, url, params=API, headers={"Authorization": f"Bearer {TOKEN}"},
                json={"metadata": {}}, timeout=10,
            ))
            if answer.status_code != 202:
                raise _Violation(f"harness: publish of {offer} answered {answer.status_code}: "
                                 f"{answer.text}")
        deadline = time.monotonic() + 60
        for offer in offers:
            read = functools.partial(self.emu.admin.get_offer, PUBLISHER, offer)
            while self.admin(read)["status"] != "waitingForPublisherReview":
                if time.monotonic() > deadline:
                    raise _Violation(f"harness: the publish of {offer} did not reach sign-off")
                time.sleep(0.1)


@dataclass(frozen=True)
class ManySettings:
    """What a many-offers run does (the command line's flags)."""

    offers: int = 30
    flavour: str = "plugin"
    rounds: int = 3  # chaos `up`s before the first converging one
    rate_factor: float = 0.1  # throttle: about this many requests/s per offer, in all
    update: bool = True  # then a new publish and triggers for a third of the offers
    max_faults: int = 8  # random faults per chaos command, at most
    max_storm: int = 4  # 429s in a row of one storm, at most
    # Ctrl-C may land while refresh-before-update Reads are in flight; False holds it until
    # the command's steps began (a plugin Read that meets Cancel never answers: see
    # test_chaos_many.test_cancel_during_a_plugin_read_answers).
    cancel_during_read: bool = True
    rpc_deadline: float = RPC_DEADLINE  # an RPC still unanswered after this has hung


class ManyRun(ChaosRun):
    """One seeded run of many offers through one provider process (see the module doc)."""

    def __init__(
        self, seed: int, root: Path, settings: ManySettings | None = None, *,
        forced_index: int = 0,
    ) -> None:
        """`forced_index`: this run's first chaos command gets forced fault kind and
        disruption number `forced_index` (see the module doc)."""
        settings = settings or ManySettings()
        super().__init__(seed, settings.flavour, f"{settings.offers}x", root,
                         max_faults=settings.max_faults, max_storm=settings.max_storm, api=CPP)
        self.hooks: ManyHooks = ManyHooks(self)
        self.offers = [f"many-{i:03d}" for i in range(settings.offers)]
        self.rounds = max(1, settings.rounds)
        self.rate_factor = settings.rate_factor
        self.do_update = settings.update
        self.settings = settings
        self.records_at_start = 0
        self.forced_index = forced_index
        self.intents = dict.fromkeys(self.offers, 0)
        self.triggers_of = dict.fromkeys(self.offers, "v1")
        self.wait_limit: dict[str, int] = {}
        self.posts_before: dict[str, Counter[str]] = {}
        self.results: list[CommandResult] = []
        self.chaos_commands = 0
        self.ending: str | None = None  # the ending disruption forced on this chaos command
        self.chaos_now = True  # converging commands wait up to CALM_WAIT
        self.spans: list[tuple[float, float]] = []  # each command's wall-clock span
        self.refused_seen: dict[str, int] = {}  # refused go-live POSTs reported, per offer

    # -- what chaos.py's ChaosRun asks of a run -------------------------------------------

    def name_of(self, offer: str) -> str:
        return f"live-{offer}"

    def program(self) -> list[Resource]:
        return [
            self.flavour.resource(
                self.name_of(offer),
                publisherId=PUBLISHER,
                offerId=offer,
                triggers=[self.triggers_of[offer]],
                waitForCompletion=True,
                waitTimeoutSeconds=self.wait_limit[offer] if self.chaos_now else CALM_WAIT,
            )
            for offer in self.offers
        ]

    def start_engine(self) -> EngineDouble:
        eng = super().start_engine()
        eng.parallel = len(self.offers)  # every offer's step at once
        eng.rpc_deadline = self.settings.rpc_deadline
        return eng

    def golive_posts(self) -> tuple[int, int]:
        """Totals; remembers the per-offer counts before a command (for the partial-state
        check)."""
        self.posts_before = self.hooks.posts_by_offer()
        started, refused = self.hooks.golive_posts()
        return started, refused

    def throttle_rate(self) -> float:
        """Requests per second for the whole portal: well below what the offers want."""
        factor = self.rng.uniform(0.5, 1.5) * self.rate_factor
        return round(max(1.0, len(self.offers) * factor), 1)

    def pick_disruption(
        self, allowed: tuple[str, ...], forced: str | None = None
    ) -> _Disruption | None:
        """One of GOING_ON (`forced`), then one of ENDING: forced (`self.ending`) on the first
        three chaos commands of a run, else drawn (or none) from the seed."""
        rng = self.rng
        half = max(1, len(self.offers) // 2)
        first = _Trigger(forced or rng.choice(GOING_ON), True, rng.uniform(0.0, 1.0),
                         posts=rng.randint(1, half), fallback=rng.uniform(1.0, 3.0))
        ending = self.ending
        if ending is None and rng.random() < 0.6:
            ending = rng.choice(ENDING)
        if ending is not None:
            first.then = _Trigger(ending, True, rng.uniform(0.0, 1.0),
                                  posts=first.posts + rng.randint(max(1, half // 2), half),
                                  fallback=rng.uniform(4.0, 10.0))
        return first

    def disrupt(self, d: _Disruption, since: int, done: threading.Event) -> None:
        assert isinstance(d, _Trigger)
        if not self._wait_for_posts(d, since, done) or done.wait(d.delay):
            return
        self.fire(d, since, done)
        if d.then is not None:
            self.disrupt(d.then, since, done)

    def fire(self, d: _Disruption, since: int, done: threading.Event) -> None:
        eng = self.eng
        assert eng is not None
        if d.kind == "cancel":
            if not self.settings.cancel_during_read and not self._steps_began(done):
                return
            self.report.episodes["cancel"] += 1
            self.report.events.append("cancel (Ctrl-C) mid-wait")
            eng.cancel()
        elif d.kind == "throttle-flip":
            form = self.rng.choice(FORMS)
            rate = self.throttle_rate()
            self.admin(lambda: self.emu.admin.set_throttle(rate, retry_after=form))
            self.report.episodes[f"throttle-{form}"] += 1
            self.report.episodes["throttle-flip"] += 1
            self.report.events.append(f"throttle -> {rate:.1f}/s ({form})")
        elif not done.is_set():  # emulator-restart/-kill, provider-kill, cli-kill: as chaos.py
            self.report.episodes[d.kind] += 1
            super().disrupt(_Disruption(d.kind, False, 0.0), since, done)

    def _steps_began(self, done: threading.Event) -> bool:
        """Wait until the command's resource steps began (its refresh-before-update Reads are
        over: a Check was answered)."""
        eng = self.eng
        assert eng is not None
        while not done.is_set():
            if any(r.method == "Check" for r in eng.records[self.records_at_start:]):
                return True
            time.sleep(0.05)
        return False

    def _wait_for_posts(self, d: _Trigger, since: int, done: threading.Event) -> bool:
        """Until `d.posts` go-live POSTs of this command were applied, or `d.fallback` s."""
        deadline = time.monotonic() + d.fallback
        while not done.is_set():
            with contextlib.suppress(Exception):
                rows = self.emu.admin.requests(method="POST", path="golive$", since=since)
                if sum(1 for r in rows if r.get("applied")) >= d.posts:
                    return True
            if time.monotonic() > deadline:
                return True
            time.sleep(0.05)
        return False

    # -- invariants, per offer ------------------------------------------------------------

    def check_state(
        self, label: str, result: CommandResult, started_before: int, *, killed: bool
    ) -> None:
        eng = self.eng
        assert eng is not None
        by_offer = self.hooks.posts_by_offer()
        self.report.started = sum(c["started"] for c in by_offer.values())
        self.report.refused = sum(c["refused"] for c in by_offer.values())
        self.report.intents = sum(self.intents.values())
        self.check_pending(label, eng.state, result)
        for offer in self.offers:
            started = by_offer[offer.lower()]["started"]
            if started > self.intents[offer]:
                self.violation(f"{label}: {offer}: {started} go-live POSTs started for "
                               f"{self.intents[offer]} intent(s)")
            refused = by_offer[offer.lower()]["refused"]
            if refused > self.refused_seen.get(offer, 0):
                self.refused_seen[offer] = refused
                self.violation(f"{label}: {offer}: {refused} go-live POST(s) refused by the "
                               f"portal: sent while its go-live already ran (a second POST for "
                               f"an intent)")
            go_lives = self.hooks.go_lives_of(offer)
            if len(go_lives) != started:
                self.violation(f"{label}: {offer}: the emulator holds {len(go_lives)} go-live "
                               f"operations but its log shows {started} started go-live POSTs")
            self.check_offer_state(label, offer, go_lives, result, killed=killed,
                                   started_now=started > self.posts_before.get(
                                       offer.lower(), Counter())["started"])

    @staticmethod
    def find_in(offer: str) -> Callable[[list[dict[str, Any]], str], dict[str, Any] | None]:
        return lambda go_lives, op_id: find_operation(go_lives, op_id, offer)

    def check_offer_state(
        self, label: str, offer: str, go_lives: list[dict[str, Any]], result: CommandResult,
        *, killed: bool, started_now: bool,
    ) -> None:
        eng = self.eng
        assert eng is not None
        res = eng.state.by_name(self.name_of(offer))
        if res is None:
            return
        op_id = self.check_recorded(f"{label}: {offer}", res.outputs, go_lives,
                                    self.find_in(offer))
        if op_id is None:
            return
        err = result.error(self.name_of(offer))
        if (
            self.flavour.name == "plugin"
            and err is not None
            and err.code != "UNAVAILABLE"
            and not result.terminated
            and not killed
            and started_now
            and find_operation(go_lives[-1:], op_id, offer) is None
        ):
            self.violation(f"{label}: {offer}: the plugin started go-live {go_lives[-1]['id']} "
                           f"and failed, but state names {op_id} (partial state was not "
                           f"recorded)")

    def check_converged(self, label: str, *, expect_status: str = "succeeded") -> None:
        eng = self.eng
        assert eng is not None
        by_offer = self.hooks.posts_by_offer()
        state = eng.state
        if state.pending_operations:
            self.violation(f"{label}: pending operations remain after a converging up")
        for offer in self.offers:
            started = by_offer[offer.lower()]["started"]
            if started != self.intents[offer]:
                self.violation(f"{label}: {offer}: {started} go-live POSTs started for "
                               f"{self.intents[offer]} intent(s)")
            res = state.by_name(self.name_of(offer))
            if res is None:
                self.violation(f"{label}: {offer} is not in state after a converging up")
                continue
            self.check_latest(f"{label}: {offer}", res.outputs, self.hooks.go_lives_of(offer),
                              self.find_in(offer), expect_status)

    # -- the run --------------------------------------------------------------------------

    def run(self) -> RunReport:
        began = time.monotonic()
        try:
            with self.emu:
                self.hooks.seed_offers()
                self.eng = self.start_engine()
                try:
                    self.script()
                finally:
                    self.eng.close()
                self.count_faults()
                self.check_retry_after()
                for where in leaks(TOKEN, self.eng, self.results, self.emu.running()):
                    self.violation(f"the token is in the {where}")
        except _Violation as exc:
            self.violation(str(exc))
        except Exception:
            self.violation("harness error: " + traceback.format_exc()[-2000:])
        finally:
            for proc in self.launched:
                if proc.alive:
                    self.violation(f"provider {proc.pid} still running after the run")
                    proc.kill()
            self.report.seconds = time.monotonic() - began
        return self.report

    def command(self, label: str, fn: Callable[[EngineDouble], CommandResult], *,
                chaos: bool, **kw: Any) -> CommandResult | None:
        self.chaos_now = chaos
        self.records_at_start = len(self.eng.records) if self.eng is not None else 0
        began = time.time()
        result = super().command(label, fn, chaos=chaos, **kw)
        self.spans.append((began, time.time()))
        if result is not None:
            self.results.append(result)
        return result

    def script(self) -> None:
        for offer in self.offers:
            self.intents[offer] = 1
        self.chaos_rounds("up", self.rounds)
        self.converge("converge")
        if not self.do_update:
            return
        moved = self.rng.sample(self.offers, max(1, len(self.offers) // 3))
        self.hooks.publish_offers(moved)
        for offer in moved:
            self.triggers_of[offer] = "v2"
            self.intents[offer] += 1
        self.report.events.append(f"update of {len(moved)} offers")
        self.chaos_rounds("update", 1)
        self.converge("converge-update")

    def chaos_rounds(self, label: str, rounds: int) -> None:
        for r in range(rounds):
            n = self.forced_index + self.chaos_commands
            self.ending = ENDING[n % len(ENDING)] if self.chaos_commands < len(ENDING) else None
            self.chaos_commands += 1
            self.command(
                f"{label}-{r + 1}", lambda e: e.up(self.program()), chaos=True,
                disruptions=DISRUPTIONS, forced_fault=FAULT_KINDS[n % len(FAULT_KINDS)],
                forced_disruption=GOING_ON[n % len(GOING_ON)],
            )

    def check_retry_after(self) -> None:
        """The provider honours the throttle's Retry-After: after a throttled 429 within a
        command (one provider process), the refused request does not arrive again in the EARLY
        window."""
        rows = sorted(self.admin(lambda: self.emu.admin.requests()), key=_arrived)
        times = [_arrived(r) for r in rows]
        throttled = [r for r in rows if r.get("fault") == "throttle"]
        early: dict[int, str] = {}  # index of an early request: why
        for row in throttled:
            t0 = _arrived(row)
            if not any(a <= t0 and t0 + EARLY[1] <= b for a, b in self.spans):
                continue  # the command (its provider process) ended within the window
            lo = bisect.bisect_right(times, t0 + EARLY[0])
            hi = bisect.bisect_left(times, t0 + EARLY[1])
            for i in range(lo, hi):
                if (rows[i]["method"], rows[i]["path"]) != (row["method"], row["path"]):
                    continue
                early.setdefault(i, f"{rows[i]['method']} {rows[i]['path']} again "
                                    f"{times[i] - t0:.2f} s after its 429 (seq {row['seq']})")
        self.report.episodes["throttled-429"] = len(throttled)
        self.report.episodes["requests"] = len(rows)
        self.report.episodes["early-after-429"] = len(early)
        if len(early) > max(EARLY_TOLERANCE[0], EARLY_TOLERANCE[1] * len(throttled)):
            self.violation(
                f"{len(early)} refused requests were sent again {EARLY[0]}-{EARLY[1]} s after "
                f"their throttled 429 (Retry-After at least 1 s) in the same command; "
                f"{len(throttled)} 429s in all; e.g. " + "; ".join(list(early.values())[:4])
            )


def _arrived(row: dict[str, Any]) -> float:
    """When a request-log row arrived (epoch seconds)."""
    return datetime.fromisoformat(str(row["time"]).replace("Z", "+00:00")).timestamp()


@dataclass
class ManySummary(Summary):
    """Totals of many-offer runs; `line()` is printed at the end."""

    offers: int = 0

    def line(self) -> str:
        episodes: Counter[str] = Counter()
        for r in self.reports:
            episodes.update(r.episodes)
        faults = self.faults
        return (
            f"chaos-many: {len(self.reports)} runs, {self.offers} offers in {self.seconds:.0f} s, "
            f"{self.total('commands')} commands, {episodes['requests']} requests, "
            f"{episodes['throttled-429']} throttled (429, {episodes['early-after-429']} "
            f"requests within its Retry-After) in "
            f"{episodes['throttle-seconds']} seconds-form and {episodes['throttle-http-date']} "
            f"http-date-form throttle settings; faults fired {sum(faults.values())} ("
            + ", ".join(f"{k} {faults[k]}" for k in FAULT_KINDS)
            + "); disruptions ("
            + ", ".join(f"{k} {episodes[k]}" for k in DISRUPTIONS)
            + f"); emulator restarts {self.total('restarts')}, provider kills "
            f"{self.total('kills')}, CLI kills {self.total('terminates')}; intents "
            f"{self.total('intents')}, go-live POSTs started {self.total('started')}, refused "
            f"{self.total('refused')}; violations {len(self.violations)}"
        )


def run_many(
    runs: int = 1,
    settings: ManySettings | None = None,
    *,
    seed: int = 1,
    root: Path | None = None,
    keep: bool = False,
    on_report: Callable[[RunReport], None] | None = None,
    run_class: type[ManyRun] = ManyRun,
) -> ManySummary:
    """Runs seeds seed..seed+runs-1 one after another (each is already N offers at once)."""
    settings = settings or ManySettings()
    began = time.monotonic()
    reports: list[RunReport] = []
    with _workdir(root, keep) as base:
        for i in range(runs):
            run = run_class(seed + i, base, settings,
                            forced_index=i * (settings.rounds + int(settings.update)))
            report = run.run()
            if not report.violations and not keep:
                shutil.rmtree(run.dir, ignore_errors=True)
            if on_report is not None:
                on_report(report)
            reports.append(report)
    return ManySummary(reports, time.monotonic() - began, offers=runs * settings.offers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.faults.chaos_many",
        description=(
            "Seeded chaos runs of MANY offers going live at once through one provider process "
            "(the plugin, driven by the engine double with every step in parallel), while the "
            "emulator throttles hard (Retry-After in seconds and as an HTTP-date) and is "
            "restarted, the provider is killed and resumed, and Ctrl-C lands mid-wait; then a "
            "converging run with faults and throttling off. Checks, per offer: one started "
            "go-live POST per intent (none refused), state names the offer's go-live, no crash "
            "or hang, every offer live after converging, no token in state, logs or errors; "
            "and Retry-After honoured by the whole process. See the module doc of "
            "tests/faults/chaos_many.py."
        ),
        epilog="Example: python -m tests.faults.chaos_many --offers 100 --runs 2 --seed 40 -v. "
               "The exit status is 1 if any run found a violation; a failing seed replays with "
               "--seed SEED --runs 1 (and --workdir DIR to keep its emulator state, request "
               "log, stack state and provider logs).",
    )
    parser.add_argument("--runs", type=int, default=2,
                        help="runs, one after another (default 2; a run of three chaos "
                             "commands or more meets every disruption)")
    parser.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    parser.add_argument("--offers", type=int, default=30,
                        help="offers going live at once in each run (default 30; 200 works)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="chaos `up`s before the first converging one (default 3)")
    parser.add_argument("--rate-factor", type=float, default=0.1,
                        help="throttle: about this many requests/s per offer for the whole "
                             "portal, drawn x0.5-1.5 per command, at least 1/s (default 0.1)")
    parser.add_argument("--max-faults", type=int, default=8,
                        help="random faults per chaos command, at most (default 8)")
    parser.add_argument("--max-storm", type=int, default=4,
                        help="429s in a row in one injected storm, at most (default 4)")
    parser.add_argument("--cancel-after-reads", action="store_true",
                        help="hold Ctrl-C until the refresh-before-update Reads are over (a "
                             "plugin Read that meets Cancel never answers: a known provider bug "
                             "that otherwise shows as an RPC hung for --rpc-deadline seconds)")
    parser.add_argument("--rpc-deadline", type=float, default=RPC_DEADLINE,
                        help=f"an RPC unanswered after this many seconds has hung (default "
                             f"{RPC_DEADLINE:g})")
    parser.add_argument("--no-update", action="store_true",
                        help="skip the update (new publish and triggers for a third of them)")
    parser.add_argument("--flavour", choices=("plugin", "dynamic"), default="plugin",
                        help="provider flavour (default plugin; the dynamic host serves 4 "
                             "calls at a time: give it few offers)")
    parser.add_argument("--workdir", type=Path, help="keep run directories here")
    parser.add_argument("--json", type=Path, help="write every run report here")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="one line per run, with its events")
    args = parser.parse_args(argv)

    def show(report: RunReport) -> None:
        if args.verbose or report.violations:
            print(report.line(), flush=True)
            if args.verbose:
                for event in report.events:
                    print(f"  {event}", flush=True)
            for text in report.violations:
                print(f"  VIOLATION: {text}", flush=True)

    settings = ManySettings(offers=args.offers, flavour=args.flavour, rounds=args.rounds,
                            rate_factor=args.rate_factor, update=not args.no_update,
                            max_faults=args.max_faults, max_storm=args.max_storm,
                            cancel_during_read=not args.cancel_after_reads,
                            rpc_deadline=args.rpc_deadline)
    summary = run_many(args.runs, settings, seed=args.seed, root=args.workdir,
                       keep=args.workdir is not None, on_report=show)
    return finish(summary, args.json)


if __name__ == "__main__":
    # Run as tests.faults.chaos_many (not a second copy of it as __main__).
    from tests.faults.chaos_many import main as _main

    sys.exit(_main())
