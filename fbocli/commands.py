"""The commands' core: build a run from plain options and execute it (no Click here)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from fbocli.credentials import resolve_token
from fbocli.errors import AuthError, ExitStatus, FbocliError, UsageError
from fbocli.journal import Journal, StateLock, resolve_state_dir
from fbocli.payload import body_extra, event_builder, legacy_warning, targets_meta
from fbocli.pipeline import Format, run
from fbocli.progress import ProgressDisplay
from fbocli.rejects import RejectsWriter, default_rejects_path
from fbocli.report import RunStats, render, upload_sections, validate_sections
from fbocli.secret import Secret
from fbocli.settings import Settings
from fbocli.sinks import Abandoned, CountingSink, DryRunSink, Sink, UploadSink, journal_filter

if TYPE_CHECKING:  # requests (~0.1 s to import) loads only when a command talks to Meta.
    from fbocli.graph import GraphClient

JOURNAL_FILE = "journal.sqlite3"
PRUNE_DAYS = 63  # past Meta's 62-day window an event can never be sent again anyway


@dataclass(frozen=True)
class RunOptions:
    inputs: tuple[str, ...]
    fmt: Format = "auto"
    now: int | None = None
    rejects: str | None = None
    json_output: bool = False
    quiet: bool = False
    strict: bool = False
    state_dir: str | None = None
    dry_run: bool = False
    output: str | None = None
    force: bool = False
    test_event_code: str | None = None
    batch_size: int | None = None
    workers: int | None = None


def parse_now(text: str | None) -> int | None:
    """`--now`: an ISO 8601 instant; without an offset it is UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--now {text!r} is not an ISO 8601 date-time",
            hint="for example --now 2026-11-20T00:00:00Z",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def apply_overrides(settings: Settings, options: RunOptions) -> Settings:
    """--batch-size/--workers/--test-event-code over [upload]/[destination]; checked once."""
    upload = settings.upload
    problems = []
    limit = settings.destination.max_batch_size
    if options.batch_size is not None and not 1 <= options.batch_size <= limit:
        problems.append(f"--batch-size must be between 1 and {limit}, got {options.batch_size}")
    if options.workers is not None and not 1 <= options.workers <= 32:
        problems.append(f"--workers must be between 1 and 32, got {options.workers}")
    if problems:
        raise UsageError("; ".join(problems))
    upload = dataclasses.replace(
        upload,
        batch_size=options.batch_size or upload.batch_size,
        workers=options.workers or upload.workers,
    )
    destination = settings.destination
    if options.test_event_code is not None:
        destination = dataclasses.replace(destination, test_event_code=options.test_event_code)
    return dataclasses.replace(settings, upload=upload, destination=destination)


def _rejects_writer(options: RunOptions) -> RejectsWriter:
    if options.rejects:
        return RejectsWriter(Path(options.rejects))
    return RejectsWriter(default_rejects_path(resolve_state_dir(options.state_dir)))


def _show_progress(options: RunOptions) -> bool:
    return not options.quiet and not options.json_output and sys.stderr.isatty()


def _total_bytes(inputs: Sequence[str]) -> int | None:
    total = 0
    for path in inputs:
        try:
            total += os.stat(path).st_size
        except OSError:
            return None
    return total


def _now(options: RunOptions) -> int:
    return int(time.time()) if options.now is None else options.now


def _warn_legacy(settings: Settings) -> None:
    """Shown even with --quiet: it predicts a failed run, which cron mail should say."""
    if (warning := legacy_warning(settings)) is not None:
        sys.stderr.write(f"fbocli: {warning}\n")


def validate(
    settings: Settings, options: RunOptions, *, stdout: IO[str], stdin: BinaryIO | None = None
) -> ExitStatus:
    """`fbocli validate`: the pipeline with a counting sink; exit 1 when anything was rejected."""
    _warn_legacy(settings)
    stats = RunStats(dry_run=True, offline=settings.destination.api == "offline", now=_now(options))
    rejects = _rejects_writer(options)
    run(
        settings,
        options.inputs,
        fmt=options.fmt,
        stats=stats,
        sink=CountingSink(stats),
        rejects=rejects,
        batch_size=settings.upload.batch_size,
        stdin=stdin,
    )
    _print(stats, options, stdout, validate_sections(stats))
    return ExitStatus.FAILURE if stats.rejected else ExitStatus.OK


