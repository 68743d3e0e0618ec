"""Helpers for the reliability suite: the real CLI as a subprocess against the fake Graph API.

Every scenario writes small Segment events with known ``messageId`` values, so what Meta
(the fake) accepted can be checked event by event, and every run's ``--json`` summary is
checked for the invariants of cli.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fakegraph import FakeGraph

TOKEN = "EAAGfbocliRELIABILITY0123456789"
DS1, DS2 = "1111111111111111", "2222222222222222"
NOW = "2026-11-20T00:00:00Z"
NOW_TS = int(datetime(2026, 11, 20, tzinfo=UTC).timestamp())
ROOT = Path(__file__).resolve().parents[2]


def write_events(
    path: Path, n: int, *, start: int = 0, event: str = "Order Completed"
) -> list[str]:
    """``n`` small valid events (ids ``e<start>``..): the ids, in file order."""
    ids = [f"e{i}" for i in range(start, start + n)]
    with path.open("w", encoding="utf-8") as out:
        for i, event_id in enumerate(ids):
            message = {
                "type": "track",
                "event": event,
                "messageId": event_id,
                "userId": f"u{i}",
                "timestamp": NOW_TS - 3600 - i,
                "properties": {"revenue": 1 + i % 7},
            }
            out.write(json.dumps(message, separators=(",", ":")) + "\n")
    return ids


def write_config(
    path: Path,
    *,
    routes: str = f'"Order Completed" = ["{DS1}", "{DS2}"]',
    upload: str = "",
    destination: str = "",
) -> Path:
    path.write_text(
        f"[destination]\n{destination}\n[events]\n{routes}\n[upload]\n{upload}\n",
        encoding="utf-8",
    )
    return path


def cli_env(fake: FakeGraph, tmp: Path, **extra: str) -> dict[str, str]:
    """A clean environment: the fake as Graph API, private state/config dirs, no keyring."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FBOCLI_") and k not in ("XDG_CONFIG_HOME", "XDG_STATE_HOME")
    }
    env.update(
        FBOCLI_GRAPH_URL=fake.url,
        FBOCLI_ACCESS_TOKEN=TOKEN,
        FBOCLI_STATE_DIR=str(tmp / "state"),
        FBOCLI_BACKOFF_SCALE="0.001",
        XDG_CONFIG_HOME=str(tmp / "xdg-config"),
        XDG_STATE_HOME=str(tmp / "xdg-state"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def fbocli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "fbocli", *args]


@dataclass
class Run:
    """One finished CLI run: its exit code, output and (with --json) checked summary."""

    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        check_summary(data)
        return data


def run_cli(args: list[str], env: dict[str, str], *, input: str | None = None) -> Run:
    proc = subprocess.run(
        fbocli_argv(*args), env=env, input=input, capture_output=True, text=True, timeout=120
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def check_summary(data: dict[str, Any]) -> None:
    """The invariants of cli.md, per run and per dataset."""
    records, events = data["records"], data["events"]
    assert records["read"] == records["accepted"] + records["rejected"] + records["skipped"]
    assert events["built"] == (
        events["sent"] + events["already_sent"] + events["api_rejected"] + events["failed"]
    )
    for key in ("sent", "failed", "api_rejected", "already_sent"):
        assert sum(d[key] for d in data["datasets"].values()) == events[key], key


def journal_rows(state: Path) -> list[tuple[Any, ...]]:
    """Every row of the journal (read-only; works after a kill -9 thanks to WAL recovery)."""
    path = state / "journal.sqlite3"
    if not path.exists():
        return []
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT dataset_id, event_name, event_id FROM sent"))
    finally:
        conn.close()


def fake_counts(fake: FakeGraph, dataset: str) -> Counter[str]:
    return Counter(fake.event_ids(dataset))


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph(tokens=[TOKEN], datasets=[DS1, DS2], now=NOW_TS, store_events=False) as graph:
        yield graph
