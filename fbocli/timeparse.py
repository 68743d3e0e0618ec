"""``event_time`` parsing (mapping.md section 3): any accepted form -> Unix seconds.

Only parsing lives here; the ``too_old``/``in_future`` window is the mapper's job.
The shapes producers actually send (``YYYY-MM-DDTHH:MM:SS`` with ``Z``, a fraction or an
``+HH:MM`` offset) are computed arithmetically; other ISO 8601 forms go through
:meth:`datetime.fromisoformat` (C code); only other strings pay for python-dateutil.
Fractions of a second are dropped by flooring toward minus infinity, so ``12:00:00.9``
is 12:00:00 and ``-1.5`` is ``-2``.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

__all__ = ["MS_THRESHOLD", "parse_event_time", "parse_general", "plain_iso"]

MS_THRESHOLD = 10**11  # numbers above this are Unix milliseconds, not seconds
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
# Unix seconds of 0001-01-01 and 9999-12-31T23:59:59 UTC: outside, no datetime exists.
_MIN_SECONDS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // _SECOND
_MAX_SECONDS = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH) // _SECOND
_MAX_CHARS = 100  # no timestamp is longer; spares dateutil (and int()) from long junk
# Two defaults that differ in year, month and day: a date component dateutil did not
# find shows up as a difference, so "12:00" is invalid rather than "today at noon".
_DEFAULT_A = datetime(1904, 1, 1)
_DEFAULT_B = datetime(1905, 2, 2)

# The fast path's tables. Two ASCII digits -> their value (so "٠١" or " 1" never match).
_TWO_DIGITS = {f"{n:02d}": n for n in range(60)}
# "Z" and each "+HH:MM"/"-HH:MM" (hours 00-23, as fromisoformat allows) met so far ->
# seconds east of UTC (filled by _offset: building all 2,880 up front cost ~5 ms of start-up).
_OFFSETS = {"Z": 0}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# "YYYY-MM-DDTHH" (or with a space) -> Unix seconds of that hour in UTC. Events of a
# run fall in a few thousand distinct hours; bounded: cleared when full.
_HOUR_STARTS: dict[str, int] = {}
_HOUR_STARTS_LIMIT = 100_000


def parse_event_time(
    value: object, *, tz: tzinfo | None = None, dayfirst: bool = False
) -> int | None:
    """Unix seconds from an ISO 8601 / dateutil string, a JSON number or digit string.

    Numbers and all-digit strings are Unix seconds, or milliseconds above 10**11.
    A string without an offset is read in ``tz`` (default UTC; pass a ``zoneinfo``
    zone, not a pytz one). ``dayfirst`` settles ``01/02/2026`` for dateutil. Returns
    None, never raises, for anything that is not a time between years 1 and 9999.
    """
    if type(value) is str and 19 <= len(value) <= 29:
        fast = plain_iso(value, tz)
        if fast is not None:
            return fast
    return parse_general(value, tz, dayfirst)


def parse_general(value: object, tz: tzinfo | None, dayfirst: bool) -> int | None:
    """:func:`parse_event_time` for every input; the fast path only shortcuts it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _from_number(value)
    if isinstance(value, float):
        return _from_number(math.floor(value)) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > _MAX_CHARS:
        return None
    if text.isascii() and text.isdigit():
        return _from_number(int(text))
    parsed = _parse_datetime(text, dayfirst)
    if parsed is None:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=tz or UTC)
    try:
        seconds: int = (parsed - _EPOCH) // _SECOND
    except (OverflowError, ValueError):
        return None
    return seconds if _MIN_SECONDS <= seconds <= _MAX_SECONDS else None


