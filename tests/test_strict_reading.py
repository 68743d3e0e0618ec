"""Issue 19, the inputs: broken input never swallows or loses records silently.

A CSV quote that is never closed costs its row, not the rest of the file; a line or row
over ``[input] max_record_bytes`` is a ``too_large`` reject and reading goes on; a NUL
flood or ``/dev/zero`` ends with a clear error in bounded memory; an input that changes
while it is read is an error on every path (in-process, pool, gzip, stdin from a file);
and an input error after events were sent exits 1 with the summary, not 2.

Real files and real processes throughout; the fake Graph API where events are sent.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fbocli.inputs.reader as reader_module
from fbocli.errors import InputError
from fbocli.inputs.csvrows import MAX_ROW_LINES
from fbocli.inputs.reader import open_input
from fbocli.inputs.record import RAW_LIMIT, Record
from fbocli.pool import cpu_count
from fbocli.settings import CsvSettings
from tests.fakegraph import Fault
from tests.helpers import (
    DS1,
    NOW,
    check_summary,
    cli_env,
    event_requests,
    fake_graph,
    invoke,
    journal_keys,
    received_keys,
    run_cli,
    run_cli_peak,
    start_cli,
    summary,
    track_events,
    upload_args,
    write_config,
    write_jsonl,
)

LIMIT = 1_000_000  # the smallest [input] max_record_bytes: tests stay small
LIMITED = f"[input]\nmax_record_bytes = {LIMIT}\n"
HEADER = "Date,Email,Total,Note"


def pos_rows(n: int, notes: dict[int, str] | None = None) -> list[str]:
    """A POS export: the header, then ``n`` sales (row ``i`` on line ``i + 2``), each
    with a ``Note`` (``notes[i]`` where given, written as it is)."""
    notes = notes or {}
    rows = [HEADER]
    for i in range(n):
        rows.append(f"2026-11-10 12:00:00,u{i}@example.com,{i + 1}.00,{notes.get(i, 'fine')}")
    return rows


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def rejects_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    path = data.get("rejects_file")
    if not path:
        return []
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines()]


def validate(tmp_path: Path, *inputs: str, config: Path, extra: tuple[str, ...] = ()) -> Any:
    args = ["validate", *inputs, "-c", str(config), "--now", NOW, "--json", *extra]
    return invoke(args, tmp_path / "state")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')


@pytest.fixture
def limited(tmp_path: Path) -> Path:
    """The config with the smallest record size limit (1,000,000 bytes)."""
    routes = f'"Order Completed" = "{DS1}"'
    return write_config(tmp_path / "limited.toml", routes=routes, more=LIMITED)


# --- item 1: a CSV quote that is never closed ----------------------------------------------


def test_an_unclosed_quote_costs_its_row_not_the_rest_of_the_file(
    tmp_path: Path, config: Path
) -> None:
    """The issue's file: a Note cell at line 12 opens a quote and never closes it. Before,
    it absorbed the 988 rows after it (read 11, rejected 0, exit 0)."""
    path = write_csv(tmp_path / "pos.csv", pos_rows(1000, {10: '"Leave at the back door'}))
    env = cli_env(tmp_path)
    run = run_cli(upload_args(path, config, "--json", command="validate"), env)
    data = summary(run.stdout)
    assert data["records"] == {"read": 1000, "accepted": 999, "rejected": 1, "skipped": 0}
    assert data["reasons"] == {"invalid_row": 1}
    assert (data["csv"][0]["lines"], data["csv"][0]["rows"]) == (1001, 1000)
    [reject] = rejects_of(data)
    assert (reject["line"], reject["reason"]) == (12, "invalid_row")
    assert reject["detail"] == (
        f'the `Note` cell opens a quote (") at line 12 that is not closed within '
        f"{MAX_ROW_LINES} lines: the row is not read, and reading goes on at line 13"
    )
    assert reject["record"] == '2026-11-10 12:00:00,u10@example.com,11.00,"Leave at the back door'
    assert run.code == 1 and "fbocli: error: 1 record rejected (invalid_row 1)" in run.stderr
    # The same file uploaded (a dry run): every other row becomes an event.
    run = run_cli(upload_args(path, config, "--json", "--dry-run"), env)
    assert summary(run.stdout)["events"]["built"] == 999


def test_a_quote_open_at_the_end_of_the_file_is_never_closed(tmp_path: Path, config: Path) -> None:
    rows = pos_rows(6, {1: '"two\nlines"', 3: '"oops'})  # a real two-line cell, then a stray
    path = write_csv(tmp_path / "pos.csv", rows)
    result = validate(tmp_path, str(path), config=config)
    data = summary(result)
    assert data["records"] == {"read": 6, "accepted": 5, "rejected": 1, "skipped": 0}
    [reject] = rejects_of(data)
    assert reject["line"] == 6  # rows on lines 2, 3-4 (the two-line cell), 5, 6, 7, 8
    assert reject["detail"].startswith(
        'the `Note` cell opens a quote (") at line 6 that is never closed: the row is not '
        "read, and reading goes on at line 7"
    )
    assert (data["csv"][0]["lines"], data["csv"][0]["rows"]) == (8, 6)
    assert (
        "lines read"
        in invoke(
            ["validate", str(path), "-c", str(config), "--now", NOW], tmp_path / "state"
        ).stdout
    )  # validate's report says the physical lines beside the rows


def test_a_quoted_cell_over_the_size_limit_is_unclosed_and_reading_goes_on(
    tmp_path: Path, limited: Path
) -> None:
    """A quote that runs past max_record_bytes (in fewer than 100 lines) ends its row; the
    lines it took are read again as rows of their own."""
    filler = ["x" * 40_000] * 40  # 1.6 MB in 40 lines: no line is too large by itself
    after = [row.replace("@", ".after@") for row in pos_rows(2)[1:]]
    rows = [*pos_rows(2, {1: '"runaway'}), *filler, *after]
    path = write_csv(tmp_path / "pos.csv", rows)
    data = summary(validate(tmp_path, str(path), config=limited))
    rejects = rejects_of(data)
    assert rejects[0]["line"] == 3
    assert rejects[0]["detail"].startswith(
        'the `Note` cell opens a quote (") at line 3 that is not closed within 1,000,000 '
        "characters ([input] max_record_bytes)"
    )
    assert data["records"]["read"] == 2 + 40 + 2  # every physical line is a record
    assert data["records"]["accepted"] == 3  # line 2 and the two rows after the filler
    assert {r["line"] for r in rejects[1:]} == set(range(4, 44))  # the filler, line by line


def _csv_records(path: Path, limit: int = LIMIT) -> list[Record]:
    with open_input(str(path), "auto", CsvSettings(), max_record_bytes=limit) as reader:
        return list(reader.records())


def test_a_row_may_take_100_lines_and_no_more(tmp_path: Path) -> None:
    for spanned, error in ((MAX_ROW_LINES, None), (MAX_ROW_LINES + 1, "invalid_row")):
        note = '"' + "\n" * (spanned - 1) + 'end"'  # a cell spanning `spanned` lines
        path = write_csv(tmp_path / "pos.csv", pos_rows(3, {1: note}))
        records = _csv_records(path)
        assert records[1].error == error, spanned
        assert records[-1].error is None and records[-1].line == 3 + spanned  # the last row


def test_a_quote_open_when_a_line_over_the_limit_comes(tmp_path: Path) -> None:
    """The row ends before the long line, which is then a too_large row of its own."""
    rows = [*pos_rows(2, {1: '"open'}), "y" * (LIMIT + 5), *pos_rows(4)[3:]]
    records = _csv_records(write_csv(tmp_path / "pos.csv", rows))
    assert [(r.line, r.error) for r in records] == [
        (2, None), (3, "invalid_row"), (4, "too_large"), (5, None), (6, None),
    ]  # fmt: skip
    assert records[1].detail.startswith(
        'the `Note` cell opens a quote (") at line 3 that is not closed before line 4, which '
        "is longer than 1,000,000 characters"
    )


def test_a_header_row_with_a_stray_quote_is_read_as_its_line(tmp_path: Path, config: Path) -> None:
    rows = ['Date,Email,Total,"Note', *pos_rows(3)[1:]]
    path = write_csv(tmp_path / "pos.csv", rows)
    result = validate(tmp_path, str(path), config=config)
    data = summary(result)
    assert data["records"] == {"read": 3, "accepted": 3, "rejected": 0, "skipped": 0}
    assert (
        f"fbocli: warning: {path}: line 1: in the header row, the `Note` cell opens a quote"
        in result.stderr
    )


def test_a_header_row_over_the_limit_stops_before_anything_is_sent(
    tmp_path: Path, limited: Path
) -> None:
    path = write_csv(tmp_path / "wide.csv", [",".join(["Email"] * 300_000), "a@x.co"])
    run = run_cli(upload_args(path, limited, "-q", command="validate"), cli_env(tmp_path))
    assert run.code == 2
    assert run.stderr.startswith(
        f"fbocli: error: {path}: the header row cannot be read: the line is 1,799,999 "
        "characters long, more than [input] max_record_bytes (1,000,000)"
    )


SQUARE_HEADER = "Date,Time,Time Zone,Total Collected,Transaction ID,Event Type,Customer ID"


def test_the_customer_file_is_read_strictly_too(tmp_path: Path) -> None:
    """A stray quote in the customer list costs that customer, not every customer after
    it (who would then be 'not in the customer file')."""
    sales = [SQUARE_HEADER]
    people = ["Square Customer ID,Email Address,Note"]
    for i in range(6):
        sales.append(f"2026-11-18,09:00:00,Paris,$5.00,T{i},Payment,C{i}")
        people.append(f"C{i},c{i}@example.com," + ('"VIP' if i == 1 else "ok"))
    path = write_csv(tmp_path / "transactions.csv", sales)
    customers = write_csv(tmp_path / "customers.csv", people)
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')
    result = validate(tmp_path, str(path), config=config, extra=("--customers", str(customers)))
    data = summary(result)
    assert data["csv"][0]["customers"]["joined"] == 5
    assert data["reasons"] == {"no_match_keys": 1}  # C1 alone
    assert (
        f'fbocli: warning: {customers}: line 3: the `Note` cell opens a quote (") at line 3 '
        "that is never closed; left out" in result.stderr
    )


def test_dev_zero_as_the_customer_file_ends_with_a_clear_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "transactions.csv", [SQUARE_HEADER])
    config = write_config(tmp_path / "fbocli.toml")
    args = upload_args(path, config, "--customers", "/dev/zero", command="validate")
    run = run_cli(args, cli_env(tmp_path), timeout=60)
    assert run.code == 2
    assert run.stderr.startswith("fbocli: error: /dev/zero: line 1: more than 4,000,000 bytes")
    assert "this is not text" in run.stderr


# --- item 10: a maximum record size --------------------------------------------------------


def _with_a_long_line(path: Path, long: bytes) -> list[dict[str, Any]]:
    """Three events, the ``long`` line, three events: the file's JSON lines."""
    messages = track_events(6)
    lines = [json.dumps(m).encode() for m in messages]
    path.write_bytes(b"\n".join([*lines[:3], long, *lines[3:]]) + b"\n")
    return messages


