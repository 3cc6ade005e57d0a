"""When to poll next: a pure function of what the waiter has seen and the clock.

Sans-IO so it can be tested exhaustively and shared by the sync and asyncio drivers. Rules,
in order of precedence:

1. Never sooner than allowed: the server's `Retry-After` (clamped), the process-wide throttle
   gate, a minimum interval. Never past the deadline.
2. After a transient failure, back off exponentially (with jitter).
3. When the current step's progress gives an expected end T, sleep until shortly before T
   (how shortly depends on how sure the estimate is), then poll tightly around T (once, just
   after its latest plausible end, when that is known to within `tight`) and back off again
   if T passes. Long sleeps on an estimate are bounded by a quarter of the time
   already waited (so an early failure is still noticed in proportion) and by `max_interval`.
4. When the step's `estimatedTimeFrame` has a lower bound ("~2-5 days") and its progress
   moves (the portal is telling the truth about it), skip polls that cannot see its end. A
   step whose progress sits at 0 (as the real portal's do) gives no reason to believe it.
5. Otherwise, without a usable estimate: while a step runs that is not the operation's last,
   its end is not the operation's, so back off fast (by `between_stretch` of its age, up to
   `between_cap`); in the last step poll steadily every `final_gap` (less than a 30 s loop's
   period, so the end is seen sooner on average), growing only once the step has run for
   hours (`final_stretch` of its age). Without steps at all, start fast and back off with
   jitter to `cap`.
After a 429 with a long Retry-After anywhere in the process, no poll goes before the gate
opens; the rate of every request is the process's pacer's business (`pacing`), not the plan's.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field, replace

from .models import SIGNOFF_STEP_ID, Operation, enum_key
from .retry_after import clamp
from .throttle import GLOBAL_THROTTLE, GateView, ThrottleGate
from .timeframe import TimeFrame

__all__ = [
    "GLOBAL_THROTTLE",
    "Estimate",
    "GateView",
    "PollSchedule",
    "PollState",
    "ThrottleGate",
]

_MAX_HORIZON = 60 * 86400.0  # an estimate further out than this is not believed


@dataclass(frozen=True)
class Estimate:
    """When the current step should end: between `lo` and `hi` (clock seconds).

    `tick` is the window in which the step's progress should next move up one unit; polling
    in its middle pins the phase of the progress counter, which narrows [lo, hi] at the cost
    of one request and no detection delay.
    """

    lo: float
    hi: float
    tick: tuple[float, float] | None = None
    slowest: float = math.inf  # seconds per unit of progress at the slowest plausible pace

    @property
    def at(self) -> float:
        return (self.lo + self.hi) / 2.0

    @property
    def uncertainty(self) -> float:
        return (self.hi - self.lo) / 2.0


_MAX_SAMPLES = 24
READING_SKEW = 1.0  # seconds a reading may predate its time stamp (queueing, round trip)
_GRID = 48


def fit_linear_progress(
    samples: tuple[tuple[float, float], ...],
    start_after: float | None = None,
    skew: float = 0.0,
    spans: tuple[float, ...] | None = None,
) -> Estimate | None:
    """Bounds on the end of a step whose whole-number progress grows linearly with time.

    A reading p at time t says p <= (t - a) / u < p + 1 for the step's start a and its pace u
    (seconds per percent); `start_after` says a > start_after (the step was not running at
    our previous look). Readings bound u pairwise and against the start; scanning u over
    that range gives the feasible starts a, hence the feasible end a + 100 u. Readings no
    straight line explains (progress that jumps back, or a rise too fast for the time) give
    None, and the schedule falls back to plain backoff.

    `skew` allows each reading to have been taken up to that many seconds before its time
    stamp (a sample is stamped when the answer arrives; the server read its progress earlier,
    by a queueing delay that varies from request to request). `spans[i]`, when given, is the
    round trip of reading i (sent to answered): the server read it somewhere in that window,
    so it widens that reading's allowance by as much.
    """
    if not samples:
        return None
    t_last, p_last = samples[-1]
    if p_last >= 100.0:
        return Estimate(lo=t_last, hi=t_last)
    # Reading i was taken at some s_i in [t_i - w_i, t_i].
    w = tuple(skew + (spans[i] if spans is not None and i < len(spans) else 0.0)
              for i in range(len(samples)))
    r_lo, r_hi = 0.0, math.inf  # percent per second
    for i, (ti, pi) in enumerate(samples):
        if start_after is not None and ti > start_after:
            r_lo = max(r_lo, pi / (ti - start_after))
        for j in range(i + 1, len(samples)):
            tj, pj = samples[j]
            dt = tj - ti
            if dt <= 0:
                continue
            r_lo = max(r_lo, (pj - pi - 1.0) / (dt + w[i]))
            if dt > w[j]:
                r_hi = min(r_hi, (pj - pi + 1.0) / (dt - w[j]))
    if not (r_lo > 0.0 and r_hi > r_lo):
        return None  # no pace measurable yet, or not a straight line
    u_lo, u_hi = (0.0 if math.isinf(r_hi) else 1.0 / r_hi), 1.0 / r_lo
    floor_a = -math.inf if start_after is None else start_after
    lo = hi = tick_lo = tick_hi = math.nan
    next_tick = math.floor(p_last) + 1.0
    # Reading i bounds the start a, for a pace u: t_i - w_i - (p_i + 1) u < a <= t_i - p_i u.
    # (Plain loops: this runs for every poll of every wait, and generators cost twice as much.)
    after = [(t - wi, p + 1.0) for (t, p), wi in zip(samples, w, strict=True)]
    before = samples
    for k in range(_GRID + 1):
        # Open bounds: stay a hair inside them.
        u = u_lo + (u_hi - u_lo) * (0.001 + 0.998 * k / _GRID)
        a_lo = floor_a
        for c, q in after:
            if c - q * u > a_lo:
                a_lo = c - q * u
        a_hi = math.inf
        for t, p in before:
            if t - p * u < a_hi:
                a_hi = t - p * u
        if a_lo >= a_hi:
            continue
        end_lo, end_hi = a_lo + 100.0 * u, a_hi + 100.0 * u
        lo = end_lo if math.isnan(lo) else min(lo, end_lo)
        hi = end_hi if math.isnan(hi) else max(hi, end_hi)
        k_lo, k_hi = a_lo + next_tick * u, a_hi + next_tick * u
        tick_lo = k_lo if math.isnan(tick_lo) else min(tick_lo, k_lo)
        tick_hi = k_hi if math.isnan(tick_hi) else max(tick_hi, k_hi)
    if math.isnan(lo) or hi - t_last > _MAX_HORIZON:
        return None
    lo = max(lo, t_last)  # it was still running at the last reading
    hi = max(hi, lo)
    tick = (max(tick_lo, t_last), tick_hi) if next_tick < 100.0 and tick_hi > t_last else None
    return Estimate(lo=lo, hi=hi, tick=tick, slowest=u_hi)


@dataclass(frozen=True)
class PollState:
    """Everything the schedule needs to know; updated by `observe` / `failed` / `with_gate`."""

    started: float
    deadline: float | None = None
    seed: int = 0
    polls: int = 0
    errors: int = 0
    last_at: float | None = None
    last_seen_at: float | None = None
    retry_after: float | None = None
    gate: GateView = field(default_factory=GateView)
    step_key: str | None = None
    step_since: float | None = None
    samples: tuple[tuple[float, float], ...] = ()
    # Round trip (sent -> answered) of each sample: when, within it, the server read it.
    spans: tuple[float, ...] = ()
    last_span: float = 0.0
    frame: TimeFrame | None = None
    refused_last: bool = False  # the last poll was refused (429): send it again when allowed
    first_at: float | None = None  # the first poll is planned for then (see `first_look_at`)
    op_after: float | None = None  # the operation began after then (see `began_after`)
    # Steps still to run after the current one before the operation ends (None: no steps).
    later_steps: int | None = None

    @classmethod
    def start(cls, now: float, *, deadline: float | None = None, seed: int = 0) -> PollState:
        return cls(started=now, deadline=deadline, seed=seed)

    def with_gate(self, gate: GateView) -> PollState:
        return replace(self, gate=gate)

    def first_look_at(self, at: float) -> PollState:
        """Our own plan: no first poll before `at`, unless the deadline comes first."""
        return replace(self, first_at=at)

    def began_after(self, at: float) -> PollState:
        """The operation began after `at` (our POST created it, sent then): so did the first
        step we see, which lets its first progress reading above 0 give a pace."""
        return replace(self, op_after=at)

    def after_accepted(self, now: float, retry_after: float) -> PollState:
        """The operation was accepted at `now` with a Retry-After: no first poll before it."""
        return replace(self, last_at=now, retry_after=retry_after)

    def failed(self, now: float, retry_after: float | None = None) -> PollState:
        """A poll that got no usable answer (a transient error): back off."""
        return replace(self, errors=self.errors + 1, last_at=now, retry_after=retry_after,
                       refused_last=False)

    def refused(self, now: float, retry_after: float | None = None) -> PollState:
        """A poll refused with 429. Not this wait's failure but the process's rate: the origin's
        pacer slows every request, so this one only waits out `Retry-After`, then goes again
        (no backoff of its own, no change to what the schedule planned)."""
        return replace(self, last_at=now, retry_after=retry_after, refused_last=True)

    def observe(self, operation: Operation, now: float, retry_after: float | None = None,
                *, sent_at: float | None = None) -> PollState:
        """A poll that got an answer: track the current step and its progress readings.

        `sent_at` is when the request went out: the server read the answer somewhere between
        then and `now`, which the progress fit allows for (on a slow or loaded link that
        round trip dwarfs any fixed allowance)."""
        step = operation.current_step
        key = None
        later: int | None = None
        if step is not None:
            index = operation.steps.index(step)
            state = step.status.value if step.status.is_active else "pending"
            key = f"{index}:{step.id or step.step_name or ''}:{state}"
            later = _later_steps(operation, index)
        percent = step.progress_percentage if step is not None else None
        if percent is not None and not (math.isfinite(percent) and 0.0 <= percent <= 100.0):
            percent = None
        if step is None or not step.status.is_active:
            percent = None  # a step not yet running says nothing about a rate
        span = 0.0 if sent_at is None else max(0.0, now - sent_at)
        base = replace(self, polls=self.polls + 1, errors=0, last_at=now, last_seen_at=now,
                       retry_after=retry_after, last_span=span, later_steps=later,
                       refused_last=False)
        sample = ((now, percent),) if percent is not None else ()
        spans = (span,) if sample else ()
        if key != self.step_key:
            active = step is not None and step.status.is_active
            since = None
            if active and self.last_seen_at is not None:
                # It began after the server answered our previous look, which it did no
                # earlier than that request was sent (unknown on the first look).
                since = self.last_seen_at - self.last_span
            elif active:
                since = self.op_after  # first look: no earlier than the operation began
            return replace(
                base,
                step_key=key,
                step_since=since,
                samples=sample,
                spans=spans,
                frame=step.time_frame if active and step is not None else None,
            )
        if not sample:
            return base
        if self.samples and sample[0][1] < self.samples[-1][1]:
            # Progress went backwards: measure again.
            return replace(base, samples=sample, spans=spans)
        kept, kept_spans = self.samples, self.spans
        if len(kept_spans) != len(kept):
            kept_spans = (0.0,) * len(kept)
        if len(kept) >= _MAX_SAMPLES:
            kept = (kept[0], *kept[-(_MAX_SAMPLES - 2):])
            kept_spans = (kept_spans[0], *kept_spans[-(_MAX_SAMPLES - 2):])
        return replace(base, samples=(*kept, *sample), spans=(*kept_spans, *spans))

    def estimate(self) -> Estimate | None:
        """When the current step should end, if its progress readings say.

        Each reading is allowed its own round trip (see `observe`). When no fit exists, allow
        them `READING_SKEW` seconds more, then fit the most recent readings alone: one reading
        that no line explains (a hiccup, a pace that changed) must not leave the rest of the
        step to blind backoff.
        """
        spans = self.spans if len(self.spans) == len(self.samples) else None
        return _estimate(self.samples, spans, self.step_since)


def _later_steps(operation: Operation, index: int) -> int:
    """Steps after the one at `index` that must still run before the operation can end.

    A publish ends at the publisher sign-off (the go-live steps listed after it are not its
    own), so a step before the sign-off counts only the steps up to it."""
    ids = [enum_key(s.id) if s.id is not None else None for s in operation.steps]
    signoff = enum_key(SIGNOFF_STEP_ID)
    if signoff in ids and index < ids.index(signoff):
        return ids.index(signoff) - index - 1
    return len(operation.steps) - index - 1


def _may_measure_pace(samples: tuple[tuple[float, float], ...], since: float | None) -> bool:
    """Whether `fit_linear_progress` could find a pace: a finished step, progress that rose
    by 2 or more, or progress above 0 in a step whose start is bounded."""
    if not samples:
        return False
    if samples[-1][1] >= 100.0:
        return True
    lo = min(p for _, p in samples)
    hi = max(p for _, p in samples)
    return hi - lo >= 1.0 or (since is not None and hi > 0.0)


# Keyed by the readings, so a state asked twice (plan, then priority) and its copies (a new
# gate view) fit once. Sized for a process with thousands of waits: at 512, 1000 concurrent
# go-lives missed every time and the fit was 12 % of the plugin's CPU (py-spy --gil).
@functools.lru_cache(maxsize=4096)
def _estimate(samples: tuple[tuple[float, float], ...], spans: tuple[float, ...] | None,
              since: float | None) -> Estimate | None:
    if not _may_measure_pace(samples, since):
        return None  # e.g. progress that sits at 0: no fit can exist, skip the search
    exact = fit_linear_progress(samples, since, spans=spans)
    if exact is not None or len(samples) < 2:
        return exact
    skewed = fit_linear_progress(samples, since, skew=READING_SKEW, spans=spans)
    if skewed is not None or len(samples) < 3:
        return skewed
    for keep in range(len(samples) - 1, 1, -1):
        if not _may_measure_pace(samples[-keep:], None):
            break  # shorter suffixes rise even less
        recent = fit_linear_progress(samples[-keep:], None, skew=READING_SKEW,
                                     spans=None if spans is None else spans[-keep:])
        if recent is not None:
            return recent
    return None


def _unit(seed: int, *salt: object) -> float:
    """A deterministic uniform [0, 1) from the state: jitter without hidden randomness."""
    return random.Random(f"{seed}:{':'.join(map(str, salt))}").random()


@dataclass(frozen=True)
class PollSchedule:
    """Tunables of the waiter (seconds). Pure: `next_delay(state, now)` has no side effects."""

    initial: float = 1.0
    factor: float = 1.5
    cap: float = 60.0
    jitter: float = 0.2
    min_interval: float = 1.0
    tight: float = 2.0
    stretch: float = 0.25
    max_interval: float = 600.0
    retry_after_min: float = 1.0
    retry_after_max: float = 600.0
    error_initial: float = 2.0
    error_cap: float = 60.0
    not_found_grace: float = 30.0
    bisect_horizon: float = 20.0
    end_margin: float = 0.25  # a look aimed at a narrow estimate's latest end goes this late
    # Without a usable estimate (see the module's rule 5).
    # A look at 3x the step's age: while the last step lasts at least twice the one before it
    # (the portal's and the emulator's go-lives), no look in the step before it lands past the
    # operation's end (at 4x, a 159 s go-live's end was seen 49 s late).
    between_stretch: float = 2.0
    between_cap: float = 300.0
    final_gap: float = 25.0
    final_jitter: float = 0.1
    final_stretch: float = 0.0025

    def earliest(self, state: PollState) -> float:
        """The first moment the next poll is allowed (Retry-After, gate, minimum interval)."""
        t = -math.inf
        if state.last_at is not None:
            t = state.last_at + self.min_interval
            if state.retry_after is not None:
                ra = clamp(state.retry_after, self.retry_after_min, self.retry_after_max)
                t = max(t, state.last_at + ra)
        return max(t, state.gate.not_before)

    def may_poll(self, state: PollState, now: float) -> bool:
        return now >= self.earliest(state)

    def _blind(self, state: PollState) -> float:
        n = max(0, state.polls - 1)
        base = min(self.cap, self.initial * self.factor ** min(n, 200))
        return base * (1.0 - self.jitter * _unit(state.seed, "b", state.polls))

    def _backoff(self, state: PollState) -> float:
        base = min(self.error_cap, self.error_initial * 2.0 ** min(state.errors - 1, 60))
        return base * (1.0 - self.jitter * _unit(state.seed, "e", state.polls, state.errors))

    def _far(self, state: PollState, now: float) -> float:
        """Longest single sleep an estimate may justify: proportional to the time waited."""
        return max(self.cap, min(self.max_interval, self.stretch * max(0.0, now - state.started)))

    def _planned(self, state: PollState, now: float) -> float:
        if state.polls == 0 and state.errors == 0:
            return 0.0 if state.first_at is None else max(0.0, state.first_at - now)
        if state.errors:
            return self._backoff(state)
        blind = self._blind(state)
        if state.step_since is not None:
            # A step we saw begin: back off relative to its age, not to the whole wait, so
            # a short step after a long one is not slept through.
            blind = min(blind, max(self.tight, now - state.step_since))
        est = state.estimate()
        if est is not None:
            if state.later_steps:
                planned = self._past(est, now)
            else:
                planned = self._toward(est, state, now)
            if len(state.samples) == 1 and not (state.later_steps
                                                and est.hi - now <= self.cap / 2.0):
                # One reading of a new step: look again once even its slowest plausible
                # pace has moved a few units, to measure the pace. Not for a step before the
                # last whose latest end is near anyway: one look after it will do.
                planned = min(planned, clamp(3.0 * est.slowest, self.tight, self.cap))
            return planned
        frame = state.frame
        if (
            frame is not None
            and frame.low > 0
            and state.step_since is not None
            and any(p > 0 for _, p in state.samples)
            and now - state.step_since >= self.cap
            and now + self._far(state, now) < state.step_since + frame.low
        ):
            # No usable fit, but the step's progress moves and it cannot be over yet by its
            # own estimate.
            return self._far(state, now)
        if state.later_steps is None:
            return blind
        return self._unaimed(state, now)

    def _unaimed(self, state: PollState, now: float) -> float:
        """A step runs and nothing predicts its end (rule 5)."""
        since = state.step_since if state.step_since is not None else state.started
        age = max(0.0, now - since)
        if state.later_steps:
            # Not the last step: its end is not the operation's end.
            base = clamp(self.between_stretch * age, 2.0 * self.tight, self.between_cap)
            return base * (1.0 - self.jitter * _unit(state.seed, "n", state.polls))
        gap = max(self.final_gap, self.final_stretch * age)
        gap = min(gap, self.max_interval)
        gap *= 1.0 - self.final_jitter * _unit(state.seed, "f", state.polls)
        # A young step (or wait) may be short: look at it at its age's pace first.
        return min(gap, max(2.0 * self.tight, 2.0 * age))

    def _aimed(self, state: PollState) -> bool:
        """Whether the next poll is aimed at an expected end (the step's progress fits)."""
        return state.polls > 0 and state.estimate() is not None

    def _past(self, est: Estimate, now: float) -> float:
        """Delay when a step that is not the operation's last should end in [lo, hi]: its end
        is not the operation's, so one look after its latest plausible end will do (no
        pinning of its progress, no tight polls around its end)."""
        if now < est.hi:
            return min(est.hi - now + self.tight, self.between_cap)
        return clamp((now - est.hi) / 2.0, self.tight, self.cap)

    def _toward(self, est: Estimate, state: PollState, now: float) -> float:
        """Delay when the step's end is expected in [est.lo, est.hi]."""
        width = est.hi - est.lo
        if now < est.lo - self.tight:
            if width > 2.0 * self.tight and est.tick is not None:
                # Pin the progress counter's phase with one poll mid-tick: narrows the end.
                mid = (est.tick[0] + est.tick[1]) / 2.0
                tick_width = est.tick[1] - est.tick[0]
                if (
                    tick_width > self.tight
                    and now + self.min_interval <= mid < est.lo - self.tight
                    and est.lo - now <= self.bisect_horizon * max(width, self.tight)
                ):
                    return mid - now
            return min(est.lo - self.tight - now, self._far(state, now))
        if now <= est.hi:
            if width <= self.tight:
                # Known to within `tight`: one look just after its latest plausible end sees
                # it (looks every `tight` seconds saw it up to `tight` late, for a request more).
                return est.hi - now + self.end_margin
            return clamp(width / 3.0, self.tight, self.cap)
        return clamp((now - est.hi) / 2.0, self.tight, self.cap)

    def aimed(self, state: PollState) -> bool:
        """Whether the next poll aims at an expected end (it goes first under the quota)."""
        return self._aimed(state)

    def next_delay(self, state: PollState, now: float) -> float:
        """Seconds to sleep before the next poll: >= 0, never before `earliest`, never past the
        deadline (when `earliest` is past the deadline, the delay ends at the deadline and
        `may_poll` is false there)."""
        planned = 0.0 if state.refused_last else self._planned(state, now)
        # After a 429 no wait stretches its own plan: the process's pacer (`pacing`) sends
        # every request at the rate the portal accepts, blind polls last.
        planned = min(planned, max(self.max_interval, self.retry_after_max))
        at = now + max(0.0, planned)
        earliest = self.earliest(state)
        if state.gate.not_before > now:
            spread = state.gate.spread * _unit(state.seed, "g", state.polls, state.errors)
            earliest = max(earliest, state.gate.not_before + spread)
        at = max(at, earliest)
        if state.deadline is not None:
            at = min(at, max(state.deadline, now))
        return max(0.0, at - now)
