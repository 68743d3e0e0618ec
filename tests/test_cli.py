"""The commands as a user runs them: options, outputs and exit codes (cli.md)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fbocli import __version__
from fbocli.cli import main
from tests.helpers import (
    NOW,
    cli_env,
    fbocli_argv,
    invoke,
    run_on_terminal,
    sample_expectations,
    summary,
    write_jsonl,
)
from tests.helpers import SAMPLE_CONFIG as CONFIG
from tests.helpers import SAMPLE_CSV as CSV
from tests.helpers import SAMPLE_JSONL as JSONL


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"fbocli, version {__version__}"


@pytest.mark.slow  # fbocli as a process
def test_python_dash_m_runs() -> None:
    out = subprocess.run(fbocli_argv("--help"), capture_output=True, text=True, check=True)
    for command in ("upload", "validate", "auth", "init"):
        assert command in out.stdout


@pytest.mark.parametrize("sample", [JSONL, CSV], ids=["jsonl", "csv"])
def test_validate_sample_counts_match_the_generator(sample: Path, state: Path) -> None:
    result = invoke(["validate", str(sample), "-c", str(CONFIG), "--now", NOW, "--json"], state)
    assert result.exit_code == 1, result.stderr  # the samples contain rejects on purpose
    data = summary(result)
    expected = sample_expectations()[sample.name]
    assert data["records"] == expected["records"]
    assert data["reasons"] == expected["reasons"]
    assert data["skips"] == expected["skips"]
    assert data["events"]["built"] == expected["events_built"]
    assert {ds: c["sent"] for ds, c in data["datasets"].items()} == expected["datasets"]
    rejects = Path(data["rejects_file"])
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert len(lines) == data["records"]["rejected"]
    assert {entry["reason"] for entry in lines} == set(expected["reasons"])
    assert all(entry["source"] == str(sample) and entry["line"] >= 1 for entry in lines)


def test_validate_human_report_lists_everything(state: Path) -> None:
    result = invoke(["validate", str(CSV), "-c", str(CONFIG), "--now", NOW], state)
    assert result.exit_code == 1
    out = result.stdout
    for needle in [
        "Records",
        "Rejected",
        "no_match_keys",
        "pos-transactions.csv:80:",
        "Match-key coverage",
        "Event age",
        "28–62 days",
        "CSV columns of",
        "Store",
        "(ignored: never sent)",
        "Rejected records (13) written to",
    ]:
        assert needle in out, needle


def test_validate_clean_input_exits_0(tmp_path: Path, state: Path) -> None:
    good = tmp_path / "good.jsonl"
    message = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "timestamp": "2026-11-19T00:00:00Z",
        "properties": {"revenue": 5},
    }
    write_jsonl(good, [message])
    result = invoke(["validate", str(good), "-c", str(CONFIG), "--now", NOW, "--json"], state)
    assert result.exit_code == 0
    data = summary(result)
    assert data["rejects_file"] is None
    assert data["events"]["sent"] == 2  # Order Completed fans out to two datasets
    assert not (state / "rejects").exists() or not any((state / "rejects").iterdir())


def test_dry_run_writes_exact_requests_without_token(tmp_path: Path, state: Path) -> None:
    out = tmp_path / "requests.jsonl"
    result = invoke(
        [
            "upload",
            str(JSONL),
            "-c",
            str(CONFIG),
            "--now",
            NOW,
            "--dry-run",
            "--output",
            str(out),
            "--json",
            "--batch-size",
            "100",
        ],
        state,
        env={"FBOCLI_ACCESS_TOKEN": "EAAB-secret-token-should-not-appear"},
    )
    assert result.exit_code == 0, result.stderr
    data = summary(result)
    assert data["dry_run"] is True
    requests = [json.loads(line) for line in out.read_text().splitlines()]
    text = out.read_text()
    assert "EAAB-secret" not in text and "access_token" not in text
    assert sum(len(r["body"]["data"]) for r in requests) == data["events"]["sent"] == 401
    for request in requests:
        assert request["url"].startswith("https://graph.facebook.com/v27.0/")
        assert request["url"].endswith("/events")
        assert 1 <= len(request["body"]["data"]) <= 100
        assert request["body"]["upload_tag"] == "fbocli sample"
        dataset = request["url"].split("/")[-2]
        assert dataset in ("1234567890123456", "6543210987654321")
        for event in request["body"]["data"]:
            assert event["action_source"] == "physical_store"
            assert event["user_data"]
    ids = [
        e["event_id"]
        for r in requests
        for e in r["body"]["data"]
        if r["url"].split("/")[-2] == "1234567890123456"
    ]
    assert len(ids) == len(set(ids)) == 313


def test_dry_run_output_to_stdout(state: Path) -> None:
    result = invoke(
        ["upload", str(CSV), "-c", str(CONFIG), "--now", NOW, "--dry-run", "--output", "-", "-q"],
        state,
    )
    assert result.exit_code == 0
    first = json.loads(result.stdout.splitlines()[0])
    assert set(first) == {"url", "body"}


def test_strict_turns_rejects_into_exit_1(state: Path) -> None:
    args = ["upload", str(CSV), "-c", str(CONFIG), "--now", NOW, "--dry-run", "--json"]
    assert invoke(args, state).exit_code == 0
    assert invoke([*args, "--strict"], state).exit_code == 1


def test_gzip_and_stdin_inputs(tmp_path: Path, state: Path) -> None:
    gz = tmp_path / "export.jsonl.gz"
    gz.write_bytes(gzip.compress(JSONL.read_bytes()))
    from_gz = summary(
        invoke(["validate", str(gz), "-c", str(CONFIG), "--now", NOW, "--json"], state)
    )
    from_stdin = summary(
        invoke(
            ["validate", "-", "-c", str(CONFIG), "--now", NOW, "--json"],
            state,
            input=JSONL.read_bytes(),
        )
    )
    assert from_gz["records"] == from_stdin["records"]
    assert from_gz["records"]["read"] == 363
    csv_stdin = summary(
        invoke(
            ["validate", "-", "--format", "csv", "-c", str(CONFIG), "--now", NOW, "--json"],
            state,
            input=CSV.read_bytes(),
        )
    )
    assert csv_stdin["records"]["read"] == 333


def test_several_files_in_one_run(state: Path) -> None:
    data = summary(
        invoke(["validate", str(JSONL), str(CSV), "-c", str(CONFIG), "--now", NOW, "--json"], state)
    )
    assert data["records"]["read"] == 363 + 333


@pytest.mark.parametrize("bad", ["missing.jsonl", "nothing-*.jsonl"])
def test_unreadable_input_exits_2_naming_it(tmp_path: Path, state: Path, bad: str) -> None:
    # (A folder is an input since issue 16: tests/test_presets.py reads one.)
    path = tmp_path / bad
    result = invoke(
        ["upload", str(JSONL), str(path), "-c", str(CONFIG), "--now", NOW, "--dry-run"], state
    )
    assert result.exit_code == 2
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""  # nothing was processed: inputs are opened first


def test_config_errors_exit_2(tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[upload]\nbatch_size = 0\n[mapping]\nvalue_field = "x"\n')
    result = invoke(["validate", str(JSONL), "-c", str(bad)], state)
    assert result.exit_code == 2
    assert "2 configuration errors in" in result.stderr and str(bad) in result.stderr
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing"))
    result = invoke(["validate", str(JSONL)], state)
    assert result.exit_code == 2
    assert "fbocli init" in result.stderr


def test_bad_options_exit_2(state: Path) -> None:
    base = ["upload", str(JSONL), "-c", str(CONFIG), "--now", NOW]
    assert invoke([*base, "--dry-run", "--batch-size", "5000"], state).exit_code == 2
    assert invoke([*base, "--dry-run", "--workers", "0"], state).exit_code == 2
    assert invoke([*base, "--output", "x.jsonl"], state).exit_code == 2
    result = invoke(["validate", str(JSONL), "-c", str(CONFIG), "--now", "yesterday"], state)
    assert result.exit_code == 2 and "--now" in result.stderr
    assert invoke(["validate", "-", "-", "-c", str(CONFIG)], state, input="").exit_code == 2


def test_upload_without_token_exits_3(state: Path) -> None:
    result = invoke(
        ["upload", str(CSV), "-c", str(CONFIG), "--now", NOW],
        state,
        env={"XDG_CONFIG_HOME": str(state / "cfg")},
    )
    assert result.exit_code == 3
    assert "fbocli auth" in result.stderr


def test_rejects_option_and_unwritable_rejects(tmp_path: Path, state: Path) -> None:
    target = tmp_path / "out" / "rejects.jsonl"
    result = invoke(
        ["validate", str(CSV), "-c", str(CONFIG), "--now", NOW, "--rejects", str(target), "--json"],
        state,
    )
    assert json.loads(result.stdout)["rejects_file"] == str(target)
    assert len(target.read_text().splitlines()) == 13
    assert target.stat().st_mode & 0o777 == 0o600
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke(
        [
            "validate",
            str(CSV),
            "-c",
            str(CONFIG),
            "--now",
            NOW,
            "--rejects",
            str(blocker / "r.jsonl"),
        ],
        state,
    )
    assert result.exit_code == 2 and "rejects file" in result.stderr


def test_init_writes_starter_and_refuses_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "fbocli.toml"
    result = CliRunner().invoke(main, ["init", str(target)])
    assert result.exit_code == 0 and target.read_text().startswith("#")
    assert CliRunner().invoke(main, ["init", str(target)]).exit_code == 2
    assert CliRunner().invoke(main, ["init", str(target), "--force"]).exit_code == 0
    good = tmp_path / "x.jsonl"
    good.write_text("")
    result = CliRunner().invoke(
        main,
        ["validate", str(good), "-c", str(target), "--json", "--state-dir", str(tmp_path / "s")],
    )
    assert result.exit_code == 0


def test_rich_report_shows_brackets_literally() -> None:
    """Details such as "[options], [options, country]" are data, never rich markup."""
    import io

    from fbocli.cli.report import render

    out = io.StringIO()
    render(
        [("T", ["reason", "detail"], [["x", "is not [options], [options, country]"]])],
        out,
        rich_output=True,
    )
    assert "[options], [options, country]" in out.getvalue()


@pytest.mark.slow  # fbocli as a process
def test_live_progress_on_a_terminal_and_none_in_a_pipe(tmp_path: Path) -> None:
    """stderr a real terminal: the rich display (imported only then) draws the reading bar
    and the counters; stderr a pipe: not a byte of it."""
    command = fbocli_argv(
        "upload", str(JSONL), "-c", str(CONFIG), "--now", NOW, "--dry-run",
        "--output", str(tmp_path / "out.jsonl"), "--state-dir", str(tmp_path / "state"),
    )  # fmt: skip
    env = cli_env(tmp_path, COLUMNS="200", TERM="xterm")
    shown = run_on_terminal(command, env)
    assert shown.code == 0
    text = shown.shown
    assert "reading" in text and "accepted" in text and "events would send" in text

    piped = subprocess.run(command, capture_output=True, env=env, check=True)
    assert b"reading" not in piped.stderr and b"\x1b[" not in piped.stderr


@pytest.mark.slow  # fbocli as a process
def test_start_up_leaves_slow_imports_to_the_commands_that_use_them(tmp_path: Path) -> None:
    """A dry run into a file or pipe never imports rich (the live display, the tty report),
    requests (talking to Meta), dateutil (timestamps ISO 8601 cannot read), pycountry
    (its data files are read directly) or multiprocessing (a small input is mapped
    in-process): together ~140 ms of every start, which cron runs would pay for nothing."""
    script = (
        "import sys\n"
        "from fbocli.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "slow = {'rich', 'requests', 'dateutil', 'pycountry', 'multiprocessing'}\n"
        "slow = sorted({m.split('.')[0] for m in sys.modules} & slow)\n"
        "print('imported:', ','.join(slow))\n"
    )
    events = write_jsonl(
        tmp_path / "events.jsonl",
        (
            {
                "type": "track",
                "event": "Order Completed",
                "messageId": f"m-{n}",
                "timestamp": "2026-11-19T10:00:00.000Z",
                "properties": {"revenue": 10 + n, "currency": "USD"},
                "context": {
                    "traits": {
                        "email": f"a{n}@example.com",
                        "phone": "(512) 719-3517",
                        "address": {"country": "Canada", "state": "Quebec"},
                    }
                },
            }
            for n in range(3)
        ),
    )
    command = [
        sys.executable, "-c", script, "upload", str(events), "-c", str(CONFIG),
        "--now", NOW, "--dry-run", "--output", str(tmp_path / "out.jsonl"),
        "--state-dir", str(tmp_path / "state"),
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, env=cli_env(tmp_path)
    )
    assert done.stdout.splitlines()[-1] == "imported: "
