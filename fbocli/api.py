"""fbocli's Python API: what the command line does, for orchestrators and notebooks.

Everything a run needs is passed in: no function here reads the environment, looks at a
terminal, prints or changes the process. Errors are the :class:`~fbocli.errors.FbocliError`
family, each with its ``exit_status``; a run stopped part-way carries its summary
(``error.summary``). docs/python-api.md shows a complete example.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from fbocli.config import check_graph_url, load_config, run_options
from fbocli.credentials import resolve_app_secret, resolve_token
from fbocli.errors import AuthError, ExitStatus, FbocliError, InputError, Rejected, UsageError
from fbocli.inputs.paths import expand_inputs
from fbocli.journal import JOURNAL_FILE, Journal, StateLock, resolve_state_dir
from fbocli.mapping import message as mapping
from fbocli.mapping.message import Event, MapContext
from fbocli.pipeline import DEFAULT_TUNING, Format, Tuning, run
from fbocli.quality import Tally
from fbocli.rejects import RejectsWriter, default_rejects_path, prune_rejects
from fbocli.secret import Secret
from fbocli.settings import Settings, is_dataset_id
from fbocli.sinks import CountingSink, Sink
from fbocli.sinks.dryrun import DryRunSink
from fbocli.sinks.upload import Abandoned, UploadSink, journal_filter
from fbocli.stats import RunSummary
from fbocli.versions import expiry_warning

if TYPE_CHECKING:  # requests (~0.1 s to import) loads only when a run talks to Meta.
    from fbocli.graph import GraphClient
    from fbocli.scores import QualityReport

__all__ = [
    "Event",
    "Progress",
    "RunSummary",
    "load_config",
    "map_message",
    "quality",
    "upload",
    "validate",
]

PRUNE_DAYS = 63  # past Meta's 62-day window an event can never be sent again anyway
Now = datetime | str | int | None
Warn = Callable[[str], None]
LEGACY_WARNING = (
    '[destination] api = "offline" sends the legacy Offline Conversions API '
    "payload, which Meta discontinued on 14 May 2025 (Graph API v16.0); "
    "graph.facebook.com no longer accepts it, so an upload there will fail. "
    'Remove `api = "offline"` to send the same events to the same dataset IDs through '
    "the Conversions API, or point graph_url ($FBOCLI_GRAPH_URL) at an endpoint that "
    "still speaks the legacy API."
)
CLOCK_WARNING = (
    "--now is not the current time, but Meta applies its 62-day window to the current "
    "time: events this run accepts may be refused by Meta (whole batches, then split to "
    "find them)"
)


class Progress(Protocol):
    """What a run reports as it goes (the CLI draws it on a terminal)."""

    def update(self, summary: RunSummary, bytes_read: int) -> None:
        """After each chunk of input, and once at the end."""

    def retry(self, seconds: float, reason: str) -> None:
        """Before each wait to retry a request (any sender thread)."""


def unix_time(now: Now) -> int:
    """``now`` as Unix seconds: a timezone-aware datetime, an ISO 8601 string (without an
    offset: UTC), Unix seconds, or None for the current time."""
    if now is None:
        return int(time.time())
    if isinstance(now, int) and not isinstance(now, bool):
        return now
    if isinstance(now, str):
        try:
            moment = datetime.fromisoformat(now.strip())
        except ValueError:
            raise UsageError(
                f"--now {now!r} is not an ISO 8601 date-time",
                hint="for example --now 2026-11-20T00:00:00Z",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    elif isinstance(now, datetime):
        if now.tzinfo is None:
            raise UsageError("now must be a timezone-aware datetime")
        moment = now
    else:
        raise UsageError(f"now must be a datetime, an ISO 8601 string or None, not {now!r}")
    return int(moment.timestamp())


def run_clock(now: int | None) -> Callable[[], float]:
    """The time of a run: the current time, or, when the run was given its *now*, time
    passing from that moment (what the journal records: ``fbocli quality --now`` then
    sees uploads made with ``--now`` on the days they were made for)."""
    if now is None:
        return time.time
    offset = now - time.time()
    return lambda: time.time() + offset


def map_message(message: object, config: Settings, *, now: Now = None) -> list[Event]:
    """The Meta events one Segment message becomes.

    A message that is skipped (not a ``track``, or an event no map routes) gives ``[]``;
    one that breaks a rule raises :class:`~fbocli.errors.Rejected` with the stable
    ``reason`` and its ``detail``.
    """
    outcome = mapping.map_message(message, MapContext(config, unix_time(now)))
    if outcome.status == "rejected":
        raise Rejected(outcome.reason, outcome.detail)
    return outcome.events


def validate(
    paths: Sequence[str | Path],
    config: Settings,
    *,
    now: Now = None,
    fmt: Format = "auto",
    rejects: str | Path | None = None,
    state_dir: str | Path | None = None,
    strict: bool = False,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
    warn: Warn | None = None,
    tuning: Tuning = DEFAULT_TUNING,
    preset: str | None = None,
    columns: Sequence[str] = (),
    customers: str | Path | None = None,
    dataset: Sequence[str] = (),
) -> RunSummary:
    """The whole pipeline without network: what an upload would send, and every reject.

    ``paths``: files, folders (their inputs, in name order) and globs (expanded like a
    shell); a file named twice is read once. Rejected records go to ``rejects`` (default:
    a new file under ``state_dir``'s ``rejects/``, the user state directory by default),
    which exists only if something was rejected (``summary.rejects_file``).
    ``summary.exit_code`` is 1 when records were rejected or none could become an event.
    ``preset``, ``columns`` (``FIELD=HEADER`` strings), ``customers`` and ``dataset``
    override ``[csv] preset``, ``[csv.columns]``, ``[csv] customers`` and
    ``[destination] dataset`` for this run (docs/inputs.md).
    """
    config = run_options(
        config, preset=preset, columns=columns, customers=customers, dataset=dataset
    )
    summary, notes = _begin(config, paths, now, warn, dry_run=True, validate=True, strict=strict)
    state = resolve_state_dir(state_dir)
    prune_rejects(state, config.state.keep_rejects_days)
    writer = _rejects_writer(rejects, state, summary.run_id)
    _run(config, summary, CountingSink(summary), writer, fmt, None, progress, stdin, tuning, notes)
    return _finish(summary, config, notes)


def upload(
    paths: Sequence[str | Path],
    config: Settings,
    *,
    token: str | Secret | None = None,
    app_secret: str | Secret | None = None,
    now: Now = None,
    dry_run: bool = False,
    output: str | Path | BinaryIO | None = None,
    state_dir: str | Path | None = None,
    force: bool = False,
    workers: int | None = None,
    batch_size: int | None = None,
    test_event_code: str | None = None,
    fmt: Format = "auto",
    rejects: str | Path | None = None,
    strict: bool = False,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
    warn: Warn | None = None,
    tuning: Tuning = DEFAULT_TUNING,
    preset: str | None = None,
    columns: Sequence[str] = (),
    customers: str | Path | None = None,
    dataset: Sequence[str] = (),
) -> RunSummary:
    """Read, map and send every event (or, ``dry_run``, everything but sending).

    ``token``: the access token; None means the stored one (keyring, then the
    credentials file; never the environment). ``app_secret``: the app's secret, when
    its app requires ``appsecret_proof``; None means the one stored with the token
    (when ``token`` is None too), else none. Events the journal in ``state_dir`` says
    were delivered are skipped unless ``force``. With ``dry_run``, ``output`` (a path or
    a binary stream) receives each request that would be sent. Raises FbocliError when
    the run cannot start or stops part-way (then with ``error.summary``); a run that
    finishes returns its summary, failed deliveries included (``summary.exit_code``).
    An upload that sends (not a dry run) is kept in the state directory's list of runs.
    ``paths``, ``preset``, ``columns``, ``customers`` and ``dataset`` as for
    :func:`validate`.
    """
    config = with_overrides(config, workers, batch_size, test_event_code)
    config = run_options(
        config, preset=preset, columns=columns, customers=customers, dataset=dataset
    )
    summary, notes = _begin(
        config, paths, now, warn, dry_run=dry_run, validate=False, strict=strict
    )
    secret = None if dry_run else _token(token, notes)
    proof_key = None if dry_run else _app_secret(app_secret, token, notes)
    if (
        secret is not None
        and now is not None
        and abs(summary.now - time.time()) > 3600
        and config.destination.targets_meta  # a proxy or test server may keep its own clock
    ):
        notes.warn(CLOCK_WARNING)
    state = resolve_state_dir(state_dir)
    with ExitStack() as stack:
        if secret is not None:  # one upload per state directory; a dry run sends nothing
            stack.enter_context(StateLock(state))
        prune_rejects(state, config.state.keep_rejects_days)
        writer = _rejects_writer(rejects, state, summary.run_id)
        stack.callback(writer.close)
        journal = stack.enter_context(Journal(state / JOURNAL_FILE))
        sink: Sink
        ready: Callable[[], None] | None = None  # once every input is open
        if secret is None:
            sink = DryRunSink(summary, config, output)
        else:
            clock = run_clock(summary.now if now is not None else None)
            journal.prune(min(time.time(), clock()) - PRUNE_DAYS * 86400)
            stop = threading.Event()
            retry = progress.retry if progress is not None else None
            client = stack.enter_context(
                _client(config, secret, proof_key, tuning, stop=stop, on_retry=retry, clock=clock)
            )
            ready = functools.partial(_check_expiry, client, clock, notes)
            sink = UploadSink(summary, config, client, journal, writer, stop, clock)
        keep = None if force else journal_filter(journal, summary)
        try:
            try:
                _run(
                    config, summary, sink, writer, fmt, keep, progress, stdin, tuning, notes, ready
                )
                journal.keep_in_place()  # deleted after the last batch: put back now
            finally:
                for notice in journal.notices:
                    notes.warn(notice)
            return _finish(summary, config, notes)
        finally:
            if secret is not None and summary.exit_code is not None:
                journal.record_run(summary.run_id, summary.started_at, summary.to_dict())


def quality(
    config: Settings,
    dataset_ids: Sequence[str] = (),
    *,
    token: str | Secret | None = None,
    app_secret: str | Secret | None = None,
    meta: bool = True,
    state_dir: str | Path | None = None,
    now: Now = None,
    tuning: Tuning = DEFAULT_TUNING,
) -> QualityReport:
    """Meta's offline data-quality scores of each dataset (``dataset_ids``, else every
    dataset of the config) beside fbocli's own figures for the same factors, from the
    journal in ``state_dir``: upload days in the last 14, event-to-upload lag, Purchases
    with a value, match-key coverage, events per order (over 28 days up to ``now``).

    ``token``/``app_secret`` as for :func:`upload`; ``meta=False`` asks Meta nothing (no
    token needed): the journal's figures only. A dataset Meta has no scores for is "not
    available" with Meta's reason, not an error; AuthError when the token is refused.
    """
    from fbocli.scores import DatasetQuality, QualityReport, dataset_scores

    ids = _dataset_ids(dataset_ids, config)
    moment = unix_time(now)
    state = resolve_state_dir(state_dir)
    path = state / JOURNAL_FILE
    tallies = {ds: Tally(upload_days=()) for ds in ids}
    if path.exists():
        with Journal(path) as journal:
            tallies = {ds: journal.tally(ds, moment) for ds in ids}
    scores = {}
    if meta:
        secret, proof_key = _token(token), _app_secret(app_secret, token)
        with _client(config, secret, proof_key, tuning) as client:
            scores = {ds: dataset_scores(client, ds) for ds in ids}
    return QualityReport(
        now=moment,
        api_version=config.destination.api_version,
        journal=str(path) if path.exists() else None,
        datasets=tuple(DatasetQuality(ds, scores.get(ds), tallies[ds]) for ds in ids),
    )


def _dataset_ids(named: Sequence[str], config: Settings) -> tuple[str, ...]:
    """The datasets named (digit strings), else the config's."""
    ids = tuple(dict.fromkeys(str(ds).strip() for ds in named))
    bad = [ds for ds in ids if not is_dataset_id(ds)]
    if bad:
        raise UsageError(
            f"dataset IDs are digit strings (ASCII 0-9): {', '.join(repr(ds) for ds in bad)}",
            hint="for example: fbocli quality 1234567890123456",
        )
    ids = ids or config.dataset_ids
    if not ids:
        raise UsageError(
            "no dataset: name one, or map events to datasets in the configuration",
            hint="fbocli quality DATASET_ID, or fbocli quality -c fbocli.toml",
        )
    return ids


