"""Match-key normalization and hashing (mapping.md section 4) and amount parsing (section 5).

Every function here is pure: same input, same output, no I/O. Meta only matches a key
when both sides hashed the *same* normalized text, so each rule below is the contract,
not a heuristic. Where Meta's documentation is silent, Meta's Parameter Builder decides
(docs/mapping.md). Countries and US/Canadian states have a module of their own
(:mod:`fbocli.mapping.places`), and so do phones (:mod:`fbocli.mapping.phones`).

Every text value is first put in Unicode NFKC form and trimmed (:func:`clean`). Nothing
here is memoized but pycountry's currency codes and birthdays: hashed keys are memoized
once, by the caller (:mod:`fbocli.mapping.matchkeys`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

import orjson

__all__ = [
    "BIRTH_YEAR_MIN",
    "clean",
    "fold",
    "hash_values",
    "is_sha256_hex",
    "norm_birthday",
    "norm_currency",
    "norm_email",
    "norm_external_id",
    "norm_gender",
    "norm_name",
    "norm_zip",
    "parse_amount",
    "pycountry_data",
    "sha256_hex",
    "split_name",
]

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# The same without "<" and ":": a printable address that needs no more trimming.
_PLAIN_EMAIL = re.compile(r"[^@\s<:]+@[^@\s<:]+\.[^@\s<:]+")
# NUL and the Unicode format characters (category Cf) of Python 3.11's Unicode 14 data:
# invisible, never part of a value. tests/test_normalize.py checks this class against
# unicodedata.
_INVISIBLE = re.compile(
    r"[\x00\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    r"\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    r"\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    r"\U000e0020-\U000e007f]"
)
_ASCII_DIGITS = frozenset("0123456789")
# The gender words Meta's Parameter Builder accepts (the vectors in
# tests/contracts/peers/normalization-vectors hold the same list), compared after
# NFKC, trimming and lowercasing: nothing else is sent.
_MALE = (
    "m male man boy boyfriend brother chap bloke dude fellow gentleman guy lad mister mr sir "
    "he him his himself husband father dad daddy papa son nephew uncle groom widower king "
    "prince duke count emperor lord god"
)
_FEMALE = (
    "f female woman girl girlfriend sister gal lass lady dame madam ma'am miss mrs ms "
    "she her hers herself wife mother mom mommy mama daughter niece aunt bride widow queen "
    "princess duchess countess empress goddess belle chick maiden"
)
_GENDERS: Mapping[str, str] = MappingProxyType(
    {**dict.fromkeys(_MALE.split(), "m"), **dict.fromkeys(_FEMALE.split(), "f")}
)
# Optional sign, optional currency symbol, digits with optional 1,234-style groups,
# optional fraction and exponent; ASCII digits only (no Unicode digits, no "1_000").
_AMOUNT = re.compile(
    r"(?P<s1>[-+]?)\s*[$€£¥]?\s*(?P<s2>[-+]?)"
    r"(?P<num>(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<exp>[eE][-+]?[0-9]+)?"
)
_MAX_AMOUNT_CHARS = 100  # int() refuses > 4300 digits; nothing that long is an amount
BIRTH_YEAR_MIN = 1900  # the oldest birth year kept (Meta: "from 1900 to current year")
# A birthday: day, month and year with one non-digit between each (in either order of
# day and month, the year first or last), or YYYYMMDD; or an ISO 8601 date and time.
_DATE = re.compile(r"([0-9]{1,4})[^0-9]([0-9]{1,2})[^0-9]([0-9]{1,4})")
_ISO_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]")


def clean(value: str) -> str:
    """NFKC form, trimmed: what every text rule of section 4 starts from (full-width
    ``ＪＯＨＮ`` -> ``JOHN``). ASCII text is already in NFKC form and is only trimmed."""
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    return value.strip()


def fold(value: str) -> str:
    """The key of a lookup insensitive to case, accents, punctuation and spacing:
    letters and digits only, without their accents, case-folded (``Québec`` and
    ``QUEBEC`` -> ``quebec``, ``U.S.A.`` -> ``usa``). Also keeps the regional indicator
    letters of flag emoji (``🇺🇸``)."""
    text = unicodedata.normalize("NFKD", clean(value).casefold())
    return "".join(c for c in text if c.isalnum() or "\U0001f1e6" <= c <= "\U0001f1ff")


def sha256_hex(value: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 text: the form Meta expects for every key."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_sha256_hex(value: str) -> bool:
    """True for exactly 64 hex characters (any case): a value the sender already hashed."""
    return _SHA256_HEX.fullmatch(value) is not None


def hash_values(
    raw: object, normalize: Callable[[str], str | None], *, numbers: bool = False
) -> list[str]:
    """Every usable value of a match key, normalized and hashed: a string or a list of
    them (and, with ``numbers``, integral JSON numbers as their digits: phones).

    A value that already is 64 hex characters (after trimming) is taken as pre-hashed
    and only lowercased, so a key is never hashed twice. Values that normalize to
    nothing are dropped; duplicates are removed, input order kept.
    """
    items = raw if isinstance(raw, list) else (raw,)
    hashed: list[str] = []
    for item in items:
        if isinstance(item, str):
            text = item
        elif numbers and isinstance(item, int) and not isinstance(item, bool):
            text = str(item)
        elif numbers and isinstance(item, float) and math.isfinite(item) and item.is_integer():
            text = str(int(item))
        else:
            continue
        stripped = text.strip()
        if len(stripped) == 64 and is_sha256_hex(stripped):  # length first: no regex call
            value = stripped.lower()
        elif normalized := normalize(text):
            value = hashlib.sha256(normalized.encode("utf-8")).hexdigest()  # (sha256_hex)
        else:
            continue
        if value not in hashed:
            hashed.append(value)
    return hashed


def norm_email(value: str) -> str | None:
    """NFKC, trimmed, lowercase; None unless it looks like ``local@domain.tld``.

    Trimming an email also removes, anywhere, the invisible characters a copy and paste
    brings along: NUL and the Unicode format characters (category Cf: zero-width space
    U+200B, joiners, the byte-order mark U+FEFF, soft hyphen, direction marks...). (Not
    from the other keys: Meta's Parameter Builder keeps them in a zip or an
    ``external_id``, and so must fbocli, for the hashes to meet.) It also takes off the
    wrappers an address is copied with:
    ``Jane Doe <jane@example.com>`` and ``<jane@example.com>`` give the address between
    the angle brackets, ``mailto:jane@example.com?subject=Hi`` the address after
    ``mailto:`` (without the query). ``test<@example.com`` is no wrapper: kept as it is.
    """
    text = clean(value).lower()
    # The common address: printable (no NUL, no format character) and no wrapper. (A
    # failed test only means the slow way.)
    if text.isprintable() and _PLAIN_EMAIL.fullmatch(text):
        return text
    text = _unwrapped(_INVISIBLE.sub("", text).strip())
    return text if _EMAIL.fullmatch(text) else None


def _unwrapped(text: str) -> str:
    """An email without its ``Name <...>`` and ``mailto:`` wrappers (trimmed, lowercase
    text)."""
    if text.endswith(">"):
        start = text.rfind("<")
        if start != -1:
            text = text[start + 1 : -1].strip()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :].partition("?")[0].strip()
    return text


def norm_gender(value: str) -> str | None:
    """``m`` or ``f`` from one of the words Meta's Parameter Builder accepts (``Male``,
    ``Mr``, ``boy``, ``she``...: ``_GENDERS``), in any case; anything else None."""
    return _GENDERS.get(clean(value).lower())


def norm_name(value: str) -> str | None:
    """NFKC, lowercase, letters only (``O'Brien`` -> ``obrien``, ``ＪＯＨＮ`` -> ``john``);
    for fn, ln, ct, and states outside the US and Canada.

    NFKC is applied again after filtering so that letters brought together by removing
    a character in between (Hangul jamo) compose the same way on a second pass.
    """
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).lower())
    letters = "".join(c for c in text if c.isalpha())
    return unicodedata.normalize("NFKC", letters).lower() or None


def split_name(name: str) -> tuple[str | None, str | None]:
    """(first word, last word) of a full name; the last only when there are two or more."""
    words = name.split()
    if not words:
        return None, None
    return words[0], (words[-1] if len(words) >= 2 else None)


def norm_external_id(value: str) -> str | None:
    """A ``userId`` before hashing: NFKC, lowercase, every whitespace character removed
    (``Customer 42`` -> ``customer42``), as Meta's Parameter Builder does."""
    if value.isascii():
        return "".join(value.lower().split()) or None
    text = "".join(unicodedata.normalize("NFKC", value).lower().split())
    # (what was cut out may have kept letters apart)
    return unicodedata.normalize("NFKC", text).lower() or None


def norm_zip(value: str, region: str) -> str | None:
    """Region US: the digits before any ``-``, at most 5, a 4-digit zip padded with the
    leading zero a spreadsheet dropped (``2116`` -> ``02116``); elsewhere lowercase without
    whitespace and ``-`` (``SW1A 1AA`` -> ``sw1a1aa``)."""
    text = clean(value).lower()
    if region == "us":
        text = "".join(c for c in text.partition("-")[0] if c in _ASCII_DIGITS)[:5]
        if len(text) == 4:
            text = "0" + text
    else:
        text = "".join(c for c in text if c != "-" and not c.isspace())
        if not text.isascii():  # (what was cut out may have kept letters apart)
            text = unicodedata.normalize("NFKC", text).lower()
    return text or None


@functools.lru_cache(maxsize=16384)  # birthdays repeat in a customer file
def norm_birthday(value: str, *, this_year: int, dayfirst: bool = False) -> str | None:
    """``YYYYMMDD`` from a date written with digits: day, month and year separated by any
    one non-digit each (``12/31/1990``, ``1990_12_31``, ``12:31:1990``, ``31.12.1990``),
    ``YYYYMMDD``, or an ISO 8601 date and time (``1990-12-31T00:00:00Z``).

    The year comes first or last; month then day unless the month cannot be one (``31``,
    read as the day) or ``dayfirst`` (how a CSV's dates read). The year must be from 1900
    to ``this_year`` (the year of *now*); anything else is None.
    """
    text = clean(value)
    found = _DATE.fullmatch(text)
    if found is not None:
        first, second, third = found.groups()
        if len(first) == 4 and len(third) <= 2:
            year, month, day = int(first), int(second), int(third)
        elif len(third) == 4 and len(first) <= 2:
            year, month, day = int(third), int(first), int(second)
            if dayfirst:
                month, day = day, month
        else:
            return None
        if month > 12 >= day:
            month, day = day, month
    elif len(text) == 8 and text.isascii() and text.isdigit():
        year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    elif _ISO_DATE_TIME.match(text):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        year, month, day = moment.year, moment.month, moment.day
    else:
        return None
    if not BIRTH_YEAR_MIN <= year <= this_year:
        return None
    try:
        date(year, month, day)
    except ValueError:
        return None
    return f"{year:04d}{month:02d}{day:02d}"


def pycountry_data(file_name: str, root_key: str) -> list[dict[str, Any]] | None:
    """The entries of one of pycountry's ISO data files, found and read without importing
    pycountry (~35 ms of every start); None when the file is missing or not a list of
    objects of strings."""
    try:
        spec = importlib.util.find_spec("pycountry")
        if spec is None or not spec.submodule_search_locations:
            return None  # pragma: no cover - pycountry is a dependency
        path = f"{next(iter(spec.submodule_search_locations))}/databases/{file_name}"
        with open(path, "rb") as file:
            entries = orjson.loads(file.read())[root_key]
    except (OSError, ImportError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
            return None
    return entries


def pycountry_module() -> Any:
    """pycountry itself: only when its data files are not laid out as expected."""
    import pycountry  # ~35 ms of start-up: avoided whenever the files serve

    return pycountry


@functools.cache
def _currencies() -> frozenset[str]:
    """The ISO 4217 alpha-3 codes pycountry knows (upper case)."""
    entries = pycountry_data("iso4217.json", "4217")
    if entries is not None and all("alpha_3" in entry for entry in entries):
        return frozenset(entry["alpha_3"].upper() for entry in entries)
    currencies = pycountry_module().currencies  # pragma: no cover - laid out otherwise
    return frozenset(str(c.alpha_3).upper() for c in currencies)  # pragma: no cover


@functools.lru_cache(maxsize=1024)  # once per event, a handful of distinct values
def norm_currency(value: str) -> str | None:
    """Trimmed, upper-cased ISO 4217 code known to pycountry, else None."""
    code = value.strip()
    if not code.isascii():  # ("ſ".upper() is "S")
        return None
    code = code.upper()
    return code if code in _currencies() else None


def parse_amount(value: object) -> float | int | None:
    """A monetary amount from a JSON number or a loosely formatted numeric string.

    Accepts ``18``, ``18.99``, ``" 18 "``, ``"$1,234.56"``, ``"€5"``; keeps integers as
    ``int``. Booleans, NaN, Infinity and anything else give None. Negative amounts are
    returned as such: rejecting them is the caller's decision.
    """
    kind = type(value)
    if kind is int:  # JSON's own types first (bool is not int here)
        return value  # type: ignore[return-value]
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type,return-value]
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, str) or len(value) > _MAX_AMOUNT_CHARS:
        return None
    match = _AMOUNT.fullmatch(value.strip())
    if match is None or (match["s1"] and match["s2"]):
        return None
    sign = "-" if "-" in (match["s1"] + match["s2"]) else ""
    num = match["num"].replace(",", "")
    if "." not in num and not match["exp"]:
        return int(sign + num)
    amount = float(sign + num + (match["exp"] or ""))
    return amount if math.isfinite(amount) else None
