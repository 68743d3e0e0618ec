"""``custom_data`` (mapping.md section 5): value, currency, contents, order id, the rest.

No contact detail ever reaches ``custom_data`` (docs/mapping.md, "Contact details"):
a property is dropped, at any depth, when its name says it holds one (``email``,
``firstName``, ``billing_address``, ``zip``, ``dob``, ``ssn``, ``client_ip``...; a bare
``name`` or ``city`` under a person's key such as ``customer``), or when its text holds
an email address or is a phone number, whatever its name. What was dropped
is said (:data:`CONTACT_NOTE`), never silently. NaN and Infinity are dropped too.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from fbocli.mapping.normalize import parse_amount

STANDARD_CUSTOM = frozenset(
    {"value", "currency", "content_type", "content_ids", "contents", "order_id"}
)
_CONSUMED = frozenset({"currency", "products", "product_id", "order_id", "email", "phone"})
_MAX_DEPTH = 20
_DROP = object()

# A property name that holds a contact detail, matched against the name in lowercase
# without separators (``First Name``, ``first_name``, ``firstName`` -> ``firstname``).
_CONTACT_KEY = re.compile(
    r"email|phone|mobile|fax|address|street|zip|postal|postcode|birth"
    r"|contact(?!less)|socialsecurity|passport"
    r"|^(?:mail|tel|cell|cellular|ssn|dob|ip|ipv[46]|surname|forename|fullname)$"
    r"|^(?:first|last|given|family|middle|maiden|customer|client|buyer|billing|shipping"
    r"|recipient|user|person|member|guest|patient|cardholder|holder|owner|payer|shopper"
    r"|purchaser|account|contact)name$"
    r"|^(?:billing|shipping|customer|client|user|buyer|home|mailing)city$"
    r"|^(?:client|customer|user|remote|visitor|source|buyer)ip$"
)
# The names of the objects that describe a person: under one, a bare ``name`` (or
# ``first``, ``last``, ``city``...) is that person's. Elsewhere it is not: at the top of
# ``properties``, Segment's ecommerce events name the product ``name`` (the golden
# examples keep it), and under ``store`` it is the store's.
_PERSON = frozenset(
    {
        *("customer", "client", "buyer", "billing", "shipping", "recipient", "user"),
        *("person", "member", "guest", "patient", "cardholder", "holder", "owner", "payer"),
        *("shopper", "purchaser", "account", "lead", "profile", "sender", "traits"),
    }
)
_PERSON_PARTS = frozenset({"name", "first", "last", "given", "family", "middle", "full", "city"})
_SEPARATORS = re.compile(r"[^0-9a-z]+")
# Text that is contact data whatever its name: an email address anywhere in it, or a
# phone number as the whole text (+ and 7 or more digits, or three groups of digits:
# (401) 555-0143, 401.555.0143, 020 7946 0958). Dates (2026-12-03), zips and plain
# numbers (order ids, barcodes) are not phone numbers here. Each pattern runs only when
# a cheap test lets it: an "@" in the text; a phone's first character.
_EMAIL_IN = re.compile(r"[^@\s]@[^@\s]+\.[^@\s]")
_PHONE = re.compile(
    r"\s*(?:\+[1-9][0-9 ().\-]{6,20}|\(?[0-9]{2,4}\)?[ .\-][0-9]{3,4}[ .\-][0-9]{3,5})\s*$"
)
_PHONE_START = frozenset("+(0123456789 \t")
_CONTACT, _PART, _PERSON_KEY = 1, 2, 4  # what a property name says (bits)
# matchkeys.Note field of a property dropped as contact data; its value is the
# property's path (``properties.customer.name``), never the value.
CONTACT_NOTE = "contact_data"
_PATH_SHOWN = 80
HIDDEN_KEY = "(a name that looks like an email or a phone number)"


@functools.lru_cache(maxsize=4096)  # property names repeat across events
def key_kind(key: str) -> int:
    """What a property name says about its value (bits): a contact detail; a part of a
    person's details under a person's object (``name``, ``first``, ``city``...); the
    name of a person's object (``customer``)."""
    folded = _SEPARATORS.sub("", key.lower())
    kind = 0
    if _CONTACT_KEY.search(folded) or is_contact_text(key):
        kind |= _CONTACT
    if folded in _PERSON_PARTS:
        kind |= _PART
    if folded in _PERSON:
        kind |= _PERSON_KEY
    return kind


def is_pii_key(key: str) -> bool:
    """Whether a property name says its value is a contact detail, wherever it is (a
    bare ``name`` or ``city`` aside: that depends on the object it is in)."""
    return bool(key_kind(key) & _CONTACT)


def is_contact_text(text: str) -> bool:
    """Whether a text holds an email address, or is a phone number."""
    if "@" in text and _EMAIL_IN.search(text) is not None:
        return True
    return text[:1] in _PHONE_START and _PHONE.match(text) is not None


