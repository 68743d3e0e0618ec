"""Token resolution and storage: environment > keyring > a 0600 credentials file."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbocli.credentials import (
    KEYRING_SERVICE,
    KEYRING_USER,
    credentials_path,
    delete_token,
    resolve_token,
    store_token,
    toml_string,
)
from fbocli.errors import AuthError, ExitStatus
from fbocli.secret import Secret
from tests.memory_keyring import MemoryKeyring

TOKEN = "EAAB-file-token-0123456789abcd"
OTHER = "EAAB-keyring-token-9876543210wxyz"


class BrokenKeyring(MemoryKeyring):
    """A keyring that looks usable but fails every call (a locked Secret Service)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("locked")


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("FBOCLI_ACCESS_TOKEN", raising=False)
    return home


# Default for every test: the keyring is the 'fail' stub a headless server has.
pytestmark = pytest.mark.usefixtures("no_keyring")


def test_credentials_path_is_under_the_user_config_dir(config_home: Path) -> None:
    assert credentials_path() == config_home / "fbocli" / "credentials.toml"


def test_nothing_stored_resolves_to_none() -> None:
    assert resolve_token({}) is None


def test_file_is_0600_in_a_0700_dir_and_valid_toml() -> None:
    where = store_token(Secret(TOKEN))
    path = credentials_path()
    assert where == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert tomllib.loads(path.read_text()) == {"access_token": TOKEN}
    assert os.listdir(path.parent) == ["credentials.toml"]  # no temp file left behind
    resolved = resolve_token({})
    assert resolved is not None
    assert (resolved.secret, resolved.source, resolved.location) == (
        Secret(TOKEN),
        "file",
        str(path),
    )


def test_overwriting_the_file_keeps_it_private() -> None:
    store_token(Secret(TOKEN))
    store_token(Secret(OTHER))
    path = credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    resolved = resolve_token({})
    assert resolved is not None and resolved.secret == Secret(OTHER)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_a_file_others_can_access_is_refused_with_the_chmod_hint(mode: int) -> None:
    store_token(Secret(TOKEN))
    path = credentials_path()
    path.chmod(mode)
    with pytest.raises(AuthError) as caught:
        resolve_token({})
    error = caught.value
    assert error.exit_status == ExitStatus.AUTH
    assert error.hint == f"chmod 600 {path}"
    assert TOKEN not in str(error) and TOKEN not in (error.hint or "")


def test_an_unparsable_file_does_not_quote_its_content() -> None:
    path = credentials_path()
    path.parent.mkdir(parents=True)
    path.write_text(f"access_token = {TOKEN}\n")  # unquoted: invalid TOML
    path.chmod(0o600)
    with pytest.raises(AuthError) as caught:
        resolve_token({})
    assert str(path) in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_environment_wins_over_keyring_and_file(memory_keyring: MemoryKeyring) -> None:
    store_token(Secret(TOKEN), prefer_keyring=False)
    memory_keyring.set_password(KEYRING_SERVICE, KEYRING_USER, OTHER)
    resolved = resolve_token({"FBOCLI_ACCESS_TOKEN": " env-token-0000111122 "})
    assert resolved is not None
    assert resolved.source == "environment"
    assert resolved.secret == Secret("env-token-0000111122")
    assert resolved.location == "$FBOCLI_ACCESS_TOKEN"


def test_keyring_wins_over_the_file(memory_keyring: MemoryKeyring) -> None:
    store_token(Secret(TOKEN), prefer_keyring=False)
    memory_keyring.set_password(KEYRING_SERVICE, KEYRING_USER, OTHER)
    resolved = resolve_token({"FBOCLI_ACCESS_TOKEN": ""})
    assert resolved is not None
    assert (resolved.source, resolved.secret) == ("keyring", Secret(OTHER))
    assert "fbocli" in resolved.location and OTHER not in resolved.location


def test_store_prefers_a_usable_keyring_and_drops_an_old_file(
    memory_keyring: MemoryKeyring,
) -> None:
    store_token(Secret(TOKEN), prefer_keyring=False)
    assert store_token(Secret(OTHER)) == "keyring"
    assert memory_keyring.store == {(KEYRING_SERVICE, KEYRING_USER): OTHER}
    assert not credentials_path().exists()


def test_no_keyring_writes_the_file_and_clears_the_keyring(
    memory_keyring: MemoryKeyring,
) -> None:
    store_token(Secret(OTHER))
    assert store_token(Secret(TOKEN), prefer_keyring=False) == str(credentials_path())
    assert memory_keyring.store == {}
    resolved = resolve_token({})
    assert resolved is not None and (resolved.source, resolved.secret) == ("file", Secret(TOKEN))


def test_the_fail_backend_is_not_used() -> None:
    assert store_token(Secret(TOKEN)) == str(credentials_path())


def test_a_broken_keyring_falls_back_to_the_file() -> None:
    keyring.set_keyring(BrokenKeyring())
    assert store_token(Secret(TOKEN)) == str(credentials_path())
    resolved = resolve_token({})
    assert resolved is not None and resolved.source == "file"


def test_delete_removes_both_and_reports_where(memory_keyring: MemoryKeyring) -> None:
    store_token(Secret(TOKEN), prefer_keyring=False)
    memory_keyring.set_password(KEYRING_SERVICE, KEYRING_USER, OTHER)
    assert delete_token() == ["keyring", str(credentials_path())]
    assert memory_keyring.store == {}
    assert resolve_token({}) is None
    assert delete_token() == []


def test_delete_removes_a_world_readable_file_without_reading_it() -> None:
    store_token(Secret(TOKEN))
    credentials_path().chmod(0o644)
    assert delete_token() == [str(credentials_path())]


def test_an_empty_token_is_not_stored() -> None:
    with pytest.raises(AuthError):
        store_token(Secret("   "))
    assert not credentials_path().exists()


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_toml_string_round_trips_any_text(value: str) -> None:
    assert tomllib.loads(f"k = {toml_string(value)}")["k"] == value


@settings(max_examples=25, deadline=None)
@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40))
def test_any_token_survives_the_file(value: str) -> None:
    """Any token: visible ASCII (``"``, ``\\`` and ``#`` included; test_token_forms.py
    has what is refused)."""
    secret = Secret(value)
    if not secret:
        return
    store_token(secret, prefer_keyring=False)
    resolved = resolve_token({})
    assert resolved is not None and resolved.secret == secret
