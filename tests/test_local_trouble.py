"""The words a user acts on when the trouble is local (issue 19, item 9): a state
directory left to another user by a run with sudo, an intact but read-only journal, an
inaccessible rejects folder, a standard output that cannot be written.

fbocli runs as a real process. The tests run as root, who ignores file modes: the runs
that must meet a permission problem drop root's powers (``without_root_powers``), and
"another user" is uid 65534 (nobody).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakegraph import FakeGraph, Fault
from tests.helpers import (
    DS1,
    Run,
    check_summary,
    cli_env,
    fbocli_argv,
    journal_keys,
    received_keys,
    run_cli,
    start_cli,
    summary,
    track_events,
    upload_args,
    wait_for,
    write_config,
    write_jsonl,
)

pytestmark = pytest.mark.slow  # fbocli as a process, twice per test

NOBODY = 65534
ME = "root"  # the tests' user, as fbocli names it in its advice


def _first_upload(tmp: Path, fake: FakeGraph) -> tuple[list[str], dict[str, str]]:
    """An upload that leaves a journal (2 events) and a rejects file (1 record)."""
    messages = track_events(2)
    messages.append({**messages[0], "messageId": "bad", "timestamp": "not a date"})
    source = write_jsonl(tmp / "in.jsonl", messages)
    config = write_config(tmp / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')
    args, env = upload_args(source, config), cli_env(tmp, fake.url)
    first = run_cli(args, env)
    assert first.code == 0, first.stderr
    assert len(journal_keys(tmp / "state")) == 2
    return args, env


def _one_error(stderr: str) -> tuple[str, str]:
    """The error line and its hint, the only things on stderr; no traceback."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("fbocli: error: "), stderr
    assert lines[1].startswith("hint: "), stderr
    return lines[0], lines[1]


def test_a_journal_left_by_a_sudo_run_says_whose_it_is_and_how_to_give_it_back(
    tmp_path: Path, fake: FakeGraph
) -> None:
    args, env = _first_upload(tmp_path, fake)
    state = tmp_path / "state"
    for file in state.glob("journal.sqlite3*"):
        os.chown(file, NOBODY, NOBODY)  # mode 0600: another user's, unreadable to us
    os.chown(state / "upload.lock", 0, 0)  # (the lock is ours: the journal is in question)

    run = run_cli(args, env, unprivileged=True)
    assert run.code == 2 and fake.count() == 2  # nothing more sent
    error, hint = _one_error(run.stderr)
    assert error == (
        f"fbocli: error: journal {state}/journal.sqlite3 cannot be read by {ME} (owner nobody,"
        " mode 0600): a run as another user (sudo?) left it so"
    )
    assert f"sudo chown -R {ME} {state}" in hint
    assert "corrupt" not in run.stderr and "move it aside and run again" not in hint
    assert "Do not move it aside" in hint


def test_a_read_only_journal_is_intact_not_corrupt(tmp_path: Path, fake: FakeGraph) -> None:
    args, env = _first_upload(tmp_path, fake)
    journal = tmp_path / "state" / "journal.sqlite3"
    journal.chmod(0o444)
    run = run_cli(args, env, unprivileged=True)
    assert run.code == 2 and fake.count() == 2
    error, hint = _one_error(run.stderr)
    assert error == (
        f"fbocli: error: journal {journal} cannot be written by {ME} (owner {ME}, mode 0444)"
    )
    assert f"chmod -R u+rwX {journal.parent}" in hint and "corrupt" not in run.stderr

    journal.chmod(0o600)  # given back: the journal is whole, nothing is sent twice
    again = run_cli(args, env)
    assert again.code == 0, again.stderr
    assert fake.count() == 2


def test_a_foreign_lock_file_and_rejects_folder_say_the_same(
    tmp_path: Path, fake: FakeGraph
) -> None:
    args, env = _first_upload(tmp_path, fake)
    state = tmp_path / "state"
    os.chown(state / "upload.lock", NOBODY, NOBODY)
    run = run_cli(args, env, unprivileged=True)
    assert run.code == 2
    error, hint = _one_error(run.stderr)
    assert error.startswith(f"fbocli: error: lock file {state}/upload.lock cannot be read by")
    assert f"sudo chown -R {ME} {state}" in hint

    os.chown(state / "upload.lock", 0, 0)
    os.chown(state / "rejects", NOBODY, NOBODY)  # 0700: unreadable to us
    run = run_cli(args, env, unprivileged=True)
    assert run.code == 2 and fake.count() == 2
    error, hint = _one_error(run.stderr)
    assert error.startswith(
        f"fbocli: error: cannot write the rejects file: folder {state}/rejects cannot be read by"
    )
    assert f"sudo chown -R {ME} {state}/rejects" in hint and "--rejects PATH" in hint


def _to(stdout: int, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        fbocli_argv(*args), env=env, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60
    )


