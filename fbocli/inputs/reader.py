"""Open an input (a file, ``.gz`` or stdin) and hand it out in chunks to map.

Memory stays flat whatever the input size: JSON lines go out as blocks of whole lines
(a plain file's as positions, read by whoever maps them), CSV rows and the elements of a
JSON array document as lists of records. The one exception is a ``.json`` file (or stdin)
whose first non-blank character is ``[``: a pretty-printed JSON array export is
necessarily loaded whole before its elements are handed out.

No line is held whole when it is longer than ``[input] max_record_bytes``: it becomes a
``too_large`` record, and one that holds NUL bytes stops the input (not text). When a
regular file's end is reached, on every path, one check says it was read whole and
unchanged (:meth:`InputReader.chunks`).

The reader never rejects a *message*; it only reports what it could not parse
(``invalid_json``, ``invalid_row``, ``too_large``). Deciding ``not_an_object`` and the
rest is the mapper's job.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO, Literal, NamedTuple

from fbocli.errors import InputError, UsageError
from fbocli.inputs.jsonl import (
    block_lines,
    document_records,
    has_long_digit_run,
    jsonl_records,
)
from fbocli.inputs.record import RAW_LIMIT, TOO_LARGE, Record, clip, not_text, too_large
from fbocli.settings import MAX_RECORD_BYTES, CsvSettings

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from fbocli.inputs.csvfile import CsvReport, CsvTable
    from fbocli.inputs.customers import Customers

Format = Literal["jsonl", "csv"]

SNIFF_SIZE = 64 * 1024  # bytes/characters looked at to guess a format or a delimiter
BLOCK_BYTES = 512 * 1024  # a chunk of JSON lines: ~1,000 events, one task for a worker
CHUNK_RECORDS = 1000  # a chunk of CSV rows or JSON array elements
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r\n\x0b\x0c"
_JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")


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
    *,
    datasets: tuple[str, ...] = (),
    customers: Customers | None = None,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> InputReader:
    """Open one input (``-`` is ``stdin``); raise :class:`InputError` when it cannot be read.

    A CSV's header row is read here: how the file will be read (its preset, columns,
    order key, filter, customer file) is settled, and any setting that cannot apply to it
    stops the run (UsageError), before anything is sent. ``datasets``: the configured
    ``[destination] dataset`` (Meta-native rows may need it); ``customers``: the customer
    file to join; ``max_record_bytes``: the longest line or CSV row read (a longer one is a
    ``too_large`` reject).
    """
    if path == "-":
        if stdin is None:
            raise UsageError("'-' reads standard input, but no stream was given for it")
        read: Callable[[int], bytes] = getattr(stdin, "read1", stdin.read)
        return InputReader(
            path,
            fmt,
            csv_settings,
            read,
            None,
            None,
            opened=_regular_stdin(stdin),
            datasets=datasets,
            customers=customers,
            max_record_bytes=max_record_bytes,
        )
    file = _open_file(path)
    try:
        status = os.fstat(file.fileno())
        regular = stat.S_ISREG(status.st_mode)
        return InputReader(
            path,
            fmt,
            csv_settings,
            file.read,
            file,
            status.st_size,
            opened=_Opened(file.fileno(), status, 0, path) if regular else None,
            datasets=datasets,
            customers=customers,
            max_record_bytes=max_record_bytes,
        )
    except BaseException:
        file.close()
        raise


class _Opened(NamedTuple):
    """A regular file as it was when opened: what its end is checked against."""

    fd: int
    status: os.stat_result
    start: int  # where reading starts (stdin redirected from a file may be past 0)
    path: str | None  # its name (None for stdin): it must still name the same file


def _regular_stdin(stdin: BinaryIO) -> _Opened | None:
    """Standard input redirected from a regular file (``< export.jsonl``), else None."""
    try:
        fd = stdin.fileno()
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return None
        return _Opened(fd, status, stdin.tell(), None)
    except (OSError, ValueError):  # no descriptor (a test's BytesIO), closed, not seekable
        return None


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


def changed_while_read(source: str, what: str) -> InputError:
    """The error of an input that was not the same file from its start to its end."""
    return InputError(f"{source}: read failed: {what}")


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
            raise changed_while_read(source, "the file shrank while it was read")
        return data


class Chunk(NamedTuple):
    """A piece of one input to map as a unit (in-process or by a worker process):
    whole JSON lines (bytes, or a :class:`FileSpan`) or a list of records already read."""

    source: str
    first_line: int
    data: bytes | FileSpan | list[Record]

    def records(self) -> Iterator[Record]:
        """The chunk's records: JSON lines are parsed here, where the chunk is mapped."""
        data = self.data
        if isinstance(data, list):
            return iter(data)
        block = data.read(self.source) if isinstance(data, FileSpan) else data
        return jsonl_records(
            block_lines(block),
            self.source,
            self.first_line,
            long_runs=has_long_digit_run(block),  # checked once for the whole block
        )


