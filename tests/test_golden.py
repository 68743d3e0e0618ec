"""Every worked case of shared/examples/golden.json, through the real mapper."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import golden, map_golden_case


@pytest.mark.parametrize("case", golden()["cases"], ids=lambda c: c["description"][:60])
def test_golden_case(case: dict[str, Any]) -> None:
    outcome = map_golden_case(case)
    if "reject" in case:
        assert (outcome.status, outcome.reason) == ("rejected", case["reject"])
        return
    assert outcome.status == "accepted", outcome.detail
    got = [{"dataset_id": e.dataset_id, "event": e.to_dict()} for e in outcome.events]
    assert got == case["expected"]
