"""event_id and duplicates within a run (mapping.md section 6), and the window that
follows action_source (inputs.md section 4)."""

from __future__ import annotations

import random
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fbocli import api
from fbocli.config import parse_settings
from fbocli.duplicates import SeenEvents
from fbocli.errors import ConfigError
from fbocli.mapping.message import Event, MapContext, map_message
from fbocli.pipeline import Tuning
from tests.helpers import (
    DS1,
    DS2,
    NOW,
    NOW_TS,
    check_summary,
    invoke,
    summary,
    track_events,
    write_config,
    write_jsonl,
)


def event(dataset: str, name: str, event_id: str) -> Event:
    return Event((dataset, name, event_id, 0, b"{}", "f", 1))


def test_seen_events_finds_repeats_across_calls_and_within_one() -> None:
    seen = SeenEvents()
    assert seen.duplicates([event("1", "Purchase", "a"), event("1", "Purchase", "b")]) == []
    batch = [
        event("1", "Purchase", "a"),  # seen before
        event("2", "Purchase", "a"),  # another dataset: another event
        event("1", "Lead", "a"),  # another name: another event
        event("1", "Purchase", "c"),
        event("1", "Purchase", "c"),  # twice in this call
    ]
    assert seen.duplicates(batch) == [0, 4]
    assert len(seen) == 5


def test_seen_events_grows_and_forgets_nothing() -> None:
    seen = SeenEvents()
    ids = [f"order-{i}" for i in range(200_000)]
    for start in range(0, len(ids), 1000):
        assert seen.duplicates([event("1", "Purchase", i) for i in ids[start : start + 1000]]) == []
    sample = random.Random(7).sample(ids, 2000)
    assert len(seen.duplicates([event("1", "Purchase", i) for i in sample])) == 2000
    assert len(seen) == 200_000
    assert seen.table_bytes <= 200_000 / 0.7 * 2 * 8  # 8-byte slots, at most 70% full


@pytest.mark.parametrize("batch_size", ["1", "7", "1000"])
@pytest.mark.parametrize("pool", [False, True], ids=["in-process", "workers"])
def test_a_duplicate_is_skipped_whatever_the_batch_size(
    tmp_path: Path, batch_size: str, pool: bool
) -> None:
    first = track_events(300)
    again = track_events(300)[100:150]  # the same messages, exported twice
    write_jsonl(tmp_path / "a.jsonl", first + again)
    config = write_config(tmp_path / "c.toml")  # Order Completed -> DS1 and DS2
    tuning = Tuning(processes=2, pool_min_bytes=0) if pool else Tuning(processes=1)
    settings = api.load_config(config)
    result = api.upload(
        [tmp_path / "a.jsonl"],
        settings,
        now=NOW,
        dry_run=True,
        batch_size=int(batch_size),
        output=tmp_path / "out.jsonl",
        state_dir=tmp_path / "state",
        tuning=tuning,
    )
    data = check_summary(result.to_dict())
    assert data["records"] == {"read": 350, "accepted": 300, "rejected": 0, "skipped": 50}
    assert data["skips"] == {"duplicate": 50}
    assert data["events"]["built"] == 700 and data["events"]["already_sent"] == 100
    assert data["events"]["sent"] == 600 and data["exit_code"] == 0
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert sum(line.count('"event_id"') for line in lines) == 600
    assert {ds: c["already_sent"] for ds, c in data["datasets"].items()} == {DS1: 50, DS2: 50}


def test_overlapping_exports_send_an_order_once(tmp_path: Path) -> None:
    """No messageId: event_id is the order id, so a cosmetic edit (email case) in a second
    export does not make a second Purchase."""
    a = [{**m, "messageId": None} for m in track_events(3)]
    b = [
        {**m, "messageId": None, "context": {"traits": {"email": "PERSON1@Example.com"}}}
        for m in track_events(3)[1:]
    ]
    write_jsonl(tmp_path / "monday.jsonl", a)
    write_jsonl(tmp_path / "tuesday.jsonl", b)
    config = write_config(tmp_path / "c.toml", routes=f'"Order Completed" = "{DS1}"')
    result = invoke(
        ["validate", str(tmp_path / "monday.jsonl"), str(tmp_path / "tuesday.jsonl"), "-c",
         str(config), "--now", NOW, "--json"],
        tmp_path / "state",
    )  # fmt: skip
    data = summary(result)
    assert data["skips"] == {"duplicate": 2} and data["events"]["sent"] == 3
    report = invoke(
        ["validate", str(tmp_path / "monday.jsonl"), str(tmp_path / "tuesday.jsonl"), "-c",
         str(config), "--now", NOW],
        tmp_path / "state",
    ).stdout  # fmt: skip
    assert "duplicate" in report and "with event_id 'o1' was already built" in report


def settings(extra: str = "") -> Any:
    return parse_settings(tomllib.loads(f'[events]\n"Order Completed" = "1"\n{extra}'))


def order(**overrides: Any) -> dict[str, Any]:
    message = {
        "type": "track",
        "event": "Order Completed",
        "timestamp": NOW_TS - 86400,
        "properties": {"order_id": "A-1", "revenue": 5},
        "context": {"traits": {"email": "a@x.co"}},
    }
    return {**message, **overrides}


def test_event_id_is_message_id_else_order_id_else_a_hash() -> None:
    ctx = MapContext(settings(), NOW_TS)
    assert map_message(order(messageId="m-1"), ctx).events[0].event_id == "m-1"
    assert map_message(order(), ctx).events[0].event_id == "A-1"
    numeric = order(properties={"order_id": 1007.0, "revenue": 5})
    assert map_message(numeric, ctx).events[0].event_id == "1007"  # as custom_data has it
    plain = map_message(order(properties={"revenue": 5}), ctx).events[0].event_id
    assert (
        len(plain) == 32
        and plain == map_message(order(properties={"revenue": 5}), ctx).events[0].event_id
    )


@pytest.mark.parametrize(
    ("source", "days", "outcome"),
    [
        ("physical_store", 40, "accepted"),
        ("phone_call", 6, "accepted"),
        ("phone_call", 8, "too_old"),
        ("website", 8, "too_old"),
        ("system_generated", 2, "accepted"),
    ],
)
def test_the_window_follows_action_source(source: str, days: int, outcome: str) -> None:
    ctx = MapContext(settings(f'[destination]\naction_source = "{source}"\n'), NOW_TS)
    found = map_message(order(timestamp=NOW_TS - days * 86400), ctx)
    assert (found.reason or found.status) == outcome
    if found.status == "accepted":
        assert found.events[0].to_dict()["action_source"] == source
    elif source != "physical_store":
        assert f"Meta accepts 7 for action_source {source}" in found.detail


def test_window_days_below_seven_holds_for_every_source() -> None:
    ctx = MapContext(settings('[destination]\naction_source = "chat"\n[upload]\nwindow_days = 3'),
                     NOW_TS)  # fmt: skip
    assert map_message(order(timestamp=NOW_TS - 4 * 86400), ctx).reason == "too_old"


def test_an_action_source_meta_does_not_know_is_a_config_problem() -> None:
    with pytest.raises(ConfigError, match=r"destination\.action_source must be one of"):
        settings('[destination]\naction_source = "store"\n')
