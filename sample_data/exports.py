"""The preset samples: one small export per preset, as a store would have it.

Each order below is written by hand (made-up people, `example.*` emails, 555-01xx
phones) with the outcome it must get and, for a sale, the event it must become: its
order id, value (refunds subtracted), currency, time (its zone honoured), contents
and match keys. The expectations are stated here from the rows' own numbers, not taken
from fbocli: ``generate.py`` writes them to README.md and ``--expected``, and the tests
hold fbocli to them.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

NOW = datetime(2026, 11, 20, tzinfo=UTC)
ORDERS_DATASET = "1234567890123456"  # [events] "Order Completed" in presets.toml
NATIVE_DATASET = "6543210987654321"  # [destination] dataset in presets.toml

SHOPIFY_HEADERS = "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Phone,Receipt Number,Duties,Billing Province Name,Shipping Province Name,Payment ID,Payment Terms Name,Next Payment Due At,Payment References".split(  # noqa: E501, SIM905
    ","
)
SQUARE_HEADERS = "Date,Time,Time Zone,Gross Sales,Discounts,Service Charges,Net Sales,Gift Card Sales,Tax,Tip,Partial Refunds,Total Collected,Source,Card,Card Entry Methods,Cash,Square Gift Card,Other Tender,Other Tender Type,Tender Note,Fees,Net Total,Transaction ID,Payment ID,Card Brand,PAN Suffix,Device Name,Staff Name,Staff ID,Details,Description,Event Type,Location,Dining Option,Customer ID,Customer Name,Customer Reference ID,Device Nickname,Third Party Fees,Deposit ID,Deposit Date,Deposit Details,Fee Percentage Rate,Fee Fixed Rate,Refund Reason,Discount Name,Transaction Status,Cash App,Order Reference ID,Fulfillment Note,Free Processing Applied,Channel,Unattributed Tips,Table Info,International Fee".split(  # noqa: E501, SIM905
    ","
)
SQUARE_ITEM_HEADERS = "Date,Time,Time Zone,Category,Item,Qty,Price Point Name,SKU,Modifiers Applied,Gross Sales,Discounts,Net Sales,Tax,Transaction ID,Payment ID,Device Name,Notes,Details,Event Type,Location,Dining Option,Customer ID,Customer Name,Customer Reference ID,Unit,Count,GTIN,Itemization Type,Commission,Employee,Fulfillment Note,Channel,Token,Card Brand,PAN Suffix".split(  # noqa: E501, SIM905
    ","
)
SQUARE_CUSTOMER_HEADERS = "Reference ID,First Name,Last Name,Email Address,Phone Number,Nickname,Company Name,Street Address 1,Street Address 2,City,State,Postal Code,Birthday,Memo,Square Customer ID,Creation Source,First Visit,Last Visit,Transaction Count,Total Spend,Email Subscription Status".split(  # noqa: E501, SIM905
    ","
)
STRIPE_HEADERS = "id,Description,Seller Message,Created (UTC),Amount,Amount Refunded,Currency,Converted Amount,Converted Amount Refunded,Fee,Tax,Converted Currency,Mode,Status,Statement Descriptor,Customer ID,Customer Description,Customer Email,Captured,Card ID,Card Last4,Card Brand,Card Funding,Card Exp Month,Card Exp Year,Card Name,Card Address Line1,Card Address Line2,Card Address City,Card Address State,Card Address Country,Card Address Zip,Card Issue Country,Card Fingerprint,Card CVC Status,Card AVS Zip Status,Card AVS Line1 Status,Card Tokenization Method,Disputed Amount,Dispute Status,Dispute Reason,Dispute Date (UTC),Dispute Evidence Due (UTC),Invoice ID,Payment Source Type,Destination,Transfer".split(  # noqa: E501, SIM905
    ","
)
GATEWAY_HEADERS = "DATA_SET_ID,EVENT_NAME,EVENT_TIME,ACTION_SOURCE,VALUE,CURRENCY,CONTENT_IDS,ORDER_ID,EMAIL,PHONE,FIRST_NAME,LAST_NAME,DOB,COUNTRY,STATE,CITY,ZIP,CLICK_ID,MAD_ID,EXTERNAL_ID,LEAD_ID,custom_data.store".split(  # noqa: E501, SIM905
    ","
)
OFFLINE_HEADERS = "email,email,email,phone,phone,phone,madid,fn,ln,zip,ct,st,country,dob,doby,gen,age,event_name,event_time,value,currency,store_id,order_id".split(  # noqa: E501, SIM905
    ","
)

NY = ZoneInfo("America/New_York")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def at(year: int, month: int, day: int, hour: int, minute: int, second: int, tz: Any) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=tz)


@dataclass
class Person:
    """What a row says about a customer (as written) and the E.164 digits of the phone."""

    email: str = ""
    emails: tuple[str, ...] = ()  # more emails (Meta's template has three columns)
    phone: str = ""
    phone_digits: str = ""
    first: str = ""
    last: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    birthday: str = ""
    gender: str = ""
    external_id: str = ""
    lead_id: str = ""

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}".strip()

    def keys(self) -> list[str]:
        """The user_data keys mapping.md section 4 gives this person (sorted)."""
        present = {
            "em": self.email or self.emails,
            "ph": self.phone,
            "fn": self.first,
            "ln": self.last,
            "ct": self.city,
            "st": self.state,
            "zp": self.zip,
            "country": self.country,
            "db": self.birthday,
            "ge": self.gender,
            "external_id": self.external_id,
            "lead_id": self.lead_id,
        }
        return sorted(key for key, value in present.items() if value)

    def em(self) -> list[str]:
        found = [e for e in (self.email, *self.emails) if e]
        return [sha256(e.strip().lower()) for e in dict.fromkeys(found)]

    def ph(self) -> list[str]:
        return [sha256(self.phone_digits)] if self.phone_digits else []


@dataclass
class Expected:
    """One record's expected outcome; for a sale, the event(s) it becomes."""

    outcome: str  # "accepted", "rejected:<reason>", "skipped:<reason>"
    events: list[dict[str, Any]] = field(default_factory=list)