LONG_JSON = b'{"type": "track", "note": "' + b"a" * 1_500_000 + b'"}'


@pytest.mark.parametrize("path_kind", ["plain", "pool", "gzip", "stdin"])
def test_a_json_line_over_the_limit_is_too_large_and_reading_goes_on(
    tmp_path: Path, limited: Path, path_kind: str
) -> None:
    if path_kind == "pool" and cpu_count() < 2:
        pytest.skip("one core: no mapping pool")
    path = tmp_path / "in.jsonl"
    _with_a_long_line(path, LONG_JSON)
    env = cli_env(tmp_path, FBOCLI_PARALLEL_MIN_BYTES="0" if path_kind == "pool" else "")
    stdin = None
    if path_kind == "gzip":
        path = path.with_suffix(".jsonl.gz")
        path.write_bytes(gzip.compress((tmp_path / "in.jsonl").read_bytes()))
    if path_kind == "stdin":
        stdin = path.read_bytes()
    name = "-" if stdin is not None else str(path)
    run = run_cli(upload_args(name, limited, "--json", command="validate"), env, input=stdin)
    data = summary(run.stdout)
    assert data["records"] == {"read": 7, "accepted": 6, "rejected": 1, "skipped": 0}
    [reject] = rejects_of(data)
    assert (reject["line"], reject["reason"]) == (4, "too_large")
    assert reject["detail"] == (
        f"the line is {len(LONG_JSON):,} bytes long, more than [input] max_record_bytes "
        "(1,000,000): it is not read (the rejects file keeps its start)"
    )
    assert reject["record"] == LONG_JSON[:RAW_LIMIT].decode()  # its start, not all of it