def with_overrides(
    config: Settings,
    workers: int | None = None,
    batch_size: int | None = None,
    test_event_code: str | None = None,
) -> Settings:
    """The settings with a run's overrides of ``[upload]``/``[destination]``, checked."""
    problems = []
    limit = config.destination.max_batch_size
    if batch_size is not None and not 1 <= batch_size <= limit:
        problems.append(f"--batch-size must be between 1 and {limit}, got {batch_size}")
    if workers is not None and not 1 <= workers <= 32:
        problems.append(f"--workers must be between 1 and 32, got {workers}")
    if problems:
        raise UsageError("; ".join(problems))
    upload_settings = dataclasses.replace(
        config.upload,
        batch_size=batch_size or config.upload.batch_size,
        workers=workers or config.upload.workers,
    )
    destination = config.destination
    if test_event_code is not None:
        destination = dataclasses.replace(destination, test_event_code=test_event_code)
    return dataclasses.replace(config, upload=upload_settings, destination=destination)


def _begin(
    config: Settings,
    paths: Sequence[str | Path],
    now: Now,
    warn: Warn | None,
    *,
    dry_run: bool,
    validate: bool,
    strict: bool,
) -> tuple[RunSummary, _Notes]:
    """A run's summary (its inputs expanded: folders, globs, each file once) and notes,
    with what to say before anything is read."""
    destination = config.destination
    found = expand_inputs([str(path) for path in paths])
    summary = RunSummary(
        dry_run=dry_run,
        validate=validate,
        strict=strict,
        offline=destination.api == "offline",
        now=unix_time(now),
        inputs=found.paths,
        api_version=destination.api_version,
        test_event_code=destination.test_event_code or None,
    )
    notes = _Notes(summary, warn)
    for note in found.notes:
        notes.warn(note)
    _start(config, notes)
    return summary, notes


