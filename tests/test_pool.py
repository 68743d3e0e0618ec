"""The mapping pool: worker processes that map chunks give what mapping in-process gives.

Results come back in input order, so a pooled run writes byte-identical requests, rejects
and summaries (validate, dry run, upload through the fake Graph API); a worker's read
error reaches the main process as it is; a killed worker stops the run instead of hanging.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from fbocli.chunks import map_chunk
from fbocli.config import load_config
from fbocli.errors import InputError
from fbocli.inputs import reader as reader_module
from fbocli.inputs.reader import Chunk, FileSpan, open_input
from fbocli.mapping.message import MapContext
from fbocli.pool import PIPE_BYTES, MappingPool, WorkerDied
from fbocli.settings import CsvSettings
from tests.helpers import (
    NOW_TS,
    SAMPLE_CONFIG,
    SAMPLE_DATASETS,
    SAMPLE_JSONL,
    TOKEN,
    cli_env,
    fake_graph,
    fbocli_argv,
    run_cli,
    stable,
    upload_args,
    write_edge_input,
)

IN_PROCESS = {"FBOCLI_PARALLEL_MIN_BYTES": str(10**15)}
POOLED = {"FBOCLI_PARALLEL_MIN_BYTES": "0"}


def _context() -> MapContext:
    return MapContext(load_config(SAMPLE_CONFIG), NOW_TS)


def test_pooled_results_come_back_in_input_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_module, "BLOCK_BYTES", 2000)  # ~150 chunks: many in flight
    ctx = _context()
    path = write_edge_input(tmp_path / "in.jsonl")
    with open_input(str(path), "auto", CsvSettings()) as reader:
        chunks = list(reader.chunks())
        expected = [map_chunk(ctx, chunk) for chunk in chunks]
        pool = MappingPool(ctx, 2)
        try:
            got = list(pool.map(iter(chunks)))
        finally:
            pool.terminate()
    assert len(chunks) > 100
    assert got == expected


def test_a_worker_that_cannot_read_its_span_stops_the_run_naming_the_file(
    tmp_path: Path,
) -> None:
    """The error a worker meets reading the input reaches the main process as it is (an
    InputError, exit 2), not as an internal error."""
    path = tmp_path / "in.jsonl"
    path.write_bytes(SAMPLE_JSONL.read_bytes())
    with path.open("rb") as file:
        size = path.stat().st_size
        pool = MappingPool(_context(), 2)
        try:
            chunks = iter([Chunk("in.jsonl", 1, FileSpan(file.fileno(), 0, size + 100))])
            with pytest.raises(InputError, match=r"in\.jsonl: read failed: the file shrank"):
                list(pool.map(chunks))
        finally:
            pool.terminate()


def test_the_results_pipe_holds_a_whole_blocks_result() -> None:
    """A block's result (~1 MB) crosses in one piece, not in 17 (default 64 KB)."""
    if int(Path("/proc/sys/fs/pipe-max-size").read_text()) < PIPE_BYTES:
        pytest.skip("this host caps pipes below 1 MB: the default size stays")
    pool = MappingPool(_context(), 2)
    try:
        size = fcntl.fcntl(pool._results.fileno(), fcntl.F_GETPIPE_SZ)
    finally:
        pool.terminate()
    assert size == PIPE_BYTES


def test_a_killed_worker_is_an_error_not_a_hang(tmp_path: Path) -> None:
    path = write_edge_input(tmp_path / "in.jsonl")
    pool = MappingPool(_context(), 2)
    try:
        with open_input(str(path), "auto", CsvSettings()) as reader:
            for worker in pool._workers:  # (out of memory, `kill`)
                os.kill(worker.pid or 0, signal.SIGKILL)
            with pytest.raises(WorkerDied, match=r"exit status -9"):
                list(pool.map(reader.chunks()))
    finally:
        pool.terminate()


# --- whole runs, pooled and in-process ------------------------------------------------------


