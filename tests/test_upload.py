"""`fbocli upload` through the CLI against the fake Graph API: Meta's error table, bisection,
the journal, the lock and the options of cli.md. Real HTTP, real SQLite, fast."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from fbocli import __version__
from fbocli.cli import main
from fbocli.graph import connection_problem
from fbocli.journal import Journal
from fbocli.progress import ProgressDisplay
from fbocli.report import RunStats
from fbocli.sinks import short_reason
from tests.fakegraph import FakeGraph, Fault

TOKEN = "fake-test-token-UPLOAD-0000"  # recognisably fake; must never appear in any output
NOW = "2026-11-20T00:00:00Z"
NOW_TS = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
DS_A = "1111111111111111"  # "Order Completed" -> Purchase
DS_B = "2222222222222222"  # "Demo Requested" -> Lead
JOURNAL = "journal.sqlite3"

CONFIG = f"""
[destination]
upload_tag = "fbocli tests"

[events]
"Order Completed" = "{DS_A}"

[lead_events]
"Demo Requested" = "{DS_B}"

[upload]
batch_size = 10
workers = 2
max_retries = 3
timeout_seconds = 5
"""


# --------------------------------------------------------------------------- helpers


def write_events(path: Path, n_a: int, n_b: int = 0, *, prefix: str = "e") -> Path:
    """Small Segment track records: ``n_a`` purchases for DS_A then ``n_b`` leads for DS_B."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(n_a + n_b):
            purchase = i < n_a
            message: dict[str, Any] = {
                "type": "track",
                "event": "Order Completed" if purchase else "Demo Requested",
                "messageId": f"{prefix}{i}",
                "timestamp": "2026-11-10T12:00:00Z",
                "context": {"traits": {"email": f"person{i}@example.com"}},
                "properties": {"order_id": f"o{i}", "revenue": 10.5} if purchase else {},
            }
            out.write(json.dumps(message) + "\n")
    return path


def make_env(tmp: Path, url: str, **extra: str) -> dict[str, str]:
    """The environment of a user with a token, a state dir and no stored credentials."""
    return {
        "FBOCLI_GRAPH_URL": url,
        "FBOCLI_ACCESS_TOKEN": TOKEN,
        "FBOCLI_STATE_DIR": str(tmp / "state"),
        "FBOCLI_CONFIG": "",
        "FBOCLI_BACKOFF_SCALE": "0.001",
        "XDG_CONFIG_HOME": str(tmp / "xdg"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        **extra,
    }


def check_summary(text: str) -> dict[str, Any]:
    """Parse a --json summary and hold cli.md's count invariants."""
    data: dict[str, Any] = json.loads(text)
    records, events = data["records"], data["events"]
    assert records["read"] == records["accepted"] + records["rejected"] + records["skipped"]
    assert events["built"] == (
        events["sent"] + events["already_sent"] + events["api_rejected"] + events["failed"]
    )
    for counts in data["datasets"].values():
        assert set(counts) >= {"sent", "failed", "api_rejected", "already_sent"}
    for what in ("sent", "failed", "api_rejected", "already_sent"):
        assert events[what] == sum(c[what] for c in data["datasets"].values())
    return data


def journal_keys(state: Path) -> set[tuple[str, str, str]]:
    """(dataset, event_name, event_id) rows of the journal, read with plain sqlite3."""
    with sqlite3.connect(state / JOURNAL) as conn:
        rows = conn.execute("SELECT dataset_id, event_name, event_id FROM sent").fetchall()
    return {(str(d), str(n), str(i)) for d, n, i in rows}


def received_keys(fake: FakeGraph) -> Counter[tuple[str, str, str]]:
    """What the fake accepted, as journal keys, duplicates counted."""
    return Counter(
        (ds, str(event["event_name"]), str(event["event_id"]))
        for ds, events in fake.received.items()
        for event in events
    )


def event_requests(fake: FakeGraph) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["path"].endswith("/events")]


class Env:
    """One test's world: a fake Graph API, a config, inputs and a way to run fbocli."""

    def __init__(self, tmp: Path, fake: FakeGraph) -> None:
        self.tmp = tmp
        self.fake = fake
        self.state = tmp / "state"
        self.config = tmp / "fbocli.toml"
        self.config.write_text(CONFIG, encoding="utf-8")
        self.env = make_env(tmp, fake.url)

    def upload(self, *args: str, json_output: bool = True, **env: str) -> Result:
        argv = ["upload", *args, "-c", str(self.config), "--now", NOW]
        if json_output:
            argv.append("--json")
        result = CliRunner().invoke(main, argv, env={**self.env, **env}, catch_exceptions=False)
        assert TOKEN not in result.stdout + result.stderr
        return result


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph(tokens=[TOKEN], datasets=[DS_A, DS_B], now=NOW_TS) as graph:
        yield graph


