"""Open an input (a file, ``.gz`` or stdin) and hand it out in chunks to map.

Memory stays flat whatever the input size: JSON lines go out as blocks of whole lines
(a plain file's as positions, read by whoever maps them), CSV rows and the elements of a
JSON array document as lists of records. The one exception is a ``.json`` file (or stdin)
whose first non-blank character is ``[``: a pretty-printed JSON array export is
necessarily loaded whole before its elements are handed out.

The reader never rejects a *message*; it only reports what it could not parse
(``invalid_json``, ``invalid_row``). Deciding ``not_an_object`` and the rest is
the mapper's job.
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
from fbocli.inputs.record import Record
from fbocli.settings import CsvSettings

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
) -> InputReader:
    """Open one input (``-`` is ``stdin``); raise :class:`InputError` when it cannot be read.

    A CSV's header row is read here: how the file will be read (its preset, columns,
    order key, filter, customer file) is settled, and any setting that cannot apply to it
    stops the run (UsageError), before anything is sent. ``datasets``: the configured
    ``[destination] dataset`` (Meta-native rows may need it); ``customers``: the customer
    file to join.
    """
    if path == "-":
        if stdin is None:
            raise UsageError("'-' reads standard input, but no stream was given for it")
        read: Callable[[int], bytes] = getattr(stdin, "read1", stdin.read)
        return InputReader(
            path, fmt, csv_settings, read, None, None, datasets=datasets, customers=customers
        )
    file = _open_file(path)
    try:
        total = os.fstat(file.fileno()).st_size
        return InputReader(
            path, fmt, csv_settings, file.read, file, total, datasets=datasets, customers=customers
        )
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
        datasets: tuple[str, ...] = (),
        customers: Customers | None = None,
    ) -> None:
        self.source = source
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
            if self.format == "jsonl" and not self._array:
                if self._spannable:
                    yield from self._line_spans(BLOCK_BYTES)
                else:
                    yield from self._line_blocks(BLOCK_BYTES)
                return
            if self.format == "csv":
                assert self._table is not None
                records = self._table.records()
            else:
                records = document_records(self._stream.read(), self.source)
            while batch := list(itertools.islice(records, CHUNK_RECORDS)):
                yield Chunk(self.source, batch[0].line, batch)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{self.source}: read failed: {exc}") from None

    def records(self) -> Iterator[Record]:
        """Every record of the input, in order (the chunks' records, one after another)."""
        for chunk in self.chunks():
            yield from chunk.records()

    def _line_blocks(self, size: int) -> Iterator[Chunk]:
        """Whole lines, about ``size`` bytes at a time, with the number of the first."""
        number = 1
        pending: list[bytes] = []  # the start of a line longer than a block
        read = self._stream.read
        while True:
            data = read(size)
            if not data:
                if pending:
                    yield Chunk(self.source, number, b"".join(pending))
                return
            end = data.rfind(b"\n") + 1
            if not end:
                pending.append(data)
                continue
            block = b"".join((*pending, data[:end])) if pending else data[:end]
            pending = [data[end:]] if end < len(data) else []
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
                while more := os.pread(fd, size, offset + end):
                    cut = more.find(b"\n") + 1
                    if cut:
                        end, newlines = end + cut, 1
                        break
                    end += len(more)
            yield Chunk(self.source, number, FileSpan(fd, offset, end))
            number += newlines
            offset += end
            self._spanned = offset

    def _open_csv(self) -> None:
        """Decide the encoding and the delimiter from the first 64 KB, then read the
        header row (:meth:`CsvTable.open`)."""
        # (imported here: a run without CSV never loads the CSV reading, its presets and
        # their tables)
        from fbocli.inputs.cells import sniff_delimiter
        from fbocli.inputs.csvfile import CsvTable

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
            sample += text.readline()  # never split a line between the sample and the rest
        delimiter = settings.delimiter or sniff_delimiter(sample)
        lines = itertools.chain(io.StringIO(sample, newline=""), text)
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


def _utf8(head: bytes, *, complete: bool) -> bool:
    """Whether ``head`` is UTF-8 (when not ``complete``, a character cut at its end is)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut = exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
        return cut and not complete
    return True
