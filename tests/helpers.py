"""What the tests share, in one place: paths and constants, event and config writers, the
environment of a CLI run, the ways to run fbocli (in-process or as a process) and the
checks every run summary must pass.

Fixtures live in conftest.py files and call these helpers.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from fbocli.api import unix_time
from fbocli.config import parse_settings
from fbocli.mapping.message import MapContext, Outcome, map_message
from fbocli.mapping.normalize import hash_values
from tests.fakegraph import FakeGraph

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data"
SAMPLE_CONFIG = SAMPLES / "fbocli.toml"
SAMPLE_JSONL = SAMPLES / "segment-export.jsonl"
SAMPLE_CSV = SAMPLES / "pos-transactions.csv"
SAMPLE_DATASETS = ("1234567890123456", "6543210987654321")  # the samples' config routes to
PRESETS_CONFIG = SAMPLES / "presets.toml"  # the config of the export samples (one per preset)

NOW = "2026-11-20T00:00:00Z"  # the samples are dated relative to it
NOW_TS = 1_795_132_800  # NOW as Unix seconds
TOKEN = "EAAGfbocli-TEST-TOKEN-0123456789"  # recognisably fake: must never appear in output
APP_SECRET = "fbocli-TEST-APP-SECRET-5f3c9a"  # the same for the app secret
DAY = 86400
DS1, DS2 = "1111111111111111", "2222222222222222"  # the datasets of write_config's routes
DELIVERY = ("sent", "already_sent", "api_rejected", "failed")

BESIDE = ROOT.parent / "shared"  # the shared contracts, when checked out beside the repo
COPY = ROOT / "tests" / "contracts"  # their copy in the repo


def shared_root() -> Path:
    """The shared contracts: beside the repository when checked out there, else the copy
    in tests/contracts (tests/test_contracts.py keeps the two identical)."""
    return BESIDE if (BESIDE / "examples" / "golden.json").is_file() else COPY


GOLDEN_FILES = ("golden.json", "golden-revised.json")  # shared/examples, same format


def golden(name: str = "golden.json") -> dict[str, Any]:
    """A golden file of shared/examples (``golden.json``, or ``golden-revised.json``: the
    revised match-key and event_id rules): a config, a ``now`` and the worked cases."""
    data: dict[str, Any] = json.loads((shared_root() / "examples" / name).read_text("utf-8"))
    return data


def map_golden_case(
    case: dict[str, Any], api: str = "conversions", name: str = "golden.json"
) -> Outcome:
    """A golden case's input mapped with its file's config and ``now`` (in the ``api``
    dialect of ``[destination]``)."""
    data = golden(name)
    settings = parse_settings(tomllib.loads(f'[destination]\napi = "{api}"\n' + data["config"]))
    ctx = MapContext(settings, unix_time(data["now"]))
    return map_message(case["input"], ctx, name, 1)


@functools.cache
def sample_expectations() -> dict[str, Any]:
    """What ``sample_data/generate.py --expected`` says each sample must give: counts in
    the shape of ``--json`` (and, for the export samples, their events)."""
    out = subprocess.run(
        [sys.executable, str(SAMPLES / "generate.py"), "--expected"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def request_events(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The (dataset, event) pairs of a dry run's ``--output`` file, in order."""
    found = []
    for line in path.read_text("utf-8").splitlines():
        request = json.loads(line)
        dataset = request["url"].split("/")[-2]
        found.extend((dataset, event) for event in request["body"]["data"])
    return found


def event_facts(dataset: str, event: dict[str, Any]) -> dict[str, Any]:
    """An event sent, in the terms of the samples' expectations (``exports.py``)."""
    custom, user = event["custom_data"], event["user_data"]
    contents = [[c["id"], c["quantity"], c.get("item_price")] for c in custom.get("contents", [])]
    return {
        "dataset": dataset,
        "event_name": event["event_name"],
        "event_id": event["event_id"],
        "event_time": event["event_time"],
        "action_source": event["action_source"],
        "value": custom.get("value"),
        "currency": custom["currency"],
        "order_id": custom.get("order_id"),
        "contents": contents,
        "keys": sorted(user),
        "em": user.get("em", []),
        "ph": user.get("ph", []),
    }


