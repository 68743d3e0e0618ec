"""``event_time`` parsing (mapping.md section 3): any accepted form -> Unix seconds.

Only parsing lives here; the ``too_old``/``in_future`` window is the mapper's job.
ISO 8601 goes through :meth:`datetime.fromisoformat` (C code); only other strings pay
for python-dateutil.
Fractions of a second are dropped by flooring toward minus infinity, so ``12:00:00.9``
is 12:00:00 and ``-1.5`` is ``-2``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone, tzinfo

__all__ = ["MS_THRESHOLD", "parse_event_time"]

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


def parse_event_time(value: object, tz: tzinfo | None = None, dayfirst: bool = False) -> int | None:
    """Unix seconds from an ISO 8601 / dateutil string, a JSON number or digit string.

    Numbers and all-digit strings are Unix seconds, or milliseconds above 10**11.
    A string without an offset is read in ``tz`` (default UTC; pass a ``zoneinfo``
    zone, not a pytz one). ``dayfirst`` settles ``01/02/2026`` for dateutil. Returns
    None, never raises, for anything that is not a time between years 1 and 9999.
    """
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
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        other = _parse_other(text, dayfirst)
        if other is None:
            return None
        parsed = other
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=tz or UTC)
    try:
        seconds: int = (parsed - _EPOCH) // _SECOND
    except (OverflowError, ValueError):
        return None
    return seconds if _MIN_SECONDS <= seconds <= _MAX_SECONDS else None


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


def _parse_other(text: str, dayfirst: bool) -> datetime | None:
    """What dateutil reads with a full date (not ISO 8601); None otherwise."""
    from dateutil import parser as dateparser  # imported on first use: ~13 ms of start-up

    try:
        first = dateparser.parse(text, default=_DEFAULT_A, dayfirst=dayfirst, tzinfos=_tzinfos)
        second = dateparser.parse(text, default=_DEFAULT_B, dayfirst=dayfirst, tzinfos=_tzinfos)
    except (ValueError, OverflowError):
        return None
    return first if first.date() == second.date() else None
