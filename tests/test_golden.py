"""Every worked case of shared/examples/golden.json, through the real mapper and payload."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fbocli.commands import parse_now
from fbocli.config import parse_settings
from fbocli.mapping import MapContext, map_record
from fbocli.payload import capi_event
from fbocli.readers import Record
from tests.conftest import shared_root


def _golden(shared_dir: Path) -> dict[str, Any]:
    return json.loads((shared_dir / "examples" / "golden.json").read_text("utf-8"))


def _cases() -> list[Any]:
    path = shared_root() / "examples" / "golden.json"
    return json.loads(path.read_text("utf-8"))["cases"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["description"][:60])
def test_golden_case(case: dict[str, Any], shared_dir: Path) -> None:
    golden = _golden(shared_dir)
    settings = parse_settings(tomllib.loads(golden["config"]), env={})
    now = parse_now(golden["now"])
    assert now is not None
    outcome = map_record(Record("golden.json", 1, case["input"]), MapContext.create(settings, now))
    if "reject" in case:
        assert (outcome.status, outcome.reason) == ("rejected", case["reject"])
        return
    assert outcome.status == "accepted", outcome.detail
    got = [{"dataset_id": c.dataset_id, "event": capi_event(c)} for c in outcome.conversions]
    assert json.loads(json.dumps(got)) == case["expected"]