@pytest.mark.parametrize("command", ["validate", "upload", "runs", "help"])
def test_a_full_disk_under_stdout_is_one_line_and_a_closed_pipe_is_quiet(
    tmp_path: Path, fake: FakeGraph, command: str
) -> None:
    """``> /dev/full`` (a cron log's disk full): ENOSPC, one line, exit 1 (the run's own
    status if worse). A reader gone (``| head -1``): EPIPE, nothing said, exit 141 as a
    program killed by SIGPIPE."""
    source = write_jsonl(tmp_path / "in.jsonl", track_events(3))
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')
    env = cli_env(tmp_path, fake.url)
    args = {
        "validate": upload_args(source, config, command="validate"),
        "upload": upload_args(source, config, "--json"),
        "runs": ["runs"],
        "help": ["--help"],
    }[command]
    with open("/dev/full", "w") as full:
        run = _to(full.fileno(), args, env)
    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines()[-1:] == [
        "fbocli: error: cannot write to standard output: No space left on device"
    ]
    assert "Traceback" not in run.stderr
    if command == "upload":
        assert fake.count() == 3  # the upload itself was done: only its report was lost
        args = upload_args(source, config, "--json", "--force")

    reader, writer = os.pipe()
    os.close(reader)  # the reader went away
    try:
        run = _to(writer, args, env)
    finally:
        os.close(writer)
    assert run.returncode == 128 + signal.SIGPIPE and run.stderr == "", run.stderr


def test_a_second_ctrl_c_does_not_lose_the_summary(tmp_path: Path, fake: FakeGraph) -> None:
    """The first Ctrl-C stops gracefully: the batches on the wire finish and are
    journaled. A second one, while they finish, must not cut that short: the summary
    is printed, its counts add up, the journal holds what Meta acknowledged."""
    source = write_jsonl(tmp_path / "in.jsonl", track_events(400))
    upload = "batch_size = 10\nworkers = 2\nmax_retries = 3"
    config = write_config(tmp_path / "fbocli.toml", upload=upload)
    env = cli_env(tmp_path, fake.url)
    fake.inject(Fault.delay(0.4), times=10_000)  # each request takes 0.4 s
    proc = start_cli(upload_args(source, config, "--json"), env)
    wait_for(lambda: fake.count() >= 20, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)  # the run is waiting for its two requests on the wire
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "fbocli: error: interrupted" in err
    events = check_summary(summary(out))["events"]  # the invariants hold
    assert events["sent"] >= 20 and events["failed"] > 0
    assert journal_keys(tmp_path / "state") == set(received_keys(fake))

    fake.clear_faults()
    again = run_cli(upload_args(source, config, "--json", "-q"), env)
    assert again.code == 0, again.stderr
    received = received_keys(fake)
    assert len(received) == 800 and max(received.values()) == 1  # each event exactly once


def _upload_while(tmp: Path, fake: FakeGraph, trouble: Callable[[Path], None]) -> Run:
    """An upload of 300 events in batches of 10 (each request 0.05 s) where ``trouble``
    befalls the journal once 50 events were sent."""
    source = write_jsonl(tmp / "in.jsonl", track_events(300))
    upload = "batch_size = 10\nworkers = 2\nmax_retries = 3"
    config = write_config(tmp / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"', upload=upload)
    env = cli_env(tmp, fake.url)
    fake.inject(Fault.delay(0.05), times=10_000)
    proc = start_cli(upload_args(source, config, "--json"), env)
    wait_for(lambda: fake.count() >= 50, proc)
    trouble(tmp / "state" / "journal.sqlite3")
    out, err = proc.communicate(timeout=120)
    return Run(proc.returncode, out, err)


@pytest.mark.parametrize("files", ["journal.sqlite3", "journal.sqlite3*"])
def test_a_journal_deleted_mid_run_is_put_back_whole(
    tmp_path: Path, fake: FakeGraph, files: str
) -> None:
    """A cleaner (or a mistaken rm) deletes the journal while the run records into it:
    fbocli notices at its next write, puts back what it had recorded, goes on, and says
    so. Without that, every event of the run would be sent again by the next one."""

    def delete(journal: Path) -> None:
        for file in journal.parent.glob(files):
            file.unlink()

    run = _upload_while(tmp_path, fake, delete)
    assert run.code == 0, run.stderr
    assert "was deleted during the run: fbocli put it back whole" in run.stderr
    assert any("was deleted during the run" in w for w in run.summary["warnings"])
    assert run.summary["events"]["sent"] == 300
    assert journal_keys(tmp_path / "state") == set(received_keys(fake))  # all 300

    again = run_cli(
        upload_args(tmp_path / "in.jsonl", tmp_path / "fbocli.toml", "--json"),
        cli_env(tmp_path, fake.url),
    )
    assert again.code == 0 and again.summary["events"]["already_sent"] == 300
    assert max(received_keys(fake).values()) == 1  # nothing sent twice


def test_a_journal_replaced_mid_run_stops_the_run_and_keeps_a_copy(
    tmp_path: Path, fake: FakeGraph
) -> None:
    def replace(journal: Path) -> None:
        for file in journal.parent.glob("journal.sqlite3*"):
            file.unlink()
        journal.write_bytes(b"")  # another file where the journal was

    run = _upload_while(tmp_path, fake, replace)
    assert run.code == 1
    assert "was replaced by another file during the run" in run.stderr
    assert "Traceback" not in run.stderr
    (kept,) = (tmp_path / "state").glob("journal.sqlite3.recovered-*")
    assert (tmp_path / "state" / "journal.sqlite3").read_bytes() == b""  # left alone
    kept.replace(tmp_path / "state" / "journal.sqlite3")  # as the hint says
    recorded = journal_keys(tmp_path / "state")
    assert recorded and recorded <= set(received_keys(fake))
    events = check_summary(run.summary)["events"]
    assert len(recorded) >= events["sent"] - 20  # at most the batches on the wire
