"""Run statistics, the ``--json`` summary of cli.md, and the human reports.

The pipeline and sinks count into :class:`RunStats`; rendering is separate so `validate`,
the dry run and the upload print from the same numbers.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fbocli.mapping import Conversion, Outcome
from fbocli.payload import STANDARD_EVENTS
from fbocli.readers import CsvReport, Record

MATCH_KEYS = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "external_id", "lead_id")
AGE_BUCKETS = ((2, "0–2 days"), (7, "2–7 days"), (28, "7–28 days"), (62, "28–62 days"))
EXAMPLES_PER_REASON = 3


def _age_label(now: int, event_time: int) -> str:
    age_days = (now - event_time) / 86400
    for limit, label in AGE_BUCKETS:
        if age_days < limit:
            return label
    return AGE_BUCKETS[-1][1]


class Tally:
    """One chunk's counts, made by a mapping worker (fbocli.parallel) and merged into
    :class:`RunStats` once per chunk: per-record counting in the main process was its
    largest cost.

    An accepted record costs one dict increment: ``accepted`` counts records per
    (match keys present, age label, routes), a few hundred distinct keys at most, which
    :meth:`RunStats.merge` expands into records, events, coverage, ages and events per
    dataset and name. Records read and events built are derived there too.
    """

    __slots__ = ("accepted", "examples", "labels", "limits", "reasons", "skips")

    def __init__(self, now: int) -> None:
        # Event times above limits[i] are younger than the i-th bucket's limit; what is
        # older than every limit falls in the last bucket, as _age_label says.
        self.limits = tuple(now - days * 86400 for days, _ in reversed(AGE_BUCKETS))
        self.labels = (AGE_BUCKETS[-1][1], *(label for _, label in reversed(AGE_BUCKETS)))
        self.accepted: dict[tuple[tuple[str, ...], str, tuple[tuple[str, str], ...]], int] = {}
        self.reasons: dict[str, int] = {}
        self.skips: dict[str, int] = {}
        self.examples: dict[str, list[str]] = {}

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)

    def age(self, event_time: int) -> str:
        """``_age_label(now, event_time)`` by one bisection of precomputed limits."""
        return self.labels[bisect_left(self.limits, event_time)]

    def add(self, source: str, line: int, outcome: Outcome) -> None:
        """What :meth:`RunStats.count` would count for this record."""
        status = outcome.status
        if status == "accepted":
            conversions = outcome.conversions
            first = conversions[0]
            routes = tuple((conv.dataset_id, conv.event_name) for conv in conversions)
            self.accept(first.user, first.event_time, routes)
        elif status == "rejected":
            self.reject(outcome.reason, f"{source}:{line}: {outcome.detail}")
        else:
            skips = self.skips
            skips[outcome.reason] = skips.get(outcome.reason, 0) + 1

    def accept(
        self, user: Mapping[str, Any], event_time: int, routes: tuple[tuple[str, str], ...]
    ) -> None:
        """One accepted record: its first conversion's match keys and time, and the
        (dataset, event name) of each of its conversions. (A mapping worker calls this
        per record: :meth:`age` is inlined.)"""
        key = (tuple(user), self.labels[bisect_left(self.limits, event_time)], routes)
        accepted = self.accepted
        accepted[key] = accepted.get(key, 0) + 1

    def reject(self, reason: str, example: str) -> None:
        """One rejected record; ``example`` is ``source:line: detail``."""
        reasons = self.reasons
        reasons[reason] = reasons.get(reason, 0) + 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(example)


@dataclass
class RunStats:
    dry_run: bool = False
    offline: bool = False  # legacy payload: custom event names go out as "Other"
    now: int = 0
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
    by_event: Counter[tuple[str, str]] = field(default_factory=Counter)
    coverage: Counter[str] = field(default_factory=Counter)
    ages: Counter[str] = field(default_factory=Counter)
    csv_reports: list[CsvReport] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    rejects_file: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- counting (pipeline thread) ---------------------------------------------------

    def count(self, record: Record, outcome: Outcome) -> None:
        """Count one mapped record (the in-process path)."""
        self.read += 1
        if outcome.status == "accepted":
            self.accepted += 1
            n = len(outcome.conversions)
            self.built += n
            first = outcome.conversions[0]
            for key in MATCH_KEYS:
                if key in first.user:
                    self.coverage[key] += n
            self.ages[_age_label(self.now, first.event_time)] += n
            for conv in outcome.conversions:
                self.by_event[(conv.dataset_id, conv.event_name)] += 1
                self.datasets[conv.dataset_id]["built"] += 1
            return
        if outcome.status == "rejected":
            self.rejected += 1
            self.reasons[outcome.reason] += 1
            examples = self.examples[outcome.reason]
            if len(examples) < EXAMPLES_PER_REASON:
                examples.append(f"{record.source}:{record.line}: {outcome.detail}")
        else:
            self.skipped += 1
            self.skips[outcome.reason] += 1

    def merge(self, tally: Tally) -> None:
        """Add a mapping worker's counts of one chunk: the same totals as :meth:`count`
        on each of its records, in one call instead of one per record."""
        rejected = sum(tally.reasons.values())
        skipped = sum(tally.skips.values())
        # Summed per key set, age and routes first: the counters below are then updated
        # once per distinct value, in the order each first appeared (as per record).
        per_keys: dict[tuple[str, ...], int] = {}
        per_age: dict[str, int] = {}
        per_routes: dict[tuple[tuple[str, str], ...], int] = {}
        for (keys, age, routes), records in tally.accepted.items():
            n = records * len(routes)  # events: one per route of each record
            per_keys[keys] = per_keys.get(keys, 0) + n
            per_age[age] = per_age.get(age, 0) + n
            per_routes[routes] = per_routes.get(routes, 0) + records
        accepted = built = 0
        by_event, datasets = self.by_event, self.datasets
        for routes, records in per_routes.items():
            accepted += records
            built += records * len(routes)
            for dataset_id, name in routes:
                by_event[(dataset_id, name)] += records
                datasets[dataset_id]["built"] += records
        self.ages.update(per_age)
        coverage = self.coverage
        for keys, n in per_keys.items():
            for key in MATCH_KEYS:
                if key in keys:
                    coverage[key] += n
        self.read += accepted + rejected + skipped
        self.accepted += accepted
        self.rejected += rejected
        self.skipped += skipped
        self.built += built
        self.reasons.update(tally.reasons)
        self.skips.update(tally.skips)
        for reason, found in tally.examples.items():
            examples = self.examples[reason]
            room = EXAMPLES_PER_REASON - len(examples)
            if room > 0:
                examples.extend(found[:room])

    # --- results (sink threads) -------------------------------------------------------

    def result(self, dataset_id: str, what: str, n: int) -> None:
        """Count n events of a dataset as sent, already_sent, api_rejected or failed."""
        if not n:
            return
        with self.lock:
            setattr(self, what, getattr(self, what) + n)
            self.datasets[dataset_id][what] += n

    def api_rejected_example(self, conv: Conversion, message: str) -> None:
        with self.lock:
            examples = self.examples["api_rejected"]
            if len(examples) < EXAMPLES_PER_REASON:
                examples.append(f"{conv.source}:{conv.line}: {message}")

    # --- output -------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The run summary object of cli.md (`--json`)."""
        return {
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
            "rejects_file": str(self.rejects_file) if self.rejects_file else None,
        }


