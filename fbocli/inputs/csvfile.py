"""CSV exports -> :class:`Record` objects: each row becomes a Segment ``track`` message.

Headers are mapped to message paths by ``[csv.columns]`` first, then by their common names
(cli.md); cells stay strings (the mapper parses them), empty cells are absent.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from fbocli.inputs.record import Record, clip
from fbocli.settings import CsvSettings

CSV_DELIMITERS = ",;\t|"
_CSV_FIELD_LIMIT = 2**31 - 1  # a huge cell is a value for the mapper to judge, not a crash


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


@dataclass
class CsvReport:
    """How a CSV header was mapped, so ``validate`` can show what is (never) sent."""

    source: str
    columns: list[tuple[str, str]]  # (message path, CSV header used), in header order
    ignored: list[str]  # headers not used; they are never sent
    delimiter: str
    missing: list[str] = field(default_factory=list)  # [csv.columns] headers not in the file


def normalize_header(header: str) -> str:
    """The key headers are recognised by: lowercase ASCII letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


def sniff_delimiter(sample: str) -> str:
    """The delimiter ``csv.Sniffer`` sees among ``, ; tab |``; ``,`` when it cannot tell."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _readable(text: str) -> str:
    """Undo ``surrogateescape``: invalid bytes become U+FFFD, so the text can be printed."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """Which header columns feed which message path (preference order per path)."""

    fields: tuple[tuple[str, tuple[int, ...]], ...]
    columns: list[tuple[str, str]]  # (path, header) in header order
    ignored: list[str]
    missing: list[str]


def plan_columns(
    headers: Sequence[str], explicit: Sequence[tuple[str, Sequence[str]]]
) -> ColumnPlan:
    """Explicit ``[csv.columns]`` first (headers matched ignoring case and outer spaces),
    then auto-detection of unclaimed headers; a path is fed by its first detected header."""
    keys = [h.strip().casefold() for h in headers]
    fields: dict[str, list[int]] = {}
    used: list[tuple[int, str]] = []
    missing: list[str] = []
    for path, names in explicit:
        feeds = fields.setdefault(path, [])
        for name in names:
            key = name.strip().casefold()
            index = keys.index(key) if key in keys else None
            if index is None:
                missing.append(name)
            elif index not in feeds:
                feeds.append(index)
                used.append((index, path))
    claimed = {index for index, _ in used}
    for index, header in enumerate(headers):
        auto = AUTO_COLUMNS.get(normalize_header(header))
        if index in claimed or auto is None or auto in fields:
            continue
        fields[auto] = [index]
        used.append((index, auto))
        claimed.add(index)
    used.sort(key=lambda pair: pair[0])
    return ColumnPlan(
        fields=tuple((path, tuple(feeds)) for path, feeds in fields.items() if feeds),
        columns=[(path, headers[index]) for index, path in used],
        ignored=[h for index, h in enumerate(headers) if index not in claimed],
        missing=missing,
    )


def _set_path(message: dict[str, object], path: str, value: str) -> None:
    """Set a dotted path; a segment may contain spaces. Never replaces an object."""
    *parents, last = path.split(".")
    node = message
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return
        node = child
    if not isinstance(node.get(last), dict):
        node[last] = value


def row_message(row: Sequence[str], plan: ColumnPlan, event: str) -> dict[str, object]:
    """A Segment track built from a CSV row; empty cells are absent, values stay strings."""
    message: dict[str, object] = {"type": "track"}
    if not any(path == "event" for path, _ in plan.fields):
        message["event"] = event
    for path, feeds in plan.fields:
        cells = (row[i].strip() for i in feeds if i < len(row))
        value = next((cell for cell in cells if cell), None)
        if value is not None:
            _set_path(message, path, value)
    return message


class CsvTable:
    """Turns CSV lines into records; the first non-empty row is the header."""

    def __init__(self, source: str, delimiter: str, settings: CsvSettings) -> None:
        self.source = source
        self.delimiter = delimiter
        self.settings = settings
        self.report: CsvReport | None = None

    def records(self, lines: Iterable[str]) -> Iterator[Record]:
        if csv.field_size_limit() < _CSV_FIELD_LIMIT:
            csv.field_size_limit(_CSV_FIELD_LIMIT)
        plan: ColumnPlan | None = None
        headers: list[str] = []
        for line, row in _rows(lines, self.delimiter):
            if isinstance(row, csv.Error):
                yield self._invalid(line, f"unreadable CSV row: {row}", None)
            elif plan is None:
                headers = [_readable(cell).strip() for cell in row]
                plan = plan_columns(headers, self.settings.columns)
                self.report = CsvReport(
                    self.source, plan.columns, plan.ignored, self.delimiter, plan.missing
                )
            else:
                yield self._row(line, row, plan, headers)

    def _row(self, line: int, row: list[str], plan: ColumnPlan, headers: list[str]) -> Record:
        for index, cell in enumerate(row):
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                column = headers[index] if index < len(headers) else f"#{index + 1}"
                raw = clip(_readable(self.delimiter.join(row)))
                return self._invalid(line, f"invalid UTF-8 in column {column!r}", raw)
        message = row_message(row, plan, self.settings.event)
        return Record(self.source, line, message, dayfirst=self.settings.dayfirst)

    def _invalid(self, line: int, detail: str, raw: str | None) -> Record:
        return Record(self.source, line, None, "invalid_row", detail, raw, self.settings.dayfirst)


def _rows(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """Non-empty rows (or the error reading one) with the physical line each starts on."""
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if reader.line_num + 1 == start:
                return  # nothing consumed: do not loop forever
            yield start, exc
            continue
        if row:
            yield start, row
