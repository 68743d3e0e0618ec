"""Contact data never leaves in clear, and the files that hold personal data are private
(issue 19, item 8): end to end, with fbocli as a real process.

``custom_data`` is built from the properties a message carries; contact details among
them (by their name, or by what their text is) are left out and said in the report. The
rejects file and the dry-run requests hold personal data (records as read, hashed match
keys): they are 0600 whatever existed at their path before, and someone who had the old
file open reads nothing new through it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.helpers import (
    DS1,
    cli_env,
    run_cli,
    track_events,
    upload_args,
    write_config,
    write_jsonl,
)

CONTACT = {  # in properties: none of it may reach Meta
    "firstName": "Zebulon",
    "customer": {"name": "Zebulon Quixote", "tier": "gold"},
    "address": "12 Quarry Lane",
    "zip": "02903",
    "dob": "1971-04-05",
    "ssn": "078-05-1120",
    "cell": "401 555 0188",
    "contact": "zq@quixote.example",
    "ip": "203.0.113.77",
    "note": "(401) 555-0199",
}
CLEAR = ("Zebulon", "Quixote", "Quarry", "02903", "1971", "078-05", "555", "203.0.113", "zq@")


def _messages() -> list[dict[str, object]]:
    messages = track_events(3)
    for message in messages:
        properties = message["properties"]
        assert isinstance(properties, dict)
        properties.update(CONTACT, store="Main St")
    rejected = {**messages[0], "messageId": "r1", "timestamp": "not a date"}
    return [*messages, rejected]


def _loose(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o644)
    return path


@pytest.mark.slow  # fbocli as a process
def test_contact_data_is_left_out_said_and_its_files_are_private(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", _messages())
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')
    output = _loose(tmp_path / "requests.jsonl", "an older run's requests\n")
    rejects = _loose(tmp_path / "rejects.jsonl", '{"an older run": 1}\n')
    with open(output, "rb") as reader_of_output, open(rejects, "rb") as reader_of_rejects:
        # someone opened both while they were readable by all
        args = ["--dry-run", "--output", str(output), "--rejects", str(rejects), "--json"]
        run = run_cli(upload_args(source, config, *args), cli_env(tmp_path))
        assert run.code == 0, run.stderr
        assert reader_of_output.read() == b"an older run's requests\n"  # and nothing new
        assert reader_of_rejects.read() == b'{"an older run": 1}\n'

    for path in (output, rejects):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert rejects.read_text().startswith('{"an older run": 1}\n')  # appended to, as before
    assert json.loads(rejects.read_text().splitlines()[1])["reason"] == "invalid_timestamp"
    assert not list(tmp_path.glob(".*.new"))  # no temporary file left

    sent = output.read_text()
    assert '"store":"Main St"' in sent and '"tier":"gold"' in sent
    for text in CLEAR:
        assert text not in sent, text

    dropped = run.summary["unrecognised"]["contact_data"]
    assert dropped == {
        **{f"properties.{key}": 3 for key in CONTACT if key != "customer"},
        "properties.customer.name": 3,
    }
    for text in CLEAR:
        assert text not in run.stdout and text not in run.stderr, text


@pytest.mark.slow  # fbocli as a process
def test_the_report_says_which_properties_were_left_out(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", _messages()[:3])
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')
    run = run_cli(upload_args(source, config, command="validate"), cli_env(tmp_path))
    assert run.code == 0, run.stderr
    report = run.stdout + run.stderr
    assert "contact data in properties: left out of custom_data" in report
    assert "'properties.customer.name'" in report and "'properties.note'" in report


@pytest.mark.slow  # fbocli as a process
def test_output_to_a_device_is_written_not_replaced(tmp_path: Path) -> None:
    """--output /dev/null (or a FIFO, /dev/stdout) is no file to make private: renaming a
    new file over it would replace the device's name (as root, for every program)."""
    source = write_jsonl(tmp_path / "in.jsonl", track_events(2))
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        for target in ("/dev/null", str(fifo)):
            args = upload_args(source, config, "--dry-run", "--output", target)
            run = run_cli(args, cli_env(tmp_path))
            assert run.code == 0, run.stderr
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
        assert stat.S_ISFIFO(fifo.stat().st_mode)
        assert b'"event_id":"e0"' in os.read(reader, 1 << 20)
    finally:
        os.close(reader)
