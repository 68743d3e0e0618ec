"""Find, parse and validate the TOML configuration into frozen :class:`Settings`.

Every problem is collected and reported at once, each naming its key, so a user fixes a
config in one pass rather than one error per run.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import tzinfo
from pathlib import Path
from typing import Any

import platformdirs

from fbocli.errors import ConfigError
from fbocli.mapping.normalize import norm_currency
from fbocli.mapping.places import norm_country
from fbocli.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_GRAPH_URL,
    CsvSettings,
    Destination,
    MappingSettings,
    Settings,
    StateSettings,
    UploadSettings,
)
from fbocli.versions import NEWEST

INIT_HINT = "run `fbocli init` to write a commented starter config, or pass --config PATH"
_VERSION = re.compile(r"^v\d+\.\d+$")
_DATASET = re.compile(r"^\d{1,32}$")


def user_config_path() -> Path:
    return Path(platformdirs.user_config_dir("fbocli")) / "config.toml"


def find_config(option: str | None, env: Mapping[str, str]) -> Path | None:
    """Lookup order of cli.md: --config, $FBOCLI_CONFIG, ./fbocli.toml, the user config dir."""
    for explicit, origin in ((option, "--config"), (env.get("FBOCLI_CONFIG"), "$FBOCLI_CONFIG")):
        if explicit:
            path = Path(explicit)
            if not path.is_file():
                raise ConfigError(
                    [f"{origin} names {explicit!r}, which is not a file"], hint=INIT_HINT
                )
            return path
    for candidate in (Path("fbocli.toml"), user_config_path()):
        if candidate.is_file():
            return candidate
    return None


def no_config_error() -> ConfigError:
    """What to say when the lookup found nothing."""
    return ConfigError(
        [
            "no configuration file found (looked for --config, $FBOCLI_CONFIG, ./fbocli.toml "
            f"and {user_config_path()})"
        ],
        hint=INIT_HINT,
    )


def load_config(path: str | Path, *, graph_url: str | None = None) -> Settings:
    """The settings in one TOML file; raises ConfigError (exit 2) listing every problem.

    ``graph_url`` replaces ``[destination] graph_url`` (the CLI passes $FBOCLI_GRAPH_URL).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(["no such file"], path=str(path), hint=INIT_HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [f"cannot read it: {exc.__class__.__name__}: {exc}"], path=str(path)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"invalid TOML: {exc}"], path=str(path)) from None
    return parse_settings(data, path=path, graph_url=graph_url)


def starter_config() -> str:
    """The commented starter config that `fbocli init` writes."""
    from importlib import resources  # (only `fbocli init` needs it)

    return resources.files("fbocli").joinpath("data/config.example.toml").read_text("utf-8")