def sale(
    order_id: str,
    when: datetime,
    value: str,
    person: Person,
    *,
    currency: str = "USD",
    contents: Sequence[tuple[str, int, float]] = (),
    event_name: str = "Purchase",
    dataset: str = ORDERS_DATASET,
    action_source: str = "physical_store",
    event_id: str | None = None,
) -> Expected:
    event: dict[str, Any] = {
        "dataset": dataset,
        "event_name": event_name,
        "event_id": event_id if event_id is not None else order_id,
        "event_time": int(when.timestamp()),
        "action_source": action_source,
        "value": None if value == "" else float(value),
        "currency": currency,
        "order_id": order_id or None,
        "contents": [[pid, qty, price] for pid, qty, price in contents],
        "keys": person.keys(),
        "em": person.em(),
        "ph": person.ph(),
    }
    return Expected("accepted", [event])


@dataclass
class Sample:
    """One export file, its expectations (one per record, in order) and how to run it."""

    name: str
    preset: str
    title: str
    text: str
    rows: int  # data rows
    expected: list[Expected]
    extra_args: tuple[str, ...] = ()  # e.g. --customers
    files: dict[str, str] = field(default_factory=dict)  # other files it needs
    about: str = ""

    def tally(self) -> dict[str, Any]:
        """Expected counts in the shape of ``--json``, and the events."""
        labels = Counter(e.outcome for e in self.expected)
        events = [event for e in self.expected for event in e.events]

        def part(prefix: str) -> dict[str, int]:
            return {
                k.split(":", 1)[1]: v for k, v in sorted(labels.items()) if k.startswith(prefix)
            }

        reasons, skips = part("rejected:"), part("skipped:")
        return {
            "records": {
                "read": len(self.expected),
                "accepted": labels["accepted"],
                "rejected": sum(reasons.values()),
                "skipped": sum(skips.values()),
            },
            "reasons": reasons,
            "skips": skips,
            "events_built": len(events),
            "datasets": dict(sorted(Counter(e["dataset"] for e in events).items())),
            "meta_events": dict(sorted(Counter(e["event_name"] for e in events).items())),
            "rows": self.rows,
            "orders": len(self.expected),
            "preset": self.preset,
            "args": list(self.extra_args),
            "events": events,
        }


def table(headers: Sequence[str], rows: Sequence[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(headers)), lineterminator="\n")
    if len(set(headers)) == len(headers):
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
        return buf.getvalue()
    # Meta's template repeats headers: write the cells by position.
    plain = csv.writer(buf, lineterminator="\n")
    plain.writerow(headers)
    for row in rows:
        plain.writerow([row.get(f"{h}#{i}", row.get(h, "")) for i, h in enumerate(headers)])
    return buf.getvalue()


# --------------------------------------------------------------------------- Shopify


