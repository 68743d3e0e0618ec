"""The exports stores actually have, read without configuration (inputs.md section 1).

A *preset* is a built-in reading of one export: which header is which field, how rows
become orders, which rows are not sales, how time and value are built. ``[csv] preset =
"auto"`` (the default) picks the preset whose *signature* headers the file has;
``--preset NAME`` or ``[csv] preset`` names one; ``none`` turns them off. Explicit
``[csv.columns]`` entries always win over a preset's table.

Each preset is a :class:`Preset`: its column table (:class:`~fbocli.inputs.columns.Defaults`)
and :meth:`Preset.finish`, which decides what the column table cannot: not a sale,
the time from several cells, the value net of refunds, a Meta-native row's routing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

from fbocli.inputs.cells import amount_text, date_and_time, in_zone, money
from fbocli.inputs.columns import Defaults, header_key
from fbocli.inputs.record import Native, set_path
from fbocli.inputs.zones import zone
from fbocli.settings import META_EVENTS, PRESETS, CsvSettings

_ADDRESS = "context.traits.address."
_TRAITS = "context.traits."
_LEAD = "context.Facebook Offline Conversions.leadId"
_INTEGRATION = "Facebook Offline Conversions"
_META_NAMES = MappingProxyType({name.casefold(): name for name in META_EVENTS})


class Order:
    """Consecutive rows of one order (a single row when the file is not grouped)."""

    __slots__ = ("_index", "lines", "rows")

    def __init__(self, rows: list[list[str]], lines: list[int], index: Mapping[str, int]):
        self.rows = rows
        self.lines = lines
        self._index = index  # header key -> its (first) column

    def has(self, header: str) -> bool:
        return header_key(header) in self._index

    def cell(self, header: str) -> str:
        """The header's first non-empty cell among the rows (trimmed), else ""."""
        column = self._index.get(header_key(header))
        if column is None:
            return ""
        for row in self.rows:
            if column < len(row) and (text := row[column].strip()):
                return text
        return ""

    def cells(self, header: str) -> list[str]:
        """The header's cell on each row (trimmed; "" when absent)."""
        column = self._index.get(header_key(header))
        return [
            row[column].strip() if column is not None and column < len(row) else ""
            for row in self.rows
        ]

    @property
    def where(self) -> str:
        """Its lines, for a detail: ``line 4`` or ``lines 4-6``."""
        first, last = self.lines[0], self.lines[-1]
        return f"line {first}" if first == last else f"lines {first}-{last}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What :meth:`Preset.finish` decided beyond the column table."""

    skip: str = ""  # "not_a_sale": not sent, listed with ``detail``
    reject: str = ""  # a reject reason (an unknown time zone: invalid_timestamp)
    detail: str = ""
    native: Native | None = None  # a Meta-native row's routing


SALE = Verdict()


@dataclass(frozen=True)
class Preset:
    """One export's reading."""

    name: str
    title: str  # "Shopify orders export"
    menu: str  # where the user finds the export
    signatures: tuple[tuple[str, ...], ...]  # any one of them, all its headers present
    defaults: Defaults
    group: tuple[str, ...] = ()  # the headers of the order key (rows of one order)
    time_label: str = ""  # what the file's time is, in its own words
    value_label: str = ""
    customer_key: str = ""  # the header joined with a customer file (--customers)
    native: bool = False  # rows already are Meta events (inputs.md section 2)
    dataset_header: str = ""  # the row's dataset (Meta-native rows)
    own_time: bool = False  # finish() builds the time (date_format/timezone do not apply)

    def signature(self, keys: set[str]) -> tuple[str, ...] | None:
        """The signature the header row (its keys) carries, or None."""
        for signature in self.signatures:
            if all(header_key(h) in keys for h in signature):
                return signature
        return None

    def title_for(self, keys: set[str]) -> str:
        return self.title

    def finish(self, order: Order, message: dict[str, Any], csv: CsvSettings) -> Verdict:
        """Decide what the column table cannot; may complete ``message``."""
        return SALE


def _get(message: Mapping[str, Any], path: str) -> Any:
    node: Any = message
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _not_a_sale(detail: str) -> Verdict:
    return Verdict(skip="not_a_sale", detail=detail)


def _net(total: str, minus: str, decimal: str) -> Decimal | None:
    """``total`` − ``minus`` as amounts; None when either is not one (``minus`` may be
    empty)."""
    whole = money(total, decimal)
    taken = money(minus, decimal) if minus else Decimal(0)
    if whole is None or taken is None:
        return None
    return whole - taken


