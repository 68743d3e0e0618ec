"""Match keys (mapping.md section 4): a message's customer information, normalized and hashed.

The hashed value of a low-cardinality key (gender, names, city, state, zip, country) is
memoized here, per field and region: the same few thousand values repeat across millions
of events, so each is normalized and hashed once. This is the one memo of hashed keys
(docs/performance.md has what it saves); emails and phones are mostly unique and are
not memoized.

:func:`user_data` also says what it could not use (:data:`Note`): a country, a US or
Canadian state or a gender it did not recognise (the value), an email that is not an
address, a phone that is not a possible number, a birthday that is not a date (no
value: they are personal data; nor is a value shown that looks like an email or a phone
number, from a column out of place), and a record read in the default region because
its country was not recognised. The memos remember which values were not recognised, so
a record whose values are all fine costs nothing more.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fbocli.mapping.normalize import (
    clean,
    hash_values,
    is_sha256_hex,
    norm_birthday,
    norm_email,
    norm_external_id,
    norm_gender,
    norm_name,
    norm_zip,
    sha256_hex,
    split_name,
)
from fbocli.mapping.phones import norm_phone
from fbocli.mapping.places import STATE_REGIONS, norm_country, norm_state, state_known
from fbocli.settings import MappingSettings

INTEGRATION = "Facebook Offline Conversions"

ABSENT = (None, "")  # a value that is missing or an empty string counts as absent
_MEMO_LIMIT = 50_000  # values per memo; a full memo is cleared
_SHOWN_CHARS = 80  # a value not recognised is reported cut to this length
_DIGITS_SHOWN = 3  # a value with this many digits or more is not shown
NOT_SHOWN = "(not shown: it looks like an email or a phone number)"

# What a record's match keys could not use: (field, value) for a country, state or gender
# not recognised; (field, "invalid") for an email or birthday and (field, "impossible")
# for a phone, whose values are not reported; ("region", the default region) for a record
# whose country was not recognised and whose phone, state or zip was read in the default
# region ("" for none).
Note = tuple[str, str]
NO_NOTES: tuple[Note, ...] = ()


class _Memo(dict[str, str | None]):
    """Raw text -> its hashed key, for one field (and region): a hit is one dict lookup.

    With ``known``, the raw values it says are not recognised (pre-hashed values aside)
    are also kept in ``unknown``, which stays empty while every value is fine.
    """

    __slots__ = ("known", "normalize", "unknown")

    def __init__(
        self, normalize: Callable[[str], str | None], known: Callable[[str], bool] | None = None
    ) -> None:
        super().__init__()
        self.normalize = normalize
        self.known = known
        self.unknown: set[str] = set()

    def __missing__(self, raw: str) -> str | None:
        if len(self) >= _MEMO_LIMIT:
            self.clear()
            self.unknown.clear()
        found = hash_values(raw, self.normalize)
        hashed = self[raw] = found[0] if found else None
        if self.known is not None and not _prehashed(raw) and not self.known(raw):
            self.unknown.add(raw)
        return hashed


def _prehashed(raw: str) -> bool:
    stripped = raw.strip()
    return len(stripped) == 64 and is_sha256_hex(stripped)


def _gender_known(value: str) -> bool:
    return not clean(value) or norm_gender(value) is not None


_GENDERS = _Memo(norm_gender, _gender_known)
_NAMES = _Memo(norm_name)  # first and last names, cities: the same rule


@dataclass(frozen=True, slots=True)
class _Region:
    """What normalizing depends on a record's region for: phones, states, zips."""

    phone: Callable[[str], str | None]
    states: _Memo
    zips: _Memo


