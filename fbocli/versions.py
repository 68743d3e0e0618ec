"""The Marketing API versions fbocli knows, with their release and expiry dates.

The Conversions API follows the Marketing API's schedule (meta-api.md "Versions"): a
version works for about a year, then calls fail with error 2635. This table is the one
place those dates live; the default ``api_version`` is its newest entry.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import NamedTuple


class Version(NamedTuple):
    name: str
    released: date
    expires: date | None  # None: not announced


# From Meta's "Marketing API version history" page, oldest first.
VERSIONS = (
    Version("v22.0", date(2025, 1, 21), date(2026, 2, 19)),
    Version("v23.0", date(2025, 5, 29), date(2026, 6, 9)),
    Version("v24.0", date(2025, 10, 8), date(2026, 11, 10)),
    Version("v25.0", date(2026, 2, 18), date(2027, 2, 23)),
    Version("v26.0", date(2026, 7, 29), None),
    Version("v27.0", date(2026, 11, 4), None),
)
NEWEST = VERSIONS[-1].name
WARN_DAYS = 30  # warn this long before a version expires
_NAME = re.compile(r"^v(\d+)\.(\d+)$")


def known(name: str) -> Version | None:
    """The table's entry for ``name``, or None."""
    return next((v for v in VERSIONS if v.name == name), None)


def _number(name: str) -> tuple[int, int] | None:
    found = _NAME.match(name)
    return (int(found[1]), int(found[2])) if found else None


def expiry_warning(name: str, today: date) -> str | None:
    """What to tell a user of ``name`` on ``today``: expired, expiring within 30 days, or
    older than every version in the table; None when it is fine (an unknown *newer*
    version is accepted without a word)."""
    version = known(name)
    if version is None:
        number, oldest = _number(name), _number(VERSIONS[0].name)
        if number is not None and oldest is not None and number < oldest:
            return (
                f"api_version {name} is older than every version fbocli knows and has "
                f"expired; the newest known is {NEWEST}"
            )
        return None
    if version.expires is None:
        return None
    if version.expires <= today:
        return (
            f"api_version {name} expired on {version.expires.isoformat()}; "
            f"the newest known is {NEWEST}"
        )
    if version.expires - today <= timedelta(days=WARN_DAYS):
        days = (version.expires - today).days
        return (
            f"api_version {name} expires on {version.expires.isoformat()} (in {days} "
            f"day{'s' if days != 1 else ''}); the newest known is {NEWEST}"
        )
    return None


def describe(name: str) -> str:
    """One line for `auth status`: the version and when it expires."""
    version = known(name)
    if version is None:
        return f"{name} (not in fbocli's table; the newest known is {NEWEST})"
    if version.expires is None:
        return f"{name} (released {version.released.isoformat()}, no expiry announced)"
    return f"{name} (expires {version.expires.isoformat()})"
