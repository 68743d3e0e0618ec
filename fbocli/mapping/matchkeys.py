"""Match keys (mapping.md section 4): a message's customer information, normalized and hashed.

The hashed value of a low-cardinality key (gender, names, city, state, zip, country) is
memoized here, per field and region: the same few thousand values repeat across millions
of events, so each is normalized and hashed once. This is the one memo of hashed keys
(docs/performance.md has what it saves); emails and phones are mostly unique and are
not memoized.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fbocli.mapping.normalize import (
    hash_values,
    is_sha256_hex,
    norm_birthday,
    norm_country,
    norm_email,
    norm_gender,
    norm_name,
    norm_state,
    norm_zip,
    sha256_hex,
    split_name,
)
from fbocli.mapping.phones import norm_phone
from fbocli.settings import MappingSettings

INTEGRATION = "Facebook Offline Conversions"

ABSENT = (None, "")  # a value that is missing or an empty string counts as absent
_MEMO_LIMIT = 50_000  # values per memo; a full memo is cleared


class _Memo(dict[str, str | None]):
    """Raw text -> its hashed key, for one field (and region): a hit is one dict lookup."""

    __slots__ = ("normalize",)

    def __init__(self, normalize: Callable[[str], str | None]) -> None:
        super().__init__()
        self.normalize = normalize

    def __missing__(self, raw: str) -> str | None:
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        found = hash_values(raw, self.normalize)
        hashed = self[raw] = found[0] if found else None
        return hashed


_GENDERS = _Memo(norm_gender)
_NAMES = _Memo(norm_name)  # first and last names, cities: the same rule


@dataclass(frozen=True, slots=True)
class _Region:
    """What normalizing depends on a record's region for: phones, states, zips."""

    phone: Callable[[str], str | None]
    states: _Memo
    zips: _Memo


def _region(region: str) -> _Region:
    found = _REGIONS[region] = _Region(
        functools.partial(norm_phone, region=region),
        _Memo(functools.partial(norm_state, region=region)),
        _Memo(functools.partial(norm_zip, region=region)),
    )
    return found


_NONE: tuple[str | None, str | None] = (None, None)
_REGIONS: dict[str, _Region] = {}


def obj(value: object) -> dict[str, Any]:
    """A container of the wrong JSON type counts as absent (mapping.md section 1)."""
    return value if isinstance(value, dict) else {}


class _Countries(dict[str, tuple[str | None, str | None]]):
    """Raw ``address.country`` -> (alpha-2 or None, the ``country`` key or None): a few
    hundred spellings exist, each resolved and hashed once."""

    def __missing__(self, raw: str) -> tuple[str | None, str | None]:
        country = norm_country(raw)
        stripped = raw.strip()
        key: str | None
        if len(stripped) == 64 and is_sha256_hex(stripped):
            key = stripped.lower()
        else:
            key = sha256_hex(country) if country else None
        found = (country, key)
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        self[raw] = found
        return found


_COUNTRIES = _Countries()


def user_data(
    msg: dict[str, Any],
    properties: dict[str, Any],
    settings: MappingSettings,
    *,
    offline: bool = False,
    dayfirst: bool = False,
) -> dict[str, Any]:
    """Hashed match keys under their Conversions API names; empty when none is usable.

    ``offline`` adds ``doby``/``dobm``/``dobd`` (the legacy API's birthday keys).
    """
    context = obj(msg.get("context"))
    traits = obj(context.get("traits"))
    address = obj(traits.get("address"))
    raw_country = address.get("country")
    country, country_key = _COUNTRIES[raw_country] if isinstance(raw_country, str) else _NONE
    region = country or settings.default_country
    place = _REGIONS.get(region) or _region(region)
    user: dict[str, Any] = {}

    email = traits.get("email")
    if email in ABSENT:
        email = properties.get("email")
    if em := hash_values(email, norm_email):
        user["em"] = em
    phone = traits.get("phone")
    if phone in ABSENT:
        phone = properties.get("phone")
    if ph := hash_values(phone, place.phone, numbers=True):
        user["ph"] = ph
    first, last = traits.get("firstName"), traits.get("lastName")
    name = traits.get("name")
    if isinstance(name, str) and (first in ABSENT or last in ABSENT):
        name_first, name_last = split_name(name)
        first = first if first not in ABSENT else name_first
        last = last if last not in ABSENT else name_last
    for key, memo, raw in (
        ("ge", _GENDERS, traits.get("gender")),
        ("fn", _NAMES, first),
        ("ln", _NAMES, last),
        ("ct", _NAMES, address.get("city")),
        ("st", place.states, address.get("state")),
        ("zp", place.zips, address.get("postalCode")),
    ):
        if isinstance(raw, str):
            hashed = memo[raw]
        elif isinstance(raw, int) and not isinstance(raw, bool):
            hashed = memo[str(raw)]  # a zip code given as a JSON number
        else:
            continue
        if hashed:
            user[key] = hashed
    if country_key:
        user["country"] = country_key

    birthday = traits.get("birthday")
    if isinstance(birthday, str):
        if is_sha256_hex(birthday.strip()):
            user["db"] = birthday.strip().lower()
        elif (born := norm_birthday(birthday, dayfirst=dayfirst)) is not None:
            user["db"] = sha256_hex(born)
            if offline:
                user["doby"] = sha256_hex(born[:4])
                user["dobm"] = sha256_hex(born[4:6])
                user["dobd"] = sha256_hex(born[6:])

    user_id = msg.get("userId")
    if user_id is not None and (external := _external_id(user_id, settings.hash_external_id)):
        user["external_id"] = [external]
    integration = context.get(INTEGRATION)
    if integration is not None and (lead := _lead_id(obj(integration).get("leadId"))) is not None:
        user["lead_id"] = lead
    return user


def _external_id(raw: object, hashed: bool) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return None
    text = str(raw).strip()
    if not text:
        return None
    if not hashed:
        return text
    if len(text) == 64 and is_sha256_hex(text):
        return text.lower()
    return sha256_hex(text)


def _lead_id(raw: object) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if raw > 0 else None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text[:2].lower() == "l:":
        text = text[2:].strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 40 else None
