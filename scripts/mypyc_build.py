"""Compile fbocli's mapping hot path with mypyc into a copy of the package, beside the sources.

    python scripts/mypyc_build.py DEST        # DEST/fbocli: the package, three modules compiled

``PYTHONPATH=DEST python -m fbocli ...`` then runs the compiled build. The benchmark
(``benchmarks/bench.py --compiled``) and ``tests/test_compiled.py`` build this way, so the
source tree never holds extension modules that would shadow edited sources; an install
compiles the same modules through ``setup.py`` (``FBOCLI_MYPYC=1``). Needs mypy (the dev
extra) and a C compiler.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The modules a mapping worker spends its time in (docs/performance.md, "The compiled
# build"); setup.py compiles the same list.
COMPILED = ("fbocli/mapping.py", "fbocli/normalize.py", "fbocli/timeparse.py")


def build(dest: Path) -> Path:
    """DEST/fbocli with COMPILED built as C extensions; returns DEST."""
    dest.mkdir(parents=True, exist_ok=True)
    package = dest / "fbocli"
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(ROOT / "fbocli", package, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "mypyc", *COMPILED],
        cwd=dest,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mypyc failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    shutil.rmtree(dest / "build", ignore_errors=True)
    return dest


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(build(Path(argv[0]).resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
