"""The mypyc-compiled build behaves exactly as the pure-Python sources it is built from.

Skipped where mypyc or a C compiler is missing. Otherwise the three compiled modules
(scripts/mypyc_build.py) must be what gets imported, a dry run of the sample must write
byte-identical requests, rejects and summary in-process and through the mapping pool, and
the golden, mapping, equivalence, normalization, timestamp and Meta-peer hash tests must
pass against the compiled build.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.test_benchmark_smoke import run_bench

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import mypyc_build  # noqa: E402

SAMPLE = ROOT / "sample_data"
NOW = "2026-11-20T00:00:00Z"


def _have_compiler() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None


pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mypyc") is None or not _have_compiler(),
    reason="needs mypyc (the dev extra) and a C compiler",
)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project whose mapping modules are compiled: sources, tests, data."""
    dest = tmp_path_factory.mktemp("compiled")
    for part in ("tests", "sample_data", "benchmarks"):
        shutil.copytree(ROOT / part, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest)
    return mypyc_build.build(dest)


def _env(path: Path, extra: dict[str, str], tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FBOCLI_ACCESS_TOKEN", None)
    env.update(PYTHONPATH=str(path), FBOCLI_STATE_DIR=str(tmp / "state"), **extra)
    return env


def test_the_compiled_modules_are_the_ones_imported(compiled: Path) -> None:
    code = "import fbocli.mapping as m, fbocli.normalize as n, fbocli.timeparse as t; "
    code += "print(m.__file__, n.__file__, t.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=compiled.parent,  # not the source tree: "" comes first on sys.path
        env=dict(os.environ, PYTHONPATH=str(compiled)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(out) == 3
    for path in out:
        assert path.startswith(str(compiled)) and path.endswith(".so"), path


@pytest.mark.parametrize("pool", ["in-process", "pool"])
def test_a_compiled_dry_run_writes_the_same_bytes(
    compiled: Path, tmp_path: Path, pool: str
) -> None:
    extra = {"FBOCLI_PARALLEL_MIN_BYTES": "0" if pool == "pool" else str(10**15)}
    written = {}
    for name, path in (("pure", ROOT), ("compiled", compiled)):
        work = tmp_path / name
        work.mkdir()
        args = ["upload", str(SAMPLE / "segment-export.jsonl"), "-c", str(SAMPLE / "fbocli.toml")]
        args += ["--now", NOW, "--dry-run", "--json", "--output", str(work / "requests.jsonl")]
        args += ["--rejects", str(work / "rejects.jsonl")]
        done = subprocess.run(
            [sys.executable, "-m", "fbocli", *args],
            env=_env(path, extra, work),
            cwd=work,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        summary.pop("rejects_file", None)
        written[name] = (
            (work / "requests.jsonl").read_bytes(),
            (work / "rejects.jsonl").read_bytes(),
            summary,
        )
    assert written["compiled"] == written["pure"]
    assert written["pure"][0] and written["pure"][1]  # requests and rejects both written


def test_mapping_tests_pass_against_the_compiled_build(compiled: Path) -> None:
    files = [
        "tests/test_golden.py",
        "tests/test_mapping.py",
        "tests/test_mapping_speed_equivalence.py",
        "tests/test_normalize.py",
        "tests/test_timeparse.py",
        "tests/test_peer_meta_ocu.py",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x", *files],
        cwd=compiled,
        env=dict(os.environ, PYTHONPATH=str(compiled)),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_benchmark_measures_the_compiled_build(tmp_path: Path) -> None:
    proc, result = run_bench(tmp_path, "-n", "500", "--no-peer", "--compiled")
    assert result["dry_run_events_written"] == 500
    assert result["machine"]["fbocli_build"].startswith("mypyc-compiled")
    assert (tmp_path / "work" / "compiled" / "fbocli").is_dir()
    assert "fbocli: mypyc-compiled" in proc.stdout
