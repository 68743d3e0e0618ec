"""event_time parsing (mapping.md section 3, without the window check)."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbocli.mapping.timeparse import MS_THRESHOLD, parse_event_time

NY = ZoneInfo("America/New_York")
T_2026_11_10_NOON = 1794312000  # 2026-11-10T12:00:00Z


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-10T12:00:00Z", T_2026_11_10_NOON),
        ("2026-11-10T12:00:00.000Z", T_2026_11_10_NOON),
        ("2026-11-10T12:00:00.999Z", T_2026_11_10_NOON),  # fraction dropped
        ("2026-11-10T12:00:00+00:00", T_2026_11_10_NOON),
        ("2026-11-10T07:00:00-05:00", T_2026_11_10_NOON),
        ("2026-11-10T17:30:00+0530", T_2026_11_10_NOON),
        ("2026-11-10 12:00:00", T_2026_11_10_NOON),  # naive -> UTC by default
        ("  2026-11-10T12:00:00Z\n", T_2026_11_10_NOON),
        ("20261110T120000Z", T_2026_11_10_NOON),
        ("2026-11-10", utc(2026, 11, 10)),
        ("2026-11-01T08:30:00-05:00", 1793539800),  # golden ex-2
        ("2018-02-13T10:19:00.000Z", 1518517140),  # peer CSV
    ],
)
def test_iso_8601(value: str, expected: int) -> None:
    assert parse_event_time(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Nov 10 2026 12:00", T_2026_11_10_NOON),
        ("Tue, 10 Nov 2026 12:00:00 GMT", T_2026_11_10_NOON),  # RFC 2822
        ("Tue, 10 Nov 2026 07:00:00 -0500", T_2026_11_10_NOON),
        ("November 10, 2026 12:00 UTC", T_2026_11_10_NOON),
        ("11/10/2026 12:00", T_2026_11_10_NOON),
        ("2026/11/10 12:00:00", T_2026_11_10_NOON),
    ],
)
def test_other_dateutil_strings(value: str, expected: int) -> None:
    assert parse_event_time(value) == expected


def test_dayfirst_decides_ambiguous_dates() -> None:
    assert parse_event_time("01/02/2026") == utc(2026, 1, 2)
    assert parse_event_time("01/02/2026", dayfirst=True) == utc(2026, 2, 1)
    assert parse_event_time("13/02/2026") == utc(2026, 2, 13)  # unambiguous either way


def test_naive_times_use_the_given_zone_aware_ones_ignore_it() -> None:
    assert parse_event_time("2026-11-10T07:00:00", tz=NY) == T_2026_11_10_NOON
    assert parse_event_time("Nov 10 2026 07:00", tz=NY) == T_2026_11_10_NOON
    assert parse_event_time("2026-07-10T08:00:00", tz=NY) == utc(2026, 7, 10, 12)  # EDT
    assert parse_event_time("2026-11-10T12:00:00Z", tz=NY) == T_2026_11_10_NOON
    assert parse_event_time(T_2026_11_10_NOON, tz=NY) == T_2026_11_10_NOON


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1518517140, 1518517140),
        ("1518517140", 1518517140),
        (" 1518517140 ", 1518517140),
        (1518517140000, 1518517140),  # milliseconds
        ("1518517140999", 1518517140),
        (1518517140.9, 1518517140),
        (1518517140999.0, 1518517140),
        (MS_THRESHOLD, MS_THRESHOLD),  # "above 10**11": the threshold itself is seconds
        (MS_THRESHOLD + 1, MS_THRESHOLD // 1000),
        (0, 0),
        ("0", 0),
        (-1.5, -2),  # floor toward minus infinity
        (-86400, -86400),
    ],
)
def test_unix_numbers(value: object, expected: int) -> None:
    assert parse_event_time(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        "",
        "   ",
        "yesterday-ish",
        "12:00",  # no date: not silently today
        "Tuesday",
        "July 2026",  # no day
        "1518517140.5",  # only all-digit strings are Unix time
        "-1518517140",
        "2026-11-10T12:00:00 PST",  # a zone name dateutil cannot pin
        "2026-02-30T00:00:00Z",
        "2026-11-10T25:00:00Z",
        "10000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        float("nan"),
        float("inf"),
        float("-inf"),
        1e300,
        -1e300,
        10**30,
        -(10**30),
        "9" * 50,
        "9" * 5000,
        "2026-11-10" + " " * 200 + "x",
        [1518517140],
        {"t": 1518517140},
        b"1518517140",
    ],
)
def test_unparseable_is_none(value: object) -> None:
    assert parse_event_time(value) is None


def test_range_edges() -> None:
    assert parse_event_time("0001-01-01T00:00:00Z") == utc(1, 1, 1)
    assert parse_event_time("9999-12-31T23:59:59Z") == utc(9999, 12, 31, 23, 59, 59)
    assert parse_event_time(utc(9999, 12, 31, 23, 59, 59) * 1000) == utc(9999, 12, 31, 23, 59, 59)


def test_golden_event_times(shared_dir: Path) -> None:
    golden = json.loads((shared_dir / "examples" / "golden.json").read_text("utf-8"))
    checked = 0
    for case in golden["cases"]:
        message = case["input"]
        raw = message.get("timestamp", message.get("originalTimestamp"))
        for expected in case.get("expected", []):
            assert parse_event_time(raw) == expected["event"]["event_time"], case["description"]
            checked += 1
    assert checked >= 4


# --- properties ------------------------------------------------------------------------

AWARE_ZONES = st.sampled_from(
    [
        UTC,
        NY,
        ZoneInfo("Asia/Kolkata"),
        ZoneInfo("Pacific/Kiritimati"),  # +14:00
        ZoneInfo("Pacific/Pago_Pago"),  # -11:00
        ZoneInfo("Australia/Lord_Howe"),  # half-hour DST
        timezone(timedelta(hours=-23, minutes=-59)),
        timezone(timedelta(hours=23, minutes=59)),
    ]
)
ZONES = st.one_of(st.none(), AWARE_ZONES)
JSONISH = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789-+:TZ. /WAMPamp,", max_size=40),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),
    st.booleans(),
    st.none(),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=AWARE_ZONES).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S")),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=500, deadline=None)
@given(value=JSONISH, tz=ZONES, dayfirst=st.booleans())
def test_never_raises_and_returns_int_or_none(
    value: object, tz: tzinfo | None, dayfirst: bool
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dateutil warning would be an escape hatch
        result = parse_event_time(value, tz=tz, dayfirst=dayfirst)
    assert result is None or type(result) is int


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(timezones=AWARE_ZONES))
def test_iso_round_trip(moment: datetime) -> None:
    expected = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)
    in_range = utc(1, 1, 1) <= expected <= utc(9999, 12, 31, 23, 59, 59)
    assert parse_event_time(moment.isoformat()) == (expected if in_range else None)


@settings(max_examples=300, deadline=None)
@given(seconds=st.integers(min_value=0, max_value=MS_THRESHOLD))
def test_seconds_and_milliseconds_agree(seconds: int) -> None:
    assert parse_event_time(seconds) == seconds
    assert parse_event_time(str(seconds)) == seconds
    if seconds * 1000 > MS_THRESHOLD:
        assert parse_event_time(seconds * 1000 + 999) == seconds
