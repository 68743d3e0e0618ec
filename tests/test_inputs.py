"""Inputs: JSON lines / CSV from files, gzip and stdin, streamed into Records."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fbocli.errors import ExitStatus, InputError
from fbocli.inputs import reader as reader_module
from fbocli.inputs.jsonl import block_lines, jsonl_records
from fbocli.inputs.reader import BLOCK_BYTES, CHUNK_RECORDS, FileSpan, open_input
from fbocli.inputs.record import RAW_LIMIT, Record
from fbocli.settings import CsvSettings
from tests.helpers import write_edge_input

CSV = CsvSettings()


def read_all(path: Path | str, fmt: str = "auto", csv: CsvSettings = CSV) -> list[Record]:
    with open_input(str(path), fmt, csv) as reader:  # type: ignore[arg-type]
        return list(reader.records())


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def messages(records: list[Record]) -> list[object]:
    return [r.message for r in records]


# --- JSON lines ----------------------------------------------------------------------------

JSONL = (
    '{"type": "track", "event": "A"}\n'
    "\n"
    "   \r\n"
    '{"batch": [{"event": "B"}, {"event": "C"}]}\n'
    "[1, 2]\n"
    '"text"\n'
    "{not json\n"
    '{"event": "D"}'  # no final newline
)


def check_jsonl(records: list[Record]) -> None:
    assert [(r.line, r.error) for r in records] == [
        (1, None),
        (4, None),
        (4, None),
        (5, None),
        (6, None),
        (7, "invalid_json"),
        (8, None),
    ]
    assert messages(records)[:5] == [
        {"type": "track", "event": "A"},
        {"event": "B"},
        {"event": "C"},
        [1, 2],
        "text",
    ]
    bad = records[5]
    assert bad.raw == "{not json" and "line 1 column 2" in bad.detail and bad.message is None


def test_jsonl_plain_file(tmp_path: Path) -> None:
    path = write(tmp_path, "in.jsonl", JSONL)
    with open_input(str(path), "auto", CSV) as reader:
        assert reader.format == "jsonl" and reader.total_bytes == len(JSONL)
        records = list(reader.records())
        assert reader.bytes_read == reader.total_bytes
        assert reader.csv_report is None
    check_jsonl(records)
    assert {r.source for r in records} == {str(path)}


@pytest.mark.parametrize("name", ["in.jsonl.gz", "in.ndjson.gz", "in.JSON.GZ"])
def test_jsonl_gzip_and_bytes_read(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, gzip.compress(JSONL.encode()))
    with open_input(str(path), "auto", CSV) as reader:
        assert reader.total_bytes == path.stat().st_size
        records = list(reader.records())
        assert reader.bytes_read == path.stat().st_size
    check_jsonl(records)


def test_jsonl_stdin_sniffed_and_gzip_detected_by_content() -> None:
    with open_input("-", "auto", CSV, stdin=io.BytesIO(b"\n  " + JSONL.encode())) as reader:
        assert reader.format == "jsonl" and reader.total_bytes is None
        records = list(reader.records())
        assert reader.bytes_read == len(JSONL) + 3
    assert [r.line for r in records] == [2, 5, 5, 6, 7, 8, 9]
    assert {r.source for r in records} == {"-"}
    zipped = io.BytesIO(gzip.compress(JSONL.encode()))
    with open_input("-", "auto", CSV, stdin=zipped) as reader:
        check_jsonl(list(reader.records()))


def test_batch_envelope_rules(tmp_path: Path) -> None:
    lines = [
        {"batch": [{"event": "X"}, 5]},
        {"batch": [{"event": "X"}], "type": "track"},  # a message that has a batch field
        {"batch": [{"event": "X"}], "event": "E"},
        {"batch": []},  # nothing inside: yielded as is (the mapper skips it)
        {"batch": "nope"},
    ]
    path = write(tmp_path, "b.jsonl", "\n".join(json.dumps(x) for x in lines))
    records = read_all(path)
    assert [(r.line, r.message) for r in records] == [
        (1, {"event": "X"}),
        (1, 5),
        (2, lines[1]),
        (3, lines[2]),
        (4, {"batch": []}),
        (5, {"batch": "nope"}),
    ]


def test_invalid_utf8_line_is_a_reject_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path, "u.jsonl", b'{"event": "caf\xe9"}\n{"event": "ok"}\n')
    first, second = read_all(path)
    assert first.error == "invalid_json" and first.detail.startswith("invalid UTF-8")
    assert first.raw == '{"event": "caf\ufffd"}' and first.line == 1
    assert second == Record(str(path), 2, {"event": "ok"})


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"value": NaN}', "NaN"),
        ('{"value": -Infinity}', "Infinity"),
        ('{"value": 1e999}', "out of range"),
        ('{"value": ' + "9" * 5000 + "}", "too long"),
    ],
)
def test_pathological_json_becomes_invalid_json(tmp_path: Path, line: str, why: str) -> None:
    path = write(tmp_path, "p.jsonl", line + '\n{"ok": 1e300}\n')
    bad, good = read_all(path)
    assert bad.error == "invalid_json" and why in bad.detail
    assert good.message == {"ok": 1e300}


def test_raw_is_clipped(tmp_path: Path) -> None:
    path = write(tmp_path, "big.jsonl", '{"x": "' + "a" * 50_000 + "\n")
    (record,) = read_all(path)
    assert record.error == "invalid_json" and record.raw is not None
    assert len(record.raw) == RAW_LIMIT


def test_bom_is_ignored_in_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.jsonl", b'\xef\xbb\xbf{"event": "A"}\n')
    assert messages(read_all(path)) == [{"event": "A"}]
    with open_input("-", "auto", CSV, stdin=io.BytesIO(b'\xef\xbb\xbf{"event": "A"}')) as r:
        assert r.format == "jsonl"
        assert messages(list(r.records())) == [{"event": "A"}]


def test_pretty_printed_json_array(tmp_path: Path) -> None:
    text = '\n[\n  {\n    "event": "A"\n  },\n  {"batch": [{"event": "B"}]},\n  7\n]\n'
    records = read_all(write(tmp_path, "export.json", text))
    assert [(r.line, r.message) for r in records] == [
        (3, {"event": "A"}),
        (6, {"event": "B"}),
        (7, 7),
    ]
    assert read_all(write(tmp_path, "empty.json", " [ ] ")) == []
    with open_input("-", "auto", CSV, stdin=io.BytesIO(text.encode())) as reader:
        assert messages(list(reader.records())) == [{"event": "A"}, {"event": "B"}, 7]


def test_broken_json_array_reports_where_it_stopped(tmp_path: Path) -> None:
    text = '[\n {"event": "A"},\n {"event": \n]\n'
    first, bad = read_all(write(tmp_path, "broken.json", text))
    assert first.message == {"event": "A"}
    assert bad.error == "invalid_json" and bad.line == 4 and bad.raw == "]"
    assert "not read" in bad.detail


def test_json_file_of_lines_starting_with_an_array_is_read_as_lines(tmp_path: Path) -> None:
    records = read_all(write(tmp_path, "lines.json", '[1]\n{"event": "A"}\n'))
    assert [(r.line, r.message) for r in records] == [(1, [1]), (2, {"event": "A"})]
    # .jsonl never switches to whole-array mode: each line is one value
    records = read_all(write(tmp_path, "arr.jsonl", "[\n1\n]\n"))
    assert [r.error for r in records] == ["invalid_json", None, "invalid_json"]


# --- CSV ---------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    rows = [
        ["Email", "Date", "Total", "Notes"],
        ["a@example.com", "2026-11-01", "12.50", "x y"],
        ["b@example.com", "2026-11-02", "3", ""],
    ]
    text = "\n".join(delimiter.join(row) for row in rows) + "\n"
    with open_input(str(write(tmp_path, "d.csv", text)), "auto", CSV) as reader:
        records = list(reader.records())
        assert reader.csv_report is not None and reader.csv_report.delimiter == delimiter
    assert [r.line for r in records] == [2, 3]
    assert records[1].message == {
        "type": "track",
        "event": "Order Completed",
        "context": {"traits": {"email": "b@example.com"}},
        "timestamp": "2026-11-02",
        "properties": {"revenue": "3"},
    }


def test_csv_configured_delimiter_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "semi.csv", "email;x,y\na@b.co;1,2\n")
    (record,) = read_all(path, csv=CsvSettings(delimiter=";"))
    assert record.message == {
        "type": "track",
        "event": "Order Completed",
        "context": {"traits": {"email": "a@b.co"}},
    }


def test_csv_explicit_columns(tmp_path: Path) -> None:
    text = (
        "Order ID,email,ALT EMAIL,When,Shop Lead,Kind,Ghost\n"
        "o1,,alt@x.co,2026-11-01,l:123,Lead Captured,g\n"
        "o2,main@x.co,alt@x.co,2026-11-02,,,\n"
    )
    settings = CsvSettings(
        event="Order Completed",
        dayfirst=True,
        columns=(
            ("context.traits.email", ("Email", "Alt Email", "Not There")),
            ("timestamp", ("when",)),
            ("properties.order_id", ("Order ID",)),
            ("context.Facebook Offline Conversions.leadId", ("Shop Lead",)),
            ("event", ("Kind",)),
        ),
    )
    with open_input(str(write(tmp_path, "x.csv", text)), "csv", settings) as reader:
        first, second = reader.records()
        report = reader.csv_report
    assert first.dayfirst and second.dayfirst
    assert first.message == {
        "type": "track",
        "event": "Lead Captured",
        "context": {
            "traits": {"email": "alt@x.co"},  # the first non-empty of the listed headers
            "Facebook Offline Conversions": {"leadId": "l:123"},
        },
        "timestamp": "2026-11-01",
        "properties": {"order_id": "o1"},
    }
    # an empty event cell is absent (the mapper rejects missing_event), no fallback
    assert second.message == {
        "type": "track",
        "context": {"traits": {"email": "main@x.co"}},
        "timestamp": "2026-11-02",
        "properties": {"order_id": "o2"},
    }
    assert report is not None
    assert report.columns == [
        ("properties.order_id", "Order ID"),
        ("context.traits.email", "email"),
        ("context.traits.email", "ALT EMAIL"),
        ("timestamp", "When"),
        ("context.Facebook Offline Conversions.leadId", "Shop Lead"),
        ("event", "Kind"),
    ]
    assert report.ignored == ["Ghost"] and report.missing == ["Not There"]


def test_explicit_path_blocks_auto_detection_and_duplicates_are_ignored(tmp_path: Path) -> None:
    text = "timestamp,Paid At,Phone,Mobile,E-Mail,email\n2020,2026-11-05,555,666,,b@x.co\n"
    settings = CsvSettings(columns=(("timestamp", ("Paid At",)),))
    with open_input(str(write(tmp_path, "y.csv", text)), "auto", settings) as reader:
        (record,) = reader.records()
        report = reader.csv_report
    assert record.message == {
        "type": "track",
        "event": "Order Completed",
        "timestamp": "2026-11-05",
        "context": {"traits": {"phone": "555"}},  # only the first header of a path is used
    }
    assert report is not None
    assert report.columns == [
        ("timestamp", "Paid At"),
        ("context.traits.phone", "Phone"),
        ("context.traits.email", "E-Mail"),
    ]
    assert report.ignored == ["timestamp", "Mobile", "email"]


def test_meta_template_csv_is_read_as_meta_native_rows(shared_dir: Path) -> None:
    """Meta's template is the meta-offline preset since issue 16: its rows already are
    Meta events (their own names), routed to [destination] dataset."""
    path = shared_dir / "peers" / "meta-ocu" / "rich.csv"
    with open_input(str(path), "auto", CSV, datasets=("123",)) as reader:
        records = list(reader.records())
        report = reader.csv_report
        assert reader.bytes_read == path.stat().st_size
    assert len(records) == 1000 and all(r.error is None for r in records)
    assert [r.line for r in records] == list(range(2, 1002))
    first = records[0].message
    assert isinstance(first, dict)
    assert first["timestamp"] == "2018-02-13T10:19:00.000Z"
    assert first["event"] == "CompleteRegistration"
    assert records[0].native is not None
    assert records[0].native.event_name == "CompleteRegistration"
    assert records[0].native.datasets == ()  # none in the file: [destination] dataset
    assert first["context"]["traits"]["address"] == {
        "city": "San Francisco",
        "state": "California",
        "postalCode": "94115",
        "country": "US",
    }
    assert "value" not in first.get("properties", {})  # empty cell: absent
    assert first["properties"]["kcal"] == "435"  # custom_data.kcal
    assert first["integrations"]["Facebook Offline Conversions"] == {
        "dataProcessingOptions": [["LDU"], 1, 1000]
    }
    assert report is not None and report.delimiter == "," and report.preset == "meta-offline"
    assert {header for _, header in report.columns} == {
        "email", "phone", "fn", "ln", "dob", "ct", "st", "zip", "country", "event_time",
        "value", "currency", "order_id", "item_number", "custom_data.kcal",
        "custom_data.rating", "custom_data.food", "custom_data.drink",
    }  # fmt: skip
    assert {header for header, _ in report.read} >= {"event_name", "data_processing_options"}
    assert "Item ID" in report.ignored and "Item Price" in report.ignored


def test_csv_bom_gzip_quoted_newlines_and_extra_cells(tmp_path: Path) -> None:
    text = '\ufeffemail,notes\r\n"a@x.co","two\r\nlines"\r\n\r\nb@x.co,x,extra,cells\r\n,\r\n'
    path = write(tmp_path, "q.csv.gz", gzip.compress(text.encode()))
    records = read_all(path)
    track = {"type": "track", "event": "Order Completed"}
    assert [(r.line, r.message) for r in records] == [
        (2, {**track, "context": {"traits": {"email": "a@x.co"}}}),
        (5, {**track, "context": {"traits": {"email": "b@x.co"}}}),
        (6, track),
    ]


def test_csv_invalid_utf8_row_and_huge_cell(tmp_path: Path) -> None:
    huge = "9" * 300_000  # above the csv module's default field size limit
    data = b"email,revenue\nbad\xff@x.co,1\n" + f'ok@x.co,"{huge}"\n'.encode()
    strict = CsvSettings(encoding="utf-8")  # set explicitly: no cp1252 fallback
    bad, ok = read_all(write(tmp_path, "h.csv", data), csv=strict)
    assert bad.error == "invalid_row" and bad.line == 2 and "'email'" in bad.detail
    assert bad.raw == "bad\ufffd@x.co,1"
    assert ok.error is None and ok.message["properties"]["revenue"] == huge  # type: ignore[index]


def test_csv_without_known_columns_still_yields_every_row(tmp_path: Path) -> None:
    with open_input(str(write(tmp_path, "n.csv", "foo,bar\n1,2\n3,4\n")), "auto", CSV) as r:
        records = list(r.records())
        assert r.csv_report is not None
        assert r.csv_report.columns == [] and r.csv_report.ignored == ["foo", "bar"]
    assert messages(records) == [{"type": "track", "event": "Order Completed"}] * 2


def test_empty_and_header_only_inputs(tmp_path: Path) -> None:
    with open_input(str(write(tmp_path, "e.csv", "")), "auto", CSV) as reader:
        assert list(reader.records()) == [] and reader.csv_report is None
    with open_input(str(write(tmp_path, "h.csv", "email,date\n")), "auto", CSV) as reader:
        assert list(reader.records()) == []
        assert reader.csv_report is not None and len(reader.csv_report.columns) == 2
    assert read_all(write(tmp_path, "e.jsonl", "")) == []
    assert read_all(write(tmp_path, "e.jsonl.gz", b"")) == []
    assert read_all(write(tmp_path, "w.jsonl.gz", gzip.compress(b"\n \n"))) == []


def test_csv_report_is_known_before_the_rows_are_consumed(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "email\n" + "a@x.co\n" * 10)
    with open_input(str(path), "auto", CSV) as reader:
        rows = reader.records()
        next(rows)
        assert reader.csv_report is not None
        assert reader.csv_report.columns == [("context.traits.email", "email")]


def test_stdin_sniffs_csv(tmp_path: Path) -> None:
    with open_input("-", "auto", CSV, stdin=io.BytesIO(b"email;date\na@x.co;2026\n")) as r:
        assert r.format == "csv"
        (record,) = r.records()
    assert record.message == {
        "type": "track",
        "event": "Order Completed",
        "context": {"traits": {"email": "a@x.co"}},
        "timestamp": "2026",
    }


# --- opening errors ----------------------------------------------------------------------


def test_missing_directory_and_bad_gzip_are_input_errors(tmp_path: Path) -> None:
    cases = {
        str(tmp_path / "nope.jsonl"): "no such file",
        str(tmp_path): "directory",
        str(write(tmp_path, "fake.jsonl.gz", b'{"event": "A"}\n')): "not a gzip file",
    }
    for path, words in cases.items():
        with pytest.raises(InputError) as info:
            open_input(path, "auto", CSV)
        assert path in str(info.value) and words in str(info.value)
        assert info.value.exit_status == ExitStatus.USAGE


def test_unknown_extension_is_sniffed_like_stdin(tmp_path: Path) -> None:
    path = write(tmp_path, "data.txt", '{"event": "A"}\n')
    assert messages(read_all(path)) == [{"event": "A"}]  # by its first character: JSON
    table = write(tmp_path, "export.txt", "email\na@x.co\n")
    assert messages(read_all(table))[0] == {
        "type": "track",
        "event": "Order Completed",
        "context": {"traits": {"email": "a@x.co"}},
    }
    packed = write(tmp_path, "export.dat", gzip.compress(b'{"event": "B"}\n'))
    assert messages(read_all(packed)) == [{"event": "B"}]  # gzip by its content too
    assert read_all(path, "csv") == []  # forced: the JSON line is a CSV header, no rows


def test_truncated_gzip_is_an_input_error_while_reading(tmp_path: Path) -> None:
    body = gzip.compress(("".join(f'{{"event": "{i}"}}\n' for i in range(5000))).encode())
    path = write(tmp_path, "cut.jsonl.gz", body[: len(body) // 2])
    with open_input(str(path), "auto", CSV) as reader, pytest.raises(InputError) as info:
        list(reader.records())
    assert str(path) in str(info.value)


def test_unreadable_file_is_an_input_error() -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        path = Path(folder) / "secret.jsonl"
        path.write_text('{"event": "A"}\n')
        path.chmod(0)
        as_root = os.geteuid() == 0
        if as_root:  # root reads anything: check as an unprivileged user, then switch back
            os.seteuid(65534)
        try:
            with pytest.raises(InputError) as info:
                open_input(str(path), "auto", CSV)
        finally:
            if as_root:
                os.seteuid(0)
    assert str(info.value) == f"{path}: permission denied (cannot read the file)"


# --- streaming ---------------------------------------------------------------------------


class TrickleStdin(io.RawIOBase):
    """A pipe that hands out one line per read and remembers how far it was read."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self._lines = lines
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        self.reads += 1
        return next(self._lines, b"")


