"""Mapping on every core: worker processes over blocks of whole JSON lines.

Parsing, mapping, hashing and serializing an event is pure CPU work in Python, so one
process tops out at a few thousand events/s. For a large JSON lines file the pipeline
hands blocks of raw lines (~512 KB, a chunk of work each) to worker processes (for a
plain file only their positions, and a worker reads the lines itself); each worker
parses, maps and counts them and serializes every accepted event to its wire bytes
(``Conversion.wire``), so the main process only merges counts, writes rejects, batches,
filters through the journal and splices pre-serialized events into request bodies.
Results come back in input order, so outputs are byte-for-byte those of the
in-process path.

Small inputs, stdin, CSV and JSON array documents stay in-process: a pool does not pay
for them (``FBOCLI_PARALLEL_MIN_BYTES``, a testing aid, lowers the threshold).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gc
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from fbocli import wire
from fbocli.errors import FbocliError
from fbocli.mapping import Conversion, MapContext, map_message, map_record
from fbocli.readers import FileSpan, block_messages
from fbocli.report import Tally

if TYPE_CHECKING:  # multiprocessing (~10 ms) loads only when a run starts a pool
    import multiprocessing
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Lock

MIN_BYTES = 4_000_000  # ~ 4,000 events: below this a pool's start-up is not worth it
BLOCK_BYTES = 512 * 1024  # ~ 1,000 events per block of lines handed to a worker
AHEAD_PER_WORKER = 4  # blocks in flight per worker: bounds memory, keeps workers busy

Serializer = Callable[[Conversion], bytes]
Chunk = tuple[str, int, "bytes | FileSpan"]  # (source, number of the first line, whole lines)

_ctx: MapContext | None = None
_serialize: Serializer | None = None  # None: the sink needs no wire text (validate)


def min_bytes() -> int:
    """Inputs at least this large are mapped by the pool (env override for tests)."""
    raw = os.environ.get("FBOCLI_PARALLEL_MIN_BYTES", "")
    return int(raw) if raw.isdigit() else MIN_BYTES


def workers() -> int:
    """One worker per core the process may use; 1 means "stay in-process"."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def serializer(build: Callable[[Conversion], dict[str, Any]]) -> Serializer:
    """The wire JSON text of one event, exactly as the sinks would have serialized it."""
    return wire.encoder(build)


def _init(ctx: MapContext, serialize: Serializer | None) -> None:
    # Ctrl-C is the main process's business: it stops the pool; workers must not print
    # a KeyboardInterrupt traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _ctx, _serialize
    _ctx, _serialize = ctx, serialize
    # A worker's own errors travel back to the main process with its chunk; what it
    # could still print (a broken result pipe once the main process died) is noise.
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    quiet_gc()


def quiet_gc() -> None:
    """Keep the cyclic garbage collector off what lives for the whole run.

    Parsed records are trees: reference counting frees them, yet their allocations keep
    triggering collections that walk every object alive, phonenumbers' metadata and the
    imported modules included (a quarter of a worker's time). Freezing moves what exists
    now out of the collector's sight; collections still run, for the chunk in hand only.
    """
    gc.collect()
    gc.freeze()


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
KEEP_BYTES = 16 << 20  # freed memory a process may keep for reuse
MAP_BYTES = 4 << 20  # allocations at least this large get their own mapping


def keep_freed_memory() -> None:
    """Let the C allocator reuse the ~1 MB buffers of a run instead of faulting in new ones.

    Every block, result, request body and write is a buffer of 0.5-1 MB. glibc gives each
    its own mapping (or trims the heap once it is freed), so the next one faults in 256
    fresh pages, which the kernel must zero: 20,000-70,000 page faults per 100,000 events
    in the main process. Keeping up to 16 MB of freed heap and serving allocations below
    4 MB from it leaves ~8,500; peak RSS does not change (measured, docs/performance.md).
    Elsewhere than glibc (musl, macOS) there is no ``mallopt`` and nothing changes.
    """
    import ctypes  # (~3 ms: only a run that starts a pool gets here)

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return
    mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES)
    mallopt(_M_MMAP_THRESHOLD, MAP_BYTES)