class InputReader:
    """One opened input. ``chunks()`` hands it out; ``bytes_read`` feeds a progress bar."""

    def __init__(
        self,
        source: str,
        fmt: Literal["auto", "jsonl", "csv"],
        csv_settings: CsvSettings,
        read: Callable[[int], bytes],
        file: io.FileIO | None,
        total_bytes: int | None,
        *,
        opened: _Opened | None = None,
        datasets: tuple[str, ...] = (),
        customers: Customers | None = None,
        max_record_bytes: int = MAX_RECORD_BYTES,
    ) -> None:
        self.source = source
        self._max_bytes = max_record_bytes
        self._opened = opened
        self.total_bytes = total_bytes
        self._csv = csv_settings
        self._table: CsvTable | None = None
        self._datasets = datasets
        self._customers = customers
        self._notes: list[str] = []
        self._file = file
        self._raw = _ByteSource(read)
        self._closables: list[io.IOBase] = []
        try:
            magic = self._raw.fill(lambda head: len(head) >= 2, 2)
        except OSError as exc:
            raise InputError(f"{source}: cannot read: {exc}") from None
        # A file is gzip by its name (.gz); stdin has no name, and a file named neither
        # .gz nor by a format (export.txt) is sniffed like stdin: the content says.
        by_name = format_from_name(source) if source != "-" else None
        sniffed = source == "-" or (by_name is None and not source.lower().endswith(".gz"))
        gzipped = magic[:2] == _GZIP_MAGIC if sniffed else source.lower().endswith(".gz")
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
            fmt = by_name or ("jsonl" if first in (b"{", b"[") else "csv")
        self.format: Format = fmt
        may_be_array = by_name is None or source.lower().removesuffix(".gz").endswith(".json")
        self._array = fmt == "jsonl" and may_be_array and first == b"["
        self._text = text
        if fmt == "csv":
            try:
                self._open_csv()
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(f"{source}: read failed: {exc}") from None

    @property
    def csv_report(self) -> CsvReport | None:
        """How the CSV columns were mapped; set once the header row has been read."""
        return self._table.report if self._table is not None else None

    def notes(self) -> list[str]:
        """What to tell the user about this input that was not said yet (the preset it is
        read with, an encoding it was read in): each note is handed out once."""
        found = self._notes + (self._table.notes if self._table is not None else [])
        self._notes = []
        if self._table is not None:
            self._table.notes = []
        return found

    @property
    def bytes_read(self) -> int:
        """Bytes consumed from the file or stdin so far (compressed bytes for gzip)."""
        return max(self._raw.pulled, self._spanned)

    def chunks(self) -> Iterator[Chunk]:
        """The whole input, in order, as chunks to map; a read failure raises InputError.

        JSON lines come as blocks of whole lines (a plain regular file's as
        :class:`FileSpan` positions); CSV rows and JSON array elements as record lists.
        """
        try:
            # (a block never holds more than the longest record: a line inside a block is
            # never too large, only one that runs across blocks can be)
            size = min(BLOCK_BYTES, self._max_bytes)
            if self.format == "jsonl" and not self._array:
                if self._spannable:
                    yield from self._line_spans(size)
                else:
                    yield from self._line_blocks(size)
            else:
                if self.format == "csv":
                    assert self._table is not None
                    records = self._table.records()
                else:
                    records = document_records(self._document(size), self.source)
                while batch := list(itertools.islice(records, CHUNK_RECORDS)):
                    yield Chunk(self.source, batch[0].line, batch)
        except (OSError, EOFError, zlib.error) as exc:
            self._check_end(read=False)  # a gzip stream cut short by a change: say so
            raise InputError(f"{self.source}: read failed: {exc}") from None
        self._check_end()

    def _check_end(self, *, read: bool = True) -> None:
        """The one check, on every path, that what was read is the whole file that was
        opened: its size and time then and now, the bytes consumed (``read``: the input
        was read to its end), the same file under its name. A pipe has no size to check;
        a gzip stream cut short fails in the reading."""
        opened = self._opened
        if opened is None:
            return
        was = opened.status
        now = os.fstat(opened.fd)
        try:
            named = os.stat(opened.path) if opened.path is not None else now
        except OSError:  # removed, or moved away
            named = None
        expected = was.st_size - opened.start
        consumed = self.bytes_read if read else expected
        if now.st_size < was.st_size or consumed < expected:
            left = f"{now.st_size:,} now" if now.st_size < was.st_size else f"{consumed:,} read"
            what = f"the file shrank while it was read ({was.st_size:,} bytes when opened, {left})"
        elif now.st_size > was.st_size or consumed > expected:
            what = (
                f"the file grew while it was read ({was.st_size:,} bytes when opened, "
                f"{max(now.st_size, consumed + opened.start):,} at the end): was it still being "
                "written?"
            )
        elif now.st_mtime_ns != was.st_mtime_ns:
            what = "the file was rewritten while it was read (its modification time changed)"
        elif named is None or (named.st_dev, named.st_ino) != (was.st_dev, was.st_ino):
            what = "it was replaced, moved or removed while it was read"
        else:
            return
        raise changed_while_read(self.source, what)

    def records(self) -> Iterator[Record]:
        """Every record of the input, in order (the chunks' records, one after another)."""
        for chunk in self.chunks():
            yield from chunk.records()

    def _line_blocks(self, size: int) -> Iterator[Chunk]:
        """Whole lines, about ``size`` bytes at a time, with the number of the first; a
        line longer than the limit is a ``too_large`` record, skipped without being held."""
        number = 1
        pending: list[bytes] = []  # the start of a line longer than a block
        waiting = 0  # its bytes
        read = self._stream.read
        while True:
            data = read(size)
            if not data:
                if pending:
                    yield Chunk(self.source, number, b"".join(pending))
                return
            if pending:  # is the line that runs across blocks too large?
                cut = data.find(b"\n") + 1
                if waiting + (cut - 1 if cut else len(data)) > self._max_bytes:
                    head = b"".join((*pending, data[: cut - 1] if cut else data))
                    self._check_text(head, number)
                    rest: bytes | None = data[cut:]
                    length = len(head)
                    if not cut:
                        more, rest = _skip_line(read, size)
                        length += more
                    yield self._too_large(number, head, length)
                    number += 1
                    pending, waiting = [], 0
                    if rest is None:
                        return
                    if not rest:
                        continue
                    data = rest
            end = data.rfind(b"\n") + 1
            if not end:
                pending.append(data)
                waiting += len(data)
                continue
            block = b"".join((*pending, data[:end])) if pending else data[:end]
            pending = [data[end:]] if end < len(data) else []
            waiting = len(data) - end
            yield Chunk(self.source, number, block)
            number += block.count(b"\n")

    def _line_spans(self, size: int) -> Iterator[Chunk]:
        """:meth:`_line_blocks` of a plain regular file as positions: the lines are read
        here only to find where they end and to count them (``pread``, one copy)."""
        assert self._file is not None
        fd = self._file.fileno()
        offset = 0
        number = 1
        while True:
            data = os.pread(fd, size, offset)
            if not data:
                return
            end = data.rfind(b"\n") + 1
            if end:
                newlines = data.count(b"\n", 0, end)
            else:  # one line longer than a block: the block is that line
                end, newlines = len(data), 0
                head = [data]
                while more := os.pread(fd, size, offset + end):
                    cut = more.find(b"\n") + 1
                    if head and end + (cut - 1 if cut else len(more)) > self._max_bytes:
                        head.append(more[: cut - 1] if cut else more)
                        self._check_text(b"".join(head), number)
                        head = []  # too large: the rest of it is only measured
                    if cut:
                        end, newlines = end + cut, 1
                        break
                    end += len(more)
                if not head:
                    yield self._too_large(number, data, end - newlines)
                    number += 1
                    offset += end
                    self._spanned = offset
                    continue
            yield Chunk(self.source, number, FileSpan(fd, offset, end))
            number += newlines
            offset += end
            self._spanned = offset

    def _too_large(self, number: int, head: bytes, length: int) -> Chunk:
        """A line over the limit, as a chunk of one ``too_large`` record (its start kept)."""
        raw = clip(head[:RAW_LIMIT].removeprefix(_BOM).decode("utf-8", "replace"))
        detail = too_large(length, self._max_bytes)
        record = Record(self.source, number, None, TOO_LARGE, detail, raw)
        return Chunk(self.source, number, [record])

    def _check_text(self, head: bytes, number: int) -> None:
        """A line over the limit that holds NUL bytes: the input is not text (a NUL-filled
        file, ``/dev/zero``): stop here rather than read it to its end."""
        if b"\0" in head:
            raise not_text(self.source, number, self._max_bytes)

    def _document(self, size: int) -> bytes:
        """A JSON array document, whole (it is one value); one that grows past the record
        limit while it holds NUL bytes is not text, and is not read any further."""
        parts: list[bytes] = []
        total = 0
        while data := self._stream.read(size):
            parts.append(data)
            total += len(data)
            if total > self._max_bytes and b"\0" in data:
                raise not_text(self.source, 1 + sum(p.count(b"\n") for p in parts), self._max_bytes)
        return b"".join(parts)

    def _open_csv(self) -> None:
        """Decide the encoding and the delimiter from the first 64 KB, then read the
        header row (:meth:`CsvTable.open`)."""
        # (imported here: a run without CSV never loads the CSV reading, its presets and
        # their tables)
        from fbocli.inputs.cells import sniff_delimiter
        from fbocli.inputs.csvfile import CsvTable
        from fbocli.inputs.csvrows import Lines

        settings = self._csv
        encoding = settings.encoding or "utf-8"
        if not settings.encoding:
            head = self._text.fill(lambda head: len(head) >= SNIFF_SIZE, SNIFF_SIZE)
            if not _utf8(head, complete=len(head) < SNIFF_SIZE):
                encoding = "cp1252"
                self._notes.append(
                    f"{self.source}: not UTF-8, read as cp1252 (Excel's “CSV” on Windows); "
                    "set [csv] encoding if it is in another encoding"
                )
        codec = "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
        text = io.TextIOWrapper(self._stream, encoding=codec, errors="surrogateescape", newline="")
        self._closables.insert(0, text)
        sample = text.read(SNIFF_SIZE)
        if sample and not sample.endswith("\n"):
            # never split a line between the sample and the rest (a line longer than the
            # sample is joined again by the CSV reading, csvrows.Lines)
            sample += text.readline(SNIFF_SIZE)
        delimiter = settings.delimiter or sniff_delimiter(sample)
        lines = Lines(self.source, sample, text.readline, self._max_bytes)
        self._table = CsvTable(
            self.source,
            delimiter,
            settings,
            datasets=self._datasets,
            customers=self._customers,
            encoding=encoding,
        )
        self._table.open(lines)

    def close(self) -> None:
        """Release the file (stdin is left open for its owner)."""
        for stream in self._closables:
            stream.close()
        self._closables.clear()
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> InputReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _skip_line(read: Callable[[int], bytes], size: int) -> tuple[int, bytes | None]:
    """Read past the end of the current line: the bytes before its line break, and what
    follows it (None: the input ended first)."""
    skipped = 0
    while data := read(size):
        cut = data.find(b"\n") + 1
        if cut:
            return skipped + cut - 1, data[cut:]
        skipped += len(data)
    return skipped, None


def _utf8(head: bytes, *, complete: bool) -> bool:
    """Whether ``head`` is UTF-8 (when not ``complete``, a character cut at its end is)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut = exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
        return cut and not complete
    return True