def test_records_are_yielded_before_the_input_is_consumed() -> None:
    """Inputs are handed out a chunk at a time (a block of lines: BLOCK_BYTES): the first
    records come once one block is read, long before the end of a larger input."""
    stdin = TrickleStdin(f'{{"event": "E{i}"}}\n'.encode() for i in range(100_000))  # 1.9 MB
    reader = open_input("-", "auto", CSV, stdin=stdin)  # type: ignore[arg-type]
    records = reader.records()
    assert next(records).message == {"event": "E0"}
    assert 0 < reader.bytes_read <= BLOCK_BYTES + 64 * 1024
    assert stdin.reads < 40_000
    assert next(records).message == {"event": "E1"}


def test_big_gzip_streams(tmp_path: Path) -> None:
    rng = random.Random(7)
    lines = (json.dumps({"event": "E", "n": rng.random()}) + "\n" for _ in range(60_000))
    path = write(tmp_path, "big.jsonl.gz", gzip.compress("".join(lines).encode()))
    with open_input(str(path), "auto", CSV) as reader:
        records = reader.records()
        next(records)  # one block of 2.2 MB of lines decompressed: about a quarter of the file
        assert 0 < reader.bytes_read < path.stat().st_size // 2
        assert sum(1 for _ in records) == 59_999
        assert reader.bytes_read == path.stat().st_size


