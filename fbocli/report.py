"""Run statistics, the ``--json`` summary of cli.md, and the human reports.

The pipeline and sinks count into :class:`RunStats`; rendering is separate so `validate`,
the dry run and the upload print from the same numbers.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
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
    largest cost. Match-key coverage is kept per key set (few distinct ones) and
    expanded on merge; dataset totals are derived from ``by_event``.
    """

    __slots__ = (
        "accepted",
        "ages",
        "built",
        "by_event",
        "examples",
        "keysets",
        "now",
        "read",
        "reasons",
        "rejected",
        "skipped",
        "skips",
    )

    def __init__(self, now: int) -> None:
        self.now = now
        self.read = self.accepted = self.rejected = self.skipped = self.built = 0
        self.reasons: Counter[str] = Counter()
        self.skips: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.keysets: Counter[tuple[str, ...]] = Counter()
        self.ages: Counter[str] = Counter()
        self.by_event: Counter[tuple[str, str]] = Counter()

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)

    def add(self, source: str, line: int, outcome: Outcome) -> None:
        """What :meth:`RunStats.count` would count for this record."""
        self.read += 1
        status = outcome.status
        if status == "accepted":
            conversions = outcome.conversions
            n = len(conversions)
            self.accepted += 1
            self.built += n
            first = conversions[0]
            self.keysets[tuple(first.user)] += n
            self.ages[_age_label(self.now, first.event_time)] += n
            by_event = self.by_event
            for conv in conversions:
                by_event[(conv.dataset_id, conv.event_name)] += 1
        elif status == "rejected":
            self.rejected += 1
            reason = outcome.reason
            self.reasons[reason] += 1
            examples = self.examples.setdefault(reason, [])
            if len(examples) < EXAMPLES_PER_REASON:
                examples.append(f"{source}:{line}: {outcome.detail}")
        else:
            self.skipped += 1
            self.skips[outcome.reason] += 1


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
        self.read += tally.read
        self.accepted += tally.accepted
        self.rejected += tally.rejected
        self.skipped += tally.skipped
        self.built += tally.built
        self.reasons.update(tally.reasons)
        self.skips.update(tally.skips)
        for reason, found in tally.examples.items():
            examples = self.examples[reason]
            room = EXAMPLES_PER_REASON - len(examples)
            if room > 0:
                examples.extend(found[:room])
        coverage = self.coverage
        for keys, n in tally.keysets.items():
            for key in MATCH_KEYS:
                if key in keys:
                    coverage[key] += n
        self.ages.update(tally.ages)
        self.by_event.update(tally.by_event)
        datasets = self.datasets
        for (dataset_id, _), n in tally.by_event.items():
            datasets[dataset_id]["built"] += n

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
