"""The command line and the subprocess: --help, first-line URL, seeds, state file, signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from marketplace_emulator.harness import EmulatorProcess, EmulatorStartError

from ._util import FAST, OFFER, PUB, Api


def _run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marketplace_emulator", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def test_help_describes_every_flag() -> None:
    r = _run("--help")
    assert r.returncode == 0
    out = r.stdout
    for flag in ("--port", "--host", "--time-scale", "--seed", "--state-file", "--token",
                 "--throttle-rate", "--retry-after-form", "--log-level", "--https-cert",
                 "--https-key", "--request-log-limit"):
        assert flag in out
    assert "/_emulator" in out and "example" in out and "emulator-token" in out
    assert "first line" in out


def test_first_stdout_line_is_the_url_and_sigterm_is_clean(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketplace_emulator", "--port", "0", "--token", "abc"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        assert port > 0
        import requests

        r = requests.get(f"{line}/api/publishers/x/offers",
                         params={"api-version": "2017-10-31"},
                         headers={"Authorization": "Bearer abc"}, timeout=10)
        assert r.status_code == 404  # authenticated with the --token, publisher unknown
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "serving" in err


@pytest.mark.parametrize(
    ("seed", "field"),
    [
        ({"offers": [{"publisherId": "contoso", "offerId": "x", "pointer": "sideways"}]},
         "offers[0].pointer"),
        ({"offers": [{"publisherId": "contoso"}]}, "offers[0].offerId"),
        ({"offers": [{"publisherId": "c", "offerId": "x", "publishSteps": [{"id": "a",
          "seconds": "10"}]}]}, "offers[0].publishSteps[0].seconds"),
    ],
)
def test_bad_seed_exits_nonzero_naming_field(tmp_path: Path, seed: dict, field: str) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    r = _run("--seed", str(path))
    assert r.returncode == 2
    assert field in r.stderr
    assert r.stdout == ""


def test_unparseable_seed(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text("{not json")
    r = _run("--seed", str(path))
    assert r.returncode == 2 and "not valid JSON" in r.stderr
    r = _run("--seed", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "cannot read seed" in r.stderr


def test_harness_reports_start_failure(tmp_path: Path) -> None:
    with pytest.raises(EmulatorStartError) as info:
        EmulatorProcess(seed={"offers": [{"offerId": "x"}]}).start()
    assert "offers[0].publisherId" in str(info.value)


def test_state_survives_restart(emulator_process: EmulatorProcess) -> None:
    emu = emulator_process
    emu.admin.put_offer(PUB, OFFER, state="signoff", **FAST)
    emu.admin.set_clock(0)
    api = Api(emu.running())
    g = api.golive()
    assert g.status_code == 202
    op_id = api.op(g)["id"]
    emu.admin.advance(10)
    seq_before = emu.admin.requests()[-1]["seq"]
    old_port = emu.port

    emu.restart()
    assert emu.port == old_port
    api = Api(emu.running())
    op = api.get(api.offer_path(suffix=f"/operations/{op_id}")).json()
    assert op["status"] == "running"
    assert op["steps"][-1]["status"] == "inProgress"  # 10 of 20 emulated seconds done
    assert emu.admin.clock()["scale"] == 0
    assert emu.admin.golive_posts(PUB, OFFER) == 1  # the log survived too
    api.get(api.offer_path())
    assert emu.admin.requests()[-1]["seq"] > seq_before

    # A SIGKILL right after an answered POST loses nothing either.
    emu.admin.advance(10)
    assert api.publish().status_code == 202
    emu.restart(kill=True, same_port=False)
    api = Api(emu.running())
    subs = api.get(api.offer_path(suffix="/submissions")).json()
    assert [s["submissionType"] for s in subs] == ["publish", "goLive", "publish"]
    assert subs[1]["status"] == "succeeded"
    assert emu.admin.posts(PUB, OFFER, "publish") == 1


def test_seed_file_and_state_file_precedence(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    seed = {"tokens": ["seed-token"], "offers": [{"publisherId": PUB, "offerId": OFFER}]}
    with EmulatorProcess(seed=seed, state_file=state, time_scale=50) as emu:
        assert emu.admin.tokens() == ["seed-token"]
        emu.admin.delete_offer(PUB, OFFER)
        emu.admin.put_offer(PUB, "kept")
        emu.restart()
        # The state file wins over the seed on restart.
        assert [o["offerId"] for o in emu.admin.offers()] == ["kept"]
        assert emu.admin.clock()["scale"] == 50
    assert json.loads(state.read_text())["formatVersion"] == 1


def test_cli_throttle_flags() -> None:
    with EmulatorProcess(throttle_rate=0.2, retry_after_form="http-date") as emu:
        import requests

        url = emu.base_url + "/api/publishers/x/offers"
        codes = []
        for _ in range(3):
            r = requests.get(url, params={"api-version": "2017-10-31"}, headers={
                "Authorization": "Bearer emulator-token"}, timeout=10)
            codes.append(r.status_code)
        assert codes == [404, 429, 429]
        assert r.headers["Retry-After"].endswith("GMT")
        assert emu.admin.state()["throttle"]["maxPerSecond"] == 0.2