# --------------------------------------------------------------------------- Shopify


class _Shopify(Preset):
    NOT_SALES: ClassVar[frozenset[str]] = frozenset(
        {"refunded", "voided", "pending", "authorized", "expired"}
    )
    _BILLING: ClassVar[tuple[str, ...]] = (
        "Billing City",
        "Billing Province",
        "Billing Zip",
        "Billing Country",
    )
    _SHIPPING: ClassVar[tuple[str, ...]] = (
        "Shipping City",
        "Shipping Province",
        "Shipping Zip",
        "Shipping Country",
    )
    _ADDRESS_PATHS: ClassVar[tuple[str, ...]] = ("city", "state", "postalCode", "country")

    def finish(self, order: Order, message: dict[str, Any], csv: CsvSettings) -> Verdict:
        number = order.cell("Name") or "(no Name)"
        status = order.cell("Financial Status")
        if status.casefold() in self.NOT_SALES:
            return _not_a_sale(f"order {number}: Financial Status is {status}")
        if cancelled := order.cell("Cancelled at"):
            return _not_a_sale(f"order {number}: cancelled at {cancelled}")
        refunded = order.cell("Refunded Amount")
        if refunded and (net := _net(order.cell("Total"), refunded, csv.decimal)) is not None:
            if net <= 0 and money(refunded, csv.decimal):
                return _not_a_sale(f"order {number}: refunded in full ({refunded})")
            set_path(message, "properties.revenue", amount_text(net))
        if not any(order.cell(h) for h in self._BILLING):  # the shipping address instead
            for header, path in zip(self._SHIPPING, self._ADDRESS_PATHS, strict=True):
                if value := order.cell(header):
                    set_path(message, _ADDRESS + path, value)
        return SALE


SHOPIFY = _Shopify(
    name="shopify",
    title="Shopify orders export",
    menu="Shopify Admin → Orders → Export (“All orders”, “CSV for Excel, Numbers…”)",
    signatures=(("Name", "Financial Status", "Paid at", "Lineitem name"),),
    defaults=Defaults(
        columns=(
            ("properties.order_id", ("Name",)),
            ("timestamp", ("Paid at", "Created at")),
            ("properties.revenue", ("Total",)),
            ("properties.currency", ("Currency",)),
            (_TRAITS + "email", ("Email",)),
            (_TRAITS + "phone", ("Billing Phone", "Phone", "Shipping Phone")),
            (_TRAITS + "name", ("Billing Name", "Shipping Name")),
            (_ADDRESS + "city", ("Billing City",)),
            (_ADDRESS + "state", ("Billing Province",)),
            (_ADDRESS + "postalCode", ("Billing Zip",)),
            (_ADDRESS + "country", ("Billing Country",)),
            ("properties.product_id", ("Lineitem sku",)),
            ("properties.quantity", ("Lineitem quantity",)),
            ("properties.price", ("Lineitem price",)),
        ),
        read=(
            ("Financial Status", "not a sale: refunded, voided, pending, authorized, expired"),
            ("Cancelled at", "not a sale when set"),
            ("Refunded Amount", "subtracted from Total"),
            ("Shipping City", "address, when the billing one is empty"),
            ("Shipping Province", "address, when the billing one is empty"),
            ("Shipping Zip", "address, when the billing one is empty"),
            ("Shipping Country", "address, when the billing one is empty"),
        ),
    ),
    group=("Name",),
    time_label="`Paid at` (else `Created at`)",
    value_label="`Total`",
)


# --------------------------------------------------------------------------- Square


