"""CSV exports -> :class:`Record` objects: each order (a row, or consecutive rows of one
order) becomes a Segment ``track`` message.

The header row decides how the file is read (:class:`CsvTable`): the preset
(:mod:`fbocli.inputs.presets`), the column plan (:mod:`fbocli.inputs.columns`), the
order key, the filter and the customer file; all of it is checked when the file is
opened, before anything is sent. Then each order is filtered, built, finished by its
preset (not a sale, time, value), given its customer's details, and handed out as one
record. Cells stay strings for the mapping to judge; an empty cell is absent.
"""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fbocli.errors import InputError, UsageError
from fbocli.inputs.cells import decimal_comma, in_zone, sniff_delimiter, with_format
from fbocli.inputs.columns import (
    AMOUNT_PATHS,
    GROUPS,
    ITEM_PATHS,
    ColumnPlan,
    header_key,
    normalize_header,
    plan_columns,
)
from fbocli.inputs.csvrows import Bad, Lines, rows
from fbocli.inputs.customers import Customers
from fbocli.inputs.presets import SALE, Choice, Order, Preset, choose
from fbocli.inputs.record import Record, Wording, clip, set_path
from fbocli.settings import CsvSettings

__all__ = ["CsvReport", "CsvTable", "normalize_header", "sniff_delimiter"]

_CSV_FIELD_LIMIT = 2**31 - 1  # a huge cell is a value for the mapper to judge, not a crash
MAX_ORDER_ROWS = 10_000  # rows of one order; more means the order key is not one
_VALUE_PATHS = GROUPS[0]


@dataclass
class CsvReport:
    """How a CSV file was read, for ``validate`` and the summary: what is (never) sent."""

    source: str
    columns: list[tuple[str, str]]  # (message path, CSV header used), in header order
    ignored: list[str]  # headers not used; they are never sent
    delimiter: str
    missing: list[str] = field(default_factory=list)  # [csv.columns] headers not in the file
    preset: str = ""  # the preset's name, "" for none
    title: str = ""  # what the file is ("Shopify orders export")
    why: str = ""  # why this preset ("its header has ...", "preset = shopify")
    encoding: str = "utf-8"
    read: list[tuple[str, str]] = field(default_factory=list)  # (header, what the preset
    # reads it for)
    group_by: tuple[str, ...] = ()  # the order key's headers
    lines: int = 0  # physical lines read, the header's included (a quoted cell may span some)
    rows: int = 0  # data rows read
    orders: int = 0  # records handed out (an order, or an unreadable row)
    grouped: int = 0  # rows joined to the order of the row before them
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)  # (reason, cause)
    customers: str = ""  # the customer file joined, if any
    customer_key: str = ""  # the header holding the customer key
    joined: int = 0  # orders whose customer was found in the customer file
    not_joined: int = 0  # orders with a customer key the customer file does not have
    keyed: int = 0  # orders with a customer key, when no customer file is given

    def to_dict(self) -> dict[str, Any]:
        """This file's part of the run summary (``csv`` in ``--json``)."""
        out: dict[str, Any] = {
            "source": self.source,
            "preset": self.preset or None,
            "why": self.why,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "lines": self.lines,
            "rows": self.rows,
            "orders": self.orders,
            "grouped_rows": self.grouped,
            "skipped": [
                {"reason": reason, "cause": cause, "orders": n}
                for (reason, cause), n in self.skipped.most_common()
            ],
            "ignored": list(self.ignored),
        }
        if self.customers:
            out["customers"] = {
                "file": self.customers,
                "joined": self.joined,
                "not_found": self.not_joined,
            }
        elif self.customer_key:
            out["customer_key_without_file"] = self.keyed
        return out


