"""Within one run, an event is sent once (mapping.md section 6).

A second event with the same (dataset, event name, event_id) as an earlier one of the
run is a duplicate, wherever it is in the input and whatever the batch size: the same
order in two overlapping exports, or a Segment message exported twice.

Memory is what matters here: a set of every key would hold three strings and a tuple
per event (~200 bytes; 200 MB for a million events). :class:`SeenEvents` keeps a 64-bit
fingerprint of each key instead, in one flat table of 8-byte slots filled at most to
70% (made about as large as the inputs' size says, in powers of two, doubled when
full): 11 to 23 bytes per event (16 MB at a million), no Python object per event.
The fingerprint is Python's hash of the key, a 64-bit SipHash keyed at random per
process: two different keys share one with a probability of about n²/2⁶⁵ for n
events in a run (3·10⁻⁸ at a million, 3·10⁻⁴ at a hundred million); when it happens,
the later event is taken for a duplicate of the earlier one. docs/mapping.md states
this limit.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from fbocli.chunks import Mapped
from fbocli.mapping.message import Event
from fbocli.stats import RunSummary

_KEY: Callable[[Event], Any] = itemgetter(slice(0, 3))  # (dataset_id, event_name, event_id)
_SMALLEST = 1 << 16  # slots of the smallest table (512 KB); a power of two, always
LARGEST_FIRST = 1 << 21  # slots of the largest table made up front (16 MB)
_MAX_LOAD = 0.7  # grow (double) beyond this share of slots filled


def _wide_hash(key: tuple[str, str, str]) -> int:
    """A 64-bit fingerprint where ``hash`` has only 32 bits (a 32-bit Python)."""
    return (hash(key) << 32) ^ (hash((key, 1)) & 0xFFFFFFFF)


class SeenEvents:
    """The fingerprints of every event of a run so far, in an open-addressing table
    (linear probing; 0 marks an empty slot).

    ``expected``: about how many events the run will have (from the inputs' sizes), so
    the table is made about as large as it needs (at most ``LARGEST_FIRST`` slots up
    front) and rarely has to grow.
    """

    def __init__(self, expected: int = 0) -> None:
        size = _SMALLEST
        while size < LARGEST_FIRST and size * _MAX_LOAD < expected:
            size *= 2
        self._size = size
        self._table = array("q", [0]) * self._size
        self._count = 0
        self._hash: Callable[[Any], int] = hash if sys.hash_info.width >= 64 else _wide_hash

    def __len__(self) -> int:
        return self._count

    @property
    def table_bytes(self) -> int:
        """The memory the table holds."""
        return self._size * 8

    def duplicates(self, events: Sequence[Event]) -> list[int]:
        """Remember the events; return the indexes of those seen before (earlier in the
        run, or earlier in ``events``)."""
        fingerprints = list(map(self._hash, map(_KEY, events)))
        if (self._count + len(fingerprints)) > self._size * _MAX_LOAD:
            self._grow(self._count + len(fingerprints))
        table = self._table
        mask = self._size - 1  # (a power of two: & is cheaper than %)
        repeated: list[int] = []  # the fingerprints found already there
        for fingerprint in fingerprints:
            slot = fingerprint & mask
            held = table[slot]
            if not held:  # the common case: its first slot is free
                table[slot] = fingerprint
                continue
            while held:
                if held == fingerprint:
                    repeated.append(fingerprint)
                    break
                slot = (slot + 1) & mask
                held = table[slot]
            else:
                # (A fingerprint of 0, one chance in 2**64, is never remembered: its
                # duplicate would be sent, never a distinct event dropped.)
                table[slot] = fingerprint
        self._count += len(fingerprints) - len(repeated)
        return _positions(fingerprints, repeated) if repeated else []

    def _grow(self, need: int) -> None:
        old = self._table
        size = self._size
        while need > size * _MAX_LOAD:
            size *= 2
        table = array("q", [0]) * size
        mask = size - 1
        for fingerprint in old:
            if fingerprint:
                slot = fingerprint & mask
                while table[slot]:
                    slot = (slot + 1) & mask
                table[slot] = fingerprint
        self._table, self._size = table, size


def _positions(fingerprints: list[int], repeated: list[int]) -> list[int]:
    """Where the repeats are: of a fingerprint found n times, its last n occurrences
    (seen before the call, all of them are; first seen in it, all but the first)."""
    left: dict[int, int] = {}
    for fingerprint in repeated:
        left[fingerprint] = left.get(fingerprint, 0) + 1
    found = []
    for index in range(len(fingerprints) - 1, -1, -1):
        fingerprint = fingerprints[index]
        if left.get(fingerprint):
            left[fingerprint] -= 1
            found.append(index)
    return found[::-1]


def drop_duplicates(seen: SeenEvents, mapped: Mapped, summary: RunSummary) -> list[Event]:
    """A chunk's events without those already built in this run. A duplicate event is
    counted ``already_sent``; a record whose events all are duplicates is skipped as
    ``duplicate`` (mapping.md section 6), so both invariants of the summary hold."""
    events = mapped.events
    if not events:
        return events
    found = seen.duplicates(events)
    if not found:
        return events
    repeated = set(found)
    records = 0
    examples: list[str] = []
    start = 0
    for size in mapped.sizes:
        if size and all(index in repeated for index in range(start, start + size)):
            records += 1
            first = events[start]
            examples.append(
                f"{first.source}:{first.line}: {first.event_name} with event_id "
                f"{first.event_id!r} was already built in this run"
            )
        start += size
    per_dataset: dict[str, int] = {}
    for index in found:
        dataset_id = events[index].dataset_id
        per_dataset[dataset_id] = per_dataset.get(dataset_id, 0) + 1
    summary.duplicates(records, per_dataset, examples)
    return [event for index, event in enumerate(events) if index not in repeated]
