"""The rejects file: one JSON line per record that was not sent, with its reason.

It holds the rejected records as read, personal data included, so it is private (0600)
and short-lived: it is created only when a first record is rejected, and the files a
run leaves in the state directory are deleted after ``[state] keep_rejects_days``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from fbocli.errors import LocalWriteError, StateError, UsageError, clip
from fbocli.privatefile import not_yours, open_private

REJECTS_DIR = "rejects"
_PATTERN = "rejects-*.jsonl"


def default_rejects_path(state_dir: Path, run_id: str) -> Path:
    """``<state dir>/rejects/rejects-<UTC time>-<run id>.jsonl``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return state_dir / REJECTS_DIR / f"rejects-{stamp}-{run_id}.jsonl"


def prune_rejects(state_dir: Path, keep_days: int, now: float | None = None) -> list[Path]:
    """Delete the state directory's rejects files older than ``keep_days``; returns them."""
    folder = state_dir / REJECTS_DIR
    if not folder.is_dir():
        return []
    limit = (time.time() if now is None else now) - keep_days * 86400
    removed: list[Path] = []
    for path in folder.glob(_PATTERN):
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
                removed.append(path)
        except OSError:  # gone meanwhile, or not ours to delete: the next run tries again
            continue
    return removed


class RejectsWriter:
    """Checked before anything is sent; the file itself appears with the first reject."""

    def __init__(self, path: Path) -> None:
        if str(path) == "-":
            raise UsageError(
                "--rejects - is not supported: rejected records hold personal data and go "
                "to a file",
                hint="pass --rejects PATH, or leave it out to use the state directory",
            )
        self.path = path
        self.count = 0
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._check()

    def _check(self) -> None:
        """Fail now, not at the first reject: the folder must be creatable and writable."""
        try:
            if self.path.is_dir():
                raise IsADirectoryError(21, "is a directory")
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=".probe-"):
                pass
        except OSError as exc:
            folder = self.path.parent
            found = not_yours(folder, folder)
            if found is not None:
                raise StateError(
                    f"cannot write the rejects file: folder {found[0]}",
                    hint=f"{found[1]}, or pass --rejects PATH in a writable directory",
                ) from None
            raise StateError(
                f"cannot write the rejects file {self.path}: {exc.strerror or exc}",
                hint="pass --rejects PATH in a writable directory, or fix the permissions",
            ) from None

    def write(self, source: str, line: int, reason: str, detail: str, record: Any) -> None:
        entry = {
            "source": source,
            "line": line,
            "reason": reason,
            "detail": clip(detail),
            "record": record,
        }
        text = json.dumps(entry, ensure_ascii=False, default=str, allow_nan=True)
        with self._lock:
            try:
                if self._file is None:
                    self._file = self._open()
                self._file.write(text + "\n")
            except OSError as exc:
                raise self._failed(exc) from None
            self.count += 1

    def _open(self) -> IO[str]:
        fd = open_private(self.path, append=True)  # 0600, whatever was there before
        return os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace")

    def _failed(self, exc: OSError) -> LocalWriteError:
        return LocalWriteError(
            f"cannot write the rejects file {self.path}: {exc.strerror or exc}",
            hint="free some space (or pass --rejects elsewhere) and run the same command "
            "again: what Meta acknowledged is journaled, the rest is sent then",
        )

    @property
    def written(self) -> Path | None:
        return self.path if self.count else None

    def close(self) -> None:
        with self._lock:
            if self._file is None or self._file.closed:
                return
            try:
                self._file.close()
            except OSError as exc:
                raise self._failed(exc) from None
