"""What only the plugin can do: import, custom timeouts, Cancel, preview, progress, scale."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from marketplace_emulator.harness import RunningEmulator
from tests.enginedouble import UNKNOWN, FakeEngine, to_struct
from tests.lifecycle.conftest import SeedOffer
from tests.lifecycle.support import (
    PLUGIN_TYPE,
    PUBLISHER,
    Flavour,
    engine,
    golive_posts,
    operation_status,
    outputs_of,
    wait_until,
)


def test_import_adopts_an_offer_already_live(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer(state="live")
    with engine(plugin, fast_emulator, tmp_path) as eng:
        result = eng.import_(PLUGIN_TYPE, "adopted", f"{PUBLISHER}/{offer}")
        result.raise_for_failure()
        outputs = outputs_of(eng, "adopted")
        assert outputs["status"] == "succeeded"
        assert outputs["operationId"]
        # The program now declares it: nothing to do, nothing sent live.
        same = eng.up([plugin.resource("adopted", publisherId=PUBLISHER, offerId=offer)])
        assert same.raise_for_failure().op("adopted") == "same"
    assert golive_posts(fast_emulator, offer) == 0


def test_import_of_an_offer_never_live_says_so(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer(state="draft")
    with engine(plugin, fast_emulator, tmp_path) as eng:
        result = eng.import_(PLUGIN_TYPE, "adopted", f"{PUBLISHER}/{offer}")
    error = result.error("adopted")
    assert error is not None and "never been sent live" in error.message


def test_custom_timeout_records_the_operation_and_the_next_up_resumes_it(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer(goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 120}])
    with engine(plugin, fast_emulator, tmp_path) as eng:
        first = eng.up(
            [
                plugin.resource(
                    "live", publisherId=PUBLISHER, offerId=offer, custom_timeouts={"create": "2s"}
                )
            ]
        )
        error = first.error("live")
        assert error is not None and error.init_failed is not None, "partial state returned"
        assert "still running" in error.message
        recorded = outputs_of(eng, "live")
        assert recorded["status"] == "running" and recorded["operationId"]

        second = eng.up([plugin.resource("live", publisherId=PUBLISHER, offerId=offer)])
        second.raise_for_failure()
        outputs = outputs_of(eng, "live")
    assert outputs["status"] == "succeeded"
    assert outputs["operationId"] == recorded["operationId"]
    assert golive_posts(fast_emulator, offer) == 1


def test_cancel_mid_wait_returns_partial_state_and_up_resumes(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer(goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 100}])
    program = [plugin.resource("live", publisherId=PUBLISHER, offerId=offer)]
    with engine(plugin, fast_emulator, tmp_path) as eng:
        results = []
        runner = threading.Thread(target=lambda: results.append(eng.up(program)))
        runner.start()
        wait_until(lambda: golive_posts(fast_emulator, offer) == 1, timeout=30)
        time.sleep(0.5)
        eng.cancel()
        runner.join(timeout=30)
        assert not runner.is_alive(), "Cancel stopped the wait promptly"
        error = results[0].error("live")
        assert error is not None and error.init_failed is not None
        assert "cancelled while waiting" in error.message
        operation_id = outputs_of(eng, "live")["operationId"]
        assert operation_status(fast_emulator, offer, operation_id) == "running", (
            "not cancelled in the portal"
        )

        eng.up(program).raise_for_failure()
        assert outputs_of(eng, "live")["status"] == "succeeded"
    assert golive_posts(fast_emulator, offer) == 1


def test_preview_with_unknowns_sends_nothing(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer()
    with engine(plugin, fast_emulator, tmp_path) as eng:
        result = eng.preview(
            [plugin.resource("live", publisherId=PUBLISHER, offerId=offer, triggers=UNKNOWN)]
        )
        result.raise_for_failure()
        creates = result.calls("Create")
        assert len(creates) == 1 and creates[0].request.get("preview") is True
        assert not (tmp_path / "state.json").exists() or eng.state.by_name("live") is None
    assert fast_emulator.admin.requests() == []


def test_progress_reaches_the_engine_as_ephemeral_messages(
    plugin: Flavour, fast_emulator: RunningEmulator, seed_offer: SeedOffer, tmp_path: Path
) -> None:
    offer = seed_offer(goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": 100}])
    with engine(plugin, fast_emulator, tmp_path) as eng:
        result = eng.up([plugin.resource("live", publisherId=PUBLISHER, offerId=offer)])
        result.raise_for_failure()
        urn = eng.urn(PLUGIN_TYPE, "live")
    progress = [log for log in result.engine_logs if log.ephemeral and log.urn == urn]
    assert progress, "at least one progress line"
    assert any("step 'Live'" in log.message and "%" in log.message for log in progress)
    assert len(progress) < 30, "a modest rate"
    summary = [log for log in result.engine_logs if not log.ephemeral and log.urn == urn]
    assert any("succeeded" in log.message for log in summary)


def test_two_hundred_concurrent_creates_finish_in_about_one_operation(
    plugin: Flavour, fast_emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Waits hold no thread: 200 go-lives at once take about as long as one."""
    count, duration = 200, 4.0  # real seconds per go-live
    for n in range(count):
        fast_emulator.admin.put_offer(
            PUBLISHER,
            f"offer-{n}",
            state="signoff",
            stepEstimates=False,
            goLiveSteps=[{"id": "live", "stepName": "Live", "seconds": duration * 20}],
        )
    with FakeEngine() as fake_engine:
        process = plugin.launcher().launch(fake_engine.address)
        try:
            channel = grpc.insecure_channel(process.address)
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            stub.Configure(
                provider_pb2.ConfigureRequest(
                    args=to_struct(
                        {"endpoint": fast_emulator.base_url, "accessToken": fast_emulator.token}
                    ),
                    acceptSecrets=True,
                )
            )

            def create(n: int) -> str:
                urn = f"urn:pulumi:test::golive::{PLUGIN_TYPE}::offer-{n}"
                props = to_struct({"publisherId": PUBLISHER, "offerId": f"offer-{n}"})
                checked = stub.Check(provider_pb2.CheckRequest(urn=urn, news=props))
                answer = stub.Create(provider_pb2.CreateRequest(urn=urn, properties=checked.inputs))
                return str(answer.id)

            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=count) as pool:
                ids = list(pool.map(create, range(count)))
            elapsed = time.monotonic() - started
            threads = process.stats().threads
        finally:
            process.close()
    assert ids == [f"{PUBLISHER}/offer-{n}" for n in range(count)]
    assert elapsed < duration * 3, (
        f"{count} creates took {elapsed:.1f} s for a {duration} s go-live"
    )
    assert threads < 80, f"threads stay bounded ({threads})"
    assert sum(golive_posts(fast_emulator, f"offer-{n}") for n in range(count)) == count
