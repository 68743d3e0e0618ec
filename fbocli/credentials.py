"""Where the access token lives: ``$FBOCLI_ACCESS_TOKEN``, the OS keyring, or a 0600 file.

Resolution order is the spec's (cli.md "Credentials"): the environment wins so cron jobs can
override whatever a person stored interactively. The credentials file is refused, not read,
when other users could read or replace it, so a leaked permission never goes unnoticed.

The app secret (for ``appsecret_proof``, when the token's app requires it) lives the same
way, beside the token: ``$FBOCLI_APP_SECRET``, the keyring, or the same file.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import platformdirs

from fbocli.errors import AuthError
from fbocli.secret import Secret

TokenSource = Literal["environment", "keyring", "file"]

ENV_VAR = "FBOCLI_ACCESS_TOKEN"
APP_SECRET_ENV_VAR = "FBOCLI_APP_SECRET"
KEYRING_SERVICE = "fbocli"
KEYRING_USER = "access_token"
KEYRING_APP_SECRET_USER = "app_secret"
_FILE_KEY = "access_token"
_FILE_APP_SECRET_KEY = "app_secret"


@dataclass(frozen=True)
class ResolvedToken:
    """A token (or an app secret) and where it came from (shown by ``auth status``; never
    the secret itself)."""

    secret: Secret
    source: TokenSource
    location: str


def credentials_path() -> Path:
    """``<user config dir>/fbocli/credentials.toml`` (honours ``XDG_CONFIG_HOME``)."""
    return Path(platformdirs.user_config_dir("fbocli")) / "credentials.toml"


def _usable_keyring() -> Any | None:
    """The active keyring backend, or None when the package is absent or only a stub backend.

    The fail/null backends (priority <= 0) are what keyring picks on a headless server; using
    them would raise or silently drop the token, so the file is used instead.
    """
    try:
        import keyring
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
        priority = float(type(backend).priority)
    except Exception:  # a broken backend (no D-Bus, locked) must not stop a cron job
        return None
    return backend if priority > 0 else None


def _keyring_label(backend: Any, user: str = KEYRING_USER) -> str:
    name = getattr(type(backend), "name", type(backend).__name__)
    return f"{name} (service {KEYRING_SERVICE!r}, user {user!r})"


def _keyring_get(backend: Any, user: str = KEYRING_USER) -> str | None:
    try:
        value = backend.get_password(KEYRING_SERVICE, user)
    except Exception:  # keyring errors come from many backends; treat as "nothing stored"
        return None
    return value if isinstance(value, str) and value.strip() else None


def _check_private(path: Path) -> None:
    """Refuse a credentials file that group/others may read or write (like ssh does)."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AuthError(
            f"refusing to read {path}: its permissions {mode:04o} let other users read or "
            "change the access token",
            hint=f"chmod 600 {path}",
        )


