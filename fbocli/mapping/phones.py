"""Phone numbers (mapping.md section 4, ``ph``): E.164 digits without ``+``.

``phonenumbers`` is the reference, read on what the spec keeps of a value: NFKC form;
an extension (``ext. 12``, ``x12``, ``#12``) and any trailing words (``(home)``,
``mobile``) dropped; and the separators made irrelevant (``555_123_4567``,
``{555} 123-4567`` and ``555-123-4567`` are one number): :func:`phone_text` keeps a
``+`` written before the first digit, and the digits.

Parsing a number with the library costs 50-170 µs, most of a mapping worker's time on
events with a phone, so the two shapes nearly every export writes take a shortcut that
follows the library's own rules and metadata step by step: plain North American numbers,
and ``+CC digits`` or national numbers written with digits, spaces, dashes, dots and
parentheses. They are tried on the value as it is, and again on :func:`phone_text` of
any other value; everything else asks the library. The tests hold the shortcuts to the
library's answer on corpora and on random input (``tests/test_phones.py``);
docs/performance.md has what they save.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers

__all__ = ["norm_phone", "phone_text"]

_ASCII_DIGITS = frozenset("0123456789")
# An extension at the end: "ext", "ext.", "extension", "x" or "#", then its digits.
_EXTENSION = re.compile(r"[\s,;]*(?:ext(?:ension)?\.?|x|#)\s*:?\s*[0-9]+$", re.IGNORECASE)


def norm_phone(value: str, region: str) -> str | None:
    """E.164 digits without ``+`` when phonenumbers finds a possible number in
    :func:`phone_text` of the value.

    ``region`` (lowercase alpha-2, or "" for none) supplies the country code of a
    national number. Otherwise (unparseable, not possible) fall back to the digits
    with leading zeros stripped, kept only if at least 7 remain. The shortcuts (module
    docstring) give the library's answer without calling it.
    """
    fast = _nanp_fast_path(value, region)
    if fast is None:
        fast = _intl_fast_path(value, region)
    return fast if fast is not None else _parse_phone(value, region)


def phone_text(value: str) -> str:
    """What the spec reads of a phone: ``+`` (when one comes before the first digit) and
    the digits, after NFKC, without an extension and trailing words; "" when no digit.

    ``Tel: +1 (555) 123-4567 ext. 89 (work)`` -> ``+15551234567``, ``555|123|4567`` ->
    ``5551234567``, ``1-800-FLOWERS`` -> ``1800``.
    """
    text = unicodedata.normalize("NFKC", value) if not value.isascii() else value
    end = len(text)
    while end and not text[end - 1].isdecimal():
        end -= 1
    text = _EXTENSION.sub("", text[:end])
    digits = [str(unicodedata.decimal(c)) for c in text if c.isdecimal()]
    if not digits:
        return ""
    first = next(i for i, c in enumerate(text) if c.isdecimal())
    return ("+" if "+" in text[:first] else "") + "".join(digits)


@functools.lru_cache(maxsize=16384)  # the slow path; repeated numbers parse once
def _parse_phone(value: str, region: str) -> str | None:
    """:func:`norm_phone` of what the shortcuts did not take on the value as written: the
    shortcuts again on :func:`phone_text`, else phonenumbers itself."""
    number = phone_text(value)
    if not number:
        return None
    fast = _nanp_fast_path(number, region)
    if fast is None:
        fast = _intl_fast_path(number, region)
    if fast is not None:
        return fast
    try:
        parsed = phonenumbers.parse(number, region.upper() or None)
        if phonenumbers.is_possible_number(parsed):
            e164: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            return e164.lstrip("+")
    except phonenumbers.NumberParseException:
        pass
    digits = number.lstrip("+").lstrip("0")
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
    digits = _without_separators(value.strip())
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
