"""The live display on stderr: input read with ETA, records, batches, events/s, retries.

Shown only when stderr is a terminal and not ``--quiet``; otherwise every method is a
no-op, so cron mails stay short.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from fbocli.report import RunStats


class ProgressDisplay:
    def __init__(self, *, enabled: bool, total_bytes: int | None, dry_run: bool) -> None:
        self.enabled = enabled
        self._started = time.monotonic()
        self._waiting = 0.0
        self._retry_reason = ""
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._verb = "would send" if dry_run else "sent"
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]reading"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                console=Console(stderr=True),
                transient=True,
                refresh_per_second=4,
            )
            self._task = self._progress.add_task("", total=total_bytes)

    def __enter__(self) -> ProgressDisplay:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, stats: RunStats, bytes_read: int) -> None:
        if self._progress is None or self._task is None:
            return
        elapsed = max(time.monotonic() - self._started, 1e-6)
        with self._lock:
            waiting = self._waiting
            reason = self._retry_reason
        text = (
            f"{stats.accepted:,} accepted · {stats.rejected:,} rejected · "
            f"{stats.batches:,} batches · {stats.sent:,} events {self._verb} · "
            f"{stats.sent / elapsed:,.0f} ev/s"
        )
        if waiting > 0:
            text += f" · [yellow]retry in {waiting:.0f}s ({reason})"
        self._progress.update(self._task, completed=bytes_read, description=text)

    def retry(self, seconds: float, reason: str) -> None:
        """Called by the Graph client before each backoff wait."""
        with self._lock:
            self._waiting = seconds
            self._retry_reason = reason[:60]