Section = tuple[str, list[str], list[list[str]]]


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "–"


def record_sections(stats: RunStats) -> list[Section]:
    rows = [
        ["read", str(stats.read)],
        ["accepted", str(stats.accepted)],
        ["rejected", str(stats.rejected)],
        ["skipped", str(stats.skipped)],
    ]
    sections: list[Section] = [("Records", ["outcome", "records"], rows)]
    if stats.reasons or stats.examples.get("api_rejected"):
        rej = []
        for reason, n in sorted(stats.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            rej.append([reason, str(n), "\n".join(stats.examples.get(reason, []))])
        if stats.api_rejected:
            rej.append(
                [
                    "api_rejected",
                    str(stats.api_rejected),
                    "\n".join(stats.examples.get("api_rejected", [])),
                ]
            )
        sections.append(
            ("Rejected", ["reason", "count", "first examples (file:line: detail)"], rej)
        )
    if stats.skips:
        sections.append(
            ("Skipped", ["reason", "count"], [[r, str(n)] for r, n in sorted(stats.skips.items())])
        )
    return sections


def _wire_name(name: str, offline: bool) -> str:
    return f"Other ({name})" if offline and name not in STANDARD_EVENTS else name


def validate_sections(stats: RunStats) -> list[Section]:
    sections = record_sections(stats)
    if stats.by_event:
        sections.append(
            (
                "Events",
                ["dataset", "Meta event", "events"],
                [
                    [ds, _wire_name(name, stats.offline), str(n)]
                    for (ds, name), n in sorted(stats.by_event.items())
                ],
            )
        )
        sections.append(
            (
                "Match-key coverage (of accepted events)",
                ["key", "events", "share"],
                [
                    [k, str(stats.coverage[k]), _pct(stats.coverage[k], stats.built)]
                    for k in MATCH_KEYS
                ],
            )
        )
        sections.append(
            (
                "Event age",
                ["age", "events", "share"],
                [
                    [label, str(stats.ages[label]), _pct(stats.ages[label], stats.built)]
                    for _, label in AGE_BUCKETS
                ],
            )
        )
    for report in stats.csv_reports:
        rows = [[header, path] for path, header in report.columns]
        rows += [[header, "(ignored: never sent)"] for header in report.ignored]
        sections.append(
            (
                f"CSV columns of {report.source} (delimiter {report.delimiter!r})",
                ["CSV header", "Segment field"],
                rows,
            )
        )
    return sections


def upload_sections(stats: RunStats) -> list[Section]:
    sections = record_sections(stats)
    label = "would send" if stats.dry_run else "sent"
    rows = []
    for ds, c in sorted(stats.datasets.items()):
        rows.append(
            [
                ds,
                str(c["built"]),
                str(c["sent"]),
                str(c["already_sent"]),
                str(c["api_rejected"]),
                str(c["failed"]),
            ]
        )
    if len(rows) != 1:
        rows.append(
            [
                "total",
                str(stats.built),
                str(stats.sent),
                str(stats.already_sent),
                str(stats.api_rejected),
                str(stats.failed),
            ]
        )
    sections.append(
        (
            "Events by dataset",
            ["dataset", "built", label, "already sent", "api rejected", "failed"],
            rows,
        )
    )
    if stats.failures:
        sections.append(
            (
                "Not delivered (a re-run retries them)",
                ["reason", "events"],
                [[r, str(n)] for r, n in stats.failures.most_common()],
            )
        )
    return sections


def render(sections: list[Section], out: IO[str], *, rich_output: bool) -> None:
    if rich_output:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = Console(file=out)
        for title, headers, rows in sections:
            table = Table(title=title, title_justify="left", title_style="bold")
            for i, header in enumerate(headers):
                table.add_column(
                    header,
                    justify="right"
                    if i
                    and rows
                    and all(
                        r[i].replace("%", "").replace(".", "").isdigit() or r[i] == "–"
                        for r in rows
                    )
                    else "left",
                )
            for row in rows:
                table.add_row(*(Text(cell) for cell in row))  # data, not markup
            console.print(table)
        return
    for title, headers, rows in sections:
        out.write(f"{title}\n")
        widths = [
            max(len(h), *(len(line) for r in rows for line in r[i].split("\n") or [""]))
            for i, h in enumerate(headers)
        ]
        widths[-1] = len(headers[-1])  # the last column is never padded
        out.write(
            "  "
            + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
            + "\n"
        )
        for row in rows:
            lines = [cell.split("\n") for cell in row]
            for j in range(max(len(cell) for cell in lines)):
                cells = [cell[j] if j < len(cell) else "" for cell in lines]
                out.write(
                    "  "
                    + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
                    + "\n"
                )
        out.write("\n")
