"""Frozen settings: what a run needs, validated once by :mod:`fbocli.config`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

from fbocli.versions import NEWEST

Api = Literal["conversions", "offline"]

# Where an event happened (inputs.md section 4): Meta accepts physical_store events up to
# 62 days old, every other source up to 7 days.
ACTION_SOURCES = (
    "physical_store",
    "phone_call",
    "system_generated",
    "email",
    "chat",
    "website",
    "app",
    "other",
)
PHYSICAL_STORE = "physical_store"
OTHER_SOURCE_MAX_DAYS = 7

# The built-in CSV readings (inputs.md section 1); fbocli/inputs/presets.py defines them.
PRESETS = ("shopify", "square", "stripe", "meta-gateway", "meta-offline")
NATIVE_PRESETS = ("meta-gateway", "meta-offline")  # rows that already are Meta events

# Meta's standard event names: a Meta-native row's event name is case-corrected to one.
META_EVENTS = (
    "AddPaymentInfo",
    "AddToCart",
    "AddToWishlist",
    "CompleteRegistration",
    "Contact",
    "CustomizeProduct",
    "Donate",
    "FindLocation",
    "InitiateCheckout",
    "Lead",
    "Other",
    "Purchase",
    "Schedule",
    "Search",
    "StartTrial",
    "SubmitApplication",
    "Subscribe",
    "ViewContent",
)

META_GRAPH_HOST = "graph.facebook.com"
DEFAULT_GRAPH_URL = f"https://{META_GRAPH_HOST}"
DEFAULT_API_VERSION = NEWEST  # the newest Marketing API version fbocli knows
DATASET_ID_MAX_DIGITS = 32


def is_dataset_id(text: str) -> bool:
    """Whether ``text`` is a dataset ID: 1 to 32 ASCII digits. (``str.isdigit`` alone
    would let full-width ``１２３`` and other Unicode digits through, which Meta refuses.)
    The one check of the config's routes and of a dataset named on the command line."""
    return 0 < len(text) <= DATASET_ID_MAX_DIGITS and text.isascii() and text.isdigit()


# Segment semantic ecommerce event -> Meta standard event (mapping.md section 2).
SEMANTIC_EVENTS: Mapping[str, str] = MappingProxyType(
    {
        "Products Searched": "Search",
        "Product Viewed": "ViewContent",
        "Product List Viewed": "ViewContent",
        "Product Added to Wishlist": "AddToWishlist",
        "Product Added": "AddToCart",
        "Checkout Started": "InitiateCheckout",
        "Payment Info Entered": "AddPaymentInfo",
        "Order Completed": "Purchase",
    }
)


@dataclass(frozen=True, slots=True)
class Destination:
    api: Api = "conversions"
    api_version: str = DEFAULT_API_VERSION
    graph_url: str = DEFAULT_GRAPH_URL
    upload_tag: str = "Segment"
    test_event_code: str = ""
    action_source: str = PHYSICAL_STORE  # of every event but a Meta-native row naming its own
    dataset: tuple[str, ...] = ()  # where Meta-native rows without a DATA_SET_ID go

    @property
    def max_batch_size(self) -> int:
        return 2000 if self.api == "offline" else 1000

    @property
    def targets_meta(self) -> bool:
        """Whether requests go to Meta itself rather than a proxy or a test server."""
        host = (urlsplit(self.graph_url).hostname or "").rstrip(".").lower()
        return host == META_GRAPH_HOST


@dataclass(frozen=True, slots=True)
class MappingSettings:
    value_field: Literal["value", "price"] = "value"
    limited_data_use: bool = False
    default_currency: str = "USD"
    default_country: str = "us"  # normalized alpha-2, lowercase; "" = none
    hash_external_id: bool = True
    timezone: str = "UTC"
    tz: tzinfo | None = None  # resolved from ``timezone``; None means UTC


@dataclass(frozen=True, slots=True)
class UploadSettings:
    batch_size: int = 1000
    workers: int = 4
    window_days: int = 62
    max_retries: int = 6
    timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class CsvSettings:
    event: str = "Order Completed"
    delimiter: str = ""  # "" = detect
    dayfirst: bool = False
    # Segment message path -> CSV headers that feed it, in preference order (for
    # ``timestamp``: the headers whose cells are joined with a space).
    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    preset: str = "auto"  # "auto", "none" or one of PRESETS
    encoding: str = ""  # "": UTF-8, else cp1252 with a warning; a codec name: that, strictly
    decimal: str = "."  # "." or ","
    date_format: str = ""  # a strptime format for the time column(s); "" = recognise
    timezone: str = ""  # IANA zone of this file's zone-less times; "" = [mapping] timezone
    tz: tzinfo | None = None  # resolved from ``timezone``; None: not set
    # header -> the values (compared case-insensitively) an order must have to be read
    filter: tuple[tuple[str, tuple[str, ...]], ...] = ()
    group_by: str = ""  # a header: consecutive rows with the same value are one order
    customers: str = ""  # a customer file joined to the rows ("" = none)
    customers_key: str = ""  # the sales file's header holding the customer key
    customers_key_column: str = ""  # the customer file's key header ("" = recognise)


# The longest record (a JSON line, a CSV row) read: longer is a too_large reject.
MAX_RECORD_BYTES = 4_000_000
MAX_RECORD_BYTES_RANGE = (1_000_000, 1_000_000_000)


@dataclass(frozen=True, slots=True)
class InputSettings:
    max_record_bytes: int = MAX_RECORD_BYTES  # a longer line or row is a too_large reject


@dataclass(frozen=True, slots=True)
class StateSettings:
    keep_rejects_days: int = 30  # rejects files in the state directory older than this go


Route = tuple[str, str]  # (dataset_id, Meta event name)


@dataclass(frozen=True, slots=True)
class Settings:
    destination: Destination = field(default_factory=Destination)
    events: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    lead_events: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    registration_events: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    mapping: MappingSettings = field(default_factory=MappingSettings)
    upload: UploadSettings = field(default_factory=UploadSettings)
    csv: CsvSettings = field(default_factory=CsvSettings)
    state: StateSettings = field(default_factory=StateSettings)
    input: InputSettings = field(default_factory=InputSettings)
    path: Path | None = None  # the file these came from

    def routes(self, segment_event: str) -> tuple[Route, ...]:
        """Every (dataset, Meta event name) a Segment event goes to, without duplicates."""
        out: list[Route] = []
        for ds in self.events.get(segment_event, ()):
            out.append((ds, SEMANTIC_EVENTS.get(segment_event, segment_event)))
        for ds in self.lead_events.get(segment_event, ()):
            out.append((ds, "Lead"))
        for ds in self.registration_events.get(segment_event, ()):
            out.append((ds, "CompleteRegistration"))
        return tuple(dict.fromkeys(out))

    @property
    def dataset_ids(self) -> tuple[str, ...]:
        ids: dict[str, None] = {}
        for table in (self.events, self.lead_events, self.registration_events):
            for targets in table.values():
                ids.update(dict.fromkeys(targets))
        ids.update(dict.fromkeys(self.destination.dataset))
        return tuple(ids)
