"""`upload`: batches go to Meta from worker threads; acknowledged events are journaled."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from fbocli.batching import Keep
from fbocli.errors import FbocliError
from fbocli.journal import Journal
from fbocli.mapping.message import Event
from fbocli.rejects import RejectsWriter
from fbocli.secret import redact
from fbocli.settings import Settings
from fbocli.sinks import body_extra
from fbocli.stats import STOPPED, RunSummary

if TYPE_CHECKING:  # requests (~0.1 s to import) loads only when a run talks to Meta.
    from concurrent.futures import Future

    from fbocli.graph import BatchResult, Failure, GraphClient


class Abandoned(Exception):
    """Raised inside a worker's backoff wait once the run is stopping (Ctrl-C or fatal)."""


class UploadSink:
    """`upload`: batches go to Meta from ``workers`` threads; acknowledged ones are journaled.

    Back-pressure: at most ``2 x workers`` batches are queued or in flight, so memory stays
    bounded however large the input is. Every event of a submitted batch ends up counted
    exactly once (sent, api_rejected or failed), whatever stops the run.
    """

    def __init__(
        self,
        summary: RunSummary,
        settings: Settings,
        client: GraphClient,
        journal: Journal,
        rejects: RejectsWriter,
        stop: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock``: the run's time, which the journal records with each batch."""
        self.summary = summary
        self.settings = settings
        self.client = client
        self.journal = journal
        self.extra = body_extra(settings)
        self.rejects = rejects
        self.stop = stop
        self.clock = clock
        workers = settings.upload.workers
        from concurrent.futures import ThreadPoolExecutor  # (~7 ms: uploads only)

        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fbocli-send")
        self._slots = threading.BoundedSemaphore(2 * workers)
        self._futures: dict[Future[None], tuple[str, list[Event]]] = {}
        self._futures_lock = threading.Lock()
        self._fatal: FbocliError | None = None
        self._run_id = summary.run_id
        self._batch_no = itertools.count(1)

    @property
    def fatal(self) -> FbocliError | None:
        """The error that stopped the run (auth, API version, journal), if any."""
        return self._fatal

    def submit(self, dataset_id: str, batch: list[Event]) -> None:
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
            from fbocli.graph import Failure

            self._fail(dataset_id, len(batch), Failure(STOPPED))
        self._slots.release()

    def _send(self, dataset_id: str, batch: list[Event], batch_id: str) -> None:
        from fbocli.graph import BatchResult, Failure

        if self.stop.is_set():
            self._fail(dataset_id, len(batch), Failure(STOPPED))
            return

        result = BatchResult()  # filled as Meta answers, so a bisection cut short keeps its part
        unsettled = STOPPED
        try:
            self.client.send_events(
                dataset_id,
                [event.wire for event in batch],
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
            text = redact(" ".join(str(exc).split()))[:300]
            unsettled = f"not sent: internal error {exc.__class__.__name__}: {text}"
        self._settle(dataset_id, batch, batch_id, result, Failure(unsettled))

    def _settle(
        self,
        dataset_id: str,
        batch: list[Event],
        batch_id: str,
        result: BatchResult,
        unsettled: Failure,
    ) -> None:
        """Journal what Meta acknowledged, then count every event of the batch once."""
        delivered = [batch[i] for i in result.delivered]
        try:
            # Journal only what Meta acknowledged, in one durable transaction: each event
            # with its time and facts (fbocli quality), never its content.
            self.journal.record(
                dataset_id,
                [(e[1], e[2], e[3], e[7]) for e in delivered],  # name, id, time, facts
                batch_id,
                self.clock(),
                test_event_code=self.extra.get("test_event_code"),
            )
        except FbocliError as error:  # delivered but not journaled: a re-run resends them
            self._set_fatal(error)
        with self.summary.lock:
            if result.delivered or result.rejected:
                self.summary.batches += 1
            self.summary.retries += result.retries
        self.summary.result(dataset_id, "sent", len(delivered))
        for index, message in result.rejected:
            event = batch[index]
            try:
                self.rejects.write(
                    event.source, event.line, "api_rejected", message, event.to_dict()
                )
            except FbocliError as error:  # a full disk: stop the run; the counts stay whole
                self._set_fatal(error)
            self.summary.api_rejected_example(event.source, event.line, message)
        self.summary.result(dataset_id, "api_rejected", len(result.rejected))
        for _, failure in result.failed:
            self._fail(dataset_id, 1, failure)
        settled = len(result.delivered) + len(result.rejected) + len(result.failed)
        self._fail(dataset_id, len(batch) - settled, unsettled)

    def _fail(self, dataset_id: str, n: int, failure: Failure) -> None:
        info = failure.info
        if info is None:
            self.summary.fail(dataset_id, n, failure.reason)
        else:
            self.summary.fail(
                dataset_id, n, failure.reason, info.code, info.subcode, info.fbtrace_id
            )

    def _set_fatal(self, error: FbocliError) -> None:
        with self._futures_lock:
            self._fatal = self._fatal or error
        self.stop.set()

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def close(self) -> None:
        """Wait for every batch to be settled. On the batches' futures, not on the threads:
        a Ctrl-C that interrupts CPython's wait for a thread (Thread.join) can leave that
        thread taken for finished while it still sends, and abort() would then count its
        batch a second time."""
        from concurrent.futures import wait

        with self._futures_lock:
            pending = list(self._futures)
        wait(pending)
        self._executor.shutdown(wait=True)  # (every thread is idle by now)
        self._raise_fatal()

    def abort(self) -> None:
        """Stop: queued batches are cancelled (counted failed), in-flight ones finish or
        are abandoned at their next backoff wait; returns once every worker is done."""
        self.stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)


def journal_filter(journal: Journal, summary: RunSummary) -> Keep:
    """The batcher's filter: drop events the journal says were delivered (`already_sent`)."""

    def keep(dataset_id: str, pending: list[Event]) -> list[Event]:
        if not journal.has_rows(dataset_id):  # a first run: no keys to build and look up
            return pending
        sent = journal.already_sent(dataset_id, [(e.event_name, e.event_id) for e in pending])
        if not sent:
            return pending
        kept = [e for e in pending if (e.event_name, e.event_id) not in sent]
        summary.result(dataset_id, "already_sent", len(pending) - len(kept))
        for code in sent.values():
            if code:
                with summary.lock:
                    summary.test_events[code] += 1
        return kept

    return keep
