"""The command reference is generated from --help and must not go stale; the mapping page
lists the tables the code uses."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

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


def test_every_dedup_claim_says_how_long_meta_deduplicates(shared_dir: Path) -> None:
    """meta-api.md: Meta deduplicates offline events only within 7 days. A claim that a
    repeated event is harmless, without that limit, sends users to move a journal
    aside (issue 19, item 9)."""
    spec = shared_dir / "spec" / "meta-api.md"
    if spec.is_file():  # (a bare clone has only the copies of tests/contracts)
        assert "only within\n**7 days**" in spec.read_text("utf-8")
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "**only within 7 days**" in readme
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = re.sub(r"\s+", " ", page.read_text("utf-8"))
        for claim in re.finditer(r"[^.]*\bMeta deduplicates\b[^.]*\.?[^.]*", text):
            assert "7 days" in claim.group(0), (page.name, claim.group(0))