def shopify() -> Sample:
    """A small outdoor shop: a Providence store on Shopify POS, and its web store."""
    rows: list[dict[str, str]] = []
    expected: list[Expected] = []

    def order(
        name: str,
        status: str,
        paid: datetime | None,
        items: Sequence[tuple[str, str, int, str]],  # sku, name, qty, price
        person: Person,
        *,
        shipping: str = "0.00",
        tax_rate: str = "0.07",
        refunded: str = "0.00",
        cancelled: str = "",
        created: datetime | None = None,
        source: str = "web",
        billing: bool = True,
        phone_column: str = "Billing Phone",
    ) -> tuple[str, str]:
        subtotal = sum(int(q) * float(p) for _, _, q, p in items)
        tax = round(subtotal * float(tax_rate), 2)
        total = round(subtotal + float(shipping) + tax, 2)
        created = created or paid
        assert created is not None
        first: dict[str, str] = {
            "Name": name,
            "Email": person.email,
            "Financial Status": status,
            "Paid at": paid.strftime("%Y-%m-%d %H:%M:%S %z") if paid else "",
            "Fulfillment Status": "fulfilled" if source == "pos" else "unfulfilled",
            "Accepts Marketing": "no",
            "Currency": "USD",
            "Subtotal": f"{subtotal:.2f}",
            "Shipping": shipping,
            "Taxes": f"{tax:.2f}",
            "Total": f"{total:.2f}",
            "Discount Amount": "0.00",
            "Shipping Method": "" if source == "pos" else "Standard",
            "Created at": created.strftime("%Y-%m-%d %H:%M:%S %z"),
            "Cancelled at": cancelled,
            "Payment Method": "Shopify Payments",
            "Refunded Amount": refunded,
            "Outstanding Balance": "0.00",
            "Location": "Providence Store" if source == "pos" else "",
            "Id": str(5_600_000_000 + int(name[1:])),
            "Risk Level": "Low",
            "Source": source,
            "Tax 1 Name": "RI State Tax 7%",
            "Tax 1 Value": f"{tax:.2f}",
            phone_column: person.phone,
        }
        block = "Billing" if billing else "Shipping"
        first.update(
            {
                f"{block} Name": person.name,
                f"{block} City": person.city,
                f"{block} Zip": person.zip,
                f"{block} Province": person.state,
                f"{block} Country": person.country,
            }
        )
        for i, (sku, title, qty, price) in enumerate(items):
            row = first if i == 0 else {"Name": name}
            row.update(
                {
                    "Lineitem quantity": str(qty),
                    "Lineitem name": title,
                    "Lineitem price": price,
                    "Lineitem sku": sku,
                    "Lineitem requires shipping": "true",
                    "Lineitem taxable": "true",
                    "Lineitem fulfillment status": "fulfilled" if source == "pos" else "pending",
                    "Vendor": "Northbound",
                    "Lineitem discount": "0.00",
                }
            )
            rows.append(row)
        return f"{total:.2f}", f"{float(refunded):.2f}"

    jane = Person("jane.doe@example.com", phone="(401) 555-0143", phone_digits="14015550143",
                  first="Jane", last="Doe", city="Providence", state="RI", zip="02903",
                  country="US")  # fmt: skip
    marcus = Person("Marcus.Lee@Example.com", first="Marcus", last="Lee", city="Austin",
                    state="TX", zip="78701", country="US")  # fmt: skip
    ana = Person("ana.ortiz@example.net", phone="401-555-0188", phone_digits="14015550188",
                 first="Ana", last="Ortiz", city="Cranston", state="RI", zip="02920",
                 country="US")  # fmt: skip
    priya = Person("priya.patel@example.org", phone="206-555-0177", phone_digits="12065550177",
                   first="Priya", last="Patel", city="Seattle", state="WA", zip="98101",
                   country="US")  # fmt: skip
    tom = Person("tom.baker@example.com", first="Tom", last="Baker", city="Boston",
                 state="MA", zip="02116", country="US")  # fmt: skip
    walk_in = Person()
    sam = Person("sam.rivera@example.com", phone="+1 617 555 0102", phone_digits="16175550102",
                 first="Sam", last="Rivera", city="Boston", state="MA", zip="02115",
                 country="US")  # fmt: skip
    lee = Person("lee.chen@example.com", first="Lee", last="Chen", city="Newport", state="RI",
                 zip="02840", country="US")  # fmt: skip

    tent = ("TT-200", "Trail Tent 2P", 1, "189.00")
    lamp = ("HL-3", "Headlamp 350lm", 2, "29.99")
    pan = ("CI-12", "Cast Iron Skillet 12in", 1, "44.00")
    tee = ("TS-M-BLK", "Organic Tee (M, Black)", 2, "24.00")
    hoodie = ("HD-L-GRY", "Fleece Hoodie (L, Grey)", 1, "58.00")
    mat = ("YM-6", "Yoga Mat 6mm", 1, "32.00")
    bag = ("SB-15", "Down Sleeping Bag 15F", 1, "229.95")

    def contents(*items: tuple[str, str, int, str]) -> list[tuple[str, int, float]]:
        return [(sku, qty, float(price)) for sku, _, qty, price in items]

    when = at(2026, 11, 2, 14, 3, 11, NY)
    total, _ = order("#1001", "paid", when, [tent, lamp], jane, source="pos")
    expected.append(sale("#1001", when, total, jane, contents=contents(tent, lamp)))
    when = at(2026, 11, 5, 20, 41, 2, NY)
    total, _ = order("#1002", "paid", when, [pan], marcus, shipping="8.00")
    expected.append(sale("#1002", when, total, marcus, contents=contents(pan)))
    order("#1003", "refunded", at(2026, 11, 6, 9, 12, 40, NY), [bag, lamp], ana,
          refunded="278.34")  # fmt: skip
    expected.append(Expected("skipped:not_a_sale"))
    when = at(2026, 11, 8, 16, 20, 0, NY)
    total, refunded = order("#1004", "partially_refunded", when, [tee, hoodie, mat], ana,
                            refunded="25.68", source="pos")  # fmt: skip
    net = f"{float(total) - float(refunded):.2f}"
    expected.append(sale("#1004", when, net, ana, contents=contents(tee, hoodie, mat)))
    order("#1005", "voided", at(2026, 11, 9, 11, 0, 0, NY), [pan], tom)
    expected.append(Expected("skipped:not_a_sale"))
    order("#1006", "pending", at(2026, 11, 10, 13, 30, 0, NY), [mat], tom)
    expected.append(Expected("skipped:not_a_sale"))
    order("#1007", "paid", at(2026, 11, 11, 10, 5, 0, NY), [tent], tom,
          cancelled="2026-11-11 15:42:10 -0500")  # fmt: skip
    expected.append(Expected("skipped:not_a_sale"))
    when = at(2026, 11, 12, 12, 0, 30, NY)
    total, _ = order("#1008", "paid", when, [bag], priya, shipping="12.00", billing=False,
                     phone_column="Shipping Phone")  # fmt: skip
    expected.append(sale("#1008", when, total, priya, contents=contents(bag)))
    order("#1009", "paid", at(2026, 11, 13, 17, 45, 9, NY), [lamp], walk_in, source="pos")
    expected.append(Expected("rejected:no_match_keys"))
    when = at(2026, 10, 15, 11, 20, 0, NY)  # daylight saving time: -0400
    total, _ = order("#1010", "paid", when, [hoodie, tee], sam)
    expected.append(sale("#1010", when, total, sam, contents=contents(hoodie, tee)))
    order("#1011", "paid", at(2026, 9, 1, 10, 0, 0, NY), [pan], sam)
    expected.append(Expected("rejected:too_old"))
    when = at(2026, 11, 18, 9, 15, 0, NY)  # paid by hand: no "Paid at", "Created at" counts
    total, _ = order("#1012", "paid", None, [mat, lamp], lee, created=when,
                     phone_column="Phone")  # fmt: skip
    expected.append(sale("#1012", when, total, lee, contents=contents(mat, lamp)))
    order("#1013", "authorized", at(2026, 11, 19, 8, 30, 0, NY), [tent], jane)
    expected.append(Expected("skipped:not_a_sale"))
    return Sample(
        name="shopify-orders.csv",
        preset="shopify",
        title="Shopify orders export",
        text=table(SHOPIFY_HEADERS, rows),
        rows=len(rows),
        expected=expected,
        about="Orders on one row per line item: paid orders with several items, "
        "a partial refund (sent net of it), refunded, voided, pending, authorized and "
        "cancelled orders (not sales), an order with only a shipping address, a POS "
        "walk-in without any customer detail, an order paid by hand (no `Paid at`), "
        "times in EDT and EST",
    )