# --------------------------------------------------------------------------- summaries


def check_summary(data: dict[str, Any]) -> dict[str, Any]:
    """The invariants of cli.md that every run summary holds (``--json`` and
    ``RunSummary.to_dict()``): every record counted once, every built event settled
    once, the per-dataset counts adding up to the totals; values not recognised counted
    without the values of emails, phones and birthdays. Returns ``data``."""
    records, events = data["records"], data["events"]
    assert records["read"] == records["accepted"] + records["rejected"] + records["skipped"]
    assert events["built"] == sum(events[what] for what in DELIVERY)
    for counts in data["datasets"].values():
        assert set(counts) >= set(DELIVERY)
    for what in DELIVERY:
        assert events[what] == sum(c[what] for c in data["datasets"].values()), what
    # Values not recognised: counts only, and no email, phone or birthday value, ever.
    for name, values in data.get("unrecognised", {}).items():
        assert values and all(isinstance(n, int) and n > 0 for n in values.values()), name
    unrecognised = data.get("unrecognised", {})
    assert set(unrecognised.get("email", {})) <= {"invalid"}
    assert set(unrecognised.get("phone", {})) <= {"impossible"}
    assert set(unrecognised.get("birthday", {})) <= {"invalid"}
    return data


RUN_IDENTITY = ("rejects_file", "run_id", "started_at", "finished_at")


def stable(data: dict[str, Any]) -> dict[str, Any]:
    """A summary without what differs from one run of the same input to the next: the
    rejects file, the run's id and its times."""
    return {key: value for key, value in data.items() if key not in RUN_IDENTITY}


def summary(text: str | Result) -> dict[str, Any]:
    """A ``--json`` summary (the text, or the stdout of a CliRunner result), checked."""
    data: dict[str, Any] = json.loads(text if isinstance(text, str) else text.stdout)
    return check_summary(data)


# --------------------------------------------------------------------------- inputs


def write_jsonl(path: Path, messages: Iterable[object]) -> Path:
    """Write JSON values as JSON lines; returns ``path``."""
    with path.open("w", encoding="utf-8") as out:
        for message in messages:
            out.write(json.dumps(message, separators=(",", ":")) + "\n")
    return path


def track_events(
    n: int,
    *,
    start: int = 0,
    event: str = "Order Completed",
    leads: int = 0,
    lead_event: str = "Demo Requested",
) -> list[dict[str, Any]]:
    """``n`` small valid ``event`` tracks then ``leads`` ``lead_event`` tracks, with the
    ``messageId`` values ``e<start>``, ``e<start+1>``... (the event ids Meta receives)."""
    messages = []
    for i in range(start, start + n + leads):
        purchase = i < start + n
        messages.append(
            {
                "type": "track",
                "event": event if purchase else lead_event,
                "messageId": f"e{i}",
                "userId": f"u{i}",
                "timestamp": NOW_TS - 3600 - i,
                "context": {"traits": {"email": f"person{i}@example.com"}},
                "properties": {"order_id": f"o{i}", "revenue": 1 + i % 7} if purchase else {},
            }
        )
    return messages


def sale(
    message_id: str,
    event_time: int,
    *,
    order_id: str | None = None,
    revenue: float = 10,
    email: bool = True,
    phone: bool = False,
    user_id: bool = False,
    event: str = "Order Completed",
) -> dict[str, Any]:
    """A ``track`` message with chosen facts: its time, order, value and match keys
    (each present key derived from ``message_id``)."""
    traits: dict[str, Any] = {}
    if email:
        traits["email"] = f"{message_id}@example.com"
    if phone:
        traits["phone"] = f"+1 401 555 {sum(map(ord, message_id)) % 10000:04d}"
    properties: dict[str, Any] = {"revenue": revenue}
    if order_id is not None:
        properties["order_id"] = order_id
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": message_id,
        "timestamp": iso(event_time),
        "context": {"traits": traits},
        "properties": properties,
    }
    if user_id:
        message["userId"] = f"user-{message_id}"
    return message


