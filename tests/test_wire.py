"""The JSON that leaves fbocli: events encoded once, request bodies spliced from them.

A request body is the events' texts joined into ``{..., "data": [...]}`` rather than one
encoding of the whole body; it must be the same JSON value and, compact JSON being
compositional, the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbocli import wire

# Mapping lets only finite numbers through (tests/test_fuzz.py), so none are generated.
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
_events = st.lists(st.dictionaries(st.text(max_size=8), _json_values, max_size=4), max_size=5)


def _fits_64_bits(value: object) -> bool:
    if isinstance(value, dict):
        return all(_fits_64_bits(v) for v in value.values())
    if isinstance(value, list):
        return all(_fits_64_bits(v) for v in value)
    return not isinstance(value, int) or -(2**63) <= value < 2**64


@pytest.mark.slow  # (a property test of hundreds of examples or more: CI runs it)
@settings(max_examples=300, deadline=None)
@given(
    extra=st.dictionaries(st.sampled_from(["upload_tag", "test_event_code"]), st.text()),
    events=_events,
)
def test_spliced_body_equals_one_encoding_of_the_body(
    extra: dict[str, str], events: list[dict[str, Any]]
) -> None:
    body = wire.body(extra, [wire.dumps(e) for e in events])
    # The same JSON value, with its types (1 is not 1.0) and key order ...
    parsed = json.loads(body)
    assert repr(parsed) == repr({**extra, "data": events})
    # ... and, compact JSON being compositional, the same bytes as one encoding of the
    # whole body (an integer beyond 64 bits makes that one encoding take json.dumps).
    if _fits_64_bits(events):
        assert body == wire.dumps({**extra, "data": events})


def test_bodies_of_no_extra_and_of_no_events() -> None:
    assert wire.body({}, [b'{"a":1}', b"2"]) == b'{"data":[{"a":1},2]}'
    assert wire.body({"upload_tag": "x"}, []) == b'{"upload_tag":"x","data":[]}'
    assert wire.body({}, []) == b'{"data":[]}'


def test_wire_json_is_compact_utf8_and_takes_any_integer() -> None:
    assert wire.dumps({"a": [1, 2.5, "é"], "b": None}) == '{"a":[1,2.5,"é"],"b":null}'.encode()
    assert wire.dumps({"n": 2**70, "x": 0.5}) == b'{"n":1180591620717411303424,"x":0.5}'
    assert json.loads(wire.dumps({"n": -(2**64), "s": "\n"})) == {"n": -(2**64), "s": "\n"}
