"""The mapper's fast paths give exactly what the general paths they shortcut give.

``map_record`` and the helpers it calls special-case the exact JSON types (``type(x) is
str``, ``int``, ``float``, ``dict``) to skip calls; everything else takes the general
code. So the same message with every value wrapped in a subclass of its type (equal,
same ``repr``, but never ``type(x) is str``) goes through the general code everywhere:
both outcomes must have the same ``repr``, which covers status, reason, detail, and the
user/custom dicts' keys, key order and value types (``1`` vs ``1.0`` vs ``"1"``).
The smaller shortcuts (timestamps, hashing, phone separators, ``Conversion``
construction, the routes and consumed-keys tables) are checked against their originals.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import pickle
import re
import sys
from datetime import UTC, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fbocli import mapping, parallel
from fbocli.config import parse_settings
from fbocli.mapping import Conversion, MapContext, map_record
from fbocli.normalize import (
    _without_separators,
    hash_email,
    hash_key,
    hash_phone,
    is_sha256_hex,
    norm_country,
    norm_email,
    norm_phone,
    sha256_hex,
)
from fbocli.readers import Record
from fbocli.settings import Settings
from fbocli.timeparse import parse_event_time, parse_general, plain_iso
from tests.test_fuzz import messages

ROOT = Path(__file__).resolve().parent.parent
NOW = 1795132800  # 2026-11-20T00:00:00Z
DS, DS2 = "1234567890123456", "6543210987654321"


def _settings(**mapping_options: Any) -> Settings:
    api = mapping_options.pop("api", "conversions")
    return parse_settings(
        {
            "destination": {"api": api},
            "events": {
                name: DS
                for name in (
                    *("Order Completed", "Product Viewed", "Product Added", "Checkout Started"),
                    *("Product List Viewed", "Store Visit", "Custom Thing"),
                )
            },
            "lead_events": {"Lead Captured": DS2, "Demo Requested": DS, "Order Completed": DS2},
            "registration_events": {"Signed Up": [DS2, DS]},
            "mapping": mapping_options,
        },
        env={},
    )


SETTINGS = {
    "default": _settings(),
    "ldu": _settings(limited_data_use=True),
    "offline": _settings(api="offline"),
    "price-eur": _settings(value_field="price", default_currency="EUR"),
    "plain-ids-no-country": _settings(hash_external_id=False, default_country=""),
    "new-york-gb": _settings(timezone="America/New_York", default_country="gb"),
}


# --- the same message, through the general code ------------------------------------------


class _Str(str):
    __slots__ = ()


class _Int(int):
    __slots__ = ()


class _Float(float):
    __slots__ = ()


class _Dict(dict[Any, Any]):
    pass


class _List(list[Any]):
    pass


def _general(value: Any) -> Any:
    """``value`` with every str, int, float, dict and list replaced by an equal subclass
    instance (bool and None stay: they have no fast path of their own)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _Str(value)
    if isinstance(value, int):
        return _Int(value)
    if isinstance(value, float):
        return _Float(value)
    if isinstance(value, dict):
        return _Dict({key: _general(item) for key, item in value.items()})
    if isinstance(value, list):
        return _List(_general(item) for item in value)
    return value


def _both_ways(message: Any, ctx: MapContext, dayfirst: bool = False) -> None:
    fast = map_record(Record("in.jsonl", 3, message, dayfirst=dayfirst), ctx)
    slow = map_record(Record("in.jsonl", 3, _general(message), dayfirst=dayfirst), ctx)
    assert repr(fast) == repr(slow)
    for conv in fast.conversions:  # the fast path's own output uses plain JSON types only
        assert type(conv) is Conversion and conv.wire is None
        for value in (*conv.user.values(), *conv.custom.values()):
            assert type(value) in (str, int, float, bool, list, dict, type(None)), value


def _bench_events(n: int, seed: int) -> tuple[int, list[dict[str, Any]]]:
    """(its ``now``, ``n`` events) from the benchmark's generator: the realistic mix."""
    spec = importlib.util.spec_from_file_location("fbocli_bench", ROOT / "benchmarks" / "bench.py")
    assert spec is not None and spec.loader is not None
    bench = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(bench)
    return bench.NOW_S, list(itertools.islice(bench.events(n, seed=seed), n))


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_fast_path_matches_general_path_on_benchmark_events(name: str) -> None:
    now, events = _bench_events(400, seed=11)
    ctx = MapContext.create(SETTINGS[name], now)
    for message in events:
        _both_ways(message, ctx)