# --- chunks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [*(pytest.param(n, marks=pytest.mark.slow) for n in (1, 2, 3)), 100, 1000, 1 << 20],
)  # (blocks of 1-3 bytes: a read per byte of ~700 lines)
@pytest.mark.parametrize("ending", [b"\n", b""])
@pytest.mark.parametrize("spans", [False, True], ids=["bytes", "spans"])
def test_chunks_number_lines_as_one_block_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, ending: bytes, spans: bool
) -> None:
    """However the lines are cut into chunks (a plain file's as positions, a stream's as
    bytes), the chunks hold every byte once and their records are numbered, parsed and
    rejected exactly as the whole input read as one block."""
    path = write_edge_input(tmp_path / "in.jsonl")
    path.write_bytes(path.read_bytes().rstrip(b"\n") + b"\n\n  \n" + b'{"bad"' + ending)
    data = path.read_bytes()
    source = str(path) if spans else "-"
    expected = [(r.line, r.message, r.error) for r in jsonl_records(block_lines(data), source)]
    monkeypatch.setattr(reader_module, "BLOCK_BYTES", size)
    stdin = None if spans else io.BytesIO(data)
    with open_input(source, "auto", CSV, stdin=stdin) as reader:
        chunks = list(reader.chunks())
        assert reader.bytes_read == len(data)
        assert all(isinstance(chunk.data, FileSpan) for chunk in chunks) is spans
        blocks = [c.data.read(source) if isinstance(c.data, FileSpan) else c.data for c in chunks]
        assert b"".join(blocks) == data  # type: ignore[arg-type]
        got = [(r.line, r.message, r.error) for chunk in chunks for r in chunk.records()]
        assert {r.source for chunk in chunks for r in chunk.records()} == {source}
    assert got == expected
    assert got[-1] == (len(data.splitlines()), None, "invalid_json")
    if size <= 100:
        assert len(chunks) > 100


