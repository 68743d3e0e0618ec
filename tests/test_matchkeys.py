"""The one memo of hashed match keys gives what normalizing and hashing each value gives.

``user_data`` looks gender, names, cities, states and zips up in per-field (and, for
states and zips, per-region) memos of raw text -> hashed key, and countries in a memo of
raw text -> (alpha-2, hashed key). Every answer, the first time and from the memo, must be
:func:`hash_values` of the value with the field's normalizer; and the PII-key check, a
memoized regex, must be the regex.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbocli.mapping import matchkeys
from fbocli.mapping.custom import is_pii_key, key_kind
from fbocli.mapping.normalize import norm_gender, norm_name, norm_zip, sha256_hex
from fbocli.mapping.places import norm_country, norm_state, state_known
from tests.helpers import hash_one

CORPUS = [
    "", " ", "M", "male", " Female ", "x", "O'Brien", "José", "ZOË", "Ålborg", "São Paulo",
    "Montréal", "new-york", "RI", "Rhode Island", "rhode-island", "ON", "Ontario", "BY",
    "ſt", "10001-1234", " 94105 ", "SW1A 1AA", "m5v-2t6", "ǅemal", "ﬁnn", "한국",
    "a" * 64, "A" * 64, " " + "ab" * 32 + " ", "12345", "ß", "İstanbul",
]  # fmt: skip
REGIONS = ["", "us", "ca", "gb", "de", "fr", "xx"]
FIELDS = ["ge", "name", "st", "zp"]


def _memo_and_rule(what: str, region: str) -> tuple[matchkeys._Memo, Callable[[str], str | None]]:
    """The memo user_data consults for a field in a region, and the field's normalizer."""
    if what == "ge":
        return matchkeys._GENDERS, norm_gender
    if what == "name":
        return matchkeys._NAMES, norm_name
    place = matchkeys._REGIONS.get(region) or matchkeys._region(region)
    if what == "st":
        return place.states, lambda v: norm_state(v, region)
    return place.zips, lambda v: norm_zip(v, region)


@pytest.mark.parametrize("what", FIELDS)
def test_memoized_keys_match_the_corpus(what: str) -> None:
    for region in REGIONS:
        memo, rule = _memo_and_rule(what, region)
        for raw in CORPUS:
            for _ in range(2):  # the second answer comes from the memo
                assert memo[raw] == hash_one(raw, rule), (what, region, raw)


@settings(max_examples=400, deadline=None)
@given(what=st.sampled_from(FIELDS), raw=st.text(max_size=20), region=st.sampled_from(REGIONS))
def test_memoized_keys_match_any_input(what: str, raw: str, region: str) -> None:
    memo, rule = _memo_and_rule(what, region)
    assert memo[raw] == hash_one(raw, rule)
    assert memo[raw] == hash_one(raw, rule)


def test_a_full_memo_starts_again() -> None:
    memo = matchkeys._Memo(norm_name)
    for n in range(matchkeys._MEMO_LIMIT):
        memo[f"name{n}"] = None
    memo.unknown.add("name1")
    assert memo["Zoë"] == sha256_hex("zoë") and len(memo) == 1
    assert not memo.unknown


@settings(max_examples=300, deadline=None)
@given(
    raw=st.text(max_size=12)
    | st.sampled_from(["Tex.", "RI", "Rhode Island", "Québec", "XY", "a" * 64, " ", "!!"]),
    region=st.sampled_from(REGIONS),
)
def test_the_state_memo_remembers_what_it_did_not_recognise(raw: str, region: str) -> None:
    """A value is in ``unknown`` exactly when it is not pre-hashed and state_known says
    no; only regions whose states are codes track anything."""
    memo = matchkeys._region(region).states
    memo[raw]
    prehashed = len(raw.strip()) == 64 and all(c in "0123456789abcdefABCDEF" for c in raw.strip())
    assert (raw in memo.unknown) is (not prehashed and not state_known(raw, region))
    assert memo.known is None or region in ("us", "ca")


@pytest.mark.parametrize(
    ("raw", "unknown"),
    [("m", False), ("Female", False), ("x", True), ("Mr.", True), ("", False), ("  ", False)],
)
def test_the_gender_memo_remembers_what_it_did_not_recognise(raw: str, unknown: bool) -> None:
    matchkeys._GENDERS[raw]
    assert (raw in matchkeys._GENDERS.unknown) is unknown


@pytest.mark.parametrize(
    ("raw", "unknown"),
    [("US", False), ("Narnia", True), (" ", False), ("F" * 64, False), ("England", False)],
)
def test_the_country_memo_remembers_what_it_did_not_recognise(raw: str, unknown: bool) -> None:
    matchkeys._COUNTRIES[raw]
    assert (raw in matchkeys._COUNTRIES.unknown) is unknown


@settings(max_examples=300, deadline=None)
@given(
    raw=st.text(max_size=20)
    | st.sampled_from(["US", " usa ", "UK", "Canada", "Narnia", " " + "F" * 64])
)
def test_country_memo_matches_the_rule(raw: str) -> None:
    for _ in range(2):
        assert matchkeys._COUNTRIES[raw] == (norm_country(raw), hash_one(raw, norm_country))


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=16) | st.sampled_from(["E-Mail", "phone2", "TEL", "tel ", "Mobile"]))
def test_contact_key_memo_matches_the_rule(key: str) -> None:
    expected = key_kind.__wrapped__(key)
    assert key_kind(key) == expected
    assert key_kind(key) == expected
    assert is_pii_key(key) is bool(expected & 1)
