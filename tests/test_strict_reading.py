"""Issue 19, the inputs: broken input never swallows or loses records silently.

A CSV quote that is never closed costs its row, not the rest of the file; a line or row
over ``[input] max_record_bytes`` is a ``too_large`` reject and reading goes on; a NUL
flood or ``/dev/zero`` ends with a clear error in bounded memory; an input that changes
while it is read is an error on every path (in-process, pool, gzip, stdin from a file);
and an input error after events were sent exits 1 with the summary, not 2.

Real files and real processes throughout; the fake Graph API where events are sent.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from tests.helpers import (
    DS1,
    cli_env,
    fake_graph,
    run_cli,
    track_events,
    upload_args,
    write_config,
    write_jsonl,
)


def _upload_env(tmp_path: Path, url: str, pool: bool) -> dict[str, str]:
    threshold = "0" if pool else str(10**12)  # the pool for any input, or for none
    return cli_env(tmp_path, url, FBOCLI_PARALLEL_MIN_BYTES=threshold)


def test_a_half_written_gzip_after_events_were_sent_exits_1_with_the_summary(
    tmp_path: Path,
) -> None:
    """The issue's case: a .gz cut in half. Before: exit 2 ("nothing was sent") after
    4,000 events were sent. A validate or a dry run of it sends nothing: exit 2 still."""
    n = 12_000
    source = write_jsonl(tmp_path / "whole.jsonl", track_events(n))
    packed = gzip.compress(source.read_bytes())
    path = tmp_path / "export.jsonl.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    config = write_config(
        tmp_path / "fbocli.toml", routes=f'"Order Completed" = "{DS1}"',
        upload="batch_size = 100\nworkers = 1",
    )  # fmt: skip
    with fake_graph() as fake:
        env = _upload_env(tmp_path, fake.url, pool=False)
        run = run_cli(upload_args(path, config, "--json", "-q"), env)
        assert run.code == 1, run.stderr
        sent = run.summary["events"]["sent"]
        assert sent > 0 and sent == fake.count()
        first = run.stderr.splitlines()[0]
        assert first.startswith(f"fbocli: error: {path}: read failed: Compressed file ended")
        assert first.endswith(
            f"; {sent:,} events were sent before it (they are journaled: the same command, "
            "run again once the input is whole, skips them and sends the rest)"
        )
        for command in ("validate", "dry-run"):
            extra = ("--dry-run",) if command == "dry-run" else ()
            name = "upload" if command == "dry-run" else "validate"
            run = run_cli(upload_args(path, config, "-q", *extra, command=name), env)
            assert run.code == 2 and "events were sent before it" not in run.stderr

        path.write_bytes(packed)
        run = run_cli(upload_args(path, config, "--json"), env)
        assert run.code == 0 and run.summary["events"]["already_sent"] == sent
        assert fake.count() == n
