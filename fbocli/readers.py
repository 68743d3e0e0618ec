"""Streaming input: JSON lines and CSV (plain, gzip or stdin) become :class:`Record` objects.

Memory stays flat whatever the input size: both formats are read line by line and
gzip is decompressed on the fly. The one exception is a ``.json`` file (or stdin)
whose first non-blank character is ``[``: a pretty-printed JSON array export is
necessarily loaded whole before its elements are yielded.

The reader never rejects a *message*; it only reports what it could not parse
(``invalid_json``, ``invalid_row``). Deciding ``not_an_object`` and the rest is
the mapper's job.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import math
import os
import re
import stat
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, BinaryIO, Literal, NamedTuple

import orjson

from fbocli.errors import InputError
from fbocli.settings import CsvSettings

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

Format = Literal["jsonl", "csv"]

RAW_LIMIT = 10_000  # characters of an unparseable line kept for the rejects file
SNIFF_SIZE = 64 * 1024  # bytes/characters looked at to guess a format or a delimiter
CSV_DELIMITERS = ",;\t|"
_CSV_FIELD_LIMIT = 2**31 - 1  # a huge cell is a value for the mapper to judge, not a crash
_MAX_INT_DIGITS = 4000  # below Python's int/str conversion limit, so we word the error
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r\n\x0b\x0c"
_JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
_JSON_WS = re.compile(r"[ \t\r\n]*")


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


@dataclass(slots=True)
class Record:
    """One Segment message as read, or what the reader could not parse."""

    source: str  # the path as the user gave it ("-" for stdin)
    line: int  # 1-based line (JSONL) or physical line where the CSV row starts
    message: object  # parsed JSON value (any type) / dict built from a CSV row
    error: str | None = None  # "invalid_json" | "invalid_row": a reject decided here
    detail: str = ""
    raw: str | None = None  # the text when it could not be parsed (clipped)
    dayfirst: bool = False  # CSV [csv] dayfirst: how ambiguous dates are read


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


def format_from_name(path: str) -> Format | None:
    """The format a file name implies (``.gz`` ignored), or None when it says nothing."""
    name = path.lower().removesuffix(".gz")
    if name.endswith(_JSON_SUFFIXES):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    return None


def open_input(
    path: str,
    fmt: Literal["auto", "jsonl", "csv"],
    csv_settings: CsvSettings,
    stdin: BinaryIO | None = None,
) -> InputReader:
    """Open one input (``-`` is stdin); raise :class:`InputError` when it cannot be read."""
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
        return InputReader(path, fmt, csv_settings, read, None, None)
    by_name = format_from_name(path)
    file = _open_file(path)
    try:
        if fmt == "auto" and by_name is None:
            raise InputError(
                f"{path}: cannot tell the input format from the file name",
                hint="name it .jsonl/.json/.ndjson/.csv (optionally .gz) or pass --format",
            )
        total = os.fstat(file.fileno()).st_size
        return InputReader(path, fmt, csv_settings, file.read, file, total)
    except BaseException:
        file.close()
        raise


def _open_file(path: str) -> io.FileIO:
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not an input file")
    try:
        return io.FileIO(path, "r")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied (cannot read the file)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None


class _ByteSource(io.RawIOBase):
    """A raw stream over ``read``: serves peeked bytes first and counts bytes pulled."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        super().__init__()
        self._read = read
        self._head = b""
        self.pulled = 0

    def readable(self) -> bool:
        return True

    def fill(self, enough: Callable[[bytes], bool], limit: int) -> bytes:
        """Pull until ``enough(head)``, EOF or ``limit`` bytes; nothing is consumed."""
        while len(self._head) < limit and not enough(self._head):
            chunk = self._read(limit - len(self._head))
            if not chunk:
                break
            self.pulled += len(chunk)
            self._head += chunk
        return self._head

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if not self._head:
            self._head = self._read(len(view)) or b""
            self.pulled += len(self._head)
        size = min(len(view), len(self._head))
        view[:size] = self._head[:size]
        self._head = self._head[size:]
        return size


def _first_byte(head: bytes) -> bytes | None:
    """The first byte after an optional BOM and whitespace; None if not in ``head`` yet."""
    if _BOM.startswith(head):
        return None
    return head.removeprefix(_BOM).lstrip(_BLANK)[:1] or None


