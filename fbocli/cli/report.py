"""The report: a run summary as tables on a terminal, or as plain text (cron mail, pipes)."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from fbocli import __version__
from fbocli.mapping.payload import STANDARD_EVENTS
from fbocli.quality import Check, checks
from fbocli.stats import AGE_BUCKETS, MATCH_KEYS, RunSummary, utc_text

if TYPE_CHECKING:
    from fbocli.inputs.csvfile import CsvReport
    from fbocli.scores import EventScores, Score

Section = tuple[str, list[str], list[list[str]]]


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "–"


def record_sections(summary: RunSummary) -> list[Section]:
    rows = [
        ["read", str(summary.read)],
        ["accepted", str(summary.accepted)],
        ["rejected", str(summary.rejected)],
        ["skipped", str(summary.skipped)],
    ]
    sections: list[Section] = [("Records", ["outcome", "records"], rows)]
    if summary.reasons or summary.examples.get("api_rejected"):
        rej = []
        for reason, n in sorted(summary.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            rej.append([reason, str(n), "\n".join(summary.examples.get(reason, []))])
        if summary.api_rejected:
            rej.append(
                [
                    "api_rejected",
                    str(summary.api_rejected),
                    "\n".join(summary.examples.get("api_rejected", [])),
                ]
            )
        sections.append(
            ("Rejected", ["reason", "count", "first examples (file:line: detail)"], rej)
        )
    if summary.skips:
        sections.append(
            (
                "Skipped (not sent, not errors)",
                ["reason", "count", "first examples (file:line: detail)"],
                [
                    [r, str(n), "\n".join(summary.examples.get(r, []))]
                    for r, n in sorted(summary.skips.items())
                ],
            )
        )
    if summary.unmapped:
        rows = []
        for name, n in summary.unmapped.most_common():
            close = summary.suggestions.get(name)
            rows.append([name, str(n), f"did you mean {close!r}?" if close else ""])
        sections.append(
            (
                "Unmapped events (no [events], [lead_events] or [registration_events] entry)",
                ["Segment event", "records", "note"],
                rows,
            )
        )
    if summary.unrecognised or summary.region_fallback:
        sections.append(
            (
                "Values not recognised",
                ["field", "value", "records", "what fbocli did", "first examples (file:line)"],
                unrecognised_rows(summary),
            )
        )
    return sections


# field of RunSummary.unrecognised -> (shows its values, what became of them); in order
_UNRECOGNISED = {
    "country": (True, "not a country fbocli knows: not sent"),
    "state": (True, "not a US or Canadian state code or name: sent as written (letters only)"),
    "gender": (True, "not a word for male or female: not sent"),
    "email": (False, "not an email address: not sent"),
    "phone": (False, "not a possible phone number: not sent"),
    "birthday": (False, "not a date from 1900 to this year: not sent"),
    "contact_data": (True, "contact data in properties: left out of custom_data"),
}
ROWS_PER_FIELD = 10  # the most frequent values of a field; the rest in one row


def unrecognised_rows(summary: RunSummary) -> list[list[str]]:
    """The rows of "Values not recognised": the values of countries, states and genders;
    emails, phones and birthdays (personal data) only counted; and the records read in
    the default region because their country was not recognised."""
    rows = []
    order = list(_UNRECOGNISED)
    names = sorted(
        summary.unrecognised, key=lambda n: (n not in order, n in order and order.index(n), n)
    )
    for name in names:
        shows_values, what = _UNRECOGNISED.get(name, (False, "not recognised"))
        values = summary.unrecognised[name].most_common()
        for value, records in values[:ROWS_PER_FIELD]:
            shown = repr(value) if shows_values else "(values not shown)"
            examples = summary.unrecognised_examples.get((name, value), [])
            rows.append([name, shown, str(records), what, "\n".join(examples)])
        if len(values) > ROWS_PER_FIELD:
            rest = values[ROWS_PER_FIELD:]
            more = f"{len(rest)} more values"
            rows.append([name, more, str(sum(n for _, n in rest)), what, ""])
    for region, records in sorted(summary.region_fallback.items()):
        examples = summary.unrecognised_examples.get(("region", region), [])
        where = f"read in {region.upper()} (default_country)" if region else "read without a region"
        what = f"country not recognised: phone, state and zip {where}"
        rows.append(["region", region.upper() or "(none)", str(records), what, "\n".join(examples)])
    return rows


def _wire_name(name: str, offline: bool) -> str:
    return f"Other ({name})" if offline and name not in STANDARD_EVENTS else name


def validate_sections(summary: RunSummary) -> list[Section]:
    sections = record_sections(summary)
    if summary.by_event:
        sections.append(
            (
                "Events",
                ["dataset", "Meta event", "events"],
                [
                    [ds, _wire_name(name, summary.offline), str(n)]
                    for (ds, name), n in sorted(summary.by_event.items())
                ],
            )
        )
        sections.append(
            (
                "Match-key coverage (of accepted events)",
                ["key", "events", "share"],
                [
                    [k, str(summary.coverage[k]), _pct(summary.coverage[k], summary.built)]
                    for k in MATCH_KEYS
                ],
            )
        )
        sections.append(
            (
                "Event age",
                ["age", "events", "share"],
                [
                    [label, str(summary.ages[label]), _pct(summary.ages[label], summary.built)]
                    for _, label in AGE_BUCKETS
                ],
            )
        )
    if summary.built:
        sections.append(
            check_section(
                "Data quality: what Meta will score (its thresholds), before uploading",
                checks(summary.tally, lag_to="now"),
                "this file",
            )
        )
    for report in summary.csv_reports:
        sections += csv_sections(report)
    return sections


def csv_sections(report: CsvReport, *, columns: bool = True) -> list[Section]:
    """How one CSV file was read: its preset and why, its columns (``columns``), its rows
    and orders, what was not sent and why, the customer file."""
    how = f"delimiter {report.delimiter!r}, {report.encoding}"
    if report.preset:
        how = f"{report.title}, preset {report.preset}: {report.why}; {how}"
    sections: list[Section] = []
    if columns:
        rows = [[header, path] for path, header in report.columns]
        rows += [[header, f"(read by the preset: {why})"] for header, why in report.read]
        rows += [[header, "(not in the file)"] for header in report.missing]
        rows += [[header, "(ignored: never sent)"] for header in report.ignored]
        title = f"CSV columns of {report.source} ({how})"
        sections.append((title, ["CSV header", "Segment field"], rows))
    facts = [
        ["lines read", str(report.lines)],
        ["rows read", str(report.rows)],
    ]
    if report.group_by:
        facts.append(
            [f"orders (rows grouped by {' + '.join(report.group_by)})", str(report.orders)]
        )
        facts.append(["rows joined to the order above them (line items)", str(report.grouped)])
    for (reason, cause), n in report.skipped.most_common():
        facts.append([f"{reason}: {cause}", str(n)])
    if report.customers:
        facts.append([f"customers found in {report.customers}", str(report.joined)])
        facts.append([f"{report.customer_key} not in {report.customers}", str(report.not_joined)])
    elif report.keyed:
        facts.append(
            [
                f"with a {report.customer_key} but no customer file: --customers FILE would "
                "add their email, phone and names",
                str(report.keyed),
            ]
        )
    title = f"CSV rows of {report.source}" + ("" if columns else f" ({how})")
    sections.append((title, ["what", "count"], facts))
    return sections


def upload_sections(summary: RunSummary) -> list[Section]:
    sections = record_sections(summary)
    label = "would send" if summary.dry_run else "sent"
    rows = []
    for ds, c in sorted(summary.datasets.items()):
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
                str(summary.built),
                str(summary.sent),
                str(summary.already_sent),
                str(summary.api_rejected),
                str(summary.failed),
            ]
        )
    sections.append(
        (
            "Events by dataset",
            ["dataset", "built", label, "already sent", "api rejected", "failed"],
            rows,
        )
    )
    for report in summary.csv_reports:
        sections += csv_sections(report, columns=False)
    if summary.failures:
        sections.append(
            (
                "Not delivered (a re-run retries them)",
                ["dataset", "events", "reason"],
                [
                    [row["dataset"], str(row["events"]), failure_text(row)]
                    for row in summary.failure_rows()
                ],
            )
        )
    return sections


def check_section(title: str, found: list[Check], what: str) -> Section:
    """Data-quality checks: factor, fbocli's figure, Meta's target, verdict, what to do."""
    rows = []
    for check in found:
        verdict = "–" if check.ok is None else "ok" if check.ok else "LOW"
        advice = check.advice if check.ok is False else ""
        rows.append([check.factor, check.value, check.target, verdict, advice])
    return (title, ["factor", what, "Meta's target", "verdict", "what to do"], rows)


def _score(score: Score) -> str:
    return "–" if score.score is None else f"{score.score:g} {score.band}"


def scores_sections(dataset_id: str, events: tuple[EventScores, ...]) -> list[Section]:
    """Meta's scores of one dataset's offline events, and its recommendations."""
    rows = []
    advice = []
    for event in events:
        coverage = ", ".join(
            f"{name} {100 * value:.0f}%"
            for name, value in (("email", event.email), ("phone", event.phone))
            if value is not None
        )
        ready = event.omnichannel_ready
        rows.append(
            [
                event.event_name,
                _score(event.composite),
                _score(event.match_key) + (f" ({coverage})" if coverage else ""),
                _score(event.frequency),
                _score(event.freshness),
                "–" if ready is None else "yes" if ready else "no",
            ]
        )
        for factor, score in (
            ("composite", event.composite),
            ("match key", event.match_key),
            ("frequency", event.frequency),
            ("freshness", event.freshness),
        ):
            if score.recommendation:
                advice.append([event.event_name, factor, score.recommendation])
    headers = ["event", "composite", "match key", "frequency", "freshness", "omnichannel"]
    sections: list[Section] = [
        (f"Meta's scores of dataset {dataset_id} (0-10; omnichannel needs 8.5)", headers, rows)
    ]
    if advice:
        sections.append(("Meta's recommendations", ["event", "score", "recommendation"], advice))
    return sections


def failure_text(row: dict[str, Any]) -> str:
    """A failure's reason with the identifiers Meta support asks for, never cut short."""
    ids = [f"{name} {row[key]}" for key, name in _IDS if row.get(key) is not None]
    return f"{row['reason']} ({', '.join(ids)})" if ids else str(row["reason"])


