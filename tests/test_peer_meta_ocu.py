"""Peer check: Meta's archived offline-conversion uploader hashed the same 1000 rows.

``shared/peers/meta-ocu/rich.csv`` normalized and hashed by fbocli must give exactly the
match keys that uploader sent (``expected-match-keys.jsonl``, by ``order_id``). Only
``st`` differs by design (it hashed state names as written; Meta now wants the code),
so ``st`` is compared only where the CSV already holds a two-letter code.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from fbocli.mapping.normalize import norm_email, norm_name, norm_zip
from fbocli.mapping.phones import norm_phone
from fbocli.mapping.places import norm_country, norm_state
from fbocli.mapping.timeparse import parse_event_time
from tests.helpers import hash_one

Row = dict[str, str]


def _rows(shared_dir: Path) -> list[Row]:
    with (shared_dir / "peers" / "meta-ocu" / "rich.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _expected(shared_dir: Path) -> dict[str, dict[str, object]]:
    path = shared_dir / "peers" / "meta-ocu" / "expected-match-keys.jsonl"
    lines = path.read_text("utf-8").splitlines()
    return {entry["order_id"]: entry for entry in map(json.loads, filter(None, lines))}


def _our_keys(row: Row) -> dict[str, str | None]:
    """The peer's key names -> our hash of that row's column (region = its country, or us)."""
    region = norm_country(row["country"]) or "us"
    rules: dict[str, Callable[[str], str | None]] = {
        "email": norm_email,
        "phone": partial(norm_phone, region=region),
        "fn": norm_name,
        "ln": norm_name,
        "ct": norm_name,
        "st": partial(norm_state, region=region),
        "zip": partial(norm_zip, region=region),
        "country": norm_country,
    }
    return {key: hash_one(row[key], rule) for key, rule in rules.items()}


@pytest.fixture(scope="module")
def peer(shared_dir: Path) -> list[tuple[Row, dict[str, object]]]:
    rows = _rows(shared_dir)
    expected = _expected(shared_dir)
    assert len(rows) == 1000
    assert len(expected) == 1000
    return [(row, expected[row["order_id"]]) for row in rows]


@pytest.mark.parametrize("key", ["email", "phone", "fn", "ln", "ct", "zip", "country"])
def test_all_rows_agree(peer: list[tuple[Row, dict[str, object]]], key: str) -> None:
    mismatches = [
        (row["order_id"], row[key])
        for row, expected in peer
        if _our_keys(row)[key] != expected[key]
    ]
    assert mismatches == []


def test_state_agrees_where_the_csv_gives_a_code(
    peer: list[tuple[Row, dict[str, object]]],
) -> None:
    coded = [(row, expected) for row, expected in peer if len(row["st"].strip()) == 2]
    assert len(coded) >= 100  # the file has 195 such rows; the check must not be vacuous
    assert all(_our_keys(row)["st"] == expected["st"] for row, expected in coded)


def test_state_names_become_codes(peer: list[tuple[Row, dict[str, object]]]) -> None:
    named = {row["st"]: _our_keys(row)["st"] for row, _ in peer if len(row["st"].strip()) > 2}
    assert named.keys() >= {"California", "District of Columbia", "New York"}
    assert hash_one("California", partial(norm_state, region="us")) == named["California"]
    assert named["California"] == hash_one("CA", partial(norm_state, region="us"))


def test_event_times_agree(peer: list[tuple[Row, dict[str, object]]]) -> None:
    assert all(parse_event_time(row["event_time"]) == exp["event_time"] for row, exp in peer)