def _read_file(path: Path) -> dict[str, str]:
    """The values the credentials file holds, by key (none when there is no file)."""
    if not path.is_file():
        return {}
    _check_private(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        # The decoder's message can quote the line, i.e. the token: keep only its type.
        raise AuthError(
            f"cannot read the credentials file {path} ({type(error).__name__})",
            hint="run `fbocli auth` to store the token again",
        ) from None
    return {
        key: value
        for key in (_FILE_KEY, _FILE_APP_SECRET_KEY)
        if isinstance(value := data.get(key), str) and value.strip()
    }


def _from_file(path: Path, key: str) -> ResolvedToken | None:
    """One secret of the credentials file, checked alone: a stored token that is no
    token does not keep `fbocli auth login` from reading the app secret beside it (and
    from replacing the token)."""
    value = _read_file(path).get(key)
    if value is None:
        return None
    return ResolvedToken(Secret(value, f"the {key} in {path}"), "file", str(path))


def resolve_token(env: Mapping[str, str]) -> ResolvedToken | None:
    """The token to use: ``env``'s $FBOCLI_ACCESS_TOKEN, then the keyring, then the
    credentials file; None if none. (The CLI passes the process environment.)"""
    from_env = Secret(env.get(ENV_VAR, ""), f"${ENV_VAR}")
    if from_env:
        return ResolvedToken(from_env, "environment", f"${ENV_VAR}")
    backend = _usable_keyring()
    if backend is not None:
        value = _keyring_get(backend)
        if value is not None:
            label = _keyring_label(backend)
            return ResolvedToken(Secret(value, f"the token in {label}"), "keyring", label)
    return _from_file(credentials_path(), _FILE_KEY)


def resolve_app_secret(env: Mapping[str, str]) -> ResolvedToken | None:
    """The app secret to make ``appsecret_proof`` with, found as the token is:
    ``env``'s $FBOCLI_APP_SECRET, then the keyring, then the credentials file; None if
    none (then no proof is sent)."""
    from_env = Secret(env.get(APP_SECRET_ENV_VAR, ""), f"${APP_SECRET_ENV_VAR}")
    if from_env:
        return ResolvedToken(from_env, "environment", f"${APP_SECRET_ENV_VAR}")
    backend = _usable_keyring()
    if backend is not None:
        value = _keyring_get(backend, KEYRING_APP_SECRET_USER)
        if value is not None:
            label = _keyring_label(backend, KEYRING_APP_SECRET_USER)
            return ResolvedToken(Secret(value, f"the app secret in {label}"), "keyring", label)
    return _from_file(credentials_path(), _FILE_APP_SECRET_KEY)


def toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except that DEL must be escaped too
    and astral characters must stay literal (TOML rejects surrogate-pair escapes)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _write_file(path: Path, secret: Secret, app_secret: Secret | None) -> None:
    """Write ``access_token = "..."`` (and ``app_secret = "..."``) atomically: a 0600 temp
    file in the same dir + replace."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path.parent, 0o700)
    content = f"{_FILE_KEY} = {toml_string(secret.reveal())}\n"
    if app_secret:
        content += f"{_FILE_APP_SECRET_KEY} = {toml_string(app_secret.reveal())}\n"
    fd, tmp = tempfile.mkstemp(prefix=".credentials-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp creates it 0600
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _delete_from_keyring(backend: Any, user: str = KEYRING_USER) -> bool:
    if _keyring_get(backend, user) is None:
        return False
    try:
        backend.delete_password(KEYRING_SERVICE, user)
    except Exception:
        return False
    return True


def _clear_keyring(backend: Any) -> bool:
    """Remove the token and the app secret from the keyring; whether there was a token."""
    _delete_from_keyring(backend, KEYRING_APP_SECRET_USER)
    return _delete_from_keyring(backend)


def _delete_file(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def store_token(
    secret: Secret, *, app_secret: Secret | None = None, prefer_keyring: bool = True
) -> str:
    """Store the token, and the app secret with it (or none: a stored one is removed);
    returns where ("keyring" or the file path).

    The other store is cleared so the newly stored token is the one resolved next (a keyring
    entry would otherwise shadow a file written with ``--no-keyring``).
    """
    if not secret:
        raise AuthError("refusing to store an empty access token")
    backend = _usable_keyring()
    path = credentials_path()
    if prefer_keyring and backend is not None:
        try:
            backend.set_password(KEYRING_SERVICE, KEYRING_USER, secret.reveal())
            if app_secret:
                backend.set_password(KEYRING_SERVICE, KEYRING_APP_SECRET_USER, app_secret.reveal())
            else:
                _delete_from_keyring(backend, KEYRING_APP_SECRET_USER)
        except Exception:  # e.g. a locked keyring: fall back to the file
            pass
        else:
            _delete_file(path)
            return "keyring"
    try:
        _write_file(path, secret, app_secret)
    except OSError as error:
        raise AuthError(
            f"cannot write the credentials file {path}: {error.strerror}",
            hint="check the permissions of the config directory or set $FBOCLI_ACCESS_TOKEN",
        ) from None
    if backend is not None:
        _clear_keyring(backend)
    return str(path)


def delete_token() -> list[str]:
    """Remove the stored token (and app secret) from the keyring and the file; returns
    where it was removed."""
    removed: list[str] = []
    backend = _usable_keyring()
    if backend is not None and _clear_keyring(backend):
        removed.append("keyring")
    path = credentials_path()
    if _delete_file(path):
        removed.append(str(path))
    return removed
