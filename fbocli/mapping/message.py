"""One Segment message -> its outcome, exactly per ``spec/mapping.md`` sections 1-7.

:func:`map_message` is pure: the same message, settings and ``now`` always give the same
outcome, which is what makes re-runs deduplicate and the golden tests exact. Each event
an outcome carries is already encoded to the JSON Meta receives (``Event.wire``): the
rest of the pipeline never sees an event in any other form.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from fbocli import wire
from fbocli.errors import Rejected
from fbocli.inputs.record import Native, Wording
from fbocli.mapping.custom import CONTACT_NOTE, custom_data, id_text
from fbocli.mapping.matchkeys import (
    ABSENT,
    INTEGRATION,
    NO_NOTES,
    Note,
    obj,
    user_data,
    why_no_keys,
)
from fbocli.mapping.normalize import norm_currency, parse_amount
from fbocli.mapping.payload import EventBuilder, Ldu, event_builder
from fbocli.mapping.timeparse import parse_event_time
from fbocli.quality import REPEAT, event_facts
from fbocli.settings import (
    ACTION_SOURCES,
    OTHER_SOURCE_MAX_DAYS,
    PHYSICAL_STORE,
    Route,
    Settings,
    is_dataset_id,
)

Status = Literal["accepted", "rejected", "skipped"]
# The most one event may weigh as sent (an ordinary one is under 2 KB, an order with a
# hundred contents ~20 KB): a bigger one is a property that holds a file, not a fact.
MAX_EVENT_BYTES = 64 * 1024


class Event(tuple[str, str, str, int, bytes, str, int, int]):
    """One outgoing event for one dataset, encoded once: ``wire`` is its JSON as sent.

    ``Event((dataset_id, event_name, event_id, event_time, wire, source, line, facts))``:
    ``source`` and ``line`` say where it was read, for the rejects file should Meta refuse
    it; ``facts`` are its data-quality facts (:mod:`fbocli.quality`: which match keys, a
    value above 0, an order), which the journal keeps. Everything the batcher, the journal
    and the sinks need is here. A plain tuple underneath: built and pickled (to and from a
    mapping worker) without a Python call.
    """

    __slots__ = ()

    # Fields read by C-level getters: the main process reads a few per event.
    if TYPE_CHECKING:
        dataset_id: str
        event_name: str
        event_id: str
        event_time: int
        wire: bytes
        source: str
        line: int
        facts: int
    else:
        dataset_id = property(itemgetter(0))
        event_name = property(itemgetter(1))
        event_id = property(itemgetter(2))
        event_time = property(itemgetter(3))
        wire = property(itemgetter(4))
        source = property(itemgetter(5))
        line = property(itemgetter(6))
        facts = property(itemgetter(7))

    def to_dict(self) -> dict[str, Any]:
        """The event as Meta receives it (``data[i]`` of the request body)."""
        value: dict[str, Any] = json.loads(self[4])
        return value

    def __repr__(self) -> str:
        return f"Event({self[0]!r}, {self[1]!r}, {self[2]!r}, {self[3]!r}, ...)"


@dataclass(slots=True)
class Outcome:
    """What became of one record: accepted with its events, rejected or skipped (why)."""

    status: Status
    reason: str = ""
    detail: str = ""
    events: list[Event] = field(default_factory=list)
    segment_event: str = ""
    routes: tuple[Route, ...] = ()  # accepted: (dataset, Meta event name) of each event
    keys: tuple[str, ...] = ()  # accepted: the match keys found
    event_time: int = 0  # accepted
    notes: tuple[Note, ...] = NO_NOTES  # values the match keys could not use (matchkeys.Note)
    facts: int = 0  # accepted: its events' facts (fbocli.quality)
    order_id: str | None = None  # accepted: custom_data.order_id

    def continue_order(self) -> None:
        """Mark an accepted record whose order is the one of the record before it: one
        order sent as several events (basket splitting), a fact its events keep."""
        self.facts |= REPEAT
        self.events = continuing(self.events)


def continuing(events: list[Event]) -> list[Event]:
    """The events of a record that continues the order of the record before it."""
    return [Event((*e[:7], e[7] | REPEAT)) for e in events]


@dataclass(frozen=True, slots=True)
class MapContext:
    """What mapping needs besides the message: settings and the window, computed once."""

    settings: Settings
    now: int
    oldest: int = field(init=False)  # of an event of the default action source
    newest: int = field(init=False)
    offline: bool = field(init=False)
    this_year: int = field(init=False)  # the latest birth year: the year of now (UTC)
    action_source: str = field(init=False)  # [destination] action_source
    # action source -> (its oldest accepted event time, its window in days)
    windows: Mapping[str, tuple[int, int]] = field(init=False, repr=False, compare=False)
    # Segment event name -> its routes, for every name the settings list.
    routes: Mapping[str, tuple[Route, ...]] = field(init=False, repr=False, compare=False)
    build: EventBuilder = field(init=False, repr=False, compare=False)  # the API's dialect

    def __post_init__(self) -> None:
        s = self.settings
        names = {*s.events, *s.lead_events, *s.registration_events}
        days = {source: window(s.upload.window_days, source) for source in ACTION_SOURCES}
        windows = {source: (self.now - n * 86400, n) for source, n in days.items()}
        derived = {
            "oldest": windows[s.destination.action_source][0],
            "newest": self.now + 60,
            "offline": s.destination.api == "offline",
            "this_year": datetime.fromtimestamp(self.now, UTC).year,
            "action_source": s.destination.action_source,
            "windows": windows,
            "routes": {name: s.routes(name) for name in names},
            "build": event_builder(s.destination.api),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple[Any, ...]:
        # (the derived fields are rebuilt in a worker)
        return (MapContext, (self.settings, self.now))


def window(window_days: int, action_source: str) -> int:
    """The days Meta accepts an event of ``action_source`` (inputs.md section 4):
    ``window_days`` for physical_store, at most 7 for every other source."""
    if action_source == PHYSICAL_STORE:
        return window_days
    return min(window_days, OTHER_SOURCE_MAX_DAYS)


_SEGMENT_PATHS = Wording()


def map_message(
    msg: object,
    ctx: MapContext,
    source: str = "-",
    line: int = 0,
    dayfirst: bool = False,
    words: Wording | None = None,
    native: Native | None = None,
) -> Outcome:
    """Classify one parsed message and build its events; never raises on any input.

    ``source`` and ``line`` say where it was read; ``dayfirst``: how a CSV's dates read;
    ``words``: how a CSV file names its fields, for the details of rejects; ``native``:
    the routing of a Meta-native row, which bypasses the Segment maps.
    """
    if not isinstance(msg, dict):
        return Outcome("rejected", "not_an_object", f"a JSON {_json_kind(msg)}, not an object")
    words = words or _SEGMENT_PATHS
    routes: tuple[Route, ...] = ()
    if native is not None:
        event = native.event_name
        if not event:
            return Outcome("rejected", "missing_event", words.no_event or "no event name")
    else:
        kind = msg.get("type")
        if not (kind == "track" or (kind is None and "event" in msg)):
            what = f"type {kind!r}" if kind is not None else "no type and no event"
            return Outcome("skipped", "unsupported_type", what)
        named = msg.get("event")
        if not isinstance(named, str) or not named.strip():
            detail = words.no_event or f"{words.label('event')} is {_show(named)}"
            return Outcome("rejected", "missing_event", detail)
        event = named
        routes = ctx.routes.get(event, ())
        if not routes:
            detail = f"{event!r} is not mapped"
            return Outcome("skipped", "unmapped_event", detail, segment_event=event)
    try:
        rules, action_source = event, ctx.action_source
        if native is not None:
            routes, action_source = _native_routes(native, ctx, words)
            # Value and currency as for Order Completed when the event is a Purchase.
            rules = "Order Completed" if event == "Purchase" else event
        return _accept(msg, rules, routes, ctx, source, line, dayfirst, words, action_source)
    except Rejected as rejected:
        return Outcome("rejected", rejected.reason, rejected.detail, segment_event=event)
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        # Defensive: a pathological value that slipped past a rule is a reject, not a crash.
        return Outcome("rejected", "invalid_value", f"unusable value: {exc}", segment_event=event)


def _native_routes(
    native: Native, ctx: MapContext, words: Wording
) -> tuple[tuple[Route, ...], str]:
    """A Meta-native row's routes and action source (inputs.md section 2): its event name
    as given, its dataset and action source; every other rule is an ordinary event's."""
    action_source = native.action_source or ctx.action_source
    if action_source not in ctx.windows:
        raise Rejected(
            "invalid_action_source",
            f"{words.label('action_source')} {_show(action_source)} is not one of "
            + ", ".join(ACTION_SOURCES),
        )
    datasets = native.datasets or ctx.settings.destination.dataset
    if not datasets:
        raise Rejected(
            "invalid_dataset",
            f"{words.label('dataset')} is empty, and neither [destination] dataset nor "
            "--dataset names one",
        )
    for dataset_id in datasets:
        if not is_dataset_id(dataset_id):
            raise Rejected(
                "invalid_dataset",
                f"{words.label('dataset')} {_show(dataset_id)} is not a dataset ID (digits)",
            )
    routes = tuple((dataset_id, native.event_name) for dataset_id in dict.fromkeys(datasets))
    return routes, action_source


