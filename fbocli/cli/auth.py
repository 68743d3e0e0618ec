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
from fbocli.cli.environment import app_secret as find_app_secret
from fbocli.cli.environment import cleaned, load_settings, tuning
from fbocli.cli.environment import token as find_token
from fbocli.config import check_graph_url, find_config
from fbocli.credentials import (
    APP_SECRET_ENV_VAR,
    ENV_VAR,
    ResolvedToken,
    delete_token,
    resolve_app_secret,
    store_token,
)
from fbocli.errors import AppSecretError, AuthError, FbocliError, UsageError
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


def _client(target: _Target, token: Secret | None, app_secret: Secret | None = None) -> GraphClient:
    from fbocli.graph import GraphClient, RetryPolicy

    return GraphClient(
        graph_url=target.graph_url,
        api_version=target.api_version,
        token=token,
        app_secret=app_secret,
        timeout=target.timeout,
        policy=RetryPolicy.for_run(target.max_retries, tuning(os.environ).backoff_scale),
    )


def _verify(target: _Target, secret: Secret, app_secret: Secret | None) -> TokenReport:
    from fbocli.auth import verify_token

    with _client(target, secret, app_secret) as client:
        return verify_token(client, target.dataset_ids)


def _terminal(ctx: click.Context) -> bool:
    """Whether stdin is a terminal (tests pass ``obj={"terminal": True}``)."""
    obj = ctx.find_root().obj
    if isinstance(obj, Mapping) and "terminal" in obj:
        return bool(obj["terminal"])
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
    now = time.time()
    click.echo(f"Token of:    {report.user_name} (id {report.user_id})")
    info = report.info
    if info is not None:
        click.echo(f"Type:        {info.kind} token (app {info.app_id or 'unknown'})")
        click.echo(f"Expires:     {info.expiry_text(now)}")
        click.echo(f"Data access: {info.data_access_text(now)}")
    else:
        click.echo(f"Type:        unknown (debug_token: {report.info_error})")
    click.echo(f"Permissions: {', '.join(report.granted) or '(none granted)'}")
    if report.missing_recommended:
        click.echo(
            f"             recommended, not granted: {', '.join(report.missing_recommended)} "
            "(to see the business's datasets)"
        )
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


def _warn_expiry(report: TokenReport) -> str | None:
    warning = report.info.expiry_warning(time.time()) if report.info is not None else None
    if warning is not None:
        click.echo(f"fbocli: warning: {warning}", err=True)
    return warning


