"""What the command line takes from the environment, in one place."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from fbocli.config import find_config, load_config, no_config_error
from fbocli.credentials import ResolvedToken, resolve_app_secret, resolve_token
from fbocli.errors import UsageError
from fbocli.pipeline import POOL_MIN_BYTES, Tuning
from fbocli.secret import Secret
from fbocli.settings import Settings


def load_settings(config: str | None, env: Mapping[str, str]) -> Settings:
    """The configuration the lookup of cli.md finds, with $FBOCLI_GRAPH_URL applied."""
    path = find_config(config, env)
    if path is None:
        raise no_config_error()
    return load_config(path, graph_url=env.get("FBOCLI_GRAPH_URL") or None)


def tuning(env: Mapping[str, str]) -> Tuning:
    """Testing aids from the environment: $FBOCLI_BACKOFF_SCALE multiplies every retry
    wait; $FBOCLI_PARALLEL_MIN_BYTES is the smallest input mapped by worker processes."""
    raw = env.get("FBOCLI_BACKOFF_SCALE", "").strip()
    scale = 1.0
    if raw:
        try:
            scale = float(raw)
        except ValueError:
            scale = -1.0
        if not scale >= 0:  # also rejects NaN
            raise UsageError(f"FBOCLI_BACKOFF_SCALE must be a number >= 0, not {raw!r}")
    threshold = env.get("FBOCLI_PARALLEL_MIN_BYTES", "")
    return Tuning(
        pool_min_bytes=int(threshold) if threshold.isdigit() else POOL_MIN_BYTES,
        backoff_scale=scale,
    )


def warn(message: str) -> None:
    """Warnings go to stderr even with --quiet: they predict trouble cron mail should say."""
    click.echo(f"fbocli: warning: {message}", err=True)


def token(env: Mapping[str, str]) -> ResolvedToken | None:
    """The access token of cli.md's resolution order (a value that is no token: AuthError,
    exit 3), with a warning when what a paste adds had to be removed from it."""
    found = resolve_token(env)
    if found is not None:
        cleaned(found.secret, found.location)
    return found


def app_secret(env: Mapping[str, str]) -> ResolvedToken | None:
    """The app secret, found as :func:`token` finds the token."""
    found = resolve_app_secret(env)
    if found is not None:
        cleaned(found.secret, found.location)
    return found


def cleaned(secret: Secret, what: str) -> Secret:
    """``secret``, after a warning when something was removed from around it."""
    note = secret.cleanup_note(what)
    if note is not None:
        warn(note)
    return secret


_F = TypeVar("_F", bound=Callable[..., Any])


def state_dir_option(
    help: str = "Where the journal is ($FBOCLI_STATE_DIR; default the user state dir).",
) -> Callable[[_F], _F]:
    """``--state-dir PATH``, also read from $FBOCLI_STATE_DIR: the option of every command
    that uses the journal."""
    return click.option("--state-dir", metavar="PATH", envvar="FBOCLI_STATE_DIR", help=help)
