"""Property: whatever the step durations, an operation only moves forward in time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace_emulator.model import Operation, view_operation
from marketplace_emulator.seed import Outcome, StepSpec

ORDER = {"notStarted": 0, "running": 1, "succeeded": 2, "failed": 2, "canceled": 2}
STEP_ORDER = {"notStarted": 0, "inProgress": 1, "complete": 2, "blocked": 2}


def _op(durations: list[float], fail_at: int | None) -> Operation:
    steps = tuple(
        StepSpec(f"s{i}", f"Step {i}", "", "< 1 hour", d) for i, d in enumerate(durations)
    )
    outcome = (
        Outcome("fail", f"s{fail_at}", ("boom",), "blocked") if fail_at is not None else Outcome()
    )
    return Operation(
        id="00000000-0000-0000-0000-000000000001", kind="goLive", publishing_version=1,
        offer_version=1, created=1000.0, start_delay=0.0, publish_steps=(), golive_steps=steps,
        step_estimates=True, outcome=outcome, emails=None,
    )


@settings(max_examples=150, deadline=None)
@given(
    durations=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=5),
    times=st.lists(st.floats(0, 5e6, allow_nan=False), min_size=2, max_size=12),
    fail=st.booleans(),
)
def test_status_and_progress_never_go_back(
    durations: list[float], times: list[float], fail: bool
) -> None:
    op = _op(durations, len(durations) - 1 if fail else None)
    prev_status = -1
    prev_steps: list[tuple[int, int]] | None = None
    for t in sorted(times):
        v = view_operation(op, 1000.0 + t)
        assert ORDER[v.status] >= prev_status
        prev_status = ORDER[v.status]
        cur = [(STEP_ORDER[s["status"]], s["progressPercentage"]) for s in v.steps]
        if prev_steps is not None:
            for (ps, pp), (cs, cp) in zip(prev_steps, cur, strict=True):
                assert cs >= ps
                if cs == ps == 1:
                    assert cp >= pp
        prev_steps = cur
        assert all(0 <= s["progressPercentage"] <= 100 for s in v.steps)
    final = view_operation(op, 1000.0 + sum(durations) + 1)
    assert final.status == ("failed" if fail else "succeeded")