class _Notes:
    """Warnings: said as they arise (``warn``), and kept in the summary."""

    def __init__(self, summary: RunSummary, warn: Warn | None) -> None:
        self.summary = summary
        self._warn = warn

    def warn(self, message: str) -> None:
        self.summary.warnings.append(message)
        if self._warn is not None:
            self._warn(message)


def _start(config: Settings, notes: _Notes) -> None:
    """What to say before a run reads anything (and a graph_url that no config check saw,
    in settings made by hand, checked as a configured one is)."""
    destination = config.destination
    check_graph_url(destination.graph_url, "[destination] graph_url")
    if destination.api == "offline" and destination.targets_meta:
        notes.warn(LEGACY_WARNING)
    expiring = expiry_warning(destination.api_version, datetime.now(UTC).date())
    if expiring is not None:
        notes.warn(f"{expiring}: set api_version in [destination] of the configuration")
    if destination.test_event_code and destination.api == "conversions":
        notes.warn(
            f"test event code {destination.test_event_code}: Meta processes test events "
            "like real ones (they count in its measurement); they are journaled, so a "
            "later upload skips them as already sent (--force sends them again)"
        )


def _run(
    config: Settings,
    summary: RunSummary,
    sink: Sink,
    rejects: RejectsWriter,
    fmt: Format,
    keep: Callable[[str, list[Event]], list[Event]] | None,
    progress: Progress | None,
    stdin: BinaryIO | None,
    tuning: Tuning,
    notes: _Notes,
    ready: Callable[[], None] | None = None,
) -> None:
    try:
        run(
            config,
            summary.inputs,
            fmt=fmt,
            summary=summary,
            sink=sink,
            rejects=rejects,
            keep=keep,
            progress=progress.update if progress is not None else None,
            stdin=stdin,
            tuning=tuning,
            ready=ready,
            warn=notes.warn,
        )
    except FbocliError as error:
        if isinstance(error, InputError) and summary.sent and not summary.dry_run:
            _sent_before(error, summary.sent)
        summary.finish(error.exit_status)
        if summary.read:  # stopped part-way: what was delivered and what was not
            error.summary = summary
        raise


