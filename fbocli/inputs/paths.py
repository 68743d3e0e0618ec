"""What the inputs of a run are: files, folders and quoted globs, each file once.

``fbocli upload exports/`` reads the folder's ``*.jsonl``, ``*.ndjson``, ``*.json`` and
``*.csv`` files and their ``.gz`` (Segment's S3 export is one folder per day);
``fbocli upload 'exports/*.jsonl.gz'`` expands the glob as the shell would (a cron line
or a Windows prompt that passes it quoted); a file named twice is read once
(inputs.md section 5).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from fbocli.errors import InputError

FOLDER_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv")


@dataclass
class Inputs:
    """The files of a run, in reading order, and what to tell the user about them."""

    paths: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings (a file named twice, ...)


def in_folder(name: str) -> bool:
    """Whether a folder's file of this name is an input (the suffix says so)."""
    lowered = name.lower().removesuffix(".gz")
    return lowered.endswith(FOLDER_SUFFIXES)


def expand_inputs(given: Sequence[str]) -> Inputs:
    """The files ``given`` names, in order: a folder's inputs in name order, a glob's
    matches in name order, ``-`` as is. A file given again (by any name) is left out,
    with a note. Raises InputError (exit 2) for a glob that matches nothing."""
    found = Inputs()
    seen: dict[tuple[int, int] | str, str] = {}
    for item in given:
        if item == "-":
            found.paths.append(item)
            continue
        for path in _expand(item, found):
            key = _identity(path)
            if key in seen:
                first = seen[key]
                same = "" if first == path else f" (as {first})"
                found.notes.append(f"{path}: named twice{same}; read once")
                continue
            seen[key] = path
            found.paths.append(path)
    return found


def _expand(item: str, found: Inputs) -> list[str]:
    if os.path.isdir(item):
        try:
            names = sorted(os.listdir(item))
        except OSError as exc:
            raise InputError(f"{item}: cannot list the folder: {exc.strerror or exc}") from None
        files = [
            os.path.join(item, name)
            for name in names
            if in_folder(name) and os.path.isfile(os.path.join(item, name))
        ]
        if not files:
            found.notes.append(
                f"{item}: a folder without inputs (*.jsonl, *.ndjson, *.json, *.csv, or .gz)"
            )
        return files
    if not os.path.lexists(item) and glob.has_magic(item):
        matches = sorted(
            path for path in glob.glob(os.path.expanduser(item)) if not os.path.isdir(path)
        )
        if not matches:
            raise InputError(
                f"{item}: no file matches",
                hint="check the pattern; quote it so that fbocli, not the shell, expands it",
            )
        return matches
    return [item]


def _identity(path: str) -> tuple[int, int] | str:
    """What makes two names one file: its device and inode, else its absolute path."""
    try:
        info = os.stat(path)
    except OSError:
        return os.path.abspath(path)  # missing: opening it reports the error
    return (info.st_dev, info.st_ino)