def _accept(
    msg: dict[str, Any],
    event: str,
    routes: tuple[Route, ...],
    ctx: MapContext,
    source: str,
    line: int,
    dayfirst: bool,
    words: Wording,
    action_source: str,
) -> Outcome:
    # The order of the steps is the order of the checks: the first failing rule names
    # the reject.
    settings = ctx.settings.mapping
    event_time = _event_time(msg, dayfirst, ctx, words, action_source)
    properties = obj(msg.get("properties"))
    value, value_key = _value(event, properties, ctx, words)
    currency = _currency(properties.get("currency"), settings.default_currency, words)
    ldu = _ldu(msg) if settings.limited_data_use else None
    user, notes = user_data(
        msg, properties, settings, this_year=ctx.this_year, offline=ctx.offline, dayfirst=dayfirst
    )
    if not user or (ctx.offline and not user.keys() - {"db"}):
        # (The legacy API cannot use a pre-hashed birthday: it takes doby/dobm/dobd.)
        detail = why_no_keys(msg, properties, ctx.this_year, words.no_keys)
        return Outcome("rejected", "no_match_keys", detail, segment_event=event, notes=notes)
    custom, dropped = custom_data(event, properties, value, value_key, currency)
    if dropped:  # contact data in properties, not sent: said in the report
        notes = (*notes, *((CONTACT_NOTE, path) for path in dropped))
    event_id = _event_id(msg, properties)
    keys = tuple(user)
    order_id = custom.get("order_id")
    facts = event_facts(keys, value, order_id)
    events = []
    for dataset_id, name in routes:
        built = ctx.build(name, event_time, event_id, user, custom, ldu, action_source)
        encoded = wire.dumps(built)
        if len(encoded) > MAX_EVENT_BYTES:
            detail = _too_large(len(encoded), custom)
            return Outcome("rejected", "too_large", detail, segment_event=event, notes=notes)
        events.append(Event((dataset_id, name, event_id, event_time, encoded, source, line, facts)))
    return Outcome(
        "accepted", "", "", events, event, routes, keys, event_time, notes, facts, order_id
    )