class _Square(Preset):
    def title_for(self, keys: set[str]) -> str:
        return f"Square {'Item Detail' if _item_detail(keys) else 'Transactions'} export"

    def finish(self, order: Order, message: dict[str, Any], csv: CsvSettings) -> Verdict:
        number = order.cell("Transaction ID") or "(no Transaction ID)"
        if order.cell("Event Type").casefold() == "refund":
            return _not_a_sale(f"transaction {number}: Event Type is Refund")
        if order.has("Total Collected"):
            total = order.cell("Total Collected")
            amount = money(total, csv.decimal) if total else None
            if amount is not None and amount < 0:
                return _not_a_sale(f"transaction {number}: Total Collected is {total}")
        else:  # Item Detail: the order's value is the sum of its rows' Net Sales
            amounts = [money(cell, csv.decimal) for cell in order.cells("Net Sales") if cell]
            if amounts and all(a is not None for a in amounts):
                net = sum((a for a in amounts if a is not None), Decimal(0))
                if net < 0:
                    return _not_a_sale(f"transaction {number}: its Net Sales add up to {net}")
                set_path(message, "properties.revenue", amount_text(net))
            _item_prices(order, message, csv.decimal)
        zone_name = order.cell("Time Zone")
        tz = zone(zone_name) if zone_name else csv.tz
        if tz is None:
            detail = (
                f"Time Zone {zone_name!r} is not a time zone fbocli knows (a name like "
                "“Eastern Time (US & Canada)” or “America/New_York”)"
                if zone_name
                else "Time Zone is empty, and [csv] timezone is not set"
            )
            return Verdict(reject="invalid_timestamp", detail=detail)
        day, clock = order.cell("Date"), order.cell("Time")
        if day or clock:
            when = date_and_time(day, clock, tz, csv.dayfirst)
            set_path(message, "timestamp", when or f"{day} {clock}".strip())
        return SALE


def _item_detail(keys: set[str]) -> bool:
    return header_key("Total Collected") not in keys and header_key("Qty") in keys


def _item_prices(order: Order, message: dict[str, Any], decimal: str) -> None:
    """Item Detail rows give Gross Sales for their quantity: the unit price is that
    divided by Qty."""
    products = _get(message, "properties.products")
    if not isinstance(products, list):
        return
    for product, gross, qty in zip(
        products, order.cells("Gross Sales"), order.cells("Qty"), strict=False
    ):
        amount, count = money(gross, decimal), money(qty, decimal)
        if amount is not None and count:
            product["price"] = amount_text(round(amount / count, 2))


SQUARE = _Square(
    name="square",
    title="Square Transactions or Item Detail export",
    menu="Square Dashboard → Transactions → Export → Transactions CSV (or Item Detail CSV)",
    signatures=(("Date", "Time", "Time Zone", "Transaction ID"),),
    defaults=Defaults(
        columns=(
            ("properties.order_id", ("Transaction ID",)),
            ("properties.revenue", ("Total Collected",)),
            ("properties.product_id", ("SKU",)),
            ("properties.quantity", ("Qty",)),
        ),
        read=(
            ("Date", "time: Date + Time in Time Zone"),
            ("Time", "time: Date + Time in Time Zone"),
            ("Time Zone", "time: Date + Time in Time Zone"),
            ("Event Type", "not a sale: Refund"),
            ("Net Sales", "Item Detail: the value is the sum of the order's Net Sales"),
            ("Gross Sales", "Item Detail: unit price = Gross Sales / Qty"),
            ("Customer ID", "the key of a customer file (--customers)"),
        ),
    ),
    group=("Transaction ID", "Event Type"),
    time_label="`Date` + `Time` in `Time Zone`",
    value_label="`Total Collected`",
    customer_key="Customer ID",
    own_time=True,
)


# --------------------------------------------------------------------------- Stripe


class _Stripe(Preset):
    def finish(self, order: Order, message: dict[str, Any], csv: CsvSettings) -> Verdict:
        number = order.cell("id") or "(no id)"
        if order.cell("Mode").casefold() == "test":
            return _not_a_sale(f"payment {number}: Mode is Test")
        status = order.cell("Status")
        if status and status.casefold() not in ("paid", "succeeded"):
            return _not_a_sale(f"payment {number}: Status is {status}")
        if order.cell("Captured").casefold() == "false":
            return _not_a_sale(f"payment {number}: not captured")
        refunded = order.cell("Amount Refunded")
        if (net := _net(order.cell("Amount"), refunded, csv.decimal)) is not None:
            if net <= 0 and refunded and money(refunded, csv.decimal):
                return _not_a_sale(f"payment {number}: refunded in full ({refunded})")
            if refunded:
                set_path(message, "properties.revenue", amount_text(net))
        created = order.cell("Created (UTC)")
        if created:
            set_path(message, "timestamp", in_zone(created, UTC, csv.dayfirst) or created)
        return SALE