class FileSpan(NamedTuple):
    """Whole lines of an open regular file, by position rather than by value.

    A mapping worker, forked after the file was opened, holds the same descriptor and
    reads the span itself with ``pread``: the lines are not copied into a pickle, through
    a pipe and out again (~0.09 CPU s per 100,000 events went there).
    """

    fd: int
    offset: int
    length: int

    def read(self, source: str) -> bytes:
        """The span's bytes; :class:`InputError` if they cannot all be read any more."""
        try:
            data = os.pread(self.fd, self.length, self.offset)
        except OSError as exc:
            raise InputError(f"{source}: read failed: {exc}") from None
        if len(data) != self.length:
            raise InputError(f"{source}: read failed: the file shrank while it was read")
        return data


class InputReader:
    """One opened input. ``records()`` streams it; ``bytes_read`` feeds a progress bar."""

    def __init__(
        self,
        source: str,
        fmt: Literal["auto", "jsonl", "csv"],
        csv_settings: CsvSettings,
        read: Callable[[int], bytes],
        file: io.FileIO | None,
        total_bytes: int | None,
    ) -> None:
        self.source = source
        self.total_bytes = total_bytes
        self._csv = csv_settings
        self._table: CsvTable | None = None
        self._file = file
        self._raw = _ByteSource(read)
        self._closables: list[io.IOBase] = []
        try:
            magic = self._raw.fill(lambda head: len(head) >= 2, 2)
        except OSError as exc:
            raise InputError(f"{source}: cannot read: {exc}") from None
        # A file is gzip by its name (.gz); stdin has no name, so its content says.
        gzipped = magic[:2] == _GZIP_MAGIC if source == "-" else source.lower().endswith(".gz")
        if gzipped and magic and magic[:2] != _GZIP_MAGIC:
            raise InputError(f"{source}: not a gzip file, although its name ends in .gz")
        if gzipped:
            unpacked: io.BufferedIOBase = gzip.GzipFile(
                fileobj=io.BufferedReader(self._raw), mode="rb"
            )
        else:
            unpacked = io.BufferedReader(self._raw)
        self._closables.append(unpacked)
        text = _ByteSource(unpacked.read1)
        try:
            first = _first_byte(text.fill(lambda head: _first_byte(head) is not None, SNIFF_SIZE))
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{source}: corrupt gzip data: {exc}") from None
        self._stream = io.BufferedReader(text)
        self._closables.insert(0, self._stream)
        # A plain regular file can be handed out by position (FileSpan); not gzip, not a
        # pipe or a terminal given by name.
        self._spannable = (
            file is not None and not gzipped and stat.S_ISREG(os.fstat(file.fileno()).st_mode)
        )
        self._spanned = 0  # bytes handed out as spans (the progress display's position)
        if fmt == "auto":
            by_name = format_from_name(source) if source != "-" else None
            fmt = by_name or ("jsonl" if first in (b"{", b"[") else "csv")
        self.format: Format = fmt
        may_be_array = source == "-" or source.lower().removesuffix(".gz").endswith(".json")
        self._array = fmt == "jsonl" and may_be_array and first == b"["

    @property
    def csv_report(self) -> CsvReport | None:
        """How the CSV columns were mapped; set once the header row has been read."""
        return self._table.report if self._table is not None else None

    @property
    def bytes_read(self) -> int:
        """Bytes consumed from the file or stdin so far (compressed bytes for gzip)."""
        return max(self._raw.pulled, self._spanned)

    def records(self) -> Iterator[Record]:
        """Every record of the input, in order; a read failure raises :class:`InputError`."""
        try:
            if self.format == "csv":
                yield from self._csv_records()
            elif self._array:
                yield from document_records(self._stream.read(), self.source)
            else:
                yield from jsonl_records(self._stream, self.source)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{self.source}: read failed: {exc}") from None

    @property
    def chunkable(self) -> bool:
        """True for a JSON lines file (not stdin): :meth:`line_chunks` may be used."""
        return self.format == "jsonl" and not self._array and self._file is not None

    def line_blocks(
        self, size: int, *, spans: bool = False
    ) -> Iterator[tuple[str, int, bytes | FileSpan]]:
        """Whole lines, about ``size`` bytes at a time: (source, number of the first line,
        the lines' bytes).

        The parallel pipeline splits them on ``\\n`` in worker processes
        (:func:`block_lines`); line numbers match :meth:`records` exactly. One bytes object
        per block is cheap to hand to a worker, unlike a list of a thousand lines. With
        ``spans``, a plain regular file's blocks come as :class:`FileSpan` (the same
        lines, read by whoever maps them); other inputs still come as bytes.
        """
        if spans and self._spannable:
            yield from self._line_spans(size)
            return
        number = 1
        pending: list[bytes] = []  # the start of a line longer than a block
        read = self._stream.read
        try:
            while True:
                data = read(size)
                if not data:
                    if pending:
                        yield self.source, number, b"".join(pending)
                    return
                end = data.rfind(b"\n") + 1
                if not end:
                    pending.append(data)
                    continue
                block = b"".join((*pending, data[:end])) if pending else data[:end]
                pending = [data[end:]] if end < len(data) else []
                yield self.source, number, block
                number += block.count(b"\n")
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{self.source}: read failed: {exc}") from None

    def _line_spans(self, size: int) -> Iterator[tuple[str, int, FileSpan]]:
        """:meth:`line_blocks` of a plain regular file as positions: the lines are read
        here only to find where they end and to count them (``pread``, one copy)."""
        assert self._file is not None
        fd = self._file.fileno()
        offset = 0
        number = 1
        try:
            while True:
                data = os.pread(fd, size, offset)
                if not data:
                    return
                end = data.rfind(b"\n") + 1
                if end:
                    newlines = data.count(b"\n", 0, end)
                else:  # one line longer than a block: the block is that line
                    end, newlines = len(data), 0
                    while more := os.pread(fd, size, offset + end):
                        cut = more.find(b"\n") + 1
                        if cut:
                            end, newlines = end + cut, 1
                            break
                        end += len(more)
                yield self.source, number, FileSpan(fd, offset, end)
                number += newlines
                offset += end
                self._spanned = offset
        except OSError as exc:
            raise InputError(f"{self.source}: read failed: {exc}") from None

    def _csv_records(self) -> Iterator[Record]:
        text = io.TextIOWrapper(
            self._stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        self._closables.insert(0, text)
        sample = text.read(SNIFF_SIZE)
        if sample and not sample.endswith("\n"):
            sample += text.readline()  # never split a line between the sample and the rest
        delimiter = self._csv.delimiter or sniff_delimiter(sample)
        lines = itertools.chain(io.StringIO(sample, newline=""), text)
        self._table = CsvTable(self.source, delimiter, self._csv)
        yield from self._table.records(lines)

    def close(self) -> None:
        """Release the file (stdin is left open for its owner)."""
        for stream in self._closables:
            stream.close()
        self._closables.clear()
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> InputReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- JSON lines --------------------------------------------------------------------------


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise ValueError(f"number too long: {len(text)} digits")
    return int(text)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


# Stateless: the hooks make NaN, Infinity, 1e999 and 5000-digit integers parse errors, so
# nothing non-finite can reach a request body.
_DECODER = json.JSONDecoder(
    parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_no_constant
)


def _clip(text: str) -> str:
    return text[:RAW_LIMIT]


def parse_json(text: str) -> tuple[object, str | None]:
    """``(value, None)`` or ``(None, why)``; never raises, whatever the text."""
    try:
        value = _DECODER.decode(text)
    except ValueError as exc:  # JSONDecodeError, our hooks
        return None, str(exc)
    except RecursionError:
        return None, "JSON nested too deeply"
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        # "\ud800" alone decodes to a string no UTF-8 encoder accepts: it could never
        # reach Meta, and would fail every event batched with it.
        return None, "a \\u escape encodes a lone UTF-16 surrogate, which is not valid Unicode"
    return value, None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError, TypeError):
        return False
    return False


