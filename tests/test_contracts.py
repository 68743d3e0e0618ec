"""The copy of the shared contracts in tests/contracts is the contract itself.

The tests read ``../shared`` when it is checked out beside the repository and the copy
otherwise (a bare clone); this makes sure both hold the same bytes, so no test ever
passes against a stale copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import BESIDE, COPY

FILES = sorted(
    p.relative_to(COPY) for p in COPY.rglob("*") if p.is_file() and p.name != "README.md"
)


def test_the_copy_holds_the_files_the_tests_read() -> None:
    assert {str(p) for p in FILES} >= {
        "examples/golden.json",
        "peers/meta-ocu/rich.csv",
        "peers/meta-ocu/expected-match-keys.jsonl",
    }


@pytest.mark.skipif(not BESIDE.is_dir(), reason="../shared is not checked out beside the repo")
@pytest.mark.parametrize("relative", FILES, ids=str)
def test_the_copy_equals_the_shared_contract(relative: Path) -> None:
    assert (COPY / relative).read_bytes() == (BESIDE / relative).read_bytes(), (
        f"tests/contracts/{relative} differs from ../shared/{relative}: "
        "refresh it (tests/contracts/README.md)"
    )
