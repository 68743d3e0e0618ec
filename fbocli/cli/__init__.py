"""The command line: parse options, read the environment and the terminal, call the API.

Everything the core needs from the process (environment variables, standard streams,
whether stderr is a terminal) is read here and passed in; the one boundary that turns an
:class:`FbocliError` into a message and an exit status is :func:`fail`.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, BinaryIO, NoReturn

import click

from fbocli import __version__, api
from fbocli.cli.auth import auth
from fbocli.cli.environment import load_settings, tuning, warn
from fbocli.cli.progress import ProgressDisplay
from fbocli.cli.report import render, upload_sections, validate_sections
from fbocli.config import starter_config
from fbocli.credentials import resolve_token
from fbocli.errors import AuthError, ExitStatus, FbocliError, UsageError
from fbocli.pipeline import Format
from fbocli.stats import RunSummary


def fail(error: FbocliError) -> NoReturn:
    """The single boundary: an FbocliError becomes a message on stderr and its exit status."""
    click.echo(f"fbocli: error: {error.message}", err=True)
    if error.hint:
        click.echo(f"hint: {error.hint}", err=True)
    sys.exit(int(error.exit_status))


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FbocliError as error:
            fail(error)
        except KeyboardInterrupt:
            click.echo("fbocli: interrupted", err=True)
            sys.exit(int(ExitStatus.INTERRUPTED))


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="fbocli")
def main() -> None:
    """Upload offline conversions (store sales, leads) to Meta, mapped as Segment did."""


def entry() -> None:
    """The ``fbocli`` program (console script and ``python -m fbocli``): the process is
    fbocli's, so it is tuned here (:func:`tune_process`), then :func:`main` runs, then the
    program exits without the garbage collector's final pass over every object alive.
    Everything fbocli writes is closed explicitly before that; tests call :func:`main`
    in-process, where nothing is tuned."""
    tune_process()
    try:
        main()
    finally:
        gc.freeze()


def tune_process() -> None:
    """Let the C allocator keep and reuse the ~1 MB buffers of a run (every chunk, result,
    request body and write is one) instead of mapping fresh pages for each, which the
    kernel must zero: a run's mapping workers inherit the setting. glibc only; elsewhere
    nothing changes. docs/performance.md has what it saves."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return
    mallopt(_M_TRIM_THRESHOLD, 16 << 20)  # freed memory the process may keep
    mallopt(_M_MMAP_THRESHOLD, 4 << 20)  # smaller allocations come from the heap


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by `upload` and `validate` (cli.md)."""
    options = [
        click.argument("files", nargs=-1, required=True, metavar="FILE..."),
        click.option(
            "-c",
            "--config",
            "config",
            metavar="PATH",
            help="TOML config (default: $FBOCLI_CONFIG, ./fbocli.toml, user config dir).",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["auto", "jsonl", "csv"]),
            default="auto",
            show_default=True,
            help="Input format (auto: by extension).",
        ),
        click.option(
            "--now",
            metavar="ISO8601",
            help="Reference time for the 62-day window (default: the current time).",
        ),
        click.option(
            "--rejects",
            metavar="PATH",
            help="Where rejected records go (JSON lines; default: under the state dir).",
        ),
        click.option(
            "--json",
            "json_output",
            is_flag=True,
            help="Print the run summary as one JSON object (nothing else on stdout).",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress display, errors only."),
        click.option("--strict", is_flag=True, help="Exit 1 if any record was rejected."),
        click.option(
            "--state-dir",
            metavar="PATH",
            envvar="FBOCLI_STATE_DIR",
            help="Journal, lock and default rejects location ($FBOCLI_STATE_DIR).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _total_bytes(inputs: tuple[str, ...]) -> int | None:
    total = 0
    for path in inputs:
        try:
            total += os.stat(path).st_size
        except OSError:
            return None
    return total


def _display(files: tuple[str, ...], quiet: bool, json_output: bool, dry_run: bool) -> Any:
    return ProgressDisplay(
        enabled=not quiet and not json_output and sys.stderr.isatty(),
        total_bytes=_total_bytes(files),
        dry_run=dry_run,
    )


def _stdin() -> BinaryIO:
    return sys.stdin.buffer


@main.command()
@_run_options
def validate(
    files: tuple[str, ...],
    config: str | None,
    fmt: Format,
    now: str | None,
    rejects: str | None,
    json_output: bool,
    quiet: bool,
    strict: bool,
    state_dir: str | None,
) -> None:
    """Run the whole pipeline without network and report what would be sent.

    Exit status 1 when any record was rejected (see the rejects file).
    """
    env = os.environ
    settings = load_settings(config, env)
    with _display(files, quiet, json_output, dry_run=True) as display:
        summary = api.validate(
            files,
            settings,
            now=now,
            fmt=fmt,
            rejects=rejects,
            state_dir=state_dir,
            stdin=_stdin(),
            progress=display,
            warn=warn,
            tuning=tuning(env),
        )
    _report(summary, sys.stdout, json_output=json_output, output=None)
    sys.exit(int(summary.exit_status(strict=strict)))


@main.command()
@_run_options
@click.option("--dry-run", is_flag=True, help="Do everything except send.")
@click.option(
    "--output",
    metavar="PATH",
    help="With --dry-run: write each request as one JSON line ('-' for stdout).",
)
@click.option("--force", is_flag=True, help="Send again events the journal says were sent.")
@click.option(
    "--test-event-code",
    metavar="CODE",
    help="Events Manager 'Test events' code (overrides the config).",
)
@click.option(
    "--batch-size", type=int, metavar="N", help="Events per request (overrides [upload])."
)
@click.option("--workers", type=int, metavar="N", help="Concurrent requests (overrides [upload]).")
def upload(
    files: tuple[str, ...],
    config: str | None,
    fmt: Format,
    now: str | None,
    rejects: str | None,
    json_output: bool,
    quiet: bool,
    strict: bool,
    state_dir: str | None,
    dry_run: bool,
    output: str | None,
    force: bool,
    test_event_code: str | None,
    batch_size: int | None,
    workers: int | None,
) -> None:
    """Read, map, validate and upload offline conversions to Meta.

    FILE is .jsonl/.json/.ndjson/.csv (optionally .gz) or - for standard input.
    """
    if output and not dry_run:
        raise UsageError("--output is only used with --dry-run")
    env = os.environ
    settings = load_settings(config, env)
    token = None
    if not dry_run:
        resolved = resolve_token(env)
        if resolved is None:
            raise AuthError(
                "no access token",
                hint="run `fbocli auth` to set one up, or set "
                "FBOCLI_ACCESS_TOKEN (a dry run needs none: --dry-run)",
            )
        token = resolved.secret
    stdout = sys.stdout
    with _display(files, quiet, json_output, dry_run) as display:
        try:
            summary = api.upload(
                files,
                settings,
                token=token,
                now=now,
                dry_run=dry_run,
                output=stdout.buffer if output == "-" else output,
                state_dir=state_dir,
                force=force,
                workers=workers,
                batch_size=batch_size,
                test_event_code=test_event_code,
                fmt=fmt,
                rejects=rejects,
                stdin=_stdin(),
                progress=display,
                warn=warn,
                tuning=tuning(env),
            )
        except FbocliError as error:
            # Stopped part-way (Ctrl-C, expired token, ...): what was delivered and what
            # was not still matters to the user and to a cron job's --json.
            if error.summary is not None:
                display.close()
                _report(error.summary, stdout, json_output=json_output, output=output)
            raise
    _report(summary, stdout, json_output=json_output, output=output)
    sys.exit(int(summary.exit_status(strict=strict)))


def _report(summary: RunSummary, out: IO[str], *, json_output: bool, output: str | None) -> None:
    if json_output:
        out.write(json.dumps(summary.to_dict(), indent=1) + "\n")
        out.flush()
        return
    sections = validate_sections(summary) if summary.validate else upload_sections(summary)
    render(sections, out, rich_output=out.isatty())
    if summary.rejects_file:
        out.write(
            f"Rejected records ({summary.rejected + summary.api_rejected}) written to "
            f"{summary.rejects_file}\n"
        )
    if summary.dry_run and output and output != "-":
        out.write(f"Requests written to {output}\n")
    out.flush()


@main.command()
@click.argument("path", default="fbocli.toml", metavar="[PATH]")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, force: bool) -> None:
    """Write a commented starter config (default ./fbocli.toml)."""
    target = Path(path)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to overwrite it")
    try:
        target.write_text(starter_config(), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    click.echo(
        f"Wrote {target}. Put your dataset IDs in [events], then run:\n"
        f"  fbocli validate -c {target} YOUR_EXPORT.jsonl"
    )


main.add_command(auth)