def _verify_and_store(
    ctx: click.Context,
    target: _Target,
    secret: Secret,
    app_secret: Secret | None,
    *,
    no_keyring: bool,
) -> None:
    """Verify a new token (nothing stored if it fails), store it, say where and what next.

    The app secret given (``--app-secret-stdin``), else $FBOCLI_APP_SECRET or the stored
    one, makes the ``appsecret_proof``; when Meta wants one and none works, it is asked
    for on a terminal. A secret given or asked for is stored with the token; one already
    stored stays.
    """
    stored = resolve_app_secret({})
    environment = find_app_secret(os.environ)
    using = app_secret or (environment.secret if environment else None)
    click.echo("Checking the token with Meta...")
    try:
        report = _verify(target, secret, using)
    except AppSecretError as error:
        if app_secret is not None or not _terminal(ctx):
            raise
        click.echo(f"Meta: {error.message}")
        pasted = click.prompt(
            "The token's app requires its app secret (App settings > Basic); "
            "paste it (input hidden)",
            hide_input=True,
        )
        app_secret = cleaned(Secret(pasted, "the app secret entered"), "the app secret entered")
        if not app_secret:
            raise UsageError("no app secret was entered") from None
        report = _verify(target, secret, app_secret)
    _echo_report(report, target)
    _require_scope(report)
    keep = app_secret or (stored.secret if stored else None)
    where = store_token(secret, app_secret=keep, prefer_keyring=not no_keyring)
    place = "the OS keyring" if where == "keyring" else f"{where} (mode 0600)"
    with_secret = " with the app secret" if keep else ""
    click.echo(f"Token stored{with_secret} in {place}.")
    _warn_expiry(report)
    _warn_denied(report)
    if os.environ.get(ENV_VAR, "").strip():
        click.echo(f"Note: ${ENV_VAR} is set and takes precedence over the stored token.")
    if app_secret is not None and environment is not None:
        click.echo(f"Note: ${APP_SECRET_ENV_VAR} is set and takes precedence over the stored one.")
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
app_secret_option = click.option(
    "--app-secret-stdin",
    is_flag=True,
    help="Also read the app's secret from stdin (after the token with --token-stdin), "
    "for apps that require appsecret_proof; stored with the token.",
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
  printf '%s\\n%s\\n' "$TOKEN" "$APP_SECRET" | fbocli auth login --token-stdin --app-secret-stdin
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
    if not _terminal(ctx):  # getpass would fall back to echoing, with a warning
        raise UsageError(
            "standard input is not a terminal, so the token cannot be asked for",
            hint="pipe it in instead: fbocli auth login --token-stdin < token.txt",
        )
    value = click.prompt("Paste the access token (input hidden)", hide_input=True)
    secret = cleaned(Secret(value, "the token entered"), "the token entered")
    if not secret:
        raise UsageError("no access token was entered")
    _verify_and_store(ctx, target, secret, None, no_keyring=no_keyring)


@auth.command(epilog=_EPILOG_LOGIN)
@click.option("--token-stdin", is_flag=True, help="Read the token from one line of stdin.")
@click.option("--device", is_flag=True, help="Log in with a code on another device.")
@click.option("--app-id", default=None, help="Meta app ID (device login).")
@click.option("--client-token", default=None, help="The app's client token (device login).")
@app_secret_option
@config_option
@no_keyring_option
@click.pass_context
def login(
    ctx: click.Context,
    token_stdin: bool,
    device: bool,
    app_id: str | None,
    client_token: str | None,
    app_secret_stdin: bool,
    config: str | None,
    no_keyring: bool,
) -> None:
    """Store a token read from stdin, or obtained by device login; verified first.

    When the token's app requires appsecret_proof, give its app secret too
    (--app-secret-stdin, or $FBOCLI_APP_SECRET); on a terminal it is asked for when
    Meta refuses the token without it.
    """
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
    app_secret = None
    if token_stdin:
        where = "the token on standard input"
        secret = cleaned(Secret(_line(sys.stdin.readline()), where), where)
        if not secret:
            raise UsageError("no access token on standard input")
        app_secret = _read_app_secret(app_secret_stdin)
    else:
        if not app_id or not client_token:
            raise UsageError("device login needs --app-id and --client-token")
        from fbocli.auth import device_login

        app_secret = _read_app_secret(app_secret_stdin)
        with _client(target, None) as client:
            secret = device_login(
                client, app_id, client_token, on_code=_show_code, sleep=_poll_sleep(ctx)
            )
        click.echo("Approved.")
    _verify_and_store(ctx, target, secret, app_secret, no_keyring=no_keyring)


def _read_app_secret(asked: bool) -> Secret | None:
    """The app secret from the next line of stdin, with --app-secret-stdin."""
    if not asked:
        return None
    where = "the app secret on standard input"
    app_secret = cleaned(Secret(_line(sys.stdin.readline()), where), where)
    if not app_secret:
        raise UsageError(
            "--app-secret-stdin: no app secret on standard input",
            hint="put it on the line after the token: "
            'printf \'%s\\n%s\\n\' "$TOKEN" "$APP_SECRET" | fbocli auth login '
            "--token-stdin --app-secret-stdin",
        )
    return app_secret


def _line(text: str) -> str:
    """A line read from stdin without its line ending (the one thing a line must end
    with: what else surrounds the value is for :class:`Secret` to judge)."""
    return text.removesuffix("\n").removesuffix("\r")


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
        info = report.info
        now = time.time()
        doc.update(
            user={"id": report.user_id, "name": report.user_name},
            token=None
            if info is None
            else {
                "type": info.type,
                "kind": info.kind,
                "app_id": info.app_id,
                "expires_at": _iso(info.expires_at),
                "days_left": _days(info.days_left(now)),
                "data_access_expires_at": _iso(info.data_access_expires_at),
                "scopes": list(info.scopes),
            },
            token_error=report.info_error,
            permissions=list(report.granted),
            has_ads_management=report.has_ads_management,
            recommended_missing=list(report.missing_recommended),
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


def _iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _days(days: float | None) -> float | None:
    return None if days is None else round(days, 1)


@auth.command(epilog=_EPILOG_STATUS)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_context
def status(ctx: click.Context, config: str | None, as_json: bool) -> None:
    """The token doctor: whose token, its type, expiry and scopes, dataset access.

    Shows where the token came from (its last 4 characters only), its type (system user
    or user), when it and its data access expire (a warning under 7 days), its
    permissions against what uploading needs, whether an app secret makes
    appsecret_proof, each configured dataset's access, and the API version's expiry.
    Exit status 0 when everything is usable, 3 when the token is missing, invalid,
    expired or lacks ads_management, 1 when a configured dataset is not accessible.
    """
    target = _target(_inherit(ctx, "config", config))
    expiring = versions.expiry_warning(target.api_version, datetime.now(UTC).date())
    resolved: ResolvedToken | None = None
    try:
        resolved = find_token(os.environ)
        app_secret = find_app_secret(os.environ)
        if resolved is None:
            raise AuthError(
                "no access token found",
                hint=f"run `fbocli auth` to set one up, or set ${ENV_VAR}",
            )
        report = _verify(target, resolved.secret, app_secret.secret if app_secret else None)
    except AuthError as error:
        if as_json:
            click.echo(json.dumps(_status_doc(resolved, None, error.message)))
        elif resolved is not None:
            _echo_source(resolved)
        raise
    problem = None if report.has_ads_management else "the token lacks ads_management"
    denied = report.denied_datasets
    token_expiring = report.info.expiry_warning(time.time()) if report.info else None
    if as_json:
        doc = _status_doc(resolved, report, problem)
        doc["ok"] = problem is None and not denied
        doc["app_secret"] = (
            {"source": app_secret.source, "location": app_secret.location}
            if app_secret is not None
            else None
        )
        doc["api_version"] = {"version": target.api_version, "expiry_warning": expiring}
        doc["warnings"] = [w for w in (token_expiring, expiring) if w is not None]
        click.echo(json.dumps(doc))
    else:
        _echo_source(resolved)
        _echo_report(report, target)
        if app_secret is not None:
            click.echo(
                f"App secret:  from {app_secret.source} ({app_secret.location}): every "
                "call carries appsecret_proof"
            )
        else:
            click.echo("App secret:  none (needed only when the app requires appsecret_proof)")
        click.echo(f"API version: {versions.describe(target.api_version)}")
    if token_expiring is not None:
        click.echo(f"fbocli: warning: {token_expiring}", err=True)
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
    """Forget the stored token and app secret (keyring and credentials file)."""
    removed = delete_token()
    if removed:
        for where in removed:
            place = "the OS keyring" if where == "keyring" else where
            click.echo(f"Removed the stored token from {place}.")
    else:
        click.echo("No stored token found.")
    for variable in (ENV_VAR, APP_SECRET_ENV_VAR):
        if os.environ.get(variable, "").strip():
            click.echo(f"Note: ${variable} is set and still applies.")
