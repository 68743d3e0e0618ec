"""``fbocli quality``: Meta's offline data-quality scores beside fbocli's own figures."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

import click

from fbocli import api
from fbocli.cli.environment import app_secret as find_app_secret
from fbocli.cli.environment import load_settings, state_dir_option, tuning
from fbocli.cli.environment import token as find_token
from fbocli.cli.report import check_section, render, scores_sections
from fbocli.config import check_graph_url, find_config
from fbocli.credentials import ENV_VAR
from fbocli.errors import AuthError, FbocliError
from fbocli.settings import DEFAULT_GRAPH_URL, Destination, Settings

if TYPE_CHECKING:
    from fbocli.scores import DatasetQuality, QualityReport

_EPILOG = """\b
Examples:
  fbocli quality                          every dataset of the config
  fbocli quality 1234567890123456 --json
  fbocli quality -c /etc/fbocli.toml --state-dir /var/lib/fbocli
"""


def _settings(config: str | None) -> Settings:
    """The config when there is one (its datasets, graph_url, api_version), else the
    defaults with $FBOCLI_GRAPH_URL: then the datasets must be named."""
    if config is not None or find_config(None, os.environ) is not None:
        return load_settings(config, os.environ)
    url = check_graph_url(os.environ.get("FBOCLI_GRAPH_URL") or DEFAULT_GRAPH_URL)
    return Settings(destination=Destination(graph_url=url))


@click.command(epilog=_EPILOG)
@click.argument("datasets", nargs=-1, metavar="[DATASET]...")
@click.option(
    "-c",
    "--config",
    metavar="PATH",
    help="TOML config (default: $FBOCLI_CONFIG, ./fbocli.toml, user config dir).",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@state_dir_option()
@click.option(
    "--now",
    metavar="ISO8601",
    help="The end of the 14- and 28-day windows (default: the current time).",
)
def quality(
    datasets: tuple[str, ...],
    config: str | None,
    json_output: bool,
    state_dir: str | None,
    now: str | None,
) -> None:
    """Meta's offline data-quality scores beside fbocli's own figures.

    For each dataset (those named, else the config's): Meta's scores of its offline
    events (composite, match keys with email and phone coverage, upload frequency,
    freshness) and its recommendations, or "not available" with Meta's reason; and
    always fbocli's figures for the same factors, from the journal of what was sent:
    upload days in the last 14, event-to-upload lag, Purchases with a value, match-key
    coverage, events per order. Exit status 0 when Meta answered (scores or not), 1 when
    it could not be reached, 3 when the token is missing or refused.
    """
    env = os.environ
    settings = _settings(config)
    resolved = find_token(env)
    app_secret = find_app_secret(env)

    def ask(meta: bool) -> QualityReport:
        return api.quality(
            settings,
            datasets,
            token=resolved.secret if resolved else None,
            app_secret=app_secret.secret if app_secret else None,
            meta=meta,
            state_dir=state_dir,
            now=now,
            tuning=tuning(env),
        )

    try:
        report = ask(meta=resolved is not None)
    except AuthError:
        _show(ask(meta=False), json_output)  # the journal's figures still say something
        raise
    _show(report, json_output)
    if resolved is None:
        raise AuthError(
            "no access token: Meta's scores were not asked for",
            hint=f"run `fbocli auth` to set one up, or set ${ENV_VAR}",
        )
    if report.failed:
        for dataset in report.failed:
            assert dataset.meta is not None
            click.echo(
                f"fbocli: error: could not get Meta's scores for dataset "
                f"{dataset.dataset_id}: {dataset.meta.reason}",
                err=True,
            )
        raise FbocliError(
            f"Meta's scores are missing for {len(report.failed)} dataset(s); run it again later"
        )


def _show(report: QualityReport, json_output: bool) -> None:
    out = sys.stdout
    if json_output:
        out.write(json.dumps(report.to_dict(), indent=1) + "\n")
        out.flush()
        return
    rich_output = out.isatty()
    day = datetime.fromtimestamp(report.now, UTC).strftime("%Y-%m-%d %H:%M UTC")
    source = report.journal or "no journal yet: nothing uploaded from this state directory"
    out.write(f"Data quality as of {day} (journal: {source})\n\n")
    for dataset in report.datasets:
        _dataset(dataset, out, rich_output)
    out.flush()


def _dataset(dataset: DatasetQuality, out: IO[str], rich_output: bool) -> None:
    meta = dataset.meta
    out.write(f"Dataset {dataset.dataset_id}\n")
    if meta is None:
        out.write("  Meta's scores: not asked (no access token)\n\n")
    elif not meta.available:
        out.write(f"  Meta's scores: not available for this dataset: {meta.reason}\n\n")
    else:
        out.write("\n")
        render(scores_sections(dataset.dataset_id, meta.events), out, rich_output=rich_output)
    local = dataset.local
    title = "fbocli's figures: events sent in the last 28 days (upload days: last 14)"
    render([check_section(title, dataset.checks(), "sent")], out, rich_output=rich_output)
    if local.without_facts:
        out.write(
            f"  ({local.without_facts} events were sent by an fbocli that kept no facts of "
            "them: counted in upload days only)\n"
        )
    out.write("\n")