_IDS = (("code", "code"), ("subcode", "subcode"), ("fbtrace_id", "fbtrace_id"))


def headline(summary: RunSummary) -> str:
    """The first line of a text report: what ran, when, and how it ended (a cron log's
    entries stay apart and dated)."""
    what = "validate" if summary.validate else "upload --dry-run" if summary.dry_run else "upload"
    parts = [f"fbocli {__version__} {what}", f"run {summary.run_id}"]
    parts.append(f"started {utc_text(summary.started_at)}")
    if summary.finished_at is not None:
        parts.append(f"finished {utc_text(summary.finished_at)}")
    if summary.exit_code is not None:
        parts.append(f"exit {summary.exit_code}")
    return " · ".join(parts)


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


def runs_sections(runs: list[dict[str, Any]]) -> list[Section]:
    """`fbocli runs`: one row per upload, newest first."""
    rows = []
    for run in runs:
        events = run.get("events") or {}
        rows.append(
            [
                str(run.get("started_at") or ""),
                str(run.get("finished_at") or ""),
                str(run.get("exit_code")),
                "\n".join(str(path) for path in run.get("inputs") or []),
                str(events.get("sent", 0)),
                str(events.get("already_sent", 0)),
                str(events.get("api_rejected", 0)),
                str(events.get("failed", 0)),
                str(run.get("test_event_code") or ""),
                str(run.get("rejects_file") or ""),
            ]
        )
    headers = [
        "started (UTC)",
        "finished (UTC)",
        "exit",
        "inputs",
        "sent",
        "already sent",
        "api rejected",
        "failed",
        "test code",
        "rejects file",
    ]
    return [("Uploads", headers, rows)]
