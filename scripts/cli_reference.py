"""Write docs/cli-reference.md from the commands' own --help (run after changing an option).

`tests/test_docs.py` fails when the file is stale, so the reference never drifts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from fbocli.cli import main

TARGET = Path(__file__).resolve().parents[1] / "docs" / "cli-reference.md"


def _commands(group: click.Group, prefix: list[str]) -> list[list[str]]:
    found = [prefix]
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            found += _commands(command, [*prefix, name])
        else:
            found.append([*prefix, name])
    return found


def render() -> str:
    parts = [
        "# Command reference",
        "",
        "Generated from `--help` by `scripts/cli_reference.py`.",
        "",
    ]
    for path in _commands(main, []):
        result = CliRunner().invoke(main, [*path, "--help"], prog_name="fbocli", terminal_width=88)
        title = " ".join(["fbocli", *path])
        parts += [f"## `{title}`", "", "```", result.output.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET}\n")
