"""Match-key normalization and hashing (mapping.md section 4) and amount parsing (section 5).

Every function here is pure: same input, same output, no I/O. Meta only matches a key
when both sides hashed the *same* normalized text, so each rule below is the contract,
not a heuristic. Phones have a module of their own (:mod:`fbocli.mapping.phones`).

Nothing here is memoized but the per-region tables built from pycountry's ISO data and
the dateutil fallback of birthdays: hashed keys are memoized once, by the caller
(:mod:`fbocli.mapping.matchkeys`). pycountry's tables are read from its own data files
(importing pycountry costs ~35 ms of every start); the library itself is imported only if
a file is not laid out as expected.
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
    "hash_values",
    "is_sha256_hex",
    "norm_birthday",
    "norm_country",
    "norm_currency",
    "norm_email",
    "norm_gender",
    "norm_name",
    "norm_state",
    "norm_zip",
    "parse_amount",
    "sha256_hex",
    "split_name",
]

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ASCII_DIGITS = frozenset("0123456789")
_GENDERS: Mapping[str, str] = MappingProxyType(
    {"m": "m", "male": "m", "man": "m", "f": "f", "female": "f", "woman": "f"}
)
_COUNTRY_ALIASES: Mapping[str, str] = MappingProxyType({"uk": "gb"})
# Optional sign, optional currency symbol, digits with optional 1,234-style groups,
# optional fraction and exponent; ASCII digits only (no Unicode digits, no "1_000").
_AMOUNT = re.compile(
    r"(?P<s1>[-+]?)\s*[$€£¥]?\s*(?P<s2>[-+]?)"
    r"(?P<num>(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<exp>[eE][-+]?[0-9]+)?"
)
_MAX_AMOUNT_CHARS = 100  # int() refuses > 4300 digits; nothing that long is an amount
_MAX_DATE_CHARS = 100  # dateutil is slow on long junk; no date is that long
# Two defaults that differ in year, month and day: a component dateutil did not find
# shows up as a difference, so "July 1980" or "12:00" is not silently completed.
_DEFAULT_A = datetime(1904, 1, 1)
_DEFAULT_B = datetime(1905, 2, 2)


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
    """Trim and lowercase; None unless it looks like ``local@domain.tld``."""
    text = value.strip().lower()
    return text if _EMAIL.fullmatch(text) else None


def norm_gender(value: str) -> str | None:
    """``m``/``male``/``man`` -> ``m``, ``f``/``female``/``woman`` -> ``f``, else None."""
    return _GENDERS.get(value.strip().lower())


def norm_name(value: str) -> str | None:
    """Lowercase, Unicode NFC, letters only (``O'Brien`` -> ``obrien``); for fn, ln, ct.

    NFC is applied again after filtering so that letters brought together by removing
    a character in between (Hangul jamo) compose the same way on a second pass.
    """
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).lower())
    letters = "".join(c for c in text if c.isalpha())
    return unicodedata.normalize("NFC", letters).lower() or None


def split_name(name: str) -> tuple[str | None, str | None]:
    """(first word, last word) of a full name; the last only when there are two or more."""
    words = name.split()
    if not words:
        return None, None
    return words[0], (words[-1] if len(words) >= 2 else None)


@functools.lru_cache(maxsize=512)
def _subdivisions(region: str) -> tuple[frozenset[str], Mapping[str, str]]:
    """ISO 3166-2 code suffixes (upper case) and normalized name -> suffix of one region.

    Built once per region: scanning pycountry's subdivisions per event is far too slow.
    """
    if not region.isascii() or len(region) != 2:
        return frozenset(), MappingProxyType({})
    table = _subdivision_table()
    if table is not None:
        found = table.get(region.upper(), ())
    else:  # pragma: no cover - a pycountry whose data file is laid out otherwise
        database: Any = _pycountry().subdivisions  # untyped library
        subs = database.get(country_code=region.upper()) or ()
        found = [(str(sub.code), str(sub.name)) for sub in subs]
    codes: set[str] = set()
    names: dict[str, str] = {}
    for code, name in sorted(found, key=lambda entry: entry[0]):
        suffix = code.partition("-")[2].upper()
        if not suffix:
            continue
        codes.add(suffix)
        key = norm_name(name)
        if key:
            names.setdefault(key, suffix.lower())
    return frozenset(codes), MappingProxyType(names)


@functools.cache
def _subdivision_table() -> Mapping[str, list[tuple[str, str]]] | None:
    """(code, name) of every ISO 3166-2 subdivision per upper-case country code, read from
    pycountry's own data file, in its order; None if that file is not as expected.

    pycountry's database would build an object and its index entries for each of ~5,000
    subdivisions at the first lookup: ~50 ms in every process, each mapping worker
    included, where reading the same file takes ~13 ms (a test compares every country).
    """
    entries = _pycountry_data("iso3166-2.json", "3166-2")
    if entries is None:
        return None
    table: dict[str, list[tuple[str, str]]] = {}
    for entry in entries:
        code, name = entry.get("code"), entry.get("name")
        if not isinstance(code, str) or not isinstance(name, str):
            return None
        table.setdefault(code.split("-")[0].upper(), []).append((code, name))
    return MappingProxyType(table)


def _pycountry_data(file_name: str, root_key: str) -> list[dict[str, Any]] | None:
    """The entries of one of pycountry's ISO data files, found and read without importing
    pycountry; None when the file is missing or not a list of objects of strings."""
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


def _pycountry() -> Any:
    """pycountry itself: only when its data files are not laid out as expected."""
    import pycountry  # ~35 ms of start-up: avoided whenever the files serve

    return pycountry


@functools.cache
def _countries() -> Mapping[str, str] | None:
    """Lower-cased alpha-2, alpha-3, numeric code, flag or name -> lower-case alpha-2: what
    ``pycountry.countries.lookup`` answers, built the way it builds its indexes.

    pycountry indexes every field of every country, lower-cased, a later country taking
    a value from an earlier one, and its lookup tries the indexes in the order their
    fields first appear; merging them with the first index applied last gives the same
    answer in one dictionary (``tests/test_normalize.py`` compares every value).
    """
    entries = _pycountry_data("iso3166-1.json", "3166-1")
    if entries is None:
        return None
    indexes: dict[str, dict[str, str]] = {}
    for entry in entries:
        code = entry.get("alpha_2")
        if code is None:
            return None
        for field, value in entry.items():
            indexes.setdefault(field, {})[value.lower()] = code.lower()
    merged: dict[str, str] = {}
    for index in reversed(indexes.values()):
        merged.update(index)
    return MappingProxyType(merged)


@functools.cache
def _currencies() -> frozenset[str]:
    """The ISO 4217 alpha-3 codes pycountry knows (upper case)."""
    entries = _pycountry_data("iso4217.json", "4217")
    if entries is not None and all("alpha_3" in entry for entry in entries):
        return frozenset(entry["alpha_3"].upper() for entry in entries)
    # pragma: no cover - a pycountry whose data file is laid out otherwise
    return frozenset(str(c.alpha_3).upper() for c in _pycountry().currencies)  # pragma: no cover


def norm_state(value: str, region: str) -> str | None:
    """Two-letter-style subdivision code in lowercase when the region knows the state.

    ``RI`` or ``Rhode Island`` with region ``us`` -> ``ri``; ``Ontario`` with ``ca`` -> ``on``.
    Names are compared after :func:`norm_name` (so ``rhode-island`` matches too), which
    keeps the rule idempotent. Anything else, or no region, is normalized as a name.
    """
    codes, names = _subdivisions(region)
    code = value.strip()
    if code.isascii() and code.upper() in codes:  # ascii first: "ſt".upper() == "ST"
        return code.lower()
    name = norm_name(value)
    if name is None:
        return None
    return names.get(name, name)


def norm_zip(value: str, region: str) -> str | None:
    """US: first 5 digits before any ``-``; elsewhere: lowercase, no spaces or dashes."""
    text = value.strip().lower()
    if region == "us":
        text = "".join(c for c in text.partition("-")[0] if c in _ASCII_DIGITS)[:5]
    else:
        text = "".join(c for c in text if c != "-" and not c.isspace())
    return text or None


def norm_country(value: str) -> str | None:
    """ISO 3166-1 alpha-2 in lowercase from a code, alpha-3 or name (``USA`` -> ``us``)."""
    text = value.strip()
    alias = _COUNTRY_ALIASES.get(text.lower())
    if alias is not None:
        return alias
    if not text:
        return None
    countries = _countries()
    if countries is not None:
        return countries.get(text.lower())
    try:  # pragma: no cover - a pycountry whose data file is laid out otherwise
        country = _pycountry().countries.lookup(text)
    except LookupError:  # pragma: no cover
        return None
    return str(country.alpha_2).lower()  # pragma: no cover


def _full_date(text: str, dayfirst: bool) -> date | None:
    """A date with year, month and day all present in ``text``, or None."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    if len(text) > _MAX_DATE_CHARS:
        return None
    from dateutil import parser as dateparser  # imported on first use: ~13 ms of start-up

    try:
        first = dateparser.parse(text, default=_DEFAULT_A, dayfirst=dayfirst, ignoretz=True)
        second = dateparser.parse(text, default=_DEFAULT_B, dayfirst=dayfirst, ignoretz=True)
    except (ValueError, OverflowError):
        return None
    if first.date() != second.date():
        return None
    return first.date()


@functools.lru_cache(maxsize=16384)  # dateutil is slow and birthdays repeat
def norm_birthday(value: str, *, dayfirst: bool = False) -> str | None:
    """``YYYYMMDD`` from any complete date ISO or dateutil reads; None otherwise.

    A date missing its year, month or day (``July 1980``) is dropped, not completed
    with today's values.
    """
    text = value.strip()
    if not text:
        return None
    found = _full_date(text, dayfirst)
    return f"{found.year:04d}{found.month:02d}{found.day:02d}" if found else None


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