STRIPE = _Stripe(
    name="stripe",
    title="Stripe payments export",
    menu="Stripe Dashboard → Payments → Export (all columns)",
    signatures=(("id", "Created (UTC)", "Amount", "Customer Email"),),
    defaults=Defaults(
        columns=(
            ("properties.order_id", ("id",)),
            ("timestamp", ("Created (UTC)",)),
            ("properties.revenue", ("Amount",)),
            ("properties.currency", ("Currency",)),
            (_TRAITS + "email", ("Customer Email",)),
            (_TRAITS + "name", ("Card Name",)),
            (_ADDRESS + "city", ("Card Address City",)),
            (_ADDRESS + "state", ("Card Address State",)),
            (_ADDRESS + "postalCode", ("Card Address Zip",)),
            (_ADDRESS + "country", ("Card Address Country",)),
        ),
        read=(
            ("Amount Refunded", "subtracted from Amount"),
            ("Status", "not a sale: other than Paid or succeeded"),
            ("Captured", "not a sale: false"),
            ("Mode", "not a sale: Test"),
        ),
    ),
    time_label="`Created (UTC)`",
    value_label="`Amount`",
    own_time=True,
)


# --------------------------------------------------------------------------- Meta's files


class _Meta(Preset):
    default_event: ClassVar[str] = ""

    def finish(self, order: Order, message: dict[str, Any], csv: CsvSettings) -> Verdict:
        given = order.cell(self.event_header)
        name = _META_NAMES.get(given.casefold(), given) if given else self.default_event
        message["event"] = name
        ids = order.cell("CONTENT_IDS")
        if ids and not _get(message, "properties.products"):
            products = [{"product_id": i.strip()} for i in ids.split("|") if i.strip()]
            set_path(message, "properties.products", products)
        _ldu(order, message)
        dataset = order.cell(self.dataset_header) if self.dataset_header else ""
        return Verdict(
            native=Native(
                event_name=name,
                datasets=(dataset,) if dataset else (),
                action_source=order.cell("ACTION_SOURCE"),
            )
        )

    @property
    def event_header(self) -> str:
        return "EVENT_NAME" if self.dataset_header else "event_name"


class _Gateway(_Meta):
    default_event: ClassVar[str] = "Purchase"


def _ldu(order: Order, message: dict[str, Any]) -> None:
    """Meta's template columns ``data_processing_options`` (``LDU``, ``[LDU]`` or empty),
    ``_country`` and ``_state``, as the Limited Data Use options the mapping reads (sent
    only with ``[mapping] limited_data_use = true``)."""
    if not order.has("data_processing_options"):
        return
    options = order.cell("data_processing_options").strip("[] ")
    found: list[object] = [[o.strip().strip("'\"") for o in options.split(",") if o.strip()]]
    for header in ("data_processing_options_country", "data_processing_options_state"):
        text = order.cell(header)
        if not text:
            break
        found.append(int(text) if text.lstrip("-").isdigit() else text)
    set_path(message, f"integrations.{_INTEGRATION}.dataProcessingOptions", found)


META_GATEWAY = _Gateway(
    name="meta-gateway",
    title="Meta Conversions API Gateway upload file",
    menu="Meta Events Manager → your dataset → Conversions API Gateway → offline upload template",
    signatures=(("DATA_SET_ID", "EVENT_NAME"), ("DATA_SET_ID", "EVENT_TIME")),
    defaults=Defaults(
        columns=(
            ("timestamp", ("EVENT_TIME",)),
            ("properties.value", ("VALUE",)),
            ("properties.currency", ("CURRENCY",)),
            ("properties.order_id", ("ORDER_ID",)),
            (_TRAITS + "email", ("EMAIL",)),
            (_TRAITS + "phone", ("PHONE",)),
            (_TRAITS + "firstName", ("FIRST_NAME",)),
            (_TRAITS + "lastName", ("LAST_NAME",)),
            (_TRAITS + "birthday", ("DOB",)),
            (_ADDRESS + "country", ("COUNTRY",)),
            (_ADDRESS + "state", ("STATE",)),
            (_ADDRESS + "city", ("CITY",)),
            (_ADDRESS + "postalCode", ("ZIP",)),
            ("userId", ("EXTERNAL_ID",)),
            (_LEAD, ("LEAD_ID",)),
        ),
        prefixes=(("custom_data.", "properties."),),
        read=(
            ("DATA_SET_ID", "dataset (else [destination] dataset / --dataset)"),
            ("EVENT_NAME", "Meta event name (default Purchase)"),
            ("ACTION_SOURCE", "action source (default [destination] action_source)"),
            ("CONTENT_IDS", "content ids, separated by |"),
        ),
    ),
    time_label="`EVENT_TIME`",
    value_label="`VALUE`",
    native=True,
    dataset_header="DATA_SET_ID",
)

