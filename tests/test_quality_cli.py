"""`fbocli quality` against the fake Graph API: Meta's scores where its beta answers,
"not available" (exit 0) where it does not, and fbocli's own figures from a journal built
by uploads made on chosen days (``--now``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fbocli.quality import HOUR
from tests.fakegraph import FakeGraph, Fault, quality_event
from tests.helpers import (
    DAY,
    DS1,
    DS2,
    NOW,
    NOW_TS,
    TOKEN,
    cli_env,
    fake_graph,
    invoke,
    iso,
    sale,
    upload_on,
    write_config,
)

UNKNOWN = "3333333333333333"


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with fake_graph() as graph:
        graph.set_quality(DS1, [quality_event(), quality_event("Lead", composite=9.1)])
        yield graph


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "fbocli.toml",
        routes=f'"Order Completed" = "{DS1}"',
        lead_routes=f'"Demo Requested" = ["{DS1}", "{DS2}"]',
    )


@pytest.fixture
def env(fake: FakeGraph, tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path, fake.url)


def _quality(env: dict[str, str], *args: str) -> Any:
    return invoke(["quality", *args], env=env)


def _uploads(config: Path, work: Path, env: dict[str, str]) -> None:
    """Four uploads, at noon UTC of chosen days before NOW (2026-11-20T00:00Z)."""
    day = NOW_TS - 41 * DAY + 12 * HOUR  # 2026-10-10: outside both windows
    upload_on(day, [sale("u0", day - HOUR, order_id="o0")], config, work, env)
    day = NOW_TS - 20 * DAY + 12 * HOUR  # 2026-10-31: in the 28 days, not the 14
    sales = [
        sale("p1", day - 24 * HOUR, order_id="o1", phone=True),
        sale("p2", day - 96 * HOUR, order_id="o2", revenue=0),  # stale; no value
    ]
    upload_on(day, sales, config, work, env)
    day = NOW_TS - 10 * DAY + 12 * HOUR  # 2026-11-10
    sales = [
        *(sale(f"p3-{i}", day - 2 * HOUR, order_id="o3", revenue=5) for i in range(3)),  # split
        sale("l1", day - 10 * HOUR, event="Demo Requested", email=False, phone=True),
    ]
    upload_on(day, sales, config, work, env)
    day = NOW_TS - 1 * DAY + 12 * HOUR  # 2026-11-19
    sales = [sale("p4", day - 30 * HOUR, order_id="o4", revenue=20, email=False, user_id=True)]
    upload_on(day, sales, config, work, env)


def test_local_figures_are_right_for_uploads_on_chosen_days(
    config: Path, env: dict[str, str], tmp_path: Path
) -> None:
    _uploads(config, tmp_path, env)
    result = _quality(env, DS1, "-c", str(config), "--now", NOW, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["now"] == NOW and report["journal"].endswith("journal.sqlite3")
    (dataset,) = report["datasets"]
    local = dataset["local"]
    assert local["window_days"] == 28
    assert local["events"] == 7  # 2 + 4 + 1: the first upload is older than 28 days
    assert local["upload_days"] == {
        "days": 2,
        "of": 14,
        "wanted": 12,
        "dates": ["2026-11-10", "2026-11-19"],
    }
    # lags 24, 96, 2, 2, 2, 10, 30 hours: the middle one is 10; 96 h is stale
    assert local["lag"] == {
        "to": "upload",
        "median_hours": 10,
        "stale": 1,
        "stale_share": 1 / 7,
        "stale_after_days": 3,
    }
    assert local["purchases"] == {"total": 6, "value_above_0": 5, "share": 5 / 6}
    assert local["orders"] == {
        "purchases_with_order_id": 6,
        "orders": 4,
        "events_per_order": 1.5,
    }
    assert (local["coverage"]["em"], local["coverage"]["ph"]) == (5, 2)
    assert local["coverage"]["external_id"] == 1 and local["email_or_phone"] == 6
    verdicts = {check["factor"]: check["ok"] for check in local["checks"]}
    assert verdicts == {
        "upload frequency": False,
        "median event-to-upload lag": True,
        "events older than 3 days at upload": False,
        "Purchases with a value above 0": False,
        "match keys: email, phone": False,
        "events per order": False,
    }
    later = _quality(env, DS1, "-c", str(config), "--now", iso(NOW_TS + 10 * DAY), "--json")
    moved = json.loads(later.stdout)["datasets"][0]["local"]
    assert moved["events"] == 5 and moved["upload_days"]["dates"] == ["2026-11-19"]


def test_metas_scores_for_an_enabled_dataset_and_not_available_for_the_others(
    fake: FakeGraph, config: Path, env: dict[str, str]
) -> None:
    fake.deny(TOKEN, DS2, code=10)
    fake.add_dataset("4444444444444444")  # exists, but without the beta: no offline field
    args = ["-c", str(config), "--now", NOW]
    result = _quality(env, DS1, DS2, UNKNOWN, "4444444444444444", *args, "--json")
    assert result.exit_code == 0, result.output
    meta = {d["dataset_id"]: d["meta"] for d in json.loads(result.stdout)["datasets"]}
    scores = meta[DS1]
    assert scores["available"] is True and scores["reason"] is None
    purchase, lead = scores["events"]
    assert purchase["event_name"] == "Purchase"
    assert purchase["composite"] == {
        "score": 7.9,
        "band": "medium",
        "recommendation": "Improve the overall quality of Purchase events.",
    }
    assert purchase["match_key"]["coverage"] == {"email": 0.81, "phone": 0.64}
    assert purchase["omnichannel_ready"] is False and lead["omnichannel_ready"] is True
    assert meta[DS2]["available"] is False and "code 10" in meta[DS2]["reason"]
    assert meta[UNKNOWN]["available"] is False and "2044055" in meta[UNKNOWN]["reason"]
    assert "no offline scores" in meta["4444444444444444"]["reason"]
    assert not any(m["failed"] for m in meta.values())
    asked = [r for r in fake.requests if r["path"].endswith("/dataset_quality")]
    assert {r["params"]["dataset_id"] for r in asked} == {DS1, DS2, UNKNOWN, "4444444444444444"}
    assert all("offline{event_name" in r["params"]["fields"] for r in asked)

    text = _quality(env, *args)  # the config's datasets, plain text
    assert text.exit_code == 0, text.output
    out = text.stdout
    assert f"Meta's scores of dataset {DS1}" in out and "7.9 medium" in out
    assert "email 81%, phone 64%" in out and "Improve match keys of Purchase events." in out
    assert f"Dataset {DS2}\n  Meta's scores: not available for this dataset: " in out
    assert out.count("fbocli's figures: events sent in the last 28 days") == 2


def test_without_a_token_the_journal_figures_show_and_it_exits_3(
    config: Path, env: dict[str, str], fake: FakeGraph
) -> None:
    result = _quality({**env, "FBOCLI_ACCESS_TOKEN": ""}, "-c", str(config), "--now", NOW)
    assert result.exit_code == 3
    assert "not asked (no access token)" in result.stdout
    assert "fbocli's figures" in result.stdout
    assert "fbocli: error: no access token" in result.stderr
    assert fake.requests == []


def test_a_refused_token_still_shows_the_figures_then_exits_3(
    config: Path, env: dict[str, str], fake: FakeGraph
) -> None:
    fake.revoke_token(TOKEN)
    result = _quality(env, "-c", str(config), "--now", NOW)
    assert result.exit_code == 3
    assert "fbocli's figures" in result.stdout and "not asked" in result.stdout
    assert "invalid or expired" in result.stderr and "code 190" in result.stderr


def test_meta_out_of_reach_is_a_failure_not_a_missing_score(
    config: Path, env: dict[str, str], fake: FakeGraph
) -> None:
    fake.inject(Fault.error(503, code=2), times=100, path_suffix="/dataset_quality")
    result = _quality(env, DS1, "-c", str(config), "--now", NOW, "--json")
    assert result.exit_code == 1
    meta = json.loads(result.stdout)["datasets"][0]["meta"]
    assert meta["failed"] is True and meta["available"] is False
    assert f"could not get Meta's scores for dataset {DS1}" in result.stderr


def test_named_datasets_are_checked_and_needed_without_a_config(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = _quality(env, "12ab")
    assert bad.exit_code == 2 and "digit strings" in bad.stderr
    full_width = _quality(env, "１２３４５６")
    assert full_width.exit_code == 2 and "digit strings (ASCII 0-9)" in full_width.stderr
    none = _quality(env)
    assert none.exit_code == 2 and "no dataset" in none.stderr
    result = _quality(env, DS1, "--now", NOW, "--json")  # no config: the defaults
    assert result.exit_code == 0, result.output
    (dataset,) = json.loads(result.stdout)["datasets"]
    assert dataset["meta"]["available"] is True and dataset["local"]["events"] == 0
