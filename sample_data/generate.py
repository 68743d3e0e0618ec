"""Regenerate the bundled sample data and its expected outcomes.

Writes ``segment-export.jsonl``, ``pos-transactions.csv``, the preset samples of
``exports.py`` (one export per preset) and ``README.md`` next to this script. A fixed
seed makes the output byte-for-byte reproducible, so the files can be checked in and
re-derived. The expected counts in the README are
not taken from the generator's intentions: an independent classifier applies
the mapping.md rules to the lines as written (and must agree with the intent),
so the README describes the data actually on disk.

Usage (from the repository root, with the project venv)::

    .venv/bin/python sample_data/generate.py            # (re)write the files
    .venv/bin/python sample_data/generate.py --check    # exit 1 if they differ
    .venv/bin/python sample_data/generate.py --expected # expected counts as JSON
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import random
import re
import sys
import tomllib
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import phonenumbers
import pycountry
from dateutil import parser as dateparser

import exports  # sample_data/exports.py: the preset samples  # isort: skip

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 11, 20, tzinfo=UTC)
NOW_ARG = "2026-11-20T00:00:00Z"
SEED = 20261120
WINDOW_DAYS = 62
JSONL_NAME = "segment-export.jsonl"
CSV_NAME = "pos-transactions.csv"
CSV_HEADERS = [
    "Order ID",
    "Date",
    "Email",
    "Alt Email",
    "Phone",
    "First Name",
    "Last Name",
    "City",
    "State",
    "Zip",
    "Country",
    "Total",
    "Currency",
    "Store",
    "Cashier",
]

Msg = dict[str, Any]

# --------------------------------------------------------------------------- pools

FIRST_NAMES = [
    "James", "Mary Ann", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "José", "María", "Chloé", "Zoë", "Aiden", "Priya", "Wei", "Olivia",
    "Liam", "Noah", "Emma", "Amelia", "Oliver", "Isla", "Harry", "Siobhán", "Renée",
    "François", "Nathalie", "Connor", "Aaliyah", "Jamal", "DeShawn", "Hannah", "Ethan",
    "Sophie", "Georgia", "Callum", "Niamh", "Mei",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas",
    "Moore", "Jackson", "Martin", "Lee", "O'Brien", "MacDonald", "Nguyen", "Patel",
    "Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Evans", "Hughes", "Roberts", "Walker",
    "Wright", "Thompson", "Smith-Jones", "van der Berg", "Chen", "Singh", "Murphy",
]  # fmt: skip
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.co.uk", "inbox.example.ca"]

# (city, state as people write it, postal code, phone area code / UK prefix)
PLACES: dict[str, list[tuple[str, str, str, str]]] = {
    "US": [
        ("East Greenwich", "RI", "02818", "401"),
        ("Providence", "Rhode Island", "02903-1234", "401"),
        ("Boston", "MA", "02116", "617"),
        ("Brooklyn", "NY", "11201", "718"),
        ("Austin", "TX", "78701", "512"),
        ("Seattle", "Washington", "98101", "206"),
        ("Chicago", "IL", "60611", "312"),
        ("Denver", "CO", "80202", "303"),
        ("Portland", "OR", "97205", "503"),
        ("San Francisco", "California", "94115", "415"),
        ("Atlanta", "GA", "30303", "404"),
        ("Minneapolis", "mn", "55401", "612"),
        ("Nashville", "Tennessee", "37203", "615"),
        ("Salt Lake City", "UT", "84111-2201", "801"),
    ],
    "CA": [
        ("Toronto", "Ontario", "M5V 2T6", "416"),
        ("Vancouver", "BC", "V6B 1A1", "604"),
        ("Montréal", "QC", "H2X 1Y4", "514"),
        ("Calgary", "Alberta", "T2P 1J9", "403"),
        ("Ottawa", "ON", "K1P 5J2", "613"),
        ("Halifax", "Nova Scotia", "B3J 1S9", "902"),
    ],
    "GB": [
        ("London", "England", "SW1A 1AA", "20"),
        ("Manchester", "England", "M1 1AE", "161"),
        ("Edinburgh", "Scotland", "EH1 1YZ", "131"),
        ("Cardiff", "Wales", "CF10 1EP", "29"),
        ("Bristol", "", "BS1 4DJ", "117"),
        ("Leeds", "", "LS1 4AP", "113"),
    ],
}
COUNTRY_SPELLINGS = {
    "US": ["US", "USA", "United States", "us"],
    "CA": ["CA", "Canada", "CAN"],
    "GB": ["GB", "UK", "United Kingdom", "gb"],
}
CURRENCY_OF = {"US": "USD", "CA": "CAD", "GB": "GBP"}
SYMBOL_OF = {"USD": "$", "CAD": "$", "GBP": "£", "EUR": "€"}

# (product_id, sku, name, brand, category, price)
CATALOG = [
    ("507f1f77bcf86cd799439011", "G-32", "Monopoly: 3rd Edition", "Hasbro", "Games", 18.99),
    ("505bd76785ebb509fc183733", "G-07", "Scrabble Deluxe", "Mattel", "Games", 34.50),
    ("prd-1001", "TT-200", "Trail Tent 2P", "Northbound", "Outdoor", 189.00),
    ("prd-1002", "SB-15", "Down Sleeping Bag 15F", "Northbound", "Outdoor", 229.95),
    ("prd-1003", "HL-3", "Headlamp 350lm", "Lumen", "Outdoor", 29.99),
    ("prd-2001", "CI-12", "Cast Iron Skillet 12in", "Ferro", "Kitchen", 44.00),
    ("prd-2002", "KN-8", "Chef's Knife 8in", "Ferro", "Kitchen", 89.00),
    ("prd-2003", "FP-1", "French Press 1L", "Brewhaus", "Kitchen", 27.50),
    ("prd-3001", "TS-M-BLK", "Organic Tee (M, Black)", "Loom & Co", "Apparel", 24.00),
    ("prd-3002", "HD-L-GRY", "Fleece Hoodie (L, Grey)", "Loom & Co", "Apparel", 58.00),
    ("prd-3003", "RJ-S-NVY", "Rain Jacket (S, Navy)", "Loom & Co", "Apparel", 129.00),
    ("prd-4001", "EB-PRO", "Wireless Earbuds Pro", "Sonix", "Electronics", 149.99),
    ("prd-4002", "SPK-MINI", "Bluetooth Speaker Mini", "Sonix", "Electronics", 39.99),
    ("prd-4003", "CH-65W", "65W USB-C Charger", "Voltra", "Electronics", 35.00),
    ("prd-5001", "YM-6", "Yoga Mat 6mm", "Zenfit", "Fitness", 32.00),
    ("prd-5002", "KB-16", "Kettlebell 16kg", "Zenfit", "Fitness", 64.00),
]
CATEGORIES = sorted({p[4] for p in CATALOG})
SEARCHES = ["tent", "cast iron", "earbuds", "rain jacket waterproof", "yoga mat", "board games"]
STORES = [
    "Boston, Newbury St",
    "Brooklyn - Atlantic Ave",
    "Toronto Queen West",
    "Vancouver Gastown",
    "London Covent Garden",
    "Online Pickup",
]
CASHIERS = ["A. Rivera", "J. Park", "M. Okafor", "S. Dubois", "T. Hughes", "K. Lindqvist"]


# --------------------------------------------------------------------------- people


@dataclass(frozen=True)
class Person:
    """A fictitious customer; fields are as a CRM would hold them (unnormalized)."""

    region: str
    first: str
    last: str
    email: str
    phone: str | int
    city: str
    state: str
    postal: str
    country: str
    user_id: str | int | None
    gender: str | None
    birthday: str | None


def ascii_fold(text: str) -> str:
    """Accents off and only letters kept, for making plausible email local parts."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z]", "", folded).lower()


