"""CSV text -> rows, read strictly: a quote that is never closed costs one row, not the file.

``csv.reader`` accepts the end of the file inside a quoted cell, so a cell that opens a
quote and never closes it swallows every line after it into one cell, silently. Here
each row may take at most :data:`MAX_ROW_LINES` physical lines and ``max_bytes``
characters; a row whose quoted cell runs past either, or reaches the end of the file, is
an ``invalid_row`` (naming the line the quote opened on), and reading goes on at the
physical line after the one the row started on (the lines it took are read again). A
physical line longer than ``max_bytes`` is a ``too_large`` row of its own, skipped to
its end without being held in memory; one that holds NUL characters means the input is
not text, and stops it (:class:`~fbocli.errors.InputError`).

The lines ``csv.reader`` takes come from :class:`Lines`, which numbers them, keeps those
of the row being read (to read them again) and bounds them; ``csv.reader`` itself still
does the parsing.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Callable, Iterator
from typing import NamedTuple

from fbocli.inputs.record import TOO_LARGE, clip, not_text, too_large

MAX_ROW_LINES = 100  # physical lines one row (its quoted cells' line breaks) may take
_NEWLINES = ("\n", "\r")


class Bad(NamedTuple):
    """A row that could not be read: the reject's reason and detail, and its text."""

    reason: str  # "invalid_row" | "too_large"
    detail: str
    raw: str
    cells: list[str] | None = None  # a runaway row's first line alone, as cells


class _Long(NamedTuple):
    """A physical line longer than the limit, already skipped: its size and first part."""

    size: int
    prefix: str


class _Overrun(Exception):
    """The row being read took too many lines or characters (raised through csv.reader)."""


class Lines:
    """The physical lines of a CSV text, for ``csv.reader``, each at most ``max_bytes``
    characters; the lines of the row being read are kept until it is complete."""

    def __init__(
        self, source: str, head: str, readline: Callable[[int], str], max_bytes: int
    ) -> None:
        self.source = source
        self.max_bytes = max_bytes
        # ``head``: the text already read (to sniff the delimiter), then ``readline``'s
        self._readline: Callable[[int], str] = io.StringIO(head, newline="").readline
        self._rest: Callable[[int], str] | None = readline
        self._taken: list[str | _Long] = []  # the lines of the row being read
        self._size = 0  # their characters
        self._again: deque[str | _Long] = deque()  # lines to hand out again (resynchronised)
        self.next_line = 1  # the number of the next line handed out
        self.start = 1  # the number of the row's first line
        self.at_end_in_row = False  # the text ended while a row was being read

    @property
    def lines_read(self) -> int:
        """Physical lines handed out so far (each once, however often it was re-read)."""
        return self.next_line - 1 + len(self._again)

    def begin_row(self) -> None:
        self._taken.clear()
        self._size = 0
        self.start = self.next_line
        self.at_end_in_row = False

    def resync(self) -> None:
        """Hand out again every line of the row being read but its first."""
        self._again.extendleft(reversed(self._taken[1:]))
        self.next_line = self.start + 1
        self._taken.clear()

    @property
    def taken(self) -> list[str | _Long]:
        return self._taken

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        # (on every physical line of every CSV: the common case first, and short)
        if self._again:
            line = self._again.popleft()
        else:
            line = self._readline(self.max_bytes + 1)
            if not line.endswith(_NEWLINES):
                line = self._read(line)
        taken = self._taken
        taken.append(line)
        self.next_line += 1
        if isinstance(line, _Long):
            raise _Overrun
        self._size += len(line)
        if self._size > self.max_bytes or len(taken) > MAX_ROW_LINES:
            raise _Overrun
        return line

    def _read(self, line: str) -> str | _Long:
        """The rest of a line ``readline`` did not end: the end of the head, of a line too
        long, of the text."""
        limit = self.max_bytes + 1
        while len(line) < limit and (more := self._more(limit - len(line))):
            line += more  # (the head ended inside a line)
            if line.endswith(_NEWLINES):
                return line
        if not line:
            self.at_end_in_row = bool(self._taken)
            raise StopIteration
        return line if len(line) < limit else self._skip(line)

    def _more(self, size: int) -> str:
        piece = self._readline(size)
        if not piece and self._rest is not None:
            self._readline, self._rest = self._rest, None
            piece = self._readline(size)
        return piece

    def _skip(self, prefix: str) -> _Long:
        """Read a line that is longer than the limit to its end, keeping its first part."""
        if "\0" in prefix:
            raise not_text(self.source, self.next_line, self.max_bytes, "characters")
        size = len(prefix)
        piece = prefix
        while not piece.endswith(_NEWLINES) and (piece := self._more(self.max_bytes)):
            size += len(piece)
        size -= len(piece) - len(piece.rstrip("\r\n"))  # its line break is not counted
        return _Long(size, clip(prefix))


def rows(
    lines: Lines, delimiter: str, headers: Callable[[], list[str]]
) -> Iterator[tuple[int, list[str] | Bad]]:
    """Non-empty rows, or why one could not be read, with the physical line each starts
    on. ``headers()``: the header row ([] while it is being read), to name the cell a
    quote opened in."""
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        lines.begin_row()
        try:
            row = next(reader)
        except StopIteration:
            return
        except _Overrun:
            yield lines.start, _overrun(lines, delimiter, headers())
            continue
        except csv.Error as exc:
            if not lines.taken:
                return  # nothing consumed: do not loop forever
            yield lines.start, Bad("invalid_row", f"unreadable CSV row: {exc}", "")
            continue
        if lines.at_end_in_row:
            yield lines.start, _unclosed(lines, delimiter, headers(), "that is never closed")
            continue
        if row:
            yield lines.start, row


def _overrun(lines: Lines, delimiter: str, headers: list[str]) -> Bad:
    first = lines.taken[0]
    if isinstance(first, _Long):
        lines.taken.clear()  # the long line is skipped already: the next row is the next line
        return Bad(TOO_LARGE, too_large(first.size, lines.max_bytes, "characters"), first.prefix)
    last = lines.taken[-1]
    if len(lines.taken) > MAX_ROW_LINES:
        within = f"within {MAX_ROW_LINES} lines"
    elif isinstance(last, _Long):
        long = lines.next_line - 1
        within = f"before line {long}, which is longer than {lines.max_bytes:,} characters"
    else:
        within = f"within {lines.max_bytes:,} characters ([input] max_record_bytes)"
    return _unclosed(lines, delimiter, headers, f"that is not closed {within}")


def _unclosed(lines: Lines, delimiter: str, headers: list[str], how: str) -> Bad:
    """A row whose quoted cell runs away: rejected, and its lines but the first read again."""
    first = lines.taken[0]
    assert isinstance(first, str)
    cells = next(csv.reader(io.StringIO(first, newline=""), delimiter=delimiter), [""])
    index = len(cells) - 1
    names = headers or [c.strip() for c in cells]  # (the header row names its own cells)
    name = names[index] if index < len(names) else ""
    cell = f"`{name}` cell" if name else f"cell #{index + 1}"
    start = lines.start
    lines.resync()
    detail = f'the {cell} opens a quote (") at line {start} {how}'
    if cells:
        cells[-1] = cells[-1].rstrip("\r\n")
    return Bad("invalid_row", detail, clip(first.rstrip("\r\n")), cells)