def test_gzip_and_fifo_chunks_stay_bytes(tmp_path: Path) -> None:
    """Only a plain regular file is handed out by position: a gzip file's chunks are its
    decompressed lines, and a named pipe cannot be read at an offset."""
    data = write_edge_input(tmp_path / "in.jsonl").read_bytes()
    packed = write(tmp_path, "in.jsonl.gz", gzip.compress(data))
    with open_input(str(packed), "auto", CSV) as reader:
        chunks = list(reader.chunks())
    assert all(isinstance(chunk.data, bytes) for chunk in chunks)
    assert b"".join(chunk.data for chunk in chunks) == data  # type: ignore[misc]

    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    writer = ["sh", "-c", f"cat '{tmp_path / 'in.jsonl'}' > '{fifo}'"]
    with subprocess.Popen(writer), open_input(str(fifo), "auto", CSV) as reader:
        chunks = list(reader.chunks())
    assert all(isinstance(chunk.data, bytes) for chunk in chunks)
    assert b"".join(chunk.data for chunk in chunks) == data  # type: ignore[misc]


def test_a_span_the_file_no_longer_holds_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"a": 1}\n' * 10)
    with path.open("rb") as file:
        fd = file.fileno()
        assert FileSpan(fd, 9, 18).read("in.jsonl") == b'{"a": 1}\n' * 2
        with pytest.raises(InputError, match=r"^in.jsonl: read failed: the file shrank"):
            FileSpan(fd, 81, 18).read("in.jsonl")
    with pytest.raises(InputError, match=r"^in.jsonl: read failed: .*Bad file descriptor"):
        FileSpan(fd, 0, 9).read("in.jsonl")


