"""The phone rule and its shortcuts (fbocli.mapping.phones) give what phonenumbers gives.

mapping.md's phone rule is written below directly on phonenumbers (``_phone_by_the_spec``):
NFKC, an extension and trailing words dropped, every separator removed, then the
library, then the digits. ``norm_phone`` answers plain North American numbers and ``+CC
digits`` / national numbers written with digits and separators without calling the
library (the shortcuts save most of a mapping worker's time); everything else asks the
library. On corpora of the forms people type and on random input, every answer a
shortcut gives is the reference's, and so is every answer of ``norm_phone``.
"""

from __future__ import annotations

import random
import re
import unicodedata

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbocli.mapping.phones import _intl_fast_path, _nanp_fast_path, norm_phone, phone_text
from tests.test_normalize import TEXT

PHONE_REGIONS = [
    "GB", "FR", "DE", "CA", "US", "IT", "ES", "NL", "BE", "CH", "AT", "IE", "PT", "SE",
    "NO", "DK", "FI", "PL", "AU", "NZ", "JP", "IN", "BR", "MX", "AR", "ZA", "SG", "GG",
    "JE", "IM", "RU", "KZ", "HU", "CZ", "LU", "MC", "SM", "VA", "GR", "TR", "IL", "CN",
]  # fmt: skip


def _phone_by_the_spec(value: str, region: str) -> str | None:
    """mapping.md's phone rule written directly on phonenumbers, with no shortcut."""
    text = unicodedata.normalize("NFKC", value)
    text = re.sub(r"\D*$", "", text)  # trailing words: whatever follows the last digit
    text = re.sub(r"(?i)[\s,;]*(ext(ension)?\.?|x|#)\s*:?\s*[0-9]+$", "", text)
    # The separators do not matter: they are removed (a "+" only counts before the first
    # digit). (phonenumbers would call "1 4" no number and "14" a number.)
    first = re.search(r"\d", text)
    head, tail = (text[: first.start()], text[first.start() :]) if first else (text, "")
    text = ("+" if "+" in head else "") + re.sub(r"\D", "", tail)
    try:
        number = phonenumbers.parse(text, region.upper() or None)
        if phonenumbers.is_possible_number(number):
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))[1:]
    except phonenumbers.NumberParseException:
        pass
    digits = "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal()).lstrip("0")
    return digits if len(digits) >= 7 else None


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("555-123-4567", "us", "15551234567"),
        ("555_123_4567", "us", "15551234567"),  # any separator
        ("555|123|4567", "us", "15551234567"),
        ("{555} 123-4567", "us", "15551234567"),
        ("555@123@4567", "us", "15551234567"),
        ("555+123+4567", "us", "15551234567"),  # a "+" after a digit is a separator
        ("***555***123***4567***", "us", "15551234567"),
        ("555-123-4567 (home)", "us", "15551234567"),  # trailing words
        ("555-123-4567 mobile", "us", "15551234567"),
        ("+1-555-123-4567 ext. 123", "us", "15551234567"),  # extensions
        ("555-123-4567 x89", "us", "15551234567"),
        ("555-123-4567#123", "us", "15551234567"),
        ("(555) 123-4567 extension 7 (work)", "us", "15551234567"),
        ("Tel: 555 123 4567", "us", "15551234567"),  # leading words
        ("Call me at +1 (555) 123-4567 today!", "us", "15551234567"),
        ("５５５－１２３－４５６７", "us", "15551234567"),  # NFKC: full-width digits
        ("020 7946 0958", "gb", "442079460958"),
        ("020 7946 0958 (home)", "gb", "442079460958"),
        ("0532 123 45 67", "tr", "905321234567"),
        ("030 1234567", "de", "49301234567"),
        ("020 7946 0958", "us", "2079460958"),  # read in the US: not possible, digits kept
        ("1-800-FLOWERS", "us", None),  # the words are dropped, not dialled
        ("555-HELP-NOW", "us", None),
        ("Phone: 555, please call", "us", None),
        ("911", "us", None),
        ("", "us", None),
    ],
)
def test_norm_phone_by_the_revised_rule(value: str, region: str, expected: str | None) -> None:
    assert norm_phone(value, region) == expected
    assert _phone_by_the_spec(value, region) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tel: +1 (555) 123-4567 ext. 89 (work)", "+15551234567"),
        ("555|123|4567", "5551234567"),
        ("1-800-FLOWERS", "1800"),
        ("+ 44 20", "+4420"),
        ("20+44", "2044"),
        ("no digits", ""),
        ("٠١٢٣٤٥٦٧", "01234567"),  # any script's decimal digits
    ],
)
def test_phone_text_keeps_the_plus_and_the_digits(value: str, expected: str) -> None:
    assert phone_text(value) == expected


