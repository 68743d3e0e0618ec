"""Batching: per-dataset batches of at most ``batch_size``, in input order, full after the
journal's filter; how the events arrive (chunk boundaries) never changes the batches."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fbocli.batching import Batcher
from fbocli.mapping.message import Event


def _event(dataset_id: str, n: int) -> Event:
    return Event((dataset_id, "Purchase", f"e{n}", 0, b"{}", "f", n))


def _batches(
    events: list[Event], size: int, drop: set[int], cuts: list[int]
) -> list[tuple[str, list[str]]]:
    emitted: list[tuple[str, list[str]]] = []
    batcher = Batcher(
        size,
        lambda ds, batch: emitted.append((ds, [e.event_id for e in batch])),
        lambda ds, pending: [e for e in pending if e.line not in drop],
    )
    bounds = [0, *sorted(cuts), len(events)]
    for start, end in itertools.pairwise(bounds):
        batcher.extend(events[start:end])
    batcher.flush()
    return emitted


@settings(max_examples=300, deadline=None)
@given(
    datasets=st.lists(st.sampled_from("abc"), max_size=60),
    size=st.integers(1, 7),
    cuts=st.lists(st.integers(0, 60), max_size=5),
    drop=st.sets(st.integers(0, 60)),
)
def test_batches_do_not_depend_on_how_the_events_arrive(
    datasets: list[str], size: int, cuts: list[int], drop: set[int]
) -> None:
    events = [_event(ds, n) for n, ds in enumerate(datasets)]
    got = _batches(events, size, drop, cuts)
    assert got == _batches(events, size, drop, [])  # one block
    assert got == _batches(events, size, drop, list(range(len(events))))  # one at a time
    for dataset in "abc":
        mine = [batch for ds, batch in got if ds == dataset]
        kept = [e.event_id for e in events if e.dataset_id == dataset and e.line not in drop]
        assert [i for batch in mine for i in batch] == kept  # in order, each kept one once
        assert all(len(batch) == size for batch in mine[:-1])  # only the last one is short
        assert all(0 < len(batch) <= size for batch in mine)


def test_the_filter_runs_on_a_full_buffer_so_batches_stay_full() -> None:
    seen: list[int] = []
    emitted: list[Any] = []

    def keep(dataset_id: str, pending: list[Event]) -> list[Event]:
        seen.append(len(pending))
        return [e for e in pending if e.line % 2]

    batcher = Batcher(4, lambda ds, batch: emitted.append([e.line for e in batch]), keep)
    batcher.extend(_event("a", n) for n in range(20))
    batcher.flush()
    assert emitted == [[1, 3, 5, 7], [9, 11, 13, 15], [17, 19]]
    assert seen[0] == 4
