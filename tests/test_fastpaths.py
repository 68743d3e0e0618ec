"""Every performance shortcut agrees with the slow, obvious path it replaces.

* the parallel pipeline (fbocli.parallel) writes byte-identical requests, rejects and
  summaries to the in-process one, for validate, dry run and upload (real subprocesses,
  real fake Graph API);
* pre-serialized bodies equal one encoding of the whole body;
* memoized match keys and PII-key checks equal the uncached functions;
* chunked reading numbers lines exactly as the record reader does.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbocli import mapping, wire
from fbocli.graph import _events_body
from fbocli.normalize import norm_gender, norm_name, norm_state, norm_zip
from fbocli.readers import InputReader
from fbocli.settings import CsvSettings
from tests.fakegraph import FakeGraph

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "segment-export.jsonl"
SAMPLE_CONFIG = ROOT / "sample_data" / "fbocli.toml"
NOW = "2026-11-20T00:00:00Z"
NOW_TS = 1_795_132_800  # NOW as Unix seconds
TOKEN = "test-fake-token-fastpaths"
DATASETS = ["1234567890123456", "6543210987654321"]
IN_PROCESS = {"FBOCLI_PARALLEL_MIN_BYTES": str(10**15)}
PARALLEL = {"FBOCLI_PARALLEL_MIN_BYTES": "0"}

# Lines the sample lacks: parse errors, envelopes, blanks, odd types, non-ASCII,
# a missing messageId (content-hash event_id), \\u escapes.
EDGE_LINES = [
    "{not json",
    "",
    "   ",
    '{"batch":[{"type":"track","event":"Order Completed","messageId":"b1",'
    '"timestamp":"2026-11-10T12:00:00Z","properties":{"revenue":"1,234.50"},'
    '"context":{"traits":{"email":"Zoë@Example.com","phone":"+44 20 7946 0958",'
    '"address":{"country":"GB","city":"Londres"}}}},{"type":"identify"}]}',
    "[1,2,3]",
    '"just a string"',
    '{"type":"track","event":"Order Completed","timestamp":"2026-11-10T12:00:00Z",'
    '"properties":{"revenue":5,"note":"caf\\u00e9 \\u2603"},'
    '"context":{"traits":{"email":"a@b.co","name":"Ана Иванова"}}}',
    '{"type":"track","event":"Order Completed","messageId":"old","timestamp":"2001-01-01",'
    '"properties":{"revenue":5},"context":{"traits":{"email":"a@b.co"}}}',
    '{"type":"track","event":"Nope","messageId":"n1"}',
    '{"value": 1e999}',
]


def _input(tmp: Path) -> Path:
    """The sample export, edge cases, then the sample again (a BOM on the first line)."""
    sample = SAMPLE.read_bytes()
    path = tmp / "in.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + sample + "\n".join(EDGE_LINES).encode() + b"\n" + sample)
    return path


def _run(tmp: Path, name: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One CLI run; returns its summary, output file and rejects file contents."""
    work = tmp / name
    work.mkdir()
    out, rejects = work / "requests.jsonl", work / "rejects.jsonl"
    full = {
        **os.environ,
        "FBOCLI_STATE_DIR": str(work / "state"),
        "XDG_CONFIG_HOME": str(work / "xdg"),
        "FBOCLI_CONFIG": "",
        "FBOCLI_BACKOFF_SCALE": "0.001",
        **env,
    }
    extra = ["--output", str(out)] if "--dry-run" in args else []
    proc = subprocess.run(
        [sys.executable, "-m", "fbocli", *args, *extra, "--rejects", str(rejects), "--json"],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)
    summary.pop("rejects_file", None)
    return {
        "summary": summary,
        "output": out.read_bytes() if out.exists() else None,
        "rejects": rejects.read_bytes() if rejects.exists() else None,
        "stderr": proc.stderr,
    }


def _common(path: Path) -> list[str]:
    return [str(path), "-c", str(SAMPLE_CONFIG), "--now", NOW]