def test_fast_path_matches_general_path_on_the_sample_export() -> None:
    path = ROOT / "sample_data" / "segment-export.jsonl"
    lines = []
    for line in path.read_text("utf-8").split("\n"):
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue  # the file's deliberately broken lines never reach the mapper
    assert len(lines) > 10
    for settings_ in SETTINGS.values():
        for now in (NOW, 1795910400):
            ctx = MapContext.create(settings_, now)
            for message in lines:
                _both_ways(message, ctx)


def test_fast_path_matches_general_path_on_golden_inputs(shared_dir: Path) -> None:
    golden = json.loads((shared_dir / "examples" / "golden.json").read_text("utf-8"))
    for settings_ in SETTINGS.values():
        ctx = MapContext.create(settings_, NOW)
        for case in golden["cases"]:
            _both_ways(case["input"], ctx)


_BASE: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "messageId": "m1",
    "userId": "u1",
    "timestamp": "2026-11-19T10:00:00Z",
    "properties": {
        "revenue": 10,
        "currency": "USD",
        "products": [{"product_id": "p1", "quantity": 2, "price": 5.5}],
        "order_id": "o1",
        "category": "Shoes",
    },
    "context": {
        "traits": {
            "email": "a@b.co",
            "firstName": "Zoë",
            "address": {"country": "US", "state": "Rhode Island", "postalCode": "02818-1234"},
        }
    },
}
_FIELDS = [
    *[("properties", key) for key in ("revenue", "value", "price", "total", "currency")],
    *[("properties", key) for key in ("order_id", "product_id", "quantity", "category", "x")],
    *[("properties", "products", 0, key) for key in ("product_id", "id", "quantity", "price")],
    ("properties", "products"),
    ("messageId",),
    ("userId",),
    ("timestamp",),
    *[("context", "traits", key) for key in ("email", "phone", "gender", "firstName", "name")],
    *[("context", "traits", "address", key) for key in ("state", "postalCode", "country")],
    ("context", "traits", "address", "city"),
]
_VALUES = [
    *(0, -1, 1, 2.0, 2.5, -0.0, 10**20, 2**1000, 2**1024, float("nan"), float("inf")),
    *("", " ", "3", " $1,234.50 ", " p2 ", "Rhode Island", "Narnia", "usa", "eur"),
    *("(415) 555-0123", "+44 20 7946 0958", "Mary Ann", "A@B.CO ", "a" * 64, "l:12"),
    *("2026-11-19 10:00:00", "2026-11-19T10:00:00.5Z", "2026-11-19T15:30:00+05:30"),
    *(True, None, [], {}, [1, "1"], {"email": "e", "n": 1.0}),
]


@pytest.mark.parametrize("event", ["Order Completed", "Product Viewed", "Product List Viewed"])
def test_fast_path_matches_general_path_on_each_edge_value(event: str) -> None:
    # One field at a time set to each edge value, under every setting (deterministic:
    # a random search would rarely hit, say, a NaN revenue on an Order Completed).
    for name in sorted(SETTINGS):
        ctx = MapContext.create(SETTINGS[name], NOW)
        for path in _FIELDS:
            for value in _VALUES:
                message = json.loads(json.dumps({**_BASE, "event": event}))
                *parents, last = path
                target = message
                for key in parents:
                    target = target[key]
                target[last] = value
                _both_ways(message, ctx)
        _both_ways({**_BASE, "event": event}, ctx)