def upload(
    settings: Settings, options: RunOptions, *, stdout: IO[str], stdin: BinaryIO | None = None
) -> ExitStatus:
    """`fbocli upload` (and `--dry-run`): one pipeline; only the sink differs."""
    settings = apply_overrides(settings, options)
    _warn_legacy(settings)
    stats = RunStats(
        dry_run=options.dry_run, offline=settings.destination.api == "offline", now=_now(options)
    )
    token = None if options.dry_run else _token()
    if (
        token is not None
        and options.now is not None
        and abs(options.now - time.time()) > 3600
        and targets_meta(settings)  # a proxy or test server may keep its own clock
    ):
        sys.stderr.write(
            "fbocli: warning: --now is not the current time, but Meta applies its 62-day "
            "window to the current time: events this run accepts may be refused by Meta "
            "(whole batches, then split to find them)\n"
        )
    state = resolve_state_dir(options.state_dir)
    build = event_builder(settings)
    extra = body_extra(settings)
    display = ProgressDisplay(
        enabled=_show_progress(options),
        total_bytes=_total_bytes(options.inputs),
        dry_run=options.dry_run,
    )
    with ExitStack() as stack:
        if token is not None:  # one upload per state directory; a dry run sends nothing
            stack.enter_context(StateLock(state))
        rejects = _rejects_writer(options)
        stack.callback(rejects.close)
        journal = stack.enter_context(Journal(state / JOURNAL_FILE))
        sink: Sink
        if token is None:
            sink = DryRunSink(stats, settings, build, extra, options.output, stdout)
        else:
            journal.prune(time.time() - PRUNE_DAYS * 86400)
            stop = threading.Event()
            client = stack.enter_context(_client(settings, token, stop, display))
            sink = UploadSink(stats, settings, client, journal, build, extra, rejects, stop)
        stack.enter_context(display)
        try:
            run(
                settings,
                options.inputs,
                fmt=options.fmt,
                stats=stats,
                sink=sink,
                rejects=rejects,
                batch_size=settings.upload.batch_size,
                keep=None if options.force else journal_filter(journal, stats),
                progress=display.update,
                stdin=stdin,
            )
        except FbocliError:
            # Stopped part-way (Ctrl-C, expired token, ...): what was delivered and what
            # was not still matters to the user and to a cron job's --json.
            if stats.read:
                display.__exit__(None, None, None)
                _print(stats, options, stdout, upload_sections(stats))
            raise
    _print(stats, options, stdout, upload_sections(stats))
    if stats.failed or stats.api_rejected or (options.strict and stats.rejected):
        return ExitStatus.FAILURE
    return ExitStatus.OK


def _token() -> Secret:
    resolved = resolve_token()
    if resolved is None:
        raise AuthError(
            "no access token",
            hint="run `fbocli auth` to set one up, or set "
            "FBOCLI_ACCESS_TOKEN (a dry run needs none: --dry-run)",
        )
    return resolved.secret


def _client(
    settings: Settings, token: Secret, stop: threading.Event, display: ProgressDisplay
) -> GraphClient:
    from fbocli.graph import GraphClient, RetryPolicy

    def wait(seconds: float) -> None:
        """Backoff waits end at once when the run stops (Ctrl-C or a fatal error)."""
        if stop.wait(seconds):
            raise Abandoned()

    return GraphClient(
        graph_url=settings.destination.graph_url,
        api_version=settings.destination.api_version,
        token=token,
        timeout=settings.upload.timeout_seconds,
        policy=RetryPolicy.from_env(settings.upload.max_retries),
        pool_size=settings.upload.workers,
        sleep=wait,
        on_retry=display.retry,
    )


def _print(
    stats: RunStats,
    options: RunOptions,
    stdout: IO[str],
    sections: Sequence[tuple[str, list[str], list[list[str]]]],
) -> None:
    if options.json_output:
        stdout.write(json.dumps(stats.summary(), indent=1) + "\n")
        return
    render(list(sections), stdout, rich_output=stdout.isatty())
    if stats.rejects_file:
        stdout.write(
            f"Rejected records ({stats.rejected + stats.api_rejected}) written to "
            f"{stats.rejects_file}\n"
        )
    if stats.dry_run and options.output and options.output != "-":
        stdout.write(f"Requests written to {options.output}\n")
    sys.stdout.flush()
