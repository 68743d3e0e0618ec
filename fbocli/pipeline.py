"""read -> map -> validate -> batch -> sink: the one pipeline behind every command."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from typing import BinaryIO, Literal

from fbocli.batching import Batcher, Keep
from fbocli.errors import Interrupted, UsageError
from fbocli.mapping import MapContext, Outcome, map_record
from fbocli.parallel import BLOCK_BYTES, MappingPool, conversions, min_bytes, workers
from fbocli.readers import InputReader, Record, open_input
from fbocli.rejects import RejectsWriter
from fbocli.report import RunStats
from fbocli.settings import Settings
from fbocli.sinks import STOPPED, Sink

Format = Literal["auto", "jsonl", "csv"]
Progress = Callable[[RunStats, int], None]  # (stats, bytes read so far)


def mapped(records: Iterator[Record], ctx: MapContext) -> Iterator[tuple[Record, Outcome]]:
    for record in records:
        yield record, map_record(record, ctx)


def run(
    settings: Settings,
    inputs: Sequence[str],
    *,
    fmt: Format,
    stats: RunStats,
    sink: Sink,
    rejects: RejectsWriter,
    batch_size: int,
    keep: Keep | None = None,
    progress: Progress | None = None,
    stdin: BinaryIO | None = None,
) -> RunStats:
    """Stream every input through mapping into the sink; every record is counted once."""
    if list(inputs).count("-") > 1:
        raise UsageError("standard input ('-') can be given only once")
    ctx = MapContext.create(settings, stats.now)
    batcher = Batcher(batch_size, sink.submit, keep)
    with ExitStack() as stack:
        # Open every input first: a missing file must stop the run before anything is sent.
        readers: list[InputReader] = [
            stack.enter_context(open_input(path, fmt, settings.csv, stdin=stdin)) for path in inputs
        ]
        pool = _pool(readers, ctx, sink)
        if pool is not None:
            stack.callback(pool.terminate)  # also on Ctrl-C: never leave workers behind
        try:
            done = 0
            add = batcher.add
            for reader in readers:
                if pool is not None and reader.chunkable:
                    # Workers count each chunk; only rejects and accepted events come back.
                    blocks = reader.line_blocks(BLOCK_BYTES, spans=True)
                    for source, tally, rejected, events in pool.map(blocks):
                        stats.merge(tally)
                        for item in rejected:
                            rejects.write(source, *item)
                        batcher.extend(conversions(events))
                        if progress is not None:
                            progress(stats, done + reader.bytes_read)
                else:
                    for record, outcome in mapped(reader.records(), ctx):
                        stats.count(record, outcome)
                        if outcome.status == "rejected":
                            rejects.write(
                                record.source,
                                record.line,
                                outcome.reason,
                                outcome.detail,
                                _record_for_rejects(record),
                            )
                        for conversion in outcome.conversions:
                            add(conversion)
                        if progress is not None and stats.read % 512 == 0:
                            progress(stats, done + reader.bytes_read)
                done += reader.bytes_read
                if reader.csv_report is not None:
                    stats.csv_reports.append(reader.csv_report)
            batcher.flush()
            sink.close()
        except KeyboardInterrupt:
            sink.abort()
            _count_unsent(stats)
            raise Interrupted(
                "interrupted: acknowledged batches are journaled; run the same "
                "command again to send the rest"
            ) from None
        except BaseException:
            # A fatal error (expired token, ...): wait for the workers before the journal
            # and the rejects file close under them.
            sink.abort()
            _count_unsent(stats)
            raise
        finally:
            rejects.close()
            stats.rejects_file = rejects.written
    if progress is not None:
        progress(stats, sum(r.bytes_read for r in readers))
    return stats


def _pool(readers: Sequence[InputReader], ctx: MapContext, sink: Sink) -> MappingPool | None:
    """A mapping pool when a JSON lines file is large enough to pay for one, else None."""
    processes = workers()
    threshold = min_bytes()
    if processes < 2 or not any(r.chunkable and (r.total_bytes or 0) >= threshold for r in readers):
        return None
    wire = getattr(sink, "serializer", None)
    return MappingPool(ctx, wire() if wire is not None else None, processes)


def _count_unsent(stats: RunStats) -> None:
    """A stopped run: events still waiting in the batcher count as failed (not sent), so
    ``built == sent + already_sent + api_rejected + failed`` holds on every run."""
    for dataset_id, counts in list(stats.datasets.items()):
        settled = sum(counts[what] for what in ("sent", "already_sent", "api_rejected", "failed"))
        unsent = counts["built"] - settled
        if unsent > 0:
            with stats.lock:
                stats.failures[STOPPED] += unsent
            stats.result(dataset_id, "failed", unsent)


def _record_for_rejects(record: Record) -> object:
    return record.message if record.error is None else record.raw