# Plausible values that hit each fast path's edges (the fuzz strategy adds chaos).
_EDGE_VALUES = st.sampled_from(
    [0, -1, 1, 2.0, 2.5, -0.0, 10**20, 2**1000, 2**1024, float("nan"), float("inf"),
     "", " ", "3", " $1,234.50 ", "x", True, False, None, [], {}, [1], {"a": 1}]
)  # fmt: skip
_PRODUCTS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "product_id": st.one_of(_EDGE_VALUES, st.sampled_from(["p1", " p2 ", "p1"])),
            "id": st.one_of(_EDGE_VALUES, st.just("alt")),
            "quantity": _EDGE_VALUES,
            "price": _EDGE_VALUES,
        },
    )
    | _EDGE_VALUES,
    max_size=4,
)
_PLAUSIBLE = st.fixed_dictionaries(
    {
        "type": st.just("track"),
        "event": st.sampled_from(
            [
                "Order Completed",
                "Product Viewed",
                "Product List Viewed",
                "Lead Captured",
                "Signed Up",
                "Nope",
            ]
        ),
        "timestamp": st.sampled_from(
            [
                "2026-11-19T10:00:00Z",
                "2026-11-19T10:00:00.123Z",
                "2026-11-19 10:00:00",
                "2026-11-19T10:00:00+05:30",
                "2026-11-19T10:00:00.1234567Z",
                "2026-11-19",
                "2026-09-01T00:00:00Z",
                "2026-11-21T00:00:00Z",
                1795000000,
                "1795000000",
            ]
        ),
    },
    optional={
        "messageId": st.one_of(_EDGE_VALUES, st.sampled_from(["m1", " m2 "])),
        "userId": st.one_of(_EDGE_VALUES, st.sampled_from(["u1", " U2 ", "A" * 64, 12])),
        "properties": st.fixed_dictionaries(
            {},
            optional={
                "revenue": _EDGE_VALUES,
                "total": _EDGE_VALUES,
                "value": _EDGE_VALUES,
                "price": _EDGE_VALUES,
                "currency": st.sampled_from(["usd", " EUR ", "", None, "XXX", 5]),
                "products": _PRODUCTS,
                "product_id": _EDGE_VALUES,
                "quantity": _EDGE_VALUES,
                "category": _EDGE_VALUES,
                "order_id": st.one_of(_EDGE_VALUES, st.just(" SO-1 ")),
                "email": st.sampled_from(["p@q.io", ""]),
                "phone": st.sampled_from(["+44 20 7946 0958", 4155550123]),
                "coupon": _EDGE_VALUES,
                "nested": st.just({"email": "x@y.z", "n": [1.5, float("nan")]}),
            },
        ),
        "context": st.fixed_dictionaries(
            {},
            optional={
                "traits": st.fixed_dictionaries(
                    {},
                    optional={
                        "email": st.sampled_from(
                            [" A@B.co ", "no", "", None, ["a@b.co", "a@b.co", 3], "c" * 64]
                        ),
                        "phone": st.sampled_from(
                            [
                                "(415) 555-0123",
                                "+44 20 7946 0958",
                                "020 7946 0958",
                                "",
                                4155550123,
                                4155550123.0,
                                ["x", "+1 415 555 0123"],
                                "d" * 64,
                            ]
                        ),
                        "gender": st.sampled_from(["m", " Female ", "x", "", 1]),
                        "firstName": st.sampled_from(["Zoë", "", None, 7]),
                        "lastName": st.sampled_from(["O'Brien", ""]),
                        "name": st.sampled_from(["Mary Ann Smith", "Cher", "", 3]),
                        "birthday": st.sampled_from(["1990-02-03", "03/02/1990", "e" * 64]),
                        "address": st.fixed_dictionaries(
                            {},
                            optional={
                                "city": st.sampled_from(["Montréal", "", 5]),
                                "state": st.sampled_from(["RI", "Quebec", "Bavaria", ""]),
                                "postalCode": st.sampled_from(["02818-1234", "SW1A 1AA", 2818]),
                                "country": st.sampled_from(
                                    ["US", "usa", "UK", "Canada", "Narnia", "", "f" * 64, 1]
                                ),
                            },
                        ),
                    },
                ),
                "Facebook Offline Conversions": st.fixed_dictionaries(
                    {}, optional={"leadId": st.sampled_from(["l:123", 42, "x"])}
                ),
            },
        ),
    },
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    message=_PLAUSIBLE | messages,
    name=st.sampled_from(sorted(SETTINGS)),
    dayfirst=st.booleans(),
)
def test_fast_path_matches_general_path_on_any_message(
    message: dict[str, Any], name: str, dayfirst: bool
) -> None:
    _both_ways(message, MapContext.create(SETTINGS[name], NOW), dayfirst)


# --- the smaller shortcuts ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_routes_table_is_settings_routes(name: str) -> None:
    settings_ = SETTINGS[name]
    ctx = MapContext.create(settings_, NOW)
    names = {*settings_.events, *settings_.lead_events, *settings_.registration_events}
    for event in [*names, "Unlisted", "", "order completed"]:
        assert ctx.routes.get(event, ()) == settings_.routes(event)
    assert pickle.loads(pickle.dumps(ctx)).routes == ctx.routes  # as sent to a worker