@pytest.fixture
def world(tmp_path: Path, fake: FakeGraph) -> Env:
    return Env(tmp_path, fake)


# --------------------------------------------------------------------------- happy path


def test_upload_delivers_journals_skips_on_rerun_and_force_resends(world: Env) -> None:
    inputs = write_events(world.tmp / "in.jsonl", 23, 12)
    result = world.upload(str(inputs))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # not a terminal: nothing but errors on stderr
    data = check_summary(result.stdout)
    assert data["events"] == {
        "built": 35,
        "sent": 35,
        "already_sent": 0,
        "api_rejected": 0,
        "failed": 0,
    }
    assert data["datasets"][DS_A]["sent"] == 23 and data["datasets"][DS_B]["sent"] == 12
    received = received_keys(world.fake)
    assert set(received) == journal_keys(world.state) and max(received.values()) == 1
    assert {k[2] for k in received} == {f"e{i}" for i in range(35)}

    requests = event_requests(world.fake)
    assert sorted(r["events"] for r in requests) == [2, 3, 10, 10, 10]  # <= batch_size
    for request in requests:  # meta-api.md: Bearer header, our User-Agent, the upload_tag
        assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
        assert request["headers"]["user-agent"] == f"fbocli/{__version__}"
        assert request["params"]["upload_tag"] == "fbocli tests"
        assert "access_token" not in request["query"]

    again = world.upload(str(inputs))
    assert again.exit_code == 0
    assert check_summary(again.stdout)["events"]["already_sent"] == 35
    assert len(event_requests(world.fake)) == len(requests)  # nothing sent twice

    forced = world.upload(str(inputs), "--force")
    assert forced.exit_code == 0
    assert check_summary(forced.stdout)["events"]["sent"] == 35
    assert set(received_keys(world.fake).values()) == {2}


def test_batch_size_workers_and_test_event_code_options(world: Env) -> None:
    inputs = write_events(world.tmp / "in.jsonl", 30)
    result = world.upload(
        str(inputs), "--batch-size", "7", "--workers", "1", "--test-event-code", "TEST4242"
    )
    assert result.exit_code == 0, result.stderr
    requests = event_requests(world.fake)
    assert [r["events"] for r in requests] == [7, 7, 7, 7, 2]
    assert all(r["params"]["test_event_code"] == "TEST4242" for r in requests)
    assert len({r["client"] for r in requests}) == 1  # one worker: one keep-alive connection

    state = world.tmp / "other-state"
    world.fake.inject(Fault.delay(0.05), times=100)  # slow answers so the workers overlap
    result = world.upload(str(inputs), "--force", "--workers", "3", "--state-dir", str(state))
    assert result.exit_code == 0
    later = event_requests(world.fake)[len(requests) :]
    assert [r["events"] for r in later] == [10, 10, 10]
    assert "test_event_code" not in later[0]["params"]
    assert len({r["client"] for r in later}) <= 3  # a pool of at most `workers` connections
    assert len(journal_keys(state)) == 30  # --state-dir holds this run's journal


@pytest.mark.parametrize(
    ("option", "value"), [("--batch-size", "0"), ("--batch-size", "1001"), ("--workers", "0")]
)
def test_out_of_range_options_exit_2_before_sending(world: Env, option: str, value: str) -> None:
    inputs = write_events(world.tmp / "in.jsonl", 3)
    result = world.upload(str(inputs), option, value)
    assert result.exit_code == 2 and option in result.stderr
    assert world.fake.requests == []


def test_no_token_exits_3_with_a_hint(world: Env) -> None:
    inputs = write_events(world.tmp / "in.jsonl", 3)
    result = world.upload(str(inputs), FBOCLI_ACCESS_TOKEN="")
    assert result.exit_code == 3
    assert "fbocli auth" in result.stderr and "FBOCLI_ACCESS_TOKEN" in result.stderr
    assert world.fake.requests == []


# --------------------------------------------------------------------------- the error table


@pytest.mark.parametrize(
    "fault",
    [
        Fault.error(500, code=1),
        Fault.error(503, code=2, is_transient=True),
        Fault.error(400, code=999, is_transient=True),
        Fault.rate_limit(4, retry_after=30),
        Fault.rate_limit(80004, regain_minutes=2),
        Fault.rate_limit(17),
        Fault.reset(),
        Fault.html(502),
    ],
    ids=["5xx", "code2", "is_transient", "retry-after", "buc-regain", "rate17", "reset", "html"],
)
def test_transient_errors_and_rate_limits_are_retried(world: Env, fault: Fault) -> None:
    inputs = write_events(world.tmp / "in.jsonl", 20)
    world.fake.inject(fault, times=2)
    result = world.upload(str(inputs), "--workers", "1")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert check_summary(result.stdout)["events"]["sent"] == 20
    assert sum(received_keys(world.fake).values()) == 20  # faulted requests were not accepted
    assert len(event_requests(world.fake)) == 4


