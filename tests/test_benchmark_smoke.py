"""CI smoke run of benchmarks/bench.py: it completes and the dry run writes every event.

No timing is asserted (CI machines vary); the numbers live in docs/performance.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "FBOCLI_CONFIG": ""}
    args = ["-n", "2000", "--keep", str(tmp_path / "work"), "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    # Every synthetic event is valid and routed to one dataset: 2000 in, 2000 out.
    assert result["dry_run_events_written"] == 2000
    names = [m["name"] for m in result["results"]]
    assert any(n.startswith("dry run") for n in names)
    assert any(n.startswith("upload") for n in names)
    assert any(n.startswith("peer") for n in names)  # facebook-business is in `dev`
    assert all(m["events_per_s"] > 0 for m in result["results"])
    assert "| measure |" in proc.stdout and result["machine"]["cores"]
    assert "bench-fake-token" not in proc.stdout + proc.stderr
