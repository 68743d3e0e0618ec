"""Mapping on every core: a process pool over chunks of raw JSON lines.

Parsing, mapping, hashing and serializing an event is pure CPU work in Python, so one
process tops out at a few thousand events/s. For a large JSON lines file the pipeline
hands chunks of raw lines to worker processes; each worker parses and maps them and
serializes every accepted event to its wire JSON text (``Conversion.wire``), so the main
process only counts, writes rejects, batches, filters through the journal and
concatenates pre-serialized events into request bodies. Results come back in input
order, so outputs are byte-for-byte those of the in-process path.

Small inputs, stdin, CSV and JSON array documents stay in-process: a pool does not pay
for them (``FBOCLI_PARALLEL_MIN_BYTES``, a testing aid, lowers the threshold).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from multiprocessing.pool import AsyncResult, Pool
from types import MappingProxyType
from typing import Any

from fbocli.mapping import Conversion, MapContext, map_record
from fbocli.readers import jsonl_records
from fbocli.report import Tally

MIN_BYTES = 4_000_000  # ~ 4,000 events: below this a pool's start-up is not worth it
CHUNK_LINES = 1000
AHEAD_PER_WORKER = 4  # chunks in flight per worker: bounds memory, keeps workers busy

Serializer = Callable[[Conversion], str]
Chunk = tuple[str, int, list[bytes]]

_ctx: MapContext | None = None
_serialize: Serializer | None = None  # None: the sink needs no wire text (validate)


def min_bytes() -> int:
    """Inputs at least this large are mapped by the pool (env override for tests)."""
    raw = os.environ.get("FBOCLI_PARALLEL_MIN_BYTES", "")
    return int(raw) if raw.isdigit() else MIN_BYTES


def workers() -> int:
    """One worker per core the process may use; 1 means "stay in-process"."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def serializer(build: Callable[[Conversion], dict[str, Any]], *, ascii_only: bool) -> Serializer:
    """The wire JSON text of one event, exactly as the sinks would have serialized it."""

    # One encoder for every event: ``json.dumps`` with options builds a new one per call.
    # Same settings as that call, so the same text.
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=ascii_only).encode

    def serialize(conv: Conversion) -> str:
        return encode(build(conv))

    return serialize


def _init(ctx: MapContext, serialize: Serializer | None) -> None:
    # Ctrl-C is the main process's business: it stops the pool; workers must not print
    # a KeyboardInterrupt traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _ctx, _serialize
    _ctx, _serialize = ctx, serialize
    # A worker's own errors travel back to the main process with its chunk; what it
    # could still print (a broken result pipe once the main process died) is noise.
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A main process killed with -9 cannot stop its pool: idle workers would wait on the
    task pipe forever (siblings keep it open), so each leaves once its parent is gone."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


# What travels back from a worker, per chunk: its counts (a Tally) and, in input order,
# only the records the main process must still act on. Plain tuples pickle several times
# faster than dataclasses, and unpickling is the main process's cost.
#   accepted: (line, ((dataset, name, time, id, wire or None), ...))
#   rejected: (line, reason, detail, what the rejects file shows of the record)
Packed = tuple[Any, ...]
Mapped = tuple[Tally, list[Packed]]
_NO_KEYS: Mapping[str, Any] = MappingProxyType({})


def map_chunk(chunk: Chunk) -> Mapped:
    """Worker: parse, map and count one chunk of lines; accepted events come back as
    wire text (None for validate, which only counts them)."""
    assert _ctx is not None
    source, first_line, lines = chunk
    serialize = _serialize
    tally = Tally(_ctx.now)
    add = tally.add
    ctx = _ctx
    out: list[Packed] = []
    for record in jsonl_records(lines, source, first_line):
        outcome = map_record(record, ctx)
        line = record.line
        add(source, line, outcome)
        status = outcome.status
        if status == "accepted":
            out.append(
                (
                    line,
                    tuple(
                        (
                            c.dataset_id,
                            c.event_name,
                            c.event_time,
                            c.event_id,
                            None if serialize is None else serialize(c),
                        )
                        for c in outcome.conversions
                    ),
                )
            )
        elif status == "rejected":
            kept = record.message if record.error is None else record.raw
            out.append((line, outcome.reason, outcome.detail, kept))
    return tally, out


def conversions(source: str, line: int, packed: tuple[Any, ...]) -> list[Conversion]:
    """Main process: the events of one accepted record, as the batcher and sinks need
    them (identity, position and wire text; the hashed keys stayed in the worker)."""
    return [
        Conversion(ds, name, when, event_id, _NO_KEYS, _NO_KEYS, None, source, line, wire)
        for ds, name, when, event_id, wire in packed
    ]


class MappingPool:
    """A pool of mapping workers, started once per run and stopped with it."""

    def __init__(self, ctx: MapContext, serialize: Serializer | None, processes: int) -> None:
        # fork: workers inherit the imported modules and warm caches instantly. The run
        # starts the pool before any sender thread exists.
        context = multiprocessing.get_context("fork")
        self.processes = processes
        self._pool: Pool = context.Pool(processes, initializer=_init, initargs=(ctx, serialize))

    def map(self, chunks: Iterator[Chunk]) -> Iterator[tuple[str, Tally, list[Packed]]]:
        """(source, counts, records to act on) per chunk, in input order; at most a few
        chunks per worker in flight."""
        pending: deque[tuple[str, AsyncResult[Mapped]]] = deque()
        limit = self.processes * AHEAD_PER_WORKER
        for chunk in chunks:
            pending.append((chunk[0], self._pool.apply_async(map_chunk, (chunk,))))
            if len(pending) >= limit:
                source, result = pending.popleft()
                yield (source, *result.get())
        while pending:
            source, result = pending.popleft()
            yield (source, *result.get())

    def close(self) -> None:
        self._pool.close()
        self._pool.join()

    def terminate(self) -> None:
        self._pool.terminate()
        self._pool.join()