def _sent_before(error: InputError, sent: int) -> None:
    """An input that fails once events were sent (a half-written ``.gz``, a file cut while
    it was read) is no longer "nothing was sent" (exit 2): exit 1, saying what was sent."""
    error.exit_status = ExitStatus.FAILURE
    error.message += (
        f"; {sent:,} events were sent before it (they are journaled: the same command, run "
        "again once the input is whole, skips them and sends the rest)"
    )


def _finish(summary: RunSummary, config: Settings, notes: _Notes) -> RunSummary:
    """What to say after a run, and its exit status."""
    for path in summary.empty_inputs:
        notes.warn(f"{path}: no records (the input is empty)")
    names = {*config.events, *config.lead_events, *config.registration_events}
    folded = {name.casefold(): name for name in names}
    for unmapped in summary.unmapped:
        close = folded.get(unmapped.casefold()) or next(
            iter(difflib.get_close_matches(unmapped, names, n=1, cutoff=0.75)), None
        )
        if close is not None:
            summary.suggestions[unmapped] = close
    for code, n in summary.test_events.most_common():
        notes.warn(
            f"{n} of the events already sent were sent as test events with code {code}: Meta "
            "processed them like real ones; --force sends them again"
        )
    summary.finish(summary.exit_status())
    return summary


