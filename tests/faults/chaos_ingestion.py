"""Chaos runs against Partner Center's Product Ingestion API (`marketplace:api: productIngestion`).

The hooks `tests/faults/chaos.py` asks of an API (see `ApiHooks`), for the emulator's
`/rp/product-ingestion` routes; the runs, commands, disruptions and invariants are chaos.py's.
What the invariants mean here:

- **a go-live** is a configure job that pushes the preview submission live, followed by its
  `live` submission; its status follows the live submission (the job ends first), and a job
  cancelled while queued takes its live submission with it (the emulator no longer lists it).
- **one go-live per intent**: a started go-live is a `POST .../rp/product-ingestion/configure`
  in the request log, `applied: true`, answered 202 or not at all (`drop`, or a `late` answer the
  client had given up on). A 429 or any refused POST never reached the API and does not count;
  an applied POST answered 4xx is counted as refused. The harness's own configure requests carry
  an `X-Chaos-Harness` header: its publishes to preview are not counted, its go-live started "in
  Partner Center" (episode `portal-golive`) is the go-live of that intent. The emulator's live
  configure jobs (conflicts included: they arrive as failed jobs, never as 409) must equal the
  started POSTs.
- **state names the operation**: the operation id in state is a live configure job (a GUID) or
  a live submission `submission/<guid>/<n>` (the newest attempt of that number) of the offer;
  "the offer's latest go-live" is its newest live submission, and its status the provider's
  name for that submission's status/result.

Fault kinds (run i of this API is guaranteed kind i mod 8 on its create): 5xx, 429, reset,
delay, retryafter (on the first listing of submissions, as for the Partner Portal; 5xx and
malformed also on the configure job's status: a 503 and malformed JSON there), drop (the
configure POST's answer lost after it was applied: reconciled from the submissions), late (the
configure POST answered after the client's read timeout and applied late), malformed. Random
faults also hit the job's status and detail, the product lookup, cancel and the configure POST.
`nopointer` is not run: a configure answer carries its job id in its body and no pointer header
(a lost or garbled body is `drop` and `malformed`).

Disruptions: all of the Partner Portal's. `cancel-during-post` holds the configure POST;
`portal-cancel` cancels the newest live configure job through the API as someone in Partner
Center would; that only works while the job is queued (the runs meant for it queue jobs 2-4 s),
later it is refused and the go-live goes on.

Episodes (run i is guaranteed episode i mod 8): endpoint-change, rename and replace as for the
Partner Portal; before the update, one of
- `failed-preview`: a publish to preview fails (a configure job targeting preview); `up` with
  new triggers must fail in Partner Center's words and send nothing;
- `canceled-preview`: a publish to preview is cancelled; a cancelled submission is no longer
  listed, so the offer looks as before it (its latest preview is live): `up` with new triggers
  must send nothing and succeed, adopting what is live (the Partner Portal's canceled publish
  fails instead, as its offer status says `canceled`);
- `running-preview`: the new preview is still publishing (admin `new_preview(running=True)`,
  3-8 s): the update waits for it, then goes live once;
- `failed-golive`: the update's go-live job fails with nested errors (admin `fail_next_golive`):
  the up fails in the service's words, the next up sends it again (one more intent); no rename,
  replace or non-waiting update in such runs;
- `portal-golive`: someone takes the new preview live in Partner Center (the harness POSTs
  configure) before the update: the update attaches to it or adopts it and sends nothing.
The non-waiting update whose go-live the destroy cancels (cancelOnDestroy) queues its job for
5-15 s so the cancel can land; a go-live known by its live submission (after a lost answer, a
rename or a go-live started elsewhere) or whose job already runs cannot be cancelled through
this API: the destroy must then leave it running, and the harness waits for it to end.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any
from urllib.parse import unquote

import requests

from tests.enginedouble import CommandResult, EngineDouble
from tests.faults.chaos import (
    DISRUPTIONS,
    OFFER,
    PI,
    PUBLISHER,
    READ_TIMEOUT,
    TOKEN,
    ApiHooks,
    ChaosRun,
    SeesEnd,
    _Violation,
    http_date,
    post_outcome,
)

INGESTION = "/rp/product-ingestion"
CONFIGURE = f"{INGESTION}/configure"
SCHEMA = "https://schema.mp.microsoft.com/schema"
CONFIGURE_SCHEMA = f"{SCHEMA}/configure/2022-03-01-preview2"
SUBMISSION_SCHEMA = f"{SCHEMA}/submission/2022-03-01-preview2"
HARNESS = "X-Chaos-Harness"  # marks the harness's own configure requests in the request log
GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# Fault paths (searched in the request path).
POST_PATH = "/configure$"
JOB_STATUS = r"/configure/[0-9a-fA-F-]{36}/status$"
JOB_DETAIL = r"/configure/[0-9a-fA-F-]{36}$"
LISTING = r"/submission/[^/]+$"
CANCEL_PATH = re.compile(r"/rp/product-ingestion/configure/[0-9a-f-]{36}/cancel")

FAULT_KINDS = ("5xx", "429", "reset", "drop", "delay", "malformed", "retryafter", "late")
EPISODES = (
    "endpoint-change", "failed-preview", "canceled-preview", "running-preview", "failed-golive",
    "portal-golive", "rename", "replace",
)
BEFORE_UPDATE = ("failed-preview", "canceled-preview", "running-preview", "failed-golive",
                 "portal-golive")
ENDED = ("succeeded", "failed", "canceled")
GOLIVE_ERRORS: list[dict[str, Any]] = [{
    "code": "internalServerError",
    "message": "Chaos: the submission could not be published to live.",
    "details": [{"code": "invalidState",
                 "message": "Chaos: certification failed: the image is not generalized.",
                 "details": []}],
}]
SEES_FAILURE = SeesEnd("sees-failure", "failed (status",
                       "a go-live that failed in Partner Center was not reported")
SEES_CANCEL = SeesEnd("sees-cancel", "was canceled",
                      "a go-live canceled in Partner Center was not reported")


def provider_status(status: Any, result: Any) -> str:
    """A submission's (status, result) in the provider's words."""
    if status == "completed":
        return {"succeeded": "succeeded", "failed": "failed", "cancelled": "canceled"}.get(
            str(result), str(result))
    return str(status)


def harness_mark(row: dict[str, Any]) -> str | None:
    for key, value in (row.get("headers") or {}).items():
        if key.lower() == HARNESS.lower():
            return str(value)
    return None


class ProductIngestionHooks(ApiHooks):
    """Partner Center's Product Ingestion API (see the module doc)."""

    api = PI
    fault_kinds = FAULT_KINDS
    disruptions = DISRUPTIONS
    episodes = EPISODES
    post_path = POST_PATH

    def __init__(self, run: ChaosRun) -> None:
        super().__init__(run)
        self.job_delay = 5.0  # the seeded queue time of configure jobs (emulated s)
        self.pre: str | None = None  # this run's episode before the update
        self.failing = False  # a go-live failure is armed
        self.destroy_op: str | None = None
        self.destroy_since = 0

    # -- plumbing -------------------------------------------------------------------------

    def configure(self, eng: EngineDouble) -> None:
        eng.config["marketplace:api"] = PI

    def dump(self) -> dict[str, Any]:
        return self.admin(lambda: self.emu.admin.ingestion_product((PUBLISHER, OFFER)))

    def post(self, path: str, body: Any, mark: str) -> requests.Response:
        """A configure request of the harness (someone in Partner Center), marked as such."""
        url = f"{self.emu.base_url}{INGESTION}/{path}"
        headers = {"Authorization": f"Bearer {TOKEN}", HARNESS: mark}
        return self.admin(lambda: requests.post(url, headers=headers, json=body, timeout=10))

    def configure_submission(self, target: str, submission_id: str | None,
                             mark: str) -> requests.Response:
        guid = self.admin(lambda: self.emu.admin.product_guid(PUBLISHER, OFFER))
        resource: dict[str, Any] = {"$schema": SUBMISSION_SCHEMA, "product": f"product/{guid}",
                                    "target": {"targetType": target}}
        if submission_id is not None:
            resource["id"] = submission_id
        return self.post("configure", {"$schema": CONFIGURE_SCHEMA, "resources": [resource]},
                         mark)

    def patch(self, **config: Any) -> None:
        self.admin(lambda: self.emu.admin.patch_offer(PUBLISHER, OFFER, **config))

    def seq(self) -> int:
        return self.admin(lambda: int(self.emu.admin._call("GET", "/requests")["seq"]))

    # -- counting -------------------------------------------------------------------------

    def go_lives(self) -> list[dict[str, Any]]:
        """One per live submission the emulator ever made (cancelled ones too), oldest first."""
        out = []
        for rec in self.dump()["records"]:
            internal = rec.get("internal") or {}
            if internal.get("target") != "live":
                continue
            out.append({
                "id": internal.get("job_id"),
                "submission": rec["id"],
                "status": provider_status(rec.get("status"), rec.get("result")),
                "origin": internal.get("origin"),
            })
        return out

    def find_operation(
        self, go_lives: list[dict[str, Any]], operation_id: str
    ) -> dict[str, Any] | None:
        wanted = operation_id.lower()
        if GUID.fullmatch(wanted):
            return next((g for g in go_lives if str(g["id"]).lower() == wanted), None)
        same = [g for g in go_lives if str(g["submission"]).lower() == wanted]
        listed = [g for g in same if g["status"] != "canceled"]  # the API lists the newest
        return (listed or same)[-1] if same else None

    def golive_posts(self) -> tuple[int, int]:
        rows = self.admin(lambda: self.emu.admin.requests(method="POST", path="configure$"))
        outcomes = Counter(
            post_outcome(row) for row in rows
            if unquote(row["path"]).rstrip("/").lower() == CONFIGURE
            and harness_mark(row) != "preview"
        )
        return outcomes["started"], outcomes["refused"]

    def operations_started(self, go_lives: list[dict[str, Any]]) -> int:
        """Live configure jobs, refused ones (conflicts end as failed jobs) included."""
        return sum(1 for j in self.dump()["jobs"] if j["internal"].get("target") == "live")

    def cancel_rows(self, since: int = 0) -> list[dict[str, Any]]:
        rows = self.admin(lambda: self.emu.admin.requests(method="POST", path="/cancel$",
                                                          since=since))
        return [r for r in rows if CANCEL_PATH.fullmatch(unquote(r["path"]).rstrip("/").lower())
                and harness_mark(r) is None]

    def cancel_posts(self) -> int:
        return len(self.cancel_rows())

    # -- faults ---------------------------------------------------------------------------

    def inject_forced_fault(self, kind: str) -> None:
        """One fault of `kind` on a request the create surely makes: the configure POST for
        drop and late, else the first listing of submissions (5xx and malformed also once on
        the configure job's status, which a waiting create reads unless its answer was lost)."""
        if kind == "drop":
            self.add_fault("drop", POST_PATH, "POST")
        elif kind == "late":
            self.add_fault("delay", POST_PATH, "POST", delay=READ_TIMEOUT + 1.5)
        elif kind == "5xx":
            self.add_fault("status", LISTING, "GET", status=503)
            self.add_fault("status", JOB_STATUS, "GET", status=503)
        elif kind == "malformed":
            self.add_fault("malformed", LISTING, "GET")
            self.add_fault("malformed", JOB_STATUS, "GET")
        elif kind == "429":
            self.add_fault("status", LISTING, "GET", status=429, retry_after="1")
        elif kind == "delay":
            self.add_fault("delay", LISTING, "GET", delay=1.0)
        elif kind == "retryafter":
            self.add_fault("retryafter", LISTING, "GET", retry_after="1")
        else:
            self.add_fault(kind, LISTING, "GET")

    def inject_faults(self) -> None:
        run = self.run
        rng = run.rng
        paths = [
            ("POST", POST_PATH),
            ("GET", LISTING),
            ("GET", JOB_STATUS),
            ("GET", JOB_DETAIL),
            ("GET", "/product$"),
            ("*", "/rp/"),
            ("POST", "/cancel$"),
        ]
        for _ in range(rng.randint(1, run.max_faults)):
            method, path = rng.choice(paths)
            kind = rng.choice(
                ["5xx", "5xx", "429", "reset", "drop", "delay", "malformed", "retryafter", "late"]
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
                if path == POST_PATH:
                    path = LISTING  # a delayed configure POST is counted as "late"
                self.add_fault("delay", path, method, delay=delay, times=times, skip=skip)
            elif kind == "late":  # answered after the read timeout, applied late
                delay = round(rng.uniform(READ_TIMEOUT + 0.5, READ_TIMEOUT + 3.0), 2)
                self.add_fault("delay", POST_PATH, "POST", delay=delay, times=1)
            elif kind == "retryafter":
                ra = rng.choice(["1", "2", http_date(1.0), "1.5"])
                self.add_fault("retryafter", f"{JOB_STATUS}|{LISTING}", "GET", retry_after=ra,
                               times=times)
            else:  # reset, drop, malformed
                self.add_fault(kind, path, method, times=times, skip=skip)

    # -- go-lives the harness ends --------------------------------------------------------

    def portal_cancel(self) -> str:
        jobs = self.admin(lambda: self.emu.admin.ingestion_jobs((PUBLISHER, OFFER)))
        flying = [j for j in jobs
                  if j["internal"].get("target") == "live" and j["jobStatus"] != "completed"]
        if not flying:
            return "portal-cancel: no go-live job in flight"
        job_id = flying[-1]["jobId"]
        answer = self.post(f"configure/{job_id}/cancel", None, "cancel")
        return f"portal-cancel of configure job {job_id} answered {answer.status_code}"

    def wait_ended(self, timeout: float = 90.0) -> dict[str, Any] | None:
        """The latest go-live once it has ended (or as it is at the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            go_lives = self.go_lives()
            latest = go_lives[-1] if go_lives else None
            if latest is None or latest["status"] in ENDED or time.monotonic() > deadline:
                return latest
            time.sleep(0.2)

    def after_command(self, result: CommandResult | None) -> None:
        run = self.run
        endings = set()
        if run.portal_cancelled:
            run.portal_cancelled = False
            endings.add("canceled")
        if self.failing:
            self.failing = False
            if self.dump()["pendingFailures"]:
                # The command ended before its configure POST: no go-live took the failure.
                self.admin(lambda: self.emu.admin._call(
                    "DELETE", f"/ingestion/offers/{PUBLISHER}/{OFFER}/fail-next-golive"))
                run.report.events.append("failed-golive: no go-live took the failure")
            else:
                self.wait_ended()
                endings.add("failed")
        if not endings:
            return
        go_lives = run.go_lives()
        if not go_lives or go_lives[-1]["status"] not in endings:
            return
        ending = go_lives[-1]["status"]
        run.report.intents += 1  # the next up sends the go-live again
        res = run.eng.state.by_name(run.name) if run.eng is not None else None
        recorded = res.outputs if res is not None else {}
        if recorded.get("status") == ending:
            return  # state says so: the next up sends it again at once
        if list(recorded.get("triggers") or []) != [run.triggers]:
            return  # state kept the last intent (a killed CLI): the next up simply sends it
        if ending == "failed":
            # A failed live submission stays listed: the next up finds it failed and says so.
            run.sees_end = SEES_FAILURE
        elif ending == "canceled" and recorded.get("operationId"):
            # Its job says canceled, and a live submission no longer listed while its preview
            # is not live was cancelled. A go-live known by nothing (a lost answer) is not
            # found again (cancelled submissions are not listed): it is simply sent again.
            run.sees_end = SEES_CANCEL

    # -- episodes -------------------------------------------------------------------------

    def before_update(self) -> None:
        run = self.run
        self.pre = next((k for k in BEFORE_UPDATE if run.episode(k, 0.12)), None)
        if self.pre in ("failed-preview", "canceled-preview"):
            self.broken_preview(self.pre)
        elif self.pre == "failed-golive":
            run.calm()
            self.admin(lambda: self.emu.admin.fail_next_golive((PUBLISHER, OFFER),
                                                               GOLIVE_ERRORS))
            self.failing = True
            run.report.episodes["failed-golive"] += 1
            run.report.events.append("the update's go-live job will fail")

    def broken_preview(self, kind: str) -> None:
        """A publish to preview fails or is cancelled; `up` with new triggers sends nothing."""
        run = self.run
        run.calm()
        # A publish long enough to be caught running (restored before the next publish).
        self.patch(publishSteps=[{"id": "displaycertify", "seconds": 60}])
        if kind == "failed-preview":
            self.patch(publishOutcome={"result": "fail", "times": 1,
                                       "messages": ["Chaos: certification failed."]})
        answer = self.configure_submission("preview", None, "preview")
        if answer.status_code != 202:
            raise _Violation(f"harness: configure answered {answer.status_code}: {answer.text}")
        job_id = answer.json()["jobId"]
        if kind == "canceled-preview":
            cancel = self.post(f"configure/{job_id}/cancel", None, "preview")
            if cancel.status_code != 200:
                raise _Violation(f"harness: cancel answered {cancel.status_code}: {cancel.text}")
        self.patch(publishSteps=[{"id": "displaycertify", "seconds": 6}])
        wanted = "failed" if kind == "failed-preview" else "cancelled"
        deadline = time.monotonic() + 60
        while True:
            jobs = self.admin(lambda: self.emu.admin.ingestion_jobs((PUBLISHER, OFFER)))
            job = next(j for j in jobs if j["jobId"] == job_id)
            if job["jobStatus"] == "completed":
                if job["jobResult"] != wanted:
                    raise _Violation(f"harness: the publish to preview ended {job['jobResult']}")
                break
            if time.monotonic() > deadline:
                raise _Violation(f"harness: the publish to preview did not end {wanted}")
            time.sleep(0.1)
        run.report.episodes[kind] += 1
        if kind == "failed-preview":
            run.broken_up(kind, "the publish to preview failed", expect_failure=True)
        else:
            run.broken_up(kind, "the publish to preview was canceled", expect_failure=False)

    def publish_new(self) -> None:
        """A new preview submission (admin), completed unless this run's episode is
        `running-preview`; with `portal-golive` someone then takes it live in Partner Center."""
        run = self.run
        run.calm()
        if self.pre == "running-preview":
            seconds = run.rng.uniform(60, 160)
            self.patch(publishSteps=[{"id": "displaycertify", "seconds": seconds}])
            sub = self.admin(lambda: self.emu.admin.new_preview((PUBLISHER, OFFER), running=True))
            self.patch(publishSteps=[{"id": "displaycertify", "seconds": 6}])
            run.report.episodes["running-preview"] += 1
            run.report.events.append(f"preview {sub['id']} publishing for {seconds:.0f}s")
        else:
            sub = self.admin(lambda: self.emu.admin.new_preview((PUBLISHER, OFFER)))
        if self.pre == "portal-golive":
            answer = self.configure_submission("live", str(sub["id"]), "golive")
            if answer.status_code != 202:
                raise _Violation(f"harness: configure answered {answer.status_code}: "
                                 f"{answer.text}")
            run.report.episodes["portal-golive"] += 1
            run.report.events.append(f"go-live of {sub['id']} started in Partner Center")

    def draw_move(self) -> str | None:
        if self.pre == "failed-golive":
            return None
        return super().draw_move()

    def may_cancel_in_flight(self) -> bool:
        return self.pre != "failed-golive"

    def hold_go_live(self) -> None:
        # Only a queued go-live job can be cancelled: queue the update's for 5-15 s.
        self.patch(productIngestion={"jobStartDelaySeconds": self.run.rng.uniform(100, 300)})

    def before_destroy(self) -> None:
        run = self.run
        res = run.eng.state.by_name(run.name) if run.eng is not None else None
        op_id = res.outputs.get("operationId") if res is not None else None
        self.destroy_op = op_id if isinstance(op_id, str) else None
        self.destroy_since = self.seq()

    def check_after_destroy(self, latest: dict[str, Any]) -> None:
        run = self.run
        if latest["status"] not in ENDED:
            # Not cancelled: fine only if it could not be (known by its live submission, or its
            # job already running: the provider's cancel was refused).
            by_job = self.destroy_op is not None and GUID.fullmatch(self.destroy_op) and (
                self.destroy_op.lower() == str(latest["id"]).lower())
            if by_job and not self.cancel_rows(self.destroy_since):
                run.violation(f"destroy: go-live job {latest['id']} was {latest['status']} with "
                              f"cancelOnDestroy set, and no cancel was sent")
            run.report.events.append(f"destroy left go-live {latest['submission']} "
                                     f"{latest['status']}; waiting for it to end")
            latest = self.wait_ended() or latest
        if latest["status"] not in ("canceled", "succeeded"):
            run.violation(f"destroy: the go-live in flight ended {latest['status']}")
        if latest["status"] == "canceled":
            run.report.intents += 1  # the final up sends the offer live again
        self.patch(productIngestion={"jobStartDelaySeconds": self.job_delay})

    def seed_offer(self) -> None:
        run = self.run
        rng = run.rng
        long_go_live = rng.random() < 0.5 or run.forced_disruption is not None
        total = rng.uniform(60, 140) if long_go_live else rng.uniform(20, 60)
        steps = [
            {"id": "live-preparation", "stepName": "Live preparation", "seconds": total / 3},
            {"id": "live", "stepName": "Live", "seconds": total * 2 / 3},
        ]
        # Runs meant for a cancel in Partner Center queue their jobs long enough for it.
        if run.forced_disruption == "portal-cancel":
            self.job_delay = rng.uniform(40, 80)
        else:
            self.job_delay = rng.choice([5.0, 5.0, 10.0, 20.0])
        lag = rng.choice([30, 10, 0, -10])  # the job ends this long before its live submission
        config: dict[str, Any] = {
            "state": "signoff",
            "goLiveSteps": steps,
            "publishSteps": [{"id": "displaycertify", "seconds": 6}],
            "stepEstimates": rng.random() < 0.5,
            "productIngestion": {"jobStartDelaySeconds": self.job_delay,
                                 "liveLagSeconds": lag},
        }
        self.admin(lambda: self.emu.admin.put_offer(PUBLISHER, OFFER, **config))
        run.report.events.append(
            f"offer go-live={total:.0f}s queue={self.job_delay:.0f}s lag={lag}s "
            f"estimates={config['stepEstimates']}"
        )
