"""The token doctor: `auth status` and `auth login` read `debug_token` (type, expiry, data
access, scopes) and check each dataset; an upload warns at its start when the token expires
within a week. Against the fake Graph API, whose clock for these tests is the real one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from tests.fakegraph import FakeGraph, Fault
from tests.helpers import (
    DAY,
    DS1,
    DS2,
    TOKEN,
    cli_env,
    fake_graph,
    invoke,
    upload_args,
    write_config,
    write_events,
)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with fake_graph(now=None) as graph:  # expiry is told in real days
        yield graph


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "fbocli.toml", destination='api_version = "v25.0"')


@pytest.fixture
def env(fake: FakeGraph, tmp_path: Path, no_keyring: None) -> dict[str, str]:
    return cli_env(tmp_path, fake.url)


def _status(env: dict[str, str], config: Path, *args: str) -> Result:
    result = invoke(["auth", "status", "-c", str(config), *args], env=env)
    assert TOKEN not in result.output
    return result


def test_a_system_user_token_without_expiry_is_healthy(
    fake: FakeGraph, config: Path, env: dict[str, str]
) -> None:
    fake.permissions[TOKEN] = [("ads_management", "granted"), ("business_management", "granted")]
    result = _status(env, config)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Type:        system user token (app 987654321012345)" in out
    assert "Expires:     never" in out and "Data access: never" in out
    assert "recommended, not granted" not in out
    assert "App secret:  none" in out
    assert "API version: v25.0 (expires 2027-02-23)" in out
    assert result.stderr == ""


def test_a_user_token_expiring_in_3_days_is_reported_in_days_with_a_warning(
    fake: FakeGraph, config: Path, env: dict[str, str]
) -> None:
    fake.describe_token(TOKEN, type="USER", expires_in=3 * DAY, data_access_expires_in=80 * DAY)
    result = _status(env, config)
    assert result.exit_code == 0, result.output
    assert "Type:        user token" in result.stdout
    assert "(in 3 days)" in result.stdout and "(in 80 days)" in result.stdout
    assert "recommended, not granted: business_management" in result.stdout
    assert "fbocli: warning: the access token (user token) expires on " in result.stderr
    doc = json.loads(_status(env, config, "--json").stdout)
    assert doc["token"]["type"] == "USER" and doc["token"]["kind"] == "user"
    assert doc["token"]["days_left"] == 3.0
    assert doc["token"]["expires_at"].endswith("Z")
    assert doc["recommended_missing"] == ["business_management"]
    assert any("expires on" in warning for warning in doc["warnings"])
    assert doc["ok"] is True and doc["app_secret"] is None


def test_no_warning_a_week_or_more_before_expiry(
    fake: FakeGraph, config: Path, env: dict[str, str]
) -> None:
    fake.describe_token(TOKEN, type="USER", expires_in=10 * DAY)
    result = _status(env, config)
    assert result.exit_code == 0 and "(in 10 days)" in result.stdout
    assert "warning" not in result.stderr


def test_an_expired_token_exits_3_with_metas_reason(
    fake: FakeGraph, config: Path, env: dict[str, str]
) -> None:
    fake.describe_token(TOKEN, type="USER", expires_in=-DAY, expired=True)
    result = _status(env, config)
    assert result.exit_code == 3
    assert "invalid or expired" in result.stderr and "Session has expired" in result.stderr
    assert "code 190, subcode 463" in result.stderr
    assert "fbocli auth" in result.stderr  # the hint
    doc = json.loads(_status(env, config, "--json").stdout)
    assert doc["ok"] is False and "Session has expired" in doc["error"]


def test_an_inaccessible_dataset_exits_1_naming_it(
    fake: FakeGraph, config: Path, env: dict[str, str]
) -> None:
    fake.deny(TOKEN, DS2)
    result = _status(env, config)
    assert result.exit_code == 1
    assert f"DENIED  {DS2}" in result.stdout and f"ok      {DS1}" in result.stdout
    assert f"fbocli: error: the token cannot reach 1 configured dataset(s): {DS2}" in (
        result.stderr
    )


def test_a_token_without_ads_management_exits_3(
    fake: FakeGraph, config: Path, env: dict[str, str]
) -> None:
    fake.permissions[TOKEN] = [("ads_management", "declined")]
    result = _status(env, config)
    assert result.exit_code == 3 and "lacks ads_management" in result.stderr


def test_when_debug_token_is_refused_the_rest_is_still_checked(
    fake: FakeGraph, config: Path, env: dict[str, str]
) -> None:
    fake.inject(Fault.error(400, code=100, message="Unsupported get request"), times=6,
                path_suffix="/debug_token")  # fmt: skip
    result = _status(env, config)
    assert result.exit_code == 0, result.output
    assert "Type:        unknown (debug_token: Unsupported get request" in result.stdout
    assert f"ok      {DS1}" in result.stdout


def test_login_shows_the_doctor_and_warns_of_a_near_expiry(
    fake: FakeGraph, config: Path, env: dict[str, str]
) -> None:
    fake.describe_token(TOKEN, type="USER", expires_in=2 * DAY)
    result = invoke(
        ["auth", "login", "--token-stdin", "-c", str(config)],
        input=TOKEN + "\n",
        env={**env, "FBOCLI_ACCESS_TOKEN": ""},
    )
    assert result.exit_code == 0, result.output
    assert "Type:        user token" in result.stdout and "(in 2 days)" in result.stdout
    assert "Token stored in" in result.stdout
    assert "fbocli: warning: the access token (user token) expires on" in result.stderr


def test_an_upload_warns_at_its_start_when_the_token_expires_within_a_week(
    tmp_path: Path,
) -> None:
    with fake_graph() as fake:  # the fake's clock at NOW, as the upload's --now
        fake.describe_token(TOKEN, type="USER", expires_in=5 * DAY)
        write_events(tmp_path / "in.jsonl", 3)
        config = write_config(tmp_path / "fbocli.toml")
        env = cli_env(tmp_path, fake.url)
        args = upload_args(tmp_path / "in.jsonl", config, "--json")
        result = invoke(args, tmp_path / "state", env=env)
        assert result.exit_code == 0, result.output
        assert "expires on 2026-11-25 00:00 UTC (in 5 days)" in result.stderr
        assert any("(in 5 days)" in w for w in json.loads(result.stdout)["warnings"])
        # One cheap call: when it fails, the upload goes on without it (and without retries).
        fake.inject(Fault.error(500, code=2), times=10, path_suffix="/debug_token")
        again = invoke([*args, "--force"], tmp_path / "state", env=env)
        assert again.exit_code == 0 and "expires" not in again.stderr
        asked = [r for r in fake.requests if r["path"].endswith("/debug_token")]
        assert len(asked) == 2
        assert fake.count() == 6 * 2  # every event, twice (--force), to two datasets
