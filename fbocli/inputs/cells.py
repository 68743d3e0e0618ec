"""CSV cells as exports write them: amounts (``$1,240.00``, ``-$0.95``, ``12,50 €``) and
times (an explicit ``date_format``, a file's zone, a date and a time in two columns).

The reader turns such cells into the plain forms the mapping reads (``1240.00``, an ISO
8601 time with its offset); a cell it cannot read is left as written, so the mapping
rejects it naming the column.
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation

from fbocli.mapping.timeparse import parse_event_time

CSV_DELIMITERS = ",;\t|"
_SYMBOLS = "$€£¥"


def sniff_delimiter(sample: str) -> str:
    """The delimiter ``csv.Sniffer`` sees among ``, ; tab |``; ``,`` when it cannot tell."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        return ","


# After the sign and the currency symbol are taken off: digits, in groups of three when
# they have a thousands separator, and an optional fraction (decimal point ".").
_POINT = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+")
# The same with a decimal comma: "1.234,56", "1 234,56", "1'234,56", "12,5".
_COMMA = re.compile(r"(?:\d{1,3}(?:([. '\u00a0\u202f])\d{3})(?:\1\d{3})*|\d+)(?:,\d+)?|,\d+")


def money(text: str, decimal: str = ".") -> Decimal | None:
    """An amount as an export writes it, or None: an optional sign (``-``, or
    parentheses), a currency symbol before or after, thousands separators, the decimal
    separator ``decimal`` (``"."`` or ``","``)."""
    t = text.strip()
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1].strip()
    for _ in range(2):  # "-$5", "$-5", "5 €", "-5€"
        if t[:1] in "+-" and t[:1]:
            negative, t = negative or t[0] == "-", t[1:].strip()
        if t[:1] and t[:1] in _SYMBOLS:
            t = t[1:].strip()
        if t[-1:] and t[-1:] in _SYMBOLS:
            t = t[:-1].strip()
    if decimal == ",":
        if not _COMMA.fullmatch(t):
            return None
        t = re.sub(r"[. '\u00a0\u202f]", "", t).replace(",", ".")
    else:
        if not _POINT.fullmatch(t):
            return None
        t = t.replace(",", "")
    try:
        amount = Decimal(t)
    except InvalidOperation:  # pragma: no cover - the patterns above admit only numbers
        return None
    return -amount if negative else amount


def amount_text(amount: Decimal) -> str:
    """An amount as the mapping reads it: plain digits, a point, no exponent."""
    text = format(amount, "f")
    return "0" if text in ("-0", "-0.00") else text


def decimal_comma(text: str) -> str:
    """A cell of a ``decimal = ","`` file, in the form the mapping reads (``12,50`` ->
    ``12.50``); left as written when it is not an amount."""
    amount = money(text, ",")
    return text if amount is None else amount_text(amount)


def iso(seconds: int) -> str:
    """Unix seconds as the ISO 8601 time the mapping reads, in UTC."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_format(text: str, date_format: str, tz: tzinfo | None) -> str | None:
    """A time read with an explicit ``strptime`` format: ISO 8601 (with its offset when
    the text or ``tz`` gives one; without, the mapping's ``timezone`` applies), or None
    when the text does not match."""
    try:
        moment = datetime.strptime(text.strip(), date_format)
    except ValueError:
        return None
    if moment.tzinfo is None and tz is not None:
        moment = moment.replace(tzinfo=tz)
    return moment.isoformat()


def in_zone(text: str, tz: tzinfo, dayfirst: bool) -> str | None:
    """A time without an offset read in ``tz`` (one with an offset keeps it), as ISO
    8601 in UTC; None when it is not a time."""
    seconds = parse_event_time(text, tz, dayfirst)
    return None if seconds is None else iso(seconds)


_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d")
_DAYFIRST_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%Y/%m/%d", "%d.%m.%Y")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%I:%M:%S%p", "%I:%M%p")


def date_and_time(day: str, clock: str, tz: tzinfo, dayfirst: bool) -> str | None:
    """A date and a time of day from two cells (``2026-11-10`` or ``11/10/2026``;
    ``21:50:48`` or ``2:30:00 PM``) in zone ``tz``, as ISO 8601 with the zone's offset at
    that moment; None when either cannot be read."""
    found_day = _first(day.strip(), _DAYFIRST_FORMATS if dayfirst else _DATE_FORMATS)
    found_time = _first(clock.strip().upper(), _TIME_FORMATS)
    if found_day is None or found_time is None:
        return None
    return datetime.combine(found_day.date(), found_time.time(), tzinfo=tz).isoformat()


def _first(text: str, formats: tuple[str, ...]) -> datetime | None:
    for pattern in formats:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None
