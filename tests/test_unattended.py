"""Unattended runs that tell the truth (issue 15; cli.md "Revision 2"; meta-api.md
"Versions", "Test events count").

What a cron job mails is what stderr carries: every failure class below runs as a real
process with ``-q`` against the fake Graph API, and its stderr must name the cause. Signals
and kills are real signals to real processes; re-runs start with no delay.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fbocli import versions
from fbocli.config import parse_settings
from fbocli.errors import ConfigError
from tests.fakegraph import FakeGraph, Fault
from tests.helpers import (
    DS1,
    DS2,
    NOW,
    ROOT,
    SAMPLE_CONFIG,
    SAMPLE_JSONL,
    TOKEN,
    check_summary,
    cli_env,
    event_requests,
    fbocli_argv,
    invoke,
    journal_keys,
    received_keys,
    run_cli,
    run_on_terminal,
    start_cli,
    summary,
    upload_args,
    wait_for,
    write_config,
    write_events,
    write_jsonl,
)

BATCH, WORKERS = 10, 2


def _config(tmp: Path, **kwargs: Any) -> Path:
    upload = kwargs.pop("upload", f"batch_size = {BATCH}\nworkers = {WORKERS}\nmax_retries = 3")
    return write_config(tmp / "fbocli.toml", upload=upload, **kwargs)


def _quiet_upload(tmp: Path, url: str, *extra: str, token: str = TOKEN) -> Any:
    """``fbocli upload -q`` as cron runs it: stdout to a log, stderr is the mail."""
    return run_cli(
        upload_args(tmp / "in.jsonl", _config(tmp), "-q", *extra), cli_env(tmp, url, token=token)
    )


# --------------------------------------------------------------------------- cron's mail


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow  # fbocli as a process, one per failure class
def test_every_failure_class_is_said_on_stderr_with_q(tmp_path: Path, fake: FakeGraph) -> None:
    """Unreachable, 5xx on every try, an unknown dataset, events Meta refused, an expired
    token: exit 1 (or 3) and stderr names the cause, with Meta's ids never cut short."""
    cases: dict[str, tuple[str, int, list[str]]] = {}

    def case(name: str, url: str, setup: Any = None, token: str = TOKEN) -> None:
        tmp = tmp_path / name
        tmp.mkdir()
        write_events(tmp / "in.jsonl", 30)
        if setup is not None:
            setup()
        run = _quiet_upload(tmp, url, token=token)
        cases[name] = (run.stderr, run.code, run.stdout.splitlines()[:1])
        fake.clear_faults()

    case("unreachable", f"http://127.0.0.1:{_closed_port()}")
    case("5xx", fake.url, lambda: fake.inject(Fault.error(503, code=2, message="Down"), times=99))
    case("unknown-dataset", fake.url, lambda: fake.remove_dataset(DS2))
    case(
        "refused",
        fake.url,
        lambda: fake.reject_events(
            lambda e: "Invalid event_time" if e.get("event_id") == "e7" else None
        ),
    )
    case("expired-token", fake.url, token="EAAexpired-0123456789")

    stderr, code, _ = cases["unreachable"]
    assert code == 1
    assert f"30 events not delivered to dataset {DS1}: gave up after 3 tries: connection " in stderr
    stderr, code, _ = cases["5xx"]
    assert code == 1
    assert "gave up after 3 tries: Down (code 2, fbtrace_id " in stderr
    stderr, code, _ = cases["unknown-dataset"]
    assert code == 1
    assert f"30 events not delivered to dataset {DS2}: dataset {DS2} does not exist" in stderr
    assert "(code 100, subcode 33, fbtrace_id " in stderr
    stderr, code, _ = cases["refused"]
    assert code == 1
    assert "events refused by Meta (api_rejected), first: " in stderr
    assert "Invalid event_time" in stderr and "rejects-" in stderr
    stderr, code, _ = cases["expired-token"]
    assert code == 3
    assert "access token invalid or expired" in stderr and "(code 190" in stderr
    assert "hint: run `fbocli auth`" in stderr
    for name, (stderr, _, headline) in cases.items():
        assert stderr.startswith("fbocli: error: "), name
        assert "Traceback" not in stderr and TOKEN not in stderr, name
        if name != "expired-token":  # the summary is on stdout, dated, with its run id
            assert headline[0].startswith("fbocli ") and " · run " in headline[0], name