class _Checker:
    """Collects problems while reading one table, so all are reported together."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def table(self, data: Mapping[str, Any], name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            self.problems.append(f"[{name}] must be a table, got {_kind(value)}")
            return {}
        return value

    def unknown(self, table: Mapping[str, Any], name: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.problems.append(f"unknown key {name}.{key}")

    def get(
        self,
        table: Mapping[str, Any],
        name: str,
        key: str,
        kind: type | tuple[type, ...],
        default: Any,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        if key not in table:
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            want = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            self.problems.append(f"{name}.{key} must be {want}, got {_kind(value)}")
            return default
        if check is not None and (problem := check(value)) is not None:
            self.problems.append(f"{name}.{key} {problem}")
            return default
        return value


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    float: "a number",
    list: "a list",
}


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _between(low: float, high: float) -> Callable[[Any], str | None]:
    return lambda v: None if low <= v <= high else f"must be between {low} and {high}, got {v}"


def _graph_url(url: str) -> str | None:
    """Why ``url`` cannot be the Graph API base URL (None: it can).

    Parsed by urllib3's ``parse_url``, the parser that connects (requests uses it), so
    what is checked is where the requests go: a backslash (``http://HOST\\@127.0.0.1``
    is HOST to urllib3 but 127.0.0.1 to ``urlsplit``), a user name or password, a query
    and a fragment are refused; plain http only to a loopback address. The default URL
    is known good: urllib3 (~60 ms to import) loads only when another one is set.
    """
    if url.rstrip("/") == DEFAULT_GRAPH_URL:
        return None
    if "@" in url:  # before anything shows the URL: what precedes the @ may be a password
        return (
            "must not contain a user name or password (user:password@): fbocli sends "
            "the access token, nothing else"
        )
    if "\\" in url:
        return f"must not contain a backslash, got {url!r}"
    if not url.isascii() or not url.isprintable() or " " in url:
        return "must be a URL of visible ASCII characters (no spaces or control characters)"
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parts = parse_url(url)
    except LocationParseError:
        return f"must be an https:// URL, got {url!r}"
    if parts.scheme not in ("https", "http") or not parts.host or "://" not in url:
        return f"must be an https:// URL, got {url!r}"
    if parts.query is not None or parts.fragment is not None or "#" in url or "?" in url:
        return f"must not have a query (?) or a fragment (#), got {url!r}"
    if parts.scheme == "http" and not _is_loopback(parts.host):
        return (
            "must use https:// (plain http is only allowed to a loopback address, "
            f"for tests and local proxies), got {url!r}"
        )
    return None


def check_graph_url(url: str, origin: str = "$FBOCLI_GRAPH_URL") -> str:
    """A Graph API base URL given outside a config file, checked like ``graph_url``."""
    if (problem := _graph_url(url)) is not None:
        raise ConfigError([f"{origin} {problem}"])
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _event_map(checker: _Checker, data: Mapping[str, Any], name: str) -> dict[str, tuple[str, ...]]:
    table = checker.table(data, name)
    out: dict[str, tuple[str, ...]] = {}
    for event, target in table.items():
        targets = target if isinstance(target, list) else [target]
        ids: list[str] = []
        for item in targets:
            if isinstance(item, int) and not isinstance(item, bool) and item > 0:
                item = str(item)
            if isinstance(item, str) and _DATASET.match(item.strip()):
                ids.append(item.strip())
            else:
                checker.problems.append(
                    f'{name}."{event}" must be a dataset ID (a string of digits) or a list of '
                    f"them, got {item!r}"
                )
        if not event.strip():
            checker.problems.append(f"[{name}] has an empty event name")
        elif not targets:
            checker.problems.append(f'{name}."{event}" lists no dataset ID')
        elif ids:
            out[event] = tuple(dict.fromkeys(ids))
    return out


def parse_settings(
    data: Mapping[str, Any], *, path: Path | None = None, graph_url: str | None = None
) -> Settings:
    """Validate a parsed TOML document into Settings, reporting every problem at once."""
    c = _Checker()
    c.unknown(
        data,
        "",
        {
            "destination",
            "events",
            "lead_events",
            "registration_events",
            "mapping",
            "upload",
            "csv",
            "state",
        },
    )
    c.problems = [
        p.replace("unknown key .", "unknown top-level table [") + "]"
        if p.startswith("unknown key .")
        else p
        for p in c.problems
    ]

    d = c.table(data, "destination")
    c.unknown(
        d, "destination", {"api", "api_version", "graph_url", "upload_tag", "test_event_code"}
    )
    api = c.get(
        d,
        "destination",
        "api",
        str,
        "conversions",
        lambda v: (
            None
            if v in ("conversions", "offline")
            else f'must be "conversions" or "offline", got {v!r}'
        ),
    )
    configured_url = c.get(d, "destination", "graph_url", str, DEFAULT_GRAPH_URL, _graph_url)
    if graph_url:
        if (problem := _graph_url(graph_url)) is not None:
            c.problems.append(f"$FBOCLI_GRAPH_URL {problem}")
    else:
        graph_url = configured_url
    destination = Destination(
        api=api,
        api_version=c.get(
            d,
            "destination",
            "api_version",
            str,
            DEFAULT_API_VERSION,
            lambda v: None if _VERSION.match(v) else f'must look like "{NEWEST}", got {v!r}',
        ),
        graph_url=graph_url.rstrip("/"),
        upload_tag=c.get(
            d,
            "destination",
            "upload_tag",
            str,
            "Segment",
            lambda v: None if v.strip() else "must not be empty",
        ),
        test_event_code=c.get(d, "destination", "test_event_code", str, "").strip(),
    )

    events = _event_map(c, data, "events")
    lead_events = _event_map(c, data, "lead_events")
    registration_events = _event_map(c, data, "registration_events")

    m = c.table(data, "mapping")
    c.unknown(
        m,
        "mapping",
        {
            "value_field",
            "limited_data_use",
            "default_currency",
            "default_country",
            "hash_external_id",
            "timezone",
        },
    )
    currency = c.get(
        m,
        "mapping",
        "default_currency",
        str,
        "USD",
        lambda v: None if norm_currency(v) else f"is not an ISO 4217 code: {v!r}",
    )
    country = c.get(
        m,
        "mapping",
        "default_country",
        str,
        "US",
        lambda v: (
            None
            if not v.strip() or norm_country(v)
            else f'is not a country (use an ISO code like "US", or "" for none): {v!r}'
        ),
    )
    timezone = c.get(m, "mapping", "timezone", str, "UTC", _check_timezone)
    mapping = MappingSettings(
        value_field=c.get(
            m,
            "mapping",
            "value_field",
            str,
            "value",
            lambda v: None if v in ("value", "price") else f'must be "value" or "price", got {v!r}',
        ),
        limited_data_use=c.get(m, "mapping", "limited_data_use", bool, False),
        default_currency=norm_currency(currency) or "USD",
        default_country=(norm_country(country) or "") if country.strip() else "",
        hash_external_id=c.get(m, "mapping", "hash_external_id", bool, True),
        timezone=timezone,
        tz=None if timezone.upper() == "UTC" else _zone(timezone),
    )

    u = c.table(data, "upload")
    c.unknown(
        u, "upload", {"batch_size", "workers", "window_days", "max_retries", "timeout_seconds"}
    )
    max_batch = destination.max_batch_size
    upload = UploadSettings(
        batch_size=c.get(u, "upload", "batch_size", int, max_batch, _between(1, max_batch)),
        workers=c.get(u, "upload", "workers", int, 4, _between(1, 32)),
        window_days=c.get(u, "upload", "window_days", int, 62, _between(1, 62)),
        max_retries=c.get(u, "upload", "max_retries", int, 6, _between(1, 20)),
        timeout_seconds=float(
            c.get(u, "upload", "timeout_seconds", (int, float), 30.0, _between(1, 600))
        ),
    )

    s = c.table(data, "csv")
    c.unknown(s, "csv", {"event", "delimiter", "dayfirst", "columns"})
    columns_table = c.table(s, "columns") if "columns" in s else {}
    columns: list[tuple[str, tuple[str, ...]]] = []
    for target, headers in columns_table.items():
        names = headers if isinstance(headers, list) else [headers]
        if not names or not all(isinstance(h, str) and h.strip() for h in names):
            c.problems.append(f'csv.columns."{target}" must be a header name or a list of them')
        elif not re.match(r"^[A-Za-z_][\w .-]*$", target) or ".." in target:
            c.problems.append(
                f'csv.columns."{target}" is not a Segment message path '
                '(like "context.traits.email")'
            )
        else:
            columns.append((target, tuple(h.strip() for h in names)))
    csv = CsvSettings(
        event=c.get(
            s,
            "csv",
            "event",
            str,
            "Order Completed",
            lambda v: None if v.strip() else "must not be empty",
        ),
        delimiter=c.get(
            s,
            "csv",
            "delimiter",
            str,
            "",
            lambda v: (
                None
                if len(v) <= 1 or v == "\\t"
                else f"must be one character or empty (detect), got {v!r}"
            ),
        ).replace("\\t", "\t"),
        dayfirst=c.get(s, "csv", "dayfirst", bool, False),
        columns=tuple(columns),
    )
    t = c.table(data, "state")
    c.unknown(t, "state", {"keep_rejects_days"})
    state = StateSettings(
        keep_rejects_days=c.get(t, "state", "keep_rejects_days", int, 30, _between(0, 3650)),
    )
    if c.problems:
        raise ConfigError(c.problems, path=str(path) if path else None)
    return Settings(
        destination=destination,
        events=events,
        lead_events=lead_events,
        registration_events=registration_events,
        mapping=mapping,
        upload=upload,
        csv=csv,
        state=state,
        path=path,
    )


def _zone(name: str) -> tzinfo:
    """An IANA zone (zoneinfo is imported only when a configuration names one)."""
    import zoneinfo

    return zoneinfo.ZoneInfo(name)


def _check_timezone(name: str) -> str | None:
    if name.upper() == "UTC":
        return None
    try:
        _zone(name)
    except (KeyError, ValueError, OSError):  # not found (a KeyError), malformed, a directory
        return f'is not an IANA time zone name (like "Europe/Paris"): {name!r}'
    return None
