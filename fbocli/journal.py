"""The state directory, the journal of acknowledged events, and the upload lock.

The journal makes cron re-runs idempotent: an event is recorded only after Meta
acknowledged its batch, and a re-run skips what is recorded. It holds
(dataset, Meta event name, event_id, batch, time) and, for ``fbocli quality``, each
event's time and its facts (which match keys it had, a value above 0, an order: see
:mod:`fbocli.quality`); never personal data, not even hashed match keys.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Self

import platformdirs

from fbocli.errors import LocalWriteError, LockError, StateError
from fbocli.privatefile import not_yours
from fbocli.quality import (
    DAY,
    FREQUENCY_DAYS,
    HOUR,
    PURCHASE,
    STALE_AFTER,
    WINDOW_DAYS,
    Tally,
    lag_bucket,
)

JOURNAL_FILE = "journal.sqlite3"
LOCK_FILE = "upload.lock"
SCHEMA_VERSION = 3

_STATE_HINT = "pass --state-dir or set FBOCLI_STATE_DIR to a writable directory"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS sent ("
    " dataset_id TEXT NOT NULL, event_name TEXT NOT NULL, event_id TEXT NOT NULL,"
    " batch_id TEXT NOT NULL, sent_at REAL NOT NULL, test_event_code TEXT,"
    " event_time INTEGER, facts INTEGER,"
    " PRIMARY KEY (dataset_id, event_name, event_id)) WITHOUT ROWID",
    # One row per upload run: its --json summary (counts, reasons, no personal data).
    "CREATE TABLE IF NOT EXISTS runs ("
    " run_id TEXT PRIMARY KEY, started_at REAL NOT NULL, summary TEXT NOT NULL) WITHOUT ROWID",
)
# What each schema version needs to become the next one; an older journal takes every
# step from its version up, in place. Rows kept from before version 3 have no event time
# and no facts (NULL): `fbocli quality` counts them apart.
_MIGRATIONS = {
    1: ("ALTER TABLE sent ADD COLUMN test_event_code TEXT",),
    2: (
        "ALTER TABLE sent ADD COLUMN event_time INTEGER",
        "ALTER TABLE sent ADD COLUMN facts INTEGER",
    ),
}

# One statement whatever the number of keys: the keys travel as a single JSON
# parameter, so a 2000-key batch costs one primary-key lookup per key and never
# approaches SQLite's bound-parameter limit.
_ALREADY_SENT_SQL = (
    "SELECT s.event_name, s.event_id, s.test_event_code"
    " FROM json_each(?) AS k CROSS JOIN sent AS s"  # CROSS JOIN: keys drive the loop
    " WHERE s.dataset_id = ?"
    " AND s.event_name = json_extract(k.value, '$[0]')"
    " AND s.event_id = json_extract(k.value, '$[1]')"
)
_ANY_ROW_SQL = "SELECT 1 FROM sent WHERE dataset_id = ? LIMIT 1"
_RECORD_SQL = (
    "INSERT OR REPLACE INTO sent"
    " (dataset_id, event_name, event_id, batch_id, sent_at, test_event_code, event_time, facts)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# One pass over a dataset's events of the window: per facts, Purchase or not, and whole
# hours of event-to-upload lag (a few hundred groups).
_TALLY_SQL = (
    "SELECT facts, event_name = ?,"
    " CAST(max(0, sent_at - event_time) AS INTEGER) / ?,"
    " sum(sent_at - event_time > ?), count(*)"
    " FROM sent WHERE dataset_id = ? AND sent_at > ? AND sent_at <= ?"
    " GROUP BY 1, 2, 3"
)
_DAYS_SQL = (
    "SELECT DISTINCT CAST(sent_at / ? AS INTEGER) FROM sent"
    " WHERE dataset_id = ? AND sent_at >= ? AND sent_at <= ?"
)
Sent = tuple[str, str] | tuple[str, str, int, int]  # (name, event_id[, event_time, facts])


def resolve_state_dir(option: str | Path | None) -> Path:
    """Pick, create (0700) and probe the state directory before anything is sent.

    ``option`` (the CLI's ``--state-dir`` or $FBOCLI_STATE_DIR), else the platform's user
    state directory. Writability is checked with a real file because ``os.access``
    answers yes for root on a read-only mount.
    """
    raw = str(option) if option else platformdirs.user_state_dir("fbocli")
    path = Path(os.path.abspath(os.path.expanduser(raw)))
    try:
        _make_private_dirs(path)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-") as probe:
            probe.write(b"\0" * 4096)  # a full disk fails here, not mid-run
            probe.flush()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StateError(f"cannot use state directory {path}: {reason}", hint=_STATE_HINT) from exc
    return path


def _make_private_dirs(path: Path) -> None:
    """``mkdir -p`` where every directory created gets mode 0700 (umask aside)."""
    missing: list[Path] = []
    cursor = path
    while not cursor.exists():
        missing.append(cursor)
        if cursor.parent == cursor:
            break
        cursor = cursor.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(directory, 0o700)
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))


class Journal:
    """SQLite record of events Meta acknowledged; safe to share between worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        # Datasets known to have rows (True) or none (False): while a dataset has none,
        # checking a batch needs no lookup at all (a first run, every dry run on it).
        self._has_rows: dict[str, bool] = {}
        try:
            if not path.exists():
                # Created private before SQLite opens it; -wal/-shm inherit the mode.
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise _access_error(path) or self._error("cannot open", exc) from exc
        try:
            _initialise(conn, path)
        except sqlite3.Error as exc:
            conn.close()
            raise _unusable(path, exc) from exc
        except StateError:
            conn.close()
            raise
        self._conn = conn
        self._identity = _identity(path)
        # What the run must say at its end (a journal put back after it was deleted).
        self.notices: list[str] = []
        self._gone: LocalWriteError | None = None  # replaced during the run: no more writes

    def already_sent(
        self, dataset_id: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], str | None]:
        """The (event_name, event_id) pairs of ``keys`` recorded for ``dataset_id``, each
        with the test event code it was sent with (None: a real upload)."""
        if not keys:
            return {}
        with self._lock:
            try:
                if not self._rows_for(dataset_id):
                    return {}
                payload = json.dumps([[name, event_id] for name, event_id in dict.fromkeys(keys)])
                rows = self._connection().execute(_ALREADY_SENT_SQL, (payload, dataset_id))
                return {(str(name), str(event_id)): code for name, event_id, code in rows}
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from exc

    def has_rows(self, dataset_id: str) -> bool:
        """Whether anything was ever recorded for ``dataset_id`` (answered from memory
        after the first question): while not, no event of it can be already sent."""
        with self._lock:
            try:
                return self._rows_for(dataset_id)
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from exc

    def _rows_for(self, dataset_id: str) -> bool:
        has = self._has_rows.get(dataset_id)
        if has is None:
            found = self._connection().execute(_ANY_ROW_SQL, (dataset_id,)).fetchone()
            has = self._has_rows[dataset_id] = found is not None
        return has

    def record(
        self,
        dataset_id: str,
        keys: Iterable[Sent],
        batch_id: str,
        sent_at: float | None = None,
        *,
        test_event_code: str | None = None,
    ) -> None:
        """Record one acknowledged batch in a single durable transaction.

        Each key is (Meta event name, event_id), with the event's time and facts when
        known (what ``fbocli quality`` reads); ``test_event_code``: the code the batch was
        sent with, when it was a test.
        """
        when = time.time() if sent_at is None else sent_at
        code = test_event_code or None
        rows = [
            (dataset_id, key[0], key[1], batch_id, when, code, *(key[2:] or (None, None)))
            for key in keys
        ]
        if not rows:
            return
        with self._lock:
            self._keep_in_place()
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany(_RECORD_SQL, rows)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._error("cannot write", exc) from exc
            self._has_rows[dataset_id] = True

    def prune(self, older_than: float) -> int:
        """Forget events sent, and runs started, before ``older_than`` (epoch seconds);
        returns how many events."""
        with self._lock:
            try:
                conn = self._connection()
                cursor = conn.execute("DELETE FROM sent WHERE sent_at < ?", (older_than,))
                conn.execute("DELETE FROM runs WHERE started_at < ?", (older_than,))
            except sqlite3.Error as exc:
                raise self._error("cannot write", exc) from exc
            return cursor.rowcount

    def record_run(self, run_id: str, started_at: float, summary: Mapping[str, Any]) -> None:
        """Keep one upload run's summary (``fbocli runs``)."""
        with self._lock:
            if self._gone is not None:
                return  # (the run already says why)
            self._keep_in_place()
            try:
                self._connection().execute(
                    "INSERT OR REPLACE INTO runs (run_id, started_at, summary) VALUES (?, ?, ?)",
                    (run_id, started_at, json.dumps(summary)),
                )
            except sqlite3.Error as exc:
                raise self._error("cannot write", exc) from exc

    def runs(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Past upload runs' summaries, newest first."""
        with self._lock:
            try:
                rows = self._connection().execute(
                    "SELECT summary FROM runs ORDER BY started_at DESC LIMIT ?",
                    (-1 if limit is None else limit,),
                )
                found = [row[0] for row in rows]
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from exc
        out: list[dict[str, Any]] = []
        for text in found:
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out

    def tally(self, dataset_id: str, now: float) -> Tally:
        """What ``fbocli quality`` figures from: the events sent to ``dataset_id`` in the
        28 days up to ``now`` (their facts, their event-to-upload lag) and the UTC days
        with uploads among the last 14 (today included)."""
        tally = Tally()
        first_day = (int(now) // DAY - (FREQUENCY_DAYS - 1)) * DAY
        with self._lock:
            try:
                conn = self._connection()
                groups = conn.execute(
                    _TALLY_SQL,
                    (PURCHASE, HOUR, STALE_AFTER, dataset_id, now - WINDOW_DAYS * DAY, now),
                ).fetchall()
                days = conn.execute(_DAYS_SQL, (DAY, dataset_id, first_day, now)).fetchall()
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from exc
        for facts, purchase, hours, stale, n in groups:
            if facts is None:
                tally.without_facts += n
                continue
            tally.add(facts, n, n if purchase else 0)
            if hours is not None:
                tally.lag_hours[lag_bucket(hours)] += n
                tally.stale += stale
        tally.upload_days = tuple(sorted(_utc_date(day * DAY) for (day,) in days))
        return tally

    def keep_in_place(self) -> None:
        """Check that the journal file is still the one opened (see record)."""
        with self._lock:
            self._keep_in_place()

    def _keep_in_place(self) -> None:
        """Before a write: the file at the journal's path must still be the one opened.

        A journal deleted during a run (a cleaner, a mistaken ``rm``) would take every
        record made since with it: the next run would send those events again. So the
        database, still open, is copied whole to a new file and put back at the path,
        and the run goes on with it (and says so, :attr:`notices`). A journal replaced
        by another file is left alone: the copy is saved beside it, and the run stops
        (LocalWriteError), as it cannot tell which one is right.
        """
        if self._gone is not None:
            raise self._gone
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            found = None
        except OSError:  # cannot tell: SQLite says what is wrong, if anything
            return
        if found is not None and (found.st_dev, found.st_ino) == self._identity:
            return
        conn = self._connection()
        try:
            copy = _copy(conn, self.path)
        except (OSError, sqlite3.Error) as exc:
            raise LocalWriteError(
                f"journal {self.path} was deleted or replaced during the run, and what it "
                f"recorded could not be saved: {exc}",
                hint="the run stopped; do not delete the journal while fbocli runs",
            ) from None
        self._conn = None
        conn.close()  # (its -wal and -shm go with it: a new journal must not read them)
        if found is None:
            try:
                os.link(copy, self.path)  # put back, unless a file appeared meanwhile
            except FileExistsError:
                pass
            else:
                os.unlink(copy)
                try:
                    self._reopen()
                except sqlite3.Error as exc:
                    raise self._error("cannot write", exc) from None
                self.notices.append(
                    f"journal {self.path} was deleted during the run: fbocli put it back "
                    "whole, from the copy it had open (do not delete it while fbocli runs)"
                )
                return
        kept = self.path.with_name(
            f"{self.path.name}.recovered-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        )
        os.replace(copy, kept)
        self._gone = LocalWriteError(
            f"journal {self.path} was replaced by another file during the run; what "
            f"fbocli had recorded is saved as {kept}",
            hint=(
                f"the run stopped. If {kept.name} is the right journal (it is, unless you "
                f"meant to replace it): mv {kept} {self.path}, then run the same command "
                "again to send the rest"
            ),
        )
        raise self._gone

    def _reopen(self) -> None:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            _initialise(conn, self.path)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._identity = _identity(self.path)

    def count(self) -> int:
        """Number of recorded events."""
        with self._lock:
            try:
                row = self._connection().execute("SELECT count(*) FROM sent").fetchone()
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from exc
        return int(row[0])

    def close(self) -> None:
        """Close the database; further calls on this journal raise StateError."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        if self._gone is not None:
            raise self._gone
        if self._conn is None:
            raise StateError(f"journal {self.path} is closed")
        return self._conn

    def _error(self, action: str, exc: BaseException) -> StateError | LocalWriteError:
        if action == "cannot write":  # mid-run (a full disk): the run stops, exit 1
            return LocalWriteError(f"{action} journal {self.path}: {exc}", hint=_STATE_HINT)
        return StateError(f"{action} journal {self.path}: {exc}", hint=_STATE_HINT)


def _identity(path: Path) -> tuple[int, int]:
    found = os.stat(path)
    return (found.st_dev, found.st_ino)


def _copy(conn: sqlite3.Connection, path: Path) -> Path:
    """A whole copy of the open database, as a new private file beside ``path``."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".copy")
    os.close(fd)
    copy = sqlite3.connect(name)
    try:
        conn.backup(copy)
    finally:
        copy.close()
    return Path(name)


_CORRUPT = ("SQLITE_NOTADB", "SQLITE_CORRUPT")


def _unusable(path: Path, exc: sqlite3.Error) -> StateError:
    """Why a journal that opened cannot be used: the owner or mode of its files (the
    usual case after a run with sudo), really corrupt, or what SQLite says. Only a file
    that is not a database is called corrupt: moving an intact journal aside would make
    the next run send its events again."""
    found = _access_error(path)
    if found is not None:
        return found
    name = getattr(exc, "sqlite_errorname", "")
    if any(name.startswith(kind) for kind in _CORRUPT):
        return StateError(
            f"journal {path} is corrupt or not an fbocli journal ({exc})",
            hint=(
                "move it aside and run again; a new journal is created, but events "
                "sent before may then be sent again unless they fall outside the window"
            ),
        )
    if name.startswith("SQLITE_READONLY"):
        return StateError(
            f"journal {path} is intact but cannot be written ({exc}): it is on a "
            "read-only file system, or marked immutable",
            hint=f"{_KEEP_IT} Make its folder writable (mount, chattr -i), or {_STATE_HINT}",
        )
    return StateError(f"cannot open journal {path}: {exc}", hint=_STATE_HINT)


_KEEP_IT = (
    "Do not move it aside: it records what Meta already has, and a new journal would "
    "send those events again (Meta deduplicates them only within 7 days)."
)


def _access_error(path: Path) -> StateError | None:
    """The first of the journal's files (itself, -wal, -shm) that this user cannot read
    and write, as an error that says whose it is and how to give it back; None if every
    one can be."""
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        found = not_yours(file, path.parent)
        if found is not None:
            message, fix = found
            return StateError(f"journal {message}", hint=f"this is no damage: {fix}. {_KEEP_IT}")
    return None


def _initialise(conn: sqlite3.Connection, path: Path) -> None:
    """WAL + synchronous=FULL, so a row survives a kill right after ``record`` returns."""
    conn.execute("PRAGMA busy_timeout = 10000")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode is None or str(mode[0]).lower() != "wal":
        raise sqlite3.OperationalError(f"cannot enable WAL mode (got {mode!r})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = _schema_version(conn)
        if found is not None and found < SCHEMA_VERSION and found in _MIGRATIONS:
            for step in range(found, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    version = str(row[0]) if row else ""
    if version != str(SCHEMA_VERSION):
        raise StateError(
            f"journal {path} has schema version {version!r};"
            f" this fbocli understands {SCHEMA_VERSION}",
            hint="upgrade fbocli, or use another --state-dir",
        )


def _utc_date(seconds: float) -> date:
    return datetime.fromtimestamp(seconds, UTC).date()


def _schema_version(conn: sqlite3.Connection) -> int | None:
    """The schema version an existing journal records, None for a new one."""
    table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if table is None:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else None


_HELD: set[int] = set()  # the descriptors of the locks this process holds


def _drop_locks_in_child() -> None:
    """A forked child (a mapping worker) does not keep the upload's lock: a flock lives
    as long as any process holds its descriptor, so an upload killed with -9 would stay
    locked until its workers were gone too."""
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_drop_locks_in_child)


class StateLock:
    """One upload per state directory, via ``flock`` (the kernel drops it when the process
    dies, however it dies; forked children close their copy at once).

    Not ``lockf``: a POSIX record lock belongs to the process, so two uploads in one
    process (the Python API, from threads) would not exclude each other.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise LockError at once, naming the process holding it."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            found = not_yours(self.path, self.state_dir)
            if found is not None:
                raise StateError(f"lock file {found[0]}", hint=found[1]) from None
            raise StateError(
                f"cannot open lock file {self.path}: {exc.strerror or exc}", hint=_STATE_HINT
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockError(
                f"another fbocli upload is running ({self._holder()}): {self.state_dir}",
                hint=(
                    "wait for it to finish, or use another --state-dir; "
                    "the lock is released automatically when that process exits"
                ),
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StateError(
                f"cannot lock {self.path}: {exc.strerror or exc}", hint=_STATE_HINT
            ) from exc
        self._fd = fd
        _HELD.add(fd)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        data = json.dumps(info).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError as exc:  # a full disk: better now than in the journal mid-run
            self.release()
            raise StateError(
                f"cannot write lock file {self.path}: {exc.strerror or exc}", hint=_STATE_HINT
            ) from None

    def release(self) -> None:
        """Drop the lock; the file stays (unlinking a lock file invites races)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        _HELD.discard(fd)
        os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _holder(self) -> str:
        """Describe the holder from the lock file; it may be mid-write, so retry briefly."""
        for _ in range(10):
            try:
                info = json.loads(self.path.read_text(encoding="utf-8"))
                return f"pid {info['pid']} on {info['host']}, started {info['started']}"
            except (OSError, ValueError, KeyError, TypeError):
                time.sleep(0.02)
        return "holder unknown"