def test_parallel_dry_run_is_byte_identical(tmp_path: Path) -> None:
    path = _input(tmp_path)
    args = ["upload", *_common(path), "--dry-run", "--batch-size", "7"]
    serial = _run(tmp_path, "serial", args, IN_PROCESS)
    parallel = _run(tmp_path, "parallel", args, PARALLEL)
    assert serial["output"] and serial["rejects"]
    assert parallel == serial
    records = serial["summary"]["records"]
    assert records["rejected"] > 0 and records["accepted"] > 600


def test_parallel_validate_is_identical(tmp_path: Path) -> None:
    path = _input(tmp_path)
    serial = _run(tmp_path, "serial", ["validate", *_common(path)], IN_PROCESS)
    parallel = _run(tmp_path, "parallel", ["validate", *_common(path)], PARALLEL)
    assert parallel == serial


def test_parallel_upload_sends_the_same_events(tmp_path: Path) -> None:
    path = _input(tmp_path)
    received = []
    for name, env in (("serial", IN_PROCESS), ("parallel", PARALLEL)):
        with FakeGraph(tokens=[TOKEN], datasets=DATASETS, now=NOW_TS) as graph:
            graph_env = {**env, "FBOCLI_GRAPH_URL": graph.url, "FBOCLI_ACCESS_TOKEN": TOKEN}
            result = _run(tmp_path, name, ["upload", *_common(path)], graph_env)
            events = {
                ds: sorted(graph.received[ds], key=lambda e: json.dumps(e, sort_keys=True))
                for ds in DATASETS
            }
        received.append((result["summary"], result["rejects"], events))
    assert received[0] == received[1]
    summary = received[0][0]
    assert summary["events"]["sent"] == summary["events"]["built"] > 600


# --- pre-serialized request bodies -----------------------------------------------------

# Mapping lets only finite numbers through (tests/test_fuzz.py), so none are generated.
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
_events = st.lists(st.dictionaries(st.text(max_size=8), _json_values, max_size=4), max_size=5)


def _fits_64_bits(value: object) -> bool:
    if isinstance(value, dict):
        return all(_fits_64_bits(v) for v in value.values())
    if isinstance(value, list):
        return all(_fits_64_bits(v) for v in value)
    return not isinstance(value, int) or -(2**63) <= value < 2**64


