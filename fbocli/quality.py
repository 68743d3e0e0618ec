"""What Meta scores in offline data, the thresholds it publishes, and fbocli's own figures.

Meta's Dataset Quality API (beta) scores offline events on upload frequency, freshness,
match-key coverage, purchase values and basket splitting (meta-api.md "Dataset
quality"). fbocli computes its own figures for the same factors from a :class:`Tally`:
counted by mapping for ``validate`` (the file at hand, lag measured to *now*) or read
from the journal for ``fbocli quality`` (what was sent, lag measured to the upload).
One set of rules (:func:`checks`) judges both.

Each event carries its facts as one small int (``Event.facts``, the journal's ``facts``
column): which match keys it has, whether its value is above 0, whether it has an
``order_id``, and whether that order continues the record before it (basket splitting).
Facts say *which* keys an event had, never their values: no personal data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

HOUR = 3600
DAY = 86400

# --- Meta's published thresholds ------------------------------------------------------

OMNICHANNEL_COMPOSITE = 8.5  # the composite score omnichannel ads require
FREQUENCY_DAYS = 14  # upload frequency is judged over the last 14 days ...
FREQUENCY_WANTED = 12  # ... and omnichannel wants uploads on 12 of them
STALE_AFTER = 3 * DAY  # an event uploaded more than 3 days after it happened is stale
WINDOW_DAYS = 28  # fbocli's window for freshness, coverage, values and orders

# --- per-event facts ------------------------------------------------------------------

KEY_BITS = {
    "em": 1 << 0,
    "ph": 1 << 1,
    "fn": 1 << 2,
    "ln": 1 << 3,
    "ct": 1 << 4,
    "st": 1 << 5,
    "zp": 1 << 6,
    "country": 1 << 7,
    "db": 1 << 8,
    "ge": 1 << 9,
    "external_id": 1 << 10,
    "lead_id": 1 << 11,
}
_ALIASES = {"doby": "db", "dobm": "db", "dobd": "db"}  # the legacy API's birthday keys
VALUED = 1 << 12  # the event's value is above 0
ORDERED = 1 << 13  # the event has an order_id
REPEAT = 1 << 14  # ... the same as the record before it: one order sent as several events
EMAIL_OR_PHONE = KEY_BITS["em"] | KEY_BITS["ph"]
PURCHASE = "Purchase"

_KEY_FACTS: dict[tuple[str, ...], int] = {}  # the few hundred key sets of a run, once each


def key_facts(keys: tuple[str, ...]) -> int:
    """The facts bits of a set of match keys (``user_data``'s keys)."""
    found = _KEY_FACTS.get(keys)
    if found is None:
        if len(_KEY_FACTS) > 10_000:
            _KEY_FACTS.clear()
        found = _KEY_FACTS[keys] = sum(
            {KEY_BITS[_ALIASES.get(k, k)] for k in keys if _ALIASES.get(k, k) in KEY_BITS}
        )
    return found


def event_facts(keys: tuple[str, ...], value: float | None, order_id: object) -> int:
    """One event's facts: its keys, a value above 0, an ``order_id``."""
    facts = key_facts(keys)
    if value is not None and value > 0:
        facts |= VALUED
    if order_id is not None:
        facts |= ORDERED
    return facts


_HAS_KEYS: dict[int, tuple[str, ...]] = {}


def has_keys(facts: int) -> tuple[str, ...]:
    """The match keys whose bits are set."""
    found = _HAS_KEYS.get(facts)
    if found is None:
        found = _HAS_KEYS[facts] = tuple(key for key, bit in KEY_BITS.items() if facts & bit)
    return found


STALE_HOURS = STALE_AFTER // HOUR


def lag_bucket(hours: int) -> int:
    """Lags are counted per whole hour up to 3 days, then per whole day (its first hour):
    a few hundred buckets at most, exact where freshness is judged."""
    if hours < STALE_HOURS:
        return max(0, hours)
    return hours - (hours - STALE_HOURS) % 24


# --- the counts behind the figures ------------------------------------------------------


@dataclass
class Tally:
    """Counts of events, for one run (``validate``) or one dataset's journal window."""

    events: int = 0
    keys: Counter[str] = field(default_factory=Counter)  # events carrying each match key
    email_or_phone: int = 0
    purchases: int = 0
    purchases_valued: int = 0  # value above 0
    purchases_ordered: int = 0  # with an order_id
    order_repeats: int = 0  # ... that continue the order of the record before
    stale: int = 0  # lag above STALE_AFTER
    lag_hours: Counter[int] = field(default_factory=Counter)  # events per lag_bucket
    upload_days: tuple[date, ...] | None = None  # days with uploads (journal only)
    without_facts: int = 0  # events journaled by an fbocli that kept no facts

    def add(self, facts: int, events: int, purchases: int) -> None:
        """Count ``events`` events with these facts, ``purchases`` of them Purchases."""
        self.events += events
        for key in has_keys(facts):
            self.keys[key] += events
        if facts & EMAIL_OR_PHONE:
            self.email_or_phone += events
        if purchases:
            self.purchases += purchases
            if facts & VALUED:
                self.purchases_valued += purchases
            if facts & ORDERED:
                self.purchases_ordered += purchases
            if facts & REPEAT:
                self.order_repeats += purchases

    def add_lag(self, lag_seconds: int, events: int) -> None:
        """Count the lag of ``events`` events (event time to upload, or to now)."""
        lag = max(0, lag_seconds)
        self.lag_hours[lag_bucket(lag // HOUR)] += events
        if lag > STALE_AFTER:
            self.stale += events

    @property
    def orders(self) -> int:
        """Distinct orders among the Purchases with an order_id."""
        return self.purchases_ordered - self.order_repeats

    def median_lag_hours(self) -> int | None:
        """The middle event's lag, in whole hours up to 3 days, in whole days beyond
        (None without events)."""
        total = sum(self.lag_hours.values())
        if not total:
            return None
        middle = (total + 1) // 2
        seen = 0
        for hours in sorted(self.lag_hours):
            seen += self.lag_hours[hours]
            if seen >= middle:
                return hours
        raise AssertionError("unreachable")  # pragma: no cover


# --- judging the figures ----------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One factor Meta scores: fbocli's figure, Meta's target, and what to do."""

    factor: str
    value: str
    target: str
    ok: bool | None  # None: nothing to judge (no events of that kind)
    advice: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "value": self.value,
            "target": self.target,
            "ok": self.ok,
            "advice": self.advice,
        }


def share(n: int, total: int) -> float | None:
    return n / total if total else None


def pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "–"


def days_text(hours: int) -> str:
    """``36`` -> ``1.5 days``; under a day in hours."""
    return f"{hours} h" if hours < 24 else f"{hours / 24:.1f} days"


def checks(tally: Tally, *, lag_to: str) -> list[Check]:
    """The factors Meta scores, judged against its thresholds. ``lag_to``: what the lag
    is measured to (``upload`` for the journal, ``now`` for a file not yet sent)."""
    found: list[Check] = []
    if tally.upload_days is not None:
        days = len(tally.upload_days)
        found.append(
            Check(
                "upload frequency",
                f"{days} of the last {FREQUENCY_DAYS} days",
                f"{FREQUENCY_WANTED} of {FREQUENCY_DAYS} (omnichannel)",
                days >= FREQUENCY_WANTED,
                "upload every day: a daily cron job (docs/uploading.md)",
            )
        )
    median = tally.median_lag_hours()
    found.append(
        Check(
            f"median event-to-{lag_to} lag",
            days_text(median) if median is not None else "–",
            "3 days or less",
            None if median is None else median * HOUR <= STALE_AFTER,
            "upload within 3 days of the sale: export and upload every night",
        )
    )
    counted = sum(tally.lag_hours.values())
    found.append(
        Check(
            "events older than 3 days " + ("now" if lag_to == "now" else f"at {lag_to}"),
            f"{tally.stale} of {counted} ({pct(tally.stale, counted)})",
            "none (stale: older than 3 days)",
            None if not counted else tally.stale == 0,
            "stale events lower the freshness score: upload them sooner",
        )
    )
    found.append(
        Check(
            "Purchases with a value above 0",
            f"{tally.purchases_valued} of {tally.purchases} "
            f"({pct(tally.purchases_valued, tally.purchases)})",
            "every Purchase",
            None if not tally.purchases else tally.purchases_valued == tally.purchases,
            "send each sale's amount (revenue, total or value) on every Purchase",
        )
    )
    neither = tally.events - tally.email_or_phone
    found.append(
        Check(
            "match keys: email, phone",
            f"email {pct(tally.keys['em'], tally.events)}, phone "
            f"{pct(tally.keys['ph'], tally.events)}; neither on {neither} of {tally.events}",
            "email or phone on every event",
            None if not tally.events else neither == 0,
            "add more keys per record: email and phone above all, then name, city, zip",
        )
    )
    per_order = tally.purchases_ordered / tally.orders if tally.orders else None
    found.append(
        Check(
            "events per order",
            f"{per_order:.2f} ({tally.purchases_ordered} Purchases, {tally.orders} orders)"
            if per_order is not None
            else "– (no Purchase has an order_id)",
            "1 (one event per order)",
            None if per_order is None else tally.order_repeats == 0,
            "send one Purchase per order, its items in contents, not one per line item",
        )
    )
    return found


def to_dict(tally: Tally, *, lag_to: str) -> dict[str, Any]:
    """The figures for ``--json``: the counts, and each check."""
    median = tally.median_lag_hours()
    counted = sum(tally.lag_hours.values())
    out: dict[str, Any] = {"events": tally.events}
    if tally.upload_days is not None:
        out["upload_days"] = {
            "days": len(tally.upload_days),
            "of": FREQUENCY_DAYS,
            "wanted": FREQUENCY_WANTED,
            "dates": [day.isoformat() for day in tally.upload_days],
        }
    out["lag"] = {
        "to": lag_to,
        "median_hours": median,
        "stale": tally.stale,
        "stale_share": share(tally.stale, counted),
        "stale_after_days": STALE_AFTER // DAY,
    }
    out["purchases"] = {
        "total": tally.purchases,
        "value_above_0": tally.purchases_valued,
        "share": share(tally.purchases_valued, tally.purchases),
    }
    out["coverage"] = {key: tally.keys[key] for key in KEY_BITS}
    out["email_or_phone"] = tally.email_or_phone
    out["orders"] = {
        "purchases_with_order_id": tally.purchases_ordered,
        "orders": tally.orders,
        "events_per_order": tally.purchases_ordered / tally.orders if tally.orders else None,
    }
    if tally.without_facts:
        out["events_without_facts"] = tally.without_facts
    out["checks"] = [check.to_dict() for check in checks(tally, lag_to=lag_to)]
    return out


def score_band(score: float) -> str:
    """Meta's bands: 8-10 high, 4-7 medium, 0-3 low (between two bands: the lower)."""
    if score >= 8:
        return "high"
    if score >= 4:
        return "medium"
    return "low"


def upload_days(days: Iterable[date]) -> tuple[date, ...]:
    return tuple(sorted(set(days)))