def test_a_conversion_rebuilt_from_its_fields_is_the_same_immutable_conversion() -> None:
    """What fbocli.parallel does with the plain tuples a worker sends."""
    args = ("ds", "Purchase", 1794705804, "m1", {"em": ["h"]}, {"value": 1.5}, None, "f", 7)
    made = Conversion(*args)
    rebuilt = parallel.conversions([(*args, None)])[0]
    assert type(rebuilt) is Conversion
    assert rebuilt == made and repr(rebuilt) == repr(made)
    assert rebuilt.line == 7 and rebuilt.wire is None
    with pytest.raises(AttributeError):
        rebuilt.line = 8  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(made)) == made


@pytest.mark.parametrize("value_key", [None, "", "revenue", "total", "value", "price", "odd"])
@pytest.mark.parametrize("category_used", [False, True])
def test_skipped_keys_are_the_consumed_and_standard_ones(
    value_key: str | None, category_used: bool
) -> None:
    consumed = {"currency", "products", "product_id", "order_id", "email", "phone"}
    if value_key:
        consumed.add(value_key)
    if category_used:
        consumed.add("category")
    expected = consumed | mapping.STANDARD_CUSTOM
    assert mapping._skipped(value_key, category_used) == expected
    assert mapping._SKIPPED[(value_key, category_used)] == expected


_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="0123456789 ().-+abc@xyz\u00a0\t", max_size=24),
    st.sampled_from(["a" * 64, " " + "AB" * 32 + " ", "g" * 64, "(415) 555-0123", "A@B.CO"]),
)


@settings(max_examples=400, deadline=None)
@given(value=_TEXT, region=st.sampled_from(["", "us", "ca", "gb", "de", "fr", "xx"]))
@example(value="\ud800@b.co", region="us")
def test_hash_email_and_phone_are_hash_key(value: str, region: str) -> None:
    def same(fast: Any, slow: Any) -> None:
        try:
            expected = slow()
        except UnicodeEncodeError as exc:  # a lone surrogate: the same error either way
            with pytest.raises(UnicodeEncodeError, match=re.escape(str(exc))):
                fast()
        else:
            assert fast() == expected

    same(lambda: hash_email(value), lambda: hash_key(value, norm_email))
    same(
        lambda: hash_phone(value, region),
        lambda: hash_key(value, lambda v: norm_phone(v, region)),
    )


@settings(max_examples=300, deadline=None)
@given(value=_TEXT)
def test_separators_are_removed_like_the_regex(value: str) -> None:
    assert _without_separators(value) == re.sub(r"[ ().-]+", "", value)


@settings(max_examples=300, deadline=None)
@given(raw=_TEXT | st.sampled_from(["US", " usa ", "UK", "Canada", "Narnia", "F" * 64]))
def test_country_memo_matches_the_rule(raw: str) -> None:
    country = norm_country(raw)
    stripped = raw.strip()
    if len(stripped) == 64 and is_sha256_hex(stripped):
        expected = (country, stripped.lower())
    else:
        expected = (country, sha256_hex(country) if country else None)
    assert mapping._country(raw) == expected
    assert mapping._country(raw) == expected  # from the memo


# --- event_time -----------------------------------------------------------------------------

ZONES = [
    None,
    UTC,
    ZoneInfo("America/New_York"),
    ZoneInfo("Australia/Lord_Howe"),
    timezone(timedelta(hours=5, minutes=30)),
]


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


_PLAIN_TIMES = st.builds(
    lambda y, mo, d, sep, h, mi, s, tail: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{tail}",
    st.integers(1890, 3010).map(str) | st.sampled_from(["0099", "9999", "２０２６"]),
    _two(0, 13),
    _two(0, 32),
    st.sampled_from(["T", " ", "t", "x"]),
    _two(0, 25),
    _two(0, 61),
    _two(0, 61),
    st.one_of(
        st.sampled_from(["", "Z", "z", "+00:00", "-00:00", "+05:30", "-12:00", "+14:00"]),
        st.sampled_from(["+23:59", "-23:59", "+24:00", "+0530", "+05", "+05:30:15", " "]),
        st.builds(
            lambda sign, h, m: f"{sign}{h}:{m}", st.sampled_from("+-"), _two(0, 25), _two(0, 61)
        ),
        st.text(alphabet="0123456789", min_size=0, max_size=9).map(lambda f: f".{f}Z"),
        st.text(alphabet="0123456789٠５", min_size=1, max_size=7).map(lambda f: f".{f}Z"),
        st.text(max_size=6),
    ),
)


