"""Inputs as people give them (inputs.md section 5): a folder, a quoted glob, a file named
twice, a file whose extension says nothing."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from fbocli.errors import InputError
from fbocli.inputs.paths import expand_inputs
from tests.helpers import NOW, invoke, summary, track_events, write_config, write_jsonl


def segment_folder(tmp_path: Path) -> Path:
    """Segment's S3 export: a folder per day of gzipped JSON lines, and some noise."""
    folder = tmp_path / "2026-11-19"
    folder.mkdir()
    write_jsonl(folder / "b.jsonl", track_events(2, start=10))
    raw = folder / "a.json.gz"
    raw.write_bytes(gzip.compress(write_jsonl(tmp_path / "x", track_events(3)).read_bytes()))
    (folder / "c.csv").write_text("Date,Email,Total\n2026-11-19,z@x.co,4\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not an input")
    (folder / "sub").mkdir()
    write_jsonl(folder / "sub" / "deeper.jsonl", track_events(5, start=50))
    return folder


def test_a_folder_is_its_inputs_in_name_order(tmp_path: Path) -> None:
    folder = segment_folder(tmp_path)
    found = expand_inputs([str(folder)])
    assert [Path(p).name for p in found.paths] == ["a.json.gz", "b.jsonl", "c.csv"]
    assert found.notes == []


def test_a_glob_is_expanded_and_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    folder = segment_folder(tmp_path)
    b = str(folder / "b.jsonl")
    found = expand_inputs([str(folder / "*.jsonl"), b, str(folder), "-"])
    assert found.paths == [b, str(folder / "a.json.gz"), str(folder / "c.csv"), "-"]
    assert found.notes == [f"{b}: named twice; read once", f"{b}: named twice; read once"]
    os.symlink(folder / "c.csv", tmp_path / "link.csv")
    again = expand_inputs([str(folder / "c.csv"), str(tmp_path / "link.csv")])
    assert again.paths == [str(folder / "c.csv")]
    assert again.notes == [
        f"{tmp_path / 'link.csv'}: named twice (as {folder / 'c.csv'}); read once"
    ]


def test_a_glob_without_a_match_and_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.jsonl")])
    (tmp_path / "empty").mkdir()
    found = expand_inputs([str(tmp_path / "empty")])
    assert found.paths == [] and "a folder without inputs" in found.notes[0]


def test_the_cli_reads_a_folder_and_a_glob(tmp_path: Path) -> None:
    folder = segment_folder(tmp_path)
    config = write_config(tmp_path / "c.toml", routes='"Order Completed" = "1"')
    result = invoke(
        ["validate", str(folder), str(folder / "*.json*"), "-c", str(config), "--now", NOW,
         "--json"],
        tmp_path / "state",
    )  # fmt: skip
    data = summary(result)
    assert data["records"]["read"] == 3 + 2 + 1 and data["skips"] == {}
    assert [Path(p).name for p in data["inputs"]] == ["a.json.gz", "b.jsonl", "c.csv"]
    assert "named twice; read once" in result.stderr