@settings(max_examples=300, deadline=None)
@given(
    extra=st.dictionaries(st.sampled_from(["upload_tag", "test_event_code"]), st.text()),
    events=_events,
    spliced=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_spliced_body_equals_one_encoding_of_the_body(
    extra: dict[str, str], events: list[dict[str, Any]], spliced: list[bool]
) -> None:
    pre: list[dict[str, Any] | bytes] = [
        wire.dumps(e) if s else e for e, s in zip(events, spliced, strict=False)
    ]
    body = _events_body(extra, pre)
    # The same JSON value, with its types (1 is not 1.0) and key order ...
    parsed = json.loads(body)
    assert repr(parsed) == repr({**extra, "data": events})
    # ... and, compact JSON being compositional, the same bytes as one encoding of the
    # whole body (an integer beyond 64 bits makes that one encoding take json.dumps).
    if _fits_64_bits(events):
        assert body == wire.dumps({**extra, "data": events})


def test_wire_json_is_compact_utf8_and_takes_any_integer() -> None:
    assert wire.dumps({"a": [1, 2.5, "é"], "b": None}) == '{"a":[1,2.5,"é"],"b":null}'.encode()
    assert wire.dumps({"n": 2**70, "x": 0.5}) == b'{"n":1180591620717411303424,"x":0.5}'
    assert json.loads(wire.dumps({"n": -(2**64), "s": "\n"})) == {"n": -(2**64), "s": "\n"}


def test_the_workers_encoder_writes_what_dumps_writes() -> None:
    """wire.encoder (build then encode, in one call) falls back like wire.dumps does."""
    encode = wire.encoder(lambda n: {"value": n, "name": "café"})
    for n in (0, -1, 2**63 - 1, 2**64, -(2**70), 10**30):
        assert encode(n) == wire.dumps({"value": n, "name": "café"})
    assert json.loads(encode(2**70)) == {"value": 2**70, "name": "café"}


@settings(max_examples=300, deadline=None)
@given(
    datasets=st.lists(st.sampled_from("abc"), max_size=60),
    size=st.integers(1, 7),
    cuts=st.lists(st.integers(0, 60), max_size=5),
    drop=st.sets(st.integers(0, 60)),
)
def test_batcher_extend_emits_what_add_emits(
    datasets: list[str], size: int, cuts: list[int], drop: set[int]
) -> None:
    """A parallel run hands the batcher a block of events at once (extend), the
    in-process path one at a time (add): the same batches, in the same order, whatever
    the blocks and whatever the journal filter keeps."""
    from fbocli.batching import Batcher

    events = [_conversion(ds, n) for n, ds in enumerate(datasets)]

    def run(feed: Any) -> list[tuple[str, list[str]]]:
        emitted: list[tuple[str, list[str]]] = []
        batcher = Batcher(
            size,
            lambda ds, batch: emitted.append((ds, [c.event_id for c in batch])),
            lambda ds, pending: [c for c in pending if c.line not in drop],
        )
        feed(batcher)
        batcher.flush()
        return emitted

    def one_by_one(batcher: Any) -> None:
        for event in events:
            batcher.add(event)

    def in_blocks(batcher: Any) -> None:
        bounds = [0, *sorted(cuts), len(events)]
        for start, end in itertools.pairwise(bounds):
            batcher.extend(events[start:end])

    assert run(in_blocks) == run(one_by_one)


def _conversion(dataset_id: str, n: int) -> mapping.Conversion:
    return mapping.Conversion(dataset_id, "Purchase", 0, f"e{n}", {}, {}, None, "f", n)


# --- memoized match keys -----------------------------------------------------------------

CORPUS = [
    "", " ", "M", "male", " Female ", "x", "O'Brien", "José", "ZOË", "Ålborg", "São Paulo",
    "Montréal", "new-york", "RI", "Rhode Island", "rhode-island", "ON", "Ontario", "BY",
    "ſt", "10001-1234", " 94105 ", "SW1A 1AA", "m5v-2t6", "ǅemal", "ﬁnn", "한국",
    "a" * 64, "A" * 64, " " + "ab" * 32 + " ", "12345", "ß", "İstanbul",
]  # fmt: skip
REGIONS = ["", "us", "ca", "gb", "de", "fr", "xx"]
SLOW = {
    "ge": lambda v, r: norm_gender(v),
    "name": lambda v, r: norm_name(v),
    "st": norm_state,
    "zp": norm_zip,
}


def _slow(what: str, raw: object, region: str) -> str | None:
    return mapping._one(raw, lambda v: SLOW[what](v, region))


@pytest.mark.parametrize("what", sorted(SLOW))
def test_cached_keys_match_the_corpus(what: str) -> None:
    for region in REGIONS:
        for raw in [*CORPUS, 12345, 0, True, None, 1.5, ["x"]]:
            for _ in range(2):  # the second call answers from the memo
                assert mapping._one_cached(what, raw, region) == _slow(what, raw, region)


@settings(max_examples=400, deadline=None)
@given(
    what=st.sampled_from(sorted(SLOW)),
    raw=st.text(max_size=20) | st.integers(),
    region=st.sampled_from(REGIONS),
)
def test_cached_keys_match_any_input(what: str, raw: object, region: str) -> None:
    assert mapping._one_cached(what, raw, region) == _slow(what, raw, region)
    assert mapping._one_cached(what, raw, region) == _slow(what, raw, region)


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=16) | st.sampled_from(["E-Mail", "phone2", "TEL", "tel ", "Mobile"]))
def test_pii_key_memo_matches_the_regex(key: str) -> None:
    expected = mapping._PII_KEY.search(key) is not None
    assert mapping._pii_key(key) is expected
    assert mapping._pii_key(key) is expected