def _mutated(text: str, data: st.DataObject) -> str:
    """``text`` with one character replaced, inserted or removed."""
    if not text or not data.draw(st.booleans()):
        return text
    at = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.sampled_from(["0", "9", "-", ":", "T", " ", "Z", "+", ".", "١", "é"]))
    how = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    if how == "replace":
        return text[:at] + char + text[at + 1 :]
    if how == "insert":
        return text[:at] + char + text[at:]
    return text[:at] + text[at + 1 :]


@settings(max_examples=1500, deadline=None)
@given(text=_PLAIN_TIMES, tz=st.sampled_from(ZONES), dayfirst=st.booleans(), data=st.data())
@example(text="2026-11-16T22:31:14.645Z", tz=None, dayfirst=False, data=None)
@example(text="2026-02-29T10:00:00Z", tz=None, dayfirst=False, data=None)
@example(text="2028-02-29 23:59:59", tz=None, dayfirst=False, data=None)
@example(text="1900-01-01T00:00:00+14:00", tz=None, dayfirst=False, data=None)
def test_plain_iso_fast_path_matches_the_general_parser(
    text: str, tz: tzinfo | None, dayfirst: bool, data: st.DataObject | None
) -> None:
    if data is not None:
        text = _mutated(text, data)
    assert parse_event_time(text, tz=tz, dayfirst=dayfirst) == parse_general(text, tz, dayfirst)


def test_plain_iso_fast_path_matches_the_general_parser_on_a_grid() -> None:
    # Every boundary of the shape, deterministically: dates (leap days, month and year
    # limits), hours up to 25, minutes and seconds up to 60, each kind of tail.
    dates = ["2026-11-16", "2028-02-29", "2026-02-29", "2026-04-31", "2026-13-01", "2026-00-01"]
    dates += ["1899-12-31", "1900-01-01", "2999-12-31", "3000-01-01", "1970-01-01"]
    tails = ["", "Z", ".123Z", ".123456Z", ".1Z", "+05:30", "-23:59", "+24:00", "-00:60", "z"]
    clock = [(0, 0), (30, 15), (59, 59), (60, 0), (0, 60)]
    for day, sep, hour, (minute, second), tail, tz in itertools.product(
        dates, "T ", [0, 1, 9, 10, 19, 20, 23, 24, 25], clock, tails, [None, ZONES[2]]
    ):
        text = f"{day}{sep}{hour:02d}:{minute:02d}:{second:02d}{tail}"
        assert parse_event_time(text, tz=tz) == parse_general(text, tz, False), text


def test_every_utc_offset_is_read_like_the_general_parser() -> None:
    # The fast path learns offsets as it meets them: each one, and the near misses.
    valid = [f"{sign}{h:02d}:{m:02d}" for sign in "+-" for h in range(24) for m in range(60)]
    tails = [f"{sign}{h:02d}:{m:02d}" for sign in "+-" for h in range(26) for m in range(62)]
    tails += ["+5:30", "+05:3", "+05-30", "+05:3a", "+0530", "±05:30", "+٠٥:٣٠", "+05:30Z"]
    for tail in tails:
        text = f"2026-11-16T22:31:14{tail}"
        assert parse_event_time(text) == parse_general(text, None, False), text
    for tail in valid:  # not vacuous: each of these takes the fast path
        assert plain_iso(f"2026-11-16T22:31:14{tail}", None) is not None, tail


def test_plain_iso_fast_path_takes_the_common_shapes() -> None:
    # Not vacuous: these must not fall through to the general parser.
    for text in [
        "2026-11-16T22:31:14Z",
        "2026-11-16T22:31:14.645Z",
        "2026-11-16T22:31:14.645123Z",
        "2026-11-16T22:31:14+05:30",
        "2026-11-16T22:31:14-08:00",
        "2026-11-16 22:31:14",
    ]:
        fast = plain_iso(text, None)
        assert fast is not None and fast == parse_general(text, None, False), text
    assert plain_iso("2026-11-16 22:31:14", ZoneInfo("America/New_York")) is None


# --- the worker's shortcuts: map_message, inlined counting, SHA-256, capi_event -----------


@settings(max_examples=300, deadline=None)
@given(delta=st.integers(-(10**8), 10**8) | st.sampled_from([0, 1, -1, 59, 60]))
def test_tally_age_is_age_label(delta: int) -> None:
    from fbocli.report import AGE_BUCKETS, Tally, _age_label

    tally = Tally(NOW)
    for days, _ in AGE_BUCKETS:  # each bucket's limit, to the second
        for near in (-1, 0, 1):
            when = NOW - days * 86400 + near
            assert tally.age(when) == _age_label(NOW, when), (days, near)
    assert tally.age(NOW + delta) == _age_label(NOW, NOW + delta)


