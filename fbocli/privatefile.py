"""Files that hold personal data (rejects, dry-run requests): only their owner reads them;
and, when this user cannot use a file of fbocli's, whose it is and how to give it back.

Making an existing file private with ``chmod`` is not enough: whoever opened it while its
mode was looser keeps reading through that descriptor. So a file is never reused: a new
one is made with mode 0600 and renamed over the path, atomically; what was written
through the old file stays there, and nothing written now reaches it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import stat
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o600


def open_private(path: Path, *, append: bool = False) -> int:
    """A descriptor to write ``path`` as a file of mode 0600, whatever was there before.

    A regular file (or none) at ``path`` is replaced by a new private file, atomically;
    with ``append`` the new file starts with the old one's content and writes go at its
    end (an old file that already is this user's and private is simply appended to).
    What is not a regular file (a FIFO, ``/dev/stdout``) is opened as it is: it is no
    file on disk to protect, and renaming over it would replace a device's name.
    Raises OSError.
    """
    try:
        found: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        found = None
    if found is not None and not stat.S_ISREG(found.st_mode):
        return os.open(path, os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC))
    if found is not None and append and _private(found):
        return os.open(path, os.O_WRONLY | os.O_APPEND)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    try:
        os.fchmod(fd, PRIVATE_MODE)  # (mkstemp's mode already; said once more)
        if found is not None and append:
            with open(path, "rb") as old, open(os.dup(fd), "wb") as new:
                shutil.copyfileobj(old, new)
        os.replace(temporary, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if append:
        os.lseek(fd, 0, os.SEEK_END)
    return fd


def _private(found: os.stat_result) -> bool:
    return found.st_uid == os.geteuid() and stat.S_IMODE(found.st_mode) & 0o077 == 0


def not_yours(path: Path, folder: Path) -> tuple[str, str] | None:
    """(message, hint) when this user cannot read and write ``path`` (a file or a
    folder of ``folder``, the state directory or the rejects folder), saying whose it is
    and how to give it back (``sudo chown -R USER FOLDER`` after a run with sudo); None
    when it can, or when ``path`` is not there. Files are tried with a real open, since
    root's powers count; folders with ``os.access``."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    if stat.S_ISDIR(found.st_mode):
        if os.access(path, os.R_OK | os.W_OK | os.X_OK):
            return None
        readable = os.access(path, os.R_OK | os.X_OK)
    elif stat.S_ISREG(found.st_mode):
        if _opens(path, os.O_RDWR):
            return None
        readable = _opens(path, os.O_RDONLY)
    else:
        return None
    me, owner = _user_name(os.geteuid()), _user_name(found.st_uid)
    foreign = found.st_uid != os.geteuid()
    message = (
        f"{path} cannot be {'written' if readable else 'read'} by {me}"
        f" (owner {owner}, mode {stat.S_IMODE(found.st_mode):04o})"
        + (": a run as another user (sudo?) left it so" if foreign else "")
    )
    where = shlex.quote(str(folder))
    fix = f"sudo chown -R {me} {where}" if foreign else f"chmod -R u+rwX {where}"
    return message, f"give it back with `{fix}`"


def _opens(file: Path, flags: int) -> bool:
    try:
        os.close(os.open(file, flags))
    except OSError:
        return False
    return True


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
