"""Shared pytest fixtures (the helpers they use are in tests/helpers.py)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from tests.fakegraph import FakeGraph
from tests.helpers import fake_graph, shared_root
from tests.memory_keyring import MemoryKeyring

# A test run started as a background job (`pytest &` in a script) inherits SIGINT ignored,
# and so would every fbocli process a test starts in order to interrupt it with Ctrl-C:
# give this process, and through it the children, a terminal's default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared contracts (spec examples, peers)."""
    return shared_root()


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    """The fake Graph API of tests.helpers.fake_graph, running."""
    with fake_graph() as graph:
        yield graph


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """The keyring is the 'fail' stub a headless server has (restored afterwards)."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring(no_keyring: None) -> MemoryKeyring:
    """A usable in-memory keyring (the previous one is restored afterwards)."""
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend
