"""Segment message -> Meta conversions, exactly per ``spec/mapping.md`` sections 1-7.

:func:`map_record` is pure: the same record, settings and ``now`` always give the same
outcome, which is what makes re-runs deduplicate and the golden tests exact.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from fbocli.normalize import (
    hash_email,
    hash_key,
    hash_phone,
    is_sha256_hex,
    norm_birthday,
    norm_country,
    norm_currency,
    norm_email,
    norm_gender,
    norm_name,
    norm_phone,
    norm_state,
    norm_zip,
    parse_amount,
    sha256,
    sha256_hex,
    split_name,
)
from fbocli.readers import Record
from fbocli.settings import Route, Settings
from fbocli.timeparse import parse_general, plain_iso

INTEGRATION = "Facebook Offline Conversions"
STANDARD_CUSTOM = frozenset(
    {"value", "currency", "content_type", "content_ids", "contents", "order_id"}
)
# Property keys that hold contact details: never copied into custom_data, at any depth.
_PII_KEY = re.compile(r"e[-_ ]?mail|phone|mobile|^tel$|telephone", re.IGNORECASE)

_PII_KEYS: dict[str, bool] = {}


def _pii_key(key: str) -> bool:
    """``_PII_KEY.search(key)``, memoized: property names repeat across events."""
    found = _PII_KEYS.get(key)
    if found is None:
        found = _PII_KEY.search(key) is not None
        if len(_PII_KEYS) < 100_000:
            _PII_KEYS[key] = found
    return found


Status = Literal["accepted", "rejected", "skipped"]


class Conversion(NamedTuple):
    """One outgoing event for one (dataset, Meta event name); payload-neutral.

    A named tuple rather than a frozen dataclass: just as immutable, and the main process
    of a parallel run turns each event a worker sent (a plain tuple in this field order)
    into one with ``tuple.__new__``, a C call, where a frozen dataclass's ``__init__``
    cost ~2.5 µs per event.
    """

    dataset_id: str
    event_name: str
    event_time: int
    event_id: str
    user: Mapping[str, Any]
    custom: Mapping[str, Any]
    ldu: tuple[list[str], int | None, int | None] | None
    source: str
    line: int
    # The event's wire JSON, when a mapping worker already serialized it
    # (fbocli.parallel); the sinks then only concatenate (and need no user or custom).
    wire: bytes | None = None


@dataclass(slots=True)
class Outcome:
    status: Status
    reason: str = ""
    detail: str = ""
    conversions: list[Conversion] = field(default_factory=list)
    segment_event: str = ""


@dataclass(frozen=True, slots=True)
class MapContext:
    """What mapping needs besides the record: settings and the window, computed once."""

    settings: Settings
    now: int
    oldest: int
    newest: int
    offline: bool
    # Segment event name -> its routes, for every name the settings list: computed once
    # here rather than per event (an unlisted name has no route).
    routes: Mapping[str, tuple[Route, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        s = self.settings
        names = {*s.events, *s.lead_events, *s.registration_events}
        object.__setattr__(self, "routes", {name: s.routes(name) for name in names})

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt through __init__ (routes derived again): the default protocol sets the
        # fields one by one, which a frozen class compiled by mypyc refuses.
        return (MapContext, (self.settings, self.now, self.oldest, self.newest, self.offline))

    @classmethod
    def create(cls, settings: Settings, now: int) -> MapContext:
        return cls(
            settings=settings,
            now=now,
            oldest=now - settings.upload.window_days * 86400,
            newest=now + 60,
            offline=settings.destination.api == "offline",
        )


class Rejected(Exception):
    """Internal: a record breaks a rule; carries the stable reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _obj(value: object) -> dict[str, Any]:
    """A container of the wrong JSON type counts as absent (mapping.md section 1)."""
    return value if isinstance(value, dict) else {}


def _present(value: object) -> bool:
    return value is not None and value != ""


def map_record(record: Record, ctx: MapContext) -> Outcome:
    """Classify one record and build its conversions; never raises on any input."""
    if record.error:
        return Outcome("rejected", record.error, record.detail)
    return map_message(record.message, record.source, record.line, ctx, record.dayfirst)


