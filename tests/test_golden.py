"""Every worked case of shared/examples/golden.json and golden-revised.json (the revised
match-key and event_id rules of mapping.md sections 4 and 6), through the real mapper."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import GOLDEN_FILES, golden, map_golden_case

CASES = [(name, case) for name in GOLDEN_FILES for case in golden(name)["cases"]]


@pytest.mark.parametrize(
    ("name", "case"), CASES, ids=[f"{name}: {case['description'][:60]}" for name, case in CASES]
)
def test_golden_case(name: str, case: dict[str, Any]) -> None:
    outcome = map_golden_case(case, name=name)
    if "reject" in case:
        assert (outcome.status, outcome.reason) == ("rejected", case["reject"])
        return
    assert outcome.status == "accepted", outcome.detail
    got = [{"dataset_id": e.dataset_id, "event": e.to_dict()} for e in outcome.events]
    assert got == case["expected"]


def test_the_revised_file_has_its_three_cases() -> None:
    assert len(golden("golden-revised.json")["cases"]) == 3
