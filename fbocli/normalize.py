"""Match-key normalization and hashing (mapping.md section 4) and amount parsing (section 5).

Every function here is pure: same input, same output, no I/O. Meta only matches a key
when both sides hashed the *same* normalized text, so each rule below is the contract,
not a heuristic. The slow libraries (pycountry, phonenumbers, dateutil) sit behind
``functools`` caches so that a run of many events with few distinct cities, states or
countries pays for each lookup once. pycountry's ISO tables are read from its own data
files (its import alone costs ~35 ms of every start, mostly ``importlib.metadata``); the
library itself is imported only if a file is not laid out as expected.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, ParamSpec, TypeVar, cast

import orjson
import phonenumbers

__all__ = [
    "hash_email",
    "hash_key",
    "hash_phone",
    "is_sha256_hex",
    "norm_birthday",
    "norm_country",
    "norm_currency",
    "norm_email",
    "norm_gender",
    "norm_name",
    "norm_phone",
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


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _cached(maxsize: int) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """``functools.lru_cache`` that keeps the wrapped signature visible to mypy.

    A bare ``lru_cache`` wrapper accepts any arguments as far as type checkers know, so
    a caller passing the wrong type would go unnoticed; the cast restores the signature.
    """

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        return cast(Callable[_P, _R], functools.lru_cache(maxsize=maxsize)(func))

    return decorate


def _short_input_sha256() -> Callable[[bytes], hashlib._Hash]:
    """SHA-256 for short inputs: CPython's own implementation (the one ``hashlib`` falls
    back to without OpenSSL) hashes a 30-byte key in ~0.45 µs where OpenSSL's, behind
    ``hashlib.sha256``, spends ~0.75 µs mostly setting up its context. Every event
    hashes two to four keys. Same digests, of course; OpenSSL's when it is missing."""
    for name in ("_sha2", "_sha256"):  # CPython 3.12+, 3.11
        try:
            module = importlib.import_module(name)
        except ImportError:  # pragma: no cover - another Python
            continue
        found: Callable[[bytes], hashlib._Hash] = module.sha256
        return found
    return hashlib.sha256  # pragma: no cover


sha256 = _short_input_sha256()


