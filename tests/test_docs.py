"""The command reference is generated from --help and must not go stale."""

from __future__ import annotations

import importlib.util

from tests.helpers import ROOT


def test_cli_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "scripts" / "cli_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "cli-reference.md").read_text(encoding="utf-8")
    assert current == module.render(), "run: python scripts/cli_reference.py"
