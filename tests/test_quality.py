"""fbocli's own data-quality figures: the facts each event carries, how they are counted
(by mapping for `validate`, by the journal for `fbocli quality`), the journal's schema 3
and its upgrade in place, and the checks against Meta's thresholds."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from fbocli.chunks import absorb, map_chunk
from fbocli.config import parse_settings
from fbocli.inputs.reader import Chunk
from fbocli.inputs.record import Record
from fbocli.journal import JOURNAL_FILE, SCHEMA_VERSION, Journal
from fbocli.mapping.message import MapContext
from fbocli.quality import (
    KEY_BITS,
    ORDERED,
    REPEAT,
    VALUED,
    Tally,
    checks,
    event_facts,
    key_facts,
)
from fbocli.stats import RunSummary
from tests.helpers import (
    DAY,
    DS1,
    NOW,
    NOW_TS,
    invoke,
    sale,
    summary,
    write_config,
    write_jsonl,
)

SETTINGS = parse_settings({"events": {"Order Completed": [DS1]}})

# --- facts ---------------------------------------------------------------------------------


def test_facts_name_keys_value_and_order_never_their_values() -> None:
    facts = event_facts(("em", "ph", "doby", "dobm"), 12.5, "A-1")
    assert facts == KEY_BITS["em"] | KEY_BITS["ph"] | KEY_BITS["db"] | VALUED | ORDERED
    assert event_facts(("external_id",), 0, None) == KEY_BITS["external_id"]
    assert event_facts((), None, None) == 0
    assert key_facts(("em",)) == key_facts(("em",)) == 1


def _records(messages: list[dict[str, Any]]) -> list[Record]:
    return [Record("in.jsonl", i + 1, message) for i, message in enumerate(messages)]


def _map(records: list[Record], size: int | None, rng: random.Random) -> tuple[Any, ...]:
    """Map ``records`` in chunks of ``size`` (None: random sizes) as the pipeline does."""
    ctx = MapContext(SETTINGS, NOW_TS)
    summary = RunSummary(now=NOW_TS)
    events = []
    index = 0
    while index < len(records):
        step = size or rng.randint(1, 5)
        chunk = Chunk("in.jsonl", records[index].line, records[index : index + step])
        events += absorb(summary, map_chunk(ctx, chunk))
        index += step
    return summary.tally, [(e.event_id, e.facts) for e in events]


def test_an_order_split_over_neighbouring_records_is_marked_however_the_input_is_cut() -> None:
    t = NOW_TS - 3600
    messages = [
        sale("a1", t, order_id="A"),
        sale("a2", t, order_id="A"),  # continues A
        sale("x", t, order_id="A", event="Nope"),  # skipped: does not break the run of A
        sale("a3", t, order_id="A", revenue=0),  # continues A
        sale("b1", t, order_id="B"),
        sale("n1", t),  # no order: ends B
        sale("b2", t, order_id="B"),  # B again, but not next to it: a new order
        sale("c1", t, order_id="C", email=False, phone=True),
    ]
    records = _records(messages)
    expected = _map(records, len(records), random.Random(0))
    tally, events = expected
    repeats = {event_id for event_id, facts in events if facts & REPEAT}
    assert repeats == {"a2", "a3"}
    assert (tally.purchases, tally.purchases_ordered, tally.order_repeats) == (7, 6, 2)
    assert tally.orders == 4 and tally.purchases_valued == 6
    assert (tally.keys["em"], tally.keys["ph"], tally.email_or_phone) == (6, 1, 7)
    rng = random.Random(7)
    for size in (1, 2, 3, None, None, None):
        assert _map(records, size, rng) == expected


def test_lag_to_now_and_stale_events_are_counted_per_event() -> None:
    settings = parse_settings({"events": {"Order Completed": [DS1, "22"]}})  # two events each
    ctx = MapContext(settings, NOW_TS)
    messages = [sale("fresh", NOW_TS - 90 * 60), sale("old", NOW_TS - 3 * DAY - 1)]
    summary = RunSummary(now=NOW_TS)
    absorb(summary, map_chunk(ctx, Chunk("in.jsonl", 1, _records(messages))))
    assert summary.tally.lag_hours == {1: 2, 72: 2}
    assert summary.tally.stale == 2
    assert summary.tally.median_lag_hours() == 1


# --- the checks ----------------------------------------------------------------------------


def _verdicts(tally: Tally, lag_to: str = "upload") -> dict[str, bool | None]:
    return {check.factor: check.ok for check in checks(tally, lag_to=lag_to)}


def test_checks_follow_metas_thresholds() -> None:
    tally = Tally(upload_days=tuple(range(12)))  # type: ignore[arg-type]
    tally.add(KEY_BITS["em"] | VALUED | ORDERED, 10, 10)
    tally.add_lag(3 * DAY, 10)  # exactly 3 days is not stale
    assert _verdicts(tally) == {
        "upload frequency": True,
        "median event-to-upload lag": True,
        "events older than 3 days at upload": True,
        "Purchases with a value above 0": True,
        "match keys: email, phone": True,
        "events per order": True,
    }
    worse = Tally(upload_days=tuple(range(11)))  # type: ignore[arg-type]
    worse.add(KEY_BITS["fn"] | ORDERED, 2, 2)
    worse.add(KEY_BITS["fn"] | ORDERED | REPEAT, 1, 1)
    worse.add_lag(4 * DAY, 3)
    assert set(_verdicts(worse).values()) == {False}
    empty = _verdicts(Tally(), lag_to="now")
    assert "upload frequency" not in empty  # a file has no upload days
    assert set(empty.values()) == {None}  # nothing to judge


# --- the journal, schema 3 -------------------------------------------------------------------

V2_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE sent (dataset_id TEXT NOT NULL, event_name TEXT NOT NULL,"
    " event_id TEXT NOT NULL, batch_id TEXT NOT NULL, sent_at REAL NOT NULL,"
    " test_event_code TEXT, PRIMARY KEY (dataset_id, event_name, event_id)) WITHOUT ROWID",
    "CREATE TABLE runs (run_id TEXT PRIMARY KEY, started_at REAL NOT NULL,"
    " summary TEXT NOT NULL) WITHOUT ROWID",
    "INSERT INTO meta VALUES ('schema_version', '2')",
)


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_journal_upgrades_in_place_and_keeps_its_rows(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / JOURNAL_FILE
    conn = sqlite3.connect(path)
    for statement in V2_SCHEMA:
        if version == 1:
            statement = statement.replace(" test_event_code TEXT,", "").replace("'2'", "'1'")
        conn.execute(statement)
    conn.execute(
        "INSERT INTO sent (dataset_id, event_name, event_id, batch_id, sent_at)"
        " VALUES (?, 'Purchase', 'old-1', 'b', ?)",
        (DS1, NOW_TS - DAY),
    )
    conn.commit()
    conn.close()
    with Journal(path) as journal:
        assert journal.already_sent(DS1, [("Purchase", "old-1")]) == {("Purchase", "old-1"): None}
        journal.record(DS1, [("Purchase", "new-1", NOW_TS - 2 * DAY, VALUED)], "b2", NOW_TS)
        tally = journal.tally(DS1, NOW_TS)
    assert tally.without_facts == 1  # kept, counted apart
    assert (tally.events, tally.purchases_valued, tally.lag_hours) == (1, 1, {48: 1})
    assert len(tally.upload_days or ()) == 2
    conn = sqlite3.connect(path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(sent)")]
        found = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    finally:
        conn.close()
    assert columns[-3:] == ["test_event_code", "event_time", "facts"]
    assert found == (str(SCHEMA_VERSION),) == ("3",)


def test_the_journal_tally_counts_its_windows(tmp_path: Path) -> None:
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        for days_ago, n in ((0, 2), (1, 1), (12, 1), (13, 1), (27, 1), (29, 1)):
            sent = NOW_TS - days_ago * DAY - 3600  # an hour before midnight UTC
            keys = [("Purchase", f"{days_ago}-{i}", sent - 5 * 3600, VALUED) for i in range(n)]
            journal.record(DS1, keys, "b", sent)
        journal.record("other", [("Purchase", "x", NOW_TS - 60, 0)], "b", NOW_TS - 30)
        journal.record(DS1, [("Lead", "later", NOW_TS, 0)], "b", NOW_TS + 60)  # after now
        tally = journal.tally(DS1, NOW_TS)
    # The 14 UTC days up to now's (2026-11-20, today included) start on 2026-11-07.
    assert [day.isoformat() for day in tally.upload_days or ()] == [
        "2026-11-07",
        "2026-11-18",
        "2026-11-19",
    ]
    assert tally.events == tally.purchases == tally.purchases_valued == 6  # 28 days
    assert tally.lag_hours == {5: 6} and tally.stale == 0


# --- validate: the figures of the file at hand -------------------------------------------------


def test_validate_reports_what_meta_will_score_for_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')
    messages = [
        sale("p1", NOW_TS - 24 * 3600, order_id="o1", phone=True),
        sale("p2", NOW_TS - 96 * 3600, order_id="o2", revenue=0),  # stale, no value
        sale("p3", NOW_TS - 2 * 3600, order_id="o3"),
        sale("p4", NOW_TS - 2 * 3600, order_id="o3"),  # basket splitting
        sale("p5", NOW_TS - 30 * 3600, email=False, user_id=True),  # neither email nor phone
    ]
    path = write_jsonl(tmp_path / "in.jsonl", messages)
    args = ["validate", str(path), "-c", str(config), "--now", NOW]
    data = summary(invoke([*args, "--json"], tmp_path))["quality"]
    assert {key: data[key] for key in ("events", "purchases", "orders", "email_or_phone")} == {
        "events": 5,
        "purchases": {"total": 5, "value_above_0": 4, "share": 0.8},
        "orders": {"purchases_with_order_id": 4, "orders": 3, "events_per_order": 4 / 3},
        "email_or_phone": 4,
    }
    assert data["lag"] == {
        "to": "now",
        "median_hours": 24,
        "stale": 1,
        "stale_share": 0.2,
        "stale_after_days": 3,
    }
    assert data["coverage"]["em"] == 4 and data["coverage"]["ph"] == 1
    assert "upload_days" not in data
    verdicts = {check["factor"]: check["ok"] for check in data["checks"]}
    assert verdicts == {
        "median event-to-now lag": True,
        "events older than 3 days now": False,
        "Purchases with a value above 0": False,
        "match keys: email, phone": False,
        "events per order": False,
    }
    text = invoke(args, tmp_path)
    assert text.exit_code == 0, text.output
    section = text.stdout.split("Data quality: what Meta will score")[1]
    assert "events per order" in section and "1.33 (4 Purchases, 3 orders)" in section
    assert "LOW" in section and "one Purchase per order" in section
    assert "4 of 5 (80.0%)" in section


def test_the_quality_section_is_json_safe_and_in_every_summary(tmp_path: Path) -> None:
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')
    path = write_jsonl(tmp_path / "in.jsonl", [])
    data = summary(invoke(["validate", str(path), "-c", str(config), "--json"], tmp_path))
    assert json.loads(json.dumps(data["quality"]))["events"] == 0