def _worker_lines(now: int) -> list[bytes]:
    """Benchmark events, some at the age buckets' limits, plus lines every path meets."""
    _, events = _bench_events(300, seed=5)
    lines = []
    for n, message in enumerate(events):
        if n % 3 == 0:  # ages at a bucket limit, a second either side, and in the future
            days = (0, 2, 7, 28, 62)[n % 5]
            message["timestamp"] = now - days * 86400 + (n % 7) - 3
        lines.append(json.dumps(message).encode())
    lines[5:5] = [b"", b"{nope", b"[1]", b'{"type":"identify"}', b'{"batch":[{"event":"x"}]}']
    lines.append(b'{"type":"track","event":"Order Completed","properties":{"revenue":1}}')
    return lines


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_map_chunk_is_per_record_mapping_and_counting(name: str) -> None:
    """What a worker returns for a block: the rejects and events of mapping each record
    (map_message instead of map_record), and counts that merge into exactly the per-record
    RunStats.count, whatever the blocks' boundaries."""
    from fbocli.payload import event_builder
    from fbocli.readers import block_lines, jsonl_records
    from fbocli.report import RunStats
    from tests.test_fastpaths import _stats_view

    now, _ = _bench_events(1, seed=5)
    ctx = MapContext.create(SETTINGS[name], now)
    lines = _worker_lines(now)
    serialize = parallel.serializer(event_builder(ctx.settings))
    expected = RunStats(now=now)
    rejects, events = [], []
    for record in jsonl_records(lines, "in.jsonl"):
        outcome = map_record(record, ctx)
        expected.count(record, outcome)
        if outcome.status == "rejected":
            kept = record.message if record.error is None else record.raw
            rejects.append((record.line, outcome.reason, outcome.detail, kept))
        for c in outcome.conversions:
            events.append((*c[:4], {}, {}, None, "in.jsonl", record.line, serialize(c)))
    assert expected.accepted and expected.rejected and expected.skipped
    saved = parallel._ctx, parallel._serialize
    parallel._ctx, parallel._serialize = ctx, serialize
    try:
        for size in (1, 7, len(lines)):
            merged = RunStats(now=now)
            got_rejects, got_events = [], []
            for start in range(0, len(lines), size):
                block = b"\n".join(lines[start : start + size]) + b"\n"
                assert len(block_lines(block)) == len(lines[start : start + size])
                tally, rejected, packed = parallel.map_chunk(("in.jsonl", start + 1, block))
                merged.merge(pickle.loads(pickle.dumps(tally)))
                got_rejects += rejected
                got_events += packed
            assert repr(got_rejects) == repr(rejects)
            assert repr(got_events) == repr(events)
            assert _stats_view(merged) == _stats_view(expected)
            for what in ("coverage", "ages", "by_event", "reasons", "skips"):  # and order
                assert list(getattr(merged, what)) == list(getattr(expected, what)), what
    finally:
        parallel._ctx, parallel._serialize = saved


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300) | _TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_short_input_sha256_is_sha256(data: bytes) -> None:
    import hashlib

    from fbocli.normalize import sha256

    assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "extra",
    [{}, {"doby": "y"}, {"dobm": "m"}, {"dobd": "d"}, {"doby": "y", "dobm": "m", "dobd": "d"}],
)
@pytest.mark.parametrize("ldu", [None, ([], None, None), (["LDU"], 1, 1000), (["LDU"], 0, None)])
def test_capi_event_drops_birth_parts_and_adds_ldu(extra: dict[str, str], ldu: Any) -> None:
    from fbocli.payload import ACTION_SOURCE, capi_event

    user = {"em": ["e"], **extra, "db": "b"}
    conv = Conversion(DS, "Purchase", NOW, "id", user, {"currency": "USD"}, ldu, "f", 1)
    expected: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW,
        "action_source": ACTION_SOURCE,
        "event_id": "id",
        "user_data": {"em": ["e"], "db": "b"},
        "custom_data": {"currency": "USD"},
    }
    if ldu is not None:
        expected["data_processing_options"] = ldu[0]
        if ldu[1] is not None:
            expected["data_processing_options_country"] = ldu[1]
        if ldu[2] is not None:
            expected["data_processing_options_state"] = ldu[2]
    event = capi_event(conv)
    assert repr(event) == repr(expected)
    assert event["user_data"] is user if not extra else event["user_data"] is not user
