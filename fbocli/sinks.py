"""Where batches go: counted only (validate), written as requests (dry run), or sent."""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Protocol

from fbocli.batching import Keep
from fbocli.errors import FbocliError, StateError
from fbocli.graph import GraphClient
from fbocli.journal import Journal
from fbocli.mapping import Conversion
from fbocli.payload import EventBuilder, request_body, request_url
from fbocli.rejects import RejectsWriter
from fbocli.report import RunStats
from fbocli.settings import Settings


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
        self._own = False
        self._out: IO[str] | None = None
        if output == "-":
            self._out = stdout
        elif output:
            try:
                Path(output).parent.mkdir(parents=True, exist_ok=True)
                self._out = open(output, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise StateError(f"cannot write --output {output}: {exc.strerror or exc}") from None
            self._own = True

    def submit(self, dataset_id: str, batch: list[Conversion]) -> None:
        if self._out is not None:
            line = {
                "url": request_url(self.settings, dataset_id),
                "body": request_body(self.extra, [self.build(c) for c in batch]),
            }
            self._out.write(json.dumps(line, separators=(",", ":")) + "\n")
        super().submit(dataset_id, batch)

    def close(self) -> None:
        if self._own and self._out is not None:
            self._out.close()

    def abort(self) -> None:
        self.close()


class Abandoned(Exception):
    """Raised inside a worker's backoff wait once the run is stopping (Ctrl-C or fatal)."""


class UploadSink:
    """`upload`: batches go to Meta from ``workers`` threads; acknowledged ones are journaled.

    Back-pressure: at most ``2 x workers`` batches are queued or in flight, so memory stays
    bounded however large the input is.
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
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fbocli-send")
        self._slots = threading.BoundedSemaphore(2 * workers)
        self._futures: dict[Future[None], tuple[str, list[Conversion]]] = {}
        self._futures_lock = threading.Lock()
        self._fatal: FbocliError | None = None
        self._run_id = uuid.uuid4().hex[:12]
        self._batch_no = itertools.count(1)

    def submit(self, dataset_id: str, batch: list[Conversion]) -> None:
        self._raise_fatal()
        self._slots.acquire()
        batch_id = f"{self._run_id}-{next(self._batch_no)}"
        future = self._executor.submit(self._send, dataset_id, batch, batch_id)
        with self._futures_lock:
            self._futures[future] = (dataset_id, batch)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._futures_lock:
            dataset_id, batch = self._futures.pop(future, ("", []))
        if future.cancelled():  # abandoned at Ctrl-C before it started
            self._fail(dataset_id, batch, "not sent: the run was stopped")
        self._slots.release()

    def _send(self, dataset_id: str, batch: list[Conversion], batch_id: str) -> None:
        if self.stop.is_set():
            self._fail(dataset_id, batch, "not sent: the run was stopped")
            return
        events = [self.build(c) for c in batch]
        try:
            result = self.client.send_events(
                dataset_id, events, extra=self.extra, api=self.settings.destination.api
            )
        except Abandoned:
            self._fail(dataset_id, batch, "not sent: the run was stopped")
            return
        except FbocliError as error:  # auth or API version: the whole run stops
            with self._futures_lock:
                self._fatal = self._fatal or error
            self.stop.set()
            self._fail(dataset_id, batch, f"not sent: {error.message}")
            return
        except Exception as exc:  # a bug must not lose the count of a batch
            self._fail(dataset_id, batch, f"not sent: internal error {exc.__class__.__name__}")
            raise
        delivered = [batch[i] for i in result.delivered]
        # Journal only what Meta acknowledged, in one durable transaction.
        self.journal.record(dataset_id, [(c.event_name, c.event_id) for c in delivered], batch_id)
        with self.stats.lock:
            self.stats.batches += 1
            self.stats.retries += result.retries
        self.stats.result(dataset_id, "sent", len(delivered))
        for index, message in result.rejected:
            conv = batch[index]
            self.rejects.write(conv.source, conv.line, "api_rejected", message, events[index])
            self.stats.api_rejected_example(conv, message)
        self.stats.result(dataset_id, "api_rejected", len(result.rejected))
        if result.failed:
            with self.stats.lock:
                for _, reason in result.failed:
                    self.stats.failures[reason] += 1
            self.stats.result(dataset_id, "failed", len(result.failed))

    def _fail(self, dataset_id: str, batch: list[Conversion], reason: str) -> None:
        with self.stats.lock:
            self.stats.failures[reason] += len(batch)
        self.stats.result(dataset_id, "failed", len(batch))

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._raise_fatal()

    def abort(self) -> None:
        self.stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)


def journal_filter(journal: Journal, stats: RunStats) -> Keep:
    """The batcher's filter: drop events the journal says were delivered (`already_sent`)."""

    def keep(dataset_id: str, pending: list[Conversion]) -> list[Conversion]:
        sent = journal.already_sent(dataset_id, [(c.event_name, c.event_id) for c in pending])
        if not sent:
            return pending
        kept = [c for c in pending if (c.event_name, c.event_id) not in sent]
        stats.result(dataset_id, "already_sent", len(pending) - len(kept))
        return kept

    return keep