def test_usage_near_the_limit_slows_down_but_delivers(world: Env) -> None:
    world.fake.usage_headers = {"X-App-Usage": json.dumps({"call_count": 97, "total_time": 10})}
    inputs = write_events(world.tmp / "in.jsonl", 20)
    result = world.upload(str(inputs))
    assert result.exit_code == 0
    assert check_summary(result.stdout)["events"]["sent"] == 20


def test_exhausted_retries_fail_those_events_and_a_rerun_sends_them(world: Env) -> None:
    inputs = write_events(world.tmp / "in.jsonl", 20, 5)
    world.fake.inject(Fault.error(500, code=1, message="Service down"), times=3, dataset=DS_B)
    result = world.upload(str(inputs), json_output=False)
    assert result.exit_code == 1
    assert "Not delivered (a re-run retries them)" in result.stdout
    assert "gave up after 3 tries: Service down (code 1)" in result.stdout  # no fbtrace_id
    assert journal_keys(world.state) == set(received_keys(world.fake))
    assert {k[0] for k in received_keys(world.fake)} == {DS_A}

    again = world.upload(str(inputs))
    assert again.exit_code == 0
    data = check_summary(again.stdout)
    assert data["datasets"][DS_B]["sent"] == 5 and data["datasets"][DS_A]["already_sent"] == 20
    assert max(received_keys(world.fake).values()) == 1


def test_connection_refused_reads_short_in_the_summary(world: Env, tmp_path: Path) -> None:
    inputs = write_events(world.tmp / "in.jsonl", 12)
    world.fake.stop()  # nothing listens on that port any more
    result = world.upload(str(inputs), json_output=False)
    assert result.exit_code == 1
    assert "gave up after 3 tries: connection refused" in result.stdout
    assert "HTTPConnection" not in result.stdout and "Errno" not in result.stdout
    as_json = world.upload(str(inputs))
    assert check_summary(as_json.stdout)["events"]["failed"] == 12


def test_missing_dataset_fails_only_its_events(world: Env) -> None:
    world.fake.remove_dataset(DS_B)
    inputs = write_events(world.tmp / "in.jsonl", 20, 25)
    result = world.upload(str(inputs))
    assert result.exit_code == 1
    data = check_summary(result.stdout)
    assert data["datasets"][DS_A] == {"sent": 20, "failed": 0, "api_rejected": 0, "already_sent": 0}
    assert data["datasets"][DS_B]["failed"] == 25
    # Once Meta said so, the dataset's later batches are not even sent (2 workers: 2 tries).
    assert sum(1 for r in event_requests(world.fake) if r["dataset"] == DS_B) <= 2
    human = world.upload(str(inputs), json_output=False)
    assert f"dataset {DS_B} does not exist or is not visible to this token" in human.stdout


def test_invalid_parameter_bisects_to_exactly_the_bad_events(world: Env) -> None:
    bad = {"e3", "e14"}
    world.fake.reject_events(
        lambda event: "Bad event, refused for the test" if event.get("event_id") in bad else None
    )
    inputs = write_events(world.tmp / "in.jsonl", 20)
    rejects = world.tmp / "rejects.jsonl"
    result = world.upload(str(inputs), "--rejects", str(rejects))
    assert result.exit_code == 1
    data = check_summary(result.stdout)
    assert data["events"]["sent"] == 18 and data["events"]["api_rejected"] == 2
    assert {k[2] for k in received_keys(world.fake)} == {f"e{i}" for i in range(20)} - bad
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert sorted(line["record"]["event_id"] for line in lines) == sorted(bad)
    for line in lines:
        assert line["reason"] == "api_rejected"
        assert line["detail"] == "Bad event, refused for the test"
        assert line["source"] == str(inputs)
        assert line["line"] == int(line["record"]["event_id"][1:]) + 1
    assert data["rejects_file"] == str(rejects)
    assert not bad & {k[2] for k in journal_keys(world.state)}


