"""Mapping on every core: worker processes that run :func:`fbocli.chunks.map_chunk`.

Parsing, mapping, hashing and encoding an event is pure CPU work in Python, so one
process tops out at a few thousand events/s. For a large input the pipeline hands chunks
to worker processes (for a plain JSON lines file only their positions: a worker reads
the lines itself); results come back in input order, so every output is byte for byte
what mapping in-process gives.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import pickle
import signal
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fbocli.chunks import Mapped, map_chunk
from fbocli.errors import FbocliError
from fbocli.inputs.reader import Chunk
from fbocli.mapping.message import MapContext

if TYPE_CHECKING:  # multiprocessing (~10 ms) loads only when a run starts a pool
    import multiprocessing
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Lock

AHEAD_PER_WORKER = 4  # chunks in flight per worker: bounds memory, keeps workers busy


def cpu_count() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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

    def __init__(self, ctx: MapContext, processes: int) -> None:
        # fork: workers inherit the imported modules and warm caches instantly. The run
        # starts the pool before any sender thread exists.
        import multiprocessing
        from multiprocessing.connection import wait

        self._wait = wait
        context = multiprocessing.get_context("fork")
        self.processes = processes
        self._tasks: multiprocessing.Queue[tuple[int, Chunk] | None] = context.Queue()
        self._results, writer = context.Pipe(duplex=False)
        _widen(self._results)
        lock = context.Lock()  # one result at a time through the shared pipe
        self._workers = [
            context.Process(
                target=_serve,
                args=(self._tasks, writer, lock, ctx, os.getpid()),
                name=f"fbocli-map-{n}",
                daemon=True,
            )
            for n in range(processes)
        ]
        for worker in self._workers:
            worker.start()
        writer.close()  # the workers hold it now: when all are gone, reading ends

    def map(self, chunks: Iterator[Chunk]) -> Iterator[Mapped]:
        """Each chunk mapped, in input order; at most a few chunks per worker in flight."""
        early: dict[int, Mapped] = {}  # results that arrived before their turn
        limit = self.processes * AHEAD_PER_WORKER
        sent = done = 0
        for chunk in chunks:
            self._tasks.put((sent, chunk))
            sent += 1
            if sent - done >= limit:
                yield self._result(done, early)
                done += 1
        while done < sent:
            yield self._result(done, early)
            done += 1

    def _result(self, number: int, early: dict[int, Mapped]) -> Mapped:
        while number not in early:
            ready = self._wait([self._results, *(w.sentinel for w in self._workers)])
            if self._results not in ready:
                dead = next(w for w in self._workers if w.sentinel in ready)
                dead.join(5)  # its sentinel can fire just before it can be reaped
                raise WorkerDied(dead.exitcode)
            try:
                data = self._results.recv_bytes()
            except EOFError:  # every worker died: the pipe's last writer went with them
                dead = self._workers[0]
                dead.join(5)
                raise WorkerDied(dead.exitcode) from None
            got, result = pickle.loads(data)
            if isinstance(result, BaseException):
                raise result
            early[got] = result
        return early.pop(number)

    def terminate(self) -> None:
        """Stop the workers: at the end of a run they are idle; at Ctrl-C or an error
        they may be mid-block, whose result nobody needs any more."""
        for worker in self._workers:
            if worker.is_alive():
                worker.kill()  # (workers ignore SIGTERM: stopping is the main process's)
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
    parent: int,
) -> None:
    """A worker's life: map chunks until told to stop."""
    _init(parent)
    while (task := tasks.get()) is not None:
        number, chunk = task
        result: Mapped | BaseException
        try:
            result = map_chunk(ctx, chunk)
        except FbocliError as exc:  # the input could not be read: the main process says so
            result = exc
        except Exception as exc:  # a bug: the main process raises it  # pragma: no cover
            result = RuntimeError(f"mapping worker: {exc.__class__.__name__}: {exc}")
        data = pickle.dumps((number, result), pickle.HIGHEST_PROTOCOL)
        with lock:
            results.send_bytes(data)


def _init(parent: int) -> None:
    """Set up a worker process: quiet, frozen heap, gone with its parent."""
    _die_with_parent(parent)
    # Stopping is the main process's business (Ctrl-C, SIGTERM, SIGHUP reach the whole
    # process group from a terminal, systemd or Docker): it stops the pool, and a worker
    # must neither print a traceback nor die under a run that is still settling.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    # What the worker inherited (modules, phonenumbers' metadata) lives for its whole
    # life: out of the cyclic collector's sight, collections walk only the chunk in hand
    # (docs/performance.md has what this saves).
    gc.collect()
    gc.freeze()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """A main process killed with -9 cannot stop its pool: the kernel kills each worker
    when its parent dies (Linux ``PR_SET_PDEATHSIG``); elsewhere a thread watches."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the setting took
        os._exit(1)


def _exit_with_parent(parent: int) -> None:  # pragma: no cover - not Linux
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