def make_phone(rng: random.Random, region: str, prefix: str) -> str | int:
    """Fictitious numbers (NANP 555-01xx, Ofcom drama ranges) in the formats people type."""
    if region == "GB":
        if rng.random() < 0.5:
            local = f"{rng.randrange(0, 1000):03d}"
            return rng.choice([f"07700 900{local}", f"+44 7700 900{local}", f"+447700900{local}"])
        sub = {"20": "7946 0", "161": "496 0", "131": "496 0", "29": "2018 0"}.get(prefix, "496 0")
        tail = f"{rng.randrange(0, 1000):03d}"
        return rng.choice([f"0{prefix} {sub}{tail}", f"+44 {prefix} {sub}{tail}"])
    line = f"01{rng.randrange(0, 100):02d}"
    shapes: list[str | int] = [
        f"({prefix}) 555-{line}",
        f"{prefix}-555-{line}",
        f"{prefix}.555.{line}",
        f"+1 {prefix} 555 {line}",
        f"1{prefix}555{line}",
        int(f"{prefix}555{line}"),
    ]
    return rng.choice(shapes)


def make_people(rng: random.Random, count: int) -> list[Person]:
    people = []
    for i in range(count):
        region = rng.choices(["US", "CA", "GB"], weights=[6, 2, 2])[0]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, state, postal, prefix = rng.choice(PLACES[region])
        sep = rng.choice([".", "_", ""])
        local = f"{ascii_fold(first)}{sep}{ascii_fold(last)}{rng.choice(['', str(i)])}"
        email = f"{local}@{rng.choice(DOMAINS)}"
        if rng.random() < 0.15:
            email = email.title()
        if rng.random() < 0.1:
            email = f" {email} "
        uid_kind = rng.random()
        user_id: str | int | None
        if uid_kind < 0.55:
            user_id = f"usr_{rng.getrandbits(40):010x}"
        elif uid_kind < 0.7:
            user_id = rng.randrange(10_000, 999_999)
        else:
            user_id = None
        people.append(
            Person(
                region=region,
                first=first,
                last=last,
                email=email,
                phone=make_phone(rng, region, prefix),
                city=city,
                state=state,
                postal=postal,
                country=rng.choice(COUNTRY_SPELLINGS[region]),
                user_id=user_id,
                gender=rng.choice([None, None, "m", "f", "Female", "male", "non-binary"]),
                birthday=rng.choice(
                    [
                        None,
                        None,
                        f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
                    ]
                ),
            )
        )
    return people


# --------------------------------------------------------------------------- times


