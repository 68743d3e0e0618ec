"""Configuration lookup and validation (cli.md "Configuration")."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fbocli.cli.environment import load_settings, tuning
from fbocli.config import find_config, load_config, parse_settings, starter_config
from fbocli.errors import ConfigError, ExitStatus, UsageError
from fbocli.pipeline import POOL_MIN_BYTES, Tuning
from tests.helpers import ROOT


def test_defaults_match_cli_md() -> None:
    s = parse_settings({})
    assert s.destination.api == "conversions"
    assert s.destination.api_version == "v27.0"
    assert s.destination.graph_url == "https://graph.facebook.com"
    assert s.destination.upload_tag == "Segment"
    assert (s.upload.batch_size, s.upload.workers, s.upload.window_days) == (1000, 4, 62)
    assert (s.upload.max_retries, s.upload.timeout_seconds) == (6, 30.0)
    assert s.mapping.value_field == "value" and s.mapping.default_currency == "USD"
    assert s.mapping.default_country == "us" and s.mapping.hash_external_id
    assert s.csv.event == "Order Completed" and s.csv.delimiter == "" and not s.csv.dayfirst


def test_routes_fan_out_and_semantic_names() -> None:
    s = parse_settings(
        {
            "events": {"Order Completed": [1234567890123456, "222"], "Store Visit": "333"},
            "lead_events": {"Order Completed": "444"},
            "registration_events": {"Signed Up": "555"},
        },
    )
    assert s.routes("Order Completed") == (
        ("1234567890123456", "Purchase"),
        ("222", "Purchase"),
        ("444", "Lead"),
    )
    assert s.routes("Store Visit") == (("333", "Store Visit"),)
    assert s.routes("Signed Up") == (("555", "CompleteRegistration"),)
    assert s.routes("order completed") == ()  # exact, case-sensitive
    assert s.dataset_ids == ("1234567890123456", "222", "333", "444", "555")


@pytest.mark.parametrize(
    "dataset", ["１２３４５６", "١٢٣", "12\u00b3", "123 456", "0x12", "1" * 33]
)
def test_a_dataset_id_is_ascii_digits_only(dataset: str) -> None:
    """str.isdigit() takes full-width and other Unicode digits: Meta does not."""
    with pytest.raises(ConfigError) as info:
        parse_settings({"events": {"Order Completed": dataset}})
    assert 'events."Order Completed" must be a dataset ID (a string of ASCII digits 0-9)' in str(
        info.value
    )


def test_every_problem_is_reported_at_once_naming_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[destination]\napi = "graphql"\napi_version = "24"\ncolour = 1\n'
        '[events]\n"Order Completed" = "abc"\n'
        '[mapping]\nvalue_field = "revenue"\nlimited_data_use = "yes"\ntimezone = "Mars/Base"\n'
        'default_currency = "XYZ"\n'
        "[upload]\nbatch_size = 5000\nwindow_days = 90\nworkers = true\n"
        "[extra]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    error = info.value
    assert error.exit_status == ExitStatus.USAGE
    assert str(path) in error.message
    text = "\n".join(error.problems)
    for needle in [
        "destination.api ",
        "destination.api_version",
        "unknown key destination.colour",
        'events."Order Completed"',
        "mapping.value_field",
        "mapping.limited_data_use must be true or false, got a string",
        "mapping.timezone",
        "mapping.default_currency",
        "upload.batch_size must be between 1 and 1000",
        "upload.window_days must be between 1 and 62",
        "upload.workers must be an integer, got a boolean",
        "unknown top-level table [extra]",
    ]:
        assert needle in text, needle
    assert len(error.problems) == 12


def test_offline_api_allows_batches_of_2000() -> None:
    s = parse_settings({"destination": {"api": "offline"}, "upload": {"batch_size": 2000}})
    assert s.upload.batch_size == 2000
    assert parse_settings({"destination": {"api": "offline"}}).upload.batch_size == 2000


def test_graph_url_override_and_https_rule(tmp_path: Path) -> None:
    s = parse_settings({}, graph_url="http://127.0.0.1:9999/")
    assert s.destination.graph_url == "http://127.0.0.1:9999"
    with pytest.raises(ConfigError, match="must use https://"):
        parse_settings({"destination": {"graph_url": "http://graph.example.com"}})
    with pytest.raises(ConfigError, match="FBOCLI_GRAPH_URL"):
        parse_settings({}, graph_url="ftp://x")
    path = tmp_path / "c.toml"
    path.write_text('[destination]\ngraph_url = "https://proxy.example.com/"\n')
    assert load_config(path).destination.graph_url == "https://proxy.example.com"
    local = load_config(path, graph_url="http://localhost:8080")
    assert local.destination.graph_url == "http://localhost:8080"


def test_the_cli_takes_the_config_and_graph_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "env.toml"
    path.write_text('[events]\n"Order Completed" = "123"\n')
    env = {"FBOCLI_CONFIG": str(path), "FBOCLI_GRAPH_URL": "http://127.0.0.1:9/"}
    settings = load_settings(None, env)
    assert settings.path == path and settings.destination.graph_url == "http://127.0.0.1:9"
    unset = load_settings(None, {"FBOCLI_CONFIG": str(path), "FBOCLI_GRAPH_URL": ""})
    assert unset.destination.graph_url == "https://graph.facebook.com"


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert find_config(None, {}) is None
    user = tmp_path / "xdg" / "fbocli" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("")
    assert find_config(None, {}) == user
    (tmp_path / "fbocli.toml").write_text("")
    assert find_config(None, {}) == Path("fbocli.toml")
    env_cfg = tmp_path / "env.toml"
    env_cfg.write_text("")
    assert find_config(None, env={"FBOCLI_CONFIG": str(env_cfg)}) == env_cfg
    opt = tmp_path / "opt.toml"
    opt.write_text("")
    assert find_config(str(opt), env={"FBOCLI_CONFIG": str(env_cfg)}) == opt
    with pytest.raises(ConfigError, match="not a file"):
        find_config(str(tmp_path / "missing.toml"), {})


def test_no_config_hints_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    with pytest.raises(ConfigError) as info:
        load_settings(None, {})
    assert info.value.hint and "fbocli init" in info.value.hint


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[events\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(path)


def test_starter_config_is_valid_and_uses_the_defaults() -> None:
    data = tomllib.loads(starter_config())
    s = parse_settings(data)
    assert s.destination.api_version == "v27.0"
    assert s.upload.batch_size == 1000
    assert s.events  # it maps at least one example event


@pytest.mark.parametrize("zone", ["Europe", "Mars/Base", "../etc/passwd", "Europe/Paris "])
def test_a_timezone_that_is_not_a_zone_is_a_config_problem(zone: str) -> None:
    """Not a traceback: "Europe" is a directory of the zone database, not a zone."""
    data = {"events": {"Order Completed": "123"}, "mapping": {"timezone": zone}}
    with pytest.raises(ConfigError) as info:
        parse_settings(data)
    assert any(p.startswith("mapping.timezone") for p in info.value.problems), info.value.problems


def test_a_named_timezone_is_used() -> None:
    data = {"events": {"Order Completed": "123"}, "mapping": {"timezone": "Europe/Paris"}}
    settings = parse_settings(data)
    assert str(settings.mapping.tz) == "Europe/Paris"


def test_the_cli_takes_its_testing_aids_from_the_environment() -> None:
    assert tuning({}) == Tuning()
    assert tuning({"FBOCLI_BACKOFF_SCALE": " 0.5 "}).backoff_scale == 0.5
    assert tuning({"FBOCLI_BACKOFF_SCALE": "0"}).backoff_scale == 0.0
    for bad in ("fast", "-1", "nan"):
        with pytest.raises(UsageError, match="FBOCLI_BACKOFF_SCALE"):
            tuning({"FBOCLI_BACKOFF_SCALE": bad})
    assert tuning({"FBOCLI_PARALLEL_MIN_BYTES": "0"}).pool_min_bytes == 0
    assert tuning({"FBOCLI_PARALLEL_MIN_BYTES": ""}).pool_min_bytes == POOL_MIN_BYTES
    assert tuning({"FBOCLI_PARALLEL_MIN_BYTES": "x"}).pool_min_bytes == POOL_MIN_BYTES


def test_the_starter_config_is_the_example_at_the_top_level() -> None:
    assert starter_config() == (ROOT / "config.example.toml").read_text(encoding="utf-8")