# --- chunked reading ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 100, 1000, 1 << 20])
@pytest.mark.parametrize("ending", [b"\n", b""])
@pytest.mark.parametrize("spans", [False, True], ids=["bytes", "spans"])
def test_line_blocks_number_lines_like_records(
    tmp_path: Path, size: int, ending: bytes, spans: bool
) -> None:
    from fbocli.readers import FileSpan, block_lines, jsonl_records

    path = _input(tmp_path)
    path.write_bytes(path.read_bytes().rstrip(b"\n") + b"\n\n  \n" + b'{"bad"' + ending)
    expected = [(r.source, r.line, r.message, r.error) for r in _reader(path).records()]
    reader = _reader(path)
    handed = list(reader.line_blocks(size, spans=spans))
    assert all(isinstance(lines, FileSpan) for *_, lines in handed) is spans
    blocks = [
        (source, first, lines.read(source) if isinstance(lines, FileSpan) else lines)
        for source, first, lines in handed
    ]
    assert reader.bytes_read == path.stat().st_size
    assert b"".join(block for _, _, block in blocks) == path.read_bytes()
    got = [
        (r.source, r.line, r.message, r.error)
        for source, first, block in blocks
        for r in jsonl_records(block_lines(block), source, first)
    ]
    assert got == expected
    assert got[-1][1:] == (len(path.read_bytes().splitlines()), None, "invalid_json")


def test_gzip_and_fifo_blocks_stay_bytes(tmp_path: Path) -> None:
    """Only a plain regular file is handed out by position: a gzip file's blocks are its
    decompressed lines, and a named pipe cannot be read at an offset."""
    import gzip

    from fbocli.readers import FileSpan

    data = _input(tmp_path).read_bytes()
    packed = tmp_path / "in.jsonl.gz"
    packed.write_bytes(gzip.compress(data))
    blocks = list(_reader(packed).line_blocks(1000, spans=True))
    assert not any(isinstance(lines, FileSpan) for *_, lines in blocks)
    assert b"".join(lines for *_, lines in blocks) == data  # type: ignore[misc]

    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with subprocess.Popen(["sh", "-c", f"cat '{tmp_path / 'in.jsonl'}' > '{fifo}'"]):
        file = io.FileIO(fifo, "r")
        reader = InputReader(str(fifo), "auto", CsvSettings(), file.read, file, 0)
        blocks = list(reader.line_blocks(1000, spans=True))
        reader.close()
    assert not any(isinstance(lines, FileSpan) for *_, lines in blocks)
    assert b"".join(lines for *_, lines in blocks) == data  # type: ignore[misc]


def test_a_span_the_file_no_longer_holds_is_an_input_error(tmp_path: Path) -> None:
    from fbocli.errors import InputError
    from fbocli.readers import FileSpan

    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"a": 1}\n' * 10)
    with path.open("rb") as file:
        fd = file.fileno()
        assert FileSpan(fd, 9, 18).read("in.jsonl") == b'{"a": 1}\n' * 2
        with pytest.raises(InputError, match=r"^in.jsonl: read failed: the file shrank"):
            FileSpan(fd, 81, 18).read("in.jsonl")
    with pytest.raises(InputError, match=r"^in.jsonl: read failed: .*Bad file descriptor"):
        FileSpan(fd, 0, 9).read("in.jsonl")