def map_message(
    msg: object, source: str, line: int, ctx: MapContext, dayfirst: bool = False
) -> Outcome:
    """:func:`map_record` of a parsed message: what a mapping worker calls per line,
    without building a :class:`Record` first."""
    if not isinstance(msg, dict):
        return Outcome("rejected", "not_an_object", f"a JSON {_json_kind(msg)}, not an object")
    kind = msg.get("type")
    if not (kind == "track" or (kind is None and "event" in msg)):
        what = f"type {kind!r}" if kind is not None else "no type and no event"
        return Outcome("skipped", "unsupported_type", what)
    event = msg.get("event")
    if not isinstance(event, str) or not event.strip():
        return Outcome("rejected", "missing_event", f"event is {_show(event)}")
    routes = ctx.routes.get(event)
    if not routes:
        return Outcome("skipped", "unmapped_event", f"{event!r} is not mapped", segment_event=event)
    try:
        conversions = _build(msg, event, routes, ctx, source, line, dayfirst)
    except Rejected as rejected:
        return Outcome("rejected", rejected.reason, rejected.detail, segment_event=event)
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:  # pragma: no cover
        # Defensive: a pathological value that slipped past a rule is a reject, not a crash.
        return Outcome("rejected", "invalid_value", f"unusable value: {exc}", segment_event=event)
    return Outcome("accepted", "", "", conversions, event)  # positional: cheaper


_new_tuple = tuple.__new__


def _build(
    msg: dict[str, Any],
    event: str,
    routes: tuple[tuple[str, str], ...],
    ctx: MapContext,
    source: str,
    line: int,
    dayfirst: bool,
) -> list[Conversion]:
    # The order of the steps is the order of the checks: the first failing rule names
    # the reject. Small helpers are inlined for the common JSON types (a call costs about
    # as much as the work here); the helpers still handle every other value.
    event_time = _event_time(msg, dayfirst, ctx)
    properties = msg.get("properties")
    if type(properties) is not dict:
        properties = _obj(properties)
    value, value_key = _value(event, properties, ctx)
    raw = properties.get("currency")
    if raw is None or raw == "":
        currency = ctx.settings.mapping.default_currency
    else:  # _currency's answer for a known code, without its call (once per event)
        code = norm_currency(raw) if type(raw) is str else None
        currency = code if code is not None else _currency(raw)
    ldu = _ldu(msg, ctx) if ctx.settings.mapping.limited_data_use else None
    context = msg.get("context")
    if type(context) is not dict:
        context = _obj(context)
    user = user_data(msg, context, properties, ctx, dayfirst=dayfirst)
    if not user or (ctx.offline and not user.keys() - {"db"}):
        # (The legacy API cannot use a pre-hashed birthday: it takes doby/dobm/dobd.)
        raise Rejected("no_match_keys", "no usable email, phone, name, address, userId or lead id")
    custom = custom_data(event, properties, value, value_key, currency)
    message_id = msg.get("messageId")
    event_id = message_id.strip() if type(message_id) is str else ""
    if not event_id:
        event_id = _event_id(msg)
    # tuple.__new__ with the fields in order: the named tuple's own __new__ is a Python
    # function (~0.5 µs per call); wire is None until a worker serializes the event.
    # (Most events have one route: no comprehension, which is a call of its own.)
    if len(routes) == 1:
        ds, name = routes[0]
        fields = (ds, name, event_time, event_id, user, custom, ldu, source, line, None)
        return [_new_tuple(Conversion, fields)]
    return [
        _new_tuple(
            Conversion, (ds, name, event_time, event_id, user, custom, ldu, source, line, None)
        )
        for ds, name in routes
    ]


# --- event_time and the window (section 3) -------------------------------------------


def _event_time(msg: dict[str, Any], dayfirst: bool, ctx: MapContext) -> int:
    source = "timestamp"
    raw = msg.get("timestamp")
    if raw is None or raw == "":
        source, raw = "originalTimestamp", msg.get("originalTimestamp")
        if raw is None or raw == "":
            raise Rejected("missing_timestamp", "no timestamp or originalTimestamp")
    tz = ctx.settings.mapping.tz
    # timeparse.parse_event_time's two steps, without its call (once per event): the
    # usual ISO 8601 shape by arithmetic, else the general parser.
    seconds = plain_iso(raw, tz) if type(raw) is str and 19 <= len(raw) <= 29 else None
    if seconds is None:
        seconds = parse_general(raw, tz, dayfirst)
    if seconds is None:
        raise Rejected("invalid_timestamp", f"{source} {_show(raw)} is not a date")
    if seconds < ctx.oldest:
        days = (ctx.now - seconds) / 86400
        raise Rejected(
            "too_old",
            f"{source} {_show(raw)} is {days:.1f} days before now; "
            f"Meta accepts {ctx.settings.upload.window_days}",
        )
    if seconds > ctx.newest:
        raise Rejected("in_future", f"{source} {_show(raw)} is {seconds - ctx.now} s after now")
    return seconds


