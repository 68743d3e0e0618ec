"""`fbocli upload` through the CLI against the fake Graph API: Meta's error table, bisection,
the journal, the lock and the options of cli.md. Real HTTP, real SQLite, fast."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from fbocli import __version__
from fbocli.cli import main
from fbocli.cli.progress import ProgressDisplay
from fbocli.graph import connection_problem
from fbocli.journal import Journal
from fbocli.settings import DEFAULT_API_VERSION
from fbocli.stats import RunSummary
from tests.fakegraph import FakeGraph, Fault
from tests.helpers import (
    DS1,
    DS2,
    NOW_TS,
    TOKEN,
    cli_env,
    event_requests,
    fake_graph,
    journal_keys,
    received_keys,
    summary,
    upload_args,
    write_config,
    write_events,
)

DS_A = DS1  # "Order Completed" -> Purchase
DS_B = DS2  # "Demo Requested" -> Lead
JOURNAL = "journal.sqlite3"


def write_upload_config(
    path: Path, *, batch_size: int = 10, workers: int = 2, max_retries: int = 3
) -> Path:
    """Purchases to DS_A, leads to DS_B; small batches, quick retries."""
    return write_config(
        path,
        routes=f'"Order Completed" = "{DS_A}"',
        lead_routes=f'"Demo Requested" = "{DS_B}"',
        destination='upload_tag = "fbocli tests"',
        upload=f"batch_size = {batch_size}\nworkers = {workers}\nmax_retries = {max_retries}\n"
        "timeout_seconds = 5",
    )


class Env:
    """One test's world: a fake Graph API, a config, inputs and a way to run fbocli."""

    def __init__(self, tmp: Path, fake: FakeGraph) -> None:
        self.tmp = tmp
        self.fake = fake
        self.state = tmp / "state"
        self.config = write_upload_config(tmp / "fbocli.toml")
        self.env = cli_env(tmp, fake.url)

    def events(self, n: int, leads: int = 0) -> Path:
        """in.jsonl: ``n`` purchases (ids e0..) then ``leads`` leads."""
        path = self.tmp / "in.jsonl"
        write_events(path, n, leads=leads)
        return path

    def upload(self, inputs: str, *args: str, json_output: bool = True, **env: str) -> Result:
        argv = upload_args(inputs, self.config, *args, *(["--json"] if json_output else []))
        result = CliRunner().invoke(main, argv, env={**self.env, **env}, catch_exceptions=False)
        assert TOKEN not in result.stdout + result.stderr
        return result


@pytest.fixture
def world(tmp_path: Path, fake: FakeGraph) -> Env:
    return Env(tmp_path, fake)


# --------------------------------------------------------------------------- happy path


def test_upload_delivers_journals_skips_on_rerun_and_force_resends(world: Env) -> None:
    inputs = world.events(23, 12)
    result = world.upload(str(inputs))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # not a terminal: nothing but errors on stderr
    data = summary(result)
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
    assert summary(again)["events"]["already_sent"] == 35
    assert len(event_requests(world.fake)) == len(requests)  # nothing sent twice

    forced = world.upload(str(inputs), "--force")
    assert forced.exit_code == 0
    assert summary(forced)["events"]["sent"] == 35
    assert set(received_keys(world.fake).values()) == {2}


def test_batch_size_workers_and_test_event_code_options(world: Env) -> None:
    inputs = world.events(30)
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
    inputs = world.events(3)
    result = world.upload(str(inputs), option, value)
    assert result.exit_code == 2 and option in result.stderr
    assert world.fake.requests == []


def test_no_token_exits_3_with_a_hint(world: Env) -> None:
    inputs = world.events(3)
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
    inputs = world.events(20)
    world.fake.inject(fault, times=2)
    result = world.upload(str(inputs), "--workers", "1")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert summary(result)["events"]["sent"] == 20
    assert sum(received_keys(world.fake).values()) == 20  # faulted requests were not accepted
    assert len(event_requests(world.fake)) == 4


def test_usage_near_the_limit_slows_down_but_delivers(world: Env) -> None:
    world.fake.usage_headers = {"X-App-Usage": json.dumps({"call_count": 97, "total_time": 10})}
    inputs = world.events(20)
    result = world.upload(str(inputs))
    assert result.exit_code == 0
    assert summary(result)["events"]["sent"] == 20


