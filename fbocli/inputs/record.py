"""What a reader yields: one message as read, or why it could not be parsed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fbocli.errors import InputError

RAW_LIMIT = 10_000  # characters of an unparseable line kept for the rejects file
TOO_LARGE = "too_large"  # the reject of a line or CSV row over [input] max_record_bytes


@dataclass(frozen=True, slots=True)
class Native:
    """A Meta-native row's own routing (inputs.md section 2): it already names a Meta
    event, and may name its dataset and action source; it bypasses the Segment maps."""

    event_name: str  # as given, standard names case-corrected; "" when the row has none
    datasets: tuple[str, ...] = ()  # the row's DATA_SET_ID; () = [destination] dataset
    action_source: str = ""  # the row's ACTION_SOURCE; "" = [destination] action_source


@dataclass(frozen=True, slots=True)
class Wording:
    """How one CSV file names what it fed, so a reject speaks the user's words (its
    headers) rather than Segment paths. One object per file, shared by its records."""

    labels: Mapping[str, str] = field(default_factory=dict)  # message path -> "`Paid at`"
    no_time: str = ""  # the detail of missing_timestamp
    no_value: str = ""  # the detail of purchase_without_value
    no_keys: str = ""  # the detail of no_match_keys
    no_event: str = ""  # the detail of missing_event

    def label(self, path: str) -> str:
        """What the file calls the field at ``path`` (the path itself when nothing)."""
        return self.labels.get(path, path)


@dataclass(slots=True)
class Record:
    """One Segment message as read, or what the reader could not parse."""

    source: str  # the path as the user gave it ("-" for stdin)
    line: int  # 1-based line (JSONL) or physical line where the CSV row starts
    message: object  # parsed JSON value (any type) / dict built from a CSV row
    error: str | None = None  # "invalid_json" | "invalid_row" | "too_large": decided here
    detail: str = ""
    raw: str | None = None  # the text when it could not be parsed (clipped)
    dayfirst: bool = False  # CSV [csv] dayfirst: how ambiguous dates are read
    skip: str | None = None  # a skip decided here ("filtered", "not_a_sale"), why in detail
    native: Native | None = None  # a Meta-native row's routing
    words: Wording | None = None  # how its CSV file names the fields (None: Segment paths)

    @property
    def for_rejects(self) -> object:
        """What the rejects file shows of this record: the message, or the unparsed text."""
        return self.raw if self.error is not None and self.raw is not None else self.message


def clip(text: str) -> str:
    """The part of an unparseable text kept for the rejects file."""
    return text[:RAW_LIMIT]


def too_large(size: int, limit: int, unit: str = "bytes") -> str:
    """The detail of a ``too_large`` reject: a line (or a CSV row's line) of ``size``."""
    return (
        f"the line is {size:,} {unit} long, more than [input] max_record_bytes "
        f"({limit:,}): it is not read (the rejects file keeps its start)"
    )


def not_text(source: str, line: int, limit: int, unit: str = "bytes") -> InputError:
    """The error of an input that holds NUL characters in a line over the size limit (a
    NUL-filled file, ``/dev/zero``, a binary file): it is not read any further."""
    return InputError(
        f"{source}: line {line}: more than {limit:,} {unit} without a line break, holding NUL "
        f"{unit}: this is not text (a JSON lines or CSV file); the rest of it is not read"
    )


def set_path(message: dict[str, Any], path: str, value: object) -> None:
    """Set a dotted path of a message built from a CSV row (a segment may contain
    spaces, as in ``integrations.Facebook Offline Conversions``). Never replaces an
    object: a column never overwrites what other columns built."""
    *parents, last = path.split(".")
    node = message
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return
        node = child
    if not isinstance(node.get(last), dict):
        node[last] = value