# --------------------------------------------------------------------------- Square

SQUARE_CUSTOMERS = [
    # Square Customer ID, first, last, email, phone, city, state, zip, birthday
    ("CUST-8F2K1", "Maya", "Nguyen", "maya.nguyen@example.com", "(415) 555-0121",
     "San Francisco", "CA", "94110", "1988-04-12", "14155550121"),
    ("CUST-3QW9Z", "Daniel", "Brooks", "dan.brooks@example.org", "212-555-0134",
     "New York", "NY", "10001", "", "12125550134"),
    ("CUST-7HD4M", "Olivia", "Martin", "olivia.martin@example.net", "",
     "Chicago", "IL", "60611", "1979-11-30", ""),
    ("CUST-1ZX0P", "Ravi", "Shah", "", "(303) 555-0145",
     "Denver", "CO", "80202", "", "13035550145"),
    ("CUST-5TT8B", "Grace", "Kim", "grace.kim@example.com", "",
     "Phoenix", "AZ", "85004", "", ""),
]  # fmt: skip


def square_customers() -> str:
    rows = []
    for i, (cid, first, last, email, phone, city, state, zip_, birthday, _) in enumerate(
        SQUARE_CUSTOMERS
    ):
        rows.append(
            {
                "Reference ID": f"REF-{100 + i}",
                "First Name": first,
                "Last Name": last,
                "Email Address": email,
                "Phone Number": phone,
                "City": city,
                "State": state,
                "Postal Code": zip_,
                "Birthday": birthday,
                "Square Customer ID": cid,
                "Creation Source": "Third Party",
                "Transaction Count": str(3 + i),
                "Total Spend": f"${120 + 17 * i}.00",
                "Email Subscription Status": "subscribed" if email else "",
            }
        )
    return table(SQUARE_CUSTOMER_HEADERS, rows)


def _customer(cid: str) -> Person:
    for row in SQUARE_CUSTOMERS:
        if row[0] == cid:
            _, first, last, email, phone, city, state, zip_, birthday, digits = row
            return Person(email, phone=phone, phone_digits=digits, first=first, last=last,
                          city=city, state=state, zip=zip_, birthday=birthday)  # fmt: skip
    return Person()