def test_a_csv_row_over_the_limit_is_too_large_and_reading_goes_on(
    tmp_path: Path, limited: Path
) -> None:
    notes = {0: "m" * 100_000, 1: "n" * 1_200_000}  # (the first runs past the 64 KB sniffed)
    path = write_csv(tmp_path / "pos.csv", pos_rows(4, notes))
    data = summary(validate(tmp_path, str(path), config=limited))
    assert data["records"] == {"read": 4, "accepted": 3, "rejected": 1, "skipped": 0}
    [reject] = rejects_of(data)
    size = len(pos_rows(4, notes)[2])
    assert (reject["line"], reject["reason"]) == (3, "too_large")
    assert reject["detail"].startswith(f"the line is {size:,} characters long, more than")
    assert len(reject["record"]) == RAW_LIMIT


def test_a_line_as_long_as_the_limit_is_read(tmp_path: Path) -> None:
    """The limit counts the line without its line break, on the block and span paths."""
    body = b'{"n": "' + b"a" * (LIMIT - 10) + b'"}'
    assert len(body) == LIMIT - 1
    for extra, expected in ((b"", None), (b"b", None), (b"bb", "too_large")):
        line = body[:-2] + extra + body[-2:]
        path = tmp_path / "edge.jsonl"
        path.write_bytes(b'{"a": 1}\n' + line + b'\n{"a": 2}\n')
        for stdin in (None, path.read_bytes()):
            name = "-" if stdin is not None else str(path)
            reader = open_input(
                name,
                "auto",
                CsvSettings(),
                stdin=io.BytesIO(stdin) if stdin is not None else None,
                max_record_bytes=LIMIT,
            )
            with reader:
                errors = [r.error for r in reader.records()]
            assert errors == [None, expected, None], (len(line), stdin is None)