def _run(tmp: Path, name: str, args: list[str], graph_url: str = "", **env: str) -> dict[str, Any]:
    """One CLI run; its summary, output file, rejects file and stderr."""
    work = tmp / name
    work.mkdir()
    out, rejects = work / "requests.jsonl", work / "rejects.jsonl"
    extra = ["--output", str(out)] if "--dry-run" in args else []
    result = run_cli(
        [*args, *extra, "--rejects", str(rejects), "--json"], cli_env(work, graph_url, **env)
    )
    assert result.code in (0, 1), result.stderr
    assert TOKEN not in result.stdout + result.stderr
    return {
        "summary": stable(result.summary),
        "output": out.read_bytes() if out.exists() else None,
        "rejects": rejects.read_bytes() if rejects.exists() else None,
        "stderr": result.stderr.replace(str(work), "WORK"),
    }


@pytest.mark.slow
def test_pooled_dry_run_is_byte_identical(tmp_path: Path) -> None:
    path = write_edge_input(tmp_path / "in.jsonl")
    args = upload_args(path, SAMPLE_CONFIG, "--dry-run", "--batch-size", "7")
    serial = _run(tmp_path, "serial", args, **IN_PROCESS)
    pooled = _run(tmp_path, "pooled", args, **POOLED)
    assert serial["output"] and serial["rejects"]
    assert pooled == serial
    records = serial["summary"]["records"]
    # (the sample's second copy: every record a duplicate of the first's, skipped)
    assert records["rejected"] > 0 and records["accepted"] > 300
    assert serial["summary"]["skips"]["duplicate"] > 300


@pytest.mark.slow
def test_pooled_validate_is_identical(tmp_path: Path) -> None:
    args = upload_args(write_edge_input(tmp_path / "in.jsonl"), SAMPLE_CONFIG, command="validate")
    serial = _run(tmp_path, "serial", args, **IN_PROCESS)
    pooled = _run(tmp_path, "pooled", args, **POOLED)
    assert pooled == serial


@pytest.mark.slow
def test_pooled_upload_sends_the_same_events(tmp_path: Path) -> None:
    args = upload_args(write_edge_input(tmp_path / "in.jsonl"), SAMPLE_CONFIG)
    received = []
    for name, env in (("serial", IN_PROCESS), ("pooled", POOLED)):
        with fake_graph(datasets=SAMPLE_DATASETS) as graph:
            result = _run(tmp_path, name, args, graph.url, **env)
            events = {
                ds: sorted(graph.received[ds], key=lambda e: json.dumps(e, sort_keys=True))
                for ds in SAMPLE_DATASETS
            }
        received.append((result["summary"], result["rejects"], events))
    assert received[0] == received[1]
    summary = received[0][0]
    events = summary["events"]
    assert events["sent"] > 300 and events["already_sent"] > 300  # (the duplicates)
    assert events["sent"] + events["already_sent"] == events["built"]


@pytest.mark.slow
def test_stdin_stays_in_process_and_agrees(tmp_path: Path) -> None:
    path = write_edge_input(tmp_path / "in.jsonl")
    work = tmp_path / "stdin"
    work.mkdir()
    args = upload_args("-", SAMPLE_CONFIG, "--dry-run", "--output", "-")
    piped = run_cli(
        [*args, "--rejects", str(work / "r.jsonl")],
        cli_env(work, **POOLED),
        input=path.read_bytes(),
    )
    assert piped.code == 0, piped.stderr  # rejects fail only validate or --strict
    file_run = _run(tmp_path, "file", upload_args(path, SAMPLE_CONFIG, "--dry-run"), **POOLED)
    requests = [line for line in piped.stdout.splitlines() if line.startswith('{"url"')]
    assert ("\n".join(requests) + "\n").encode() == file_run["output"]


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


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_killed_mapping_worker_stops_the_run_instead_of_hanging(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(SAMPLE_JSONL.read_bytes() * 300)  # ~109,000 records: seconds of work
    args = upload_args(path, SAMPLE_CONFIG, "--dry-run")
    args += ["--output", str(tmp_path / "out.jsonl"), "--rejects", str(tmp_path / "r.jsonl")]
    proc = subprocess.Popen(
        fbocli_argv(*args),
        env=cli_env(tmp_path, **POOLED),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
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
