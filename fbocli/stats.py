"""The run's numbers: what mapping made of the records, what became of the events.

Counting happens in two places only. :meth:`Counts.add` counts one mapped record, where
its chunk is mapped (a worker process, or the main one); the pipeline merges each
chunk's counts into the :class:`RunSummary` (:meth:`RunSummary.merge`). The sinks count
what became of each event (:meth:`RunSummary.result`). ``RunSummary.to_dict()`` is the
``--json`` summary of cli.md.
"""

from __future__ import annotations

import threading
import time
import uuid
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fbocli import __version__
from fbocli.errors import ExitStatus
from fbocli.mapping.matchkeys import Note
from fbocli.mapping.message import Outcome
from fbocli.quality import (
    HOUR,
    ORDERED,
    PURCHASE,
    REPEAT,
    STALE_AFTER,
    VALUED,
    Tally,
    key_facts,
    lag_bucket,
)
from fbocli.quality import to_dict as quality_dict
from fbocli.settings import Route

if TYPE_CHECKING:  # (the CSV reading loads only when a CSV is read)
    from fbocli.inputs.csvfile import CsvReport

MATCH_KEYS = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "external_id", "lead_id")
AGE_BUCKETS = ((2, "0–2 days"), (7, "2–7 days"), (28, "7–28 days"), (62, "28–62 days"))
_COVERED = frozenset(MATCH_KEYS)
EXAMPLES_PER_REASON = 3
# Distinct values kept per field of ``unrecognised`` (the first ones seen); the records of
# any further value are counted under OTHER_VALUES.
MAX_UNRECOGNISED_VALUES = 100
OTHER_VALUES = "(other values)"
DELIVERY = ("sent", "already_sent", "api_rejected", "failed")
STOPPED = "not sent: the run was stopped"
_FLAGS = VALUED | ORDERED | REPEAT  # the facts of a record besides its keys
Order = tuple[str, str, str]  # (source, Segment event, order_id)