class CsvTable:
    """Reads one CSV file: :meth:`open` takes the header row, :meth:`records` the rest."""

    def __init__(
        self,
        source: str,
        delimiter: str,
        settings: CsvSettings,
        *,
        datasets: Sequence[str] = (),
        customers: Customers | None = None,
        encoding: str = "utf-8",
    ) -> None:
        self.source = source
        self.delimiter = delimiter
        self.settings = settings
        self.report: CsvReport | None = None
        self.notes: list[str] = []  # what to tell the user (stderr, the report)
        self._datasets = tuple(datasets)
        self._customers = customers
        self._encoding = encoding
        self._rows: Iterator[tuple[int, list[str] | Bad]] = iter(())
        self._lines: Lines | None = None
        self.headers: list[str] = []
        self._fallback_line = 0  # the first row read as cp1252 after a UTF-8 start

    # ------------------------------------------------------------------ the header row

    def open(self, lines: Lines) -> None:
        """Read up to the header row and decide how the file is read; UsageError (exit 2)
        when the settings cannot apply to it, InputError when the header row cannot be
        read."""
        if csv.field_size_limit() < _CSV_FIELD_LIMIT:
            csv.field_size_limit(_CSV_FIELD_LIMIT)
        self._lines = lines
        self._rows = rows(lines, self.delimiter, lambda: self.headers)
        for line, row in self._rows:
            if isinstance(row, Bad):
                if row.cells is None:
                    raise InputError(f"{self.source}: the header row cannot be read: {row.detail}")
                # A stray quote in the header: its line alone is the header.
                self.notes.append(
                    f"{self.source}: line {line}: in the header row, {row.detail}: the header "
                    "is that line alone"
                )
                row = row.cells
            self._start([_readable(cell).strip() for cell in row])
            return

    def _start(self, headers: list[str]) -> None:
        s = self.settings
        self.headers = headers
        keys = [header_key(h) for h in headers]
        self._index = {key: i for i, key in reversed(list(enumerate(keys)))}
        choice: Choice = choose(headers, s.preset)
        preset = self.preset = choice.preset
        plan = self.plan = plan_columns(headers, s.columns, preset.defaults if preset else None)
        problems: list[str] = []
        group = (s.group_by,) if s.group_by else (preset.group if preset else ())
        for header in (*group, *(h for h, _ in s.filter)):
            if header_key(header) not in self._index:
                what = "group_by" if header in group else "[csv.filter]"
                problems.append(f"{what} names {header!r}, which is not a header of the file")
        self._group = [self._index[header_key(h)] for h in group if header_key(h) in self._index]
        self._itemized = bool(self._group) and any(plan.feeds(path) for path in ITEM_PATHS)
        self._filters = [
            (header, {value.casefold() for value in values}, values) for header, values in s.filter
        ]
        key_header = s.customers_key or (preset.customer_key if preset else "")
        self._key = self._index.get(header_key(key_header)) if key_header else None
        if self._customers is not None:
            if not key_header:
                problems.append(
                    "a customer file is given, but nothing says which column of the sales "
                    "file holds the customer key: set [csv] customers_key"
                )
            elif self._key is None:
                problems.append(f"customers_key names {key_header!r}, which is not a header")
        has_dataset = bool(
            preset and preset.dataset_header and header_key(preset.dataset_header) in self._index
        )
        if preset is not None and preset.native and not self._datasets and not has_dataset:
            problems.append(
                "its rows are Meta events but name no dataset (no DATA_SET_ID column): "
                "set dataset under [destination] in the config, or pass --dataset ID"
            )
        if problems:
            raise UsageError(f"{self.source}: " + "; ".join(problems))
        self._event_column = bool(plan.feeds("event"))
        explicit = {path for path, _ in s.columns}
        hint = self._customers is None and self._key is not None
        self.words = _wording(plan, preset, explicit, hint, bool(group))
        self.report = CsvReport(
            self.source,
            plan.columns,
            plan.ignored,
            self.delimiter,
            plan.missing,
            preset=preset.name if preset else "",
            title=choice.title,
            why=choice.why,
            encoding=self._encoding,
            read=plan.read,
            group_by=tuple(group),
            customers=self._customers.source if self._customers else "",
            customer_key=key_header if self._key is not None else "",
        )
        if preset is not None:
            self.notes.append(f"{self.source}: read as a {choice.title} (preset {preset.name}: "
                              f"{choice.why})")  # fmt: skip
        for header in plan.missing:
            self.notes.append(
                f"{self.source}: [csv.columns] names {header!r}, which is not a header of the file"
            )

    # ------------------------------------------------------------------ the rows

    def records(self) -> Iterator[Record]:
        """Every record after the header row, in order of their first lines: an order (one
        row, or the consecutive rows of one order), or a row that cannot be read (held
        until the order being gathered when it came is complete)."""
        if self.report is None:
            return
        report = self.report
        order: list[list[str]] = []
        lines: list[int] = []
        held: list[Record] = []  # unreadable rows met while an order was gathered
        current: tuple[str, ...] | None = None
        group = self._group
        for line, row in self._rows:
            report.rows += 1
            bad = self._unreadable(line, row) if isinstance(row, Bad) else self._decode(line, row)
            if bad is not None:
                report.orders += 1
                held.append(bad)
                if not order:
                    yield from held
                    held.clear()
                continue
            assert not isinstance(row, Bad)
            key = tuple(row[i].strip() if i < len(row) else "" for i in group)
            if order and key == current and key and key[0]:
                if len(order) < MAX_ORDER_ROWS:
                    order.append(row)
                    lines.append(line)
                    report.grouped += 1
                    continue
                report.orders += 1
                held.append(
                    self._invalid(
                        line,
                        f"more than {MAX_ORDER_ROWS} rows of one order ({key[0]!r}): is "
                        f"{', '.join(report.group_by)} the order key?",
                        clip(self.delimiter.join(row)),
                    )
                )
                continue
            if order:
                report.orders += 1
                yield self._order(Order(order, lines, self._index))
                yield from held
                held.clear()
            order, lines, current = [row], [line], key
        if order:
            report.orders += 1
            yield self._order(Order(order, lines, self._index))
        yield from held
        if self._lines is not None:
            report.lines = self._lines.lines_read

    def _unreadable(self, line: int, row: Bad) -> Record:
        detail = row.detail
        if row.cells is not None:  # a quote never closed: the lines it took are read again
            detail += f": the row is not read, and reading goes on at line {line + 1}"
        raw = _readable(row.raw) if row.raw else None
        return Record(self.source, line, None, row.reason, detail, raw, self.settings.dayfirst)

    def _decode(self, line: int, row: list[str]) -> Record | None:
        """A row whose bytes are not in the file's encoding: read as cp1252 when the
        encoding was not set (the row is then fixed in place), else invalid_row."""
        for index, cell in enumerate(row):
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                pass
            else:
                continue
            if not self.settings.encoding and self._encoding == "utf-8":
                fixed = [_cp1252(c) for c in row]
                if all(_valid(c) for c in fixed):
                    row[:] = fixed
                    if not self._fallback_line:
                        self._fallback_line = line
                        self.notes.append(
                            f"{self.source}: line {line} is not UTF-8: read as cp1252 "
                            "(Excel's “CSV” on Windows), with every such row; set [csv] "
                            "encoding if the file is in another encoding"
                        )
                    return None
            column = self.headers[index] if index < len(self.headers) else f"#{index + 1}"
            raw = clip(_readable(self.delimiter.join(row)))
            encoding = self.settings.encoding or self._encoding
            return self._invalid(line, f"not valid {encoding} in column {column!r}", raw)
        return None

    def _order(self, order: Order) -> Record:
        s = self.settings
        report = self.report
        assert report is not None
        line = order.lines[0]
        for header, wanted, shown in self._filters:
            value = order.cell(header)
            if value.casefold() not in wanted:
                cause = f"{header} is {value!r}" if value else f"{header} is empty"
                report.skipped["filtered", cause] += 1
                detail = f"{cause}, not {' or '.join(map(repr, shown))}{_rows_of(order)}"
                return Record(self.source, line, None, skip="filtered", detail=detail)
        message = self._message(order)
        preset = self.preset
        verdict = preset.finish(order, message, s) if preset is not None else SALE
        if verdict.skip:
            report.skipped[verdict.skip, verdict.detail.partition(": ")[2]] += 1
            detail = f"{verdict.detail}{_rows_of(order)}"
            return Record(self.source, line, None, skip=verdict.skip, detail=detail)
        if verdict.reject:
            return Record(self.source, line, message, verdict.reject, verdict.detail)
        if (preset is None or not preset.own_time) and (s.date_format or s.tz is not None):
            problem = self._time(message)
            if problem:
                return Record(self.source, line, message, "invalid_timestamp", problem)
        words = self.words
        if self._key is not None:
            key_header = self.headers[self._key]
            key = order.cell(key_header)
            if key and self._customers is not None:
                if self._customers.join(message, key):
                    report.joined += 1
                else:
                    report.not_joined += 1
                    where = self._customers.source
                    why = f"{words.no_keys}: its {key_header} {key!r} is not in {where}"
                    words = dataclasses.replace(words, no_keys=why)
            elif key:
                report.keyed += 1
            elif self._customers is not None:
                why = f"{words.no_keys}, and no {key_header} to look up in the customer file"
                words = dataclasses.replace(words, no_keys=why)
        return Record(
            self.source,
            line,
            message,
            dayfirst=s.dayfirst,
            native=verdict.native,
            words=words,
        )

    def _message(self, order: Order) -> dict[str, Any]:
        """The Segment track an order becomes: the order's fields from the first non-empty
        cell (in the plan's preference order), its line items as ``products``."""
        plan = self.plan
        comma = self.settings.decimal == ","
        message: dict[str, Any] = {"type": "track"}
        if not self._event_column:
            message["event"] = self.settings.event
        rows = order.rows
        for path, feeds in plan.fields:
            if self._itemized and path in ITEM_PATHS:
                continue
            value: Any
            if path in plan.multi:
                found = [c for i in feeds for row in rows if (c := _cell(row, i))]
                value = found if len(found) > 1 else found[0] if found else None
            elif path in plan.joined:  # the first row that has any of them: its cells, joined
                parts = ([c for i in feeds if (c := _cell(row, i))] for row in rows)
                value = next((" ".join(found) for found in parts if found), None)
            else:
                value = next((c for i in feeds for row in rows if (c := _cell(row, i))), None)
            if value is None:
                continue
            if comma and path in AMOUNT_PATHS:
                value = decimal_comma(value)
            set_path(message, path, value)
        if self._itemized:
            products = []
            for row in rows:
                item: dict[str, Any] = {}
                for path, name in ITEM_PATHS.items():
                    cell = next((c for i in plan.feeds(path) if (c := _cell(row, i))), None)
                    if cell is not None:
                        item[name] = decimal_comma(cell) if comma and name != "product_id" else cell
                products.append(item)
            set_path(message, "properties.products", products)
        return message

    def _time(self, message: dict[str, Any]) -> str:
        """Apply ``date_format`` / ``[csv] timezone`` to the message's time; the problem,
        or "" (a time neither can read is left for the mapping to reject)."""
        s = self.settings
        text = message.get("timestamp")
        if not isinstance(text, str):
            return ""
        if s.date_format:
            found = with_format(text, s.date_format, s.tz)
            if found is None:
                label = self.words.label("timestamp")
                return f"{label} {text!r} does not match date_format {s.date_format!r}"
            message["timestamp"] = found
        elif s.tz is not None:
            message["timestamp"] = in_zone(text, s.tz, s.dayfirst) or text
        return ""

    def _invalid(self, line: int, detail: str, raw: str | None) -> Record:
        return Record(self.source, line, None, "invalid_row", detail, raw, self.settings.dayfirst)


