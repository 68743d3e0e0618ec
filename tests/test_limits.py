"""Sizes with a bound (issue 19, item 10): an event too large to send, and Meta's (or a
server's) error text kept at most about 1,000 characters wherever fbocli stores it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fbocli.errors import MAX_MESSAGE_CHARS, clip
from fbocli.mapping.message import MAX_EVENT_BYTES
from tests.fakegraph import FakeGraph
from tests.helpers import (
    DS1,
    check_summary,
    cli_env,
    invoke,
    summary,
    track_events,
    upload_args,
    write_config,
    write_jsonl,
)


def _messages(note_size: int) -> list[dict[str, Any]]:
    messages = track_events(3)
    messages[1]["properties"]["note"] = "n" * note_size
    return messages


def test_an_event_with_a_huge_property_is_rejected_too_large_naming_it(tmp_path: Path) -> None:
    """A 200 MB property was copied into the request."""
    write_jsonl(tmp_path / "in.jsonl", _messages(MAX_EVENT_BYTES + 1))
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = ["{DS1}"]')
    rejects = tmp_path / "rejects.jsonl"
    args = upload_args(tmp_path / "in.jsonl", config, "--json", "--rejects", str(rejects))
    result = invoke(["validate", *args[1:]], tmp_path / "state", env=cli_env(tmp_path))
    data = check_summary(summary(result))
    assert data["records"]["accepted"] == 2 and data["reasons"] == {"too_large": 1}
    (line,) = rejects.read_text("utf-8").splitlines()
    entry = json.loads(line)
    assert entry["reason"] == "too_large" and entry["line"] == 2
    assert "'note' is the largest" in entry["detail"] and "65,536" in entry["detail"]


def test_an_event_just_under_the_limit_goes(tmp_path: Path, fake: FakeGraph) -> None:
    write_jsonl(tmp_path / "in.jsonl", _messages(MAX_EVENT_BYTES - 2_000))
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = ["{DS1}"]')
    args = upload_args(tmp_path / "in.jsonl", config, "--json")
    result = invoke(args, tmp_path / "state", env=cli_env(tmp_path, fake.url))
    assert result.exit_code == 0, result.output
    assert check_summary(summary(result))["events"]["sent"] == 3


def test_meta_s_huge_error_message_is_cut_in_every_rejects_line(
    tmp_path: Path, fake: FakeGraph
) -> None:
    """A 5 MB error message copied into every rejects line made a 1.9 GB file."""
    fake.reject_events(lambda event: "m" * 300_000)
    write_jsonl(tmp_path / "in.jsonl", track_events(4))
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = ["{DS1}"]')
    rejects = tmp_path / "rejects.jsonl"
    args = upload_args(tmp_path / "in.jsonl", config, "--json", "--rejects", str(rejects))
    result = invoke(args, tmp_path / "state", env=cli_env(tmp_path, fake.url))
    assert result.exit_code == 1
    assert check_summary(summary(result))["events"]["api_rejected"] == 4
    lines = rejects.read_text("utf-8").splitlines()
    assert len(lines) == 4
    for line in lines:
        detail = json.loads(line)["detail"]
        assert len(detail) <= MAX_MESSAGE_CHARS and detail.startswith("m" * 900)
        assert detail.endswith(" more characters]") and "[cut: 299," in detail
    assert len(result.output) < 20_000


def test_clip_marks_what_it_cut() -> None:
    assert clip("short") == "short"
    cut = clip("x" * 1500)
    assert len(cut) <= MAX_MESSAGE_CHARS and cut.startswith("x" * 900)
    assert cut.endswith(f"[cut: {1500 - cut.count('x'):,} more characters]")
    assert clip(cut) == cut