@pytest.fixture(scope="module")
def baseline_peak(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The peak memory (MB) of validating a one-event file: what any run takes."""
    tmp = tmp_path_factory.mktemp("baseline")
    config = write_config(tmp / "fbocli.toml")
    small = write_jsonl(tmp / "small.jsonl", track_events(1))
    _, peak = run_cli_peak(upload_args(small, config, command="validate"), cli_env(tmp))
    return peak


@pytest.mark.parametrize("name", ["nul.jsonl", "nul.csv"])
def test_a_nul_flood_ends_with_a_clear_error_in_bounded_memory(
    tmp_path: Path, name: str, baseline_peak: float
) -> None:
    """64 MB of NUL bytes and no line break: refused after the first 4 MB ("this is not
    text"), never held whole (before: read whole, 3 GB and a MemoryError for /dev/zero)."""
    path = tmp_path / name
    with path.open("wb") as out:
        out.write(b'{"a": 1}\n' if name.endswith(".jsonl") else b"a,b\n")
        for _ in range(64):
            out.write(bytes(1 << 20))
    config = write_config(tmp_path / "fbocli.toml")
    run, peak = run_cli_peak(upload_args(path, config, "-q", command="validate"), cli_env(tmp_path))
    assert run.code == 2
    assert run.stderr.startswith(f"fbocli: error: {path}: line 2: more than 4,000,000 ")
    assert "holding NUL" in run.stderr and "this is not text" in run.stderr
    assert "Traceback" not in run.stderr
    assert peak < baseline_peak + 40, (peak, baseline_peak)  # the limit and a block, not 64 MB


@pytest.mark.parametrize("how", ["file", "stdin", "jsonl"])
def test_dev_zero_ends_with_a_clear_error(tmp_path: Path, how: str, baseline_peak: float) -> None:
    """Sniffed (as CSV: its first byte is not ``{``), or read as JSON lines (blocks)."""
    config = write_config(tmp_path / "fbocli.toml")
    env = cli_env(tmp_path)
    name = "-" if how == "stdin" else "/dev/zero"
    stdin = Path("/dev/zero") if how == "stdin" else None
    extra = ("--format", "jsonl") if how == "jsonl" else ()
    started = time.monotonic()
    run, peak = run_cli_peak(
        upload_args(name, config, "--dry-run", *extra, command="upload"),
        env,
        stdin=stdin,
        timeout=60,
    )
    assert run.code == 2, run.stderr
    unit = "bytes" if how == "jsonl" else "characters"
    assert f"line 1: more than 4,000,000 {unit} without a line break" in run.stderr
    assert "this is not text" in run.stderr
    assert peak < baseline_peak + 40 and time.monotonic() - started < 60


def test_a_json_array_document_of_nul_bytes_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_bytes(b"[" + bytes(3 * LIMIT))
    with (
        open_input(str(path), "auto", CsvSettings(), max_record_bytes=LIMIT) as reader,
        pytest.raises(InputError, match=r"array\.json: line 1: .* this is not text"),
    ):
        list(reader.records())


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (999_999, "input.max_record_bytes must be between 1000000 and 1000000000, got 999999"),
        ('"4MB"', "input.max_record_bytes must be an integer, got a string"),
    ],
)
def test_max_record_bytes_is_checked(tmp_path: Path, value: object, problem: str) -> None:
    path = write_config(tmp_path / "bad.toml", more=f"[input]\nmax_record_bytes = {value}\n")
    result = invoke(["validate", "-", "-c", str(path)], tmp_path / "state", input="")
    assert result.exit_code == 2
    assert f"configuration error in {path}: {problem}" in result.stderr