def test_a_worker_that_cannot_read_its_span_stops_the_run_naming_the_file(
    tmp_path: Path,
) -> None:
    """The error a worker meets reading the input reaches the main process as it is (an
    InputError, exit 2), not as an internal error."""
    from fbocli.config import load_settings
    from fbocli.errors import InputError
    from fbocli.mapping import MapContext
    from fbocli.parallel import MappingPool
    from fbocli.readers import FileSpan

    ctx = MapContext.create(load_settings(str(SAMPLE_CONFIG)), NOW_TS)
    path = tmp_path / "in.jsonl"
    path.write_bytes(SAMPLE.read_bytes())
    with path.open("rb") as file:
        size = path.stat().st_size
        pool = MappingPool(ctx, None, 2)
        try:
            chunks = iter([("in.jsonl", 1, FileSpan(file.fileno(), 0, size + 100))])
            with pytest.raises(InputError, match=r"in\.jsonl: read failed: the file shrank"):
                list(pool.map(chunks))
        finally:
            pool.terminate()


def test_the_results_pipe_holds_a_whole_blocks_result() -> None:
    """A block's result (~1 MB) crosses in one piece, not in 17 (default 64 KB)."""
    import fcntl

    from fbocli.config import load_settings
    from fbocli.mapping import MapContext
    from fbocli.parallel import PIPE_BYTES, MappingPool

    if int(Path("/proc/sys/fs/pipe-max-size").read_text()) < PIPE_BYTES:
        pytest.skip("this host caps pipes below 1 MB: the default size stays")
    ctx = MapContext.create(load_settings(str(SAMPLE_CONFIG)), NOW_TS)
    pool = MappingPool(ctx, None, 2)
    try:
        size = fcntl.fcntl(pool._results.fileno(), fcntl.F_GETPIPE_SZ)
    finally:
        pool.terminate()
    assert size == PIPE_BYTES


