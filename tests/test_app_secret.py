"""`appsecret_proof`: with an app that requires it (the fake plays one), every call carries
``hex(HMAC-SHA256(key=app_secret, msg=access_token))``; uploads succeed with the secret,
stop with a message naming appsecret_proof without it; the secret is stored only with the
token and never shown."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from fbocli.credentials import credentials_path, resolve_app_secret
from fbocli.graph import GraphClient
from fbocli.secret import Secret
from tests.fakegraph import FakeGraph
from tests.helpers import (
    APP_SECRET,
    TOKEN,
    cli_env,
    event_requests,
    fake_graph,
    invoke,
    upload_args,
    write_config,
    write_events,
)
from tests.memory_keyring import MemoryKeyring

PROOF = hmac.new(APP_SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
DEVICE = "EAAB-device-token-0123456789DVCE"


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with fake_graph() as graph:
        graph.require_app_secret(APP_SECRET)
        yield graph


@pytest.fixture
def world(
    fake: FakeGraph, tmp_path: Path, no_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Path]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))  # as cli_env's
    write_events(tmp_path / "in.jsonl", 5)
    return {"input": tmp_path / "in.jsonl", "config": write_config(tmp_path / "fbocli.toml")}


def _env(fake: FakeGraph, tmp_path: Path, **extra: str) -> dict[str, str]:
    return cli_env(tmp_path, fake.url, **extra)


def _clean(*results: Result) -> None:
    for result in results:
        assert APP_SECRET not in result.output and TOKEN not in result.output
        assert PROOF not in result.output


def _upload(world: dict[str, Path], env: dict[str, str], *extra: str) -> Result:
    args = upload_args(world["input"], world["config"], "--json", *extra)
    return invoke(args, Path(env["FBOCLI_STATE_DIR"]), env=env)


def test_the_proof_is_metas_hmac_and_goes_with_every_call(fake: FakeGraph) -> None:
    client = GraphClient(
        graph_url=fake.url, api_version="v27.0", token=Secret(TOKEN), app_secret=Secret(APP_SECRET)
    )
    with client:
        assert client.get("me")["name"] == "Test User"
        client.send_events("1111111111111111", [b'{"x": 1}'], extra={"upload_tag": "t"})
        assert APP_SECRET not in repr(client) and PROOF not in repr(client)
    assert [r["params"]["appsecret_proof"] for r in fake.requests] == [PROOF, PROOF]


def test_uploads_succeed_with_the_app_secret_and_every_request_carries_the_proof(
    fake: FakeGraph, world: dict[str, Path], tmp_path: Path
) -> None:
    result = _upload(world, _env(fake, tmp_path, FBOCLI_APP_SECRET=APP_SECRET))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"]["sent"] == 10
    assert fake.count() == 10
    assert {r["params"].get("appsecret_proof") for r in fake.requests} == {PROOF}
    _clean(result)


def test_uploads_fail_without_it_naming_appsecret_proof_and_send_nothing(
    fake: FakeGraph, world: dict[str, Path], tmp_path: Path
) -> None:
    result = _upload(world, _env(fake, tmp_path))
    assert result.exit_code == 3
    assert fake.count() == 0
    assert "appsecret_proof" in result.stderr and "FBOCLI_APP_SECRET" in result.stderr
    assert "--app-secret-stdin" in result.stderr  # the hint
    summary = json.loads(result.stdout)
    assert summary["events"]["api_rejected"] == 0  # refused as a whole, never bisected
    assert len(event_requests(fake)) <= 2  # one batch per dataset at most, then it stopped
    _clean(result)


def test_a_wrong_app_secret_is_told_apart(
    fake: FakeGraph, world: dict[str, Path], tmp_path: Path
) -> None:
    result = _upload(world, _env(fake, tmp_path, FBOCLI_APP_SECRET="not-the-secret"))
    assert result.exit_code == 3 and fake.count() == 0
    assert "does not belong to the token's app" in result.stderr
    assert "Invalid appsecret_proof" in result.stderr


def test_login_stores_the_secret_with_the_token_and_later_runs_use_it(
    fake: FakeGraph, world: dict[str, Path], tmp_path: Path
) -> None:
    env = _env(fake, tmp_path, FBOCLI_ACCESS_TOKEN="")
    login = invoke(
        ["auth", "login", "--token-stdin", "--app-secret-stdin", "-c", str(world["config"])],
        input=f"{TOKEN}\n{APP_SECRET}\n",
        env=env,
    )
    assert login.exit_code == 0, login.output
    assert "Token stored with the app secret in" in login.stdout
    path = credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert APP_SECRET in path.read_text() and TOKEN in path.read_text()
    status = invoke(["auth", "status", "-c", str(world["config"])], env=env)
    assert status.exit_code == 0, status.output
    assert f"App secret:  from file ({path}): every call carries appsecret_proof" in (status.stdout)
    upload = _upload(world, env)
    assert upload.exit_code == 0, upload.output
    assert fake.count() == 10
    logout = invoke(["auth", "logout"], env=env)
    assert logout.exit_code == 0 and not path.exists()
    assert resolve_app_secret({}) is None
    _clean(login, status, upload, logout)


def test_login_without_the_secret_the_app_requires_stores_nothing(
    fake: FakeGraph, world: dict[str, Path], tmp_path: Path
) -> None:
    env = _env(fake, tmp_path, FBOCLI_ACCESS_TOKEN="")
    login = invoke(["auth", "login", "--token-stdin"], input=TOKEN + "\n", env=env)
    assert login.exit_code == 3
    assert "appsecret_proof" in login.stderr and "--app-secret-stdin" in login.stderr
    assert not credentials_path().exists()
    missing = invoke(
        ["auth", "login", "--token-stdin", "--app-secret-stdin"], input=TOKEN + "\n", env=env
    )
    assert missing.exit_code == 2 and "no app secret on standard input" in missing.stderr
    _clean(login, missing)


def test_on_a_terminal_the_secret_is_asked_for_when_meta_wants_the_proof(
    fake: FakeGraph, world: dict[str, Path], tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    fake.device_script(["approved"], token=DEVICE)
    env = _env(fake, tmp_path, FBOCLI_ACCESS_TOKEN="")
    args = ["auth", "login", "--device", "--app-id", "1", "--client-token", "c"]
    result = invoke(args, input=APP_SECRET + "\n", env=env, obj={"sleep": lambda _s: None,
                                                                 "terminal": True})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "requires appsecret_proof" in result.stdout
    assert "paste it (input hidden)" in result.stdout
    assert "Token stored with the app secret in the OS keyring." in result.stdout
    assert memory_keyring.store[("fbocli", "access_token")] == DEVICE
    assert memory_keyring.store[("fbocli", "app_secret")] == APP_SECRET
    _clean(result)
    logout = invoke(["auth", "logout"], env=env)
    assert logout.exit_code == 0 and memory_keyring.store == {}