@dataclass(slots=True)
class Counts:
    """The counts of one chunk's records.

    An accepted record costs two dict increments: ``accepted`` counts records per (match
    keys present, age bucket, routes, facts besides the keys), a few hundred distinct keys
    at most, which :meth:`RunSummary.merge` expands into events, coverage, ages and the
    quality tally per chunk; ``lags`` counts events per hour of lag to ``now``.

    It also marks basket splitting: an accepted record whose order (source, Segment event,
    ``order_id``) is the one of the accepted record before it continues that order
    (:meth:`Outcome.continue_order`). ``head`` and ``tail`` let the pipeline join chunks:
    an order that continues across a chunk boundary is marked the same way
    (:meth:`RunSummary.merge`), so the result never depends on where chunks are cut.
    """

    now: int
    accepted: dict[tuple[tuple[str, ...], int, tuple[Route, ...], int], int] = field(
        default_factory=dict
    )
    reasons: dict[str, int] = field(default_factory=dict)
    skips: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)  # Segment event name -> records
    # (field, value) of what match keys could not use (matchkeys.Note) -> records, and the
    # first ``source:line`` of each
    unrecognised: dict[Note, int] = field(default_factory=dict)
    unrecognised_examples: dict[Note, list[str]] = field(default_factory=dict)
    lags: dict[int, int] = field(default_factory=dict)  # quality.lag_bucket -> events
    stale: int = 0  # events older than quality.STALE_AFTER
    # The first accepted record: (its order or None, its routes, its events); the order of
    # the last one.
    head: tuple[Order | None, tuple[Route, ...], int] | None = None
    tail: Order | None = None
    # Event times above limits[i] are younger than the i-th bucket from the oldest.
    limits: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.limits = [self.now - days * 86400 for days, _ in reversed(AGE_BUCKETS)]

    def add(self, outcome: Outcome, source: str, line: int) -> None:
        """Count one mapped record (and mark an order it continues)."""
        if outcome.notes:
            self.note(outcome.notes, f"{source}:{line}")
        if outcome.status == "accepted":
            order = (
                None
                if outcome.order_id is None
                else (source, outcome.segment_event, outcome.order_id)
            )
            if order is not None and order == self.tail:
                outcome.continue_order()
            if self.head is None:
                self.head = (order, outcome.routes, len(outcome.events))
            self.tail = order
            age = bisect_left(self.limits, outcome.event_time)  # AGE_BUCKETS, oldest first
            key = (outcome.keys, age, outcome.routes, outcome.facts & _FLAGS)
            self.accepted[key] = self.accepted.get(key, 0) + 1
            events = len(outcome.routes)
            lag = self.now - outcome.event_time
            hours = lag_bucket(lag // HOUR)
            self.lags[hours] = self.lags.get(hours, 0) + events
            if lag > STALE_AFTER:
                self.stale += events
        elif outcome.status == "rejected":
            self.reject(outcome.reason, f"{source}:{line}: {outcome.detail}")
        else:
            reason = outcome.reason
            self.skips[reason] = self.skips.get(reason, 0) + 1
            if reason == "unmapped_event":
                name = outcome.segment_event
                self.unmapped[name] = self.unmapped.get(name, 0) + 1
            else:  # (the unmapped event names are listed with their counts instead)
                self._example(reason, f"{source}:{line}: {outcome.detail}")

    def note(self, notes: tuple[Note, ...], where: str) -> None:
        """What the match keys of one record (at ``where``, ``source:line``) could not use."""
        for note in notes:
            self.unrecognised[note] = self.unrecognised.get(note, 0) + 1
            examples = self.unrecognised_examples.setdefault(note, [])
            if len(examples) < EXAMPLES_PER_REASON:
                examples.append(where)

    def reject(self, reason: str, example: str) -> None:
        """One rejected record; ``example`` is ``source:line: detail``."""
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        self._example(reason, example)

    def _example(self, reason: str, example: str) -> None:
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(example)


# bisect_left(Counts.limits, t) -> the label: what is older than every limit counts as
# the oldest bucket.
_AGE_LABELS = (AGE_BUCKETS[-1][1], *(label for _, label in reversed(AGE_BUCKETS)))


@dataclass
class FailureRow:
    """Events of one dataset not delivered for one reason (Meta's identifiers kept)."""

    events: int
    fbtrace_id: str | None  # the first one seen: what to quote to Meta


@dataclass
class RunSummary:
    """Everything a run counted; :meth:`to_dict` is the ``--json`` summary (cli.md)."""

    dry_run: bool = False
    validate: bool = False  # a validate run (its rejects make the exit status 1)
    strict: bool = False  # --strict: rejects make the exit status 1
    offline: bool = False  # legacy payload: custom event names go out as "Other"
    now: int = 0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    exit_code: int | None = None
    inputs: list[str] = field(default_factory=list)
    api_version: str = ""
    test_event_code: str | None = None
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0
    built: int = 0
    sent: int = 0
    already_sent: int = 0
    api_rejected: int = 0
    failed: int = 0
    batches: int = 0
    retries: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    skips: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    datasets: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_event: Counter[Route] = field(default_factory=Counter)
    coverage: Counter[str] = field(default_factory=Counter)
    ages: Counter[str] = field(default_factory=Counter)
    tally: Tally = field(default_factory=Tally)  # the quality figures of the events built
    order_tail: Order | None = None  # the order of the last accepted record merged
    csv_reports: list[CsvReport] = field(default_factory=list)
    # (dataset, reason, code, subcode) -> events and the first fbtrace_id
    failures: dict[tuple[str, str, int | None, int | None], FailureRow] = field(
        default_factory=dict
    )
    unmapped: Counter[str] = field(default_factory=Counter)
    suggestions: dict[str, str] = field(default_factory=dict)  # unmapped -> close configured
    unrecognised: dict[str, Counter[str]] = field(default_factory=dict)  # field -> value -> n
    # (field, value) -> its first source:line examples
    unrecognised_examples: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # default region -> records read in it because their country was not recognised
    region_fallback: Counter[str] = field(default_factory=Counter)
    test_events: Counter[str] = field(default_factory=Counter)  # already sent as test: code -> n
    warnings: list[str] = field(default_factory=list)
    empty_inputs: list[str] = field(default_factory=list)  # inputs without a record
    rejects_file: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # --- mapping (the pipeline's thread) -------------------------------------------------

    def merge(self, counts: Counts) -> bool:
        """Add one chunk's counts. True when the chunk's first accepted record continues
        the order of the last one merged before (its events are then to be marked with
        :func:`fbocli.mapping.message.continuing`, as ``Counts.add`` marks the others)."""
        # Summed per key set, age and routes first: the counters below are then updated
        # once per distinct value (a chunk has hundreds of entries, not thousands).
        per_keys: dict[tuple[str, ...], int] = {}
        per_age: dict[int, int] = {}
        per_routes: dict[tuple[Route, ...], int] = {}
        per_facts: dict[tuple[int, tuple[Route, ...]], int] = {}
        for (keys, age, routes, flags), records in counts.accepted.items():
            events = records * len(routes)
            per_keys[keys] = per_keys.get(keys, 0) + events
            per_age[age] = per_age.get(age, 0) + events
            per_routes[routes] = per_routes.get(routes, 0) + records
            kind = (key_facts(keys) | flags, routes)
            per_facts[kind] = per_facts.get(kind, 0) + records
        tally = self.tally
        for (facts, routes), records in per_facts.items():
            purchases = sum(name == PURCHASE for _, name in routes)
            tally.add(facts, records * len(routes), records * purchases)
        lag_hours = tally.lag_hours
        for hours, events in counts.lags.items():
            lag_hours[hours] += events
        tally.stale += counts.stale
        continued = False
        if counts.head is not None:
            order, routes, _ = counts.head
            if order is not None and order == self.order_tail:
                continued = True
                tally.order_repeats += sum(name == PURCHASE for _, name in routes)
            self.order_tail = counts.tail
        for routes, records in per_routes.items():
            self.accepted += records
            self.built += records * len(routes)
            for dataset_id, name in routes:
                self.by_event[(dataset_id, name)] += records
                self.datasets[dataset_id]["built"] += records
        for age, events in per_age.items():
            self.ages[_AGE_LABELS[age]] += events
        for keys, events in per_keys.items():
            for key in keys:
                if key in _COVERED:
                    self.coverage[key] += events
        rejected = sum(counts.reasons.values())
        skipped = sum(counts.skips.values())
        self.rejected += rejected
        self.skipped += skipped
        self.read += sum(counts.accepted.values()) + rejected + skipped
        self.reasons.update(counts.reasons)
        self.skips.update(counts.skips)
        self.unmapped.update(counts.unmapped)
        for reason, found in counts.examples.items():
            examples = self.examples[reason]
            examples.extend(found[: max(0, EXAMPLES_PER_REASON - len(examples))])
        for (name, value), records in counts.unrecognised.items():
            self._unrecognised(name, value, records, counts.unrecognised_examples[name, value])
        return continued

    def _unrecognised(self, name: str, value: str, records: int, found: list[str]) -> None:
        """Merge one (field, value) of a chunk: the first MAX_UNRECOGNISED_VALUES values
        seen in the input keep their own count and examples, whatever the chunks."""
        if name == "region":
            self.region_fallback[value] += records
        else:
            values = self.unrecognised.setdefault(name, Counter())
            if value not in values and len(values) >= MAX_UNRECOGNISED_VALUES:
                value = OTHER_VALUES
            values[value] += records
        examples = self.unrecognised_examples.setdefault((name, value), [])
        examples.extend(found[: max(0, EXAMPLES_PER_REASON - len(examples))])

    # --- delivery (the sinks' threads) ---------------------------------------------------

    def result(self, dataset_id: str, what: str, n: int) -> None:
        """Count ``n`` events of a dataset as sent, already_sent or api_rejected."""
        if not n:
            return
        with self.lock:
            setattr(self, what, getattr(self, what) + n)
            self.datasets[dataset_id][what] += n

    def fail(
        self,
        dataset_id: str,
        n: int,
        reason: str,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
    ) -> None:
        """Count ``n`` events of a dataset as not delivered, and why."""
        if n <= 0:
            return
        with self.lock:
            self.failed += n
            self.datasets[dataset_id]["failed"] += n
            key = (dataset_id, reason, code, subcode)
            row = self.failures.get(key)
            if row is None:
                self.failures[key] = FailureRow(n, fbtrace_id)
            else:
                row.events += n

    def api_rejected_example(self, source: str, line: int, message: str) -> None:
        with self.lock:
            examples = self.examples["api_rejected"]
            if len(examples) < EXAMPLES_PER_REASON:
                examples.append(f"{source}:{line}: {message}")

    def duplicates(self, records: int, per_dataset: dict[str, int], examples: list[str]) -> None:
        """Events built a second time in this run (mapping.md section 6): counted
        ``already_sent``; ``records`` whose every event is one move from accepted to
        skipped as ``duplicate``."""
        for dataset_id, n in per_dataset.items():
            self.result(dataset_id, "already_sent", n)
        if records:
            self.accepted -= records
            self.skipped += records
            self.skips["duplicate"] += records
            found = self.examples["duplicate"]
            found.extend(examples[: max(0, EXAMPLES_PER_REASON - len(found))])

    def count_unsent(self, reason: str) -> None:
        """A stopped run: events built but not settled count as failed, so ``built ==
        sent + already_sent + api_rejected + failed`` holds on every run."""
        for dataset_id, counts in list(self.datasets.items()):
            unsent = counts["built"] - sum(counts[what] for what in DELIVERY)
            self.fail(dataset_id, unsent, reason)

    # --- output ------------------------------------------------------------------------

    def exit_status(self) -> ExitStatus:
        """cli.md's exit status of a finished run: 1 when events were not delivered, when
        records were read but not one event could be built, or when records were
        rejected by ``validate`` (or any run with ``strict``); else 0."""
        if self.failed or self.api_rejected or (self.read and not self.built):
            return ExitStatus.FAILURE
        if self.rejected and (self.strict or self.validate):
            return ExitStatus.FAILURE
        return ExitStatus.OK

    def finish(self, exit_code: int) -> None:
        """Record the end of the run and its exit status."""
        self.finished_at = time.time()
        self.exit_code = exit_code

    def failure_rows(self) -> list[dict[str, Any]]:
        """The ``failures`` of the summary: most events first."""
        rows = [
            {
                "dataset": dataset,
                "reason": reason,
                "code": code,
                "subcode": subcode,
                "fbtrace_id": row.fbtrace_id,
                "events": row.events,
            }
            for (dataset, reason, code, subcode), row in self.failures.items()
        ]
        return sorted(rows, key=lambda r: (-r["events"], r["dataset"], r["reason"]))

    def to_dict(self) -> dict[str, Any]:
        """The run summary object of cli.md (``--json``)."""
        return {
            "version": __version__,
            "run_id": self.run_id,
            "started_at": utc_text(self.started_at),
            "finished_at": utc_text(self.finished_at) if self.finished_at else None,
            "exit_code": self.exit_code,
            "inputs": list(self.inputs),
            "api_version": self.api_version,
            "test_event_code": self.test_event_code,
            "dry_run": self.dry_run,
            "records": {
                "read": self.read,
                "accepted": self.accepted,
                "rejected": self.rejected,
                "skipped": self.skipped,
            },
            "events": {
                "built": self.built,
                "sent": self.sent,
                "already_sent": self.already_sent,
                "api_rejected": self.api_rejected,
                "failed": self.failed,
            },
            "reasons": dict(sorted(self.reasons.items())),
            "skips": dict(sorted(self.skips.items())),
            "datasets": {
                ds: {
                    "sent": c["sent"],
                    "failed": c["failed"],
                    "api_rejected": c["api_rejected"],
                    "already_sent": c["already_sent"],
                }
                for ds, c in sorted(self.datasets.items())
            },
            "failures": self.failure_rows(),
            "unmapped": dict(self.unmapped.most_common()),
            "unrecognised": {
                name: dict(values.most_common())
                for name, values in sorted(self.unrecognised.items())
            },
            "region_fallback": dict(sorted(self.region_fallback.items())),
            "warnings": list(self.warnings),
            "quality": quality_dict(self.tally, lag_to="now"),
            "csv": [report.to_dict() for report in self.csv_reports],
            "rejects_file": str(self.rejects_file) if self.rejects_file else None,
        }


def utc_text(seconds: float) -> str:
    """``2026-12-03T02:30:00Z``: a time for the summary, the runs list and the log."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
