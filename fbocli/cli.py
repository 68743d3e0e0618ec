"""Command line: parse options, build settings, call the core; nothing else lives here."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from fbocli import __version__, commands
from fbocli.cli_auth import auth
from fbocli.commands import RunOptions, parse_now
from fbocli.config import load_settings, starter_config
from fbocli.errors import ExitStatus, FbocliError, UsageError
from fbocli.settings import Settings


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
    """The ``fbocli`` program (console script and ``python -m fbocli``): :func:`main`, then
    an exit without the garbage collector's final pass over every object alive (~20 ms
    of each run). Everything fbocli writes is closed explicitly before that; tests call
    :func:`main` in-process, where the collector stays as it is."""
    try:
        main()
    finally:
        gc.freeze()


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


def _settings(config: str | None) -> Settings:
    return load_settings(config)


@main.command()
@_run_options
def validate(files: tuple[str, ...], config: str | None, **kwargs: Any) -> None:
    """Run the whole pipeline without network and report what would be sent.

    Exit status 1 when any record was rejected (see the rejects file).
    """
    options = RunOptions(inputs=files, now=parse_now(kwargs.pop("now")), **kwargs)
    status = commands.validate(
        _settings(config),
        options,
        stdout=sys.stdout,
        stdin=sys.stdin.buffer,
    )
    sys.exit(int(status))


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
def upload(files: tuple[str, ...], config: str | None, **kwargs: Any) -> None:
    """Read, map, validate and upload offline conversions to Meta.

    FILE is .jsonl/.json/.ndjson/.csv (optionally .gz) or - for standard input.
    """
    if kwargs["output"] and not kwargs["dry_run"]:
        raise UsageError("--output is only used with --dry-run")
    options = RunOptions(inputs=files, now=parse_now(kwargs.pop("now")), **kwargs)
    status = commands.upload(
        _settings(config),
        options,
        stdout=sys.stdout,
        stdin=sys.stdin.buffer,
    )
    sys.exit(int(status))


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
