"""The command line: parse options, read the environment and the terminal, call the API.

Everything the core needs from the process (environment variables, standard streams,
whether stderr is a terminal, signals) is read here and passed in; the one boundary that
turns an :class:`FbocliError` into a message and an exit status is :func:`fail`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import gc
import io
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NoReturn

import click

from fbocli import __version__, api
from fbocli.cli.auth import auth
from fbocli.cli.environment import app_secret as find_app_secret
from fbocli.cli.environment import load_settings, state_dir_option, tuning, warn
from fbocli.cli.environment import token as find_token
from fbocli.cli.progress import ProgressDisplay
from fbocli.cli.quality import quality
from fbocli.cli.report import (
    failure_text,
    headline,
    render,
    runs_sections,
    upload_sections,
    validate_sections,
)
from fbocli.config import starter_config
from fbocli.errors import AuthError, ExitStatus, FbocliError, Stop, UsageError
from fbocli.journal import JOURNAL_FILE, Journal, resolve_state_dir
from fbocli.pipeline import Format
from fbocli.secret import redact
from fbocli.settings import NATIVE_PRESETS, PRESETS
from fbocli.stats import RunSummary

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

CONTEXT = {"help_option_names": ["-h", "--help"]}


def fail(error: FbocliError) -> NoReturn:
    """The single boundary: an FbocliError becomes a message on stderr and its exit status.
    Every secret the process knows is masked in what is shown (:func:`redact`)."""
    click.echo(f"fbocli: error: {redact(error.message)}", err=True)
    if error.hint:
        click.echo(f"hint: {redact(error.hint)}", err=True)
    sys.exit(int(error.exit_status))


def internal_error(exc: Exception) -> FbocliError:
    """What fbocli did not expect, as one line (no traceback: it could show a secret)."""
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:299] + "…"
    return FbocliError(
        f"internal error: {type(exc).__name__}: {text}"
        if text
        else f"internal error: {type(exc).__name__}",
        hint="this is a bug in fbocli: please report it with the command you ran (never the "
        "token); what Meta acknowledged is journaled, so running it again is safe",
    )


_STOPPING: list[int] = []  # the stop signal being handled, once one came


def _stop(signum: int, frame: object) -> None:
    """Ctrl-C, SIGTERM or SIGHUP: the first stops the run the graceful way (batches on
    the wire finish and are journaled, the summary shows). Another one while that
    happens is said and otherwise ignored: cutting the wind-down short would lose the
    summary and the journal's last batches (``kill -9`` stays safe)."""
    if _STOPPING:
        with contextlib.suppress(OSError):  # (no Python-level stderr in a handler)
            os.write(2, _STILL_STOPPING)
        return
    _STOPPING.append(signum)
    raise Stop(signum)


_STILL_STOPPING = (
    b"fbocli: stopping: the batches on the wire finish first, then the summary"
    b" (kill -9 is safe: what Meta acknowledged is journaled)\n"
)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FbocliError as error:
            fail(error)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own: usage errors, --help, --version
        except StdoutError:
            raise  # said (or, for a closed pipe, not said) once stdout is given up: _run_main
        except Exception as exc:
            fail(internal_error(exc))
        except KeyboardInterrupt as stop:
            signum = getattr(stop, "signum", signal.SIGINT)
            what = "interrupted" if signum == signal.SIGINT else f"stopped by signal {signum}"
            click.echo(f"fbocli: error: {what}", err=True)
            sys.exit(128 + signum)