def test_csv_and_json_array_chunks_are_record_lists(tmp_path: Path) -> None:
    rows = "".join(f"e{i}@x.co,{i}\n" for i in range(2500))
    with open_input(str(write(tmp_path, "r.csv", "email,total\n" + rows)), "auto", CSV) as r:
        chunks = list(r.chunks())
    assert [len(c.data) for c in chunks] == [CHUNK_RECORDS, CHUNK_RECORDS, 500]  # type: ignore[arg-type]
    assert [c.first_line for c in chunks] == [2, 2 + CHUNK_RECORDS, 2 + 2 * CHUNK_RECORDS]
    text = "[" + ",".join(f'{{"n": {i}}}' for i in range(1500)) + "]"
    with open_input(str(write(tmp_path, "a.json", text)), "auto", CSV) as r:
        chunks = list(r.chunks())
    assert [len(c.data) for c in chunks] == [CHUNK_RECORDS, 500]  # type: ignore[arg-type]
    assert [r.message for c in chunks for r in c.records()] == [{"n": i} for i in range(1500)]


# --- properties --------------------------------------------------------------------------

ANY_BYTES = st.binary(max_size=400) | st.lists(
    st.sampled_from([b"{", b"}", b"[", b"]", b'"', b",", b";", b"\n", b"\r", b" ", b"\xef\xbb\xbf",
                     b'{"batch": [1, {}]}', b"\xff", b"a", b"1e999", b"NaN", b"\t", b"\x00"]),
    max_size=60,
).map(b"".join)  # fmt: skip