def _too_large(size: int, custom: Mapping[str, Any]) -> str:
    """Why an event is too large, naming its largest property (only then measured)."""
    largest = max(custom, key=lambda key: len(wire.dumps(custom[key])), default=None)
    where = (
        f": property {largest!r} is the largest ({len(wire.dumps(custom[largest])):,} bytes)"
        if largest is not None
        else ""
    )
    return (
        f"the event is {size:,} bytes as sent, more than the {MAX_EVENT_BYTES:,} fbocli "
        f"sends for one event{where}; shorten that property or leave it out"
    )


# --- event_time and the window (section 3) -------------------------------------------


def _event_time(
    msg: dict[str, Any], dayfirst: bool, ctx: MapContext, words: Wording, action_source: str
) -> int:
    source = "timestamp"
    raw = msg.get("timestamp")
    if raw in ABSENT:
        source, raw = "originalTimestamp", msg.get("originalTimestamp")
        if raw in ABSENT:
            detail = words.no_time or "no timestamp or originalTimestamp"
            raise Rejected("missing_timestamp", detail)
    seconds = parse_event_time(raw, ctx.settings.mapping.tz, dayfirst)
    if seconds is None:
        raise Rejected("invalid_timestamp", f"{words.label(source)} {_show(raw)} is not a date")
    oldest = ctx.oldest if action_source == ctx.action_source else ctx.windows[action_source][0]
    if seconds < oldest:
        days = (ctx.now - seconds) / 86400
        limit = ctx.windows[action_source][1]
        raise Rejected(
            "too_old",
            f"{words.label(source)} {_show(raw)} is {days:.1f} days before now; Meta accepts "
            f"{limit}"
            + ("" if action_source == PHYSICAL_STORE else f" for action_source {action_source}"),
        )
    if seconds > ctx.newest:
        after = seconds - ctx.now
        raise Rejected("in_future", f"{words.label(source)} {_show(raw)} is {after} s after now")
    return seconds


