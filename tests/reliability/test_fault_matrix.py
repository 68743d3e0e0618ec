"""The fault matrix: every fault of meta-api.md, alone and mixed, through the real CLI.

Each case runs ``fbocli upload`` (a subprocess) against the fake Graph API with the fault
injected, checks the documented exit code and the summary, clears the fault, runs the same
command again and checks that every event reached Meta exactly once per dataset, except
the events of a batch in flight when its answer was lost (a client timeout), which Meta
may receive twice and deduplicates by event_id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fbocli.settings import DEFAULT_API_VERSION
from tests.fakegraph import JSON, FakeGraph, Fault
from tests.helpers import (
    DS1,
    DS2,
    cli_env,
    journal_keys,
    run_cli,
    upload_args,
    write_config,
    write_events,
    write_jsonl,
)

pytestmark = pytest.mark.slow  # two CLI processes per case, ~35 cases

N_EVENTS = 24  # x 2 datasets, batch size 4: 12 requests from 24 lines
BATCH = 4
MAX_TRIES = 3  # max_retries of the cases that exhaust their retries
TRIES = 8  # max_retries elsewhere: more than the faults a case injects, so none exhausts


@dataclass
class World:
    """What a case may change on the fake, and how to undo it before the re-run."""

    fake: FakeGraph
    bad_ids: set[str] = field(default_factory=set)

    def reject(self, *event_ids: str) -> None:
        """Make Meta refuse any request holding one of these events (until cleared)."""
        self.bad_ids.update(event_ids)

    def clear(self) -> None:
        """Meta is healthy again: no pending fault, no bad event, every dataset back."""
        with self.fake._lock:  # the fake has no public "forget pending faults"
            self.fake._faults.clear()
        self.bad_ids.clear()
        self.fake.deprecated_versions = frozenset()
        self.fake.usage_headers = {}
        self.fake.add_dataset(DS2)


def _passes(fake: FakeGraph, n: int, dataset: str | None = None) -> None:
    """Let the next ``n`` matching requests through untouched (faults queue FIFO)."""
    fake.inject(Fault.delay(0), n, dataset=dataset)


@dataclass(frozen=True)
class Case:
    name: str
    arrange: Callable[[World], None]
    exit_code: int
    upload: str = ""  # extra [upload] lines
    tries: int = TRIES
    dup_budget: int = 0  # events that may arrive twice (batches in flight at a lost answer)
    check: Callable[[dict[str, Any]], None] | None = None  # on the first run's summary


def _five_xx(status: int, times: int = 3, code: int | None = 1) -> Callable[[World], None]:
    return lambda w: w.fake.inject(Fault.error(status, code=code), times)


def _rate(code: int, times: int = 2, **kw: Any) -> Callable[[World], None]:
    return lambda w: w.fake.inject(Fault.rate_limit(code, **kw), times)


def _all_failed(dataset: str, n: int) -> Callable[[dict[str, Any]], None]:
    def check(s: dict[str, Any]) -> None:
        assert s["datasets"][dataset]["failed"] == n
        assert s["events"]["failed"] == n

    return check


_ds2_failed = _all_failed(DS2, N_EVENTS)


def _exhaust(fault: Fault) -> Callable[[World], None]:
    """Every try of every DS2 request fails: exactly MAX_TRIES x its batches faults."""
    return lambda w: w.fake.inject(fault, MAX_TRIES * (N_EVENTS // BATCH), dataset=DS2)


def _auth_mid_run(w: World) -> None:
    _passes(w.fake, 3)
    w.fake.inject(Fault.error(401, code=190, message="Error validating access token"))


def _permission_mid_run(w: World) -> None:
    _passes(w.fake, 2)
    w.fake.inject(Fault.error(403, code=200, message="(#200) Permissions error"))


def _version_mid_run(w: World) -> None:
    _passes(w.fake, 2)
    w.fake.inject(Fault.error(400, code=2635, message="(#2635) deprecated version"))


def _dataset_vanishes(w: World) -> None:
    _passes(w.fake, 1, DS2)
    w.fake.inject(
        Fault.error(400, code=100, subcode=33, message="Object does not exist"), dataset=DS2
    )


def _mixed_transient(w: World) -> None:
    for fault in (
        Fault.error(500),
        Fault.reset(),
        Fault.rate_limit(613),
        Fault.html(502),
        Fault.reset(),
        Fault.rate_limit(80004, retry_after=1),
        Fault.error(503, code=2, is_transient=True),
    ):
        w.fake.inject(fault)


def _mixed_with_bad_event(w: World) -> None:
    _mixed_transient(w)
    w.reject("e5", "e6")


def _mixed_timeout_and_exhaustion(w: World) -> None:
    w.fake.inject(Fault.delay(2.5), dataset=DS1)  # > timeout_seconds = 1
    w.fake.inject(Fault.reset(), 2, dataset=DS1)
    _exhaust(Fault.error(500))(w)


def _mixed_then_auth(w: World) -> None:
    w.fake.inject(Fault.reset())
    w.fake.inject(Fault.error(500))
    _passes(w.fake, 2)
    w.fake.inject(Fault.error(401, code=190, message="Session has expired"))


def _bad_event(*ids: str) -> Callable[[World], None]:
    return lambda w: w.reject(*ids)


def _check_api_rejected(n: int) -> Callable[[dict[str, Any]], None]:
    def check(s: dict[str, Any]) -> None:
        assert s["events"]["api_rejected"] == n
        assert s["events"]["failed"] == 0

    return check


def _deprecated(w: World) -> None:
    w.fake.deprecated_versions = frozenset({DEFAULT_API_VERSION})


def _removed(w: World) -> None:
    w.fake.remove_dataset(DS2)


def _usage(w: World) -> None:
    w.fake.usage_headers = {"X-App-Usage": json.dumps({"call_count": 97, "total_time": 5})}


TIMEOUT = "timeout_seconds = 1"
CASES = [
    Case("http-500", _five_xx(500), 0),
    Case("http-503-no-code", _five_xx(503, code=None), 0),
    Case("http-502-html", lambda w: w.fake.inject(Fault.html(502), 3), 0),
    Case("code-2-transient", lambda w: w.fake.inject(Fault.error(400, code=2), 2), 0),
    Case("is-transient-flag", lambda w: w.fake.inject(Fault.error(400, 99, is_transient=True)), 0),
    Case("http-429", _five_xx(429, code=None), 0),
    *[Case(f"rate-limit-{code}", _rate(code), 0) for code in (4, 17, 32, 341, 613, 80000, 80014)],
    Case("rate-limit-retry-after", _rate(4, retry_after=3), 0),
    Case("rate-limit-regain-access", _rate(80000, regain_minutes=1), 0),
    Case("usage-near-limit", _usage, 0),
    Case("connection-reset", lambda w: w.fake.inject(Fault.reset(), 4), 0),
    Case("timeout", lambda w: w.fake.inject(Fault.delay(2.5)), 0, TIMEOUT, dup_budget=BATCH),
    Case("5xx-exhausted", _exhaust(Fault.error(500)), 1, tries=MAX_TRIES, check=_ds2_failed),
    Case("reset-exhausted", _exhaust(Fault.reset()), 1, tries=MAX_TRIES, check=_ds2_failed),
    Case(
        "rate-limit-exhausted",
        _exhaust(Fault.rate_limit(17)),
        1,
        tries=MAX_TRIES,
        check=_ds2_failed,
    ),
    Case("token-190-at-start", lambda w: w.fake.inject(Fault.error(401, code=190)), 3),
    Case("token-190-mid-run", _auth_mid_run, 3),
    Case("permission-200-mid-run", _permission_mid_run, 3),
    Case("version-2635-mid-run", _version_mid_run, 2),
    Case("version-2635-deprecated", _deprecated, 2),
    Case("dataset-vanishes-mid-run", _dataset_vanishes, 1),
    Case("dataset-removed", _removed, 1, check=_all_failed(DS2, N_EVENTS)),
    Case(
        "dataset-803",
        lambda w: w.fake.inject(Fault.error(400, code=803), times=1000, dataset=DS2),
        1,
        check=_all_failed(DS2, N_EVENTS),
    ),
    Case("bad-event", _bad_event("e7"), 1, check=_check_api_rejected(2)),
    Case("two-bad-events-one-batch", _bad_event("e8", "e9"), 1, check=_check_api_rejected(4)),
    Case("mixed-transient", _mixed_transient, 0),
    Case("mixed-with-bad-events", _mixed_with_bad_event, 1, check=_check_api_rejected(4)),
    Case(
        "mixed-timeout-and-exhaustion",
        _mixed_timeout_and_exhaustion,
        1,
        TIMEOUT,
        tries=MAX_TRIES,
        dup_budget=BATCH,
        check=_ds2_failed,
    ),
    Case("mixed-then-190", _mixed_then_auth, 3),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault_then_rerun_delivers_everything(case: Case, fake: FakeGraph, tmp_path: Path) -> None:
    world = World(fake)

    def refuse(event: JSON) -> str | None:
        return "Invalid parameter: bad event" if event.get("event_id") in world.bad_ids else None

    fake.reject_events(refuse)
    ids = write_events(tmp_path / "in.jsonl", N_EVENTS)
    config = write_config(
        tmp_path / "fbocli.toml", upload=f"max_retries = {case.tries}\n{case.upload}"
    )
    args = upload_args(
        tmp_path / "in.jsonl", config, "--json", "--batch-size", str(BATCH), "--workers", "2"
    )
    env = cli_env(tmp_path, fake.url)
    state = tmp_path / "state"
    built = 2 * N_EVENTS

    case.arrange(world)
    first = run_cli(args, env)
    assert first.code == case.exit_code, first.stderr
    s1 = first.summary
    assert s1["events"]["already_sent"] == 0
    if case.exit_code in (0, 1):  # the run went to the end of the input
        assert s1["events"]["built"] == built
    else:  # a fatal error stops reading; it is reported with a hint
        assert s1["events"]["built"] <= built
        assert "fbocli: error: " in first.stderr and "hint: " in first.stderr
    if case.exit_code == 1:
        assert s1["events"]["failed"] + s1["events"]["api_rejected"] > 0
    if case.check is not None:
        case.check(s1)
    journaled = {(ds, event_id) for ds, _, event_id in journal_keys(state)}
    # The journal holds exactly what the run counted as sent, all of it acknowledged by Meta.
    assert len(journaled) == s1["events"]["sent"]
    accepted = {(ds, i) for ds in (DS1, DS2) for i in Counter(fake.event_ids(ds))}
    assert journaled <= accepted

    world.clear()
    second = run_cli(args, env)
    assert second.code == 0, second.stderr
    s2 = second.summary
    assert s2["events"]["already_sent"] == s1["events"]["sent"]
    assert s2["events"]["sent"] == built - s1["events"]["sent"]
    assert s2["events"]["failed"] == s2["events"]["api_rejected"] == 0

    extra = 0
    for ds in (DS1, DS2):
        counts = Counter(fake.event_ids(ds))
        assert set(counts) == set(ids), ds  # every event reached Meta ...
        extra += sum(n - 1 for n in counts.values())
    assert extra <= case.dup_budget  # ... once, except a batch whose answer was lost
    assert len(journal_keys(state)) == built


def test_a_poison_string_does_not_block_its_batch(fake: FakeGraph, tmp_path: Path) -> None:
    good = {
        "event": "Order Completed",
        "timestamp": "2026-11-19T10:00:00Z",
        "context": {"traits": {"email": "a@b.co"}},
    }
    lines = [
        {**good, "messageId": "p1", "properties": {"revenue": 1, "note": "\ud800"}},
        {**good, "messageId": "p2", "properties": {"revenue": 2}},
    ]
    write_jsonl(tmp_path / "in.jsonl", lines)
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')
    result = run_cli(
        upload_args(tmp_path / "in.jsonl", config, "--json"), cli_env(tmp_path, fake.url)
    )
    assert "p2" in Counter(fake.event_ids(DS1))  # the innocent event is delivered
    assert result.summary["events"]["failed"] == 0  # the poison one is rejected/api_rejected
