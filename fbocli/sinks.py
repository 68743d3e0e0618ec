"""Where batches go: counted only (validate), written as requests (dry run), or sent."""

from __future__ import annotations

import itertools
import json
import re
import threading
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from fbocli import wire
from fbocli.batching import Keep
from fbocli.errors import FbocliError, LocalWriteError, StateError
from fbocli.journal import Journal
from fbocli.mapping import Conversion
from fbocli.parallel import Serializer, serializer
from fbocli.payload import EventBuilder, request_url
from fbocli.rejects import RejectsWriter
from fbocli.report import RunStats
from fbocli.settings import Settings

if TYPE_CHECKING:  # requests (~0.1 s to import) loads only when a command talks to Meta.
    from concurrent.futures import Future

    from fbocli.graph import BatchResult, GraphClient, WireEvent


class Sink(Protocol):
    def submit(self, dataset_id: str, batch: list[Conversion]) -> None:
        """Take one batch; may block to keep memory bounded."""

    def close(self) -> None:
        """Wait for everything submitted; called once at the end of a run."""

    def abort(self) -> None:
        """Stop quickly (Ctrl-C): finish or abandon in-flight work, keep state consistent."""


class CountingSink:
    """`validate`: every batch counts as what would be sent."""

    def __init__(self, stats: RunStats) -> None:
        self.stats = stats

    def submit(self, dataset_id: str, batch: list[Conversion]) -> None:
        self.stats.batches += 1
        self.stats.result(dataset_id, "sent", len(batch))

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class DryRunSink(CountingSink):
    """`upload --dry-run`: each request that would be sent, as one JSON line (no token)."""

    def __init__(
        self,
        stats: RunStats,
        settings: Settings,
        build: EventBuilder,
        extra: dict[str, object],
        output: str | None,
        stdout: IO[str],
    ) -> None:
        super().__init__(stats)
        self.settings = settings
        self.build = build
        self.extra = extra
        # Request lines are bytes (the bodies' exact bytes); standard output takes text.
        self._out: IO[bytes] | None = None
        self._stdout: IO[str] | None = None
        if output == "-":
            self._stdout = stdout
        elif output:
            try:
                Path(output).parent.mkdir(parents=True, exist_ok=True)
                self._out = open(output, "wb")  # noqa: SIM115
            except OSError as exc:
                raise StateError(f"cannot write --output {output}: {exc.strerror or exc}") from None

    def serializer(self) -> Serializer | None:
        """How mapping workers pre-serialize events for this sink (None: not needed)."""
        return serializer(self.build) if self._writes else None

    @property
    def _writes(self) -> bool:
        return self._out is not None or self._stdout is not None

    def submit(self, dataset_id: str, batch: list[Conversion]) -> None:
        if self._writes:
            self._write(self._request_line(dataset_id, batch))
        super().submit(dataset_id, batch)

    def _request_line(self, dataset_id: str, batch: list[Conversion]) -> tuple[bytes, ...]:
        """``{"url": ..., "body": ...}`` and a newline, in pieces (the body is not copied).

        Events the mapping workers pre-serialized are spliced in; the rest are encoded
        here by the same function, so the bytes never depend on the path.
        """
        events = [c.wire if c.wire is not None else wire.dumps(self.build(c)) for c in batch]
        url = wire.dumps(request_url(self.settings, dataset_id))
        return b'{"url":' + url + b',"body":', wire.body(self.extra, events), b"}\n"

    def _write(self, pieces: tuple[bytes, ...]) -> None:
        try:
            if self._out is not None:
                for piece in pieces:
                    self._out.write(piece)
            elif self._stdout is not None:
                self._stdout.write(b"".join(pieces).decode())
        except OSError as exc:
            raise LocalWriteError(f"cannot write --output: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._out is not None and not self._out.closed:
            try:
                self._out.close()
            except OSError as exc:
                raise LocalWriteError(f"cannot write --output: {exc.strerror or exc}") from None

    def abort(self) -> None:
        self.close()


class Abandoned(Exception):
    """Raised inside a worker's backoff wait once the run is stopping (Ctrl-C or fatal)."""


STOPPED = "not sent: the run was stopped"
REASON_LIMIT = 100

_TRACE = re.compile(r",? ?fbtrace_id [^,)\s]+")
_LONG_DETAIL = re.compile(r"(not visible to this token): .*(\((?:code|HTTP) [^()]*\))$", re.S)


def short_reason(reason: str) -> str:
    """A failure reason fit for the summary table: no per-request ids, bounded length.

    Per-request details (fbtrace_id, URLs) would split one cause into many rows, so they
    are dropped; the result is at most ``REASON_LIMIT`` characters.
    """
    text = _TRACE.sub("", reason)
    text = _LONG_DETAIL.sub(r"\1 \2", text)
    text = " ".join(text.split())
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


class UploadSink:
    """`upload`: batches go to Meta from ``workers`` threads; acknowledged ones are journaled.

    Back-pressure: at most ``2 x workers`` batches are queued or in flight, so memory stays
    bounded however large the input is. Every event of a submitted batch ends up counted
    exactly once (sent, api_rejected or failed), whatever stops the run.
    """

    def __init__(
        self,
        stats: RunStats,
        settings: Settings,
        client: GraphClient,
        journal: Journal,
        build: EventBuilder,
        extra: dict[str, object],
        rejects: RejectsWriter,
        stop: threading.Event,
    ) -> None:
        self.stats = stats
        self.settings = settings
        self.client = client
        self.journal = journal
        self.build = build
        self.extra = extra
        self.rejects = rejects
        self.stop = stop
        workers = settings.upload.workers
        from concurrent.futures import ThreadPoolExecutor  # (~7 ms: uploads only)

        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fbocli-send")
        self._slots = threading.BoundedSemaphore(2 * workers)
        self._futures: dict[Future[None], tuple[str, list[Conversion]]] = {}
        self._futures_lock = threading.Lock()
        self._fatal: FbocliError | None = None
        self._run_id = uuid.uuid4().hex[:12]
        self._batch_no = itertools.count(1)

    @property
    def fatal(self) -> FbocliError | None:
        """The error that stopped the run (auth, API version, journal), if any."""
        return self._fatal

    def submit(self, dataset_id: str, batch: list[Conversion]) -> None:
        self._raise_fatal()
        self._slots.acquire()  # blocks while 2 x workers batches are pending: back-pressure
        if self._fatal is not None:
            self._slots.release()
            self._raise_fatal()
        batch_id = f"{self._run_id}-{next(self._batch_no)}"
        future = self._executor.submit(self._send, dataset_id, batch, batch_id)
        with self._futures_lock:
            self._futures[future] = (dataset_id, batch)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._futures_lock:
            dataset_id, batch = self._futures.pop(future, ("", []))
        if future.cancelled():  # abandoned at Ctrl-C before it started
            self._fail(dataset_id, len(batch), STOPPED)
        self._slots.release()

    def _send(self, dataset_id: str, batch: list[Conversion], batch_id: str) -> None:
        if self.stop.is_set():
            self._fail(dataset_id, len(batch), STOPPED)
            return
        from fbocli.graph import BatchResult

        events: list[WireEvent] = [c.wire if c.wire is not None else self.build(c) for c in batch]
        result = BatchResult()  # filled as Meta answers, so a bisection cut short keeps its part
        unsettled = STOPPED
        try:
            self.client.send_events(
                dataset_id,
                events,
                extra=self.extra,
                api=self.settings.destination.api,
                result=result,
            )
        except Abandoned:
            pass
        except FbocliError as error:  # auth or API version: the whole run stops
            self._set_fatal(error)
            unsettled = f"not sent: {error.message}"
        except Exception as exc:  # a bug must not lose the count of a batch
            unsettled = f"not sent: internal error {exc.__class__.__name__}: {exc}"
        self._settle(dataset_id, batch, events, batch_id, result, unsettled)

    def _settle(
        self,
        dataset_id: str,
        batch: list[Conversion],
        events: list[WireEvent],
        batch_id: str,
        result: BatchResult,
        unsettled: str,
    ) -> None:
        """Journal what Meta acknowledged, then count every event of the batch once."""
        delivered = [batch[i] for i in result.delivered]
        try:
            # Journal only what Meta acknowledged, in one durable transaction.
            self.journal.record(
                dataset_id, [(c.event_name, c.event_id) for c in delivered], batch_id
            )
        except FbocliError as error:  # delivered but not journaled: a re-run resends them
            self._set_fatal(error)
        with self.stats.lock:
            if result.delivered or result.rejected:
                self.stats.batches += 1
            self.stats.retries += result.retries
        self.stats.result(dataset_id, "sent", len(delivered))
        for index, message in result.rejected:
            conv = batch[index]
            event = events[index]
            record = json.loads(event) if isinstance(event, bytes) else event
            try:
                self.rejects.write(conv.source, conv.line, "api_rejected", message, record)
            except FbocliError as error:  # a full disk: stop the run; the counts stay whole
                self._set_fatal(error)
            self.stats.api_rejected_example(conv, message)
        self.stats.result(dataset_id, "api_rejected", len(result.rejected))
        for _, reason in result.failed:
            self._fail(dataset_id, 1, reason)
        settled = len(result.delivered) + len(result.rejected) + len(result.failed)
        self._fail(dataset_id, len(batch) - settled, unsettled)

    def _fail(self, dataset_id: str, n: int, reason: str) -> None:
        if n <= 0:
            return
        with self.stats.lock:
            self.stats.failures[short_reason(reason)] += n
        self.stats.result(dataset_id, "failed", n)

    def _set_fatal(self, error: FbocliError) -> None:
        with self._futures_lock:
            self._fatal = self._fatal or error
        self.stop.set()

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def serializer(self) -> Serializer:
        """Mapping workers pre-serialize events exactly as GraphClient would."""
        return serializer(self.build)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._raise_fatal()

    def abort(self) -> None:
        """Stop: queued batches are cancelled (counted failed), in-flight ones finish or
        are abandoned at their next backoff wait; returns once every worker is done."""
        self.stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)


def journal_filter(journal: Journal, stats: RunStats) -> Keep:
    """The batcher's filter: drop events the journal says were delivered (`already_sent`)."""

    def keep(dataset_id: str, pending: list[Conversion]) -> list[Conversion]:
        if not journal.has_rows(dataset_id):  # a first run: no keys to build and look up
            return pending
        sent = journal.already_sent(dataset_id, [(c.event_name, c.event_id) for c in pending])
        if not sent:
            return pending
        kept = [c for c in pending if (c.event_name, c.event_id) not in sent]
        stats.result(dataset_id, "already_sent", len(pending) - len(kept))
        return kept

    return keep