# --- value and currency (section 5) --------------------------------------------------


def _value(
    event: str, properties: dict[str, Any], ctx: MapContext, words: Wording
) -> tuple[Any, str | None]:
    if event == "Order Completed":
        for key in ("revenue", "total", "value"):
            raw = properties.get(key)
            if raw not in ABSENT:
                break
        else:
            raise Rejected(
                "purchase_without_value",
                words.no_value or "Order Completed has no revenue, total or value",
            )
    else:
        key = ctx.settings.mapping.value_field
        raw = properties.get(key)
        if raw in ABSENT:
            return None, None
    amount = parse_amount(raw)
    if amount is None or amount < 0:
        name = words.label(f"properties.{key}")
        why = "is not a number" if amount is None else "is negative"
        raise Rejected("invalid_value", f"{name} {_show(raw)} {why}")
    return amount, key


def _currency(raw: object, default: str, words: Wording) -> str:
    """``properties.currency`` when present (a known ISO 4217 code, else the reject)."""
    if raw in ABSENT:
        return default
    code = norm_currency(raw) if isinstance(raw, str) else None
    if code is None:
        name = words.label("properties.currency")
        raise Rejected("invalid_currency", f"{name} {_show(raw)} is not ISO 4217")
    return code


# --- Limited Data Use (section 7) ----------------------------------------------------


def _ldu(msg: dict[str, Any]) -> Ldu:
    options = obj(obj(msg.get("integrations")).get(INTEGRATION)).get("dataProcessingOptions")
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


# --- event_id (section 6) ------------------------------------------------------------


def _event_id(msg: dict[str, Any], properties: dict[str, Any]) -> str:
    """``messageId``, else ``properties.order_id`` (an order re-exported with a cosmetic
    edit is the same event), else a stable hash of the content (mapping.md section 6)."""
    message_id = msg.get("messageId")
    if isinstance(message_id, (str, int)) and not isinstance(message_id, bool):
        text = str(message_id).strip()
        if text:
            return text
    order_id = id_text(properties.get("order_id"))  # as custom_data.order_id has it
    if order_id:
        return order_id
    # Neither: a stable hash of the content, so re-uploading the row deduplicates.
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
