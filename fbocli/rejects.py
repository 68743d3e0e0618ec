"""The rejects file: one JSON line per record that was not sent, with its reason."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import IO, Any

from fbocli.errors import LocalWriteError, StateError


def default_rejects_path(state_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return state_dir / "rejects" / f"rejects-{stamp}-{os.getpid()}.jsonl"


class RejectsWriter:
    """Opened (and so checked) before anything is sent; removed at the end if left empty.

    The file holds the rejected records as read, personal data included, so it is created
    0600: it never leaves the machine.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._lock = threading.Lock()
        existed = path.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise StateError(
                f"cannot write the rejects file {path}: {exc.strerror or exc}",
                hint="pass --rejects PATH in a writable directory, or fix the permissions",
            ) from None
        self._created = not existed
        self._file: IO[str] = os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace")

    def write(self, source: str, line: int, reason: str, detail: str, record: Any) -> None:
        entry = {
            "source": source,
            "line": line,
            "reason": reason,
            "detail": detail,
            "record": record,
        }
        text = json.dumps(entry, ensure_ascii=False, default=str, allow_nan=True)
        with self._lock:
            try:
                self._file.write(text + "\n")
            except OSError as exc:
                raise self._failed(exc) from None
            self.count += 1

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
            if self._file.closed:
                return
            try:
                self._file.close()
            except OSError as exc:
                raise self._failed(exc) from None
            if not self.count and self._created:
                self.path.unlink(missing_ok=True)