# --- value and currency (section 5) --------------------------------------------------

_INF = math.inf


def _value(event: str, properties: dict[str, Any], ctx: MapContext) -> tuple[Any, str | None]:
    if event == "Order Completed":
        for key in ("revenue", "total", "value"):
            raw = properties.get(key)
            if raw is not None and raw != "":
                break
        else:
            raise Rejected(
                "purchase_without_value", "Order Completed has no revenue, total or value"
            )
    else:
        key = ctx.settings.mapping.value_field
        raw = properties.get(key)
        if raw is None or raw == "":
            return None, None
    kind = type(raw)
    if kind is int or (kind is float and -_INF < raw < _INF):
        amount = raw  # parse_amount's own answer for a JSON number, without the call
    else:
        amount = parse_amount(raw)
        if amount is None:
            raise Rejected("invalid_value", f"properties.{key} {_show(raw)} is not a number")
    if amount < 0:
        raise Rejected("invalid_value", f"properties.{key} {_show(raw)} is negative")
    return amount, key


def _currency(raw: object) -> str:
    """``properties.currency`` when present: a known ISO 4217 code, else the reject."""
    code = norm_currency(raw) if isinstance(raw, str) else None
    if code is None:
        raise Rejected("invalid_currency", f"properties.currency {_show(raw)} is not ISO 4217")
    return code


# --- Limited Data Use (section 7) ----------------------------------------------------


def _ldu(msg: dict[str, Any], ctx: MapContext) -> tuple[list[str], int | None, int | None] | None:
    if not ctx.settings.mapping.limited_data_use:
        return None
    options = _obj(_obj(msg.get("integrations")).get(INTEGRATION)).get("dataProcessingOptions")
    if options is None:
        return ([], None, None)
    bad = Rejected(
        "invalid_data_processing_options",
        f"dataProcessingOptions {_show(options)} is not [options], [options, country] "
        "or [options, country, state]",
    )
    if not isinstance(options, list) or not 1 <= len(options) <= 3:
        raise bad
    head, *geo = options
    if not isinstance(head, list) or not all(isinstance(o, str) for o in head):
        raise bad
    if not all(isinstance(g, int) and not isinstance(g, bool) for g in geo):
        raise bad
    country = geo[0] if geo else None
    state = geo[1] if len(geo) > 1 else None
    return (list(head), country, state)


# --- match keys (section 4) ----------------------------------------------------------


def _values(raw: object, numbers: bool = False) -> list[Any]:
    items = raw if isinstance(raw, list) else [raw]
    out: list[Any] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif numbers and isinstance(item, int) and not isinstance(item, bool):
            out.append(str(item))
        elif numbers and isinstance(item, float) and math.isfinite(item) and item.is_integer():
            out.append(str(int(item)))
    return out


def _hash_all(
    raw: object, normalize: Callable[[str], str | None], numbers: bool = False
) -> list[str]:
    if type(raw) is str:  # the common case: one string, no list to deduplicate
        one = hash_key(raw, normalize)
        return [one] if one else []
    hashed = (hash_key(v, normalize) for v in _values(raw, numbers))
    return list(dict.fromkeys(h for h in hashed if h))


def _one(raw: object, normalize: Callable[[str], str | None]) -> str | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # a zip code given as a JSON number
    return hash_key(raw, normalize) if isinstance(raw, str) else None


# Hashed low-cardinality keys (gender, names, city, state, zip) per field and region, each
# a dict keyed by the raw text: the same few thousand values repeat across millions of
# events, so each is normalized and hashed once, and a hit costs one string-keyed lookup
# (no key tuple to build and hash). Bounded: a memo is cleared when full.
_MEMOS: dict[tuple[str, str], dict[str, str | None]] = {}
_MISSING = object()
_MEMO_LIMIT = 50_000
_NORMALIZERS: dict[str, Callable[[str, str], str | None]] = {
    "ge": lambda v, _region: norm_gender(v),
    "name": lambda v, _region: norm_name(v),
    "st": norm_state,
    "zp": norm_zip,
}


