"""The run's numbers: each chunk is counted where it is mapped (``Counts.add``, in a worker
or in-process) and merged into the summary (``RunSummary.merge``). However an input is cut
into chunks, the summary, the report and the events are the same."""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

from fbocli.chunks import Mapped, absorb, map_chunk
from fbocli.cli.report import upload_sections, validate_sections
from fbocli.config import load_config
from fbocli.errors import ExitStatus
from fbocli.inputs.reader import Chunk, open_input
from fbocli.inputs.record import Record
from fbocli.mapping.message import MapContext
from fbocli.settings import CsvSettings
from fbocli.stats import RunSummary
from tests.helpers import NOW_TS, SAMPLE_CONFIG, check_summary, write_edge_input


def _records(tmp: Path) -> list[Record]:
    with open_input(str(write_edge_input(tmp / "in.jsonl")), "auto", CsvSettings()) as reader:
        return list(reader.records())


def _view(summary: RunSummary) -> dict[str, Any]:
    data = check_summary(summary.to_dict())
    for key in ("run_id", "started_at"):  # a run's identity, not a count
        data.pop(key)
    return {
        "summary": data,
        "validate": validate_sections(summary),
        "upload": upload_sections(summary),
        "examples": {k: v for k, v in summary.examples.items() if v},
        "coverage": dict(summary.coverage),
        "ages": dict(summary.ages),
        "by_event": dict(summary.by_event),
        "datasets": {k: dict(v) for k, v in summary.datasets.items()},
    }


def _run(ctx: MapContext, chunks: list[Chunk]) -> tuple[RunSummary, list[Any], list[Any]]:
    summary = RunSummary(now=ctx.now)
    rejects: list[Any] = []
    events: list[Any] = []
    for chunk in chunks:
        mapped: Mapped = pickle.loads(pickle.dumps(map_chunk(ctx, chunk)))  # as from a worker
        rejects += mapped.rejects
        events += absorb(summary, mapped)  # merged as the pipeline merges it
    for event in events:  # what a validate run's sink counts
        summary.result(event.dataset_id, "sent", 1)
    return summary, rejects, events


def test_chunking_never_changes_the_counts(tmp_path: Path) -> None:
    """Records, reasons, examples (the first three per reason), coverage, ages, events:
    whatever the chunk sizes, what one chunk of every record gives."""
    ctx = MapContext(load_config(SAMPLE_CONFIG), NOW_TS)
    records = _records(tmp_path)
    expected = _run(ctx, [Chunk("in.jsonl", 1, records)])
    summary = expected[0]
    assert summary.rejected and summary.skipped and summary.accepted
    assert all(len(found) == 3 for found in summary.examples.values() if len(found) > 2)
    rng = random.Random(7)
    for size in (1, 2, 3, 1000, None):
        chunks, index = [], 0
        while index < len(records):
            step = size or rng.randint(1, 50)
            chunks.append(Chunk("in.jsonl", records[index].line, records[index : index + step]))
            index += step
        got = _run(ctx, chunks)
        assert _view(got[0]) == _view(summary)
        assert got[1:] == expected[1:]


def test_a_mapped_chunk_crosses_a_pipe_unchanged(tmp_path: Path) -> None:
    """Events travel from a worker as columns (Mapped.__reduce__), and come back equal."""
    ctx = MapContext(load_config(SAMPLE_CONFIG), NOW_TS)
    mapped = map_chunk(ctx, Chunk("in.jsonl", 1, _records(tmp_path)))
    assert len(mapped.events) > 600 and mapped.rejects
    again = pickle.loads(pickle.dumps(mapped, pickle.HIGHEST_PROTOCOL))
    assert again == mapped
    assert [type(e) for e in again.events] == [type(e) for e in mapped.events]
    assert [e.to_dict() for e in again.events] == [e.to_dict() for e in mapped.events]
    empty = map_chunk(ctx, Chunk("in.jsonl", 1, []))
    assert pickle.loads(pickle.dumps(empty)) == empty


def test_exit_status_of_a_finished_run() -> None:
    assert RunSummary().exit_status() == ExitStatus.OK
    assert RunSummary(read=1, built=1, rejected=1).exit_status() == ExitStatus.OK
    assert RunSummary(read=1, built=1, rejected=1, strict=True).exit_status() == 1
    assert RunSummary(read=1, built=1, rejected=1, validate=True).exit_status() == 1
    assert RunSummary(read=1, built=1, failed=1).exit_status() == ExitStatus.FAILURE
    assert RunSummary(read=1, built=1, api_rejected=1).exit_status() == ExitStatus.FAILURE
    # records read, not one event built (a renamed event, say): not a success
    assert RunSummary(read=3, skipped=3).exit_status() == ExitStatus.FAILURE
    assert RunSummary(read=0).exit_status() == ExitStatus.OK  # an empty input: a warning


def test_a_stopped_run_counts_what_was_not_settled_as_failed() -> None:
    summary = RunSummary()
    summary.datasets["1"]["built"] = 10
    summary.datasets["2"]["built"] = 4
    summary.built = 14
    summary.result("1", "sent", 6)
    summary.result("2", "already_sent", 4)
    summary.count_unsent("not sent: the run was stopped")
    data = check_summary(summary.to_dict())
    assert data["events"]["failed"] == 4 and data["datasets"]["1"]["failed"] == 4
    assert summary.failure_rows() == [
        {
            "dataset": "1",
            "reason": "not sent: the run was stopped",
            "code": None,
            "subcode": None,
            "fbtrace_id": None,
            "events": 4,
        }
    ]
