"""The journal, the state lock and the state directory, on real files and processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fbocli.errors import ExitStatus, LockError, StateError
from fbocli.journal import (
    _ALREADY_SENT_SQL,
    JOURNAL_FILE,
    LOCK_FILE,
    Journal,
    StateLock,
    resolve_state_dir,
)
from tests.helpers import ROOT as REPO
from tests.helpers import SAMPLE_CONFIG, in_threads, invoke, upload_args, without_root_powers


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / JOURNAL_FILE) as j:
        yield j


def _python(code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# --- journal -------------------------------------------------------------------------------


def test_record_then_already_sent_count_and_prune(journal: Journal) -> None:
    journal.record("ds1", [("Purchase", "a"), ("Purchase", "b")], "batch-1", sent_at=100.0)
    journal.record("ds1", [("Lead", "a")], "batch-2", sent_at=200.0)
    journal.record("ds2", [("Purchase", "c")], "batch-3", sent_at=300.0)
    assert journal.count() == 4

    asked = [("Purchase", "a"), ("Purchase", "c"), ("Lead", "a"), ("Lead", "b")]
    assert set(journal.already_sent("ds1", asked)) == {("Purchase", "a"), ("Lead", "a")}
    assert set(journal.already_sent("ds2", asked)) == {("Purchase", "c")}
    assert set(journal.already_sent("ds3", asked)) == set()
    assert set(journal.already_sent("ds1", [])) == set()

    assert journal.prune(200.0) == 2  # strictly older than 200
    assert journal.count() == 2
    assert set(journal.already_sent("ds1", asked)) == {("Lead", "a")}
    assert journal.prune(0.0) == 0


def test_record_is_idempotent_and_refreshes_the_row(journal: Journal) -> None:
    keys = [("Purchase", "a"), ("Purchase", "b"), ("Purchase", "a")]
    journal.record("ds", keys, "first", sent_at=10.0)
    journal.record("ds", keys, "second", sent_at=20.0)
    assert journal.count() == 2
    assert journal.prune(15.0) == 0  # replaced rows carry the newer time
    journal.record("ds", [], "empty")
    assert journal.count() == 2


def test_record_without_time_uses_now(journal: Journal) -> None:
    import time

    before = time.time()
    journal.record("ds", [("Purchase", "a")], "b")
    assert journal.prune(before - 1) == 0
    assert journal.prune(time.time() + 1) == 1


def test_rows_persist_across_reopen_and_schema_holds_no_personal_data(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    with Journal(path) as j:
        j.record("ds", [("Purchase", "e1")], "b1", sent_at=1.0)
    with Journal(path) as j:
        assert set(j.already_sent("ds", [("Purchase", "e1")])) == {("Purchase", "e1")}
    conn = sqlite3.connect(path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(sent)")]
        assert columns == [
            "dataset_id",
            "event_name",
            "event_id",
            "batch_id",
            "sent_at",
            "test_event_code",
            "event_time",
            "facts",
        ]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        assert version == ("3",)
    finally:
        conn.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_2000_key_lookup_is_one_statement_using_the_primary_key(journal: Journal) -> None:
    recorded = [("Purchase", f"e{i}") for i in range(0, 4000, 2)]
    journal.record("ds", recorded, "b")
    asked = [("Purchase", f"e{i}") for i in range(2000)]

    statements: list[str] = []
    conn = journal._conn
    assert conn is not None
    conn.set_trace_callback(statements.append)
    try:
        found = journal.already_sent("ds", asked)
    finally:
        conn.set_trace_callback(None)

    assert set(found) == {("Purchase", f"e{i}") for i in range(0, 2000, 2)}
    assert len(statements) == 1
    plan = " ".join(
        str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {_ALREADY_SENT_SQL}", ("[]", "ds"))
    )
    assert "SEARCH s USING PRIMARY KEY (dataset_id=? AND event_name=? AND event_id=?)" in plan
    assert "SCAN s" not in plan


def test_a_dataset_without_rows_is_checked_without_a_lookup(tmp_path: Path) -> None:
    """First runs and dry runs pay nothing per batch; once a dataset has a row (recorded
    by this process or found on disk), every batch is looked up again."""
    path = tmp_path / "j.sqlite3"
    with Journal(path) as first:
        statements: list[str] = []
        assert first._conn is not None
        first._conn.set_trace_callback(statements.append)
        keys = [("Purchase", f"e{i}") for i in range(1000)]
        assert set(first.already_sent("ds", keys)) == set()
        assert set(first.already_sent("ds", keys)) == set()
        assert sum("json_each" in s for s in statements) == 0
        assert not first.has_rows("ds")
        first.record("ds", keys[:3], "b1")
        assert first.has_rows("ds") and not first.has_rows("other")
        assert set(first.already_sent("ds", keys)) == set(keys[:3])
        assert set(first.already_sent("other", keys)) == set()
    with Journal(path) as second:  # rows from an earlier run
        assert second.has_rows("ds") and not second.has_rows("other")
        assert set(second.already_sent("ds", keys)) == set(keys[:3])


def test_keys_with_quotes_and_unicode_round_trip(journal: Journal) -> None:
    odd = [("Purchase", "o\"'\\ne, ü 🛒"), ("Custom Event ✓", "[1, 2]")]
    journal.record("ds", odd, "b")
    assert set(journal.already_sent("ds", odd)) == set(odd)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ids=st.lists(
        st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
        min_size=1,
        max_size=8,
    )
)
def test_recorded_keys_are_stored_exactly_whatever_their_characters(
    journal: Journal, ids: list[str]
) -> None:
    """Each recorded key comes back exactly as given, and the lookup (which passes its keys
    as one JSON parameter, where json_extract would cut a NUL short) never makes a key
    that was not recorded look already sent: an event is never skipped by mistake."""
    journal.prune(older_than=float("inf"))
    journal.record("ds", [("Purchase", i) for i in ids], "b")
    conn = sqlite3.connect(journal.path)
    try:
        stored = {row[0] for row in conn.execute("SELECT event_id FROM sent")}
    finally:
        conn.close()
    assert stored == set(ids)
    for i in ids:
        if "\0" not in i:
            assert set(journal.already_sent("ds", [("Purchase", i)])) == {("Purchase", i)}
        prefix = i.split("\0")[0]
        if prefix not in ids:  # a NUL-cut version of a key is not a recorded key
            assert set(journal.already_sent("ds", [("Purchase", prefix)])) == set()


def test_rows_survive_sigkill_right_after_record(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    proc = _python(
        f"""
        import os, signal
        from pathlib import Path
        from fbocli.journal import Journal
        j = Journal(Path({str(path)!r}))
        j.record("ds", [("Purchase", f"e{{i}}") for i in range(1500)], "b1")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGKILL, err
    with Journal(path) as j:
        assert j.count() == 1500
        assert len(j.already_sent("ds", [("Purchase", f"e{i}") for i in range(1500)])) == 1500