def test_the_json_summary_has_every_field_of_revision_2(tmp_path: Path, fake: FakeGraph) -> None:
    write_events(tmp_path / "in.jsonl", 12)
    fake.remove_dataset(DS2)
    result = invoke(
        upload_args(tmp_path / "in.jsonl", _config(tmp_path), "--json"),
        env=cli_env(tmp_path, fake.url),
    )
    assert result.exit_code == 1
    data = check_summary(json.loads(result.stdout))
    assert data["version"] and data["exit_code"] == 1 and data["dry_run"] is False
    assert data["started_at"].endswith("Z") and data["finished_at"] >= data["started_at"]
    assert data["inputs"] == [str(tmp_path / "in.jsonl")]
    assert data["api_version"] == versions.NEWEST and data["test_event_code"] is None
    assert data["unmapped"] == {} and data["unrecognised"] == {} and data["warnings"] == []
    (failure,) = data["failures"]
    assert failure["dataset"] == DS2 and failure["events"] == 12
    assert (failure["code"], failure["subcode"]) == (100, 33) and failure["fbtrace_id"]
    assert failure["reason"].startswith(f"dataset {DS2} does not exist or is not visible")
    assert f"12 events not delivered to dataset {DS2}" in result.stderr


# --------------------------------------------------------------------------- stdout purity


def test_output_dash_keeps_stdout_to_the_requests_alone(tmp_path: Path) -> None:
    result = invoke(
        upload_args(SAMPLE_JSONL, SAMPLE_CONFIG, "--dry-run", "--output", "-"),
        env=cli_env(tmp_path),
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) >= 2
    for line in lines:  # a JSON-lines reader (jq) reads every line
        request = json.loads(line)
        assert set(request) == {"url", "body"}
    assert "Events by dataset" in result.stderr and " · run " in result.stderr


# --------------------------------------------------------------------------- nothing built


def test_a_renamed_event_is_not_a_success(tmp_path: Path) -> None:
    """Every track unmapped: exit 1 with the names, counts and the close configured name."""
    messages = [
        {"type": "track", "event": "order completed", "messageId": f"m{i}", "timestamp": NOW}
        for i in range(3)
    ] + [{"type": "track", "event": "Order Placed", "messageId": "p", "timestamp": NOW}]
    write_jsonl(tmp_path / "in.jsonl", messages)
    for command in ("validate", "upload"):
        args = upload_args(tmp_path / "in.jsonl", SAMPLE_CONFIG, "-q", command=command)
        if command == "upload":
            args.append("--dry-run")
        text = invoke(args, env=cli_env(tmp_path))
        assert text.exit_code == 1, command
        assert "4 records read, but not one event could be built" in text.stderr
        assert "event 'order completed' (3 records)" in text.stderr
        assert "did you mean 'Order Completed'?" in text.stderr
        assert "did you mean 'Order Completed'?" in text.stdout  # the report's table
        data = summary(invoke([*args, "--json"], env=cli_env(tmp_path)))
        assert data["unmapped"] == {"order completed": 3, "Order Placed": 1}
        assert data["exit_code"] == 1


def test_an_empty_input_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    result = invoke(
        upload_args(tmp_path / "empty.jsonl", SAMPLE_CONFIG, "-q", command="validate"),
        env=cli_env(tmp_path),
    )
    assert result.exit_code == 0
    assert f"fbocli: warning: {tmp_path / 'empty.jsonl'}: no records" in result.stderr


# --------------------------------------------------------------------------- API versions


def test_the_version_table_warns_before_and_after_expiry() -> None:
    assert versions.NEWEST == "v27.0" == versions.VERSIONS[-1].name
    assert versions.expiry_warning("v27.0", date(2026, 12, 3)) is None
    soon = versions.expiry_warning("v25.0", date(2027, 2, 1))
    assert soon == (
        "api_version v25.0 expires on 2027-02-23 (in 22 days); the newest known is v27.0"
    )
    assert versions.expiry_warning("v25.0", date(2027, 1, 23)) is None  # 31 days before
    assert versions.expiry_warning("v24.0", date(2026, 12, 3)) == (
        "api_version v24.0 expired on 2026-11-10; the newest known is v27.0"
    )
    assert "older than every version" in (versions.expiry_warning("v12.0", date.today()) or "")
    assert versions.expiry_warning("v99.0", date.today()) is None  # newer: no word


