"""Disk trouble is found before anything is sent: exit 2, a clear message, Meta untouched.

Tests run as root, so a chmod would not stop the product; an unusable place is made the
portable way instead: a path below a regular file, a directory where a file must be, or a
journal file that is not SQLite.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakegraph import FakeGraph
from tests.helpers import (
    DS1,
    DS2,
    cli_env,
    run_cli,
    track_events,
    upload_args,
    write_config,
    write_events,
    write_jsonl,
)

pytestmark = pytest.mark.slow  # a CLI process per case

Arrange = Callable[[Path], tuple[list[str], dict[str, str], str]]


def _state_below_a_file(tmp: Path) -> tuple[list[str], dict[str, str], str]:
    (tmp / "plain").write_text("not a directory")
    return [], {"FBOCLI_STATE_DIR": str(tmp / "plain" / "state")}, "cannot use state directory"


def _state_is_a_file(tmp: Path) -> tuple[list[str], dict[str, str], str]:
    (tmp / "plain").write_text("not a directory")
    return ["--state-dir", str(tmp / "plain")], {}, "cannot use state directory"


def _journal_not_sqlite(tmp: Path) -> tuple[list[str], dict[str, str], str]:
    (tmp / "state").mkdir(mode=0o700)
    (tmp / "state" / "journal.sqlite3").write_bytes(b"this is not a database\n" * 300)
    return [], {}, "journal"


def _journal_is_a_directory(tmp: Path) -> tuple[list[str], dict[str, str], str]:
    (tmp / "state" / "journal.sqlite3").mkdir(parents=True)
    return [], {}, "journal"


def _lock_is_a_directory(tmp: Path) -> tuple[list[str], dict[str, str], str]:
    (tmp / "state" / "upload.lock").mkdir(parents=True)
    return [], {}, "lock"


def _rejects_below_a_file(tmp: Path) -> tuple[list[str], dict[str, str], str]:
    (tmp / "plain").write_text("not a directory")
    return ["--rejects", str(tmp / "plain" / "rejects.jsonl")], {}, "rejects file"


def _rejects_is_a_directory(tmp: Path) -> tuple[list[str], dict[str, str], str]:
    (tmp / "rejects.jsonl").mkdir()
    return ["--rejects", str(tmp / "rejects.jsonl")], {}, "rejects file"


def _missing_second_input(tmp: Path) -> tuple[list[str], dict[str, str], str]:
    return [str(tmp / "missing.jsonl")], {}, "missing.jsonl"


CASES: dict[str, Arrange] = {
    "state-dir-below-a-file": _state_below_a_file,
    "state-dir-is-a-file": _state_is_a_file,
    "journal-not-sqlite": _journal_not_sqlite,
    "journal-is-a-directory": _journal_is_a_directory,
    "lock-is-a-directory": _lock_is_a_directory,
    "rejects-below-a-file": _rejects_below_a_file,
    "rejects-is-a-directory": _rejects_is_a_directory,
    "missing-second-input": _missing_second_input,
}


@pytest.mark.parametrize("name", list(CASES))
def test_upload_stops_before_sending(name: str, fake: FakeGraph, tmp_path: Path) -> None:
    write_events(tmp_path / "in.jsonl", 30)
    config = write_config(tmp_path / "fbocli.toml")
    extra_args, extra_env, words = CASES[name](tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    args = upload_args(tmp_path / "in.jsonl", config, *extra_args)
    result = run_cli(args, cli_env(tmp_path, fake.url, **extra_env))
    assert result.code == 2, result.stderr
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith("fbocli: error: ") and words in first, result.stderr
    assert "Traceback" not in result.stderr
    assert fake.requests == []  # not one request: nothing was sent
    for path, content in before.items():  # and nothing the user had was changed
        assert path.read_bytes() == content, path


@pytest.mark.parametrize("name", ["rejects-below-a-file", "state-dir-below-a-file"])
def test_validate_reports_the_same_trouble(name: str, fake: FakeGraph, tmp_path: Path) -> None:
    write_events(tmp_path / "in.jsonl", 3)
    config = write_config(tmp_path / "fbocli.toml")
    extra_args, extra_env, words = CASES[name](tmp_path)
    args = upload_args(tmp_path / "in.jsonl", config, *extra_args, command="validate")
    result = run_cli(args, cli_env(tmp_path, fake.url, **extra_env))
    assert result.code == 2 and words in result.stderr, result.stderr


def test_dry_run_output_below_a_file(fake: FakeGraph, tmp_path: Path) -> None:
    write_events(tmp_path / "in.jsonl", 3)
    config = write_config(tmp_path / "fbocli.toml")
    (tmp_path / "plain").write_text("x")
    output = tmp_path / "plain" / "requests.jsonl"
    args = upload_args(tmp_path / "in.jsonl", config, "--dry-run", "--output", str(output))
    result = run_cli(args, cli_env(tmp_path, fake.url))
    assert result.code == 2, result.stderr
    assert "cannot write --output" in result.stderr
    assert (tmp_path / "plain").read_text() == "x"


# --- a full disk, for real: a tiny tmpfs ----------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (root can mount one here and in CI); skipped where it cannot."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> None:
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)


def test_full_state_disk_stops_before_sending(
    tiny_disk: Path, fake: FakeGraph, tmp_path: Path
) -> None:
    write_events(tmp_path / "in.jsonl", 30)
    config = write_config(tmp_path / "fbocli.toml")
    _fill(tiny_disk)
    args = upload_args(tmp_path / "in.jsonl", config)
    result = run_cli(args, cli_env(tmp_path, fake.url, FBOCLI_STATE_DIR=str(tiny_disk / "state")))
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "fbocli: error:" in result.stderr
    assert fake.requests == []


def test_disk_filling_up_mid_run_stops_cleanly_and_a_rerun_finishes(
    tiny_disk: Path, fake: FakeGraph, tmp_path: Path
) -> None:
    """The rejects file fills the disk part-way: exit 1, no traceback, counts whole; once
    there is room again, the same command delivers everything exactly once."""
    old = [  # big rejects: too old, with a fat property
        {
            "type": "track",
            "event": "Order Completed",
            "messageId": f"old{i}",
            "userId": "u",
            "timestamp": "2020-01-01T00:00:00Z",
            "properties": {"revenue": 1, "note": "x" * 400},
        }
        for i in range(3000)
    ]
    messages = track_events(400) + old
    good = [m["messageId"] for m in messages[:400]]
    write_jsonl(tmp_path / "good.jsonl", messages)
    config = write_config(tmp_path / "fbocli.toml", upload="batch_size = 50\nworkers = 1")
    rejects = tiny_disk / "rejects.jsonl"
    args = upload_args(tmp_path / "good.jsonl", config, "--json", "--rejects", str(rejects))
    env = cli_env(tmp_path, fake.url)
    first = run_cli(args, env)
    assert first.code == 1, first.stderr
    assert "cannot write the rejects file" in first.stderr
    assert "Traceback" not in first.stderr
    first.summary  # noqa: B018 - the invariants are checked on the part-way summary
    rejects.unlink()
    again = run_cli([*args[:-1], str(tmp_path / "r2.jsonl")], env)
    assert again.code == 0, again.stderr
    for dataset in (DS1, DS2):
        assert sorted(fake.event_ids(dataset)) == sorted(good)