def plain_iso(text: str, tz: tzinfo | None) -> int | None:
    """Unix seconds of ``YYYY-MM-DD[T ]HH:MM:SS`` + ``Z`` / ``.fffZ`` / ``.ffffffZ`` /
    ``+HH:MM`` (or nothing when ``tz`` is UTC), years 1900-2999, by arithmetic.

    These are the shapes nearly every producer writes; ``fromisoformat`` plus the
    timedelta arithmetic cost several times more. None means "not this shape, ask the
    general parser" (which reads all of these identically: the tests check it).
    """
    start = _HOUR_STARTS.get(text[:13])
    if start is None:
        start = _hour_start(text[:13])
        if start is None:
            return None
    minute = _TWO_DIGITS.get(text[14:16])
    second = _TWO_DIGITS.get(text[17:19])
    if minute is None or second is None or text[13] != ":" or text[16] != ":":
        return None
    tail = text[19:]
    offset = _OFFSETS.get(tail)
    if offset is None:
        if not tail:
            if tz is not None:
                return None  # a naive time read in a zone: DST rules, ask the parser
            offset = 0
        elif (
            len(tail) in (5, 8)
            and tail[0] == "."
            and tail[-1] == "Z"
            and tail[1:-1].isdigit()
            and tail[1:-1].isascii()
        ):
            offset = 0  # the fraction is dropped: flooring a time after 1900 ignores it
        else:
            offset = _offset(tail)
            if offset is None:
                return None
    return start + minute * 60 + second - offset


def _offset(tail: str) -> int | None:
    """Seconds east of UTC of ``+HH:MM`` / ``-HH:MM`` (hours 00-23), memoized; else None."""
    if len(tail) != 6 or tail[0] not in "+-" or tail[3] != ":":
        return None
    hours, minutes = _TWO_DIGITS.get(tail[1:3]), _TWO_DIGITS.get(tail[4:6])
    if hours is None or minutes is None or hours > 23:
        return None
    offset = _OFFSETS[tail] = (1 if tail[0] == "+" else -1) * (hours * 3600 + minutes * 60)
    return offset


def _hour_start(prefix: str) -> int | None:
    """Unix seconds of ``YYYY-MM-DD[T ]HH`` read as UTC, memoized; None if not that shape."""
    if prefix[4] != "-" or prefix[7] != "-" or prefix[10] not in "T ":
        return None
    year = prefix[:4]
    month = _TWO_DIGITS.get(prefix[5:7])
    day = _TWO_DIGITS.get(prefix[8:10])
    hour = _TWO_DIGITS.get(prefix[11:13])
    if month is None or day is None or hour is None or hour > 23:
        return None
    if not (year.isascii() and year.isdigit() and 1900 <= int(year) <= 2999):
        return None
    try:
        ordinal = date(int(year), month, day).toordinal()
    except ValueError:  # month 0 or 13, day 0 or 31 in a short month, ...
        return None
    start = (ordinal - _EPOCH_ORDINAL) * 86400 + hour * 3600
    if len(_HOUR_STARTS) >= _HOUR_STARTS_LIMIT:
        _HOUR_STARTS.clear()
    _HOUR_STARTS[prefix] = start
    return start


def _from_number(number: int) -> int | None:
    """Seconds (or milliseconds above the threshold) -> seconds, within datetime's range."""
    seconds = number // 1000 if number > MS_THRESHOLD else number
    return seconds if _MIN_SECONDS <= seconds <= _MAX_SECONDS else None


def _tzinfos(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's time zone hook: offsets as found; a zone *name* it cannot pin is refused.

    Without this hook dateutil warns and returns a naive time for ``PST``, which would then
    be read in the configured zone, hours off; and it maps names matching the machine's
    own zone to local time, so results would depend on the host. Refusing is safer.
    """
    if offset is not None:
        return UTC if offset == 0 else timezone(timedelta(seconds=offset))
    if name is None:
        return None
    raise ValueError(f"unknown time zone name {name!r}")


def _parse_datetime(text: str, dayfirst: bool) -> datetime | None:
    """ISO fast path, then dateutil requiring a full date; None when neither reads it."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    from dateutil import parser as dateparser  # imported on first use: ~13 ms of start-up

    try:
        first = dateparser.parse(text, default=_DEFAULT_A, dayfirst=dayfirst, tzinfos=_tzinfos)
        second = dateparser.parse(text, default=_DEFAULT_B, dayfirst=dayfirst, tzinfos=_tzinfos)
    except (ValueError, OverflowError):
        return None
    return first if first.date() == second.date() else None