def custom_data(
    event: str, properties: dict[str, Any], value: Any, value_key: str | None, currency: str
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The event's ``custom_data``: ``value`` (already checked), ``currency``, contents,
    ``order_id`` and every other property that is not consumed, standard or personal;
    and the paths of the properties dropped as contact data (mostly none)."""
    custom: dict[str, Any] = {}
    if value is not None:
        custom["value"] = value
    custom["currency"] = currency

    category_used = False
    if event == "Product List Viewed":
        category = id_text(properties.get("category"))
        if category is not None:
            custom["content_type"] = "product_group"
            custom["content_ids"] = [category]
            category_used = True
    if not category_used:
        ids, contents = _contents(properties)
        if contents:
            custom["content_type"] = "product"
            custom["content_ids"] = ids
            custom["contents"] = contents

    order_id = id_text(properties.get("order_id"))
    if order_id is not None:
        custom["order_id"] = order_id

    skip = _skipped(value_key, category_used)
    dropped: list[str] = []
    for key, item in properties.items():
        if key in skip:
            continue
        kind = key_kind(key)
        if kind & _CONTACT or (type(item) is str and is_contact_text(item)):
            dropped.append(_path((None, key)))
            continue
        if isinstance(item, (dict, list, float)):  # what may hold contact data or NaN
            item = _clean(item, (None, key), dropped, kind)
            if item is _DROP:
                continue
        custom[key] = item
    return custom, tuple(dict.fromkeys(dropped)) if dropped else ()


@functools.lru_cache(maxsize=64)
def _skipped(value_key: str | None, category_used: bool) -> frozenset[str]:
    """Property keys never copied as they are: the consumed ones (mapping.md section 5)
    and the standard fields they must not overwrite."""
    consumed = set(_CONSUMED | STANDARD_CUSTOM)
    if value_key:
        consumed.add(value_key)
    if category_used:
        consumed.add("category")
    return frozenset(consumed)


def _contents(properties: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """(``content_ids``, ``contents``): the ids and entries of the products with an id,
    else of the single ``product_id``."""
    ids: list[str] = []
    contents: list[dict[str, Any]] = []
    products = properties.get("products")
    if isinstance(products, list):
        for product in products:
            if isinstance(product, dict):
                pid = id_text(product.get("product_id"))
                if pid is None:
                    pid = id_text(product.get("id"))
                if pid is not None:
                    ids.append(pid)
                    contents.append(_content(pid, product.get("quantity"), product.get("price")))
    if not contents:
        pid = id_text(properties.get("product_id"))
        if pid is not None:
            ids.append(pid)
            contents.append(_content(pid, properties.get("quantity"), properties.get("price")))
    return ids, contents


def _content(pid: str, quantity: object, price: object) -> dict[str, Any]:
    """One ``contents`` entry: quantity 1 unless a number >= 0 says otherwise (an
    integral float as an integer), ``item_price`` when the price is a number."""
    entry: dict[str, Any] = {"id": pid, "quantity": 1}
    q = parse_amount(quantity)
    if q is not None and q >= 0:
        entry["quantity"] = int(q) if isinstance(q, float) and q.is_integer() else q
    p = parse_amount(price)
    if p is not None:
        entry["item_price"] = p
    return entry


def id_text(value: object) -> str | None:
    """The id text of a present scalar (a non-empty string, a finite number), else None."""
    if isinstance(value, str):
        return value.strip() if value else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
    return str(value)


# Where a value is: (where its object is, its key); ``None`` is ``properties``. The
# path text is made only for a value dropped.
Where = tuple[Any, object]


def _clean(value: Any, at: Where, dropped: list[str], parent: int = 0, depth: int = 0) -> Any:
    """Copy a property for custom_data: no contact data at any depth, no NaN/Infinity.

    ``at``: where ``value`` is, for the path of a drop noted in ``dropped``; ``parent``:
    what the key of the object holding it says (:func:`key_kind`).
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else _DROP
    if isinstance(value, str):
        if is_contact_text(value):
            dropped.append(_path(at))
            return _DROP
        return value
    if depth > _MAX_DEPTH:
        return _DROP
    if isinstance(value, dict):
        out = {}
        personal = parent & _PERSON_KEY
        for key, item in value.items():
            kind = key_kind(key) if isinstance(key, str) else 0
            if kind & _CONTACT or (personal and kind & _PART):
                dropped.append(_path((at, key)))
                continue
            cleaned = _clean(item, (at, key), dropped, kind, depth + 1)
            if cleaned is not _DROP:
                out[key] = cleaned
        return out
    if isinstance(value, list):
        each = (at, _ITEM)
        items = (_clean(i, each, dropped, parent, depth + 1) for i in value)
        return [c for c in items if c is not _DROP]
    return value


_ITEM = object()  # the key of a list's items in a Where


def _path(at: Where) -> str:
    """The path a report shows for a dropped property: ``properties.customer.name``,
    ``properties.orders[].email``; a name that itself looks like contact data is not
    shown."""
    keys = []
    while at is not None:
        at, key = at
        if key is _ITEM:
            keys.append("[]")
        else:
            text = str(key)
            keys.append("." + (HIDDEN_KEY if is_contact_text(text) else text))
    path = "properties" + "".join(reversed(keys))
    return path if len(path) <= _PATH_SHOWN else path[: _PATH_SHOWN - 1] + "…"