def _exit_with_parent(parent: int) -> None:
    """A main process killed with -9 cannot stop its pool: idle workers would wait on the
    task pipe forever (siblings keep it open), so each leaves once its parent is gone."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


# What travels back from a worker, per block: its counts (a Tally) and only what the main
# process must still act on, in input order: rejects for the rejects file and accepted
# events for the batcher. Flat tuples: unpickling is the main process's cost, and plain
# tuples unpickle several times faster than dataclasses.
#   rejected: (line, reason, detail, what the rejects file shows of the record)
#   events:   Conversion's fields as a plain tuple, without the hashed keys (they stay in
#             the worker: the main process only splices the wire bytes)
Packed = tuple[Any, ...]
Mapped = tuple[Tally, list[Packed], list[Packed]]
_NO_KEYS: dict[str, Any] = {}  # user and custom of a pre-serialized event: never read


def map_chunk(chunk: Chunk) -> Mapped:
    """Worker: parse, map and count one block of lines; accepted events come back as
    wire bytes (None for validate, which only counts them)."""
    ctx = _ctx
    assert ctx is not None
    source, first_line, lines = chunk
    block = lines.read(source) if isinstance(lines, FileSpan) else lines
    serialize = _serialize
    routes_of = ctx.routes
    tally = Tally(ctx.now)
    accept = tally.accept
    rejected: list[Packed] = []
    events: list[Packed] = []
    keep = events.append
    for line, message, record in block_messages(block, source, first_line):
        if record is None:
            outcome = map_message(message, source, line, ctx)
        else:
            outcome = map_record(record, ctx)
        status = outcome.status
        if status == "accepted":
            # What Tally.add counts, with the routes the conversions were built from
            # (the same tuple, looked up rather than rebuilt: once per record).
            conversions = outcome.conversions
            first = conversions[0]
            accept(first.user, first.event_time, routes_of[outcome.segment_event])
            for c in conversions:
                wire = None if serialize is None else serialize(c)
                ds, name, when, event_id, _user, _custom, _ldu, _source, _line, _wire = c
                keep((ds, name, when, event_id, _NO_KEYS, _NO_KEYS, None, source, line, wire))
        else:
            tally.add(source, line, outcome)
            if status == "rejected":
                kept = message if record is None or record.error is None else record.raw
                rejected.append((line, outcome.reason, outcome.detail, kept))
    return tally, rejected, events


def conversions(events: list[Packed]) -> list[Conversion]:
    """Main process: accepted events as the batcher and sinks need them (identity,
    position and wire bytes; the hashed keys stayed in the worker)."""
    return list(map(_as_conversion, events))


# tuple.__new__(Conversion, fields): a C call per event, no Python frame
_as_conversion = functools.partial(tuple.__new__, Conversion)


class MappingPool:
    """Mapping worker processes, started once per run and stopped with it.

    Not ``multiprocessing.Pool``: its worker-handler thread wakes up whenever a result is
    waiting to be read and its result-handler thread unpickles in the background, which
    together cost the main process about a quarter of its CPU here. This pool has no
    thread of its own besides the task queue's feeder (so putting a block never blocks
    the main thread): workers take blocks from one queue, so an idle worker takes the
    next; each result goes back, tagged with its block's number, through one pipe that
    the main thread reads itself and puts back in input order.
    """

    def __init__(self, ctx: MapContext, serialize: Serializer | None, processes: int) -> None:
        # fork: workers inherit the imported modules and warm caches instantly. The run
        # starts the pool before any sender thread exists.
        import multiprocessing
        from multiprocessing.connection import wait

        self._wait = wait
        context = multiprocessing.get_context("fork")
        quiet_gc()  # in this process too: it unpickles and batches every event
        keep_freed_memory()  # before forking: the workers inherit the setting
        self.processes = processes
        self._tasks: multiprocessing.Queue[tuple[int, Chunk] | None] = context.Queue()
        self._results, writer = context.Pipe(duplex=False)
        _widen(self._results)
        lock = context.Lock()  # one result at a time through the shared pipe
        self._workers = [
            context.Process(
                target=_serve,
                args=(self._tasks, writer, lock, ctx, serialize),
                name=f"fbocli-map-{n}",
                daemon=True,
            )
            for n in range(processes)
        ]
        for worker in self._workers:
            worker.start()
        writer.close()  # the workers hold it now: when all are gone, reading ends

    def map(self, chunks: Iterator[Chunk]) -> Iterator[tuple[str, *Mapped]]:
        """(source, counts, rejects, events) per block, in input order; at most a few
        blocks per worker in flight."""
        sources: deque[str] = deque()
        early: dict[int, Mapped] = {}  # results that arrived before their turn
        limit = self.processes * AHEAD_PER_WORKER
        sent = done = 0
        for chunk in chunks:
            self._tasks.put((sent, chunk))
            sources.append(chunk[0])
            sent += 1
            if sent - done >= limit:
                yield (sources.popleft(), *self._result(done, early))
                done += 1
        while done < sent:
            yield (sources.popleft(), *self._result(done, early))
            done += 1

    def _result(self, number: int, early: dict[int, Mapped]) -> Mapped:
        while number not in early:
            ready = self._wait([self._results, *(w.sentinel for w in self._workers)])
            if self._results not in ready:
                dead = next(w for w in self._workers if w.sentinel in ready)
                dead.join(5)  # its sentinel can fire just before it can be reaped
                raise WorkerDied(dead.exitcode)
            got, result = pickle.loads(self._results.recv_bytes())
            if isinstance(result, BaseException):
                raise result
            early[got] = result
        return early.pop(number)

    def terminate(self) -> None:
        """Stop the workers: at the end of a run they are idle; at Ctrl-C or an error
        they may be mid-block, whose result nobody needs any more."""
        for worker in self._workers:
            if worker.is_alive():
                worker.terminate()
        for worker in self._workers:
            worker.join()
        self._tasks.cancel_join_thread()  # blocks never taken need not be flushed
        self._tasks.close()
        self._results.close()


PIPE_BYTES = 1 << 20  # Linux's default ceiling for an unprivileged process


def _widen(pipe: Connection) -> None:
    """Make the results pipe hold a whole block's result (~1 MB of wire JSON).

    With the default 64 KB, a result crosses in ~17 pieces: the worker blocks on each
    until the main process has read the one before, and each is a read, a write and a
    wake-up. Where the kernel refuses (a lower ``pipe-max-size``, the user's pipe quota),
    the default stays: only slower.
    """
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setpipe is None:  # pragma: no cover - not Linux
        return
    with contextlib.suppress(OSError):  # the host's limits decide
        fcntl.fcntl(pipe.fileno(), setpipe, PIPE_BYTES)


class WorkerDied(FbocliError):
    """A mapping worker was killed from outside (out of memory, ``kill``)."""

    def __init__(self, code: int | None) -> None:
        super().__init__(
            f"a mapping worker process died (exit status {code})",
            hint="nothing was lost: acknowledged batches are journaled; run the same "
            "command again to send the rest",
        )


def _serve(
    tasks: multiprocessing.Queue[tuple[int, Chunk] | None],
    results: Connection,
    lock: Lock,
    ctx: MapContext,
    serialize: Serializer | None,
) -> None:
    """A worker's life: map blocks until told to stop."""
    _init(ctx, serialize)
    while (task := tasks.get()) is not None:
        number, chunk = task
        result: Mapped | BaseException
        try:
            result = map_chunk(chunk)
        except FbocliError as exc:  # the input could not be read: the main process says so
            result = exc
        except Exception as exc:  # a bug: the main process raises it  # pragma: no cover
            result = RuntimeError(f"mapping worker: {exc.__class__.__name__}: {exc}")
        data = pickle.dumps((number, result), pickle.HIGHEST_PROTOCOL)
        with lock:
            results.send_bytes(data)
