"""A bounded many-offers chaos run inside `make test`, and proof that its checks can fail.

`make chaos-many` runs more and larger ones (tests/faults/chaos_many.py). This one takes 30
offers live at once through one plugin process under hard throttling (both Retry-After forms),
with two chaos `up`s and an update of ten of them, and every disruption once (emulator restart
and kill, throttle change, provider kill and resume, Ctrl-C, CLI kill): about a minute.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import requests

from marketplace_emulator.harness import EmulatorProcess
from tests.enginedouble import CommandResult, secret
from tests.faults.chaos import API, PUBLISHER, TOKEN
from tests.faults.chaos_many import DISRUPTIONS, FORMS, ManyRun, ManySettings, run_many
from tests.faults.support import guarded_env
from tests.lifecycle.support import Flavour, engine

BOUNDED_SEED = int(os.environ.get("CHAOS_MANY_SEED", "7100"))
BOUNDED_OFFERS = 30


# Ctrl-C may land anywhere, Reads included (a plugin Read that met Cancel once never answered:
# test_cancel_during_a_plugin_read_answers). An RPC unanswered after 120 s has hung.
BOUNDED = ManySettings(offers=BOUNDED_OFFERS, rounds=2, rpc_deadline=120.0)


@pytest.mark.timeout(900)
def test_many_offers_at_once_keep_every_invariant(capsys: pytest.CaptureFixture[str]) -> None:
    summary = run_many(1, BOUNDED, seed=BOUNDED_SEED)
    with capsys.disabled():
        print(f"\n{summary.line()}")
    assert summary.violations == [], "\n".join(summary.violations)
    [report] = summary.reports
    assert report.flavour == "plugin"
    assert report.intents == BOUNDED_OFFERS + BOUNDED_OFFERS // 3
    assert report.started == report.intents
    assert report.refused == 0
    seen = report.episodes
    assert all(seen[kind] > 0 for kind in DISRUPTIONS), seen
    assert all(seen[f"throttle-{form}"] > 0 for form in FORMS), seen
    # The throttle did refuse requests, and the pacer kept that to a few (before the pacer, a
    # run like this had a third of its requests answered 429).
    assert 0 < seen["throttled-429"] <= 0.15 * seen["requests"], seen
    assert report.restarts >= 2 and report.kills >= 1 and report.terminates >= 1


class _GoesLiveTwice(ManyRun):
    """A 'provider' that sends one offer's go-live a second time: the checks must say so."""

    def script(self) -> None:
        for offer in self.offers:
            self.intents[offer] = 1
        self.converge("converge-create")
        self.hooks.publish_offers(self.offers[1:2])
        answer = requests.post(
            f"{self.emu.base_url}/api/publishers/{PUBLISHER}/offers/{self.offers[1]}/golive",
            params=API, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10,
        )
        assert answer.status_code == 202, answer.text
        self.converge("converge-again")


def test_the_checks_catch_a_second_go_live_of_one_offer(tmp_path: Path) -> None:
    report = _GoesLiveTwice(1, tmp_path, ManySettings(offers=3)).run()
    assert any("many-001: 2 go-live POSTs started for 1 intent" in v
               for v in report.violations), report.violations
    assert not any("many-000" in v or "many-002" in v for v in report.violations)


@pytest.mark.parametrize("command", ["refresh", "destroy"])
def test_cancel_during_a_plugin_read_answers(command: str, tmp_path: Path) -> None:
    flavour = Flavour("plugin")
    with EmulatorProcess(time_scale=20.0, tokens=(TOKEN,), log_level="WARNING") as emu:
        emu.admin.put_offer(PUBLISHER, "vm", state="signoff",
                            goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 20}])
        with engine(flavour, emu.running(), tmp_path, extra_env=guarded_env()) as eng:
            eng.config["marketplace:accessToken"] = secret(TOKEN)
            eng.rpc_deadline = 10.0
            program = [flavour.resource("live", publisherId=PUBLISHER, offerId="vm")]
            assert not eng.up(program).failed
            # The Read (or Delete) is in flight: its first request is held 5 s.
            emu.admin.add_fault("delay", "/vm/", "GET", delay=5.0, times=1)
            box: list[CommandResult] = []
            worker = threading.Thread(
                target=lambda: box.append(eng.refresh() if command == "refresh"
                                          else eng.destroy()))
            worker.start()
            time.sleep(2.0)
            eng.cancel()  # a first Ctrl-C
            worker.join(60)
            [result] = box
            assert not any(e.code == "DEADLINE_EXCEEDED" for e in result.errors), result.errors