def square() -> Sample:
    """A coffee roaster with cafés in five time zones: Square's Transactions export."""
    rows: list[dict[str, str]] = []
    expected: list[Expected] = []

    def row(
        when: datetime,
        zone: str,
        total: str,
        tid: str,
        customer: str,
        *,
        event: str = "Payment",
        partial: str = "$0.00",
        us_date: bool = False,
        ampm: bool = False,
        location: str = "",
    ) -> None:
        local = when.astimezone(ZoneInfo(RAILS[zone]))
        rows.append(
            {
                "Date": local.strftime("%m/%d/%Y" if us_date else "%Y-%m-%d"),
                "Time": local.strftime("%I:%M:%S %p").lstrip("0")
                if ampm
                else local.strftime("%H:%M:%S"),
                "Time Zone": zone,
                "Gross Sales": total,
                "Discounts": "$0.00",
                "Service Charges": "$0.00",
                "Net Sales": total,
                "Gift Card Sales": "$0.00",
                "Tax": "$0.00",
                "Tip": "$0.00",
                "Partial Refunds": partial,
                "Total Collected": total,
                "Source": "Square Point of Sale",
                "Card": total if event == "Payment" else "",
                "Card Entry Methods": "Contactless",
                "Fees": "$0.00",
                "Net Total": total,
                "Transaction ID": tid,
                "Payment ID": "P" + tid[1:],
                "Card Brand": "Visa",
                "PAN Suffix": "4242",
                "Device Name": "Front Counter",
                "Staff Name": "A. Rivera",
                "Description": "Custom Amount",
                "Event Type": event,
                "Location": location or zone.split(" (")[0],
                "Dining Option": "For Here",
                "Customer ID": customer,
                "Customer Name": "",
                "Transaction Status": "Complete",
                "Channel": "Square Point of Sale",
            }
        )

    def paid(when: datetime, zone: str, total: str, tid: str, cid: str, **kw: Any) -> None:
        row(when, zone, total, tid, cid, **kw)
        amount = total.replace("$", "").replace(",", "")
        expected.append(sale(tid, when, amount, _customer(cid)))

    paid(at(2026, 11, 10, 21, 50, 48, ZoneInfo("America/Los_Angeles")),
         "Pacific Time (US & Canada)", "$24.90", "T-9Q2W1", "CUST-8F2K1",
         location="SF Mission")  # fmt: skip
    paid(at(2026, 11, 12, 14, 30, 0, NY), "Eastern Time (US & Canada)", "$1,240.00",
         "T-4KD82", "CUST-3QW9Z", us_date=True, ampm=True, location="Catering NYC")  # fmt: skip
    row(at(2026, 11, 12, 16, 5, 0, NY), "Eastern Time (US & Canada)", "-$12.50", "T-6MM3P",
        "CUST-3QW9Z", event="Refund")  # fmt: skip
    expected.append(Expected("skipped:not_a_sale"))
    # $45.00 rung up, $5.00 refunded later: Total Collected is already net of it.
    paid(at(2026, 11, 14, 8, 12, 5, ZoneInfo("America/Chicago")),
         "Central Time (US & Canada)", "$40.00", "T-2BX7Q", "CUST-7HD4M",
         partial="-$5.00")  # fmt: skip
    row(at(2026, 11, 15, 9, 0, 0, ZoneInfo("America/Denver")), "Mountain Time (US & Canada)",
        "$6.75", "T-8RT5C", "")  # fmt: skip
    expected.append(Expected("rejected:no_match_keys"))  # a walk-in: no customer
    paid(at(2026, 11, 16, 7, 45, 30, ZoneInfo("America/Denver")),
         "Mountain Time (US & Canada)", "$18.20", "T-5NZ1K", "CUST-1ZX0P",
         ampm=True)  # fmt: skip
    paid(at(2026, 11, 17, 12, 10, 0, ZoneInfo("America/Phoenix")), "Arizona", "$9.85",
         "T-3JH6V", "CUST-5TT8B")  # fmt: skip
    row(at(2026, 11, 18, 10, 20, 0, ZoneInfo("Pacific/Honolulu")), "Hawaii", "$31.40",
        "T-7YU2L", "CUST-0NOPE")  # fmt: skip
    expected.append(Expected("rejected:no_match_keys"))  # not in the customer file
    row(at(2026, 9, 2, 11, 0, 0, NY), "Eastern Time (US & Canada)", "$15.00", "T-1AA1A",
        "CUST-3QW9Z")  # fmt: skip
    expected.append(Expected("rejected:too_old"))
    paid(at(2026, 11, 19, 16, 2, 11, ZoneInfo("Europe/London")), "London", "$52.30",
         "T-6LN0D", "CUST-8F2K1", location="London pop-up")  # fmt: skip
    return Sample(
        name="square-transactions.csv",
        preset="square",
        title="Square Transactions export",
        text=table(SQUARE_HEADERS, rows),
        rows=len(rows),
        expected=expected,
        extra_args=("--customers", "sample_data/square-customers.csv"),
        files={"square-customers.csv": square_customers()},
        about="Transactions in seven time zones (Rails names: Pacific, Eastern, Central, "
        "Mountain Time, Arizona, Hawaii, London), dates as `2026-11-10` and `11/12/2026`, "
        "times as `21:50:48` and `2:30:00 PM`, `$1,240.00`, a partial refund (Total "
        "Collected is net of it), a refund (not a sale), a walk-in and an unknown "
        "customer (no match keys), one sale older than 62 days. Square exports carry no "
        "email or phone: `square-customers.csv` (Customers → Export) gives them",
    )


RAILS = {
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Eastern Time (US & Canada)": "America/New_York",
    "Central Time (US & Canada)": "America/Chicago",
    "Mountain Time (US & Canada)": "America/Denver",
    "Arizona": "America/Phoenix",
    "Hawaii": "Pacific/Honolulu",
    "London": "Europe/London",
}