META_OFFLINE = _Meta(
    name="meta-offline",
    title="Meta offline event set upload template",
    menu="Meta Events Manager → your dataset (offline event set) → Upload events → "
    "download the template",
    signatures=tuple(
        ("event_name", "event_time", key) for key in ("email", "phone", "fn", "ln", "madid")
    ),
    defaults=Defaults(
        columns=(
            ("timestamp", ("event_time",)),
            ("properties.value", ("value",)),
            ("properties.currency", ("currency",)),
            ("properties.order_id", ("order_id",)),
            ("properties.store_id", ("store_id",)),
            ("properties.item_number", ("item_number",)),
            (_TRAITS + "email", ("email",)),
            (_TRAITS + "phone", ("phone",)),
            (_TRAITS + "firstName", ("fn",)),
            (_TRAITS + "lastName", ("ln",)),
            (_TRAITS + "gender", ("gen",)),
            (_TRAITS + "birthday", ("dob",)),
            (_ADDRESS + "country", ("country",)),
            (_ADDRESS + "state", ("st",)),
            (_ADDRESS + "city", ("ct",)),
            (_ADDRESS + "postalCode", ("zip",)),
            ("userId", ("extern_id",)),
            (_LEAD, ("lead_id",)),
        ),
        multi=frozenset({_TRAITS + "email", _TRAITS + "phone"}),
        prefixes=(("custom_data.", "properties."),),
        read=(
            ("event_name", "Meta event name"),
            ("doby", "read, not sent: not a Conversions API key"),
            ("age", "read, not sent: not a Conversions API key"),
            ("madid", "read, not sent: no rule for it in the mapping"),
            ("data_processing_options", "Limited Data Use options"),
            ("data_processing_options_country", "Limited Data Use options"),
            ("data_processing_options_state", "Limited Data Use options"),
        ),
    ),
    time_label="`event_time`",
    value_label="`value`",
    native=True,
)

ALL: tuple[Preset, ...] = (SHOPIFY, SQUARE, STRIPE, META_GATEWAY, META_OFFLINE)
BY_NAME: Mapping[str, Preset] = MappingProxyType({preset.name: preset for preset in ALL})
assert tuple(BY_NAME) == PRESETS  # settings.PRESETS names exactly these


@dataclass(frozen=True, slots=True)
class Choice:
    """The preset a file is read with, and why (for stderr and the report)."""

    preset: Preset | None
    why: str  # "its header has Name, Financial Status, ..." / "--preset or [csv] preset"
    title: str = ""


def choose(headers: Sequence[str], setting: str) -> Choice:
    """The preset for a header row: the one named by ``setting`` (``[csv] preset`` or
    ``--preset``), none for ``"none"``, else (``"auto"``) the first whose signature the
    headers carry."""
    keys = {header_key(h) for h in headers}
    if setting == "none":
        return Choice(None, "preset = none")
    if setting != "auto":
        preset = BY_NAME[setting]
        return Choice(preset, f"preset = {setting}", preset.title_for(keys))
    for preset in ALL:
        if (signature := preset.signature(keys)) is not None:
            return Choice(preset, "its header has " + ", ".join(signature), preset.title_for(keys))
    return Choice(None, "no preset's signature in its header")


def preset_config(name: str, starter: str) -> str:
    """``fbocli init --preset NAME``: the starter config (``config.example.toml``, the one
    source) with ``[csv] preset`` set, and what the export needs besides: a dataset for
    Meta's files, a word about the customer file for Square's. Raises ValueError when an
    anchor line is missing from the starter (a test keeps them there)."""
    preset = BY_NAME[name]
    edits = [
        ('preset = "auto"', f'preset = "{name}"'),
        (
            "# fbocli configuration (written by `fbocli init`).",
            f"# fbocli configuration (written by `fbocli init --preset {name}`), for the\n"
            f"# {preset.title}: {preset.menu}.",
        ),
    ]
    if preset.native:
        edits.append(("dataset = []", 'dataset = "1234567890123456"  # your dataset ID (example)'))
    if preset.customer_key:
        edits.append(
            (
                'customers = ""',
                'customers = ""  # your customer export (Customers → Export), e.g. "customers.csv"',
            )
        )
    text = starter
    for anchor, replacement in edits:
        if text.count(anchor) != 1:
            raise ValueError(f"the starter config has no single line {anchor!r}")
        text = text.replace(anchor, replacement)
    return text
