"""The one pipeline behind every command: inputs -> mapping -> stats/rejects -> batching -> sink.

Each input is read as chunks; each chunk is mapped and counted by
:func:`fbocli.chunks.map_chunk`, in-process or, for a large input, in worker processes
(:mod:`fbocli.pool`); the results come back in input order, their counts are merged,
their rejects written and their events batched per dataset into the sink.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import BinaryIO, Literal

from fbocli.batching import Batcher, Keep
from fbocli.chunks import Mapped, absorb, map_chunk
from fbocli.duplicates import SeenEvents, drop_duplicates
from fbocli.errors import Interrupted, UsageError
from fbocli.inputs.reader import InputReader, open_input
from fbocli.mapping.message import MapContext
from fbocli.pool import MappingPool, cpu_count
from fbocli.rejects import RejectsWriter
from fbocli.settings import Settings
from fbocli.sinks import Sink
from fbocli.stats import STOPPED, RunSummary

Format = Literal["auto", "jsonl", "csv"]
Progress = Callable[[RunSummary, int], None]  # (summary so far, bytes read so far)
Warn = Callable[[str], None]

POOL_MIN_BYTES = 4_000_000  # ~ 4,000 events: below this a pool's start-up does not pay


@dataclass(frozen=True, slots=True)
class Tuning:
    """How a run uses the machine; the defaults suit every real run (tests change them)."""

    processes: int | None = None  # mapping processes; None: one per usable core
    pool_min_bytes: int = POOL_MIN_BYTES  # the smallest input worth a pool
    backoff_scale: float = 1.0  # multiplies every retry wait


DEFAULT_TUNING = Tuning()


def run(
    settings: Settings,
    inputs: Sequence[str],
    *,
    fmt: Format,
    summary: RunSummary,
    sink: Sink,
    rejects: RejectsWriter,
    keep: Keep | None = None,
    progress: Progress | None = None,
    stdin: BinaryIO | None = None,
    tuning: Tuning = DEFAULT_TUNING,
    ready: Callable[[], None] | None = None,
    warn: Warn | None = None,
) -> RunSummary:
    """Stream every input through mapping into the sink; every record is counted once.

    ``ready`` is called once every input is open, before anything is mapped or sent (an
    upload asks Meta about its token then: local trouble shows before any request).
    ``warn`` hears what the inputs have to say (the preset a CSV is read with, an
    encoding it was read in), as soon as it is known.
    """
    if list(inputs).count("-") > 1:
        raise UsageError("standard input ('-') can be given only once")
    ctx = MapContext(settings, summary.now)
    batcher = Batcher(settings.upload.batch_size, sink.submit, keep)

    def tell(reader: InputReader) -> None:
        for note in reader.notes():
            if warn is not None:
                warn(note)

    customers = None
    if settings.csv.customers:
        from fbocli.inputs.customers import load_customers

        customers = load_customers(
            settings.csv.customers, settings.csv, settings.input.max_record_bytes
        )
        for note in customers.notes:
            if warn is not None:
                warn(note)
    with ExitStack() as stack:
        # Open every input first (a CSV's header row is read then): a missing file or a
        # setting that cannot apply must stop the run before anything is sent.
        readers: list[InputReader] = []
        for path in inputs:
            reader = open_input(
                path,
                fmt,
                settings.csv,
                stdin=stdin,
                datasets=settings.destination.dataset,
                customers=customers,
                max_record_bytes=settings.input.max_record_bytes,
            )
            readers.append(stack.enter_context(reader))
            tell(reader)
        # Every event of the run: a second one is a duplicate. A JSON lines event takes
        # some 500 bytes or more: the table is made about as large as the run needs.
        seen = SeenEvents(sum(reader.total_bytes or 0 for reader in readers) // 512)
        if ready is not None:
            ready()
        pool = _pool(readers, ctx, tuning)
        if pool is not None:
            stack.callback(pool.terminate)  # also on Ctrl-C: never leave workers behind
        try:
            done = 0
            if progress is not None:
                progress(summary, 0)  # the display starts now (after the pool forked)
            for reader in readers:
                read_before = summary.read
                chunks = reader.chunks()
                results: Iterator[Mapped] = (
                    pool.map(chunks) if pool is not None else (map_chunk(ctx, c) for c in chunks)
                )
                for mapped in results:
                    absorb(summary, mapped)  # (marks, in place, an order continued)
                    for reject in mapped.rejects:
                        rejects.write(*reject)
                    batcher.extend(drop_duplicates(seen, mapped, summary))
                    if progress is not None:
                        progress(summary, done + reader.bytes_read)
                    tell(reader)
                done += reader.bytes_read
                if summary.read == read_before:
                    summary.empty_inputs.append(reader.source)
                if reader.csv_report is not None:
                    summary.csv_reports.append(reader.csv_report)
            batcher.flush()
            sink.close()
        except KeyboardInterrupt as stop:  # Ctrl-C, or a stop signal the CLI turned into one
            _wind_down(sink, summary)
            raise Interrupted(getattr(stop, "signum", signal.SIGINT)) from None
        except BaseException:
            # A fatal error (expired token, ...): wait for the senders before the journal
            # and the rejects file close under them.
            sink.abort()
            summary.count_unsent(STOPPED)
            raise
        finally:
            rejects.close()
            summary.rejects_file = rejects.written
    if progress is not None:
        progress(summary, sum(r.bytes_read for r in readers))
    return summary


def _wind_down(sink: Sink, summary: RunSummary) -> None:
    """After Ctrl-C: wait for the batches on the wire (journaled as Meta acknowledges
    them), then count what was not sent. Another Ctrl-C meanwhile does not cut this
    short: the counts must add up and the journal must hold every acknowledged batch."""
    while True:
        try:
            sink.abort()
            break
        except KeyboardInterrupt:
            continue
    summary.count_unsent(STOPPED)


def _pool(readers: Sequence[InputReader], ctx: MapContext, tuning: Tuning) -> MappingPool | None:
    """A mapping pool when the input is large enough to pay for one, else None."""
    processes = tuning.processes or cpu_count()
    size = sum(reader.total_bytes or 0 for reader in readers)
    if processes < 2 or size < tuning.pool_min_bytes:
        return None
    return MappingPool(ctx, processes)
