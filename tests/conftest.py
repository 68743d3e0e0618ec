"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared contracts (spec, examples, peers), checked out beside the repo."""
    return Path(__file__).resolve().parents[2] / "shared"