def test_an_expired_version_is_said_at_the_start_of_a_run(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "old.toml", destination='api_version = "v24.0"', routes='"x" = "1"'
    )
    write_events(tmp_path / "in.jsonl", 1, event="x")
    result = invoke(
        upload_args(tmp_path / "in.jsonl", config, "-q", "--dry-run", "--json"),
        env=cli_env(tmp_path),
    )
    expected = "api_version v24.0 expired on 2026-11-10; the newest known is v27.0"
    assert f"fbocli: warning: {expected}" in result.stderr
    assert any(expected in warning for warning in summary(result)["warnings"])


# --------------------------------------------------------------------------- test events


def test_test_events_are_said_journaled_and_reported_later(tmp_path: Path, fake: FakeGraph) -> None:
    write_events(tmp_path / "in.jsonl", 15)
    env = cli_env(tmp_path, fake.url)
    config = _config(tmp_path)
    first = run_cli(
        upload_args(tmp_path / "in.jsonl", config, "-q", "--test-event-code", "TEST123"), env
    )
    assert first.code == 0, first.stderr
    assert "test event code TEST123: Meta processes test events like real ones" in first.stderr
    assert {r["params"].get("test_event_code") for r in event_requests(fake)} == {"TEST123"}

    again = run_cli(upload_args(tmp_path / "in.jsonl", config, "--json"), env)
    assert again.code == 0
    data = again.summary
    assert data["events"]["already_sent"] == 30 and data["events"]["sent"] == 0
    note = "30 of the events already sent were sent as test events with code TEST123"
    assert any(note in warning for warning in data["warnings"])
    assert note in again.stderr and "--force sends them again" in again.stderr

    forced = run_cli(upload_args(tmp_path / "in.jsonl", config, "-q", "--force", "--json"), env)
    assert forced.summary["events"]["sent"] == 30


# --------------------------------------------------------------------------- runs


def test_runs_lists_past_uploads_not_dry_runs(tmp_path: Path, fake: FakeGraph) -> None:
    write_events(tmp_path / "in.jsonl", 5)
    env = cli_env(tmp_path, fake.url)
    config = _config(tmp_path)
    assert invoke(upload_args(tmp_path / "in.jsonl", config, "-q"), env=env).exit_code == 0
    fake.remove_dataset(DS2)
    args = upload_args(tmp_path / "in.jsonl", config, "-q", "--force", "--test-event-code", "T1")
    assert invoke(args, env=env).exit_code == 1
    dry = upload_args(tmp_path / "in.jsonl", config, "-q", "--dry-run")
    assert invoke(dry, env=env).exit_code == 0
    listed = json.loads(invoke(["runs", "--json"], env=env).stdout)
    assert [run["exit_code"] for run in listed] == [1, 0]  # newest first, no dry run
    newest = listed[0]
    assert newest["test_event_code"] == "T1" and newest["inputs"] == [str(tmp_path / "in.jsonl")]
    assert newest["events"]["sent"] == 5 and newest["events"]["failed"] == 5
    assert newest["finished_at"] and newest["started_at"]
    text = invoke(["runs", "--limit", "1"], env=env)
    assert text.exit_code == 0 and "T1" in text.stdout and str(tmp_path / "in.jsonl") in text.stdout
    assert "started (UTC)" in text.stdout and text.stdout.count("\n  2026-") == 1
    empty = invoke(["runs"], env=cli_env(tmp_path / "other"))
    assert empty.exit_code == 0 and "No uploads recorded" in empty.stdout


# --------------------------------------------------------------------------- signals, kills


