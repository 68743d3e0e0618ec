"""`fbocli upload` as real processes: kill -9 and Ctrl-C mid-upload, and 100,000 events
through a faulty fake Graph API, compared event by event with a dry run of the same input."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fbocli.inputs.reader import BLOCK_BYTES
from tests.fakegraph import FakeGraph, Fault
from tests.helpers import (
    DS1,
    TOKEN,
    cli_env,
    event_requests,
    journal_keys,
    received_keys,
    run_cli,
    start_cli,
    summary,
    upload_args,
    write_events,
)
from tests.test_upload import write_upload_config

pytestmark = pytest.mark.slow  # real processes killed and interrupted, 100,000 events

BATCH = 10  # write_upload_config's batch_size
WORKERS = 2  # write_upload_config's workers


def fbocli(tmp: Path, url: str, config: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """Start ``fbocli upload in.jsonl ... --json`` as its own process."""
    return start_cli(
        upload_args(tmp / "in.jsonl", config, *args, "--json"), cli_env(tmp, url, **env)
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert TOKEN not in out + err
    return proc.returncode, out, err


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    """Poll (a liveness guard, not a timing assertion) until ``condition`` or 30 s."""
    deadline = time.monotonic() + 30
    while not condition():
        assert proc.poll() is None, "fbocli ended before the test could stop it"
        assert time.monotonic() < deadline, "fbocli made no progress"
        time.sleep(0.01)


def config(tmp: Path) -> Path:
    return write_upload_config(tmp / "fbocli.toml")


# --------------------------------------------------------------------------- crash safety


@pytest.mark.parametrize("kill_after", [1, 150], ids=["first-batch", "half-way"])
def test_kill_9_then_rerun_delivers_everything_duplicating_only_in_flight_batches(
    tmp_path: Path, fake: FakeGraph, kill_after: int
) -> None:
    write_events(tmp_path / "in.jsonl", 200, leads=100)
    cfg = config(tmp_path)
    fake.inject(Fault.delay(0.1), times=10_000)  # slow answers: batches are in flight a while
    proc = fbocli(tmp_path, fake.url, cfg)
    wait_until(lambda: fake.count() >= kill_after, proc)
    proc.kill()
    proc.wait()
    journaled = journal_keys(tmp_path / "state")  # SQLite opens fine after the kill
    assert journaled <= set(received_keys(fake))  # only what Meta acknowledged

    code, out, err = finish(fbocli(tmp_path, fake.url, cfg))
    assert code == 0, err
    assert summary(out)["events"]["already_sent"] == len(journaled)
    received = received_keys(fake)
    assert {k[2] for k in received} == {f"e{i}" for i in range(300)}
    twice = {key for key, n in received.items() if n > 1}
    assert max(received.values()) <= 2
    assert not twice & journaled  # a journaled event is never sent again
    assert len(twice) <= WORKERS * BATCH  # only the batches in flight at the kill
    assert journal_keys(tmp_path / "state") == set(received)


def test_ctrl_c_finishes_in_flight_batches_exits_130_and_a_rerun_completes(
    tmp_path: Path, fake: FakeGraph
) -> None:
    n = 6000  # several chunks of input (BLOCK_BYTES each)
    write_events(tmp_path / "in.jsonl", 4000, leads=2000)
    with (tmp_path / "in.jsonl").open("rb") as file:
        chunk_events = file.read(BLOCK_BYTES).count(b"\n") + 1
    assert chunk_events < n / 2
    cfg = config(tmp_path)
    fake.inject(Fault.delay(0.2), times=40)  # the first requests answer slowly
    proc = fbocli(tmp_path, fake.url, cfg)
    wait_until(lambda: fake.count() >= 50, proc)
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc, timeout=30)
    assert code == 130
    assert "interrupted" in err and "Traceback" not in err
    events = summary(out)["events"]
    assert 50 <= events["sent"] < n
    # Back-pressure: reading stopped a chunk and a few batches ahead of what was sent;
    # what was read but not sent was cancelled, not sent, and counts as failed.
    assert 0 < events["failed"] == events["built"] - events["sent"]
    assert events["built"] <= events["sent"] + chunk_events + 3 * WORKERS * BATCH
    # In-flight batches finished and were journaled: the journal is exactly what Meta has.
    assert journal_keys(tmp_path / "state") == set(received_keys(fake))

    code, out, err = finish(fbocli(tmp_path, fake.url, cfg))
    assert code == 0, err
    received = received_keys(fake)
    assert len(received) == n and max(received.values()) == 1  # nothing sent twice


def test_ctrl_c_during_a_long_rate_limit_wait_abandons_it(tmp_path: Path, fake: FakeGraph) -> None:
    write_events(tmp_path / "in.jsonl", 40)
    fake.inject(Fault.rate_limit(4, retry_after=600), times=10_000)
    proc = fbocli(tmp_path, fake.url, config(tmp_path), FBOCLI_BACKOFF_SCALE="1")
    wait_until(lambda: len(event_requests(fake)) >= WORKERS, proc)
    time.sleep(0.2)  # both workers are now in their 10-minute wait
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc, timeout=30)  # far less than the 600 s Meta asked for
    assert code == 130, err
    events = summary(out)["events"]
    assert events["sent"] == 0 and events["failed"] == 40
    assert journal_keys(tmp_path / "state") == set()
    assert len(event_requests(fake)) == WORKERS  # abandoned, not retried


# --------------------------------------------------------------------------- volume


def test_100k_events_through_faults_match_the_dry_run_exactly(
    tmp_path: Path, fake: FakeGraph
) -> None:
    write_events(tmp_path / "in.jsonl", 70_000, leads=30_000)
    cfg = write_upload_config(tmp_path / "fbocli.toml", batch_size=1000, workers=4, max_retries=6)
    requests_file = tmp_path / "requests.jsonl"
    dry_args = ["--dry-run", "--output", str(requests_file), "--json", "-q"]
    dry_env = cli_env(tmp_path, fake.url, FBOCLI_STATE_DIR=str(tmp_path / "d"))
    dry = run_cli(upload_args(tmp_path / "in.jsonl", cfg, *dry_args), dry_env)
    assert dry.code == 0, dry.stderr
    expected: dict[tuple[str, str], dict[str, Any]] = {}
    extra: dict[str, Any] = {}
    for line in requests_file.read_text(encoding="utf-8").splitlines():
        request = json.loads(line)
        dataset = request["url"].rsplit("/", 2)[-2]
        extra = {k: v for k, v in request["body"].items() if k != "data"}
        for event in request["body"]["data"]:
            expected[(dataset, event["event_id"])] = event
    assert len(expected) == 100_000

    bad = "e4242"
    fake.reject_events(lambda e: "Invalid user_data" if e.get("event_id") == bad else None)
    fake.inject(Fault.error(500, code=1), times=2)
    fake.inject(Fault.rate_limit(17, retry_after=1))
    fake.inject(Fault.reset())
    fake.inject(Fault.html(503))
    code, out, err = finish(fbocli(tmp_path, fake.url, cfg, "-q"), timeout=120)
    assert code == 1, err  # one event refused by Meta, and stderr (cron's mail) says so
    assert err.startswith("fbocli: error: 1 event refused by Meta (api_rejected), first: ")
    assert err.count("\n") == 1 and "Invalid user_data" in err
    assert summary(out)["events"] == {
        "built": 100_000,
        "sent": 99_999,
        "already_sent": 0,
        "api_rejected": 1,
        "failed": 0,
    }

    delivered: dict[tuple[str, str], dict[str, Any]] = {}
    for dataset, events in fake.received.items():
        for event in events:
            key = (dataset, event["event_id"])
            assert key not in delivered, f"{key} delivered twice"
            delivered[key] = event
    del expected[(DS1, bad)]
    assert delivered.keys() == expected.keys()
    assert delivered == expected  # full event JSON, field by field
    for request in event_requests(fake):
        if request["status"] == 200:
            assert request["params"] == extra  # upload_tag etc. as in the dry run
    assert len(journal_keys(tmp_path / "state")) == 99_999
