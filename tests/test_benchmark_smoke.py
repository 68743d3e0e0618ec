"""CI smoke run of benchmarks/bench.py: it completes and the dry run writes every event.

No timing is asserted (CI machines vary); the numbers live in docs/performance.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow  # whole benchmark runs in subprocesses


def run_bench(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """benchmarks/bench.py ARGS working in tmp_path/work: (the process, its JSON results)."""
    out = tmp_path / "bench.json"
    args = (*args, "--keep", str(tmp_path / "work"), "--json", str(out))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), *args],
        env={**os.environ, "FBOCLI_CONFIG": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(out.read_text())


def test_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    proc, result = run_bench(tmp_path, "-n", "2000")
    # Every synthetic event is valid and routed to one dataset: 2000 in, 2000 out.
    assert result["dry_run_events_written"] == 2000
    names = [m["name"] for m in result["results"]]
    assert any(n.startswith("dry run") for n in names)
    assert any(n.startswith("upload") for n in names)
    assert any(n.startswith("peer") for n in names)  # facebook-business is in `dev`
    assert all(m["events_per_s"] > 0 for m in result["results"])
    assert "| measure |" in proc.stdout and result["machine"]["cores"]
    assert "bench-fake-token" not in proc.stdout + proc.stderr


def test_instruction_count_probes_run(tmp_path: Path) -> None:
    """benchmarks/instructions.py runs each part under valgrind (not in CI); here each
    part runs as the probe valgrind would watch, on a few hundred events."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench
        import instructions
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    (tmp_path / "fbocli.toml").write_text(bench.CONFIG, encoding="utf-8")
    data = tmp_path / "events.jsonl"
    saved, bench.NOW_S = bench.NOW_S, instructions.NOW
    try:
        bench.write_input(data, 600)
    finally:
        bench.NOW_S = saved
    script = str(ROOT / "benchmarks" / "instructions.py")
    for part in ("worker", "main", "fake"):
        done = subprocess.run(
            [sys.executable, script, "--probe", part, "--passes", "1", "--data", str(data)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (part, done.stderr[-3000:])