def test_concurrent_threads_record_and_query(journal: Journal) -> None:
    def work(n: int) -> None:
        for b in range(10):
            keys = [("Purchase", f"t{n}-b{b}-{i}") for i in range(50)]
            journal.record("ds", keys, f"t{n}-b{b}")
            assert set(journal.already_sent("ds", keys)) == set(keys)

    assert in_threads(work, 8) == []
    assert journal.count() == 8 * 10 * 50


def test_corrupt_file_is_a_state_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    path.write_bytes(b"this is not an SQLite database, just text\n" * 200)
    with pytest.raises(StateError) as info:
        Journal(path)
    assert str(path) in str(info.value)
    assert info.value.hint and "move it aside" in info.value.hint
    assert info.value.exit_status == ExitStatus.USAGE


def test_foreign_sqlite_file_and_newer_schema_are_state_errors(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.sqlite3"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE sent (x)")  # wrong shape: no PRIMARY KEY columns
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    conn.commit()
    conn.close()
    with pytest.raises(StateError) as info:
        Journal(foreign)
    assert str(foreign) in str(info.value)
    assert "99" in str(info.value)


def test_journal_path_that_cannot_be_opened_is_a_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="cannot open"):
        Journal(tmp_path / "missing-dir" / JOURNAL_FILE)


