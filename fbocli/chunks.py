"""The unit of work: map one chunk of an input and count it.

The same function runs in the main process for a small input and in a worker process
(:mod:`fbocli.pool`) for a large one; either way the pipeline receives the same result,
in input order. A chunk's result is what the main process must still act on: its counts,
the rejected records for the rejects file, and the accepted events (already encoded).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from fbocli.inputs.reader import Chunk
from fbocli.mapping.message import Event, MapContext, Outcome, continuing, map_message
from fbocli.stats import Counts, RunSummary


class Reject(NamedTuple):
    """A rejected record, as the rejects file shows it."""

    source: str
    line: int
    reason: str
    detail: str
    record: object


class Mapped(NamedTuple):
    """One chunk, mapped."""

    source: str
    counts: Counts
    rejects: list[Reject]
    events: list[Event]
    sizes: list[int]  # the events of each accepted record, in order (they follow each other)

    def __reduce__(self) -> tuple[Any, ...]:
        # From a worker, events cross the pipe as columns: pickling a thousand event
        # tuples one by one costs a worker several percent of its time; seven columns
        # cost a fraction of that, and the main process rebuilds the events in C.
        columns = list(zip(*self.events, strict=True))
        return (_unpickle, (self.source, self.counts, self.rejects, columns, self.sizes))


def _unpickle(
    source: str,
    counts: Counts,
    rejects: list[Reject],
    columns: list[tuple[Any, ...]],
    sizes: list[int],
) -> Mapped:
    events = list(map(Event, zip(*columns, strict=True)))
    return Mapped(source, counts, rejects, events, sizes)


def map_chunk(ctx: MapContext, chunk: Chunk) -> Mapped:
    """Parse, map and count every record of a chunk."""
    counts = Counts(ctx.now)
    rejects: list[Reject] = []
    events: list[Event] = []
    sizes: list[int] = []
    for record in chunk.records():
        if record.error is not None:  # what the reader could not parse
            outcome = Outcome("rejected", record.error, record.detail)
        elif record.skip is not None:  # what the reader skipped (a CSV filter, a refund)
            outcome = Outcome("skipped", record.skip, record.detail)
        else:
            outcome = map_message(
                record.message,
                ctx,
                record.source,
                record.line,
                record.dayfirst,
                record.words,
                record.native,
            )
        counts.add(outcome, record.source, record.line)
        if outcome.status == "rejected":
            rejects.append(
                Reject(
                    record.source,
                    record.line,
                    outcome.reason,
                    outcome.detail,
                    record.for_rejects,
                )
            )
        elif outcome.events:
            events.extend(outcome.events)
            sizes.append(len(outcome.events))
    return Mapped(chunk.source, counts, rejects, events, sizes)


def absorb(summary: RunSummary, mapped: Mapped) -> list[Event]:
    """Merge a chunk's counts into the summary (in input order); returns its events.

    A chunk's first accepted record may continue the order of the previous chunk's last
    one: its events are then marked (in ``mapped.events`` itself) as ``Counts.add`` marks
    every other continuation, so the events never depend on where the input was cut into
    chunks.
    """
    events = mapped.events
    if summary.merge(mapped.counts) and mapped.counts.head is not None:
        first = mapped.counts.head[2]
        events[:first] = continuing(events[:first])
    return events