def unbatch(value: object) -> list[object]:
    """The messages of a Segment batch envelope ``{"batch": [...]}``, else ``[value]``."""
    if isinstance(value, dict):
        batch = value.get("batch")
        if isinstance(batch, list) and batch and "type" not in value and "event" not in value:
            return batch
    return [value]  # an empty batch is yielded as is: the mapper skips it, the line counts


# Every byte that is an ASCII digit -> "0", any other -> " ": a run of 19 zeros in the
# translation marks a 19+ digit run in the line, where orjson and json may part ways.
_DIGIT_RUNS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def fast_parse(body: bytes) -> object:
    """The JSON value of one line via orjson, or ``_SLOW`` where only the standard
    library's answer (value or error) is authoritative.

    orjson is several times faster, and where it succeeds it gives exactly what the
    standard decoder with our hooks gives (``tests/test_readers_fastjson.py``): it is
    stricter on everything else (invalid UTF-8, lone surrogates, NaN, 1e999, control
    characters), and those lines take the standard path for its exact error message. The
    one place it is looser: integers beyond 64 bits become floats, so a line with a run
    of 19 or more digits takes the standard path too.
    """
    if _LONG_RUN in body.translate(_DIGIT_RUNS):
        return _SLOW
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _SLOW


_SLOW = object()