# --------------------------------------------------------------------------- wording


def _wording(
    plan: ColumnPlan, preset: Preset | None, explicit: set[str], customer_hint: bool, orders: bool
) -> Wording:
    """How this file names its fields, for the details of rejects: a CSV user reads
    headers, not Segment paths."""
    named: dict[str, list[str]] = {}
    for path, header in plan.columns:
        named.setdefault(path, []).append(header)
    labels = {path: _label(headers, path in plan.joined) for path, headers in named.items()}
    if preset is not None:
        if preset.time_label and "timestamp" not in explicit:
            labels["timestamp"] = preset.time_label
        if preset.dataset_header:
            labels["dataset"] = f"`{preset.dataset_header}`"
            labels["action_source"] = "`ACTION_SOURCE`"
            labels.setdefault("event", "`EVENT_NAME`")
        elif preset.native:
            labels.setdefault("event", "`event_name`")
    if "timestamp" in labels:
        no_time = f"no time: {labels['timestamp']} is empty"
    else:
        like = preset.time_label if preset is not None and preset.time_label else "`Date`"
        no_time = (
            f"no time: expected a column like {like}; map one with "
            '`timestamp = "..."` under [csv.columns] or --column timestamp=HEADER'
        )
    values = [labels[path] for path in sorted(_VALUE_PATHS) if path in labels]
    if values:
        no_value = f"no value: {' and '.join(values)} {'is' if len(values) == 1 else 'are'} empty"
    else:
        like = preset.value_label if preset is not None and preset.value_label else "`Total`"
        no_value = (
            f"no value: expected a column like {like}; map one with "
            '`value = "..."` under [csv.columns] or --column value=HEADER'
        )
    no_keys = "no email, phone, name, address, customer ID or lead ID in this " + (
        "order" if orders else "row"
    )
    if customer_hint:
        no_keys += "; a customer file (--customers FILE) would add the customer's"
    if "event" in labels:
        no_event = f"no event name: {labels['event']} is empty"
    else:
        no_event = "no event name"
    return Wording(labels, no_time, no_value, no_keys, no_event)


def _label(headers: Sequence[str], joined: bool) -> str:
    """How a field's headers are named in a detail: "`Date` + `Time`" (joined),
    "`Paid at` (else `Created at`)" (the first non-empty)."""
    quoted = [f"`{header}`" for header in headers]
    if joined:
        return " + ".join(quoted)
    first, *rest = quoted
    return f"{first} (else {', '.join(rest)})" if rest else first


# --------------------------------------------------------------------------- helpers


def _rows_of(order: Order) -> str:
    """`` (lines 4-6)`` for an order of several rows ("" for one: its line is given)."""
    return f" ({order.where})" if len(order.lines) > 1 else ""


def _cell(row: Sequence[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _readable(text: str) -> str:
    """Undo ``surrogateescape``: invalid bytes become U+FFFD, so the text can be printed."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _cp1252(text: str) -> str:
    """A cell read as UTF-8 (invalid bytes kept as surrogates), read again as cp1252."""
    return text.encode("utf-8", "surrogateescape").decode("cp1252", "surrogateescape")


def _valid(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