def _blank_lines_removed(data: bytes) -> list[int]:
    """1-based numbers of the lines that are not blank (a BOM at the start counts as blank)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    return [n for n, line in enumerate(data.split(b"\n"), 1) if line.strip(b" \t\r\n\x0b\x0c")]


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read_bytes(factory: pytest.TempPathFactory, name: str, data: bytes) -> list[Record]:
    """``data`` as the file ``name`` (in a new directory), read."""
    path = factory.mktemp("h") / name
    path.write_bytes(data)
    return read_all(path)


@PROPERTY
@given(data=ANY_BYTES)
def test_any_bytes_as_jsonl_give_records_for_every_line(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    records = _read_bytes(tmp_path_factory, "any.jsonl", data)
    assert all(isinstance(r, Record) and r.error in (None, "invalid_json") for r in records)
    assert sorted({r.line for r in records}) == _blank_lines_removed(data)


@PROPERTY
@given(data=ANY_BYTES)
def test_any_bytes_as_csv_never_raise(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    records = _read_bytes(tmp_path_factory, "any.csv", data)
    lines = [r.line for r in records]
    assert lines == sorted(set(lines)) and all(line >= 2 for line in lines)
    for record in records:
        assert record.error == "invalid_row" or isinstance(record.message, dict)


@PROPERTY
@given(data=ANY_BYTES.map(lambda b: b.replace(b'"', b"").replace(b"\r", b"")))
def test_quote_free_csv_rows_are_all_accounted_for(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    records = _read_bytes(tmp_path_factory, "plain.csv", data)
    rows = [n for n, line in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), 1) if line]
    assert [r.line for r in records] == rows[1:]  # the first row is the header