# Examples at the end of each command's help ("\b": keep the lines as they are).
_EPILOG_MAIN = """\b
Examples:
  fbocli init                          write ./fbocli.toml, then edit its [events]
  fbocli validate orders.jsonl         what would be sent, and every reject
  fbocli upload orders.jsonl           send to Meta (a token: fbocli auth)
  fbocli runs                          past uploads
  fbocli quality                       Meta's data-quality scores beside fbocli's own

Shell completion: eval "$(_FBOCLI_COMPLETE=bash_source fbocli)" (zsh: zsh_source).
"""
_EPILOG_VALIDATE = """\b
Examples:
  fbocli validate orders.jsonl
  fbocli validate -c fbocli.toml export.csv --now 2026-11-20T00:00:00Z
  fbocli validate orders_export.csv                 a Shopify export: found by its header
  fbocli validate transactions.csv --customers customers.csv     (Square)
  fbocli validate export.csv --column timestamp="Paid at" --column zip="Billing Zip"
  fbocli validate exports/ 'more/*.jsonl.gz'        a folder, a quoted glob
  fbocli validate orders.jsonl --json | jq .records
"""
_EPILOG_UPLOAD = """\b
Examples:
  fbocli upload orders.jsonl
  fbocli upload orders.jsonl --dry-run --output requests.jsonl
  fbocli upload orders.jsonl --dry-run --output - | jq .url
  fbocli upload orders.jsonl --test-event-code TEST12345
  fbocli upload -q -c /etc/fbocli.toml /data/exports/latest.jsonl.gz   (cron)
"""
_EPILOG_RUNS = """\b
Examples:
  fbocli runs
  fbocli runs --limit 5 --json
"""
_EPILOG_INIT = """\b
Examples:
  fbocli init
  fbocli init /etc/fbocli.toml
  fbocli init --preset shopify          a config for Shopify's orders export
"""


@click.group(cls=_Group, context_settings=CONTEXT, epilog=_EPILOG_MAIN)
@click.version_option(__version__, "-V", "--version", prog_name="fbocli")
def main() -> None:
    """Upload offline conversions (store sales, leads) to Meta, mapped as Segment did."""


def entry() -> None:
    """The ``fbocli`` program (console script and ``python -m fbocli``): the process is
    fbocli's, so it is tuned here (:func:`tune_process`) and stop signals are taken like
    Ctrl-C, then :func:`main` runs, then the program exits without the garbage
    collector's final pass over every object alive. Everything fbocli writes is closed
    explicitly before that; tests call :func:`main` in-process, where nothing of this is
    done."""
    tune_process()
    # SIGTERM (timeout, systemd, Docker, Kubernetes) and SIGHUP (a closed terminal) stop a
    # run the way Ctrl-C does: in-flight batches finish, the summary shows, exit 143/129.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    # Ctrl-C too, so that a second one cannot cut the wind-down short; unless the
    # process was started with it ignored (nohup, a background job): that stays.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _stop)
    try:
        status = _run_main()
    finally:
        gc.freeze()
    sys.exit(status)


def _run_main() -> int | str | None:
    """:func:`main`, then standard output flushed; its exit status.

    Standard output that cannot be written is one line on stderr, never a traceback: a
    full disk under a cron log (ENOSPC, or ``> /dev/full``) exits 1 (or the run's own
    failing status); a reader that went away (``fbocli runs | head -1``: EPIPE) exits
    quietly with 141, as a program killed by SIGPIPE does.
    """
    _guard_stdout()
    status: int | str | None = None
    try:
        try:
            main()  # (click ends with SystemExit, success included)
        except SystemExit as done:
            status = done.code
        sys.stdout.flush()  # a failed write shows here, not at the interpreter's exit
    except StdoutError as exc:
        _drop_stdout()
        if exc.errno == errno.EPIPE:
            return 128 + signal.SIGPIPE
        click.echo(f"fbocli: error: cannot write to standard output: {exc.strerror}", err=True)
        return status if isinstance(status, int) and status != 0 else int(ExitStatus.FAILURE)
    return status


class StdoutError(Exception):
    """Standard output could not be written. No OSError: nothing on the way (click's
    own EPIPE handling, which exits 1; a sink's write) takes it for another file's."""

    def __init__(self, number: int | None, reason: str | None) -> None:
        super().__init__(number, reason)
        self.errno = number
        self.strerror = reason or "write error"


