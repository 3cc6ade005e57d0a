"""The pure poll schedule: invariants (hypothesis) and behaviour on simulated operations."""

from __future__ import annotations

import itertools
import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pulumi_marketplace_provider.partner_portal import Operation, PollSchedule, PollState
from pulumi_marketplace_provider.partner_portal.schedule import fit_linear_progress
from pulumi_marketplace_provider.partner_portal.throttle import GateView

SCHED = PollSchedule()


def emulated_op(t: float, steps: list[tuple[str, float]]) -> Operation:
    """An operation as the emulator renders it at time t (whole, floored percentages)."""
    docs, cursor = [], 0.0
    for step_id, seconds in steps:
        a, b = cursor, cursor + seconds
        cursor = b
        if t >= b:
            status, pct = "complete", 100
        elif t >= a:
            status, pct = "inProgress", int(min(99, (t - a) * 100 // (b - a)))
        else:
            status, pct = "notStarted", 0
        docs.append({"id": step_id, "stepName": step_id, "status": status,
                     "progressPercentage": pct, "messages": []})
    return Operation.from_json({"status": "succeeded" if t >= cursor else "running",
                                "steps": docs})


def simulate(steps: list[tuple[str, float]], start: float = 0.0, seed: int = 1,
             sched: PollSchedule = SCHED) -> tuple[int, float]:
    """(polls, detection delay) of the schedule on a simulated operation (logical time)."""
    total = sum(s for _, s in steps)
    state, now, polls = PollState.start(start, seed=seed), start, 0
    while True:
        delay = sched.next_delay(state, now)
        assert delay >= 0
        now += delay
        polls += 1
        op = emulated_op(now, steps)
        state = state.observe(op, now)
        if op.is_terminal:
            return polls, now - total
        assert polls < 10_000


def test_short_operation_is_noticed_quickly() -> None:
    polls, late = simulate([("live", 10.0)])
    assert late <= 2.5 and polls <= 10


def test_long_operation_uses_few_requests_and_is_still_noticed_quickly() -> None:
    polls, late = simulate([("prep", 3240.0), ("live", 7560.0)])
    fixed_30s_polls = 10800 / 30
    assert polls < fixed_30s_polls / 3
    assert late <= 10.0


@given(d=st.floats(min_value=5, max_value=20000), start=st.floats(min_value=0, max_value=5),
       seed=st.integers(min_value=0, max_value=2**32))
@settings(max_examples=40, deadline=None)
def test_detection_delay_stays_bounded_on_linear_progress(d: float, start: float,
                                                          seed: int) -> None:
    polls, late = simulate([("a", d * 0.3), ("b", d * 0.7)], start=start, seed=seed)
    assert late <= SCHED.cap + 1e-6
    assert polls <= 30 + d / 30  # never worse than a fixed 30 s poll, plus a start-up allowance


def test_blind_backoff_starts_fast_and_reaches_the_cap() -> None:
    state, now, delays = PollState.start(0.0, seed=3), 0.0, []
    flat = Operation.from_json({"status": "running"})
    for _ in range(40):
        d = SCHED.next_delay(state, now)
        delays.append(d)
        now += d
        state = state.observe(flat, now)
    assert delays[0] == 0.0
    assert 0.5 <= delays[1] <= 2.0
    assert all(b >= a * 0.7 for a, b in itertools.pairwise(delays[1:]))
    assert max(delays) <= SCHED.cap and delays[-1] >= SCHED.cap * (1 - SCHED.jitter)


def test_retry_after_is_honoured_and_clamped() -> None:
    flat = Operation.from_json({"status": "running"})
    state = PollState.start(0.0).observe(flat, 0.0, retry_after=45.0)
    assert SCHED.next_delay(state, 0.0) >= 45.0
    state = PollState.start(0.0).observe(flat, 0.0, retry_after=10**6)
    assert SCHED.next_delay(state, 0.0) <= SCHED.retry_after_max + 1e-9
    state = PollState.start(0.0).observe(flat, 0.0, retry_after=0.0)
    assert SCHED.next_delay(state, 0.0) >= SCHED.retry_after_min


def test_errors_back_off_exponentially_within_the_cap() -> None:
    state, delays = PollState.start(0.0), []
    for i in range(12):
        state = state.failed(float(i))
        delays.append(SCHED.next_delay(state, float(i)))
    assert delays[0] <= SCHED.error_initial and delays[3] > delays[0] * 3
    assert max(delays) <= SCHED.error_cap


def test_the_gate_delays_every_waiter() -> None:
    flat = Operation.from_json({"status": "running"})
    state = PollState.start(0.0)
    for i in range(8):
        state = state.observe(flat, float(i))
    assert SCHED.next_delay(state, 8.0) < 22.0
    gated = state.with_gate(GateView(not_before=30.0, spread=0.0))
    assert SCHED.next_delay(gated, 8.0) >= 22.0


def test_fit_brackets_the_true_end() -> None:
    true_start, rate = 12.3, 100 / 777.0  # %/s
    samples = tuple((t, float(math.floor((t - true_start) * rate)))
                    for t in (20.0, 31.0, 95.0, 300.0, 512.0))
    est = fit_linear_progress(samples)
    assert est is not None
    assert est.lo - 1e-6 <= true_start + 777.0 <= est.hi + 1e-6
    assert fit_linear_progress(((0.0, 5.0), (10.0, 5.0))) is None  # no rise: no rate
    assert fit_linear_progress(((0.0, 0.0), (1.0, 50.0), (100.0, 51.0))) is None  # not a line


samples_st = st.lists(st.tuples(st.floats(0, 1e5), st.floats(0, 100)), min_size=0, max_size=8)


@st.composite
def states(draw: st.DrawFn) -> tuple[PollState, float]:
    started = draw(st.floats(min_value=0, max_value=1e6))
    now = started + draw(st.floats(min_value=0, max_value=1e6))
    last = draw(st.one_of(st.none(), st.floats(min_value=started, max_value=now)))
    deadline = draw(st.one_of(st.none(), st.floats(min_value=0, max_value=3e6)))
    gate = GateView(
        not_before=draw(st.one_of(st.just(-math.inf), st.floats(min_value=0, max_value=3e6))),
        spread=draw(st.floats(min_value=0, max_value=30)),
    )
    samples = tuple(sorted(draw(samples_st)))
    state = PollState(
        started=started, deadline=deadline, seed=draw(st.integers(0, 2**32)),
        polls=draw(st.integers(0, 500)) if last is not None else 0,
        errors=draw(st.integers(0, 60)) if last is not None else 0,
        last_at=last,
        retry_after=draw(st.one_of(st.none(), st.floats(min_value=0, max_value=1e7))),
        gate=gate,
        step_key="0:s:inProgress", step_since=last, samples=samples,
    )
    return state, now


@given(states())
@settings(max_examples=500)
def test_invariants_never_too_soon_never_past_the_deadline(case: tuple[PollState, float]) -> None:
    state, now = case
    delay = SCHED.next_delay(state, now)
    assert math.isfinite(delay) and delay >= 0
    at = now + delay
    earliest = SCHED.earliest(state)
    if state.deadline is not None and now >= state.deadline:
        assert delay == 0  # past the deadline: the waiter decides, the schedule never sleeps
        return
    if state.deadline is not None:
        assert at <= state.deadline + 1e-6 * max(1.0, abs(state.deadline))
    if state.deadline is None or earliest <= state.deadline:
        assert at >= earliest - 1e-6 * max(1.0, abs(earliest))
    else:
        assert not SCHED.may_poll(state, at)


@given(states())
def test_may_poll_agrees_with_earliest(case: tuple[PollState, float]) -> None:
    state, now = case
    assume(state.deadline is None or SCHED.earliest(state) <= state.deadline)
    at = now + SCHED.next_delay(state, now)
    assert SCHED.may_poll(state, at + 1e-6)


def test_a_steps_start_bounds_its_end_from_a_single_reading() -> None:
    # Not running at t=40, 47% done at t=52: it started in (40, 52], so it ends by ~65.5.
    est = fit_linear_progress(((52.0, 47.0),), start_after=40.0)
    assert est is not None and 52.0 <= est.lo < 53.0 and 64.0 <= est.hi <= 66.0
    assert fit_linear_progress(((52.0, 47.0),)) is None  # without the start: no pace at all


def test_short_steps_after_long_ones_are_not_slept_through() -> None:
    """The emulator's publish: 10 + 20 + 15 + 15 s; reaching sign-off is seen within a few s."""
    steps = [("validate", 10.0), ("certify", 20.0), ("provision", 15.0), ("package", 15.0)]
    for seed in range(10):
        polls, late = simulate(steps, start=0.3, seed=seed)
        assert late <= 5.0 and polls <= 25


def test_readings_stamped_late_still_give_an_estimate() -> None:
    """Answers queued unevenly (stamped on arrival) can fit no exact line; allow the skew.

    A step running 10 s -> 30 s at 5 %/s, read at 12.0, 13.0 and 14.0 s but stamped 0.5, 0
    and 0.45 s late: no exact fit exists, the skewed one still brackets the true end.
    """
    from pulumi_marketplace_provider.partner_portal.schedule import fit_linear_progress

    samples = ((12.5, 10.0), (13.0, 15.0), (14.45, 20.0))
    assert fit_linear_progress(samples, 9.0) is None
    state = PollState(started=0.0, step_since=9.0, samples=samples, polls=3, last_at=14.45,
                      last_seen_at=14.45)
    estimate = state.estimate()
    assert estimate is not None
    assert estimate.lo <= 30.0 <= estimate.hi


def test_blind_polls_are_jittered_so_many_waiters_do_not_poll_in_step() -> None:
    """Waiters started together must spread out: no two seeds give the same blind delays."""
    flat = Operation.from_json({"status": "running"})
    schedules = []
    for seed in range(8):
        state, now, delays = PollState.start(0.0, seed=seed), 0.0, []
        for _ in range(10):
            d = SCHED.next_delay(state, now)
            delays.append(round(d, 6))
            now += d
            state = state.observe(flat, now)
        schedules.append(tuple(delays[2:]))
    assert len(set(schedules)) == len(schedules), "blind polls are not jittered"


def test_waiters_released_by_the_gate_are_spread_over_its_spread() -> None:
    """When the shared 429 gate reopens, waiters must not all return in the same instant."""
    flat = Operation.from_json({"status": "running"})
    opens = []
    for seed in range(16):
        state = PollState.start(0.0, seed=seed).observe(flat, 0.0)
        gated = state.with_gate(GateView(not_before=30.0, spread=10.0))
        opens.append(SCHED.next_delay(gated, 1.0) + 1.0)
    assert min(opens) >= 30.0
    assert max(opens) - min(opens) >= 5.0, f"no spread at the gate: {opens}"


def test_readings_with_long_round_trips_fit_when_their_round_trip_is_known() -> None:
    """A step running 1000 s -> 2200 s (12 s per percent), read 0.5-5 s before each answer
    arrived (a loaded link, or a scaled clock): stamped on arrival, the fit with READING_SKEW
    puts the end too early; with each reading's round trip it brackets the true end."""
    reads = [1010.0, 1020.0, 1030.0, 1040.0, 1050.0, 1060.0]
    lags = [5.0, 0.5, 4.0, 0.5, 5.0, 0.5]
    samples = tuple((s + lag, float(math.floor((s - 1000.0) / 12.0)))
                    for s, lag in zip(reads, lags, strict=True))
    wrong = fit_linear_progress(samples, 995.0, skew=1.0)
    assert wrong is None or not wrong.lo <= 2200.0 <= wrong.hi
    est = fit_linear_progress(samples, 995.0, spans=tuple(lags))
    assert est is not None and est.lo <= 2200.0 <= est.hi


def test_one_reading_no_line_explains_does_not_leave_the_step_to_blind_backoff() -> None:
    """The first reading of a step came back wrong (stamped 20 s late): the later readings
    alone still predict the end, and the schedule aims at it rather than backing off."""
    samples = ((40.0, 0.0), *((float(t), float((t - 10) // 12)) for t in range(60, 400, 20)))
    state = PollState(started=0.0, step_since=5.0, samples=samples, polls=len(samples),
                      last_at=samples[-1][0], last_seen_at=samples[-1][0],
                      step_key="0:live:inProgress")
    assert fit_linear_progress(samples, 5.0, skew=1.0) is None
    est = state.estimate()
    assert est is not None and est.lo <= 1210.0 <= est.hi
    assert SCHED.next_delay(state, samples[-1][0]) > SCHED.cap  # a long aimed sleep


@given(length=st.floats(min_value=120, max_value=20000),
       lags=st.lists(st.floats(min_value=0.0, max_value=8.0), min_size=40, max_size=40),
       seed=st.integers(min_value=0, max_value=2**16))
@settings(max_examples=40, deadline=None)
def test_late_answers_never_lose_the_end(length: float, lags: list[float], seed: int) -> None:
    """Each answer arrives up to 8 s after the server read it (sent_at says when it left):
    the end is still seen within the cap, in fewer polls than a 30 s loop would make."""
    steps = [("a", length / 3), ("b", 2 * length / 3)]
    state, now, polls, lag = PollState.start(0.0, seed=seed), 0.0, 0, iter(itertools.cycle(lags))
    while True:
        now += SCHED.next_delay(state, now)
        sent = now
        op = emulated_op(now, steps)  # the server reads at `sent`
        now += next(lag)
        state = state.observe(op, now, sent_at=sent)
        polls += 1
        if op.is_terminal:
            break
        assert polls < 10_000
    assert now - length <= SCHED.cap + 8.0 + 1e-6
    assert polls <= 30 + length / 30


def portal_op(t: float, steps: list[tuple[str, float, str]]) -> Operation:
    """As `emulated_op`, with each step `linear` or `portal`-shaped (progress 0 until complete,
    coarse estimates that need not hold), as the emulator's `answerShape`."""
    docs, cursor = [], 0.0
    for step_id, seconds, shape in steps:
        a, b = cursor, cursor + seconds
        cursor = b
        if t >= b:
            status, pct = "complete", 100
        elif t >= a:
            status = "inProgress"
            pct = 0 if shape == "portal" else int(min(99, (t - a) * 100 // (b - a)))
        else:
            status, pct = "notStarted", 0
        doc = {"id": step_id, "stepName": step_id, "status": status, "progressPercentage": pct,
               "messages": []}
        if shape == "portal":
            doc["estimatedTimeFrame"] = "~2-5 days" if step_id == "live" else "< 1 day"
        docs.append(doc)
    return Operation.from_json({"status": "succeeded" if t >= cursor else "running",
                                "steps": docs})


def simulate_shaped(steps: list[tuple[str, float, str]], seed: int) -> tuple[int, float, float]:
    """(polls, detection delay, longest sleep in the last step)."""
    total = sum(s for _, s, _ in steps)
    state, now, polls, longest = PollState.start(0.0, seed=seed), 0.0, 0, 0.0
    while True:
        delay = SCHED.next_delay(state, now)
        if now >= total - steps[-1][1]:
            longest = max(longest, delay)
        now += delay
        polls += 1
        op = portal_op(now, steps)
        state = state.observe(op, now)
        if op.is_terminal:
            return polls, now - total, longest
        assert polls < 10_000


def test_portal_shaped_go_lives_beat_a_30_second_loop_on_both_counts() -> None:
    """Progress 0 until done and "~2-5 days" on 30 min and 3 h go-lives (prep 1/3, live 2/3):
    on average the end is seen sooner than a 30 s loop's 15 s, with fewer requests. Lengths
    are spread by +-10 % so the ends fall at every phase of the polls, as in the bench."""
    for base in (1800.0, 10800.0):
        for shapes in (("portal", "portal"), ("linear", "portal")):
            lengths = [base * (0.9 + 0.2 * ((k * 0.618034) % 1.0)) for k in range(24)]
            runs = [simulate_shaped([("live-preparation", length / 3, shapes[0]),
                                     ("live", 2 * length / 3, shapes[1])], seed)
                    for seed, length in enumerate(lengths)]
            mean_delay = sum(r[1] for r in runs) / len(runs)
            mean_polls = sum(r[0] for r in runs) / len(runs)
            assert mean_delay < 15.0, (base, shapes, mean_delay)
            assert mean_polls < base / 30.0, (base, shapes, mean_polls)


def test_an_estimate_whose_step_shows_no_progress_is_not_slept_on() -> None:
    """"~2-5 days" on a 2 h live step whose progress sits at 0: no sleep on that lower bound;
    the last step is polled at least every `final_gap` until it is hours old."""
    _polls, late, longest = simulate_shaped(
        [("live-preparation", 3600.0, "portal"), ("live", 7200.0, "portal")], seed=3)
    assert longest <= SCHED.final_gap + 1e-9
    assert late <= SCHED.final_gap


@given(length=st.floats(min_value=5, max_value=12000), seed=st.integers(0, 2**16),
       shapes=st.sampled_from([("portal", "portal"), ("linear", "portal"),
                               ("portal", "linear")]))
@settings(max_examples=25, deadline=None)
def test_shaped_answers_never_lose_the_end(length: float, seed: int,
                                           shapes: tuple[str, str]) -> None:
    """Whatever the shape, the last step's end is seen within a final gap (it grows only for
    steps hours old, by `final_stretch` of their age), with at most a 25 s loop's requests
    plus a start-up allowance."""
    steps = [("live-preparation", length / 3, shapes[0]), ("live", 2 * length / 3, shapes[1])]
    polls, late, _ = simulate_shaped(steps, seed)
    assert late <= max(SCHED.final_gap, SCHED.final_stretch * length) + 1e-6
    assert polls <= 20 + length / 25


def test_our_first_look_waits_but_never_past_the_wait_limit() -> None:
    """A go-live just started (or seen running) is first polled a little later; unlike the
    server's Retry-After, a wait limit that comes sooner cuts that pause short."""
    schedule = PollSchedule()
    state = PollState.start(100.0, deadline=106.0).first_look_at(110.0)
    assert schedule.next_delay(state, 100.0) == 6.0
    assert schedule.may_poll(state, 106.0)
    free = PollState.start(100.0, deadline=200.0).first_look_at(102.0)
    assert schedule.next_delay(free, 100.0) == 2.0
    assert schedule.next_delay(PollState.start(100.0), 100.0) == 0.0


def test_our_posts_operation_is_aimed_at_from_its_first_reading() -> None:
    """A go-live our POST (sent at 0) created, first seen 19.8 s later in its last step at
    49 % (a throttled process polled it late): it began after the POST, so that one reading
    gives a pace and the polls aim at the end instead of following the 25 s loop (the end at
    30 s was seen 13 s late when 1000 go-lives shared a throttled portal)."""
    steps = [("live-preparation", 10.0), ("live", 20.0)]
    op = emulated_op(19.8, steps)
    ours = PollState.start(0.1).began_after(0.0).observe(op, 19.8, sent_at=19.7)
    assert ours.estimate() is not None and SCHED.aimed(ours)
    unknown = PollState.start(0.1).observe(op, 19.8, sent_at=19.7)  # attached: began any time
    assert unknown.estimate() is None and not SCHED.aimed(unknown)
    assert SCHED.next_delay(unknown, 19.8) > 10.0
    state, now, polls = ours, 19.8, 1
    while not op.is_terminal:
        now += SCHED.next_delay(state, now)
        op = emulated_op(now, steps)
        state = state.observe(op, now, sent_at=now)
        polls += 1
        assert polls < 10
    assert now - 30.0 <= 2.0


def test_an_end_known_within_tight_gets_one_look_just_after_it() -> None:
    """Once the last step's end is known to within `tight` seconds, the next look goes just
    after its latest plausible end: not every 2 s around it (which saw a 30 s go-live's end up
    to 2 s late, the tail of 1000 go-lives at once), and never before the end."""
    steps = [("live-preparation", 10.0), ("live", 20.0)]
    for began in (0.0, 0.37, 0.81):
        state, now, looks_in_window = PollState.start(0.0).began_after(0.0), began + 2.0, 0
        state = state.observe(emulated_op(now - began, steps), now, sent_at=now - 0.05)
        while True:
            est = state.estimate()
            narrow = est is not None and est.hi - est.lo <= SCHED.tight and now >= est.lo - 2.0
            delay = SCHED.next_delay(state, now)
            if narrow:
                assert est is not None
                assert now + delay == max(est.hi + SCHED.end_margin, now + SCHED.min_interval)
            now += delay
            op = emulated_op(now - began, steps)
            state = state.observe(op, now, sent_at=now - 0.05)
            looks_in_window += narrow
            if op.is_terminal:
                break
        # The latest plausible end lies a little past the true one (whole-number readings).
        assert 0.0 <= now - (began + 30.0) <= SCHED.end_margin + 0.5
        assert looks_in_window <= 2