def _memo(what: str, region: str) -> dict[str, str | None]:
    """The memo of one field in one region (created on first use)."""
    memo = _MEMOS.get((what, region))
    if memo is None:
        memo = _MEMOS[(what, region)] = {}
    return memo


_GENDERS = _memo("ge", "")
_NAMES = _memo("name", "")  # first and last names and cities: the same rule
# region -> (state memo, zip memo) of that region
_REGIONAL: dict[str, tuple[dict[str, str | None], dict[str, str | None]]] = {}


def _regional(region: str) -> tuple[dict[str, str | None], dict[str, str | None]]:
    found = _REGIONAL[region] = (_memo("st", region), _memo("zp", region))
    return found


def _one_cached(what: str, raw: object, region: str) -> str | None:
    """:func:`_one` with ``_NORMALIZERS[what]``, memoized: same answer, computed once."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        return None
    memo = _memo(what, region)
    hashed = memo.get(raw, _MISSING)
    if hashed is not _MISSING:
        return hashed  # type: ignore[return-value]
    normalize = _NORMALIZERS[what]
    hashed = hash_key(raw, lambda v: normalize(v, region))
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[raw] = hashed
    return hashed


# Raw ``address.country`` text -> (normalized alpha-2 or None, the value of the
# ``country`` key or None): a few hundred spellings exist, each resolved and hashed once.
_COUNTRIES: dict[str, tuple[str | None, str | None]] = {}
_COUNTRIES_LIMIT = 10_000


def _country(raw: str) -> tuple[str | None, str | None]:
    """(region, hashed ``country`` key) of an ``address.country`` string, memoized."""
    found = _COUNTRIES.get(raw)
    if found is None:
        country = norm_country(raw)
        stripped = raw.strip()
        if len(stripped) == 64 and is_sha256_hex(stripped):
            found = (country, stripped.lower())
        else:
            found = (country, sha256_hex(country) if country else None)
        if len(_COUNTRIES) >= _COUNTRIES_LIMIT:
            _COUNTRIES.clear()
        _COUNTRIES[raw] = found
    return found


def user_data(
    msg: dict[str, Any],
    context: dict[str, Any],
    properties: dict[str, Any],
    ctx: MapContext,
    *,
    dayfirst: bool = False,
) -> dict[str, Any]:
    """Hashed match keys under their Conversions API names; empty when none is usable.

    The memoized keys are looked up in their memo here first, without a call per key:
    :func:`_one_cached` computes (and stores) only what is not there yet.
    """
    traits = context.get("traits")
    if type(traits) is not dict:
        traits = _obj(traits)
    get = traits.get
    address = get("address")
    if type(address) is not dict:
        address = _obj(address)
    mapping = ctx.settings.mapping
    country_raw = address.get("country")
    if isinstance(country_raw, str):
        country, country_key = _COUNTRIES.get(country_raw) or _country(country_raw)
    else:
        country = country_key = None
    region = country or mapping.default_country
    user: dict[str, Any] = {}
    names = _NAMES.get
    cached = _one_cached

    email = get("email")
    if email is None or email == "":  # not _present: fall back to the property
        email = properties.get("email")
    if type(email) is str:
        if one := hash_email(email):
            user["em"] = [one]
    elif em := _hash_all(email, norm_email):
        user["em"] = em
    phone = get("phone")
    if phone is None or phone == "":
        phone = properties.get("phone")
    if type(phone) is str:
        if one := hash_phone(phone, region):
            user["ph"] = [one]
    elif ph := _hash_all(phone, lambda v: norm_phone(v, region), numbers=True):
        user["ph"] = ph

    gender = get("gender")
    ge = _GENDERS.get(gender, _MISSING) if type(gender) is str else _MISSING
    if ge is _MISSING:
        ge = cached("ge", gender, "")
    if ge:
        user["ge"] = ge

    first, last = get("firstName"), get("lastName")
    name = get("name")
    if isinstance(name, str) and not (
        first is not None and first != "" and last is not None and last != ""
    ):
        name_first, name_last = split_name(name)
        first = first if first is not None and first != "" else name_first
        last = last if last is not None and last != "" else name_last
    fn = names(first, _MISSING) if type(first) is str else _MISSING
    if fn is _MISSING:
        fn = cached("name", first, "")
    if fn:
        user["fn"] = fn
    ln = names(last, _MISSING) if type(last) is str else _MISSING
    if ln is _MISSING:
        ln = cached("name", last, "")
    if ln:
        user["ln"] = ln
    city = address.get("city")
    ct = names(city, _MISSING) if type(city) is str else _MISSING
    if ct is _MISSING:
        ct = cached("name", city, "")
    if ct:
        user["ct"] = ct
    states, zips = _REGIONAL.get(region) or _regional(region)
    state = address.get("state")
    st = states.get(state, _MISSING) if type(state) is str else _MISSING
    if st is _MISSING:
        st = cached("st", state, region)
    if st:
        user["st"] = st
    postal = address.get("postalCode")
    zp = zips.get(postal, _MISSING) if type(postal) is str else _MISSING
    if zp is _MISSING:
        zp = cached("zp", postal, region)
    if zp:
        user["zp"] = zp
    if country_key:
        user["country"] = country_key

    birthday = get("birthday")
    if isinstance(birthday, str):
        if is_sha256_hex(birthday.strip()):
            user["db"] = birthday.strip().lower()
        elif (born := norm_birthday(birthday, dayfirst=dayfirst)) is not None:
            user["db"] = sha256_hex(born)
            if ctx.offline:
                user["doby"] = sha256_hex(born[:4])
                user["dobm"] = sha256_hex(born[4:6])
                user["dobd"] = sha256_hex(born[6:])

    user_id = msg.get("userId")
    if user_id is not None and (external := _external_id(user_id, mapping.hash_external_id)):
        user["external_id"] = [external]
    integration = context.get(INTEGRATION)
    if integration is not None and (lead := _lead_id(_obj(integration).get("leadId"))) is not None:
        user["lead_id"] = lead
    return user


def _external_id(raw: object, hashed: bool) -> str | None:
    if type(raw) is str:
        text = raw.strip()
    elif isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    else:
        text = str(raw).strip()
    if not text:
        return None
    if not hashed:
        return text
    if len(text) == 64 and is_sha256_hex(text):
        return text.lower()
    return sha256(text.encode("utf-8")).hexdigest()


def _lead_id(raw: object) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if raw > 0 else None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text[:2].lower() == "l:":
        text = text[2:].strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 40 else None


# --- custom_data (section 5) ---------------------------------------------------------


def custom_data(
    event: str, properties: dict[str, Any], value: Any, value_key: str | None, currency: str
) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    if value is not None:
        custom["value"] = value
    custom["currency"] = currency

    category_used = False
    if event == "Product List Viewed":
        category = properties.get("category")
        if _present(category) and _scalar(category):
            custom["content_type"] = "product_group"
            custom["content_ids"] = [_text(category)]
            category_used = True
    if not category_used:
        ids, contents = _contents(properties)
        if contents:
            custom["content_type"] = "product"
            custom["content_ids"] = ids
            custom["contents"] = contents

    order_id = properties.get("order_id")
    if type(order_id) is str:
        if order_id:
            custom["order_id"] = order_id.strip()
    elif _present(order_id) and _scalar(order_id):
        custom["order_id"] = _text(order_id)

    skip = _SKIPPED.get((value_key, category_used)) or _skipped(value_key, category_used)
    pii = _PII_KEYS.get
    for key, item in properties.items():
        if key in skip:
            continue
        is_pii = pii(key)
        if is_pii or (is_pii is None and _pii_key(key)):
            continue
        if type(item) in _KEPT_AS_IS:  # what _clean returns unchanged, without the call
            custom[key] = item
            continue
        cleaned = _clean(item)
        if cleaned is not _DROP:
            custom[key] = cleaned
    return custom


_KEPT_AS_IS = frozenset({str, int, bool, type(None)})
_CONSUMED = frozenset({"currency", "products", "product_id", "order_id", "email", "phone"})
# (value_key, category supplied content_ids) -> property keys never copied as they are:
# the consumed ones (mapping.md section 5) and the standard fields they cannot overwrite.
# Filled on first use; a handful of entries (value_key is one of five names or None).
_SKIPPED: dict[tuple[str | None, bool], frozenset[str]] = {}


def _skipped(value_key: str | None, category_used: bool) -> frozenset[str]:
    consumed = set(_CONSUMED | STANDARD_CUSTOM)
    if value_key:
        consumed.add(value_key)
    if category_used:
        consumed.add("category")
    skip = _SKIPPED[(value_key, category_used)] = frozenset(consumed)
    return skip


def _contents(properties: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """(``content_ids``, ``contents``): the ids and entries of the products with an id."""
    ids: list[str] = []
    contents: list[dict[str, Any]] = []
    products = properties.get("products")
    if isinstance(products, list):
        for product in products:
            if not isinstance(product, dict):
                continue
            pid = product.get("product_id")
            if type(pid) is str and pid:  # present and scalar: _text without the calls
                pid = pid.strip()
            else:
                pid = _id_text(pid)
                if pid is None:
                    pid = _id_text(product.get("id"))
            if pid is not None:
                ids.append(pid)
                quantity, price = product.get("quantity"), product.get("price")
                if (
                    type(quantity) is int
                    and 0 <= quantity < _FLOATABLE_INT
                    and ((type(price) is float and -_INF < price < _INF) or type(price) is int)
                ):  # _content's answer for JSON numbers, without the call (per product)
                    contents.append({"id": pid, "quantity": quantity, "item_price": price})
                else:
                    contents.append(_content(pid, quantity, price))
    if not contents:
        pid = _id_text(properties.get("product_id"))
        if pid is not None:
            ids.append(pid)
            contents.append(_content(pid, properties.get("quantity"), properties.get("price")))
    return ids, contents


def _id_text(value: object) -> str | None:
    """The id text of a present scalar, else None."""
    return _text(value) if _present(value) and _scalar(value) else None


# Integers up to here convert to float exactly enough for ``float(q).is_integer()``
# (beyond ~1.8e308 that conversion raises, which the general path must still do).
_FLOATABLE_INT = 2**1000


def _content(pid: str, quantity: object, price: object) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": pid, "quantity": 1}
    if type(quantity) is int and 0 <= quantity < _FLOATABLE_INT:
        entry["quantity"] = quantity  # what the general path below gives, without calls
    else:
        q = parse_amount(quantity) if _present(quantity) else None
        if q is not None and q >= 0:
            entry["quantity"] = int(q) if float(q).is_integer() else q
    if (type(price) is float and -_INF < price < _INF) or type(price) is int:
        entry["item_price"] = price  # parse_amount's answer for a JSON number
    else:
        p = parse_amount(price) if _present(price) else None
        if p is not None:
            entry["item_price"] = p
    return entry


def _scalar(value: object) -> bool:
    kind = type(value)
    if kind is str or kind is int:  # JSON's own types: no subclass, no bool
        return True
    return (
        isinstance(value, str | int | float)
        and not isinstance(value, bool)
        and (not isinstance(value, float) or math.isfinite(value))
    )


def _text(value: object) -> str:
    if type(value) is str:
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else str(value)


_DROP = object()


def _clean(value: Any, depth: int = 0) -> Any:
    """Copy a property for custom_data: no contact keys at any depth, no NaN/Infinity."""
    if isinstance(value, float):
        return value if math.isfinite(value) else _DROP
    if depth > 20:
        return _DROP
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and _pii_key(key):
                continue
            cleaned = _clean(item, depth + 1)
            if cleaned is not _DROP:
                out[key] = cleaned
        return out
    if isinstance(value, list):
        return [c for c in (_clean(i, depth + 1) for i in value) if c is not _DROP]
    return value


# --- event_id (section 6) ------------------------------------------------------------


def _event_id(msg: dict[str, Any]) -> str:
    message_id = msg.get("messageId")
    if isinstance(message_id, str | int) and not isinstance(message_id, bool):
        text = str(message_id).strip()
        if text:
            return text
    # No messageId: a stable hash of the content, so re-uploading the row deduplicates.
    canonical = json.dumps(
        msg, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _show(value: object, limit: int = 80) -> str:
    text = (
        json.dumps(value, ensure_ascii=False, default=str)
        if not isinstance(value, float) or math.isfinite(value)
        else str(value)
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"
