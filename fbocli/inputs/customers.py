"""The customer-file join (inputs.md section 1, square): a sales export without email or
phone (Square's) takes them from the store's customer list.

``--customers FILE`` (``[csv] customers``) names a customer export (Square: Customers →
Export). Its headers are recognised by name like any CSV's (``Email Address``, ``Phone
Number``, ``First Name``, ``Last Name``, ``City``, ``State``, ``Postal Code``,
``Birthday``...); its key column is ``[csv] customers_key_column``, else the first of
``Square Customer ID``, ``Customer ID``, ``id``. A sales row's key is in the preset's
customer column (Square: ``Customer ID``) or ``[csv] customers_key``. The file is read
whole, once per run: memory grows with the customer list, not with the sales.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fbocli.errors import InputError
from fbocli.inputs.cells import sniff_delimiter
from fbocli.inputs.columns import header_key, plan_columns
from fbocli.inputs.csvrows import Bad, Lines, rows
from fbocli.inputs.record import not_text
from fbocli.settings import MAX_RECORD_BYTES, CsvSettings

KEY_HEADERS = ("Square Customer ID", "Customer ID", "id")
_TRAITS = "context.traits."
PERSON_PATHS = (
    _TRAITS + "email",
    _TRAITS + "phone",
    _TRAITS + "firstName",
    _TRAITS + "lastName",
    _TRAITS + "name",
    _TRAITS + "gender",
    _TRAITS + "birthday",
    _TRAITS + "address.city",
    _TRAITS + "address.state",
    _TRAITS + "address.postalCode",
    _TRAITS + "address.country",
)


@dataclass
class Customers:
    """A customer file, by key: each customer's person fields (in PERSON_PATHS order)."""

    source: str
    key_header: str
    paths: tuple[str, ...]  # the PERSON_PATHS the file has, in that order
    people: dict[str, tuple[str, ...]] = field(default_factory=dict)
    columns: list[tuple[str, str]] = field(default_factory=list)  # (path, header) used
    notes: list[str] = field(default_factory=list)

    def join(self, message: dict[str, Any], key: str) -> bool:
        """Fill the message's absent person fields from the customer ``key``; whether the
        key was found."""
        found = self.people.get(key.strip())
        if found is None:
            return False
        traits = message.setdefault("context", {}).setdefault("traits", {})
        if not isinstance(traits, dict):
            return True
        for path, value in zip(self.paths, found, strict=True):
            if not value:
                continue
            *parents, last = path.removeprefix(_TRAITS).split(".")
            node = traits
            for part in parents:
                node = node.setdefault(part, {})
            node.setdefault(last, value)  # the sales row's own value wins
        return True


def load_customers(
    path: str, settings: CsvSettings, max_record_bytes: int = MAX_RECORD_BYTES
) -> Customers:
    """Read a customer file whole (InputError, exit 2, when it cannot be used). Its rows
    are read strictly like any CSV's (:mod:`fbocli.inputs.csvrows`): a row that cannot
    be read is left out, with a note."""
    try:
        data = _read(path, max_record_bytes)
        if path.lower().endswith(".gz"):
            data = gzip.decompress(data)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (the customer file)") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read the customer file: {exc}") from None
    notes: list[str] = []
    text = _decode(data, path, settings.encoding, notes)
    delimiter = settings.delimiter or sniff_delimiter(text[:65536])
    unread: list[str] = []  # the rows that cannot be read: what was wrong, by line
    found: list[str] = []  # the header row, once read

    def readable() -> Iterator[list[str]]:
        lines = Lines(path, text, lambda size: "", max_record_bytes)
        for line, row in rows(lines, delimiter, lambda: found):
            if isinstance(row, Bad):
                unread.append(f"line {line}: {row.detail}")
                if not found and row.cells is not None:
                    yield row.cells  # a stray quote in the header: its line alone is read
            else:
                yield row

    cells = readable()
    headers = next((row for row in cells if any(cell.strip() for cell in row)), None)
    if headers is None:
        raise InputError(f"{path}: the customer file is empty")
    headers = found[:] = [h.strip() for h in headers]
    keys = [header_key(h) for h in headers]
    wanted = (settings.customers_key_column,) if settings.customers_key_column else KEY_HEADERS
    key_index = next((keys.index(header_key(h)) for h in wanted if header_key(h) in keys), None)
    if key_index is None:
        raise InputError(
            f"{path}: the customer file has no key column ({', '.join(wanted)})",
            hint="name it with [csv] customers_key_column",
        )
    others = [h if i != key_index else "" for i, h in enumerate(headers)]
    plan = plan_columns(others, ())
    paths = tuple(p for p in PERSON_PATHS if plan.feeds(p))
    feeds = [plan.feeds(p)[0] for p in paths]
    customers = Customers(path, headers[key_index], paths, notes=notes)
    customers.columns = [(p, h) for p, h in plan.columns if p in paths]
    unreadable = 0
    for row in cells:
        if key_index >= len(row) or not (key := row[key_index].strip()):
            continue
        values = tuple(row[i].strip() if i < len(row) else "" for i in feeds)
        if any("\udc80" <= ch <= "\udcff" for value in values for ch in value):
            unreadable += 1
            continue
        customers.people.setdefault(key, values)
    if unreadable:
        notes.append(f"{path}: {unreadable} customer rows are not in {settings.encoding}; left out")
    if unread:
        more = f" (and {len(unread) - 1} other rows that cannot be read)" if len(unread) > 1 else ""
        notes.append(f"{path}: {unread[0]}; left out{more}")
    return customers


def _read(path: str, max_record_bytes: int) -> bytes:
    """The file's bytes; one that grows past the record limit while holding NUL bytes
    (``/dev/zero``) is not text, and is not read any further."""
    parts: list[bytes] = []
    total = 0
    with open(path, "rb") as file:
        while data := file.read(1 << 20):
            parts.append(data)
            total += len(data)
            if total > max_record_bytes and b"\0" in data:
                raise not_text(path, 1 + sum(p.count(b"\n") for p in parts), max_record_bytes)
    return b"".join(parts)


def _decode(data: bytes, path: str, encoding: str, notes: list[str]) -> str:
    if encoding:
        codec = "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
        return data.decode(codec, "surrogateescape")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        notes.append(
            f"{path}: not UTF-8, read as cp1252 (Excel's “CSV” on Windows); set [csv] "
            "encoding if it is another"
        )
        return data.decode("cp1252", "replace")
