"""The wheel users install: the starter config it carries is the repository's top-level
config.example.toml (fbocli/data/config.example.toml is a link to it), and `fbocli init`
from the installed package writes exactly that text."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT, fbocli_argv, invoke

pytestmark = pytest.mark.slow  # builds a wheel (pip, build isolation, the package index)

EXAMPLE = ROOT / "config.example.toml"


def test_the_package_file_is_a_link_to_the_top_level_example() -> None:
    linked = ROOT / "fbocli" / "data" / "config.example.toml"
    assert linked.is_symlink() and linked.resolve() == EXAMPLE.resolve()


def test_the_wheel_carries_the_example_and_init_writes_it(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("fbocli-*.whl")
    example = EXAMPLE.read_text(encoding="utf-8")
    with zipfile.ZipFile(wheel) as archive:
        packaged = archive.read("fbocli/data/config.example.toml").decode("utf-8")
        archive.extractall(tmp_path / "site")
    assert packaged == example

    # `fbocli init` of the installed package (dependencies from this environment)
    target = tmp_path / "fbocli.toml"
    done = subprocess.run(
        fbocli_argv("init", str(target)),
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8") == example
    check = subprocess.run(
        [sys.executable, "-c", "import fbocli; print(fbocli.__file__)"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(check.stdout.strip()).is_relative_to(tmp_path / "site")  # not the checkout

    # and the checkout's own `fbocli init`
    result = invoke(["init", str(tmp_path / "from-checkout.toml")])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "from-checkout.toml").read_text(encoding="utf-8") == example
