"""Quick waiter benchmark: requests per operation and detection delay, ours vs a fixed 30 s poll.

Go-live operations of 10 s, 5 min and 3 h run on the emulator; each strategy waits on them
over real HTTP and the emulator's request log says how many polls were made and how long
after the operation's end the first poll that could see it arrived.

Clocks:
- `virtual` (default): the emulator's clock is frozen and advanced by exactly each sleep, so
  hours pass in milliseconds and request latency adds nothing to the measurement.
- `scaled`: emulator and waiter share a ScaledClock (`--scale`); real request latency times
  the scale shows up as extra delay, as it would on a slow link.

Usage: python bench/waiter_quick.py [--clock virtual|scaled] [--runs N] [--scale S]
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from marketplace_emulator.harness import AdminClient, start_in_process
from pulumi_marketplace_provider.partner_portal import (
    OperationRef,
    PortalClient,
    StaticToken,
    ThrottleGate,
    wait_for_operation,
)
from pulumi_marketplace_provider.procedure import Clock, ScaledClock, run_sync

PUB = "bench"
DURATIONS = {"10 s": 10.0, "5 min": 300.0, "3 h": 10800.0}


class VirtualClock:
    """A Clock whose time moves only when someone sleeps: it advances the emulator by as much."""

    def __init__(self, admin: AdminClient) -> None:
        self.admin = admin
        self.t = float(admin.clock()["nowEpoch"])
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return datetime.fromtimestamp(self.t, tz=timezone.utc)

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> None:
        if seconds > 0:
            with self._lock:
                self.admin.advance(seconds)
                self.t += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def fixed_poll(client: PortalClient, ref: OperationRef, clock: Clock, every: float) -> None:
    """What users write by hand: poll every `every` seconds until the operation ends."""
    while True:
        op, _ = client.get_operation(ref)
        if op.is_terminal:
            return
        clock.sleep(every)


@dataclass
class Result:
    requests: int
    delay: float


def emulated(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["emulatedTime"].replace("Z", "+00:00")).timestamp()


def one_run(base_url: str, admin: AdminClient, clock: Clock, offer: str, seconds: float,
            strategy: str) -> Result:
    admin.put_offer(PUB, offer, state="signoff", goLiveSteps=[
        {"id": "live-preparation", "stepName": "Prepare for Live",
         "estimatedTimeFrame": "< 1 hour", "seconds": round(seconds * 0.3, 3)},
        {"id": "live", "stepName": "Live", "estimatedTimeFrame": "~2-5 days",
         "seconds": round(seconds * 0.7, 3)},
    ])
    client = PortalClient(base_url, StaticToken("emulator-token"), clock=clock)
    ref = client.go_live(PUB, offer)
    if strategy == "ours":
        run_sync(wait_for_operation(client, ref, clock=clock, deadline=None,
                                    throttle=ThrottleGate()), clock=clock)
    else:
        fixed_poll(client, ref, clock, 30.0)
    client.close()
    op = next(o for o in admin.operations(PUB, offer) if o["submissionType"] == "goLive")
    internal = op["internal"]
    end = internal["created"] + internal["startDelay"] + sum(
        s["seconds"] for s in internal["goLiveSteps"])
    polls = admin.requests(method="GET", path=f"/offers/{offer}/operations/")
    # Both strategies stop at the first answer showing the end: their last poll saw it. The
    # log stamps a request on arrival, a hair before the answer is computed, hence max(0, ...).
    return Result(requests=len(polls), delay=max(0.0, emulated(polls[-1]) - end))


Rows = list[tuple[str, str, list[Result]]]


def bench(clock_kind: str, runs: int, scale: float, seed: int) -> Rows:
    rng = random.Random(seed)
    rows: Rows = []
    for label, base in DURATIONS.items():
        per: dict[str, list[Result]] = {"ours": [], "fixed 30 s": []}
        for i in range(runs):
            seconds = base * rng.uniform(0.9, 1.1)  # no two operations end on the same beat
            for strategy in per:
                sc = scale if clock_kind == "scaled" else 0.0
                server = start_in_process(time_scale=sc)
                admin = AdminClient(server.base_url)
                try:
                    clock: Clock = (VirtualClock(admin) if clock_kind == "virtual"
                                    else ScaledClock(scale))
                    offer = f"o{i}-{'a' if strategy == 'ours' else 'b'}"
                    per[strategy].append(one_run(server.base_url, admin, clock, offer,
                                                 seconds, strategy))
                finally:
                    server.stop()
        rows.extend((label, strategy, results) for strategy, results in per.items())
    return rows


def table(rows: Rows) -> str:
    head = (f"{'operation':>9}  {'strategy':<11} {'requests/op':>11}  "
            f"{'delay mean (s)':>14}  {'delay max (s)':>13}")
    lines = [head, "-" * len(head)]
    for label, strategy, results in rows:
        reqs = statistics.mean(r.requests for r in results)
        delays = [r.delay for r in results]
        lines.append(f"{label:>9}  {strategy:<11} {reqs:>11.1f}  "
                     f"{statistics.mean(delays):>14.1f}  {max(delays):>13.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clock", choices=("virtual", "scaled"), default="virtual")
    parser.add_argument("--runs", type=int, default=5, help="operations per duration")
    parser.add_argument("--scale", type=float, default=100.0,
                        help="emulated seconds per real second (--clock scaled)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rows = bench(args.clock, args.runs, args.scale, args.seed)
    print(f"clock={args.clock}" + (f" scale={args.scale:g}" if args.clock == "scaled" else "")
          + f", {args.runs} operations per duration (length jittered +-10%)")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