def rand_instant(rng: random.Random, *, days_back: float = 60.0) -> datetime:
    """A moment between ``days_back`` days and one hour before NOW, whole milliseconds."""
    span = days_back * 86400 - 3600
    moment = NOW - timedelta(seconds=3600 + rng.random() * span)
    return moment.replace(microsecond=(moment.microsecond // 1000) * 1000)


def render_time(rng: random.Random, moment: datetime) -> str | int | float:
    """One of the timestamp spellings a Segment export (or a hand-made file) contains."""
    kind = rng.choices(
        ["iso_ms", "iso_z", "offset", "naive", "rfc", "epoch_s", "epoch_ms", "digits", "float"],
        weights=[30, 20, 14, 5, 4, 10, 10, 4, 3],
    )[0]
    if kind == "iso_ms":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if kind == "iso_z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "offset":
        hours = rng.choice([-8, -7, -5, -4, 0, 1, 5.5])
        tz = timezone(timedelta(hours=hours))
        return moment.astimezone(tz).replace(microsecond=0).isoformat()
    if kind == "naive":
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    if kind == "rfc":
        return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
    seconds = int(moment.timestamp())
    if kind == "epoch_s":
        return seconds
    if kind == "epoch_ms":
        return int(moment.timestamp() * 1000)
    if kind == "digits":
        return str(seconds)
    return seconds + 0.25


# --------------------------------------------------------------------------- messages


def message_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def product_props(rng: random.Random) -> Msg:
    pid, sku, name, brand, category, price = rng.choice(CATALOG)
    return {
        "product_id": pid,
        "sku": sku,
        "category": category,
        "name": name,
        "brand": brand,
        "price": price,
    }


def line_items(rng: random.Random, *, id_key: str = "product_id") -> list[Msg]:
    items = []
    for pid, sku, name, brand, category, price in rng.sample(CATALOG, rng.randint(1, 3)):
        items.append(
            {
                id_key: pid,
                "sku": sku,
                "name": name,
                "brand": brand,
                "category": category,
                "price": price,
                "quantity": rng.choice([1, 1, 1, 2, 3]),
            }
        )
    return items


def money(rng: random.Random, amount: float, currency: str) -> float | str:
    """An amount as a number or as one of the numeric strings mapping.md accepts."""
    amount = round(amount, 2)
    kind = rng.random()
    if kind < 0.7:
        return amount
    if kind < 0.8:
        return f"{amount:.2f}"
    if kind < 0.9:
        return f"{SYMBOL_OF.get(currency, '$')}{amount:,.2f}"
    return f" {amount:,.2f} "


def currency_spelling(rng: random.Random, code: str) -> str | None:
    """Mostly the code, sometimes lowercase/padded, sometimes absent (USD default)."""
    roll = rng.random()
    if roll < 0.15 and code == "USD":
        return None
    if roll < 0.25:
        return code.lower()
    if roll < 0.3:
        return f" {code} "
    return code


@dataclass
class Builder:
    """Makes realistic Segment ``track`` messages for the sample export."""

    rng: random.Random
    people: list[Person]
    order_seq: Iterator[int] = field(default_factory=lambda: iter(range(100_000, 999_999, 7)))

    def order_id(self) -> str:
        return f"SO-{next(self.order_seq)}"

    def traits(self, person: Person) -> Msg | None:
        """A subset of the person's traits, in the shapes Segment sources send."""
        rng = self.rng
        kind = rng.choices(
            ["full", "name", "email", "phone", "prehashed", "email_list", "none"],
            weights=[40, 15, 14, 8, 6, 4, 13],
        )[0]
        if kind == "none":
            return None
        if kind == "email":
            return {"email": person.email}
        if kind == "phone":
            return {"phone": person.phone, "address": {"country": person.country}}
        if kind == "prehashed":
            return {"email": sha256(person.email.strip().lower()), "firstName": person.first}
        if kind == "email_list":
            return {"email": [person.email, person.email.strip().upper(), "not-an-email"]}
        address: Msg = {"city": person.city, "postalCode": person.postal, "country": person.country}
        if person.state:
            address["state"] = person.state
        out: Msg = {"email": person.email, "phone": person.phone}
        if kind == "name":
            out["name"] = f"{person.first} {person.last}"
        else:
            out["firstName"], out["lastName"] = person.first, person.last
        out["address"] = address
        if person.gender:
            out["gender"] = person.gender
        if person.birthday:
            out["birthday"] = person.birthday
        return out

    def ldu(self) -> Msg | list[Any] | None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            return None
        if roll < 0.55:
            return {"All": True}
        if roll < 0.58:
            return []  # not an object: counts as absent
        options = rng.choice(
            [[["LDU"], 1, 1000], [[], 0, 0], [["LDU"]], [["LDU"], 0, 0], [[]], [["LDU"], 1]]
        )
        return {"All": True, "Facebook Offline Conversions": {"dataProcessingOptions": options}}

    def envelope(self, event: str, person: Person, properties: Msg | None) -> Msg:
        """The message around ``properties``: ids, context, time, integrations."""
        rng = self.rng
        msg: Msg = {}
        if rng.random() < 0.9:
            msg["type"] = "track"
        msg["event"] = event
        if rng.random() < 0.95:
            msg["messageId"] = message_id(rng)
        if person.user_id is not None:
            msg["userId"] = person.user_id
        if rng.random() < 0.7:
            msg["anonymousId"] = message_id(rng)
        if properties is not None:
            msg["properties"] = properties
        context: Msg = {"library": {"name": rng.choice(["analytics.js", "analytics-python"])}}
        traits = self.traits(person)
        if traits is not None:
            context["traits"] = traits
        elif person.user_id is None:
            context["traits"] = {"email": person.email}
        elif rng.random() < 0.2:
            context["traits"] = "n/a"  # not an object: counts as absent
        msg["context"] = context
        moment = rand_instant(rng)
        field_name = "originalTimestamp" if rng.random() < 0.08 else "timestamp"
        msg[field_name] = render_time(rng, moment)
        integrations = self.ldu()
        if integrations is not None:
            msg["integrations"] = integrations
        return msg

    # one method per event kind ---------------------------------------------------

    def products_searched(self, p: Person) -> Msg:
        return self.envelope("Products Searched", p, {"query": self.rng.choice(SEARCHES)})

    def product_viewed(self, p: Person) -> Msg:
        props = product_props(self.rng)
        cur = CURRENCY_OF[p.region]
        props["value"] = money(self.rng, props["price"], cur)
        if (c := currency_spelling(self.rng, cur)) is not None:
            props["currency"] = c
        return self.envelope("Product Viewed", p, props)

    def product_list_viewed(self, p: Person) -> Msg:
        rng = self.rng
        props: Msg = {"list_id": rng.choice(["hot_deals", "new_in", "search_results"])}
        if rng.random() < 0.7:
            props["category"] = rng.choice(CATEGORIES)
        props["products"] = [
            {"product_id": item["product_id"], "name": item["name"], "position": pos + 1}
            for pos, item in enumerate(line_items(rng))
        ]
        return self.envelope("Product List Viewed", p, props)

    def wishlist(self, p: Person) -> Msg:
        props = {
            "wishlist_id": "wl-" + str(self.rng.randrange(1000, 9999)),
            **product_props(self.rng),
        }
        props["wishlist_name"] = self.rng.choice(["Birthday", "Camping trip", "Holiday"])
        return self.envelope("Product Added to Wishlist", p, props)

    def product_added(self, p: Person) -> Msg:
        rng = self.rng
        props = {"cart_id": f"cart{rng.randrange(1000, 9999)}", **product_props(rng)}
        props["quantity"] = rng.choice([1, 1, 2])
        if rng.random() < 0.5:
            props["value"] = round(props["price"] * props["quantity"], 2)
        if rng.random() < 0.3:
            props["coupon"] = "MAYDEALS"
        return self.envelope("Product Added", p, props)

    def checkout_started(self, p: Person) -> Msg:
        rng = self.rng
        items = line_items(rng)
        cur = CURRENCY_OF[p.region]
        total = sum(i["price"] * i["quantity"] for i in items)
        props: Msg = {
            "order_id": self.order_id(),
            "value": money(rng, total, cur),
            "revenue": round(total, 2),
            "shipping": rng.choice([0, 4.99, 9.99]),
            "tax": round(total * 0.08, 2),
            "products": items,
        }
        if (c := currency_spelling(rng, cur)) is not None:
            props["currency"] = c
        return self.envelope("Checkout Started", p, props)

    def payment_info(self, p: Person) -> Msg:
        rng = self.rng
        props = {
            "checkout_id": f"chk_{rng.getrandbits(32):08x}",
            "order_id": self.order_id(),
            "step": 3,
            "payment_method": rng.choice(["Visa", "Mastercard", "Amex", "Apple Pay", "Interac"]),
            "shipping_method": rng.choice(["Store pickup", "Standard", "Express"]),
        }
        return self.envelope("Payment Info Entered", p, props)

    def order_completed(self, p: Person) -> Msg:
        rng = self.rng
        cur = rng.choice([CURRENCY_OF[p.region]] * 5 + ["EUR"])
        items = line_items(rng, id_key=rng.choice(["product_id", "product_id", "id"]))
        total = sum(i["price"] * i["quantity"] for i in items)
        value_key = rng.choices(["revenue", "total", "value"], weights=[7, 2, 1])[0]
        props: Msg = {
            "order_id": self.order_id(),
            "affiliation": rng.choice(STORES),
            value_key: money(rng, total, cur),
            "shipping": rng.choice([0, 5.0, 7.5]),
            "tax": round(total * 0.07, 2),
            "products": items,
        }
        if rng.random() < 0.2:
            props["discount"], props["coupon"] = 5, "WELCOME5"
        if (c := currency_spelling(rng, cur)) is not None:
            props["currency"] = c
        if rng.random() < 0.1:
            props["email"] = p.email  # read as a match key, never copied into custom_data
        return self.envelope("Order Completed", p, props)

    def store_visit(self, p: Person) -> Msg:
        rng = self.rng
        props: Msg = {
            "store_id": rng.choice(["BOS-01", "BKN-02", "TOR-03", "VAN-04", "LDN-05"]),
            "visit_duration_minutes": rng.randrange(3, 90),
            "source": rng.choice(["wifi", "beacon", "checkin"]),
        }
        if rng.random() < 0.3:
            props["value"] = rng.choice([5, 10, "15.00"])
        return self.envelope("Store Visit", p, props)

    def lead(self, p: Person) -> Msg:
        rng = self.rng
        event = rng.choice(["Lead Captured", "Demo Requested"])
        props: Msg | None = {
            "lead_source": rng.choice(["in-store kiosk", "trade show", "phone"]),
            "form_name": rng.choice(["Newsletter", "Book a fitting", "Corporate sales"]),
        }
        if event == "Demo Requested":
            props = {"company": f"{p.last} & Partners", "product_interest": "Loyalty program"}
        msg = self.envelope(event, p, props)
        if rng.random() < 0.05:
            msg["properties"] = None  # not an object: counts as absent
        roll = rng.random()
        if roll < 0.6:
            lead_id = str(rng.randrange(10**12, 10**16))
            if roll < 0.25:
                lead_id = "l:" + lead_id
            msg["context"]["Facebook Offline Conversions"] = {"leadId": lead_id}
        return msg

    def signed_up(self, p: Person) -> Msg:
        props = {"signup_method": self.rng.choice(["email", "in store", "google"])}
        props["plan"] = self.rng.choice(["free", "rewards", "rewards plus"])
        return self.envelope("Signed Up", p, props)

    def good(self) -> Msg:
        makers: list[tuple[Callable[[Person], Msg], int]] = [
            (self.order_completed, 70),
            (self.product_viewed, 30),
            (self.product_list_viewed, 14),
            (self.products_searched, 12),
            (self.wishlist, 10),
            (self.product_added, 25),
            (self.checkout_started, 18),
            (self.payment_info, 12),
            (self.store_visit, 18),
            (self.lead, 30),
            (self.signed_up, 16),
        ]
        maker = self.rng.choices([m for m, _ in makers], weights=[w for _, w in makers])[0]
        return maker(self.rng.choice(self.people))


# --------------------------------------------------------------------------- the JSONL


@dataclass
class Line:
    """One physical line of the JSONL and the outcome intended for each record on it."""

    text: str
    intended: list[str]


def dumps(msg: object) -> str:
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":"))