class _StdoutFile(io.FileIO):
    """Standard output's descriptor, whose write errors say that they are stdout's."""

    def write(self, data: ReadableBuffer, /) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            raise StdoutError(exc.errno, exc.strerror) from None


def _guard_stdout() -> None:
    """Standard output as before (encoding, errors, line buffering), through
    :class:`_StdoutFile`."""
    old = sys.stdout
    try:
        raw = _StdoutFile(old.fileno(), "w", closefd=False)
    except (AttributeError, OSError, ValueError):  # no descriptor: left as it is
        return
    old.flush()
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=old.encoding,
        errors=old.errors,
        line_buffering=bool(old.line_buffering),
    )


def _drop_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush of what
    is left cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115


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


def _no_stdout_rejects(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value == "-":
        raise click.BadParameter(
            "rejected records hold personal data and go to a file, not to standard output",
            ctx=ctx,
            param=param,
        )
    return value


@dataclass(frozen=True)
class RunArgs:
    """What `upload` and `validate` share (cli.md): the inputs, where the config is, how
    to report, and the options that go to the API as they are (:meth:`api_options`)."""

    files: tuple[str, ...]
    config: str | None
    json_output: bool
    quiet: bool
    fmt: Format
    now: str | None
    rejects: str | None
    strict: bool
    state_dir: str | None
    preset: str | None
    columns: tuple[str, ...]
    customers: str | None
    datasets: tuple[str, ...]

    def api_options(self) -> dict[str, Any]:
        """The keyword arguments of ``api.validate`` and ``api.upload`` these set."""
        return {
            "now": self.now,
            "fmt": self.fmt,
            "rejects": self.rejects,
            "strict": self.strict,
            "state_dir": self.state_dir,
            "preset": self.preset,
            "columns": self.columns,
            "customers": self.customers,
            "dataset": self.datasets,
        }


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by `upload` and `validate` (cli.md), given to the command as one
    ``run`` (:class:`RunArgs`)."""

    @functools.wraps(func)
    def packed(**kwargs: Any) -> Any:
        shared = {name: kwargs.pop(name) for name in _RUN_ARGS}
        return func(RunArgs(**shared), **kwargs)

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
            callback=_no_stdout_rejects,
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
        state_dir_option("Journal, lock and default rejects location ($FBOCLI_STATE_DIR)."),
        click.option(
            "--preset",
            metavar="NAME",
            help="How to read a CSV export: auto (by its header; the default), none, or "
            f"{', '.join(PRESETS)} (overrides [csv] preset).",
        ),
        click.option(
            "--column",
            "columns",
            multiple=True,
            metavar="FIELD=HEADER",
            help='Read a CSV field from this header, e.g. --column timestamp="Paid at" '
            "(a [csv.columns] entry; repeatable).",
        ),
        click.option(
            "--customers",
            metavar="FILE",
            help="A customer export whose email, phone, names and address are joined to "
            "the sales rows by customer ID (overrides [csv] customers).",
        ),
        click.option(
            "--dataset",
            "datasets",
            multiple=True,
            metavar="ID",
            help="Dataset of Meta-native rows (Meta's upload files) that name none "
            "(overrides [destination] dataset; repeatable).",
        ),
    ]
    for option in reversed(options):
        packed = option(packed)
    return packed


_RUN_ARGS = tuple(field.name for field in dataclasses.fields(RunArgs))


def _total_bytes(inputs: tuple[str, ...]) -> int | None:
    """The inputs' size for the progress bar (folders and globs expanded), if known."""
    from fbocli.inputs.paths import expand_inputs

    total = 0
    try:
        for path in expand_inputs(inputs).paths:
            total += os.stat(path).st_size
    except (OSError, FbocliError):
        return None  # stdin, or a missing file: the run says why
    return total


def _display(run: RunArgs, *, dry_run: bool) -> Any:
    return ProgressDisplay(
        enabled=not run.quiet and not run.json_output and sys.stderr.isatty(),
        total_bytes=_total_bytes(run.files),
        dry_run=dry_run,
    )


def _stdin() -> BinaryIO:
    return sys.stdin.buffer


@main.command(epilog=_EPILOG_VALIDATE)
@_run_options
def validate(run: RunArgs) -> None:
    """Run the whole pipeline without network and report what would be sent.

    FILE is .jsonl/.json/.ndjson/.csv (optionally .gz), a folder of them, a quoted glob,
    or - for standard input. Exit status 1 when any record was rejected (see the rejects
    file), or when records were read but not one event could be built.
    """
    env = os.environ
    settings = load_settings(run.config, env)
    with _display(run, dry_run=True) as display:
        summary = api.validate(
            run.files,
            settings,
            **run.api_options(),
            stdin=_stdin(),
            progress=display,
            warn=warn,
            tuning=tuning(env),
        )
    _report(summary, sys.stdout, json_output=run.json_output, output=None)
    _exit(summary)


@main.command(epilog=_EPILOG_UPLOAD)
@_run_options
@click.option("--dry-run", is_flag=True, help="Do everything except send.")
@click.option(
    "--output",
    metavar="PATH",
    help="With --dry-run: write each request as one JSON line ('-': stdout, and the "
    "summary goes to stderr).",
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
    run: RunArgs,
    dry_run: bool,
    output: str | None,
    force: bool,
    test_event_code: str | None,
    batch_size: int | None,
    workers: int | None,
) -> None:
    """Read, map, validate and upload offline conversions to Meta.

    FILE is .jsonl/.json/.ndjson/.csv (optionally .gz), a folder of them, a quoted glob,
    or - for standard input.
    """
    if output and not dry_run:
        raise UsageError("--output is only used with --dry-run")
    env = os.environ
    settings = load_settings(run.config, env)
    token = app_secret = None
    if not dry_run:
        resolved = find_token(env)
        if resolved is None:
            raise AuthError(
                "no access token",
                hint="run `fbocli auth` to set one up, or set "
                "FBOCLI_ACCESS_TOKEN (a dry run needs none: --dry-run)",
            )
        token = resolved.secret
        found = find_app_secret(env)  # for appsecret_proof, when the app requires it
        app_secret = found.secret if found is not None else None
    # With --output -, the requests are stdout's only content: the report goes to stderr.
    report_to = sys.stderr if output == "-" else sys.stdout
    with _display(run, dry_run=dry_run) as display:
        try:
            summary = api.upload(
                run.files,
                settings,
                **run.api_options(),
                token=token,
                app_secret=app_secret,
                dry_run=dry_run,
                output=sys.stdout.buffer if output == "-" else output,
                force=force,
                workers=workers,
                batch_size=batch_size,
                test_event_code=test_event_code,
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
                _report(error.summary, report_to, json_output=run.json_output, output=output)
            raise
    _report(summary, report_to, json_output=run.json_output, output=output)
    _exit(summary)


def _report(summary: RunSummary, out: IO[str], *, json_output: bool, output: str | None) -> None:
    if json_output:
        out.write(json.dumps(summary.to_dict(), indent=1) + "\n")
        out.flush()
        return
    out.write(headline(summary) + "\n")
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


def _exit(summary: RunSummary) -> NoReturn:
    """Exit with the run's status; when it is not 0, stderr says why (with -q too)."""
    code = summary.exit_code or 0
    if code:
        for line in explain(summary):
            click.echo(f"fbocli: error: {line}", err=True)
    sys.exit(code)


def explain(summary: RunSummary) -> list[str]:
    """Why a finished run's exit status is not 0, in lines a cron mail can carry."""
    lines: list[str] = []
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for row in summary.failure_rows():
        by_dataset.setdefault(row["dataset"], []).append(row)
    for dataset, rows in sorted(by_dataset.items()):
        total = sum(row["events"] for row in rows)
        line = f"{total} events not delivered to dataset {dataset}: {failure_text(rows[0])}"
        if len(rows) > 1:
            line += f"; and {len(rows) - 1} other reason(s), in the summary"
        lines.append(line)
    if by_dataset:
        lines.append("a re-run sends what was not delivered (what Meta acknowledged is journaled)")
    if summary.api_rejected:
        example = (summary.examples.get("api_rejected") or ["(no detail)"])[0]
        where = f"; every one is in {summary.rejects_file}" if summary.rejects_file else ""
        lines.append(
            f"{_count(summary.api_rejected, 'event')} refused by Meta (api_rejected), first: "
            f"{example}{where}"
        )
    if summary.read and not summary.built:
        why = [f"{n} skipped as {reason}" for reason, n in sorted(summary.skips.items())]
        why += [f"{n} rejected as {reason}" for reason, n in sorted(summary.reasons.items())]
        lines.append(
            f"{_count(summary.read, 'record')} read, but not one event could be built ("
            + ", ".join(why)
            + ")"
        )
        for name, n in summary.unmapped.most_common(5):
            close = summary.suggestions.get(name)
            hint = f" (did you mean {close!r}?)" if close else ""
            lines.append(
                f"event {name!r} ({_count(n, 'record')}) is in no event map of the config{hint}"
            )
    elif summary.rejected and (summary.validate or summary.strict):
        reasons = ", ".join(f"{reason} {n}" for reason, n in summary.reasons.most_common())
        where = f": see {summary.rejects_file}" if summary.rejects_file else ""
        lines.append(f"{_count(summary.rejected, 'record')} rejected ({reasons}){where}")
    return lines


def _count(n: int, noun: str) -> str:
    """``1 record``, ``2 records``: a count as the error lines say it."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@main.command(epilog=_EPILOG_RUNS)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    metavar="N",
    help="Show the N most recent runs.",
)
@click.option("--json", "json_output", is_flag=True, help="One JSON array of run summaries.")
@state_dir_option()
def runs(limit: int, json_output: bool, state_dir: str | None) -> None:
    """Past uploads (not dry runs or validate), newest first, from the state directory."""
    state = resolve_state_dir(state_dir)
    with Journal(state / JOURNAL_FILE) as journal:
        found = journal.runs(limit)
    if json_output:
        click.echo(json.dumps(found, indent=1))
        return
    if not found:
        click.echo(f"No uploads recorded in {state}.")
        return
    render(runs_sections(found), sys.stdout, rich_output=sys.stdout.isatty())


@main.command(epilog=_EPILOG_INIT)
@click.argument("path", default="fbocli.toml", metavar="[PATH]")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    help="Write a config that reads this export (docs/inputs.md).",
)
def init(path: str, force: bool, preset: str | None) -> None:
    """Write a commented starter config (default ./fbocli.toml)."""
    target = Path(path)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to overwrite it")
    from fbocli.inputs.presets import BY_NAME, preset_config

    text = starter_config() if preset is None else preset_config(preset, starter_config())
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    if preset is None:
        click.echo(
            f"Wrote {target}. Put your dataset IDs in [events], then run:\n"
            f"  fbocli validate -c {target} YOUR_EXPORT.jsonl"
        )
        return
    where = "[destination] dataset" if preset in NATIVE_PRESETS else "[events]"
    click.echo(
        f"Wrote {target} for the {BY_NAME[preset].title} (preset {preset}).\n"
        f"Export it from: {BY_NAME[preset].menu}\n"
        f"Put your dataset ID in {where}, then run:\n"
        f"  fbocli validate -c {target} YOUR_EXPORT.csv"
    )


main.add_command(auth)
main.add_command(quality)
