"""Which CSV column feeds which field of the Segment message a row becomes.

``[csv.columns]`` (and ``--column``) first; then, for the headers they leave, a preset's
own table when the file is a known export, else the common names of cli.md. A column
fed to nothing is listed by ``validate`` and never sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType


def _paths(path: str, *names: str) -> dict[str, str]:
    return dict.fromkeys(names, path)


_ADDRESS = "context.traits.address."
# Normalized header name -> Segment message path (cli.md: common names + Meta's template).
AUTO_COLUMNS = MappingProxyType(
    {
        **_paths("context.traits.email", "email", "emailaddress", "email1"),
        **_paths(
            "context.traits.phone", "phone", "phonenumber", "mobile", "mobilephone", "tel",
            "telephone",
        ),
        **_paths("context.traits.firstName", "firstname", "fn", "givenname"),
        **_paths("context.traits.lastName", "lastname", "ln", "surname", "familyname"),
        **_paths("context.traits.name", "name", "fullname", "customername"),
        **_paths(_ADDRESS + "city", "city", "ct"),
        **_paths(_ADDRESS + "state", "state", "st", "province", "region"),
        **_paths(_ADDRESS + "postalCode", "zip", "zipcode", "zp", "postalcode", "postcode"),
        **_paths(_ADDRESS + "country", "country", "countrycode"),
        **_paths("context.traits.gender", "gender", "gen", "sex"),
        **_paths("context.traits.birthday", "birthday", "dob", "dateofbirth", "birthdate"),
        **_paths("userId", "userid", "customerid", "externalid", "externid"),
        **_paths("messageId", "messageid"),
        **_paths("properties.order_id", "orderid", "ordernumber", "transactionid"),
        **_paths("properties.revenue", "revenue", "total", "amount", "ordertotal"),
        **_paths("properties.value", "value"),
        **_paths("properties.price", "price"),
        **_paths("properties.currency", "currency"),
        **_paths("properties.quantity", "quantity", "qty"),
        **_paths("event", "event", "eventname"),
        **_paths(
            "timestamp", "timestamp", "date", "eventtime", "time", "orderdate",
            "transactiondate", "datetime",
        ),
        **_paths("properties.product_id", "productid", "sku", "itemid", "contentid"),
        **_paths("context.Facebook Offline Conversions.leadId", "leadid"),
    }
)  # fmt: skip

# Fields that stand in for one another: when [csv.columns] names one of a group, no
# other column feeds the group by its name (an explicit value column must not lose to a
# "Total" column found by name, which the mapping would read first).
GROUPS = (
    frozenset({"properties.revenue", "properties.total", "properties.value"}),
    frozenset({"timestamp", "originalTimestamp"}),
)
# Fields of one line item, when rows are grouped into orders.
ITEM_PATHS = MappingProxyType(
    {
        "properties.product_id": "product_id",
        "properties.quantity": "quantity",
        "properties.price": "price",
    }
)
# Fields read as amounts (a decimal comma is converted for them).
AMOUNT_PATHS = frozenset(
    {
        "properties.revenue",
        "properties.total",
        "properties.value",
        "properties.price",
        "properties.quantity",
    }
)


def normalize_header(header: str) -> str:
    """The key headers are recognised by: lowercase ASCII letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


def header_key(header: str) -> str:
    """How a header named in the configuration is matched: case and outer spaces ignored."""
    return header.strip().casefold()


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """Which header columns feed which message path (preference order per path)."""

    fields: tuple[tuple[str, tuple[int, ...]], ...]
    columns: list[tuple[str, str]]  # (path, header) in header order
    ignored: list[str]
    missing: list[str]
    joined: frozenset[str] = frozenset()  # paths whose cells are joined with a space
    multi: frozenset[str] = frozenset()  # paths taking every non-empty cell (a list)
    read: list[tuple[str, str]] = field(default_factory=list)  # (header, what the preset
    # reads it for), in header order

    def feeds(self, path: str) -> tuple[int, ...]:
        return next((feeds for name, feeds in self.fields if name == path), ())


@dataclass(frozen=True, slots=True)
class Defaults:
    """A preset's column table: what feeds each path when [csv.columns] does not."""

    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    multi: frozenset[str] = frozenset()  # a header repeated: several values of one key
    prefixes: tuple[tuple[str, str], ...] = ()  # header prefix -> path prefix
    read: tuple[tuple[str, str], ...] = ()  # headers the preset reads itself: (header, why)


def plan_columns(
    headers: Sequence[str],
    explicit: Sequence[tuple[str, Sequence[str]]],
    defaults: Defaults | None = None,
) -> ColumnPlan:
    """Explicit ``[csv.columns]`` first (headers matched ignoring case and outer spaces);
    then, for what they leave, ``defaults`` (a preset's table) or, without one, the common
    names (a path is fed by its first header found)."""
    keys = [header_key(h) for h in headers]
    fields: dict[str, list[int]] = {}
    used: list[tuple[int, str]] = []
    missing: list[str] = []
    joined: set[str] = set()
    for path, names in explicit:
        feeds = fields.setdefault(path, [])
        for name in names:
            key = header_key(name)
            index = keys.index(key) if key in keys else None
            if index is None:
                missing.append(name)
            elif index not in feeds:
                feeds.append(index)
                used.append((index, path))
        if path == "timestamp" and len(names) > 1:
            joined.add(path)
    claimed = {index for index, _ in used}
    taken = set(fields)
    for group in GROUPS:
        if group & taken:
            taken |= group
    multi: frozenset[str] = frozenset()
    read: list[tuple[int, str]] = []
    if defaults is None:
        for index, header in enumerate(headers):
            auto = AUTO_COLUMNS.get(normalize_header(header))
            if index in claimed or auto is None or auto in taken:
                continue
            fields[auto] = [index]
            taken.add(auto)
            used.append((index, auto))
            claimed.add(index)
    else:
        multi = defaults.multi
        for path, names in defaults.columns:
            if path in taken:
                continue
            feeds = [
                index
                for name in names
                for index in _all(keys, header_key(name))
                if index not in claimed
            ]
            if path not in multi:
                feeds = list(dict.fromkeys(feeds))
            if feeds:
                fields[path] = feeds
                used.extend((index, path) for index in feeds)
                claimed.update(feeds)
        for index, header in enumerate(headers):
            for prefix, target in defaults.prefixes:
                rest = header.strip()[len(prefix) :].strip()
                if index not in claimed and header.strip().startswith(prefix) and rest:
                    fields[target + rest] = [index]
                    used.append((index, target + rest))
                    claimed.add(index)
        for name, why in defaults.read:
            for index in _all(keys, header_key(name)):
                if index not in claimed:
                    claimed.add(index)
                    read.append((index, why))
    used.sort(key=lambda pair: pair[0])
    read.sort(key=lambda pair: pair[0])
    return ColumnPlan(
        fields=tuple((path, tuple(feeds)) for path, feeds in fields.items() if feeds),
        columns=[(path, headers[index]) for index, path in used],
        ignored=[h for index, h in enumerate(headers) if index not in claimed],
        missing=missing,
        joined=frozenset(joined),
        multi=multi,
        read=[(headers[index], why) for index, why in read],
    )


def _all(keys: Sequence[str], key: str) -> Iterable[int]:
    return (index for index, found in enumerate(keys) if found == key)
