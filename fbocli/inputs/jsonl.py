"""JSON lines (and JSON array documents) -> :class:`Record` objects.

orjson parses a line where its answer is exactly the standard decoder's (with the hooks
below); every other line takes the standard decoder, whose error messages the rejects file
shows. orjson is several times faster on the hot path (docs/performance.md).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable, Iterator

import orjson

from fbocli.inputs.record import Record, clip

_MAX_INT_DIGITS = 4000  # below Python's int/str conversion limit, so we word the error
_BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r\n\x0b\x0c"
_JSON_WS = re.compile(r"[ \t\r\n]*")


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


def line_messages(body: bytes, *, long_runs: bool = True) -> tuple[list[object], str | None]:
    """``(messages, None)`` or ``([], why)`` for one line's bytes; never raises.

    The messages are the line's JSON value, or the elements of a Segment batch envelope
    (:func:`unbatch`).

    orjson answers first: where it succeeds it gives exactly what the standard decoder
    with our hooks gives (``tests/test_jsonl.py``), and it is stricter on everything else
    (invalid UTF-8, lone surrogates, NaN, 1e999, control characters), which then takes the
    standard decoder for its exact error message. The one place orjson is looser: integers
    beyond 64 bits become floats, so a line with a run of 19 or more digits takes the
    standard decoder too. ``long_runs=False`` says the caller knows there is none.
    """
    if not (long_runs and has_long_digit_run(body)):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
        else:
            return unbatch(value), None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], f"invalid UTF-8 at byte {exc.start}"
    value, error = parse_json(text)
    return ([], error) if error is not None else (unbatch(value), None)


def has_long_digit_run(data: bytes) -> bool:
    """Whether ``data`` holds a run of 19 or more ASCII digits (see :func:`line_messages`)."""
    return _LONG_RUN in data.translate(_DIGIT_RUNS)


def block_lines(block: bytes) -> list[bytes]:
    """The lines of a block of whole lines, as iterating the file gives them."""
    lines = block.split(b"\n")
    if lines[-1]:
        return lines  # the file's last line, without a newline
    lines.pop()
    return lines


def jsonl_records(
    lines: Iterable[bytes], source: str, first: int = 1, *, long_runs: bool = True
) -> Iterator[Record]:
    """Stream JSON lines (split on ``\\n``); a leading UTF-8 BOM is ignored.

    ``first`` is the number of the first line given (a block of a file, in a worker);
    ``long_runs=False``: the caller checked that no line has a 19-digit run.
    """
    for number, line in enumerate(lines, first):
        body = (line.removeprefix(_BOM) if number == 1 else line).strip(_BLANK)
        if not body:
            continue
        messages, error = line_messages(body, long_runs=long_runs)
        if error is not None:
            raw = clip(body.decode("utf-8", errors="replace"))
            yield Record(source, number, None, "invalid_json", error, raw)
            continue
        for message in messages:
            yield Record(source, number, message)


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
        out.append(Record(source, line, None, "invalid_json", detail, clip(raw)))
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