def special_lines(b: Builder) -> list[Line]:
    """Records built to hit one skip or reject reason each (and nothing else)."""
    rng = b.rng
    out: list[Line] = []

    def add(outcome: str, msg: object) -> None:
        out.append(Line(dumps(msg), [outcome]))

    def base(event: str = "Order Completed") -> Msg:
        while True:
            msg = b.good()
            if msg["event"] == event:
                return msg

    old = NOW - timedelta(days=70)
    future = NOW + timedelta(days=1)
    person = rng.choice(b.people)
    msg: Msg
    value: object
    event: object
    # skip: unsupported_type
    for kind in ["identify", "identify", "page", "page", "screen", "group", "alias"]:
        msg = {
            "type": kind,
            "messageId": message_id(rng),
            "userId": f"usr_{rng.getrandbits(40):010x}",
        }
        msg["timestamp"] = render_time(rng, rand_instant(rng))
        if kind == "identify":
            msg["traits"] = {"email": person.email, "firstName": person.first}
        if kind == "page":
            msg["name"], msg["properties"] = "Store Locator", {"path": "/stores"}
        add("skipped:unsupported_type", msg)
    add("skipped:unsupported_type", {"messageId": message_id(rng), "userId": "usr_no_type"})
    # skip: unmapped_event (valid otherwise); names are case-sensitive
    for event in ["Cart Viewed", "Coupon Applied", "Product Clicked", "order completed"]:
        msg = base()
        msg["event"] = event
        add("skipped:unmapped_event", msg)
    # reject: invalid_json (truncated lines) and not_an_object
    for _ in range(3):
        text = dumps(base())
        out.append(Line(text[: len(text) // 2], ["rejected:invalid_json"]))
    for value in ([1, 2, 3], 42, None):
        add("rejected:not_an_object", value)
    # reject: missing_event
    for event in (None, "", 42):
        msg = base("Product Viewed")
        if event is None:
            del msg["event"]
            msg["type"] = "track"
        else:
            msg["event"] = event
        add("rejected:missing_event", msg)
    # reject: missing_timestamp (sentAt/receivedAt are not event times)
    extras: list[Msg] = [{}, {"sentAt": NOW_ARG}, {"receivedAt": "2026-11-19T10:00:00Z"}]
    for extra in extras:
        msg = base("Signed Up")
        msg.pop("timestamp", None)
        msg.pop("originalTimestamp", None)
        msg.update(extra)
        add("rejected:missing_timestamp", msg)
    # reject: invalid_timestamp
    bad_times: list[object] = ["not a date", "2026-13-45T25:00:00Z", {"$date": "2026-11-01"}]
    for value in bad_times:
        msg = base("Product Added")
        msg.pop("originalTimestamp", None)
        msg["timestamp"] = value
        add("rejected:invalid_timestamp", msg)
    # reject: too_old / in_future, in several spellings
    for moment, reason in ((old, "too_old"), (future, "in_future")):
        spellings: list[object] = [
            moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            int(moment.timestamp()),
            int(moment.timestamp() * 1000),
        ]
        for value in spellings:
            msg = base("Store Visit")
            msg.pop("originalTimestamp", None)
            msg["timestamp"] = value
            add(f"rejected:{reason}", msg)
    # reject: no_match_keys
    no_keys: list[Msg] = [
        {},
        {"traits": {"email": "n/a", "phone": "123"}},
        {"traits": {"gender": "unknown", "name": " -- "}},
    ]
    for context in no_keys:
        msg = base()
        msg.pop("userId", None)
        msg["properties"].pop("email", None)
        msg["context"] = context
        add("rejected:no_match_keys", msg)
    # reject: invalid_value
    for event, key, value in (
        ("Order Completed", "revenue", -25.0),
        ("Order Completed", "revenue", "abc"),
        ("Order Completed", "total", "NaN"),
        ("Checkout Started", "value", "-$12.00"),
    ):
        msg = base(event)
        for k in ("revenue", "total", "value"):
            msg["properties"].pop(k, None)
        msg["properties"][key] = value
        add("rejected:invalid_value", msg)
    # reject: purchase_without_value
    for props in ("products", "shipping", "not-an-object"):
        msg = base()
        if props == "not-an-object":
            msg["properties"] = "order 42 paid in cash"
        else:
            for k in ("revenue", "total", "value"):
                msg["properties"].pop(k, None)
        add("rejected:purchase_without_value", msg)
    # reject: invalid_currency
    for code in ("XYZ", "dollars", "US$"):
        msg = base(rng.choice(["Order Completed", "Product Viewed"]))
        msg["properties"]["currency"] = code
        add("rejected:invalid_currency", msg)
    # reject: invalid_data_processing_options (only judged when limited_data_use = true)
    for dpo in ("LDU", [["LDU"], "1", "1000"], [["LDU"], 1, 1000, 7]):
        msg = base(rng.choice(["Order Completed", "Lead Captured"]))
        msg["integrations"] = {"Facebook Offline Conversions": {"dataProcessingOptions": dpo}}
        add("rejected:invalid_data_processing_options", msg)
    return out


def build_jsonl(rng: random.Random) -> list[Line]:
    b = Builder(rng, make_people(rng, 140))
    lines = [Line(dumps(b.good()), ["accepted"]) for _ in range(300)]
    lines += special_lines(b)
    # Segment batch envelopes: several records on one line.
    for size in (3, 4, 5):
        batch = [b.good() for _ in range(size)]
        lines.append(Line(dumps({"batch": batch}), ["accepted"] * size))
    identify = {"type": "identify", "userId": "usr_batch", "traits": {"plan": "rewards"}}
    lines.append(
        Line(dumps({"batch": [b.good(), identify]}), ["accepted", "skipped:unsupported_type"])
    )
    rng.shuffle(lines)
    lines.insert(rng.randrange(10, 200), Line("", []))  # blank: ignored, not a record
    return lines


# --------------------------------------------------------------------------- the CSV


def build_csv(rng: random.Random) -> list[tuple[dict[str, str], str]]:
    """Point-of-sale rows with the outcome each should get."""
    people = make_people(rng, 120)
    rows: list[tuple[dict[str, str], str]] = []
    order_seq = iter(range(40_001, 90_000, 3))

    def row(moment: datetime | str, total: str, currency: str, p: Person | None) -> dict[str, str]:
        if isinstance(moment, datetime):
            fmt = "%Y-%m-%d %H:%M" if rng.random() < 0.88 else "%m/%d/%Y %H:%M"
            date = moment.strftime(fmt)
        else:
            date = moment
        out = dict.fromkeys(CSV_HEADERS, "")
        out.update(
            {
                "Order ID": f"POS-{next(order_seq)}",
                "Date": date,
                "Total": total,
                "Currency": currency,
                "Store": rng.choice(STORES),
                "Cashier": rng.choice(CASHIERS),
            }
        )
        if p is None:
            return out
        roll = rng.random()
        if roll < 0.75:
            out["Email"] = p.email
        elif roll < 0.85:
            out["Alt Email"] = p.email
        if rng.random() < 0.1:
            out["Alt Email"] = f"{ascii_fold(p.first)}.work@{rng.choice(DOMAINS)}"
        if roll >= 0.75 or rng.random() < 0.6:
            out["Phone"] = str(p.phone)
        if rng.random() < 0.85:
            out["First Name"], out["Last Name"] = p.first, p.last
        if rng.random() < 0.8:
            out.update({"City": p.city, "State": p.state, "Zip": p.postal})
            out["Country"] = rng.choice(
                [p.country, p.country, ""] if p.region == "US" else [p.country]
            )
        return out

    def total_of(p: Person) -> tuple[str, str]:
        cur = CURRENCY_OF[p.region]
        amount = round(rng.uniform(4.5, 420.0) * rng.choice([1, 1, 1, 1, 4]), 2)
        shown = rng.choice([f"{amount:.2f}", f"{amount:.2f}", f"{SYMBOL_OF[cur]}{amount:,.2f}"])
        return shown, rng.choice([cur, cur, cur.lower(), "" if cur == "USD" else cur])

    for _ in range(320):
        p = rng.choice(people)
        rows.append((row(rand_instant(rng), *total_of(p), p), "accepted"))
    bad: list[tuple[dict[str, str], str]] = []
    for _ in range(3):  # anonymous cash sales
        bad.append((row(rand_instant(rng), "12.50", "USD", None), "rejected:no_match_keys"))
    for _ in range(2):
        p = rng.choice(people)
        moment = NOW - timedelta(days=90, hours=rng.randrange(1, 20))
        bad.append((row(moment, *total_of(p), p), "rejected:too_old"))
    for total in ("-18.00", "-$5.25"):
        bad.append(
            (row(rand_instant(rng), total, "USD", rng.choice(people)), "rejected:invalid_value")
        )
    for _ in range(2):
        bad.append(
            (
                row(rand_instant(rng), "", "USD", rng.choice(people)),
                "rejected:purchase_without_value",
            )
        )
    for currency in ("XYZ", "Dollars"):
        bad.append(
            (
                row(rand_instant(rng), "20.00", currency, rng.choice(people)),
                "rejected:invalid_currency",
            )
        )
    for date in ("unknown", "2026-11-3x 14:22"):
        bad.append((row(date, "31.00", "USD", rng.choice(people)), "rejected:invalid_timestamp"))
    for item in bad:
        rows.insert(rng.randrange(1, len(rows)), item)
    return rows


def csv_text(rows: Sequence[tuple[dict[str, str], str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_HEADERS, lineterminator="\n")
    writer.writeheader()
    for r, _ in rows:
        writer.writerow(r)
    return buf.getvalue()


# --------------------------------------------------------------------------- classifier
# An independent reading of mapping.md, used only to state the expected outcomes.

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HEX64_RE = re.compile(r"^[0-9a-fA-F]{64}$")
AMOUNT_RE = re.compile(r"^-?[$€£¥]?-?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")


@dataclass(frozen=True)
class Config:
    routes: Mapping[str, tuple[tuple[str, str], ...]]
    csv_event: str
    csv_columns: Mapping[str, tuple[str, ...]]
    limited_data_use: bool


SEMANTIC = {
    "Products Searched": "Search",
    "Product Viewed": "ViewContent",
    "Product List Viewed": "ViewContent",
    "Product Added to Wishlist": "AddToWishlist",
    "Product Added": "AddToCart",
    "Checkout Started": "InitiateCheckout",
    "Payment Info Entered": "AddPaymentInfo",
    "Order Completed": "Purchase",
}


def load_config(path: Path) -> Config:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    routes: dict[str, list[tuple[str, str]]] = {}

    def ids(v: object) -> list[str]:
        return [str(x) for x in v] if isinstance(v, list) else [str(v)]

    for table, meta in (
        ("events", None),
        ("lead_events", "Lead"),
        ("registration_events", "CompleteRegistration"),
    ):
        for event, target in data.get(table, {}).items():
            name = meta or SEMANTIC.get(event, event)
            for ds in ids(target):
                if (ds, name) not in routes.setdefault(event, []):
                    routes[event].append((ds, name))
    csv_cfg = data.get("csv", {})
    columns = {k: tuple(ids(v)) for k, v in csv_cfg.get("columns", {}).items()}
    return Config(
        routes={k: tuple(v) for k, v in routes.items()},
        csv_event=csv_cfg.get("event", "Order Completed"),
        csv_columns=columns,
        limited_data_use=bool(data.get("mapping", {}).get("limited_data_use", False)),
    )


def obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def event_time(value: object) -> int | None:
    """mapping.md section 3; None when the value is not a timestamp."""
    if isinstance(value, bool):
        return None
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = float(value.strip())
    if number is not None:
        return int(number / 1000 if number > 1e11 else number)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            moment = dateparser.parse(value)
        except (ValueError, OverflowError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def has_match_key(msg: Msg, props: Msg) -> bool:
    """True when at least one user_data key survives normalization (mapping.md section 4)."""
    traits = obj(obj(msg.get("context")).get("traits"))
    address = obj(traits.get("address"))

    def values(v: object) -> list[object]:
        return v if isinstance(v, list) else [v]

    email = traits.get("email", props.get("email"))
    for e in values(email):
        if isinstance(e, str) and (EMAIL_RE.match(e.strip().lower()) or HEX64_RE.match(e.strip())):
            return True
    country = str(address.get("country", "US"))
    region = "GB" if country.upper() == "UK" else country[:2].upper()
    for ph in values(traits.get("phone", props.get("phone"))):
        if isinstance(ph, bool) or not isinstance(ph, str | int):
            continue
        digits = re.sub(r"\D", "", str(ph)).lstrip("0")
        try:
            possible = phonenumbers.is_possible_number(phonenumbers.parse(str(ph), region))
        except phonenumbers.NumberParseException:
            possible = False
        if possible or len(digits) >= 7:
            return True
    if str(traits.get("gender", "")).lower() in {"m", "male", "man", "f", "female", "woman"}:
        return True
    name_words = str(traits.get("name", "")).split()
    for v in (
        traits.get("firstName"),
        traits.get("lastName"),
        *name_words[:1],
        *name_words[1:][-1:],
    ):
        if isinstance(v, str) and any(ch.isalpha() for ch in v):
            return True
    for key in ("city", "state", "postalCode"):
        if isinstance(address.get(key), str) and any(ch.isalnum() for ch in address[key]):
            return True
    if "country" in address and lookup_country(str(address["country"])):
        return True
    if isinstance(traits.get("birthday"), str) and event_time(traits["birthday"]) is not None:
        return True
    uid = msg.get("userId")
    if (isinstance(uid, str) and uid.strip()) or (
        isinstance(uid, int) and not isinstance(uid, bool)
    ):
        return True
    lead = obj(obj(msg.get("context")).get("Facebook Offline Conversions")).get("leadId")
    return isinstance(lead, str) and lead.removeprefix("l:").isdigit()


def lookup_country(text: str) -> bool:
    if text.strip().upper() == "UK":
        return True
    try:
        return pycountry.countries.lookup(text.strip()) is not None
    except LookupError:
        return False


def amount_ok(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value) and value >= 0
    if not isinstance(value, str) or not AMOUNT_RE.match(value.strip()):
        return False
    text = re.sub(r"[$€£¥,]", "", value.strip())
    return text not in ("", "-", ".") and float(text) >= 0


def dpo_ok(dpo: object) -> bool:
    if not isinstance(dpo, list) or not 1 <= len(dpo) <= 3:
        return False
    options, *geo = dpo
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        return False
    return all(isinstance(g, int) and not isinstance(g, bool) for g in geo)


def faults(msg: Msg, cfg: Config, event: str) -> list[str]:
    """Every reject reason that applies to a track message (mapping.md 3-7)."""
    found: list[str] = []
    props = obj(msg.get("properties"))
    raw_time = msg["timestamp"] if "timestamp" in msg else msg.get("originalTimestamp")
    if raw_time is None:
        found.append("missing_timestamp")
    elif (t := event_time(raw_time)) is None:
        found.append("invalid_timestamp")
    elif t < NOW.timestamp() - WINDOW_DAYS * 86400:
        found.append("too_old")
    elif t > NOW.timestamp() + 60:
        found.append("in_future")
    if not has_match_key(msg, props):
        found.append("no_match_keys")
    keys = ("revenue", "total", "value") if event == "Order Completed" else ("value",)
    source = next((k for k in keys if k in props), None)
    if source is None and event == "Order Completed":
        found.append("purchase_without_value")
    elif source is not None and not amount_ok(props[source]):
        found.append("invalid_value")
    currency = props.get("currency", "USD")
    if (
        not isinstance(currency, str)
        or pycountry.currencies.get(alpha_3=currency.strip().upper()) is None
    ):
        found.append("invalid_currency")
    if cfg.limited_data_use:
        foc = obj(obj(msg.get("integrations")).get("Facebook Offline Conversions"))
        if "dataProcessingOptions" in foc and not dpo_ok(foc["dataProcessingOptions"]):
            found.append("invalid_data_processing_options")
    return found


@dataclass(frozen=True)
class Outcome:
    label: str  # "accepted", "rejected:<reason>" or "skipped:<reason>"
    routes: tuple[tuple[str, str], ...] = ()


def classify(message: object, cfg: Config) -> Outcome:
    if not isinstance(message, dict):
        return Outcome("rejected:not_an_object")
    kind = message.get("type")
    if not (kind == "track" or (kind is None and "event" in message)):
        return Outcome("skipped:unsupported_type")
    event = message.get("event")
    if not isinstance(event, str) or not event:
        problems = faults(message, cfg, "")
        assert not problems, (message, problems)
        return Outcome("rejected:missing_event")
    problems = faults(message, cfg, event)
    assert len(problems) <= 1, ("ambiguous record", message, problems)
    routes = cfg.routes.get(event, ())
    if not routes:
        assert not problems, (message, problems)
        return Outcome("skipped:unmapped_event")
    if problems:
        return Outcome(f"rejected:{problems[0]}")
    return Outcome("accepted", routes)


def read_jsonl(text: str) -> Iterator[object | Exception]:
    """Records of a JSONL text as mapping.md section 1 defines them."""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield exc
            continue
        if isinstance(value, dict) and isinstance(value.get("batch"), list):
            yield from value["batch"]
        else:
            yield value


def csv_message(row: Mapping[str, str], cfg: Config) -> Msg:
    """A CSV row as the Segment message the [csv.columns] mapping builds."""
    msg: Msg = {"event": cfg.csv_event}
    for path, headers in cfg.csv_columns.items():
        value = next((row[h] for h in headers if row.get(h, "").strip()), None)
        if value is None:
            continue
        *parents, leaf = path.split(".")
        node = msg
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return msg


def tally(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Expected counts in the shape of the run summary (``--json``) of a dry run."""
    labels = Counter(o.label for o in outcomes)
    datasets: Counter[str] = Counter()
    meta_events: Counter[str] = Counter()
    for o in outcomes:
        for ds, name in o.routes:
            datasets[ds] += 1
            meta_events[name] += 1

    def part(prefix: str) -> dict[str, int]:
        return {k.split(":", 1)[1]: v for k, v in sorted(labels.items()) if k.startswith(prefix)}

    reasons, skips = part("rejected:"), part("skipped:")
    return {
        "records": {
            "read": len(outcomes),
            "accepted": labels["accepted"],
            "rejected": sum(reasons.values()),
            "skipped": sum(skips.values()),
        },
        "reasons": reasons,
        "skips": skips,
        "events_built": sum(datasets.values()),
        "datasets": dict(sorted(datasets.items())),
        "meta_events": dict(sorted(meta_events.items())),
    }


# --------------------------------------------------------------------------- README

README_HEAD = """\
# Sample data

Realistic, entirely fictitious input files and the configs that map them, so
you can try `fbocli` without a token and without touching Meta:

| file | what |
|---|---|
| `segment-export.jsonl` | a Segment export: {jsonl_lines} lines, {jsonl_read} records |
| `pos-transactions.csv` | a point-of-sale export: {csv_read} rows |
| `fbocli.toml` | the config for both: every event map, LDU on, CSV columns |
| `shopify-orders.csv`, `square-transactions.csv`, `square-item-detail.csv`, `square-customers.csv`, `stripe-payments.csv`, `meta-gateway.csv`, `meta-offline.csv` | [one export per preset](#the-exports-stores-have-one-per-preset), as a store downloads it |
| `presets.toml` | the config for the exports (no column mapping: the presets read them) |
| `generate.py`, `exports.py` | regenerate all of the above but the configs, and this README (fixed seed, hand-written exports: byte-identical output) |

Everything is dated relative to **2026-11-20T00:00:00Z**, so always pass that as
`--now` (otherwise the 62-day window rejects every record as `too_old`):

```sh
fbocli validate sample_data/segment-export.jsonl -c sample_data/fbocli.toml --now {now}
fbocli upload   sample_data/segment-export.jsonl -c sample_data/fbocli.toml --dry-run --now {now}
fbocli validate sample_data/pos-transactions.csv -c sample_data/fbocli.toml --now {now}
fbocli upload   sample_data/pos-transactions.csv -c sample_data/fbocli.toml --dry-run --now {now} \\
    --output /tmp/requests.jsonl    # the requests that would be sent (no token in them)
```

Both files deliberately contain bad records, so `validate` exits **1** (it found
rejects) and lists them; `upload --dry-run` exits **0** (every accepted event would
be delivered) unless `--strict` is given. Rejected records are written, with their
reason, to the rejects file whose path is printed; what each reason means is in
[docs/mapping.md](../docs/mapping.md#reject-reasons-and-skips). In
`pos-transactions.csv` the `Store` and `Cashier` columns are not mapped: `validate`
reports them as ignored and they are never sent.

Names, emails (`example.*` domains), phones (555-01xx and Ofcom drama numbers),
order ids and dataset IDs are made up.

## What the JSONL exercises

Every mapped Segment ecommerce event (`Products Searched` ... `Order Completed`,
the latter fanned out to two datasets), the custom event `Store Visit`, lead events
(`Lead Captured`, `Demo Requested`; some with a `leadId`, some `l:`-prefixed) and
`Signed Up` registrations; `products[]` with `product_id` or `id`, single
`product_id`s, `Product List Viewed` with and without a category; `revenue` /
`total` / `value` as numbers and as strings (`"$1,234.56"`, `" 49.99 "`, `"£20.00"`);
USD/CAD/GBP/EUR currencies, lower-case, padded or absent; US/CA/GB names (accents,
`O'Brien`, `Mary Ann`, `van der Berg`), addresses with states as codes or names,
ZIP+4, country spelled `US`/`USA`/`United States`/`UK`/`Canada`/`CAN`...; phones in
many formats (and as JSON numbers); pre-hashed emails, email lists, `properties.email`,
`userId`-only messages (string, number); timestamps as ISO with `Z`, with offsets,
without offset, RFC 2822, epoch seconds (number, float, digit string), epoch
milliseconds, and `originalTimestamp` only; `integrations` with LDU options
(`[["LDU"], 1, 1000]`, `[[], 0, 0]`, `[["LDU"]]`...), without them, or of the wrong
type; messages without `type` or without `messageId`; Segment batch envelopes
(`{{"batch": [...]}}`, each element a record); a blank line (ignored, not a record).
"""  # noqa: E501 (a Markdown table row is one line)

README_TAIL = """
## How these numbers are computed

`generate.py` builds each record for one intended outcome, then an independent
classifier re-reads the written files with the rules of the mapping contract
([docs/mapping.md](../docs/mapping.md), as `generate.py` understands them) and must
agree; every bad record carries exactly one fault, so the expected reason does not
depend on the order of the checks. The counts are also printed as JSON by
`python sample_data/generate.py --expected`: `records`, `reasons` and `skips` in the
shape of `fbocli ... --json`, then the events built in all, per dataset and per Meta
event. `python sample_data/generate.py --check` exits 1 when a file on disk differs
from what the generator writes.
"""


def outcome_table(summary: Mapping[str, Any]) -> str:
    rows = ["| outcome | reason | records |", "|---|---|---:|"]
    rows.append(f"| accepted | | {summary['records']['accepted']} |")
    for reason, n in summary["reasons"].items():
        rows.append(f"| rejected | `{reason}` | {n} |")
    for reason, n in summary["skips"].items():
        rows.append(f"| skipped | `{reason}` | {n} |")
    r = summary["records"]
    rows.append(f"| **read** | (= accepted + rejected + skipped) | **{r['read']}** |")
    rows.append("")
    rows.append(
        f"Rejected: {r['rejected']}, skipped: {r['skipped']}. "
        f"Events built (one per route of each accepted record): **{summary['events_built']}**."
    )
    rows.append("")
    rows += ["", "| dataset | events |", "|---|---:|"]
    rows += [f"| `{ds}` | {n} |" for ds, n in summary["datasets"].items()]
    rows += ["", "| Meta event | events |", "|---|---:|"]
    rows += [f"| {name} | {n} |" for name, n in summary["meta_events"].items()]
    return "\n".join(rows) + "\n"


def readme(jsonl_lines: int, jsonl: Mapping[str, Any], pos: Mapping[str, Any]) -> str:
    head = README_HEAD.format(
        jsonl_lines=jsonl_lines,
        jsonl_read=jsonl["records"]["read"],
        csv_read=pos["records"]["read"],
        now=NOW_ARG,
    )
    return (
        head
        + "\n## Expected outcomes: `segment-export.jsonl`\n\n"
        + outcome_table(jsonl)
        + "\n## Expected outcomes: `pos-transactions.csv`\n\n"
        + outcome_table(pos)
        + README_TAIL
    )


# --------------------------------------------------------------------------- main


def render() -> tuple[dict[str, str], dict[str, Any]]:
    """All generated files (name -> text) and the expected counts per input file."""
    cfg = load_config(HERE / "fbocli.toml")
    rng = random.Random(SEED)
    lines = build_jsonl(rng)
    jsonl = "\n".join(line.text for line in lines) + "\n"
    outcomes = [
        Outcome("rejected:invalid_json") if isinstance(rec, Exception) else classify(rec, cfg)
        for rec in read_jsonl(jsonl)
    ]
    intended = [label for line in lines for label in line.intended]
    assert [o.label for o in outcomes] == intended, "classifier disagrees with the generator"

    rows = build_csv(rng)
    text = csv_text(rows)
    parsed = list(csv.DictReader(io.StringIO(text)))
    csv_outcomes = [classify(csv_message(r, cfg), cfg) for r in parsed]
    assert [o.label for o in csv_outcomes] == [label for _, label in rows]

    expected = {JSONL_NAME: tally(outcomes), CSV_NAME: tally(csv_outcomes)}
    files = {JSONL_NAME: jsonl, CSV_NAME: text}
    samples = exports.samples()
    for sample in samples:
        files[sample.name] = sample.text
        files.update(sample.files)
        expected[sample.name] = sample.tally()
    files["README.md"] = readme(len(lines), expected[JSONL_NAME], expected[CSV_NAME]) + (
        exports_readme(samples)
    )
    return files, expected


EXPORTS_HEAD = """
## The exports stores have: one per preset

Each of these is a small export as a store would download it (the vendor's own header
row, made-up rows), read with `presets.toml` and no column configuration: fbocli picks
the preset from the header row and says so on stderr. For each file, the outcome of
every order, and the events it must become (`generate.py --expected` lists them, with
their order id, value net of refunds, currency, time, contents and match keys; the
tests hold fbocli to them). How each preset reads its export: [docs/inputs.md](../docs/inputs.md).
"""


def exports_readme(samples: Sequence[exports.Sample]) -> str:
    parts = [EXPORTS_HEAD]
    for sample in samples:
        summary = sample.tally()
        command = " ".join(
            [
                f"fbocli validate sample_data/{sample.name} -c sample_data/presets.toml",
                f"--now {NOW_ARG}",
                *sample.extra_args,
            ]
        )
        parts.append(f"\n### `{sample.name}`: {sample.title} (preset `{sample.preset}`)\n\n")
        parts.append(f"{sample.about}.\n\n```sh\n{command}\n```\n\n")
        parts.append(
            f"{summary['rows']} rows, {summary['orders']} records (orders).\n\n"
            + outcome_table(summary)
        )
        parts.append(
            "\n| order | Meta event | value | currency | match keys |\n|---|---|---:|---|---|\n"
        )
        for event in summary["events"]:
            value = "" if event["value"] is None else f"{event['value']:.2f}"
            parts.append(
                f"| `{event['order_id']}` | {event['event_name']} | {value} | "
                f"{event['currency']} | {', '.join(event['keys'])} |\n"
            )
    return "".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the files on disk differ")
    ap.add_argument("--expected", action="store_true", help="print the expected counts as JSON")
    args = ap.parse_args(argv)
    files, expected = render()
    if args.expected:
        print(json.dumps(expected, indent=2))
        return 0
    if args.check:
        stale = [n for n, t in files.items() if (HERE / n).read_text(encoding="utf-8") != t]
        for name in stale:
            print(f"out of date: sample_data/{name}", file=sys.stderr)
        return 1 if stale else 0
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