@pytest.mark.parametrize("mode", ["revoked", "permission", "mid-run-190"])
def test_auth_errors_stop_the_run_with_exit_3(world: Env, mode: str) -> None:
    inputs = write_events(world.tmp / "in.jsonl", 60)
    if mode == "revoked":
        world.fake.revoke_token(TOKEN)
    elif mode == "permission":
        world.fake.deny(TOKEN, DS_A, code=200)
    else:
        world.fake.inject(Fault.delay(0), times=2)  # two batches go through first
        world.fake.inject(Fault.error(401, code=190, message="Error validating access token"))
    result = world.upload(str(inputs))
    assert result.exit_code == 3
    assert "fbocli auth" in result.stderr
    if mode == "permission":
        assert DS_A in result.stderr
    data = check_summary(result.stdout)  # the summary is still printed, consistent
    assert data["events"]["failed"] > 0
    assert len(journal_keys(world.state)) == data["events"]["sent"]
    assert journal_keys(world.state) == set(received_keys(world.fake))
    # The run stopped: far fewer requests than the six batches it had to send.
    assert len(event_requests(world.fake)) < 6


def test_deprecated_api_version_exits_2(tmp_path: Path) -> None:
    with FakeGraph(tokens=[TOKEN], datasets=[DS_A], now=NOW_TS, deprecated_versions=["v24.0"]) as f:
        world = Env(tmp_path, f)
        result = world.upload(str(write_events(tmp_path / "in.jsonl", 15)))
    assert result.exit_code == 2
    assert "api_version" in (result.stderr or "")
    assert check_summary(result.stdout)["events"]["sent"] == 0


# --------------------------------------------------------------------------- journal and lock


def test_journal_prunes_old_rows_and_holds_no_personal_data(world: Env) -> None:
    world.state.mkdir(parents=True)
    with Journal(world.state / JOURNAL) as journal:
        journal.record(DS_A, [("Purchase", "ancient")], "old-run", sent_at=time.time() - 70 * 86400)
        journal.record(DS_A, [("Purchase", "recent")], "old-run", sent_at=time.time() - 86400)
    inputs = write_events(world.tmp / "in.jsonl", 5, 3)
    assert world.upload(str(inputs)).exit_code == 0
    keys = journal_keys(world.state)
    assert (DS_A, "Purchase", "recent") in keys and (DS_A, "Purchase", "ancient") not in keys
    dump = "\n".join(sqlite3.connect(world.state / JOURNAL).iterdump())
    assert "example.com" not in dump and TOKEN not in dump
    for event in world.fake.received[DS_A]:  # not even the hashed match keys
        assert event["user_data"]["em"][0] not in dump


def test_a_second_upload_exits_1_at_once_naming_the_lock_holder(world: Env) -> None:
    world.state.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from fbocli.journal import StateLock\n"
            "with StateLock(Path(sys.argv[1])):\n"
            "    print('locked', flush=True); time.sleep(60)\n",
            str(world.state),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        result = world.upload(str(write_events(world.tmp / "in.jsonl", 3)))
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert f"pid {holder.pid}" in result.stderr and "another fbocli upload" in result.stderr
    assert world.fake.requests == []


# --------------------------------------------------------------------------- display


def test_short_reason_makes_failures_readable() -> None:
    assert (
        short_reason("gave up after 6 tries: rate limited: (#4) limit (code 4, fbtrace_id AbC-1)")
        == "gave up after 6 tries: rate limited: (#4) limit (code 4)"
    )
    long = short_reason("x" * 500)
    assert len(long) == 100 and long.endswith("…")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "HTTPConnectionPool(host='graph.facebook.com', port=443): Max retries exceeded with "
            'url: /v24.0/1/events (Caused by NewConnectionError("...: Failed to establish a new '
            'connection: [Errno -2] Name or service not known"))',
            "host name not found",
        ),
        ("('Connection aborted.', ConnectionResetError(104, 'reset by peer'))", "connection reset"),
        ("[Errno 111] Connection refused", "connection refused"),
        ("something else", "connection failed"),
    ],
)
def test_connection_problems_are_named_in_words(text: str, expected: str) -> None:
    assert connection_problem(requests.ConnectionError(text)) == expected


def test_progress_line_shows_counters_and_pending_retries() -> None:
    display = ProgressDisplay(enabled=True, total_bytes=1000, dry_run=False)
    stats = RunStats(accepted=1234, rejected=5, batches=3, sent=2000, failed=7)
    display.update(stats, 500)
    display.retry(30, "rate limited: (#4) [limit]")
    text = display.describe()
    for part in ("1,234 accepted", "5 rejected", "3 batches", "2,000 events sent", "7 failed"):
        assert part in text
    assert "1 waiting to retry" in text and "rate limited" in text
    assert ProgressDisplay(enabled=False, total_bytes=None, dry_run=True).describe() == ""
