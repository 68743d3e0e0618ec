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


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared contracts (spec, examples, peers), checked out beside the repo."""
    return Path(__file__).resolve().parents[2] / "shared"