def _region(region: str) -> _Region:
    state_rule = functools.partial(norm_state, region=region)
    known = functools.partial(state_known, region=region) if region in STATE_REGIONS else None
    found = _REGIONS[region] = _Region(
        functools.partial(norm_phone, region=region),
        _Memo(state_rule, known),
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
    hundred spellings exist, each resolved and hashed once. ``unknown`` holds the raw
    values that name no country."""

    __slots__ = ("unknown",)

    def __init__(self) -> None:
        super().__init__()
        self.unknown: set[str] = set()

    def __missing__(self, raw: str) -> tuple[str | None, str | None]:
        country = norm_country(raw)
        hashed = sha256_hex(country) if country else None
        key = raw.strip().lower() if _prehashed(raw) else hashed
        found = (country, key)
        if len(self) >= _MEMO_LIMIT:
            self.clear()
            self.unknown.clear()
        self[raw] = found
        if key is None and clean(raw):
            self.unknown.add(raw)
        return found


_COUNTRIES = _Countries()


def user_data(
    msg: dict[str, Any],
    properties: dict[str, Any],
    settings: MappingSettings,
    *,
    this_year: int,
    offline: bool = False,
    dayfirst: bool = False,
) -> tuple[dict[str, Any], tuple[Note, ...]]:
    """Hashed match keys under their Conversions API names (empty when none is usable),
    and the :data:`Note` of each value it could not use (:data:`NO_NOTES` when none).

    ``this_year``: the year of *now* (the latest birth year); ``offline`` adds
    ``doby``/``dobm``/``dobd`` (the legacy API's birthday keys).
    """
    context = obj(msg.get("context"))
    traits = obj(context.get("traits"))
    address = obj(traits.get("address"))
    raw_country = address.get("country")
    country, country_key = _COUNTRIES[raw_country] if isinstance(raw_country, str) else _NONE
    region = country or settings.default_country
    place = _REGIONS.get(region) or _region(region)
    user: dict[str, Any] = {}
    notes = NO_NOTES  # (grown only on the rare paths: a clean record allocates nothing)

    email = traits.get("email")
    if email in ABSENT:
        email = properties.get("email")
    if em := hash_values(email, norm_email):
        user["em"] = em
        if type(email) is list and _dropped(email, norm_email):
            notes += (("email", "invalid"),)
    elif email not in ABSENT and _dropped(email, norm_email):
        notes += (("email", "invalid"),)
    phone = traits.get("phone")
    if phone in ABSENT:
        phone = properties.get("phone")
    if ph := hash_values(phone, place.phone, numbers=True):
        user["ph"] = ph
        if type(phone) is list and _dropped(phone, place.phone):
            notes += (("phone", "impossible"),)
    elif phone not in ABSENT and _dropped(phone, place.phone):
        notes += (("phone", "impossible"),)
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
    if _GENDERS.unknown and (gender := _unknown(traits.get("gender"), _GENDERS)):
        notes += (("gender", gender),)
    if place.states.unknown and (state := _unknown(address.get("state"), place.states)):
        notes += (("state", state),)
    if _COUNTRIES.unknown and isinstance(raw_country, str) and raw_country in _COUNTRIES.unknown:
        notes += (("country", _shown(raw_country)),)
        read_in_region = (phone, address.get("state"), address.get("postalCode"))
        if any(raw not in ABSENT for raw in read_in_region):
            notes += (("region", region),)

    birthday = traits.get("birthday")
    if isinstance(birthday, str):
        if is_sha256_hex(birthday.strip()):
            user["db"] = birthday.strip().lower()
        elif (born := norm_birthday(birthday, this_year=this_year, dayfirst=dayfirst)) is not None:
            user["db"] = sha256_hex(born)
            if offline:
                user["doby"] = sha256_hex(born[:4])
                user["dobm"] = sha256_hex(born[4:6])
                user["dobd"] = sha256_hex(born[6:])
        elif clean(birthday):
            notes += (("birthday", "invalid"),)

    user_id = msg.get("userId")
    if user_id is not None and (external := _external_id(user_id, settings.hash_external_id)):
        user["external_id"] = [external]
    integration = context.get(INTEGRATION)
    if integration is not None and (lead := _lead_id(obj(integration).get("leadId"))) is not None:
        user["lead_id"] = lead
    return user, notes


def why_no_keys(
    msg: dict[str, Any], properties: dict[str, Any], this_year: int, nothing: str = ""
) -> str:
    """The ``no_match_keys`` detail: what the record had and why none of it was usable;
    ``nothing`` (a CSV file's wording, naming its columns) when it had none of them.

    Only categories are quoted (a gender, a state, a country); emails, phones, names,
    cities, zips, birthdays and ids are personal data and are named, not printed (the
    rejects file holds the record itself).
    """
    context = obj(msg.get("context"))
    traits = obj(context.get("traits"))
    address = obj(traits.get("address"))
    email, phone = traits.get("email"), traits.get("phone")
    if email in ABSENT:
        email = properties.get("email")
    if phone in ABSENT:
        phone = properties.get("phone")
    birthday = traits.get("birthday")
    said = [
        ("email", email, "is not an address"),
        ("phone", phone, "is not a possible phone number"),
        ("firstName", traits.get("firstName"), "has no letters"),
        ("lastName", traits.get("lastName"), "has no letters"),
        ("name", traits.get("name"), "has no letters"),
        ("address.city", address.get("city"), "has no letters"),
        ("address.state", address.get("state"), "has no letters"),
        ("address.postalCode", address.get("postalCode"), "has nothing a zip code keeps"),
        ("address.country", address.get("country"), "is not a country"),
        ("gender", traits.get("gender"), "is not a gender Meta takes (m or f)"),
        ("birthday", birthday, f"is not a date from 1900 to {this_year}"),
        ("userId", msg.get("userId"), "is empty or not text or a number"),
        ("leadId", obj(context.get(INTEGRATION)).get("leadId"), "is not a lead id (digits)"),
    ]
    parts = []
    for field, raw, why in said:
        if raw in ABSENT or (isinstance(raw, str) and not clean(raw)):
            continue
        if field == "birthday" and isinstance(raw, str) and _prehashed(raw):
            why = "is pre-hashed, and the legacy API takes year, month and day apart"
        shown = f" {_quoted(raw)}" if field in _CATEGORIES else ""
        parts.append(f"{field}{shown} {why}")
    if not parts:
        return nothing or "no email, phone, name, address, userId or lead id"
    return "nothing usable: " + "; ".join(parts)


_CATEGORIES = frozenset({"address.state", "address.country", "gender"})


def _quoted(raw: object) -> str:
    text = _shown(raw) if isinstance(raw, str) else repr(raw)[:_SHOWN_CHARS]
    return f'"{text}"'


def _dropped(raw: object, normalize: Callable[[str], str | None]) -> bool:
    """Whether a value (or one of a list) had content and still gave nothing: the rare
    path, taken only when a key is missing or came from a list."""
    for item in raw if isinstance(raw, list) else (raw,):
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if (
            isinstance(item, str)
            and clean(item)
            and not _prehashed(item)
            and normalize(item) is None
        ):
            return True
    return False


def _unknown(raw: object, memo: _Memo) -> str | None:
    """The value to report when ``raw`` is one the memo did not recognise, else None."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    return _shown(raw) if isinstance(raw, str) and raw in memo.unknown else None


def _shown(raw: str) -> str:
    """A value not recognised as the report shows it: trimmed, at most _SHOWN_CHARS; and
    not at all when it looks like an email or a phone number (a column out of place):
    the report and the summary never show those."""
    text = clean(raw)
    if "@" in text or sum(c.isdigit() for c in text) >= _DIGITS_SHOWN:
        return NOT_SHOWN
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _external_id(raw: object, hashed: bool) -> str | None:
    """``userId``: trimmed; hashed after :func:`norm_external_id` unless told not to (then
    sent as given); 64 hex characters are taken as pre-hashed and only lowercased."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return None
    text = str(raw).strip()
    if not text or not hashed:
        return text or None
    if len(text) == 64 and is_sha256_hex(text):
        return text.lower()
    normalized = norm_external_id(text)
    return sha256_hex(normalized) if normalized else None


def _lead_id(raw: object) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if raw > 0 else None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text[:2].lower() == "l:":
        text = text[2:].strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 40 else None