def square_items() -> Sample:
    """The same roaster's Item Detail export: one row per item, grouped by transaction."""
    rows: list[dict[str, str]] = []
    expected: list[Expected] = []

    def transaction(
        when: datetime,
        zone: str,
        tid: str,
        cid: str,
        items: Sequence[tuple[str, str, str, int, str]],  # category, item, sku, qty, net
        *,
        event: str = "Payment",
    ) -> list[tuple[str, int, float]]:
        local = when.astimezone(ZoneInfo(RAILS[zone]))
        found = []
        for category, item, sku, qty, net in items:
            rows.append(
                {
                    "Date": local.strftime("%Y-%m-%d"),
                    "Time": local.strftime("%H:%M:%S"),
                    "Time Zone": zone,
                    "Category": category,
                    "Item": item,
                    "Qty": str(qty),
                    "Price Point Name": "Regular",
                    "SKU": sku,
                    "Gross Sales": net,
                    "Discounts": "$0.00",
                    "Net Sales": net,
                    "Tax": "$0.00",
                    "Transaction ID": tid,
                    "Payment ID": "P" + tid[1:],
                    "Device Name": "Front Counter",
                    "Event Type": event,
                    "Location": zone.split(" (")[0],
                    "Dining Option": "To Go",
                    "Customer ID": cid,
                    "Itemization Type": "Physical Item",
                    "Channel": "Square Point of Sale",
                    "Card Brand": "Mastercard",
                    "PAN Suffix": "5454",
                }
            )
            unit = abs(float(net.replace("$", "").replace("-", ""))) / qty
            found.append((sku, qty, round(unit, 2)))
        return found

    def total(items: Sequence[tuple[str, str, str, int, str]]) -> str:
        return f"{sum(float(i[4].replace('$', '')) for i in items):.2f}"

    sf = "Pacific Time (US & Canada)"
    first = [("Coffee", "Latte", "LAT-12", 2, "$9.00"), ("Bakery", "Croissant", "CRO-1", 1,
             "$3.75"), ("Retail", "Whole Bean 12oz", "BEAN-12", 1, "$16.00")]  # fmt: skip
    when = at(2026, 11, 11, 8, 5, 12, ZoneInfo("America/Los_Angeles"))
    found = transaction(when, sf, "T-A11", "CUST-8F2K1", first)
    expected.append(sale("T-A11", when, total(first), _customer("CUST-8F2K1"), contents=found))
    second = [("Coffee", "Cold Brew", "CB-16", 1, "$5.25")]
    when = at(2026, 11, 13, 15, 40, 0, NY)
    found = transaction(when, "Eastern Time (US & Canada)", "T-B22", "CUST-3QW9Z", second)
    expected.append(sale("T-B22", when, total(second), _customer("CUST-3QW9Z"), contents=found))
    third = [("Retail", "Pour-over Kit", "POK-1", 1, "$42.00"), ("Retail", "Paper Filters",
             "FLT-100", 3, "$13.50")]  # fmt: skip
    when = at(2026, 11, 16, 11, 11, 11, ZoneInfo("America/Chicago"))
    found = transaction(when, "Central Time (US & Canada)", "T-C33", "CUST-7HD4M", third)
    expected.append(sale("T-C33", when, total(third), _customer("CUST-7HD4M"), contents=found))
    # The latte of T-A11 refunded two days later: its own rows, Event Type Refund.
    transaction(at(2026, 11, 13, 9, 0, 0, ZoneInfo("America/Los_Angeles")), sf, "T-A11",
                "CUST-8F2K1", [("Coffee", "Latte", "LAT-12", 1, "-$4.50")],
                event="Refund")  # fmt: skip
    expected.append(Expected("skipped:not_a_sale"))
    fourth = [("Coffee", "Espresso", "ESP-2", 2, "$6.00")]
    transaction(at(2026, 11, 17, 7, 30, 0, ZoneInfo("America/Denver")),
                "Mountain Time (US & Canada)", "T-D44", "", fourth)  # fmt: skip
    expected.append(Expected("rejected:no_match_keys"))
    return Sample(
        name="square-item-detail.csv",
        preset="square",
        title="Square Item Detail export",
        text=table(SQUARE_ITEM_HEADERS, rows),
        rows=len(rows),
        expected=expected,
        extra_args=("--customers", "sample_data/square-customers.csv"),
        about="Transactions on one row per item (grouped by Transaction ID; the "
        "value is the sum of Net Sales, the unit price Gross Sales / Qty), a later refund "
        "of one item (not a sale), a walk-in without a customer",
    )


# --------------------------------------------------------------------------- Stripe


