"""``custom_data`` (mapping.md section 5): value, currency, contents, order id, the rest.

No contact detail ever reaches ``custom_data``: properties whose key names one (at any
depth) are dropped, and so are NaN and Infinity.
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
_PII_KEY = re.compile(r"e[-_ ]?mail|phone|mobile|^tel$|telephone", re.IGNORECASE)
_MAX_DEPTH = 20
_DROP = object()


@functools.lru_cache(maxsize=4096)  # property names repeat across events
def is_pii_key(key: str) -> bool:
    """Whether a property key names a contact detail (never copied into custom_data)."""
    return _PII_KEY.search(key) is not None


def custom_data(
    event: str, properties: dict[str, Any], value: Any, value_key: str | None, currency: str
) -> dict[str, Any]:
    """The event's ``custom_data``: ``value`` (already checked), ``currency``, contents,
    ``order_id`` and every other property that is not consumed, standard or personal."""
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
    for key, item in properties.items():
        if key in skip or is_pii_key(key):
            continue
        if isinstance(item, (dict, list, float)):  # what may hold a contact key or NaN
            item = _clean(item)
            if item is _DROP:
                continue
        custom[key] = item
    return custom


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


def _clean(value: Any, depth: int = 0) -> Any:
    """Copy a property for custom_data: no contact keys at any depth, no NaN/Infinity."""
    if isinstance(value, float):
        return value if math.isfinite(value) else _DROP
    if depth > _MAX_DEPTH:
        return _DROP
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and is_pii_key(key):
                continue
            cleaned = _clean(item, depth + 1)
            if cleaned is not _DROP:
                out[key] = cleaned
        return out
    if isinstance(value, list):
        return [c for c in (_clean(i, depth + 1) for i in value) if c is not _DROP]
    return value
