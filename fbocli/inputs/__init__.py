"""The first stage: inputs (JSON lines, CSV; plain, gzip or stdin) as chunks of records."""

from fbocli.inputs.csvfile import CsvReport
from fbocli.inputs.reader import Chunk, FileSpan, InputReader, format_from_name, open_input
from fbocli.inputs.record import Record

__all__ = [
    "Chunk",
    "CsvReport",
    "FileSpan",
    "InputReader",
    "Record",
    "format_from_name",
    "open_input",
]