def stripe() -> Sample:
    """A studio selling classes and gear, paid through Stripe."""
    rows: list[dict[str, str]] = []
    expected: list[Expected] = []

    def payment(
        pid: str,
        when: datetime,
        amount: str,
        person: Person,
        *,
        refunded: str = "0.00",
        currency: str = "usd",
        status: str = "Paid",
        captured: str = "true",
        mode: str = "Live",
    ) -> None:
        rows.append(
            {
                "id": pid,
                "Description": "Class pack" if float(amount) < 100 else "Gear order",
                "Seller Message": "Payment complete.",
                "Created (UTC)": when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "Amount": amount,
                "Amount Refunded": refunded,
                "Currency": currency,
                "Converted Amount": amount,
                "Converted Amount Refunded": refunded,
                "Fee": f"{float(amount) * 0.029 + 0.30:.2f}",
                "Tax": "0.00",
                "Converted Currency": currency,
                "Mode": mode,
                "Status": status,
                "Statement Descriptor": "ZENFIT STUDIO",
                "Customer ID": f"cus_{pid[3:11]}",
                "Customer Email": person.email,
                "Captured": captured,
                "Card ID": f"card_{pid[3:13]}",
                "Card Last4": "4242",
                "Card Brand": "Visa",
                "Card Funding": "credit",
                "Card Exp Month": "4",
                "Card Exp Year": "2029",
                "Card Name": person.name,
                "Card Address City": person.city,
                "Card Address State": person.state,
                "Card Address Country": person.country,
                "Card Address Zip": person.zip,
                "Card Issue Country": person.country or "US",
                "Card CVC Status": "pass",
                "Payment Source Type": "card",
            }
        )

    kim = Person("kim.lopez@example.com", first="Kim", last="Lopez", city="Portland",
                 state="OR", zip="97205", country="US")  # fmt: skip
    noah = Person("noah.wright@example.org", first="Noah", last="Wright", city="Denver",
                  state="CO", zip="80202", country="US")  # fmt: skip
    lena = Person("lena.fischer@example.de", first="Lena", last="Fischer", city="Berlin",
                  state="BE", zip="10115", country="DE")  # fmt: skip
    card_only = Person(first="Omar", last="Haddad", city="Austin", state="TX", zip="78701",
                       country="US")  # fmt: skip
    nobody = Person()

    def paid(pid: str, when: datetime, amount: str, person: Person, **kw: Any) -> None:
        payment(pid, when, amount, person, **kw)
        net = f"{float(amount) - float(kw.get('refunded', '0')):.2f}"
        currency = kw.get("currency", "usd").upper()
        expected.append(sale(pid, when, net, person, currency=currency))

    paid("ch_3QkA1b2C3d4E5f6G", at(2026, 11, 14, 18, 22, 5, UTC), "120.00", kim)
    paid("ch_3QkB7h8I9j0K1l2M", at(2026, 11, 15, 9, 3, 44, UTC), "80.00", noah,
         refunded="20.00")  # fmt: skip
    payment("ch_3QkC3n4O5p6Q7r8S", at(2026, 11, 15, 12, 0, 0, UTC), "45.00", kim,
            refunded="45.00", status="Refunded")  # fmt: skip
    expected.append(Expected("skipped:not_a_sale"))
    payment("ch_3QkD9t0U1v2W3x4Y", at(2026, 11, 16, 7, 30, 0, UTC), "60.00", noah,
            status="Failed")  # fmt: skip
    expected.append(Expected("skipped:not_a_sale"))
    payment("ch_3QkE5z6A7b8C9d0E", at(2026, 11, 16, 8, 0, 0, UTC), "200.00", kim,
            status="succeeded", captured="false")  # fmt: skip
    expected.append(Expected("skipped:not_a_sale"))
    payment("ch_3QkF1f2G3h4I5j6K", at(2026, 11, 17, 10, 0, 0, UTC), "10.00", noah,
            mode="Test")  # fmt: skip
    expected.append(Expected("skipped:not_a_sale"))
    paid("ch_3QkG7l8M9n0O1p2Q", at(2026, 11, 17, 19, 45, 0, UTC), "49.90", lena,
         currency="eur")  # fmt: skip
    paid("ch_3QkH3r4S5t6U7v8W", at(2026, 11, 18, 13, 13, 13, UTC), "35.00", card_only)
    payment("ch_3QkI9x0Y1z2A3b4C", at(2026, 11, 19, 6, 0, 0, UTC), "15.00", nobody)
    expected.append(Expected("rejected:no_match_keys"))
    return Sample(
        name="stripe-payments.csv",
        preset="stripe",
        title="Stripe payments export",
        text=table(STRIPE_HEADERS, rows),
        rows=len(rows),
        expected=expected,
        about="Payments: paid (USD, EUR), a partial refund (sent net of it), refunded, "
        "failed, uncaptured and test-mode payments (not sales), one with only the card "
        "holder's name and address, one without any customer detail",
    )


# --------------------------------------------------------------------------- Meta's files


def gateway() -> Sample:
    """Meta's Conversions API Gateway upload file, as a store fills it in by hand."""
    rows: list[dict[str, str]] = []
    expected: list[Expected] = []

    def row(
        dataset: str,
        name: str,
        when: datetime,
        action: str,
        value: str,
        person: Person,
        *,
        order_id: str = "",
        content_ids: str = "",
        store: str = "",
    ) -> None:
        rows.append(
            {
                "DATA_SET_ID": dataset,
                "EVENT_NAME": name,
                "EVENT_TIME": when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "ACTION_SOURCE": action,
                "VALUE": value,
                "CURRENCY": "USD" if value else "",
                "CONTENT_IDS": content_ids,
                "ORDER_ID": order_id,
                "EMAIL": person.email,
                "PHONE": person.phone,
                "FIRST_NAME": person.first,
                "LAST_NAME": person.last,
                "DOB": person.birthday,
                "COUNTRY": person.country,
                "STATE": person.state,
                "CITY": person.city,
                "ZIP": person.zip,
                "EXTERNAL_ID": person.external_id,
                "LEAD_ID": person.lead_id,
                "custom_data.store": store,
            }
        )

    ann = Person("ann.wells@example.com", phone="(312) 555-0166", phone_digits="13125550166",
                 first="Ann", last="Wells", city="Chicago", state="IL", zip="60611",
                 country="US", birthday="19850214")  # fmt: skip
    raj = Person("raj.iyer@example.org", first="Raj", last="Iyer", country="US",
                 external_id="crm-4471")  # fmt: skip
    caller = Person(phone="512-555-0109", phone_digits="15125550109", first="Beth",
                    last="Ames", lead_id="120034567890123")  # fmt: skip
    old_caller = Person(phone="512-555-0110", phone_digits="15125550110", lead_id="120034567890124")

    when = NOW - timedelta(days=5, hours=3, minutes=30)
    row(ORDERS_DATASET, "Purchase", when, "physical_store", "89.90", ann, order_id="G-1001",
        content_ids="MUG-1|TEE-M", store="Chicago")  # fmt: skip
    event = sale("G-1001", when, "89.90", ann)
    event.events[0]["contents"] = [["MUG-1", 1, None], ["TEE-M", 1, None]]
    expected.append(event)
    when = NOW - timedelta(days=12)
    row(ORDERS_DATASET, "purchase", when, "physical_store", "240.00", raj, order_id="G-1002")
    expected.append(sale("G-1002", when, "240.00", raj))  # case-corrected: Purchase
    when = NOW - timedelta(days=2, hours=1)
    row("", "Purchase", when, "", "15.50", ann, order_id="G-1003")  # no DATA_SET_ID, no source
    expected.append(sale("G-1003", when, "15.50", ann, dataset=NATIVE_DATASET))
    when = NOW - timedelta(days=3)
    row(ORDERS_DATASET, "Lead", when, "phone_call", "", caller, order_id="CALL-88")
    expected.append(sale("CALL-88", when, "", caller, event_name="Lead",
                         action_source="phone_call", currency="USD"))  # fmt: skip
    row(ORDERS_DATASET, "Lead", NOW - timedelta(days=10), "phone_call", "", old_caller,
        order_id="CALL-61")  # fmt: skip
    expected.append(Expected("rejected:too_old"))  # phone calls: 7 days, not 62
    row(ORDERS_DATASET, "Purchase", NOW - timedelta(days=4), "in_store", "30.00", raj,
        order_id="G-1004")  # fmt: skip
    expected.append(Expected("rejected:invalid_action_source"))
    row(ORDERS_DATASET, "Purchase", NOW - timedelta(days=4), "physical_store", "", ann,
        order_id="G-1005")  # fmt: skip
    expected.append(Expected("rejected:purchase_without_value"))
    when = NOW - timedelta(days=1, hours=6)
    row(ORDERS_DATASET, "Schedule", when, "website", "", raj, order_id="APPT-7")
    expected.append(sale("APPT-7", when, "", raj, event_name="Schedule",
                         action_source="website"))  # fmt: skip
    return Sample(
        name="meta-gateway.csv",
        preset="meta-gateway",
        title="Meta Conversions API Gateway upload file",
        text=table(GATEWAY_HEADERS, rows),
        rows=len(rows),
        expected=expected,
        about="Meta events: Purchases (one named `purchase`, one without a DATA_SET_ID "
        "and so sent to `[destination] dataset`), phone-call Leads (one 10 days old: too "
        "old for a phone call), a Schedule from the website, an unknown action source, "
        "a Purchase without a value",
    )


