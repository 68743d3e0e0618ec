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
    p.relative_to(COPY) for p in COPY.rglob("*") if p.is_file() and p != COPY / "README.md"
)  # (tests/contracts/README.md is the copy's own)
VECTORS = "peers/normalization-vectors"


def test_the_copy_holds_the_files_the_tests_read() -> None:
    assert {str(p) for p in FILES} >= {
        "examples/golden.json",
        "examples/golden-revised.json",
        "peers/meta-ocu/rich.csv",
        "peers/meta-ocu/expected-match-keys.jsonl",
        f"{VECTORS}/README.md",
        f"{VECTORS}/meta_capi_param_builder.json",
        f"{VECTORS}/meta_docs_customer_information_parameters.json",
        f"{VECTORS}/segment_action_destinations.json",
    }


@pytest.mark.skipif(not BESIDE.is_dir(), reason="../shared is not checked out beside the repo")
@pytest.mark.parametrize("folder", ["examples", "peers/meta-ocu", VECTORS])
def test_the_copy_misses_no_shared_file(folder: str) -> None:
    """A file added to a shared folder the tests read is copied too."""
    shared = {p.name for p in (BESIDE / folder).iterdir() if p.is_file()}
    assert shared <= {p.name for p in (COPY / folder).iterdir()}, folder


@pytest.mark.skipif(not BESIDE.is_dir(), reason="../shared is not checked out beside the repo")
@pytest.mark.parametrize("relative", FILES, ids=str)
def test_the_copy_equals_the_shared_contract(relative: Path) -> None:
    assert (COPY / relative).read_bytes() == (BESIDE / relative).read_bytes(), (
        f"tests/contracts/{relative} differs from ../shared/{relative}: "
        "refresh it (tests/contracts/README.md)"
    )
