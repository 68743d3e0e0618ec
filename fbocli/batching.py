"""Group events into per-dataset batches of at most ``batch_size``."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fbocli.mapping.message import Event

Emit = Callable[[str, list[Event]], None]
Keep = Callable[[str, list[Event]], list[Event]]


class Batcher:
    """Buffers per dataset; memory is bounded by datasets x batch_size.

    ``keep`` (the journal's filter) runs on a full buffer before it is emitted, so events
    already sent are dropped and batches stay full on a re-run.
    """

    def __init__(self, batch_size: int, emit: Emit, keep: Keep | None = None) -> None:
        self.batch_size = batch_size
        self._emit = emit
        self._keep = keep
        self._pending: dict[str, list[Event]] = {}

    def extend(self, events: Iterable[Event]) -> None:
        """Add events in order, emitting every batch that fills up."""
        pending_of = self._pending
        for event in events:
            dataset_id = event.dataset_id
            pending = pending_of.get(dataset_id)
            if pending is None:
                pending = pending_of[dataset_id] = []
            pending.append(event)
            if len(pending) >= self.batch_size:
                self._drain(dataset_id, final=False)

    def flush(self) -> None:
        """Emit what is left (the end of the input)."""
        for dataset_id in list(self._pending):
            self._drain(dataset_id, final=True)

    def _drain(self, dataset_id: str, *, final: bool) -> None:
        pending = self._pending[dataset_id]
        if self._keep is not None:
            pending = self._keep(dataset_id, pending)
        size = self.batch_size
        while len(pending) >= size or (final and pending):
            batch, pending = pending[:size], pending[size:]
            self._emit(dataset_id, batch)
        self._pending[dataset_id] = pending