def iso(seconds: float) -> str:
    """``2026-11-20T00:00:00Z``: Unix seconds as the --now a CLI run takes."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def write_events(path: Path, n: int, **kwargs: Any) -> list[str]:
    """:func:`track_events` written to ``path``; returns their ids in file order."""
    messages = track_events(n, **kwargs)
    write_jsonl(path, messages)
    return [m["messageId"] for m in messages]


def write_config(
    path: Path,
    *,
    routes: str = f'"Order Completed" = ["{DS1}", "{DS2}"]',
    lead_routes: str = "",
    upload: str = "",
    destination: str = "",
    more: str = "",
) -> Path:
    """A TOML config: ``[events]`` = ``routes``, ``[lead_events]`` = ``lead_routes``, the
    given ``[upload]`` and ``[destination]`` lines, then ``more`` (whole tables)."""
    path.write_text(
        f"[destination]\n{destination}\n[events]\n{routes}\n[lead_events]\n{lead_routes}\n"
        f"[upload]\n{upload}\n{more}\n",
        encoding="utf-8",
    )
    return path


# Lines the sample export lacks: parse errors, envelopes, blanks, odd types, non-ASCII,
# a missing messageId (content-hash event_id), \\u escapes.
EDGE_LINES = [
    "{not json",
    "",
    "   ",
    '{"batch":[{"type":"track","event":"Order Completed","messageId":"b1",'
    '"timestamp":"2026-11-10T12:00:00Z","properties":{"revenue":"1,234.50"},'
    '"context":{"traits":{"email":"Zoë@Example.com","phone":"+44 20 7946 0958",'
    '"address":{"country":"GB","city":"Londres"}}}},{"type":"identify"}]}',
    "[1,2,3]",
    '"just a string"',
    '{"type":"track","event":"Order Completed","timestamp":"2026-11-10T12:00:00Z",'
    '"properties":{"revenue":5,"note":"caf\\u00e9 \\u2603"},'
    '"context":{"traits":{"email":"a@b.co","name":"Ана Иванова"}}}',
    '{"type":"track","event":"Order Completed","messageId":"old","timestamp":"2001-01-01",'
    '"properties":{"revenue":5},"context":{"traits":{"email":"a@b.co"}}}',
    '{"type":"track","event":"Nope","messageId":"n1"}',
    '{"value": 1e999}',
]


def write_edge_input(path: Path) -> Path:
    """The sample export (a BOM on its first line), EDGE_LINES, then the sample again:
    ~730 records of every outcome, for the sample config."""
    sample = SAMPLE_JSONL.read_bytes()
    path.write_bytes(b"\xef\xbb\xbf" + sample + "\n".join(EDGE_LINES).encode() + b"\n" + sample)
    return path


def upload_args(
    inputs: Path | str, config: Path, *extra: str, command: str = "upload"
) -> list[str]:
    """The arguments of ``fbocli COMMAND INPUTS -c CONFIG --now NOW EXTRA...``."""
    return [command, str(inputs), "-c", str(config), "--now", NOW, *extra]


# --------------------------------------------------------------------------- running fbocli


def cli_env(tmp: Path, graph_url: str = "", *, token: str = TOKEN, **extra: str) -> dict[str, str]:
    """A clean environment for a CLI run: ``graph_url`` as Graph API, ``token`` as
    $FBOCLI_ACCESS_TOKEN, private state, config, data and home directories under ``tmp``,
    no keyring, fast retries; ``extra`` last. Complete for a subprocess; for CliRunner
    every $FBOCLI_ variable is given a value, so none leaks in from the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FBOCLI_", "XDG_"))}
    env.update(
        FBOCLI_GRAPH_URL=graph_url,
        FBOCLI_ACCESS_TOKEN=token,
        FBOCLI_APP_SECRET="",
        FBOCLI_STATE_DIR=str(tmp / "state"),
        FBOCLI_CONFIG="",
        FBOCLI_BACKOFF_SCALE="0.001",
        FBOCLI_PARALLEL_MIN_BYTES="",
        XDG_CONFIG_HOME=str(tmp / "xdg-config"),
        XDG_STATE_HOME=str(tmp / "xdg-state"),
        XDG_CACHE_HOME=str(tmp / "xdg-cache"),
        XDG_DATA_HOME=str(tmp / "xdg-data"),
        HOME=str(tmp / "home"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def fbocli_argv(*args: str) -> list[str]:
    """``python -m fbocli ARGS``: the program as a user starts it."""
    return [sys.executable, "-m", "fbocli", *args]


@dataclass
class Run:
    """One finished CLI process: its exit code, output and (with --json) checked summary."""

    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        return summary(self.stdout)


def run_cli(
    args: list[str],
    env: Mapping[str, str],
    *,
    input: str | bytes | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    unprivileged: bool = False,
) -> Run:
    """``fbocli ARGS`` as a process, to its end; ``unprivileged``: without root's power
    to ignore file modes (:func:`without_root_powers`)."""
    argv = fbocli_argv(*args)
    proc = subprocess.run(
        without_root_powers(argv) if unprivileged else argv,
        env=dict(env),
        input=input.encode() if isinstance(input, str) else input,
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
    )
    return Run(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def without_root_powers(argv: list[str]) -> list[str]:
    """``argv`` run so that file modes stop it as they stop any user: the tests run as
    root, who ignores them; without its capabilities (``setpriv``, util-linux) root obeys
    them, and files owned by another uid are someone else's. Skips the test when that
    cannot be arranged."""
    import pytest

    if os.geteuid() != 0:
        return argv
    import shutil

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--", *argv]


def run_cli_peak(
    args: list[str], env: Mapping[str, str], *, stdin: Path | None = None, timeout: float = 120
) -> tuple[Run, float]:
    """``fbocli ARGS`` as a process, to its end (``stdin``: a file or device it reads), and
    its peak resident memory in MB (``wait4``: the process's own)."""
    with (
        open(stdin if stdin is not None else os.devnull, "rb") as source,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        proc = subprocess.Popen(
            fbocli_argv(*args), env=dict(env), stdin=source, stdout=out, stderr=err
        )
        timer = threading.Timer(timeout, proc.kill)  # a hang fails the test, never blocks it
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        run = Run(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )
    return run, usage.ru_maxrss / 1024  # Linux: kilobytes


def start_cli(args: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    """``fbocli ARGS`` as a process left running (to be killed or interrupted)."""
    return subprocess.Popen(
        fbocli_argv(*args),
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 30
) -> None:
    """Wait until ``condition()`` holds while ``proc`` (fbocli, to be stopped) runs."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "fbocli ended before the test could stop it"
        assert time.monotonic() < deadline, "fbocli made no progress"
        time.sleep(0.01)


@dataclass
class TerminalRun:
    """A process whose stdin and stderr were a real terminal: what the terminal showed,
    and when (seconds after the start) each piece of it arrived."""

    code: int
    stdout: str
    shown: str
    times: list[tuple[float, str]]


def run_on_terminal(
    argv: list[str],
    env: Mapping[str, str],
    *,
    answer: tuple[str, bytes] | None = None,
    timeout: float = 60,
) -> TerminalRun:
    """Run ``argv`` with its stdin and stderr on a pseudo-terminal (stdout a pipe), record
    what it draws and, once the terminal shows ``answer[0]``, type ``answer[1]``."""
    import pty
    import select
    import time

    leader, follower = pty.openpty()
    start = time.monotonic()
    times: list[tuple[float, str]] = []
    with subprocess.Popen(
        argv,
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=dict(env),
        start_new_session=True,  # not the test runner's terminal: this one is its only
    ) as proc:
        os.close(follower)
        while time.monotonic() - start < timeout:
            if answer is not None and answer[0] in "".join(t for _, t in times):
                os.write(leader, answer[1])
                answer = None
            ready, _, _ = select.select([leader], [], [], 0.1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            times.append((time.monotonic() - start, chunk.decode("utf-8", "replace")))
        else:
            proc.kill()
        out = proc.stdout.read() if proc.stdout is not None else b""
        code = proc.wait(timeout)
    os.close(leader)
    return TerminalRun(code, out.decode("utf-8", "replace"), "".join(t for _, t in times), times)


def invoke(
    args: list[str],
    state: Path | None = None,
    *,
    input: bytes | str | None = None,
    env: Mapping[str, str] | None = None,
    obj: Any = None,
) -> Result:
    """``fbocli ARGS`` in-process (click's runner); a run command gets ``--state-dir
    STATE``. No $FBOCLI_ token, app secret, Graph URL or config comes from the test's
    environment. ``obj``: the root context's object (the auth commands' testing aids)."""
    from fbocli.cli import main

    if state is not None and args[0] in ("validate", "upload"):
        args = [*args, "--state-dir", str(state)]
    base = {
        "FBOCLI_ACCESS_TOKEN": "",
        "FBOCLI_APP_SECRET": "",
        "FBOCLI_GRAPH_URL": "",
        "FBOCLI_CONFIG": "",
    }
    env = {**base, **(env or {})}
    return CliRunner().invoke(main, args, input=input, env=env, obj=obj)


# --------------------------------------------------------------------------- state and Meta


def journal_keys(state: Path) -> set[tuple[str, str, str]]:
    """The journal's (dataset, event_name, event_id) rows, read with plain sqlite3
    (read-only; works after a kill -9 thanks to WAL recovery)."""
    path = state / "journal.sqlite3"
    if not path.exists():
        return set()
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT dataset_id, event_name, event_id FROM sent").fetchall()
    finally:
        conn.close()
    return {(str(d), str(n), str(i)) for d, n, i in rows}


def upload_on(
    day: float,
    messages: Iterable[object],
    config: Path,
    work: Path,
    env: Mapping[str, str],
    *extra: str,
) -> dict[str, Any]:
    """An upload (in-process) of ``messages`` made as at ``day`` (``--now``): the journal
    records it then. Its checked ``--json`` summary; ``work`` holds the input file."""
    path = write_jsonl(work / f"upload-{int(day)}.jsonl", messages)
    args = ["upload", str(path), "-c", str(config), "--now", iso(day), "--json", *extra]
    result = invoke(args, Path(env["FBOCLI_STATE_DIR"]), env=env)
    assert result.exit_code == 0, result.output
    return summary(result)


def fake_graph(**kwargs: Any) -> FakeGraph:
    """The fake Graph API that knows TOKEN and DS1, DS2, its clock at NOW (not started)."""
    options: dict[str, Any] = {"tokens": [TOKEN], "datasets": [DS1, DS2], "now": NOW_TS}
    return FakeGraph(**{**options, **kwargs})


def received_keys(fake: FakeGraph) -> Counter[tuple[str, str, str]]:
    """What the fake accepted, as journal keys, duplicates counted."""
    return Counter(
        (ds, str(event["event_name"]), str(event["event_id"]))
        for ds, received in fake.received.items()
        for event in received
    )


def event_requests(fake: FakeGraph) -> list[dict[str, Any]]:
    """The requests the fake received at an events endpoint."""
    return [r for r in fake.requests if r["path"].endswith("/events")]


# --------------------------------------------------------------------------- small things


def hash_one(raw: object, normalize: Callable[[str], str | None]) -> str | None:
    """The hashed key of one value (None when it normalizes to nothing)."""
    found = hash_values(raw, normalize)
    return found[0] if found else None


def in_threads(work: Callable[[int], None], n: int) -> list[BaseException]:
    """Run ``work(0)`` .. ``work(n - 1)`` in ``n`` threads at once; the errors raised."""
    errors: list[BaseException] = []

    def guarded(number: int) -> None:
        try:
            work(number)
        except BaseException as exc:  # surfaced to the caller
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(number,)) for number in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
