"""Packaging lives in pyproject.toml; this file only adds the optional compiled build.

``FBOCLI_MYPYC=1 pip install --no-build-isolation .`` (with mypy, from the dev extra, and
a C compiler in the environment) compiles the mapping hot path (fbocli.mapping,
fbocli.normalize, fbocli.timeparse) to C extensions with mypyc: the same source, ~1.4x
faster mapping (docs/performance.md, "The compiled build"). Every other install is pure Python.
Not for editable installs: extension modules built beside the sources would shadow every
later edit of them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup


def _ext_modules() -> list[object]:
    if os.environ.get("FBOCLI_MYPYC") != "1":
        return []
    if any("editable" in arg for arg in sys.argv):
        sys.exit("FBOCLI_MYPYC=1: a compiled build cannot be an editable install")
    from mypyc.build import mypycify  # needs mypy in the build environment

    sys.path.insert(0, str(Path(__file__).resolve().parent / "scripts"))
    from mypyc_build import COMPILED  # the one list of compiled modules (needs a checkout)

    return list(mypycify(list(COMPILED), opt_level="3"))


setup(ext_modules=_ext_modules())
