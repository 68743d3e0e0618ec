"""kill -9 at seeded random moments of a 20,000-event upload; re-runs lose nothing.

One input, one fake Meta and one state directory per chain: the upload is started, killed
with SIGKILL at a random moment (during start-up and reading, or once Meta has accepted a
random number of further events), and started again, over and over; the last run is left
to finish. After every kill the journal must only hold events Meta accepted (it is written
after the acknowledgement), and what Meta accepted without being journaled must fit in the
batches in flight (``workers x batch_size``); those, and only those, may arrive twice.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from fbocli.pipeline import POOL_MIN_BYTES
from tests.fakegraph import FakeGraph, Fault
from tests.helpers import (
    DS1,
    cli_env,
    fake_graph,
    fbocli_argv,
    journal_keys,
    run_cli,
    upload_args,
    write_config,
    write_events,
)

pytestmark = pytest.mark.slow  # 22 kills of a 20,000-event upload

EVENTS = 20_000
BATCH = 200
WORKERS = 2
IN_FLIGHT = WORKERS * BATCH  # events Meta may hold whose acknowledgement was never journaled
KILLS_PER_CHAIN = 11
SEEDS = (20261120, 4242)  # 2 chains x 11 kills = 22 crash points


def _kill_at_random_moment(
    argv: list[str], env: dict[str, str], fake: FakeGraph, rng: random.Random
) -> str:
    """Start the upload, SIGKILL it at a random moment; describe that moment."""
    before = fake.count()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if rng.random() < 0.25:  # early: start-up, config, journal, reading
            delay = rng.uniform(0.05, 0.8)
            time.sleep(delay)
            moment = f"after {delay:.2f} s"
        else:  # once Meta has accepted some more events: mid-batch, mid-journal write
            target = before + rng.randint(1, 1500)
            deadline = time.monotonic() + 30
            while fake.count() < target and proc.poll() is None:
                assert time.monotonic() < deadline, "the upload made no progress"
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.03))
            moment = f"after {fake.count() - before} more accepted events"
    finally:
        proc.kill()
        proc.wait()
    return moment


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_9_at_random_moments_then_rerun(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    ids = write_events(tmp_path / "in.jsonl", EVENTS)
    # Large enough for the worker pool: its processes must not outlive a kill with the lock.
    assert (tmp_path / "in.jsonl").stat().st_size >= POOL_MIN_BYTES
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"')
    args = upload_args(
        tmp_path / "in.jsonl",
        config,
        "--json",
        "-q",
        "--batch-size",
        str(BATCH),
        "--workers",
        str(WORKERS),
    )
    state = tmp_path / "state"
    with fake_graph(datasets=[DS1], store_events=False) as fake:
        fake.inject(Fault.delay(0.02), 10**9)  # slow every batch a little: kills land mid-flight
        env = cli_env(tmp_path, fake.url)
        unjournaled_at: list[set[str]] = []  # per kill: accepted by Meta, not in the journal
        for _ in range(KILLS_PER_CHAIN):
            moment = _kill_at_random_moment(fbocli_argv(*args), env, fake, rng)
            journaled = {event_id for _, _, event_id in journal_keys(state)}
            accepted = set(fake.event_ids(DS1))
            assert journaled <= accepted, f"journaled but never accepted ({moment})"
            unjournaled = accepted - journaled
            new = unjournaled - (unjournaled_at[-1] if unjournaled_at else set())
            assert len(new) <= IN_FLIGHT, moment
            unjournaled_at.append(unjournaled)

        final = run_cli(args, env)
        assert final.code == 0, final.stderr
        events = final.summary["events"]
        assert events["built"] == EVENTS
        assert events["sent"] + events["already_sent"] == EVENTS
        assert events["failed"] == events["api_rejected"] == 0

        counts = Counter(fake.event_ids(DS1))
    assert set(counts) == set(ids)
    assert len(journal_keys(state)) == EVENTS
    for event_id, n in counts.items():
        # each extra delivery is one run killed after Meta accepted it, before the journal did
        assert n - 1 <= sum(event_id in u for u in unjournaled_at), event_id
    assert sum(counts.values()) - EVENTS <= IN_FLIGHT * len(unjournaled_at)
