"""The live display on stderr: input read with ETA, records, batches, events/s, retries.

Shown only when stderr is a terminal and not ``--quiet``; otherwise every method is a
no-op, so cron mails stay short. The counters are rendered from the live
:class:`RunSummary` at each refresh, so the display keeps moving while the workers
drain the last batches after the input has been read.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from fbocli.stats import RunSummary

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def _rich_progress(display: ProgressDisplay) -> Progress:
    """The rich display, imported only when it is shown: rich costs ~50 ms of start-up
    that cron runs, pipes and every benchmark run would otherwise pay for nothing."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class LiveColumn(ProgressColumn):
        """Counters read from the display at render time (4 times a second)."""

        def render(self, task: Task) -> Text:
            return Text.from_markup(display.describe())

    return Progress(
        TextColumn("[bold]reading"),
        BarColumn(bar_width=24),
        DownloadColumn(),
        TimeRemainingColumn(),
        LiveColumn(),
        console=Console(stderr=True),
        transient=True,
        refresh_per_second=4,
    )


class ProgressDisplay:
    def __init__(self, *, enabled: bool, total_bytes: int | None, dry_run: bool) -> None:
        self.enabled = enabled
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._stats: RunSummary | None = None
        self._retries: dict[int, tuple[float, str]] = {}  # worker thread -> (deadline, reason)
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._verb = "would send" if dry_run else "sent"
        if enabled:
            self._progress = _rich_progress(self)
            self._task = self._progress.add_task("", total=total_bytes)

    def __enter__(self) -> ProgressDisplay:
        # The live display (a refresh thread) starts at the first update, after the
        # pipeline has forked its mapping workers: forking with threads running is unsafe.
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Take the display off the terminal (before a report is printed)."""
        if self._progress is not None and self._progress.live.is_started:
            self._progress.stop()

    def update(self, stats: RunSummary, bytes_read: int) -> None:
        """Called by the pipeline every few hundred records and at the end of the input."""
        if self._progress is None or self._task is None:
            return
        self._stats = stats
        if not self._progress.live.is_started:
            self._progress.start()
        self._progress.update(self._task, completed=bytes_read)

    def retry(self, seconds: float, reason: str) -> None:
        """Called by the Graph client (any worker thread) before each backoff wait."""
        if self._progress is None:
            return
        with self._lock:
            self._retries[threading.get_ident()] = (time.monotonic() + seconds, reason[:60])

    def describe(self) -> str:
        """The counters line: records, batches, events and rate, workers waiting to retry."""
        stats = self._stats
        if stats is None:
            return ""
        now = time.monotonic()
        elapsed = max(now - self._started, 1e-6)
        text = (
            f"{stats.accepted:,} accepted · {stats.rejected:,} rejected · "
            f"{stats.sent:,} of {stats.built:,} events {self._verb} · "
            f"{stats.batches:,} batches · {stats.sent / elapsed:,.0f} ev/s"
        )
        if stats.failed:
            text += f" · [red]{stats.failed:,} failed[/]"
        with self._lock:
            for ident in [i for i, (end, _) in self._retries.items() if end <= now]:
                del self._retries[ident]
            waiting = sorted(self._retries.values())
        if waiting:
            end, reason = waiting[0]
            reason = reason.replace("[", r"\[")
            text += (
                f" · [yellow]{len(waiting)} waiting to retry, next in {end - now:.0f}s "
                f"({reason})[/]"
            )
        return text
