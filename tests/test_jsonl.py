"""JSON lines: orjson's answers are the standard decoder's wherever orjson answers.

``inputs.jsonl.line_messages`` hands a line to orjson unless it holds a run of 19+ digits;
when orjson fails the line takes the standard decoder (``parse_json``, with the hooks that
refuse NaN, Infinity and huge numbers) for its exact message. So the property to hold is:
``line_messages`` gives exactly what the standard decoder gives (the same values, types
and key order, or the same error), and where orjson answered it was not looser.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbocli.inputs.jsonl import (
    block_lines,
    has_long_digit_run,
    jsonl_records,
    line_messages,
    parse_json,
    unbatch,
)
from fbocli.inputs.reader import Chunk


def _same(a: object, b: object) -> bool:
    # repr tells 1 from 1.0 from True, 0.0 from -0.0, and shows dict order.
    return type(a) is type(b) and repr(a) == repr(b)


def _fast(body: bytes) -> object:
    """What orjson answers for a line line_messages would give it, else _SLOW."""
    if has_long_digit_run(body):
        return _SLOW
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _SLOW


_SLOW = object()


def _agree(body: bytes) -> None:
    fast = _fast(body)
    messages, error = line_messages(body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        assert fast is _SLOW, f"orjson accepted invalid UTF-8: {body!r}"
        assert (messages, error is not None) == ([], True)
        return
    value, standard_error = parse_json(text)
    if fast is not _SLOW:
        assert standard_error is None, (
            f"orjson accepted what the standard path rejects: {body!r}: {standard_error}"
        )
        assert _same(fast, value), (body, fast, value)
    if standard_error is not None:
        assert (messages, error) == ([], standard_error)
    else:
        assert error is None
        assert _same(messages, unbatch(value)), (body, messages, value)


_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64]),
)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), _numbers, st.text()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.slow  # (a property test of hundreds of examples or more: CI runs it)
@settings(max_examples=1500, deadline=None)
@given(value=_json, ascii_only=st.booleans())
def test_serialized_json(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    _agree(text.encode("utf-8", "surrogatepass"))


_JSONISH = '{}[],:"\\ \t0123456789-+.eEtruefalsnNIiyu\x00\x1f\x7féd8a'


@settings(max_examples=3000, deadline=None)
@given(text=st.text(alphabet=_JSONISH, max_size=40))
def test_json_like_text(text: str) -> None:
    _agree(text.encode("utf-8"))


@settings(max_examples=2000, deadline=None)
@given(body=st.binary(max_size=40))
def test_arbitrary_bytes(body: bytes) -> None:
    _agree(body)


@pytest.mark.parametrize(
    "body",
    [
        b"1e999",
        b"-1e999",
        b"[1E400]",
        b"NaN",
        b"[Infinity]",
        b"-Infinity",
        b"123456789012345678901234567890",
        b"18446744073709551616",
        b"-9223372036854775809",
        b"9999999999999999999",
        b'"\\ud800"',
        b'"\\udc00\\ud800"',
        b'"\\ud83d\\ude00"',
        b'"\xed\xa0\x80"',
        b'"\xc0\xaf"',
        b'{"a":1,"b":2,"a":3}',
        b'{"a":1,}',
        b"[" * 2000 + b"]" * 2000,
        b"1" + b"0" * 5000,
        b'"a\x01"',
        b"0.1e-400",
        b"-0",
        b"-0.0",
    ],
)
def test_edge_cases(body: bytes) -> None:
    _agree(body)


def test_a_long_digit_run_takes_the_standard_path() -> None:
    assert has_long_digit_run(b"123456789012345678901234567890")
    assert has_long_digit_run(b'{"id":"1234567890123456789"}')
    assert not has_long_digit_run(b'{"id":"123456789012345678"}')
    assert not has_long_digit_run(b'{"a":"12345678901234567","b":12345678901234567}')
    # orjson would read this one as a float; the standard decoder keeps the integer
    assert line_messages(b"[123456789012345678901234567890]") == (
        [[123456789012345678901234567890]],
        None,
    )
    assert line_messages(b'{"id":"123456789012345678"}') == ([{"id": "123456789012345678"}], None)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"NaN", "NaN is not valid JSON"),
        (b"1e999", "number out of range"),
        (b'"\\ud800"', "lone UTF-16 surrogate"),
        (b"\xff", "invalid UTF-8 at byte 0"),
        (b"123456789012345678901234567890", None),
    ],
)
def test_records_keep_the_standard_answers(line: bytes, reason: str | None) -> None:
    (record,) = jsonl_records([line], "in.jsonl")
    if reason is None:
        assert record.error is None
        assert record.message == 123456789012345678901234567890
    else:
        assert record.error == "invalid_json"
        assert reason in record.detail


# --- whole blocks (the mapping workers' reader) --------------------------------------------

_LINES = st.one_of(
    _json.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"type": st.just("track"), "n": _numbers}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.sampled_from(
        [
            b"",
            b"  \t",
            b"\x0b{}\x0c",
            b"{not json",
            b"\xff",
            b'{"a":NaN}',
            b'"\\ud800"',
            b'{"batch":[{"type":"track"},5]}',
            b'{"batch":[]}',
            b'{"batch":1,"type":"track"}',
            b'{"id":12345678901234567890123}',
            b"\xef\xbb\xbf{}",
        ]
    ),
    st.binary(max_size=12),
)


def _block_view(block: bytes, first: int) -> list[str]:
    """The records of a block as a chunk gives them (one digit-run check per block)."""
    return [repr(r) for r in Chunk("in.jsonl", first, block).records()]


@pytest.mark.slow  # (a property test of hundreds of examples or more: CI runs it)
@settings(max_examples=600, deadline=None)
@given(
    lines=st.lists(_LINES, max_size=8),
    first=st.sampled_from([1, 2, 1000]),
    last_newline=st.booleans(),
)
def test_chunk_records_are_jsonl_records_line_by_line(
    lines: list[bytes], first: int, last_newline: bool
) -> None:
    """A chunk checks its block for digit runs once (not each line): the same records,
    values and types (repr), lines and errors as jsonl_records checking each line."""
    block = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    expected = [repr(r) for r in jsonl_records(block_lines(block), "in.jsonl", first)]
    assert _block_view(block, first) == expected


def test_a_digit_run_in_one_line_of_a_block_sends_its_lines_to_the_standard_decoder() -> None:
    block = b'{"a":1}\n{"id":12345678901234567890123}\n{"b":2.0}\n'
    expected = [repr(r) for r in jsonl_records(block.split(b"\n")[:-1], "in.jsonl", 1)]
    assert _block_view(block, 1) == expected
    assert "12345678901234567890123" in expected[1]  # an int, not orjson's float