def sha256_hex(value: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 text: the form Meta expects for every key."""
    return sha256(value.encode("utf-8")).hexdigest()


def is_sha256_hex(value: str) -> bool:
    """True for exactly 64 hex characters (any case): a value the sender already hashed."""
    return _SHA256_HEX.fullmatch(value) is not None


def hash_key(raw: object, normalize: Callable[[str], str | None]) -> str | None:
    """Normalize and hash one match-key value; None when there is nothing to send.

    A string that already is 64 hex characters (after trimming) is taken as pre-hashed
    and only lowercased, so a key is never hashed twice. Strings are normalized then
    hashed. Numbers (not bool, not NaN/Infinity) are accepted as their integer text when
    integral, so a phone given as a JSON number works; the caller decides which fields may
    be numbers. Anything else (None, dict, list, bool) gives None.
    """
    if isinstance(raw, str):
        stripped = raw.strip()
        if len(stripped) == 64 and is_sha256_hex(stripped):  # length first: no regex call
            return stripped.lower()
        text = raw
    elif isinstance(raw, bool):
        return None
    elif isinstance(raw, int):
        text = str(raw)
    elif isinstance(raw, float):
        if not math.isfinite(raw):
            return None
        text = str(int(raw)) if raw.is_integer() else repr(raw)
    else:
        return None
    normalized = normalize(text)
    return sha256_hex(normalized) if normalized else None


def hash_email(value: str) -> str | None:
    """``hash_key(value, norm_email)`` for a string, in one call (once per event)."""
    text = value.strip()
    if len(text) == 64 and _SHA256_HEX.fullmatch(text):
        return text.lower()
    text = text.lower()
    return sha256(text.encode("utf-8")).hexdigest() if _EMAIL.fullmatch(text) else None


def hash_phone(value: str, region: str) -> str | None:
    """``hash_key(value, lambda v: norm_phone(v, region))`` for a string, in one call."""
    text = value.strip()
    if len(text) == 64 and _SHA256_HEX.fullmatch(text):
        return text.lower()
    # norm_phone's steps without its call (once per event)
    normalized = _nanp_fast_path(value, region)
    if normalized is None:
        normalized = _intl_fast_path(value, region)
        if normalized is None:
            normalized = _parse_phone(value, region)
    return sha256(normalized.encode("utf-8")).hexdigest() if normalized else None


def norm_email(value: str) -> str | None:
    """Trim and lowercase; None unless it looks like ``local@domain.tld``."""
    text = value.strip().lower()
    return text if _EMAIL.fullmatch(text) else None


def norm_phone(value: str, region: str) -> str | None:
    """E.164 digits without ``+`` when phonenumbers finds a possible number.

    ``region`` (lowercase alpha-2, or "" for none) supplies the country code of a
    national number. Otherwise (unparseable, not possible) fall back to the digits
    with leading zeros stripped, kept only if at least 7 remain. phonenumbers.parse
    costs 50-170 µs, so plain North American numbers and plainly written international
    ones take shortcuts that give the same answer (checked against the library by the
    tests), and the other results are cached. (Not the fast ones: phone numbers are
    mostly unique, so caching them would only add a miss to every call.)
    """
    fast = _nanp_fast_path(value, region)
    if fast is None:
        fast = _intl_fast_path(value, region)
    return fast if fast is not None else _parse_phone(value, region)


@_cached(16384)
def _parse_phone(value: str, region: str) -> str | None:
    """:func:`norm_phone` by phonenumbers itself, for what the fast paths leave."""
    try:
        number = phonenumbers.parse(value, region.upper() or None)
        if phonenumbers.is_possible_number(number):
            e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return e164.lstrip("+")
    except phonenumbers.NumberParseException:
        pass
    digits = "".join(c for c in value if c in _ASCII_DIGITS).lstrip("0")
    return digits if len(digits) >= 7 else None


# Lowercase regions sharing country code 1 (US, CA, PR, ...): same 10-digit plan.
_NANP_REGIONS = frozenset(r.lower() for r in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])


def _nanp_fast_path(value: str, region: str) -> str | None:
    """``1`` + ten digits for a plain North American number in a country-code-1 region.

    Accepts ``NXX NXX XXXX`` with spaces, dots, dashes, parentheses and an optional ``1``
    or ``+1`` prefix: phonenumbers always calls such a number possible. None means "ask
    phonenumbers", not "invalid".
    """
    if region not in _NANP_REGIONS:
        return None
    # (_without_separators, inlined: this runs for every North American phone)
    digits = value.strip().replace(" ", "").replace("-", "").replace(".", "")
    digits = digits.replace("(", "").replace(")", "")
    if digits.startswith("+1"):
        digits = digits[1:]
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit() or digits[0] in "01":
        return None
    return "1" + digits


def _without_separators(text: str) -> str:
    """``text`` without spaces, parentheses, dots and dashes (faster than a regex)."""
    return text.replace(" ", "").replace("-", "").replace(".", "").replace("(", "").replace(")", "")


_PLAIN_PHONE = re.compile(r"\+?[0-9 ().-]+")
_LOCAL_ONLY, _POSSIBLE, _TOO_SHORT, _TOO_LONG, _INVALID_LENGTH = range(5)


@dataclass(frozen=True, slots=True)
class _PhonePlan:
    """What phonenumbers' parser consults for one region, from its own metadata."""

    code: str  # country calling code, digits
    idd: re.Pattern[str]  # international (IDD) prefix, e.g. 00
    national_prefix: re.Pattern[str] | None  # national_prefix_for_parsing, e.g. 0
    general: re.Pattern[str]  # the general national number pattern
    lengths: tuple[int, ...]  # possible lengths of the general desc, sorted
    local_only: tuple[int, ...]  # lengths possible only for local dialling

    def length(self, number: str) -> int:
        """phonenumbers' ``_test_number_length`` for the general desc (type UNKNOWN)."""
        size = len(number)
        if size in self.local_only:
            return _LOCAL_ONLY
        lengths = self.lengths
        if lengths[0] == size:
            return _POSSIBLE
        if lengths[0] > size:
            return _TOO_SHORT
        if lengths[-1] < size:
            return _TOO_LONG
        return _POSSIBLE if size in lengths[1:] else _INVALID_LENGTH

    def strip_national_prefix(self, number: str) -> str:
        """phonenumbers' national prefix stripping (regions without a transform rule):
        not when the number was a whole national number and the rest would not be."""
        if self.national_prefix is None or not number:
            return number
        found = self.national_prefix.match(number)
        if found is None:
            return number
        rest = number[found.end() :]
        # (rest tested first: it usually matches, which settles it with one regex)
        if not self.general.fullmatch(rest) and self.general.fullmatch(number):
            return number
        return rest


@functools.lru_cache(maxsize=512)
def _phone_plan(region: str) -> _PhonePlan | None:
    """The plan of an upper-case region, None when the fast path does not cover it
    (unknown region, non-geographic entity, a national prefix transform rule)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.national_prefix_transform_rule:
        return None
    general = metadata.general_desc
    if general is None or not general.national_number_pattern or not general.possible_length:
        return None
    prefix = metadata.national_prefix_for_parsing
    return _PhonePlan(
        code=str(metadata.country_code),
        idd=re.compile(metadata.international_prefix or r"(?!)"),
        national_prefix=re.compile(prefix) if prefix else None,
        general=re.compile(general.national_number_pattern),
        lengths=tuple(general.possible_length),
        local_only=tuple(general.possible_length_local_only),
    )


def _intl_fast_path(value: str, region: str) -> str | None:
    """What phonenumbers gives for ``+CC digits`` or a national number of ``region``
    written with digits, spaces, dashes, dots and parentheses only; None means "ask
    phonenumbers", not "invalid".

    It follows ``phonenumbers.parse`` then ``is_possible_number`` step by step with the
    library's own metadata: the country code is the first 1-3 digits after ``+`` that
    name one; a national number must not start with the region's IDD prefix or its own
    country code (the parser's guesses there are left to it); the national prefix is
    stripped unless that leaves an impossible length; the result must have a possible
    length of the country's main region.
    """
    text = value.strip()
    if not text or len(value) > 250 or _PLAIN_PHONE.fullmatch(text) is None:
        return None  # (phonenumbers refuses input over 250 characters)
    digits = _without_separators(text)
    if len(digits) < 3:
        return None
    if digits[0] == "+":
        digits = digits[1:]
        if len(digits) <= 2 or digits[0] == "0":
            return None
        for size in (1, 2, 3):
            regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:size]))
            if regions is not None:
                break
        else:
            return None
        plan = home = _phone_plan(regions[0])
        national = digits[size:]
    else:
        if len(digits) < 3 or not region:
            return None
        plan = _phone_plan(region.upper())
        if plan is None or plan.idd.match(digits) or digits.startswith(plan.code):
            return None
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(plan.code))
        home = _phone_plan(regions[0]) if regions else None
        national = digits
    if plan is None or home is None or len(national) < 2:
        return None
    stripped = plan.strip_national_prefix(national)
    if stripped != national and plan.length(stripped) in (_POSSIBLE, _TOO_LONG):
        national = stripped
    if not 2 <= len(national) <= 17 or home.length(national) not in (_POSSIBLE, _LOCAL_ONLY):
        return None
    return home.code + national


def norm_gender(value: str) -> str | None:
    """``m``/``male``/``man`` -> ``m``, ``f``/``female``/``woman`` -> ``f``, else None."""
    return _GENDERS.get(value.strip().lower())


@_cached(16384)
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
def _currencies() -> frozenset[str] | None:
    """Lower-cased ISO 4217 alpha-3 codes pycountry knows."""
    entries = _pycountry_data("iso4217.json", "4217")
    if entries is None or not all("alpha_3" in entry for entry in entries):
        return None
    return frozenset(entry["alpha_3"].lower() for entry in entries)


@_cached(4096)
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


@_cached(16384)
def norm_zip(value: str, region: str) -> str | None:
    """US: first 5 digits before any ``-``; elsewhere: lowercase, no spaces or dashes."""
    text = value.strip().lower()
    if region == "us":
        text = "".join(c for c in text.partition("-")[0] if c in _ASCII_DIGITS)[:5]
    else:
        text = "".join(c for c in text if c != "-" and not c.isspace())
    return text or None


@_cached(4096)
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


@_cached(16384)
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


@_cached(1024)
def norm_currency(value: str) -> str | None:
    """Trimmed, upper-cased ISO 4217 code known to pycountry, else None."""
    code = value.strip()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        return None
    code = code.upper()
    currencies = _currencies()
    if currencies is not None:
        return code if code.lower() in currencies else None
    found = _pycountry().currencies.get(alpha_3=code)  # pragma: no cover - as above
    return code if found is not None else None  # pragma: no cover


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
