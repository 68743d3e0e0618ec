"""Fuzzing the readers and the mapper: no input can crash a run or lose a record.

Hypothesis feeds arbitrary bytes, deep and wide JSON, huge numbers, NaN/Infinity, odd
Unicode (escaped lone surrogates, RTL marks, combining marks) and CSV quoting chaos
through the real pipeline (``fbocli.validate`` on a temp file, and the reader, the
mapper and the payload builder directly). Properties: no exception escapes; every record
is accounted for (read == accepted + rejected + skipped, one rejects line per rejected
record); every built event is strict JSON (``allow_nan=False``) with an integer time.
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fbocli
from fbocli import wire
from fbocli.config import parse_settings
from fbocli.inputs.reader import open_input
from fbocli.mapping.message import Event, MapContext, map_message
from fbocli.settings import Settings
from tests.helpers import NOW_TS, check_summary

NOW = NOW_TS  # 2026-11-20T00:00:00Z
DS = "1234567890123456"
ROUTES = ["Order Completed", "Product Viewed", "Signed Up", "Demo Requested", "Custom Thing"]


def _settings(api: str = "conversions", ldu: bool = True) -> Settings:
    return parse_settings(
        {
            "destination": {"api": api},
            "events": {r: DS for r in ROUTES[:2] + ROUTES[4:]},
            "lead_events": {"Demo Requested": DS},
            "registration_events": {"Signed Up": [DS, "6543210987654321"]},
            "mapping": {"limited_data_use": ldu},
        },
    )


SETTINGS = {
    "capi": _settings(),
    "capi-no-ldu": _settings(ldu=False),
    "offline": _settings("offline"),
}
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ODD = [
    "\ud800",  # lone surrogates: valid as JSON escapes, not encodable as UTF-8
    "\udfff",
    "\ud83d\ude00",
    "\u202eevil\u202c",  # RTL override
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew
    "\u0645\u0631\u062d\u0628\u0627",  # Arabic
    "e\u0301",  # combining acute
    "\u0301\u0301\u0301",
    "\ufeff",
    "\x00",
    "\u0130stanbul",
    "\uff11\uff12\uff13",  # full-width digits
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "\u2167",
    "\U0001d7d8",
    "a@b.co",
    "  $1,234.56 ",
    "1e999",
    "NaN",
    "-0",
    "9" * 400,
    "",
]
odd_text = st.one_of(st.sampled_from(ODD), st.text(max_size=12))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    odd_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(odd_text, children, max_size=6)
    ),
    max_leaves=25,
)
timestamps = st.one_of(
    st.sampled_from(["2026-11-19T10:00:00Z", "2026-10-01 12:00", "19/11/2026", NOW - 5000]),
    st.integers(min_value=NOW - 70 * 86400, max_value=NOW + 100).map(str),
    st.integers(min_value=(NOW - 70 * 86400) * 1000, max_value=NOW * 1000),
    json_values,
)


def _field(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field that is usually plausible and sometimes anything at all."""
    return st.one_of(strategy, json_values)


traits = st.fixed_dictionaries(
    {},
    optional={
        "email": _field(st.sampled_from(["A@B.co", " x@y.com ", ["a@b.co", "c@d.org"]])),
        "phone": _field(st.sampled_from(["(401) 123-4567", "+44 20 7946 0958", 4011234567])),
        "firstName": _field(odd_text),
        "lastName": _field(odd_text),
        "name": _field(odd_text),
        "gender": _field(st.sampled_from(["m", "Female", "x"])),
        "birthday": _field(st.sampled_from(["1990-02-03", "03/02/1990", "garbage"])),
        "address": _field(
            st.fixed_dictionaries(
                {},
                optional={
                    "city": _field(odd_text),
                    "state": _field(st.sampled_from(["RI", "Rhode Island", "Bavaria"])),
                    "postalCode": _field(st.sampled_from(["02818-1234", "SW1A 1AA"])),
                    "country": _field(st.sampled_from(["US", "USA", "UK", "Narnia"])),
                },
            )
        ),
    },
)
properties = st.fixed_dictionaries(
    {},
    optional={
        "revenue": _field(st.sampled_from([10, 1.5, "$1,234.56", "12"])),
        "value": json_values,
        "price": json_values,
        "total": json_values,
        "currency": _field(st.sampled_from(["usd", "EUR", "XXX", "dollars"])),
        "order_id": json_values,
        "product_id": json_values,
        "category": json_values,
        "quantity": json_values,
        "products": _field(st.lists(st.dictionaries(odd_text, json_values, max_size=4))),
        "email": json_values,
        "extra": json_values,
    },
)
messages = st.fixed_dictionaries(
    {"event": _field(st.sampled_from(ROUTES))},
    optional={
        "type": _field(st.sampled_from(["track", "identify", "page"])),
        "messageId": _field(odd_text),
        "userId": _field(st.one_of(odd_text, st.integers())),
        "timestamp": timestamps,
        "originalTimestamp": timestamps,
        "properties": _field(properties),
        "context": _field(
            st.fixed_dictionaries(
                {},
                optional={
                    "traits": _field(traits),
                    "Facebook Offline Conversions": _field(
                        st.fixed_dictionaries({}, optional={"leadId": json_values})
                    ),
                },
            )
        ),
        "integrations": _field(
            st.fixed_dictionaries(
                {},
                optional={
                    "Facebook Offline Conversions": _field(
                        st.fixed_dictionaries({}, optional={"dataProcessingOptions": json_values})
                    )
                },
            )
        ),
    },
)