def test_closed_journal_raises_state_error(tmp_path: Path) -> None:
    j = Journal(tmp_path / JOURNAL_FILE)
    j.close()
    j.close()  # idempotent
    with pytest.raises(StateError, match="closed"):
        j.count()


# --- lock ----------------------------------------------------------------------------------


def test_lock_held_by_another_process_then_released_by_its_death(tmp_path: Path) -> None:
    proc = _python(
        f"""
        import sys, time
        from pathlib import Path
        from fbocli.journal import StateLock
        StateLock(Path({str(tmp_path)!r})).acquire()
        print("locked", flush=True)
        time.sleep(60)
        """
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        lock = StateLock(tmp_path)
        with pytest.raises(LockError) as info:
            lock.acquire()
        message = str(info.value)
        assert message.startswith(f"another fbocli upload is running (pid {proc.pid} on ")
        assert ", started 20" in message and "Z)" in message
        assert message.endswith(f": {tmp_path}")
        assert info.value.exit_status == ExitStatus.FAILURE
        assert info.value.hint
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)

    # The stale file stays, full of the dead holder's details; flock is gone with it.
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == proc.pid
    with StateLock(tmp_path):
        info_now = json.loads((tmp_path / LOCK_FILE).read_text())
        assert info_now["pid"] == os.getpid()


def test_a_forked_child_does_not_keep_the_lock_of_a_killed_process(tmp_path: Path) -> None:
    """An upload's mapping workers are forked while it holds the lock: killed with -9, the
    upload's lock must go with it, not live on in a worker until the worker notices."""
    proc = _python(
        f"""
        import os, sys, time
        from pathlib import Path
        from fbocli.journal import StateLock
        StateLock(Path({str(tmp_path)!r})).acquire()
        child = os.fork()
        if child == 0:  # a child that outlives its parent
            os.close(1)
            os.close(2)
            time.sleep(30)
            os._exit(0)
        print(child, flush=True)
        time.sleep(60)
        """
    )
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    try:
        with pytest.raises(LockError):
            StateLock(tmp_path).acquire()
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        os.kill(child, 0)  # the child lives on ...
        with StateLock(tmp_path):  # ... and yet the lock is free at once
            pass
    finally:
        proc.kill()
        proc.communicate(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_lock_file_describes_the_holder_and_release_allows_reacquire(tmp_path: Path) -> None:
    lock = StateLock(tmp_path)
    lock.acquire()
    lock.acquire()  # already held by this instance: no-op
    info = json.loads((tmp_path / LOCK_FILE).read_text())
    assert set(info) == {"pid", "host", "started"}
    assert info["pid"] == os.getpid()
    with pytest.raises(LockError, match=f"pid {os.getpid()}"):
        StateLock(tmp_path).acquire()  # a second open file description conflicts
    lock.release()
    lock.release()
    assert (tmp_path / LOCK_FILE).read_text() == ""
    with StateLock(tmp_path):
        pass


def test_lock_in_missing_directory_is_a_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="lock"):
        StateLock(tmp_path / "nope").acquire()


# --- state directory -----------------------------------------------------------------------


