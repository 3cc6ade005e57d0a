"""Retry-After as seconds or an HTTP-date, and estimatedTimeFrame texts."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_marketplace_provider.partner_portal import parse_retry_after, parse_time_frame

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("1.5", 1.5),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        ("Wednesday, 01-May-24 12:01:00 GMT", 60.0),
        ("Wed May  1 12:00:10 2024", 10.0),
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),
        ("", None), ("soon", None), ("-5", None), ("1e3", None), (None, None),
    ],
)
def test_retry_after_forms(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


@given(st.integers(min_value=0, max_value=10**9))
def test_integer_seconds_round_trip(n: int) -> None:
    assert parse_retry_after(str(n), NOW) == float(n)


@given(st.integers(min_value=-10**6, max_value=10**7))
def test_http_dates_are_relative_to_the_clock_and_never_negative(offset: int) -> None:
    value = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    result = parse_retry_after(value, NOW)
    assert result == max(0.0, float(offset))


@given(st.text(max_size=60))
def test_any_text_gives_none_or_a_finite_non_negative_number(value: str) -> None:
    result = parse_retry_after(value, NOW)
    assert result is None or (math.isfinite(result) and result >= 0)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("< 15 min", 0, 900), ("~2-5 days", 2 * 86400, 5 * 86400), ("< 1 hour", 0, 3600),
        ("< 5 day", 0, 5 * 86400), ("~2-3 days", 2 * 86400, 3 * 86400),
        ("~3 hours", 1.5 * 3600, 4.5 * 3600), ("> 1 week", 604800, math.inf),
        ("2 to 4 hrs", 7200, 14400), ("up to 30 minutes", 0, 1800),
    ],
)
def test_time_frames(text: str, low: float, high: float) -> None:
    frame = parse_time_frame(text)
    assert frame is not None and (frame.low, frame.high) == (low, high)


@pytest.mark.parametrize("text", [None, "", "soon", "< fortnight", "~ days"])
def test_unreadable_time_frames(text: str | None) -> None:
    assert parse_time_frame(text) is None


@given(st.text(max_size=40))
def test_time_frames_are_ordered_when_read(text: str) -> None:
    frame = parse_time_frame(text)
    assert frame is None or 0 <= frame.low <= frame.high
