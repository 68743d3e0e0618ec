"""What a reader yields: one message as read, or why it could not be parsed."""

from __future__ import annotations

from dataclasses import dataclass

RAW_LIMIT = 10_000  # characters of an unparseable line kept for the rejects file


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

    @property
    def for_rejects(self) -> object:
        """What the rejects file shows of this record: the message, or the unparsed text."""
        return self.message if self.error is None else self.raw


def clip(text: str) -> str:
    """The part of an unparseable text kept for the rejects file."""
    return text[:RAW_LIMIT]