_FAULTS = """
import resource, sys
from fbocli.parallel import keep_freed_memory
if sys.argv[1] == "keep":
    keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
kept = []
for i in range(300):  # buffers of 0.7-1.6 MB, two alive at a time, as in a run
    a = b"x" * (700_000 + (i * 37_000) % 900_000)
    b = a + b"y"
    kept.append(b[:10])
    del a, b
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(
    not hasattr(os, "confstr") or "glibc" not in (os.confstr("CS_GNU_LIBC_VERSION") or ""),
    reason="mallopt is glibc's",
)
def test_freed_buffers_are_reused_instead_of_faulted_in_again() -> None:
    def faults(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", _FAULTS, mode], capture_output=True, check=True, cwd=ROOT
        )
        return int(done.stdout)

    default, kept = faults("default"), faults("keep")
    # each new ~1 MB mapping costs ~250 page faults: 300 of them by default
    assert default > 20_000
    assert kept < default / 10


def _reader(path: Path) -> InputReader:
    file = io.FileIO(path, "r")
    return InputReader(str(path), "auto", CsvSettings(), file.read, file, path.stat().st_size)


def test_stdin_stays_in_process_and_agrees(tmp_path: Path) -> None:
    path = _input(tmp_path)
    work = tmp_path / "stdin"
    work.mkdir()
    env = {**os.environ, **PARALLEL, "FBOCLI_STATE_DIR": str(work), "FBOCLI_CONFIG": ""}
    args = [sys.executable, "-m", "fbocli", "upload", "-", "-c", str(SAMPLE_CONFIG)]
    args += ["--now", NOW, "--dry-run", "--output", "-", "--rejects", str(work / "r.jsonl")]
    with path.open("rb") as stdin:
        piped = subprocess.run(args, stdin=stdin, env=env, capture_output=True, timeout=120)
    assert piped.returncode == 0, piped.stderr  # rejects fail only validate or --strict
    file_run = _run(tmp_path, "file", ["upload", *_common(path), "--dry-run"], PARALLEL)
    requests = [line for line in piped.stdout.splitlines() if line.startswith(b'{"url"')]
    assert b"\n".join(requests) + b"\n" == file_run["output"]


# --- per-chunk counting ------------------------------------------------------------------


def _mapped_sample(tmp: Path) -> list[tuple[Any, Any]]:
    from fbocli.config import load_settings
    from fbocli.mapping import MapContext, map_record

    ctx = MapContext.create(load_settings(str(SAMPLE_CONFIG)), NOW_TS)
    return [(r, map_record(r, ctx)) for r in _reader(_input(tmp)).records()]


def _stats_view(stats: Any) -> dict[str, Any]:
    from fbocli.report import RunStats, upload_sections, validate_sections

    assert isinstance(stats, RunStats)
    return {
        "summary": stats.summary(),
        "validate": validate_sections(stats),
        "upload": upload_sections(stats),
        "examples": {k: v for k, v in stats.examples.items() if v},
        "coverage": dict(stats.coverage),
        "ages": dict(stats.ages),
        "by_event": dict(stats.by_event),
        "datasets": {k: dict(v) for k, v in stats.datasets.items()},
    }


def test_chunk_tallies_count_like_count(tmp_path: Path) -> None:
    """Workers' per-chunk tallies merged into RunStats give exactly the per-record
    counts (records, reasons, examples, coverage, ages, events), whatever the chunking."""
    import pickle
    import random

    from fbocli.report import RunStats, Tally

    mapped = _mapped_sample(tmp_path)
    expected = RunStats(now=NOW_TS)
    for record, outcome in mapped:
        expected.count(record, outcome)
    assert expected.rejected and expected.skipped and expected.accepted
    rng = random.Random(7)
    for size in (1, 2, 3, 1000, None):
        merged = RunStats(now=NOW_TS)
        index = 0
        while index < len(mapped):
            step = size or rng.randint(1, 50)
            tally = Tally(NOW_TS)
            for record, outcome in mapped[index : index + step]:
                tally.add(record.source, record.line, outcome)
            merged.merge(pickle.loads(pickle.dumps(tally)))  # as it travels from a worker
            index += step
        assert _stats_view(merged) == _stats_view(expected)


# --- international phone fast path ---------------------------------------------------------

PHONE_REGIONS = [
    "GB", "FR", "DE", "CA", "US", "IT", "ES", "NL", "BE", "CH", "AT", "IE", "PT", "SE",
    "NO", "DK", "FI", "PL", "AU", "NZ", "JP", "IN", "BR", "MX", "AR", "ZA", "SG", "GG",
    "JE", "IM", "RU", "KZ", "HU", "CZ", "LU", "MC", "SM", "VA", "GR", "TR", "IL", "CN",
]  # fmt: skip


def _slow_phone(value: str, region: str) -> str | None:
    """norm_phone without its fast paths: what phonenumbers itself says."""
    import phonenumbers

    try:
        number = phonenumbers.parse(value, region.upper() or None)
        if phonenumbers.is_possible_number(number):
            e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return e164.lstrip("+")
    except phonenumbers.NumberParseException:
        pass
    digits = "".join(c for c in value if c in "0123456789").lstrip("0")
    return digits if len(digits) >= 7 else None


def _spell(rng: Any, digits: str) -> str:
    """The digits as people type them: groups split by spaces, dashes, dots, parens."""
    out, i = [], 0
    while i < len(digits):
        size = rng.randint(1, 4)
        group = digits[i : i + size]
        i += size
        style = rng.random()
        if style < 0.1 and i < len(digits):
            group = f"({group})"
        out.append(group)
        out.append(rng.choice(["", " ", " ", "-", ".", "  ", " - "]) if i < len(digits) else "")
    return "".join(out)


def _phone_corpus(count: int, seed: int) -> list[tuple[str, str]]:
    import random

    import phonenumbers

    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        region = rng.choice(PHONE_REGIONS)
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        assert meta is not None
        lengths = list(meta.general_desc.possible_length) + list(
            meta.general_desc.possible_length_local_only
        )
        size = max(1, rng.choice(lengths) + rng.choice([-2, -1, 0, 0, 0, 0, 1, 2]))
        body = "".join(rng.choice("0123456789") for _ in range(size))
        if rng.random() < 0.7:  # mostly a real-looking leading digit
            example = phonenumbers.example_number(region)
            if example is not None:
                nsn = phonenumbers.national_significant_number(example)
                body = nsn[: rng.randint(1, 3)] + body[3:]
        prefix = meta.national_prefix or "0"
        form = rng.random()
        if form < 0.4:
            text = f"+{meta.country_code} " + _spell(rng, body)
        elif form < 0.5:
            text = f"+{meta.country_code} ({prefix})" + _spell(rng, body)
        elif form < 0.8:
            text = _spell(rng, prefix + body)
        elif form < 0.9:
            text = _spell(rng, body)
        else:
            text = _spell(rng, f"{meta.country_code}" + body)
        if rng.random() < 0.05:
            text = f" {text} "
        home = region if rng.random() < 0.8 else rng.choice(PHONE_REGIONS)
        cases.append((text, rng.choice([home.lower(), home.lower(), ""])))
    return cases


def test_intl_phone_fast_path_agrees_on_a_corpus() -> None:
    from fbocli.normalize import _intl_fast_path

    hits = 0
    for value, region in _phone_corpus(50_000, seed=2026):
        fast = _intl_fast_path(value, region)
        if fast is not None:
            hits += 1
            assert fast == _slow_phone(value, region), (value, region)
    assert hits > 15_000  # the fast path covers the common forms, it is not vacuous


@settings(max_examples=1200, deadline=None)
@given(
    value=st.text(alphabet="+0123456789 ().-", min_size=1, max_size=24)
    | st.from_regex(r"\+[1-9][0-9]{0,2}[ .-]?[0-9 ().-]{2,20}", fullmatch=True),
    region=st.sampled_from([r.lower() for r in PHONE_REGIONS] + ["", "xx", "001"]),
)
def test_intl_phone_fast_path_agrees_on_any_plain_input(value: str, region: str) -> None:
    from fbocli.normalize import _intl_fast_path, norm_phone

    fast = _intl_fast_path(value, region)
    slow = _slow_phone(value, region)
    if fast is not None:
        assert fast == slow
    assert norm_phone(value, region) == slow


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_killed_mapping_worker_stops_the_run_instead_of_hanging(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(SAMPLE.read_bytes() * 300)  # ~109,000 records: seconds of work
    env = {
        **os.environ,
        **PARALLEL,
        "FBOCLI_STATE_DIR": str(tmp_path / "state"),
        "FBOCLI_CONFIG": "",
    }
    args = [sys.executable, "-m", "fbocli", "upload", *_common(path), "--dry-run"]
    args += ["--output", str(tmp_path / "out.jsonl"), "--rejects", str(tmp_path / "r.jsonl")]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (workers := _children(proc.pid)) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert workers, "the run ended before its mapping workers could be seen"
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=60)  # a hang fails here
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 1, err
    assert b"a mapping worker process died (exit status -9)" in err


def test_subdivisions_read_from_the_data_file_equal_pycountrys_database() -> None:
    """normalize._subdivisions reads pycountry's ISO 3166-2 file itself (pycountry's own
    database costs ~50 ms a process to load); for every country, and for codes naming
    none, the codes and names it gives are what the database gives."""
    import pycountry

    from fbocli import normalize

    def reference(region: str) -> tuple[frozenset[str], dict[str, str]]:
        subs = pycountry.subdivisions.get(country_code=region.upper()) or ()
        codes: set[str] = set()
        names: dict[str, str] = {}
        for sub in sorted(subs, key=lambda s: str(s.code)):
            suffix = str(sub.code).partition("-")[2].upper()
            if suffix:
                codes.add(suffix)
                key = normalize.norm_name(str(sub.name))
                if key:
                    names.setdefault(key, suffix.lower())
        return frozenset(codes), names

    assert normalize._subdivision_table() is not None  # the fast path is the one tested
    regions = [c.alpha_2.lower() for c in pycountry.countries] + ["xx", "zz", "q1"]
    with_subdivisions = 0
    for region in regions:
        codes, names = normalize._subdivisions(region)
        assert (codes, dict(names)) == reference(region), region
        with_subdivisions += bool(codes)
    assert with_subdivisions > 150