def _line(value: Any, ascii_only: bool) -> bytes:
    """JSON text the way odd producers write it: NaN allowed, surrogates escaped or raw."""
    text = json.dumps(value, allow_nan=True, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


def _checked_context(settings: Settings) -> MapContext:
    """A mapping context whose event builder checks each event before it is encoded:
    strict JSON, an integer time inside the window."""
    ctx = MapContext(settings, NOW)
    build = ctx.build

    def checked(*args: Any) -> dict[str, Any]:
        event = build(*args)
        # strict JSON; (UTF-8 encodability: see the lone-surrogate test below)
        json.dumps(event, allow_nan=False)
        assert type(event["event_time"]) is int
        assert ctx.oldest <= event["event_time"] <= ctx.newest
        return event

    object.__setattr__(ctx, "build", checked)
    return ctx


def _check_run(data: bytes, suffix: str, settings: Settings) -> dict[str, Any]:
    """validate + the reader/mapper/builder directly; returns the validate summary."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        rejects = Path(tmp) / "rejects.jsonl"
        result = fbocli.validate(
            [path], settings, now=NOW, rejects=rejects, state_dir=Path(tmp) / "state"
        )
        summary = check_summary(result.to_dict())
        records = summary["records"]
        lines = rejects.read_bytes().splitlines() if rejects.exists() else []
        assert len(lines) == records["rejected"]
        for line in lines:
            json.loads(line)

        ctx = _checked_context(settings)
        read = built = 0
        with open_input(str(path), "auto", settings.csv) as reader:
            for record in reader.records():
                read += 1
                if record.error is not None:
                    assert record.error in ("invalid_json", "invalid_row")
                    continue
                outcome = map_message(record.message, ctx, record.source, record.line)
                assert outcome.status in ("accepted", "rejected", "skipped")
                assert bool(outcome.events) == (outcome.status == "accepted")
                for event in outcome.events:
                    assert type(event) is Event
                    assert event.to_dict()["event_time"] == event.event_time
                    built += 1
        assert read == records["read"]
        assert built == summary["events"]["built"]
    return summary


@FUZZ
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".jsonl", ".csv", ".json"]))
def test_arbitrary_bytes(data: bytes, suffix: str) -> None:
    _check_run(data, suffix, SETTINGS["capi"])


@pytest.mark.slow  # the whole pipeline per example
@FUZZ
@given(
    values=st.lists(json_values, min_size=1, max_size=8),
    ascii_only=st.booleans(),
)
def test_arbitrary_json_lines(values: list[Any], ascii_only: bool) -> None:
    lines = [_line(v, ascii_only) for v in values]
    _check_run(b"\n".join(lines) + b"\n", ".jsonl", SETTINGS["capi"])


@pytest.mark.slow  # the whole pipeline per example
@FUZZ
@given(
    batch=st.lists(messages, min_size=1, max_size=10),
    ascii_only=st.booleans(),
    config=st.sampled_from(sorted(SETTINGS)),
)
def test_segment_like_messages_every_record_counted(
    batch: list[dict[str, Any]], ascii_only: bool, config: str
) -> None:
    lines = [_line(m, ascii_only) for m in batch]
    summary = _check_run(b"\n".join(lines), ".jsonl", SETTINGS[config])
    assert summary["records"]["read"] == len(batch)  # one record per message, none lost


@pytest.mark.slow  # the whole pipeline per example
@FUZZ
@given(batch=st.lists(messages, min_size=1, max_size=6), config=st.sampled_from(sorted(SETTINGS)))
def test_batch_envelopes(batch: list[dict[str, Any]], config: str) -> None:
    line = _line({"batch": batch}, True)
    summary = _check_run(line + b"\n" + line, ".jsonl", SETTINGS[config])
    # a line with NaN/Infinity/1e999 or a lone surrogate is one invalid_json record;
    # else one record per message
    assert summary["records"]["read"] == 2 * (len(batch) if _strict(line) else 1)


def _strict(line: bytes) -> bool:
    def refuse(_: str) -> None:
        raise ValueError

    try:
        value = json.loads(line, parse_constant=refuse)
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # a lone surrogate fails here
    except ValueError:  # UnicodeEncodeError included
        return False
    return True


csv_cells = st.one_of(
    odd_text,
    st.sampled_from(['"', '""', '"a,b"', "a\nb", "a\r\nb", ";", "\t", ",", "'", "\\", '"x"y']),
)


@FUZZ
@given(
    header=st.lists(
        st.one_of(
            st.sampled_from(["Email", "Phone", "Total", "Date", "Order ID", "Event", "City"]),
            csv_cells,
        ),
        min_size=1,
        max_size=7,
    ),
    rows=st.lists(st.lists(csv_cells, max_size=8), max_size=8),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    quote_all=st.booleans(),
)
def test_csv_quoting_chaos(
    header: list[str], rows: list[list[str]], delimiter: str, quote_all: bool
) -> None:
    def cell(text: str) -> str:
        if quote_all or any(c in text for c in (delimiter, '"', "\n", "\r")):
            return '"' + text.replace('"', '""') + '"'
        return text  # raw: stray quotes and all

    lines = [delimiter.join(cell(c) for c in row) for row in [header, *rows]]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    _check_run(data, ".csv", SETTINGS["capi"])


@FUZZ
@given(raw=st.lists(st.text(alphabet=string.printable, max_size=40), max_size=10))
def test_csv_raw_text(raw: list[str]) -> None:
    _check_run("\n".join(raw).encode(), ".csv", SETTINGS["offline"])


def test_deep_and_wide_json_and_huge_numbers() -> None:
    """Fixed nasties hypothesis rarely reaches: recursion limits and number limits."""
    good = {
        "event": "Order Completed",
        "messageId": "m1",
        "timestamp": "2026-11-19T10:00:00Z",
        "context": {"traits": {"email": "a@b.co"}},
    }
    lines = [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        json.dumps({**good, "properties": {"revenue": 1, "deep": _nest(400)}}).encode(),
        json.dumps(
            {**good, "properties": {f"k{i}": i for i in range(20_000)} | {"revenue": 1}}
        ).encode(),
        json.dumps({**good, "properties": {"revenue": 1}}).replace("1}", "1e999}").encode(),
        json.dumps({**good, "properties": {"revenue": 1}}).replace("1}", "9" * 5000 + "}").encode(),
        json.dumps({**good, "properties": {"revenue": float("nan")}}).encode(),
        json.dumps({**good, "properties": {"revenue": float("-inf")}}).encode(),
        json.dumps({**good, "timestamp": 10**30, "properties": {"revenue": 1}}).encode(),
        json.dumps({**good, "timestamp": 1e300, "properties": {"revenue": 1}}).encode(),
        json.dumps({**good, "timestamp": -(10**18), "properties": {"revenue": 1}}).encode(),
        json.dumps({**good, "properties": {"revenue": 10**300}}).encode(),
        json.dumps({**good, "properties": {"revenue": "1" + "0" * 400}}).encode(),
        json.dumps({**good, "properties": {"revenue": 1, "quantity": 10**30}}).encode(),
    ]
    for config in SETTINGS.values():
        summary = _check_run(b"\n".join(lines), ".jsonl", config)
        assert summary["records"]["read"] == len(lines)


def _nest(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


@pytest.mark.parametrize(
    "fields",
    [
        {"messageId": "m\ud800"},
        {"properties": {"revenue": 1, "note": "\udfff"}},
        {"properties": {"revenue": 1, "order_id": "\ud83d"}},
    ],
    ids=["message-id", "custom-property", "order-id"],
)
def test_lone_surrogate_never_reaches_a_request_body(fields: dict[str, Any]) -> None:
    """Either the record is rejected, or its event encodes as graph.py encodes bodies."""
    message = {
        "event": "Order Completed",
        "messageId": "m1",
        "timestamp": "2026-11-19T10:00:00Z",
        "properties": {"revenue": 1},
        "context": {"traits": {"email": "a@b.co"}},
        **fields,
    }
    settings = SETTINGS["capi"]
    ctx = MapContext(settings, NOW)
    line = json.dumps(message).encode()  # ASCII: the surrogate travels as a \u escape
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_bytes(line + b"\n")
        with open_input(str(path), "auto", settings.csv) as reader:
            (record,) = list(reader.records())
    outcome = map_message(record.message, ctx, record.source, record.line)
    for event in outcome.events:
        wire.body({}, [event.wire]).decode("utf-8")  # a request body is valid UTF-8