def offline() -> Sample:
    """Meta's legacy offline event set template, filled in by a store."""
    rows: list[dict[str, str]] = []
    expected: list[Expected] = []
    emails_at = [i for i, h in enumerate(OFFLINE_HEADERS) if h == "email"]
    phones_at = [i for i, h in enumerate(OFFLINE_HEADERS) if h == "phone"]

    def row(name: str, when: str, value: str, person: Person, order_id: str, **more: str) -> None:
        cells = {
            "madid": more.get("madid", ""),
            "fn": person.first,
            "ln": person.last,
            "zip": person.zip,
            "ct": person.city,
            "st": person.state,
            "country": person.country,
            "dob": person.birthday,
            "doby": person.birthday[:4],
            "gen": person.gender,
            "age": more.get("age", ""),
            "event_name": name,
            "event_time": when,
            "value": value,
            "currency": "USD" if value else "",
            "store_id": "store-7",
            "order_id": order_id,
        }
        for at_, email in zip(emails_at, (person.email, *person.emails), strict=False):
            cells[f"email#{at_}"] = email
        phones = [person.phone] if person.phone else []
        for at_, phone in zip(phones_at, phones, strict=False):
            cells[f"phone#{at_}"] = phone
        rows.append(cells)

    eve = Person("eve.stone@example.com", emails=("e.stone@work.example.com",),
                 phone="+1 401 555 0191", phone_digits="14015550191", first="Eve",
                 last="Stone", city="Warwick", state="RI", zip="02886", country="US",
                 birthday="1990-07-04", gender="F")  # fmt: skip
    hal = Person("hal.ng@example.net", first="Hal", last="Ng", zip="10001", country="US")
    ivy = Person(phone="(617) 555-0150", phone_digits="16175550150", first="Ivy", last="Roe")
    when = NOW - timedelta(days=6, hours=2)
    row("Purchase", when.strftime("%Y-%m-%dT%H:%M:%SZ"), "64.00", eve, "OFF-1")
    expected.append(sale("OFF-1", when, "64.00", eve, dataset=NATIVE_DATASET))
    when = NOW - timedelta(days=20)
    row("purchase", str(int(when.timestamp())), "18.25", hal, "OFF-2")  # Unix time
    expected.append(sale("OFF-2", when, "18.25", hal, dataset=NATIVE_DATASET))
    when = NOW - timedelta(days=1)
    row("Lead", when.strftime("%Y-%m-%dT%H:%M:%SZ"), "", ivy, "OFF-3")
    expected.append(sale("OFF-3", when, "", ivy, event_name="Lead", dataset=NATIVE_DATASET))
    row("Purchase", (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"), "9.99",
        Person(), "OFF-4", madid="38400000-8cf0-11bd-b23e-10b96e40000d", age="34")  # fmt: skip
    expected.append(Expected("rejected:no_match_keys"))  # madid and age are not sent
    return Sample(
        name="meta-offline.csv",
        preset="meta-offline",
        title="Meta offline event set upload template",
        text=table(OFFLINE_HEADERS, rows),
        rows=len(rows),
        expected=expected,
        about="Meta events routed to `[destination] dataset`: a Purchase with two "
        "emails (the template repeats its `email` header), one named `purchase` with a "
        "Unix time, a Lead, and a row whose only keys are `madid` and `age`, which are "
        "read but not sent",
    )


def samples() -> list[Sample]:
    return [shopify(), square(), square_items(), stripe(), gateway(), offline()]
