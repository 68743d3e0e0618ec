"""The Python API, used as an orchestrator would: ``import fbocli`` and nothing else of it
(``fbocli.pipeline.Tuning`` aside, to make retries quick against the fake Graph API).

What it returns is what the command line prints and writes for the same run; it takes
everything from its arguments and nothing from the environment; its errors are the
FbocliError family, each with an exit status.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import fbocli
from fbocli.pipeline import Tuning
from tests.fakegraph import FakeGraph, Fault
from tests.helpers import (
    DS1,
    DS2,
    NOW,
    NOW_TS,
    SAMPLE_CONFIG,
    SAMPLE_JSONL,
    TOKEN,
    check_summary,
    golden,
    invoke,
    stable,
    upload_args,
    write_config,
    write_events,
)


def test_load_config_reads_a_toml_file(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", upload="batch_size = 50")
    config = fbocli.load_config(path)
    assert isinstance(config, fbocli.Settings)
    assert config.upload.batch_size == 50 and config.path == path
    assert config.routes("Order Completed") == ((DS1, "Purchase"), (DS2, "Purchase"))
    assert config.destination.graph_url == "https://graph.facebook.com"
    local = fbocli.load_config(str(path), graph_url="http://127.0.0.1:9/")
    assert local.destination.graph_url == "http://127.0.0.1:9"


def test_validate_returns_what_the_cli_prints(tmp_path: Path) -> None:
    config = fbocli.load_config(SAMPLE_CONFIG)
    summary = fbocli.validate([SAMPLE_JSONL], config, now=NOW, state_dir=tmp_path / "api")
    assert isinstance(summary, fbocli.RunSummary)
    data = check_summary(summary.to_dict())
    assert data["records"]["read"] == 363 and data["records"]["rejected"] > 0

    cli = invoke(upload_args(SAMPLE_JSONL, SAMPLE_CONFIG, "--json", command="validate"),
                 tmp_path / "cli")  # fmt: skip
    printed = json.loads(cli.stdout)
    assert stable(data) == stable(printed)
    assert cli.exit_code == int(summary.exit_status()) == 1  # validate found rejects
    assert summary.rejects_file is not None and summary.rejects_file.is_relative_to(tmp_path)
    api_rejects = summary.rejects_file.read_text(encoding="utf-8")
    assert api_rejects == Path(printed["rejects_file"]).read_text(encoding="utf-8")


def test_a_dry_run_writes_the_requests_the_cli_writes(tmp_path: Path) -> None:
    config = fbocli.load_config(SAMPLE_CONFIG)
    output = tmp_path / "api" / "requests.jsonl"
    summary = fbocli.upload(
        [SAMPLE_JSONL], config, now=NOW, dry_run=True, output=output, state_dir=tmp_path / "a"
    )
    cli_output = tmp_path / "cli.jsonl"
    args = upload_args(SAMPLE_JSONL, SAMPLE_CONFIG, "--dry-run", "--output", str(cli_output))
    cli = invoke([*args, "--json"], tmp_path / "b")
    assert cli.exit_code == int(summary.exit_status()) == 0, cli.stderr
    assert output.read_bytes() == cli_output.read_bytes()
    assert output.read_bytes().count(b'{"url":') > 1
    data = check_summary(summary.to_dict())
    assert stable(data) == stable(json.loads(cli.stdout))
    assert data["dry_run"] is True and data["events"]["sent"] == 401


class Recorder:
    """A progress display that keeps what it was told."""

    def __init__(self) -> None:
        self.updates: list[tuple[int, int]] = []
        self.retries: list[tuple[float, str]] = []

    def update(self, summary: fbocli.RunSummary, bytes_read: int) -> None:
        self.updates.append((summary.read, bytes_read))

    def retry(self, seconds: float, reason: str) -> None:
        self.retries.append((seconds, reason))


def test_upload_to_the_fake_graph_api(tmp_path: Path, fake: FakeGraph) -> None:
    path = write_config(tmp_path / "c.toml", upload="batch_size = 7\nworkers = 2")
    config = fbocli.load_config(path, graph_url=fake.url)
    inputs = tmp_path / "in.jsonl"
    ids = write_events(inputs, 30)
    fake.inject(Fault.error(500, code=1, message="Service down"), times=2)
    progress = Recorder()
    quick = Tuning(backoff_scale=0.001)
    summary = fbocli.upload(
        [inputs], config, token=TOKEN, now=NOW, state_dir=tmp_path / "state",
        progress=progress, tuning=quick,
    )  # fmt: skip
    data = check_summary(summary.to_dict())
    assert data["events"]["sent"] == data["events"]["built"] == 60
    assert summary.exit_status() == 0 and summary.retries == 2
    for dataset in (DS1, DS2):
        assert sorted(fake.event_ids(dataset)) == sorted(ids)
    assert len(progress.retries) == 2
    assert all(reason.startswith("Service down (code 1") for _, reason in progress.retries)
    assert progress.updates[-1] == (30, inputs.stat().st_size)

    again = fbocli.upload(
        [inputs], config, token=TOKEN, now=NOW, state_dir=tmp_path / "state", tuning=quick,
    )  # fmt: skip
    assert again.to_dict()["events"]["already_sent"] == 60
    assert fake.count() == 60  # nothing sent twice


def _golden_config(tmp_path: Path) -> fbocli.Settings:
    path = tmp_path / "golden.toml"
    path.write_text(golden()["config"], encoding="utf-8")
    return fbocli.load_config(path)


def test_map_message_gives_the_golden_events(tmp_path: Path) -> None:
    config = _golden_config(tmp_path)
    case = next(c for c in golden()["cases"] if len(c.get("expected", ())) >= 1)
    events = fbocli.map_message(case["input"], config, now=golden()["now"])
    assert all(isinstance(event, fbocli.Event) for event in events)
    got = [{"dataset_id": e.dataset_id, "event": e.to_dict()} for e in events]
    assert got == case["expected"]
    skipped = {"type": "identify", "userId": "u1"}
    assert fbocli.map_message(skipped, config, now=NOW) == []


def test_a_rejected_message_raises_rejected(tmp_path: Path) -> None:
    config = _golden_config(tmp_path)
    case = next(c for c in golden()["cases"] if "reject" in c)
    with pytest.raises(fbocli.Rejected) as info:
        fbocli.map_message(case["input"], config, now=golden()["now"])
    assert info.value.reason == case["reject"] and info.value.detail
    assert info.value.exit_status == 1
    assert isinstance(info.value, fbocli.FbocliError)


def test_now_is_an_aware_datetime_or_an_iso_string(tmp_path: Path) -> None:
    config = _golden_config(tmp_path)
    case = next(c for c in golden()["cases"] if len(c.get("expected", ())) >= 1)
    by_text = fbocli.map_message(case["input"], config, now=NOW)
    paris = timezone(timedelta(hours=1))
    for now in (
        datetime(2026, 11, 20, tzinfo=UTC),
        datetime(2026, 11, 20, 1, 0, tzinfo=paris),
        "2026-11-20T00:00:00+00:00",
        "2026-11-20T00:00:00",  # no offset: UTC, as --now
        NOW_TS,
    ):
        assert fbocli.map_message(case["input"], config, now=now) == by_text, now
    for bad in (datetime(2026, 11, 20), "yesterday", 1.5):
        with pytest.raises(fbocli.FbocliError) as info:
            fbocli.map_message(case["input"], config, now=bad)  # type: ignore[arg-type]
        assert info.value.exit_status == 2, bad
    with pytest.raises(fbocli.FbocliError, match="timezone-aware"):
        fbocli.validate([SAMPLE_JSONL], config, now=datetime(2026, 11, 20))


def test_errors_are_fbocli_errors_with_an_exit_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_keyring: None
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-credentials"))
    config = fbocli.load_config(SAMPLE_CONFIG)
    state = tmp_path / "state"
    (tmp_path / "bad.toml").write_text("[upload]\nbatch_size = 0\n")
    cases: list[tuple[Any, int]] = [
        (lambda: fbocli.load_config(tmp_path / "missing.toml"), 2),
        (lambda: fbocli.load_config(tmp_path / "bad.toml"), 2),
        (lambda: fbocli.validate([tmp_path / "missing.jsonl"], config, state_dir=state), 2),
        (lambda: fbocli.upload([SAMPLE_JSONL], config, dry_run=True, workers=0), 2),
        (lambda: fbocli.upload([SAMPLE_JSONL], config, now=NOW, state_dir=state), 3),  # no token
    ]
    for call, status in cases:
        with pytest.raises(fbocli.FbocliError) as info:
            call()
        assert int(info.value.exit_status) == status, info.value
        assert info.value.message


def test_the_api_reads_no_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_keyring: None
) -> None:
    bogus = tmp_path / "bogus"
    monkeypatch.setenv("FBOCLI_STATE_DIR", str(bogus / "state"))
    monkeypatch.setenv("FBOCLI_GRAPH_URL", "https://bogus.invalid")
    monkeypatch.setenv("FBOCLI_ACCESS_TOKEN", "EAA-bogus-token-from-the-environment")
    monkeypatch.setenv("FBOCLI_CONFIG", str(bogus / "fbocli.toml"))
    monkeypatch.setenv("FBOCLI_BACKOFF_SCALE", "not a number")
    monkeypatch.setenv("FBOCLI_PARALLEL_MIN_BYTES", "0")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-credentials"))
    config = fbocli.load_config(SAMPLE_CONFIG)
    assert config.destination.graph_url == "https://graph.facebook.com"
    output = tmp_path / "requests.jsonl"
    state = tmp_path / "state"
    summary = fbocli.upload(
        [SAMPLE_JSONL], config, now=NOW, dry_run=True, output=output, state_dir=state
    )
    assert summary.to_dict()["events"]["sent"] == 401
    urls = {json.loads(line)["url"] for line in output.read_text().splitlines()}
    version = fbocli.Settings().destination.api_version  # the default, the newest known
    assert urls == {
        f"https://graph.facebook.com/{version}/{ds}/events"
        for ds in ("1234567890123456", "6543210987654321")
    }
    assert (state / "journal.sqlite3").is_file()
    assert summary.rejects_file is not None and summary.rejects_file.is_relative_to(state)
    assert not bogus.exists()
    # $FBOCLI_ACCESS_TOKEN is not a token to the API: with none stored, an upload has none.
    with pytest.raises(fbocli.FbocliError) as info:
        fbocli.upload([SAMPLE_JSONL], config, now=NOW, state_dir=state)
    assert info.value.exit_status == 3
    assert not bogus.exists()