# --- item 2: one check of every input at its end -------------------------------------------

EVENTS = b"".join(b'{"type": "track", "event": "E%d"}\n' % i for i in range(4000))
CSV_ROWS = b"email,total\n" + b"".join(b"e%d@x.co,%d\n" % (i, i) for i in range(8000))


def _shrink(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 3)


def _grow(path: Path) -> None:
    with path.open("ab") as out:
        out.write(b'{"type": "track", "event": "late"}\n')


def _replace(path: Path) -> None:
    fresh = path.with_name(path.name + ".new")
    fresh.write_bytes(path.read_bytes())
    fresh.replace(path)


def _rewrite(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data.replace(b"E1", b"X1"))  # the same size, other bytes
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))


CHANGES = {
    "shrank": (_shrink, "the file shrank while it was read"),
    "grew": (_grow, "the file grew while it was read"),
    "replaced": (_replace, "it was replaced, moved or removed while it was read"),
    "rewritten": (_rewrite, "the file was rewritten while it was read"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("kind", ["jsonl", "gzip", "csv", "stdin", "array"])
def test_an_input_changed_while_it_is_read_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, change: str
) -> None:
    """Every path of the reader meets the same end check: spans of a plain file (the path
    a 1-CPU host or a small input takes, read here chunk by chunk in-process), a gzip
    stream, a CSV, standard input redirected from a file, a JSON array document."""
    monkeypatch.setattr(reader_module, "BLOCK_BYTES", 4096)  # many chunks
    alter, words = CHANGES[change]
    if kind == "stdin" and change == "replaced":
        pytest.skip("standard input has no name to be replaced under")
    data = {"csv": CSV_ROWS, "array": b"[" + EVENTS.replace(b"}\n", b"},\n") + b"{}]"}
    body = data.get(kind, EVENTS)
    name = {"gzip": "in.jsonl.gz", "csv": "in.csv", "array": "in.json"}.get(kind, "in.jsonl")
    path = tmp_path / name
    path.write_bytes(gzip.compress(body, mtime=0) if kind == "gzip" else body)
    with path.open("rb") as stdin:
        source = "-" if kind == "stdin" else str(path)
        with open_input(source, "auto", CsvSettings(), stdin=stdin) as reader:
            chunks = reader.chunks()
            next(chunks)
            alter(path)
            with pytest.raises(InputError) as info:
                for chunk in chunks:
                    list(chunk.records())
    assert str(info.value).startswith(f"{source}: read failed: {words}")


def test_an_input_read_whole_passes_the_end_check(tmp_path: Path) -> None:
    """Unchanged inputs of every kind read to the end without an error, a last line
    without a line break included (it is whole)."""
    for name, body in (
        ("a.jsonl", EVENTS.rstrip(b"\n")),
        ("b.jsonl.gz", gzip.compress(EVENTS)),
        ("c.csv", CSV_ROWS),
        ("d.json", b"[{}]"),
        ("e.jsonl", b""),
    ):
        path = tmp_path / name
        path.write_bytes(body)
        with open_input(str(path), "auto", CsvSettings()) as reader:
            assert all(isinstance(r, Record) for r in reader.records())
        with path.open("rb") as stdin, open_input("-", "auto", CsvSettings(), stdin=stdin) as r:
            list(r.records())


@pytest.mark.parametrize("how", ["half", "tail"])
def test_a_cut_gzip_stream_on_stdin_is_an_input_error(tmp_path: Path, how: str) -> None:
    packed = gzip.compress(EVENTS)
    cut = packed[: len(packed) // 2] if how == "half" else packed[:-4]  # the size trailer
    config = write_config(tmp_path / "fbocli.toml")
    run = run_cli(upload_args("-", config, "-q", command="validate"), cli_env(tmp_path), input=cut)
    assert run.code == 2
    assert run.stderr.startswith("fbocli: error: -: read failed: ")
    assert "Compressed file ended before the end-of-stream marker was reached" in run.stderr


# --- item 9 and 2 end to end: what was sent before an input error --------------------------


@contextlib.contextmanager
def two_cores() -> Iterator[None]:
    """Processes started inside see at most two usable cores (they inherit it)."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, sorted(cores)[:2])
    try:
        yield
    finally:
        os.sched_setaffinity(0, cores)


def _upload_env(tmp_path: Path, url: str, pool: bool) -> dict[str, str]:
    threshold = "0" if pool else str(10**12)  # the pool for any input, or for none
    return cli_env(tmp_path, url, FBOCLI_PARALLEL_MIN_BYTES=threshold)


@pytest.mark.slow  # two uploads of 30,000 events, the first request held a second
@pytest.mark.parametrize("pool", [False, True], ids=["in-process", "pool"])
def test_a_file_cut_while_it_is_uploaded_exits_1_saying_what_was_sent(
    tmp_path: Path, pool: bool
) -> None:
    """The exporter truncates the file while the upload runs (before: 15,531 of 50,000
    records read and exit 0 when the pool was not used). Now: the run stops at the end of
    what is left, exit 1, the summary counts what was sent, stderr says a re-run skips it;
    the re-run with the whole file sends the rest, each event once."""
    if pool and cpu_count() < 2:
        pytest.skip("one core: no mapping pool")
    n = 30_000  # 15 blocks: more than the pool of two reads ahead (8) before it is held
    path = tmp_path / "in.jsonl"
    write_jsonl(path, track_events(n))
    whole = path.read_bytes()
    config = write_config(
        tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"',
        upload="batch_size = 100\nworkers = 1",
    )  # fmt: skip
    with fake_graph() as fake:
        fake.inject(Fault.delay(1.0))
        env = _upload_env(tmp_path, fake.url, pool)
        with two_cores():  # (a pool of 2 on any host: it reads at most 8 blocks ahead)
            proc = start_cli(upload_args(path, config, "--json", "-q"), env)
        deadline = time.monotonic() + 60
        while not event_requests(fake) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.truncate(path, len(whole) // 2)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err
        data = check_summary(json.loads(out))
        sent = data["events"]["sent"]
        assert 0 < sent < n and data["events"]["failed"] == data["events"]["built"] - sent
        assert f"fbocli: error: {path}: read failed: the file shrank while it was read" in err
        assert f"{sent:,} events were sent before it (they are journaled" in err
        assert len(journal_keys(tmp_path / "state")) == sent == fake.count()

        path.write_bytes(whole)
        run = run_cli(upload_args(path, config, "--json"), env)
        assert run.code == 0, run.stderr
        again = run.summary["events"]
        assert (again["already_sent"], again["sent"]) == (sent, n - sent)
        assert set(received_keys(fake).values()) == {1} and fake.count() == n


def test_a_half_written_gzip_after_events_were_sent_exits_1_with_the_summary(
    tmp_path: Path,
) -> None:
    """The issue's case: a .gz cut in half. Before: exit 2 ("nothing was sent") after
    4,000 events were sent. A validate or a dry run of it sends nothing: exit 2 still."""
    n = 6_000
    source = write_jsonl(tmp_path / "whole.jsonl", track_events(n))
    packed = gzip.compress(source.read_bytes())
    path = tmp_path / "export.jsonl.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    config = write_config(
        tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"',
        upload="batch_size = 100\nworkers = 1",
    )  # fmt: skip
    with fake_graph() as fake:
        env = _upload_env(tmp_path, fake.url, pool=False)
        run = run_cli(upload_args(path, config, "--json", "-q"), env)
        assert run.code == 1, run.stderr
        sent = run.summary["events"]["sent"]
        assert sent > 0 and sent == fake.count()
        first = run.stderr.splitlines()[0]
        assert first.startswith(f"fbocli: error: {path}: read failed: Compressed file ended")
        assert first.endswith(
            f"; {sent:,} events were sent before it (they are journaled: the same command, "
            "run again once the input is whole, skips them and sends the rest)"
        )
        for command in ("validate", "dry-run"):
            extra = ("--dry-run",) if command == "dry-run" else ()
            name = "upload" if command == "dry-run" else "validate"
            run = run_cli(upload_args(path, config, "-q", *extra, command=name), env)
            assert run.code == 2 and "events were sent before it" not in run.stderr

        path.write_bytes(packed)
        run = run_cli(upload_args(path, config, "--json"), env)
        assert run.code == 0 and run.summary["events"]["already_sent"] == sent
        assert fake.count() == n
