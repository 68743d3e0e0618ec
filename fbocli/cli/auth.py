"""``fbocli auth``: the token wizard, ``login``, ``status`` and ``logout`` (thin Click layer).

Everything here parses options, calls :mod:`fbocli.auth` / :mod:`fbocli.credentials` and
prints; errors are raised as FbocliError and turned into exit codes by ``fbocli.cli``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from fbocli import versions
from fbocli.cli.environment import load_settings, tuning
from fbocli.config import check_graph_url, find_config
from fbocli.credentials import ENV_VAR, ResolvedToken, delete_token, resolve_token, store_token
from fbocli.errors import AuthError, FbocliError, UsageError
from fbocli.secret import Secret
from fbocli.settings import DEFAULT_API_VERSION, DEFAULT_GRAPH_URL, Settings, UploadSettings

if TYPE_CHECKING:  # requests (~0.1 s to import) loads only when a command talks to Meta.
    from fbocli.auth import DeviceCode, TokenReport
    from fbocli.graph import GraphClient

SCOPE_HINT = (
    "create a Business Manager system-user token with the ads_management permission "
    "(Business Settings > Users > System users > Generate new token), then run `fbocli auth`"
)

WIZARD_INTRO = """\
fbocli needs a Meta access token with the ads_management permission.

Recommended: a system-user token from Meta Business Manager. It is not tied to a
person's login session, which suits cron jobs. You must be an admin of the
Business Manager that owns your datasets.

  1. Open Business Settings (https://business.facebook.com/settings)
     > Users > System users, and add a system user (role: Admin).
  2. "Assign assets": add the datasets (pixels / offline event sets) you
     upload to, with full control.
  3. "Generate new token": pick your app, tick ads_management (and
     business_management), then copy the token.
"""


@dataclass(frozen=True)
class _Target:
    """Where to ask Meta, and which datasets to check (none without a config)."""

    graph_url: str
    api_version: str
    timeout: float
    max_retries: int
    dataset_ids: tuple[str, ...]
    config_path: str | None


def _target(config: str | None) -> _Target:
    """From the config when there is one (an invalid one is an error), else the defaults."""
    if find_config(config, os.environ) is not None:
        settings: Settings = load_settings(config, os.environ)
        dest = settings.destination
        return _Target(
            dest.graph_url,
            dest.api_version,
            settings.upload.timeout_seconds,
            settings.upload.max_retries,
            settings.dataset_ids,
            str(settings.path) if settings.path else None,
        )
    defaults = UploadSettings()
    return _Target(
        check_graph_url(os.environ.get("FBOCLI_GRAPH_URL") or DEFAULT_GRAPH_URL),
        DEFAULT_API_VERSION,
        defaults.timeout_seconds,
        defaults.max_retries,
        (),
        None,
    )


def _client(target: _Target, token: Secret | None) -> GraphClient:
    from fbocli.graph import GraphClient, RetryPolicy

    return GraphClient(
        graph_url=target.graph_url,
        api_version=target.api_version,
        token=token,
        timeout=target.timeout,
        policy=RetryPolicy.for_run(target.max_retries, tuning(os.environ).backoff_scale),
    )


def _verify(target: _Target, secret: Secret) -> TokenReport:
    from fbocli.auth import verify_token

    with _client(target, secret) as client:
        return verify_token(client, target.dataset_ids)


def _interactive() -> bool:
    """Whether the token can be asked for: standard input is a terminal."""
    return sys.stdin.isatty()


def _inherit(ctx: click.Context, name: str, value: Any) -> Any:
    """A subcommand option falls back to the group's (``fbocli auth -c X status``)."""
    if value or ctx.parent is None:
        return value
    return ctx.parent.params.get(name, value)


def _poll_sleep(ctx: click.Context) -> Callable[[float], None]:
    """The device-flow poll wait; tests pass ``obj={"sleep": ...}`` to skip real waits."""
    obj = ctx.find_root().obj
    sleep = obj.get("sleep") if isinstance(obj, Mapping) else None
    return sleep if callable(sleep) else time.sleep


def _echo_report(report: TokenReport, target: _Target) -> None:
    click.echo(f"Token of:    {report.user_name} (id {report.user_id})")
    click.echo(f"Permissions: {', '.join(report.granted) or '(none granted)'}")
    if target.config_path is None:
        click.echo("Datasets:    not checked (no configuration found; see `fbocli init`)")
        return
    if not report.datasets:
        click.echo(f"Datasets:    none configured in {target.config_path}")
        return
    click.echo(f"Datasets in {target.config_path}:")
    for access in report.datasets:
        mark = "ok     " if access.ok else "DENIED "
        click.echo(f"  {mark} {access.dataset_id}  {access.name_or_reason}")


def _require_scope(report: TokenReport) -> None:
    if not report.has_ads_management:
        raise AuthError(
            f"the token of {report.user_name} (id {report.user_id}) lacks the ads_management "
            "permission, which sending conversions requires; nothing was stored",
            hint=SCOPE_HINT,
        )


def _warn_denied(report: TokenReport) -> None:
    denied = report.denied_datasets
    if denied:
        ids = ", ".join(d.dataset_id for d in denied)
        click.echo(
            f"warning: the token cannot reach {len(denied)} dataset(s): {ids}; uploads to them "
            "will fail until the system user is assigned them (Business Settings > Data "
            "sources > Datasets > Assign people)",
            err=True,
        )


def _verify_and_store(target: _Target, secret: Secret, *, no_keyring: bool) -> None:
    """Verify a new token (nothing stored if it fails), store it, say where and what next."""
    click.echo("Checking the token with Meta...")
    report = _verify(target, secret)
    _echo_report(report, target)
    _require_scope(report)
    where = store_token(secret, prefer_keyring=not no_keyring)
    place = "the OS keyring" if where == "keyring" else f"{where} (mode 0600)"
    click.echo(f"Token stored in {place}.")
    _warn_denied(report)
    if os.environ.get(ENV_VAR, "").strip():
        click.echo(f"Note: ${ENV_VAR} is set and takes precedence over the stored token.")
    click.echo("Next:")
    click.echo("  fbocli validate FILE   check a Segment export or CSV offline")
    click.echo("  fbocli upload FILE     send it to Meta")


config_option = click.option(
    "-c", "--config", type=str, default=None, help="Configuration file (to check its datasets)."
)
no_keyring_option = click.option(
    "--no-keyring",
    is_flag=True,
    help="Store the token in the 0600 credentials file, not the OS keyring.",
)


_EPILOG_AUTH = """\b
Examples:
  fbocli auth                                  the wizard: paste a system-user token
  fbocli auth login --token-stdin < token.txt  for scripts
  fbocli auth status                           whose token, scopes, datasets (exit 0/1/3)
"""
_EPILOG_LOGIN = """\b
Examples:
  fbocli auth login --token-stdin < token.txt
  fbocli auth login --device --app-id 1234 --client-token abcd
"""
_EPILOG_STATUS = """\b
Examples:
  fbocli auth status
  fbocli auth status -c /etc/fbocli.toml --json
"""
_EPILOG_LOGOUT = """\b
Examples:
  fbocli auth logout
"""


@click.group(invoke_without_command=True, epilog=_EPILOG_AUTH)
@config_option
@no_keyring_option
@click.pass_context
def auth(ctx: click.Context, config: str | None, no_keyring: bool) -> None:
    """Set up the access token (interactive wizard when run without a subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    target = _target(config)
    click.echo(WIZARD_INTRO)
    if target.config_path is None:
        click.echo("No configuration found: the datasets will not be checked.\n")
    if not _interactive():  # getpass would fall back to echoing, with a warning
        raise UsageError(
            "standard input is not a terminal, so the token cannot be asked for",
            hint="pipe it in instead: fbocli auth login --token-stdin < token.txt",
        )
    value = click.prompt("Paste the access token (input hidden)", hide_input=True)
    secret = Secret(value)
    if not secret:
        raise UsageError("no access token was entered")
    _verify_and_store(target, secret, no_keyring=no_keyring)


@auth.command(epilog=_EPILOG_LOGIN)
@click.option("--token-stdin", is_flag=True, help="Read the token from one line of stdin.")
@click.option("--device", is_flag=True, help="Log in with a code on another device.")
@click.option("--app-id", default=None, help="Meta app ID (device login).")
@click.option("--client-token", default=None, help="The app's client token (device login).")
@config_option
@no_keyring_option
@click.pass_context
def login(
    ctx: click.Context,
    token_stdin: bool,
    device: bool,
    app_id: str | None,
    client_token: str | None,
    config: str | None,
    no_keyring: bool,
) -> None:
    """Store a token read from stdin, or obtained by device login; verified first."""
    device = device or app_id is not None or client_token is not None
    config = _inherit(ctx, "config", config)
    no_keyring = _inherit(ctx, "no_keyring", no_keyring)
    if token_stdin == device:
        raise UsageError(
            "choose one of --token-stdin or --device",
            hint="`fbocli auth login --token-stdin < token.txt`, or "
            "`fbocli auth login --device --app-id ID --client-token TOKEN`",
        )
    target = _target(config)
    if token_stdin:
        secret = Secret(sys.stdin.readline())
        if not secret:
            raise UsageError("no access token on standard input")
    else:
        if not app_id or not client_token:
            raise UsageError("device login needs --app-id and --client-token")
        from fbocli.auth import device_login

        with _client(target, None) as client:
            secret = device_login(
                client, app_id, client_token, on_code=_show_code, sleep=_poll_sleep(ctx)
            )
        click.echo("Approved.")
    _verify_and_store(target, secret, no_keyring=no_keyring)


def _show_code(code: DeviceCode) -> None:
    minutes = max(1, round(code.expires_in / 60))
    click.echo(f"Open {code.verification_uri} and enter the code: {code.user_code}")
    click.echo(f"(expires in about {minutes} min; waiting for approval, Ctrl-C to cancel)")


def _status_doc(
    resolved: ResolvedToken | None, report: TokenReport | None, error: str | None
) -> dict[str, Any]:
    doc: dict[str, Any] = {"ok": error is None, "error": error}
    if resolved is not None:
        doc.update(
            source=resolved.source,
            location=resolved.location,
            token_last4=resolved.secret.last4,
        )
    if report is not None:
        doc.update(
            user={"id": report.user_id, "name": report.user_name},
            permissions=list(report.granted),
            has_ads_management=report.has_ads_management,
            datasets=[
                {
                    "id": d.dataset_id,
                    "ok": d.ok,
                    ("name" if d.ok else "reason"): d.name_or_reason,
                }
                for d in report.datasets
            ],
        )
    return doc


@auth.command(epilog=_EPILOG_STATUS)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_context
def status(ctx: click.Context, config: str | None, as_json: bool) -> None:
    """Who the token belongs to, its scopes, where it came from, dataset access.

    Exit status 0 when everything is usable, 3 when the token is missing, invalid,
    expired or lacks ads_management, 1 when a configured dataset is not accessible.
    """
    target = _target(_inherit(ctx, "config", config))
    resolved = resolve_token(os.environ)
    expiring = versions.expiry_warning(target.api_version, datetime.now(UTC).date())
    try:
        if resolved is None:
            raise AuthError(
                "no access token found",
                hint=f"run `fbocli auth` to set one up, or set ${ENV_VAR}",
            )
        report = _verify(target, resolved.secret)
    except AuthError as error:
        if as_json:
            click.echo(json.dumps(_status_doc(resolved, None, error.message)))
        elif resolved is not None:
            _echo_source(resolved)
        raise
    problem = None if report.has_ads_management else "the token lacks ads_management"
    denied = report.denied_datasets
    if as_json:
        doc = _status_doc(resolved, report, problem)
        doc["ok"] = problem is None and not denied
        doc["api_version"] = {"version": target.api_version, "expiry_warning": expiring}
        click.echo(json.dumps(doc))
    else:
        _echo_source(resolved)
        _echo_report(report, target)
        click.echo(f"API version: {versions.describe(target.api_version)}")
    if expiring is not None:
        click.echo(f"fbocli: warning: {expiring}", err=True)
    if problem is not None:
        raise AuthError(problem, hint=SCOPE_HINT)
    if denied:
        ids = ", ".join(d.dataset_id for d in denied)
        raise FbocliError(
            f"the token cannot reach {len(denied)} configured dataset(s): {ids}",
            hint="assign them to the token's (system) user: Business Settings > Data "
            "sources > Datasets > Assign people",
        )


def _echo_source(resolved: ResolvedToken) -> None:
    last4 = f"...{resolved.secret.last4}" if resolved.secret.last4 else "(too short to show)"
    click.echo(f"Token:       {last4} from {resolved.source} ({resolved.location})")


@auth.command(epilog=_EPILOG_LOGOUT)
def logout() -> None:
    """Forget the stored token (keyring and credentials file)."""
    removed = delete_token()
    if removed:
        for where in removed:
            place = "the OS keyring" if where == "keyring" else where
            click.echo(f"Removed the stored token from {place}.")
    else:
        click.echo("No stored token found.")
    if os.environ.get(ENV_VAR, "").strip():
        click.echo(f"Note: ${ENV_VAR} is set and still applies.")