def _body_records(body: bytes, value: object, number: int, source: str) -> Iterator[Record]:
    """The records of a non-blank line, given what :func:`fast_parse` made of it."""
    if value is not _SLOW:
        yield from (Record(source, number, message) for message in unbatch(value))
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"invalid UTF-8 at byte {exc.start}"
        yield Record(
            source, number, None, "invalid_json", detail, _clip(body.decode(errors="replace"))
        )
        return
    value, error = parse_json(text)
    if error is not None:
        yield Record(source, number, None, "invalid_json", error, _clip(text))
        return
    for message in unbatch(value):
        yield Record(source, number, message)


def block_lines(block: bytes) -> list[bytes]:
    """The lines of a :meth:`InputReader.line_blocks` block, as iterating the file gives."""
    lines = block.split(b"\n")
    if lines[-1]:
        return lines  # the file's last line, without a newline
    lines.pop()
    return lines


def jsonl_records(lines: Iterable[bytes], source: str, first: int = 1) -> Iterator[Record]:
    """Stream JSON lines (split on ``\\n``); a leading UTF-8 BOM is ignored.

    ``first`` is the number of the first line given (a chunk of a file, in a worker).
    """
    for number, line in enumerate(lines, first):
        body = (line.removeprefix(_BOM) if number == 1 else line).strip(_BLANK)
        if not body:
            continue
        value = fast_parse(body)
        if type(value) is dict and "batch" not in value:  # one message, no envelope: inline
            yield Record(source, number, value)
        else:
            yield from _body_records(body, value, number, source)


def block_messages(
    block: bytes, source: str, first: int = 1
) -> Iterator[tuple[int, object, Record | None]]:
    """:func:`jsonl_records` of a :meth:`InputReader.line_blocks` block, as
    ``(line, message, record)``: ``record`` is None for a line holding one plain JSON
    object (``message``, the common case: no :class:`Record` is built), else the
    :class:`Record` ``jsonl_records`` would have yielded (each message of a batch, a
    value that is not an object, an invalid line).

    A block without a run of 19 digits has no line with one: the check
    :func:`fast_parse` makes per line is made once for the whole block.
    """
    digit_runs = _LONG_RUN in block.translate(_DIGIT_RUNS)
    loads, error = orjson.loads, orjson.JSONDecodeError
    for number, line in enumerate(block_lines(block), first):
        body = (line.removeprefix(_BOM) if number == 1 else line).strip(_BLANK)
        if not body:
            continue
        if digit_runs:
            value = fast_parse(body)
        else:
            try:
                value = loads(body)
            except error:
                value = _SLOW
        if type(value) is dict and "batch" not in value:
            yield number, value, None
        else:
            for record in _body_records(body, value, number, source):
                yield number, record.message, record


class _LineCounter:
    """Line number of increasing offsets in a text, counted incrementally."""

    def __init__(self, text: str) -> None:
        self._text, self._pos, self._line = text, 0, 1

    def at(self, pos: int) -> int:
        self._line += self._text.count("\n", self._pos, pos)
        self._pos = pos
        return self._line


def _array_records(text: str, source: str) -> list[Record] | None:
    """Elements of a top-level JSON array, each at its line; None when more JSON follows."""
    out: list[Record] = []
    lines = _LineCounter(text)

    def skip(pos: int) -> int:
        match = _JSON_WS.match(text, pos)
        return match.end() if match else pos

    def stop(pos: int, why: str) -> list[Record]:
        line = lines.at(pos)
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        raw = text[start : end if end >= 0 else len(text)]
        detail = f"{why}; the rest of the JSON array was not read"
        out.append(Record(source, line, None, "invalid_json", detail, _clip(raw)))
        return out

    pos = skip(skip(0) + 1)  # past "["
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            try:
                value, end = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                return stop(exc.pos, str(exc))
            except ValueError as exc:
                return stop(pos, str(exc))
            except RecursionError:
                return stop(pos, "JSON nested too deeply")
            line = lines.at(pos)
            out.extend(Record(source, line, message) for message in unbatch(value))
            pos = skip(end)
            if text.startswith(",", pos):
                pos = skip(pos + 1)
            elif text.startswith("]", pos):
                pos += 1
                break
            else:
                return stop(pos, f"expected ',' or ']' at char {pos}")
    return None if skip(pos) < len(text) else out


def document_records(data: bytes, source: str) -> Iterator[Record]:
    """A whole JSON document starting with ``[``: one record per array element.

    Falls back to JSON lines when it is not one array (lines that each hold an array,
    or text that is not UTF-8), so every line is still accounted for.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        records = None
    else:
        records = _array_records(text, source)
    if records is None:
        yield from jsonl_records(io.BytesIO(data), source)
    else:
        yield from records


# --- CSV ---------------------------------------------------------------------------------


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
                raw = _clip(_readable(self.delimiter.join(row)))
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
