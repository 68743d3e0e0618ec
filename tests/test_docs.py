"""The command reference is generated from --help and must not go stale; the mapping page
lists the tables the code uses."""

from __future__ import annotations

import importlib.util
import re

from fbocli.mapping.normalize import _GENDERS
from fbocli.mapping.places import COUNTRY_ALIASES
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


def test_the_mapping_page_lists_every_alias_and_gender_word() -> None:
    page = (ROOT / "docs" / "mapping.md").read_text(encoding="utf-8")
    missing = [alias for aliases in COUNTRY_ALIASES.values() for alias in aliases]
    missing = [
        alias for alias in missing if not re.search(rf"(?<!\w){re.escape(alias)}(?!\w)", page)
    ]
    assert missing == []
    assert [word for word in _GENDERS if f"`{word}`" not in page] == []