def _rejects_writer(rejects: str | Path | None, state: Path, run_id: str) -> RejectsWriter:
    if rejects:
        return RejectsWriter(Path(rejects))
    return RejectsWriter(default_rejects_path(state, run_id))


def _token(token: str | Secret | None, notes: _Notes | None = None) -> Secret:
    """The token given (a string is checked as every token is), else the stored one."""
    if isinstance(token, Secret) and token:
        return token
    if isinstance(token, str) and token.strip():
        return _cleaned(Secret(token, "the token given"), "the token given", notes)
    resolved = resolve_token({})
    if resolved is None:
        raise AuthError(
            "no access token",
            hint="run `fbocli auth` to set one up, or set "
            "FBOCLI_ACCESS_TOKEN (a dry run needs none: --dry-run)",
        )
    return resolved.secret


def _cleaned(secret: Secret, what: str, notes: _Notes | None) -> Secret:
    note = secret.cleanup_note(what)
    if note is not None and notes is not None:
        notes.warn(note)
    return secret


def _app_secret(
    app_secret: str | Secret | None, token: str | Secret | None, notes: _Notes | None = None
) -> Secret | None:
    """The app secret given, else the stored one when the token is the stored one too."""
    if isinstance(app_secret, Secret):
        return app_secret or None
    if isinstance(app_secret, str) and app_secret.strip():
        return _cleaned(Secret(app_secret, "the app secret given"), "the app secret given", notes)
    if token is None or (isinstance(token, str | Secret) and not token):
        resolved = resolve_app_secret({})
        return resolved.secret if resolved is not None else None
    return None


def _check_expiry(client: GraphClient, clock: Callable[[], float], notes: _Notes) -> None:
    """Warn at the start of an upload when the token expires within a week."""
    from fbocli.auth import expiry_warning

    warning = expiry_warning(client, clock())
    if warning is not None:
        notes.warn(warning)


def _client(
    config: Settings,
    token: Secret,
    app_secret: Secret | None,
    tuning: Tuning,
    *,
    stop: threading.Event | None = None,
    on_retry: Callable[[float, str], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> GraphClient:
    """``clock``: the run's time (what Meta's Date header is compared with, when Meta
    refuses events for their time)."""
    from fbocli.graph import GraphClient, RetryPolicy

    def wait(seconds: float) -> None:
        """Backoff waits end at once when the run stops (Ctrl-C or a fatal error)."""
        if stop is not None and stop.wait(seconds):
            raise Abandoned()
        if stop is None:
            time.sleep(seconds)

    return GraphClient(
        graph_url=config.destination.graph_url,
        api_version=config.destination.api_version,
        token=token,
        app_secret=app_secret,
        timeout=config.upload.timeout_seconds,
        policy=RetryPolicy.for_run(config.upload.max_retries, tuning.backoff_scale),
        pool_size=config.upload.workers,
        sleep=wait,
        on_retry=on_retry,
        run_clock=clock,
    )