def test_exhausted_retries_fail_those_events_and_a_rerun_sends_them(world: Env) -> None:
    inputs = world.events(20, 5)
    world.fake.inject(Fault.error(500, code=1, message="Service down"), times=3, dataset=DS_B)
    result = world.upload(str(inputs), json_output=False)
    assert result.exit_code == 1
    assert "Not delivered (a re-run retries them)" in result.stdout
    # the reason in full, with what Meta support asks for
    assert re.search(
        r"gave up after 3 tries: Service down \(code 1, fbtrace_id \S+\)", result.stdout
    )
    assert journal_keys(world.state) == set(received_keys(world.fake))
    assert {k[0] for k in received_keys(world.fake)} == {DS_A}

    again = world.upload(str(inputs))
    assert again.exit_code == 0
    data = summary(again)
    assert data["datasets"][DS_B]["sent"] == 5 and data["datasets"][DS_A]["already_sent"] == 20
    assert max(received_keys(world.fake).values()) == 1


def test_connection_refused_reads_short_in_the_summary(world: Env, tmp_path: Path) -> None:
    inputs = world.events(12)
    world.fake.stop()  # nothing listens on that port any more
    result = world.upload(str(inputs), json_output=False)
    assert result.exit_code == 1
    assert "gave up after 3 tries: connection refused" in result.stdout
    assert "HTTPConnection" not in result.stdout and "Errno" not in result.stdout
    as_json = world.upload(str(inputs))
    assert summary(as_json)["events"]["failed"] == 12


def test_missing_dataset_fails_only_its_events(world: Env) -> None:
    world.fake.remove_dataset(DS_B)
    inputs = world.events(20, 25)
    result = world.upload(str(inputs))
    assert result.exit_code == 1
    data = summary(result)
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
    inputs = world.events(20)
    rejects = world.tmp / "rejects.jsonl"
    result = world.upload(str(inputs), "--rejects", str(rejects))
    assert result.exit_code == 1
    data = summary(result)
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
    inputs = world.events(60)
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
    data = summary(result)  # the summary is still printed, consistent
    assert data["events"]["failed"] > 0
    assert len(journal_keys(world.state)) == data["events"]["sent"]
    assert journal_keys(world.state) == set(received_keys(world.fake))
    # The run stopped: far fewer requests than the six batches it had to send.
    assert len(event_requests(world.fake)) < 6


def test_deprecated_api_version_exits_2(tmp_path: Path) -> None:
    with fake_graph(datasets=[DS_A], deprecated_versions=[DEFAULT_API_VERSION]) as f:
        world = Env(tmp_path, f)
        result = world.upload(str(world.events(15)))
    assert result.exit_code == 2
    assert "api_version" in (result.stderr or "")
    assert f'set api_version = "{DEFAULT_API_VERSION}"' in result.stderr  # the newest known
    assert summary(result)["events"]["sent"] == 0


# --------------------------------------------------------------------------- journal and lock


def test_journal_prunes_old_rows_and_holds_no_personal_data(world: Env) -> None:
    world.state.mkdir(parents=True)
    with Journal(world.state / JOURNAL) as journal:
        # (the run's clock is --now, NOW: earlier than the real one, it decides what is old)
        journal.record(DS_A, [("Purchase", "ancient")], "old-run", sent_at=NOW_TS - 70 * 86400)
        journal.record(DS_A, [("Purchase", "recent")], "old-run", sent_at=NOW_TS - 86400)
    inputs = world.events(5, 3)
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
        result = world.upload(str(world.events(3)))
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert f"pid {holder.pid}" in result.stderr and "another fbocli upload" in result.stderr
    assert world.fake.requests == []


# --------------------------------------------------------------------------- display


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
    stats = RunSummary(accepted=1234, rejected=5, batches=3, built=2500, sent=2000, failed=7)
    display.update(stats, 500)
    display.retry(30, "rate limited: (#4) [limit]")
    text = display.describe()
    parts = ("1,234 accepted", "5 rejected", "3 batches", "2,000 of 2,500 events sent", "7 failed")
    for part in parts:
        assert part in text
    assert "1 waiting to retry" in text and "rate limited" in text
    assert ProgressDisplay(enabled=False, total_bytes=None, dry_run=True).describe() == ""
