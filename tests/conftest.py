"""Shared pytest fixtures."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

# A test run started as a background job (`pytest &` in a script) inherits SIGINT ignored,
# and so would every fbocli process a test starts in order to interrupt it with Ctrl-C:
# give this process, and through it the children, a terminal's default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


BESIDE = Path(__file__).resolve().parents[2] / "shared"  # the contracts beside the repo
COPY = Path(__file__).resolve().parent / "contracts"  # their copy in the repo


def shared_root() -> Path:
    """The shared contracts: beside the repository when checked out there, else the copy
    in tests/contracts (tests/test_contracts.py keeps the two identical)."""
    return BESIDE if (BESIDE / "examples" / "golden.json").is_file() else COPY


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared contracts (spec examples, peers)."""
    return shared_root()
