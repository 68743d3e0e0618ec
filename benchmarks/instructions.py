"""Instructions per event, counted by valgrind's cachegrind: a measure the host cannot bend.

Wall time and even CPU time vary by ±20 % on a shared 2-core VM from one minute to the
next, which hides any change worth a few percent. The number of instructions a piece of
work executes does not: the same code on the same input counts the same (exactly with a
fixed hash seed, which this script sets; across seeds within ~0.2 %).
So a change is judged here first, and by ``bench.py`` after (docs/performance.md).

Each part runs in a fresh interpreter under cachegrind twice, once warming up only and
once with two more passes over the same events; the difference, per event, is the
steady cost:

* ``worker``: what a mapping worker does per chunk (parse, map, hash, count, encode,
  pickle the result), ``fbocli.chunks.map_chunk``;
* ``main``: what the main process does with a worker's result (unpickle a ``Mapped``,
  batch with ``fbocli.batching.Batcher``, build the request bodies and write them with
  ``fbocli.sinks.dryrun.DryRunSink``);
* ``fake``: the fake Graph API validating and answering those requests;
* ``startup``: instructions to import what a run imports (one count, not per event).

Usage: ``python benchmarks/instructions.py [PART ...] [-n 8000]`` (needs ``valgrind``).
"""

from __future__ import annotations

import argparse
import compileall
import gc
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("startup", "worker", "main", "fake")
NOW = 1_795_910_400  # 2026-11-29: the generated events' timestamps are around it


def _setup(data: Path) -> tuple[Any, list[Any]]:
    """The mapping context of the benchmark's config and the input as chunks of bytes."""
    sys.path.insert(0, str(ROOT))
    from fbocli.config import load_config
    from fbocli.inputs.reader import Chunk, FileSpan, open_input
    from fbocli.mapping.message import MapContext
    from fbocli.settings import CsvSettings

    ctx = MapContext(load_config(data.parent / "fbocli.toml"), NOW)
    with open_input(str(data), "jsonl", CsvSettings()) as reader:
        chunks = [
            Chunk(c.source, c.first_line, c.data.read(c.source))
            if isinstance(c.data, FileSpan)
            else c
            for c in reader.chunks()
        ]
    return ctx, chunks


def probe(part: str, passes: int, data: Path) -> int:
    """One part, warmed up, then ``passes`` more times; returns the events per pass."""
    ctx, chunks = _setup(data)
    from fbocli.chunks import map_chunk

    if part == "worker":

        def work() -> None:
            for chunk in chunks:
                pickle.dumps(map_chunk(ctx, chunk), pickle.HIGHEST_PROTOCOL)

    else:
        from fbocli import wire
        from fbocli.batching import Batcher
        from fbocli.chunks import absorb
        from fbocli.sinks import body_extra
        from fbocli.sinks.dryrun import DryRunSink
        from fbocli.stats import RunSummary

        settings = ctx.settings
        results = [pickle.dumps(map_chunk(ctx, c), pickle.HIGHEST_PROTOCOL) for c in chunks]

        if part == "main":
            out = open(os.devnull, "wb")  # noqa: SIM115 - lives as long as the probe

            def work() -> None:
                summary = RunSummary(dry_run=True, now=NOW)
                sink = DryRunSink(summary, settings, out)
                batcher = Batcher(settings.upload.batch_size, sink.submit)
                for result in results:
                    mapped = pickle.loads(result)
                    batcher.extend(absorb(summary, mapped))
                batcher.flush()
                sink.close()

        else:  # fake
            from tests.fakegraph import FakeGraph

            extra = body_extra(settings)
            bodies: list[tuple[str, bytes]] = []
            batcher = Batcher(
                settings.upload.batch_size,
                lambda dataset, batch: bodies.append(
                    (dataset, wire.body(extra, [e.wire for e in batch]))
                ),
            )
            for result in results:
                batcher.extend(pickle.loads(result).events)
            batcher.flush()
            datasets = sorted({d for d, _ in bodies})
            fake = FakeGraph(tokens=["t"], datasets=datasets, now=NOW, store_events=False)
            headers = {"authorization": "Bearer t", "content-type": "application/json"}

            def work() -> None:
                for dataset, body in bodies:
                    answer = fake.handle("POST", f"/v24.0/{dataset}/events", headers, body)
                    assert answer is not None and answer.status == 200, answer

    work()
    gc.collect()
    gc.freeze()
    for _ in range(passes):
        work()
    return sum(chunk.data.count(b"\n") for chunk in chunks)


def _cachegrind(args: list[str]) -> int:
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no"]
    valgrind.append("--cachegrind-out-file=/dev/null")
    done = subprocess.run(
        [*valgrind, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        # A fixed hash seed: string hashing varies dict layouts, hence counts, by ~0.2 %.
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"},
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def count(part: str, data: Path) -> tuple[int, int]:
    """(instructions, events): per pass over the events for a pipeline part; for
    ``startup``, of the whole start (events 1)."""
    if part == "startup":
        return _cachegrind([sys.executable, "-c", "import fbocli.cli"]), 1
    me = [sys.executable, __file__, "--probe", part, "--data", str(data)]
    warm, more = _cachegrind([*me, "--passes", "0"]), _cachegrind([*me, "--passes", "2"])
    with data.open("rb") as file:
        events = sum(1 for _ in file)
    return (more - warm) // 2, events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", help=f"of {', '.join(PARTS)} (default: all)")
    parser.add_argument("-n", type=int, default=8000, help="events (default 8,000)")
    parser.add_argument("--probe", choices=PARTS[1:], help=argparse.SUPPRESS)
    parser.add_argument("--passes", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:  # one measured process, under valgrind
        probe(args.probe, args.passes, args.data)
        return 0
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part {', '.join(unknown)}: choose from {', '.join(PARTS)}")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing to count", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench

    compileall.compile_dir(ROOT / "fbocli", quiet=1)  # counted: running, not compiling
    compileall.compile_file(ROOT / "tests" / "fakegraph.py", quiet=1)
    with tempfile.TemporaryDirectory(prefix="fbocli-instructions-") as work:
        data = Path(work) / "events.jsonl"
        (Path(work) / "fbocli.toml").write_text(bench.CONFIG, encoding="utf-8")
        bench.NOW_S = NOW  # the events' timestamps fall within Meta's window of NOW
        bench.write_input(data, args.n)
        for part in args.parts or PARTS:
            instructions, events = count(part, data)
            per = "" if part == "startup" else f" per event (over {events:,} events)"
            print(f"{part:8s} {instructions // max(events, 1):>13,} instructions{per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