@pytest.mark.slow  # real processes and signals
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_stop_signal_stops_like_ctrl_c_and_a_rerun_at_once_completes(
    tmp_path: Path, fake: FakeGraph, signum: int, code: int
) -> None:
    write_events(tmp_path / "in.jsonl", 300, leads=100)
    config = _config(tmp_path, lead_routes=f'"Demo Requested" = "{DS1}"')
    env = cli_env(tmp_path, fake.url)
    fake.inject(Fault.delay(0.05), times=10_000)
    proc = start_cli(upload_args(tmp_path / "in.jsonl", config, "--json"), env)
    wait_for(lambda: fake.count() >= 40, proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"stopped by {signal.Signals(signum).name}" in err and "Traceback" not in err
    events = summary(out)["events"]
    assert events["sent"] >= 40 and events["failed"] > 0
    journaled = journal_keys(tmp_path / "state")
    assert journaled == set(received_keys(fake))  # in-flight batches finished, journaled

    fake.clear_faults()
    again = run_cli(upload_args(tmp_path / "in.jsonl", config, "--json", "-q"), env)
    assert again.code == 0, again.stderr
    received = received_keys(fake)
    assert len(received) == 700 and max(received.values()) == 1  # each event exactly once


@pytest.mark.slow  # real processes killed
def test_kill_9_with_mapping_workers_then_an_immediate_rerun_proceeds(
    tmp_path: Path, fake: FakeGraph
) -> None:
    """The pool's workers are forked while the run holds the lock: none may keep it, and
    they die with their parent, so a run started the moment after proceeds."""
    write_events(tmp_path / "in.jsonl", 3000)
    config = _config(tmp_path)
    env = cli_env(tmp_path, fake.url, FBOCLI_PARALLEL_MIN_BYTES="1")  # the pool starts
    fake.inject(Fault.delay(0.05), times=10_000)
    proc = start_cli(upload_args(tmp_path / "in.jsonl", config, "-q"), env)
    wait_for(lambda: fake.count() >= 20, proc)
    workers = _children(proc.pid)
    assert workers, "the run started no mapping worker"
    proc.kill()
    proc.wait()
    fake.clear_faults()
    again = run_cli(upload_args(tmp_path / "in.jsonl", config, "-q", "--json"), env)
    assert again.code == 0, again.stderr  # not "another fbocli upload is running"
    assert len(received_keys(fake)) == 6000
    for pid in workers:  # gone with their parent
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _state(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


# --------------------------------------------------------------------------- progress


@pytest.mark.slow  # fbocli on a pseudo-terminal
def test_progress_shows_from_the_start_and_during_retry_waits(
    tmp_path: Path, fake: FakeGraph
) -> None:
    """A small input whose first requests fail: the display draws within a second of the
    start and, while the run waits to retry, says why and how long is left."""
    write_events(tmp_path / "in.jsonl", 5)
    fake.inject(Fault.rate_limit(4, retry_after=2))  # Meta says: wait 2 s
    env = cli_env(tmp_path, fake.url, FBOCLI_BACKOFF_SCALE="1", COLUMNS="220", TERM="xterm")
    args = upload_args(tmp_path / "in.jsonl", _config(tmp_path), "--workers", "1")
    shown = run_on_terminal(fbocli_argv(*args), env, timeout=90)
    assert shown.code == 0, shown.shown
    first = shown.times[0][0]
    assert first < 3.0  # drawn at the start (a generous bound for a busy test host)
    assert "waiting to retry" in shown.shown and "rate limited" in shown.shown
    assert "of 10 events sent" in shown.shown  # delivered out of built


# --------------------------------------------------------------------------- files left


def test_old_rejects_files_go_and_runs_leave_no_empty_one(tmp_path: Path) -> None:
    rejects = tmp_path / "state" / "rejects"
    rejects.mkdir(parents=True)
    old, recent, other = (
        rejects / "rejects-old.jsonl",
        rejects / "rejects-new.jsonl",
        rejects / "mine.txt",
    )
    for path in (old, recent, other):
        path.write_text("{}\n")
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    os.utime(other, (month_ago, month_ago))
    write_events(tmp_path / "in.jsonl", 3)
    result = invoke(
        upload_args(tmp_path / "in.jsonl", _config(tmp_path), "-q", command="validate"),
        env=cli_env(tmp_path),
    )
    assert result.exit_code == 0
    assert not old.exists() and recent.exists() and other.exists()  # only ours, only old
    assert sorted(p.name for p in rejects.iterdir()) == ["mine.txt", "rejects-new.jsonl"]

    missing = invoke(
        upload_args(tmp_path / "nope.jsonl", _config(tmp_path), "-q", command="validate"),
        env=cli_env(tmp_path),
    )
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    assert sorted(p.name for p in rejects.iterdir()) == ["mine.txt", "rejects-new.jsonl"]


def test_keep_rejects_days_is_a_setting_with_limits(tmp_path: Path) -> None:
    base = '[events]\n"a" = "1"\n[state]\n'
    assert parse_settings(_toml(base + "keep_rejects_days = 0\n")).state.keep_rejects_days == 0
    with pytest.raises(ConfigError, match=r"state\.keep_rejects_days must be between 0 and 3650"):
        parse_settings(_toml(base + "keep_rejects_days = 3651\n"))


def _toml(text: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(text)


def test_rejects_dash_is_refused(tmp_path: Path) -> None:
    result = invoke(
        upload_args(SAMPLE_JSONL, SAMPLE_CONFIG, "--rejects", "-", command="validate"),
        env=cli_env(tmp_path),
    )
    assert result.exit_code == 2
    assert "personal data" in result.stderr
    assert not Path("-").exists()


# --------------------------------------------------------------------------- help, init, auth


@pytest.mark.parametrize(
    "command",
    [[], ["upload"], ["validate"], ["init"], ["runs"], ["auth"], ["auth", "login"],
     ["auth", "status"], ["auth", "logout"]],
)  # fmt: skip
def test_dash_h_is_help_and_help_ends_with_examples(command: list[str]) -> None:
    result = invoke([*command, "-h"])
    assert result.exit_code == 0
    assert result.stdout == invoke([*command, "--help"]).stdout
    tail = result.stdout.rsplit("Examples:", 1)
    assert len(tail) == 2 and "fbocli" in tail[1]


def test_init_states_every_limit_the_config_check_enforces() -> None:
    """Each "from A to B" of config.example.toml: A and B accepted, A-1 and B+1 refused."""
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    stated: dict[str, list[tuple[int, int]]] = {}
    comment: list[str] = []
    table = ""
    for line in text.splitlines():
        if line.startswith("["):
            table = line.strip("[] ")
        elif line.startswith("#"):
            comment.append(line)
        elif "=" in line and comment:
            key = line.split("=")[0].strip()
            import re

            ranges = re.findall(r"from (\d+) to (\d+)", " ".join(comment))
            if ranges:
                stated[f"{table}.{key}"] = [(int(a), int(b)) for a, b in ranges]
            comment = []
        else:
            comment = []
    assert set(stated) >= {
        "upload.batch_size",
        "upload.workers",
        "upload.window_days",
        "upload.max_retries",
        "upload.timeout_seconds",
        "state.keep_rejects_days",
    }
    for dotted, ranges in stated.items():
        table, key = dotted.split(".")
        for n, (low, high) in enumerate(ranges):
            api = "offline" if n == 1 else "conversions"  # batch_size: "(offline)" second
            head = f'[destination]\napi = "{api}"\n[events]\n"a" = "1"\n[{table}]\n'
            for ok in (low, high):
                parse_settings(_toml(f"{head}{key} = {ok}\n"))
            for bad in (low - 1, high + 1):
                with pytest.raises(ConfigError, match=f"{table}.{key} must be between"):
                    parse_settings(_toml(f"{head}{key} = {bad}\n"))


def test_the_wizard_without_a_terminal_points_to_token_stdin(tmp_path: Path) -> None:
    result = run_cli(["auth"], cli_env(tmp_path), input=TOKEN + "\n")
    assert result.code == 2
    assert "fbocli auth login --token-stdin" in result.stderr
    assert "GetPassWarning" not in result.stderr and "Warning" not in result.stderr
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.slow  # fbocli on a pseudo-terminal
def test_the_wizard_in_a_real_terminal_reads_the_token_hidden(
    tmp_path: Path, fake: FakeGraph
) -> None:
    env = cli_env(tmp_path, fake.url, token="", TERM="xterm")
    prompt = "Paste the access token (input hidden)"
    argv = fbocli_argv("auth", "--no-keyring")
    shown = run_on_terminal(argv, env, answer=(prompt, (TOKEN + "\n").encode()))
    assert shown.code == 0, shown.shown
    assert prompt in shown.shown
    assert TOKEN not in shown.shown + shown.stdout  # not echoed, not printed
    assert "Token stored in" in shown.stdout