def test_state_dir_order_option_env_platformdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("FBOCLI_STATE_DIR", str(tmp_path / "ignored"))  # the CLI's business
    assert resolve_state_dir(str(tmp_path / "opt")) == tmp_path / "opt"
    assert resolve_state_dir(tmp_path / "path") == tmp_path / "path"
    assert resolve_state_dir("") == tmp_path / "xdg" / "fbocli"
    assert resolve_state_dir(None) == tmp_path / "xdg" / "fbocli"
    for name in ("opt", "path", "xdg/fbocli"):
        assert (tmp_path / name).is_dir()
        assert not any((tmp_path / name).iterdir())  # the probe file is gone
    assert not (tmp_path / "ignored").exists()
    # The command line: --state-dir, else $FBOCLI_STATE_DIR, else the user state dir.
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for option, env, used in (
        (["--state-dir", str(tmp_path / "cli")], {"FBOCLI_STATE_DIR": str(tmp_path / "e")}, "cli"),
        ([], {"FBOCLI_STATE_DIR": str(tmp_path / "env")}, "env"),
        ([], {"FBOCLI_STATE_DIR": ""}, "xdg/fbocli"),
    ):
        args = upload_args(empty, SAMPLE_CONFIG, "--dry-run", *option)
        result = invoke(args, env=env)
        assert result.exit_code == 0, result.stderr
        assert (tmp_path / used / "journal.sqlite3").is_file(), used
    assert not (tmp_path / "e").exists()


def test_state_dir_and_its_new_parents_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = resolve_state_dir(str(tmp_path / "a" / "b" / "state"))
    finally:
        os.umask(old)
    for p in (path, path.parent, path.parent.parent):
        assert stat.S_IMODE(p.stat().st_mode) == 0o700
    assert resolve_state_dir(str(path)) == path  # existing: fine


def test_state_dir_expands_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_state_dir("~/st") == tmp_path / "st"


def test_state_dir_under_a_regular_file_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for target in (blocker / "sub", blocker):
        with pytest.raises(StateError) as info:
            resolve_state_dir(str(target))
        assert str(target) in str(info.value)
        assert info.value.exit_status == ExitStatus.USAGE


def test_state_dir_from_env_under_a_file_names_that_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "sub"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    args = upload_args(empty, SAMPLE_CONFIG, command="validate")
    result = invoke(args, env={"FBOCLI_STATE_DIR": str(target)})
    assert result.exit_code == 2 and str(target) in result.stderr


def test_unwritable_state_dir_is_a_state_error(tmp_path: Path) -> None:
    target = tmp_path / "ro"
    target.mkdir(mode=0o500)
    target.chmod(0o500)
    code = (
        "import sys\n"
        "from fbocli.journal import resolve_state_dir\n"
        "from fbocli.errors import StateError\n"
        "try:\n"
        "    resolve_state_dir(sys.argv[1])\n"
        "except StateError as e:\n"
        "    print('StateError', e)\n"
    )
    argv = without_root_powers([sys.executable, "-c", code, str(target)])
    try:
        proc = subprocess.run(
            argv,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert proc.stdout.startswith(f"StateError cannot use state directory {target}:"), (
            proc.stdout + proc.stderr
        )
        assert not any(target.iterdir())
    finally:
        target.chmod(0o700)


def test_a_version_1_journal_upgrades_in_place_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE sent (dataset_id TEXT NOT NULL, event_name TEXT NOT NULL,"
        " event_id TEXT NOT NULL, batch_id TEXT NOT NULL, sent_at REAL NOT NULL,"
        " PRIMARY KEY (dataset_id, event_name, event_id)) WITHOUT ROWID;"
        "INSERT INTO sent VALUES ('ds', 'Purchase', 'old', 'b0', 1.0);"
    )
    conn.close()
    with Journal(path) as j:
        assert j.already_sent("ds", [("Purchase", "old")]) == {("Purchase", "old"): None}
        j.record("ds", [("Purchase", "new")], "b1", test_event_code="TEST1")
        assert j.already_sent("ds", [("Purchase", "new")]) == {("Purchase", "new"): "TEST1"}
        j.record_run("r1", 5.0, {"exit_code": 0})
        assert j.runs() == [{"exit_code": 0}]


def test_runs_are_listed_newest_first_and_pruned_with_the_events(journal: Journal) -> None:
    for n, started in enumerate((100.0, 300.0, 200.0)):
        journal.record_run(f"r{n}", started, {"run": n})
    assert journal.runs() == [{"run": 1}, {"run": 2}, {"run": 0}]
    assert journal.runs(limit=1) == [{"run": 1}]
    journal.prune(older_than=250.0)
    assert journal.runs() == [{"run": 1}]