NANP_LIKE = st.builds(
    "".join,
    st.lists(
        st.one_of(
            st.from_regex(r"[0-9]{3,4}", fullmatch=True),
            st.sampled_from(
                [
                    *("", " ", "-", "(", ")", ".", "1", "+1", "+", "\t", "x", "\u00a0", "_", "|"),
                    *("#", "ext. ", " (home)", "Tel: ", "{", "}", "＋", "５"),
                ]
            ),
        ),
        max_size=7,
    ),
)


@settings(max_examples=500, deadline=None)
@given(
    value=st.one_of(NANP_LIKE, TEXT),
    region=st.sampled_from(["us", "ca", "pr", "jm", "gb", "", "de"]),
)
def test_norm_phone_matches_the_spec_rule_exactly(value: str, region: str) -> None:
    assert norm_phone(value, region) == _phone_by_the_spec(value, region)


def test_nanp_fast_path_agrees_on_a_corpus() -> None:
    rng = random.Random(1776)
    hits = 0
    for _ in range(5000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([9, 10, 10, 11])))
        value = rng.choice(["", "1", "+1", "+1 ", "1-"]) + _spell(rng, digits)
        region = rng.choice(["us", "ca", "pr", "jm", "gb", ""])
        fast = _nanp_fast_path(value, region)
        if fast is not None:
            hits += 1
            assert fast == _phone_by_the_spec(value, region), (value, region)
    assert hits > 1000  # the fast path covers the common forms, it is not vacuous


def _spell(rng: random.Random, digits: str) -> str:
    """The digits as people type them: groups split by spaces, dashes, dots, parens."""
    out, i = [], 0
    while i < len(digits):
        size = rng.randint(1, 4)
        group = digits[i : i + size]
        i += size
        style = rng.random()
        if style < 0.1 and i < len(digits):
            group = f"({group})"
        out.append(group)
        out.append(rng.choice(["", " ", " ", "-", ".", "  ", " - "]) if i < len(digits) else "")
    return "".join(out)


def _phone_corpus(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        region = rng.choice(PHONE_REGIONS)
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        assert meta is not None
        lengths = list(meta.general_desc.possible_length) + list(
            meta.general_desc.possible_length_local_only
        )
        size = max(1, rng.choice(lengths) + rng.choice([-2, -1, 0, 0, 0, 0, 1, 2]))
        body = "".join(rng.choice("0123456789") for _ in range(size))
        if rng.random() < 0.7:  # mostly a real-looking leading digit
            example = phonenumbers.example_number(region)
            if example is not None:
                nsn = phonenumbers.national_significant_number(example)
                body = nsn[: rng.randint(1, 3)] + body[3:]
        prefix = meta.national_prefix or "0"
        form = rng.random()
        if form < 0.4:
            text = f"+{meta.country_code} " + _spell(rng, body)
        elif form < 0.5:
            text = f"+{meta.country_code} ({prefix})" + _spell(rng, body)
        elif form < 0.8:
            text = _spell(rng, prefix + body)
        elif form < 0.9:
            text = _spell(rng, body)
        else:
            text = _spell(rng, f"{meta.country_code}" + body)
        if rng.random() < 0.05:
            text = f" {text} "
        home = region if rng.random() < 0.8 else rng.choice(PHONE_REGIONS)
        cases.append((text, rng.choice([home.lower(), home.lower(), ""])))
    return cases


@pytest.mark.slow  # 50,000 numbers; the property test below runs every time
def test_intl_phone_fast_path_agrees_on_a_corpus() -> None:
    hits = 0
    for value, region in _phone_corpus(50_000, seed=2026):
        fast = _intl_fast_path(value, region)
        if fast is not None:
            hits += 1
            assert fast == _phone_by_the_spec(value, region), (value, region)
    assert hits > 15_000  # the fast path covers the common forms, it is not vacuous


@pytest.mark.slow  # (a property test of hundreds of examples or more: CI runs it)
@settings(max_examples=1200, deadline=None)
@given(
    value=st.text(alphabet="+0123456789 ().-", min_size=1, max_size=24)
    | st.from_regex(r"\+[1-9][0-9]{0,2}[ .-]?[0-9 ().-]{2,20}", fullmatch=True),
    region=st.sampled_from([r.lower() for r in PHONE_REGIONS] + ["", "xx", "001"]),
)
def test_intl_phone_fast_path_agrees_on_any_plain_input(value: str, region: str) -> None:
    fast = _intl_fast_path(value, region)
    slow = _phone_by_the_spec(value, region)
    if fast is not None:
        assert fast == slow
    assert norm_phone(value, region) == slow
