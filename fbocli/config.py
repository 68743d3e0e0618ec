"""Find, parse and validate the TOML configuration into frozen :class:`Settings`.

Every problem is collected and reported at once, each naming its key, so a user fixes a
config in one pass rather than one error per run.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs

from fbocli.errors import ConfigError, UsageError
from fbocli.mapping.normalize import norm_currency
from fbocli.mapping.places import norm_country
from fbocli.settings import (
    ACTION_SOURCES,
    DEFAULT_API_VERSION,
    DEFAULT_GRAPH_URL,
    MAX_RECORD_BYTES,
    MAX_RECORD_BYTES_RANGE,
    PHYSICAL_STORE,
    PRESETS,
    CsvSettings,
    Destination,
    InputSettings,
    MappingSettings,
    Settings,
    StateSettings,
    UploadSettings,
    is_dataset_id,
)
from fbocli.versions import NEWEST

INIT_HINT = "run `fbocli init` to write a commented starter config, or pass --config PATH"
_VERSION = re.compile(r"^v\d+\.\d+$")
_PATH = re.compile(r"^[A-Za-z_][\w .-]*$")
_ADDRESS = "context.traits.address."
# [csv.columns] / --column: the short names of the usual fields (inputs.md section 3).
COLUMN_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "email": "context.traits.email",
        "phone": "context.traits.phone",
        "first_name": "context.traits.firstName",
        "last_name": "context.traits.lastName",
        "name": "context.traits.name",
        "city": _ADDRESS + "city",
        "state": _ADDRESS + "state",
        "zip": _ADDRESS + "postalCode",
        "country": _ADDRESS + "country",
        "gender": "context.traits.gender",
        "birthday": "context.traits.birthday",
        "external_id": "userId",
        "lead_id": "context.Facebook Offline Conversions.leadId",
        "order_id": "properties.order_id",
        "value": "properties.value",
        "currency": "properties.currency",
        "event": "event",
        "timestamp": "timestamp",
        "product_id": "properties.product_id",
        "quantity": "properties.quantity",
        "price": "properties.price",
    }
)


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
        ids = _datasets(checker, target, f'{name}."{event}"')
        if not event.strip():
            checker.problems.append(f"[{name}] has an empty event name")
        elif target == []:
            checker.problems.append(f'{name}."{event}" lists no dataset ID')
        elif ids:
            out[event] = ids
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
            "input",
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
        d,
        "destination",
        {
            "api",
            "api_version",
            "graph_url",
            "upload_tag",
            "test_event_code",
            "action_source",
            "dataset",
        },
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
        action_source=c.get(
            d, "destination", "action_source", str, PHYSICAL_STORE, check_action_source
        ),
        dataset=_datasets(c, d.get("dataset", []), "destination.dataset"),
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
    c.unknown(s, "csv", set(_CSV_KEYS))
    columns_table = c.table(s, "columns") if "columns" in s else {}
    columns: list[tuple[str, tuple[str, ...]]] = []
    for target, headers in columns_table.items():
        entry, problem = column_entry(target, headers)
        if entry is None:
            c.problems.append(f"csv.columns.{problem}")
        else:
            columns.append(entry)
    filter_table = c.table(s, "filter") if "filter" in s else {}
    filters: list[tuple[str, tuple[str, ...]]] = []
    for header, wanted in filter_table.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        texts = [str(v) for v in values if isinstance(v, (str, int)) and not isinstance(v, bool)]
        if not header.strip():
            c.problems.append("[csv.filter] has an empty header name")
        elif not values or len(texts) != len(values):
            c.problems.append(
                f'csv.filter."{header}" must be a value or a list of values (text or whole '
                f"numbers), got {wanted!r}"
            )
        else:
            filters.append((header.strip(), tuple(v.strip() for v in texts)))
    csv_zone = c.get(s, "csv", "timezone", str, "", lambda v: _check_timezone(v) if v else None)
    customers = c.get(s, "csv", "customers", str, "").strip()
    if customers and path is not None and not Path(customers).is_absolute():
        customers = str(path.parent / customers)  # relative to the config file
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
        preset=c.get(s, "csv", "preset", str, "auto", check_preset),
        encoding=c.get(s, "csv", "encoding", str, "", _check_encoding).strip(),
        decimal=c.get(
            s,
            "csv",
            "decimal",
            str,
            ".",
            lambda v: None if v in (".", ",") else f'must be "." or ",", got {v!r}',
        ),
        date_format=c.get(
            s,
            "csv",
            "date_format",
            str,
            "",
            lambda v: (
                None
                if not v or "%" in v
                else f'must be a strptime format like "%d/%m/%Y %H:%M", got {v!r}'
            ),
        ),
        timezone=csv_zone,
        tz=(None if not csv_zone else UTC if csv_zone.upper() == "UTC" else _zone(csv_zone)),
        filter=tuple(filters),
        group_by=c.get(s, "csv", "group_by", str, "").strip(),
        customers=customers,
        customers_key=c.get(s, "csv", "customers_key", str, "").strip(),
        customers_key_column=c.get(s, "csv", "customers_key_column", str, "").strip(),
    )
    t = c.table(data, "state")
    c.unknown(t, "state", {"keep_rejects_days"})
    state = StateSettings(
        keep_rejects_days=c.get(t, "state", "keep_rejects_days", int, 30, _between(0, 3650)),
    )
    t = c.table(data, "input")
    c.unknown(t, "input", {"max_record_bytes"})
    low, high = MAX_RECORD_BYTES_RANGE
    reading = InputSettings(
        max_record_bytes=c.get(
            t, "input", "max_record_bytes", int, MAX_RECORD_BYTES, _between(low, high)
        ),
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
        input=reading,
        path=path,
    )


_CSV_KEYS = (
    "event",
    "delimiter",
    "dayfirst",
    "columns",
    "preset",
    "encoding",
    "decimal",
    "date_format",
    "timezone",
    "filter",
    "group_by",
    "customers",
    "customers_key",
    "customers_key_column",
)


def column_entry(field: str, headers: object) -> tuple[tuple[str, tuple[str, ...]] | None, str]:
    """One ``[csv.columns]`` entry (or ``--column``): (Segment path, headers), or (None,
    the problem, starting with the entry's quoted name). A short name (``zip``) means its
    Segment path (``context.traits.address.postalCode``)."""
    names = headers if isinstance(headers, list) else [headers]
    texts = [h.strip() for h in names if isinstance(h, str) and h.strip()]
    if not names or len(texts) != len(names):
        return None, f'"{field}" must be a header name or a list of them'
    path = COLUMN_ALIASES.get(field.strip(), field.strip())
    if not _PATH.match(path) or ".." in path:
        return None, (
            f'"{field}" is not a field ({", ".join(COLUMN_ALIASES)}) or a Segment message path '
            '(like "context.traits.email")'
        )
    return (path, tuple(texts)), ""


def check_preset(name: str) -> str | None:
    """Why ``name`` is not a preset setting, or None."""
    if name in ("auto", "none", *PRESETS):
        return None
    return f'must be "auto", "none" or one of {", ".join(PRESETS)}; got {name!r}'


def check_action_source(name: str) -> str | None:
    """Why ``name`` is not an ``action_source`` Meta accepts, or None."""
    if name in ACTION_SOURCES:
        return None
    return f"must be one of {', '.join(ACTION_SOURCES)}; got {name!r}"


def _check_encoding(name: str) -> str | None:
    import codecs

    if not name.strip():
        return None
    try:
        codecs.lookup(name.strip())
    except LookupError:
        return f'is not an encoding Python knows (like "utf-8", "cp1252", "latin-1"): {name!r}'
    return None


def _datasets(checker: _Checker, value: object, name: str) -> tuple[str, ...]:
    """One dataset ID or a list of them (digit strings; positive TOML integers too)."""
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and item > 0:
            item = str(item)
        if isinstance(item, str) and is_dataset_id(item.strip()):
            ids.append(item.strip())
        else:
            checker.problems.append(
                f"{name} must be a dataset ID (a string of ASCII digits 0-9) or a list of "
                f"them, got {item!r}"
            )
    return tuple(dict.fromkeys(ids))


def run_options(
    settings: Settings,
    *,
    preset: str | None = None,
    columns: Sequence[str] = (),
    customers: str | Path | None = None,
    dataset: Sequence[str] = (),
) -> Settings:
    """The settings with one run's CSV and destination options (``--preset``, ``--column
    FIELD=HEADER``, ``--customers FILE``, ``--dataset ID``), checked like the config's
    keys; every problem is reported at once (exit 2)."""
    import dataclasses

    problems: list[str] = []
    if preset is not None and (problem := check_preset(preset)) is not None:
        problems.append(f"--preset {problem}")
    # --column FIELD=HEADER entries replace the config's entry for that field; given
    # several times, one field's headers make a list, as in TOML.
    given: dict[str, tuple[str, ...]] = {}
    for option in columns:
        field, sep, header = option.partition("=")
        entry, problem = column_entry(field, header) if sep else (None, "")
        if entry is None:
            problems.append(
                f"--column {option!r}: "
                + (problem or 'expected FIELD=HEADER, like --column timestamp="Paid at"')
            )
        else:
            path, headers = entry
            given[path] = (*given.get(path, ()), *headers)
    entries = {**dict(settings.csv.columns), **given}
    ids = list(settings.destination.dataset)
    if dataset:
        checker = _Checker()
        ids = list(_datasets(checker, list(dataset), "--dataset"))
        problems += checker.problems
    if problems:
        raise UsageError("; ".join(problems))
    csv = dataclasses.replace(
        settings.csv,
        preset=preset if preset is not None else settings.csv.preset,
        columns=tuple(entries.items()),
        customers=str(customers) if customers else settings.csv.customers,
    )
    destination = dataclasses.replace(settings.destination, dataset=tuple(ids))
    return dataclasses.replace(settings, csv=csv, destination=destination)


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
