"""`fbocli auth` end to end against the fake Graph API: wizard, login, status, logout.

Every test also checks that the token never shows up in stdout, stderr or an exception.
"""

from __future__ import annotations

import importlib
import json
import stat
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fbocli.auth import device_login, verify_token
from fbocli.cli import main
from fbocli.credentials import KEYRING_SERVICE, KEYRING_USER, credentials_path
from fbocli.errors import AuthError
from fbocli.graph import GraphClient, RetryPolicy
from fbocli.secret import Secret
from fbocli.settings import DEFAULT_API_VERSION
from tests.fakegraph import VERIFICATION_URI, FakeGraph
from tests.memory_keyring import MemoryKeyring

TOKEN = "EAAB-test-token-0123456789abWXYZ"
WEAK = "EAAB-weak-token-0123456789abQRST"  # valid, but without ads_management
DEVICE = "EAAB-device-token-0123456789DVCE"
DS1, DS2, GONE = "1234567890123456", "6543210987654321", "7777777777777777"
ALL_TOKENS = (TOKEN, WEAK, DEVICE)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph(tokens=[TOKEN, WEAK], datasets=[DS1, DS2]) as graph:
        graph.permissions[WEAK] = [("ads_management", "declined"), ("public_profile", "granted")]
        yield graph


@pytest.fixture(autouse=True)
def environment(
    fake: FakeGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_keyring: None
) -> None:
    """Isolated config dir and cwd, the fake as Graph API, no env token, no real keyring."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FBOCLI_GRAPH_URL", fake.url)
    monkeypatch.setenv("FBOCLI_BACKOFF_SCALE", "0")
    monkeypatch.delenv("FBOCLI_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("FBOCLI_CONFIG", raising=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """./fbocli.toml routing to both datasets of the fake (found by the lookup)."""
    path = tmp_path / "fbocli.toml"
    path.write_text(f'[events]\n"Order Completed" = ["{DS1}", "{DS2}"]\n')
    return path


def run(
    args: list[str],
    *,
    input: str | None = None,
    env: dict[str, str | None] | None = None,
    obj: Any = None,
) -> Result:
    result = CliRunner().invoke(main, ["auth", *args], input=input, env=env, obj=obj)
    assert_no_token(result)
    return result


def assert_no_token(result: Result) -> None:
    texts = [result.output, result.stdout, result.stderr]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        texts.append("".join(traceback.format_exception(result.exception)))
    for text in texts:
        for token in ALL_TOKENS:
            assert token not in text


def stored_file_token() -> str | None:
    path = credentials_path()
    if not path.exists():
        return None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    for token in ALL_TOKENS:
        if token in text:
            return token
    raise AssertionError("credentials file without a known token")


def keyring_token(backend: MemoryKeyring) -> str | None:
    return backend.store.get((KEYRING_SERVICE, KEYRING_USER))


# ----------------------------------------------------------------- the wizard


@pytest.fixture(autouse=True)
def _a_terminal(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wizard asks for the token only on a terminal; click's runner gives none, so
    the wizard tests declare one (a real terminal: test_wizard_in_a_real_terminal)."""
    if request.node.name.startswith("test_wizard"):
        monkeypatch.setattr(
            importlib.import_module("fbocli.cli.auth"), "_terminal", lambda ctx: True
        )


def test_wizard_verifies_checks_datasets_and_stores_in_the_keyring(
    config: Path, memory_keyring: MemoryKeyring
) -> None:
    result = run([], input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "system-user token" in out and "Business Settings" in out
    assert "Test User (id 100000001)" in out
    assert "ads_management" in out
    assert f"ok      {DS1}  Dataset {DS1}" in out
    assert f"ok      {DS2}  Dataset {DS2}" in out
    assert "Token stored in the OS keyring." in out
    assert "fbocli validate" in out and "fbocli upload" in out
    assert keyring_token(memory_keyring) == TOKEN
    assert stored_file_token() is None


def test_wizard_with_no_keyring_writes_a_private_file(
    config: Path, memory_keyring: MemoryKeyring
) -> None:
    result = run(["--no-keyring"], input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert f"Token stored in {credentials_path()} (mode 0600)." in result.stdout
    assert stored_file_token() == TOKEN
    assert keyring_token(memory_keyring) is None


def test_wizard_falls_back_to_the_file_without_a_usable_keyring(config: Path) -> None:
    result = run([], input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert stored_file_token() == TOKEN


def test_wizard_without_a_config_skips_the_dataset_check(fake: FakeGraph) -> None:
    result = run([], input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert "No configuration found: the datasets will not be checked." in result.stdout
    assert "not checked" in result.stdout
    assert stored_file_token() == TOKEN
    asked = [r["path"] for r in fake.requests]
    assert all(DS1 not in p and DS2 not in p for p in asked)
    assert any(p.endswith(f"/{DEFAULT_API_VERSION}/me") for p in asked)


def test_wizard_refuses_an_invalid_token_and_stores_nothing(config: Path) -> None:
    result = run([], input="EAAB-not-a-known-token-000000\n")
    assert result.exit_code == 3
    assert "invalid or expired" in result.stderr
    assert "code 190" in result.stderr
    assert "fbocli auth" in result.stderr  # the hint
    assert "EAAB-not-a-known-token-000000" not in result.output
    assert stored_file_token() is None


def test_wizard_refuses_a_token_without_ads_management(
    config: Path, memory_keyring: MemoryKeyring
) -> None:
    result = run([], input=WEAK + "\n")
    assert result.exit_code == 3
    assert "lacks the ads_management permission" in result.stderr
    assert "nothing was stored" in result.stderr
    assert "Permissions: public_profile" in result.stdout
    assert stored_file_token() is None
    assert keyring_token(memory_keyring) is None


def test_wizard_reports_denied_and_missing_datasets_but_stores_the_token(
    fake: FakeGraph, tmp_path: Path
) -> None:
    config = tmp_path / "custom.toml"
    config.write_text(f'[events]\n"Order Completed" = ["{DS1}", "{DS2}", "{GONE}"]\n')
    fake.deny(TOKEN, DS2)
    result = run(["-c", str(config)], input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"  ok      {DS1}  Dataset {DS1}" in lines
    (denied,) = [line for line in lines if DS2 in line]
    assert denied.startswith(f"  DENIED  {DS2}") and "code 200" in denied
    (gone,) = [line for line in lines if GONE in line]
    assert gone.startswith(f"  DENIED  {GONE}") and "does not exist" in gone
    assert "subcode 33" in gone
    assert f"cannot reach 2 dataset(s): {DS2}, {GONE}" in result.stderr
    assert stored_file_token() == TOKEN


def test_wizard_with_a_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run(["-c", str(tmp_path / "nope.toml")], input=TOKEN + "\n")
    assert result.exit_code == 2
    assert stored_file_token() is None


def test_wizard_notes_that_the_environment_token_wins(config: Path) -> None:
    result = run([], input=TOKEN + "\n", env={"FBOCLI_ACCESS_TOKEN": WEAK})
    assert result.exit_code == 0, result.output
    assert "$FBOCLI_ACCESS_TOKEN is set and takes precedence" in result.stdout


# ----------------------------------------------------------------- login


def test_login_token_stdin_verifies_and_stores(config: Path) -> None:
    result = run(["login", "--token-stdin", "--no-keyring"], input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert "Test User" in result.stdout
    assert stored_file_token() == TOKEN


def test_login_token_stdin_into_the_keyring(config: Path, memory_keyring: MemoryKeyring) -> None:
    result = run(["login", "--token-stdin"], input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert keyring_token(memory_keyring) == TOKEN


def test_login_token_stdin_refuses_a_revoked_token(config: Path, fake: FakeGraph) -> None:
    fake.revoke_token(TOKEN)
    result = run(["login", "--token-stdin"], input=TOKEN + "\n")
    assert result.exit_code == 3
    assert stored_file_token() is None


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["login", "--token-stdin"], "\n"),
        (["login"], None),
        (["login", "--token-stdin", "--device", "--app-id", "1", "--client-token", "c"], None),
        (["login", "--device", "--app-id", "1"], None),
    ],
)
def test_login_usage_errors(args: list[str], stdin: str | None) -> None:
    result = run(args, input=stdin)
    assert result.exit_code == 2
    assert stored_file_token() is None


DEVICE_ARGS = ["login", "--device", "--app-id", "123456", "--client-token", "abc123"]


def test_device_login_pending_slow_down_then_approved(fake: FakeGraph, config: Path) -> None:
    fake.device_script(["pending", "slow_down", "pending", "approved"], token=DEVICE)
    waits: list[float] = []
    result = run([*DEVICE_ARGS, "--no-keyring"], obj={"sleep": waits.append})
    assert result.exit_code == 0, result.output
    assert waits == [5, 5, 10, 10]  # slow down adds 5 s to the interval
    assert f"Open {VERIFICATION_URI} and enter the code: " in result.stdout
    assert "Approved." in result.stdout
    assert stored_file_token() == DEVICE
    logins = [r for r in fake.requests if r["path"].endswith("/device/login")]
    assert len(logins) == 1


def test_device_login_expired_stores_nothing(fake: FakeGraph, config: Path) -> None:
    fake.device_script(["pending", "expired"], token=DEVICE)
    result = run(DEVICE_ARGS, obj={"sleep": lambda _s: None})
    assert result.exit_code == 3
    assert "expired" in result.stderr
    assert stored_file_token() is None


def test_device_login_ctrl_c_exits_130(fake: FakeGraph, config: Path) -> None:
    fake.device_script(["pending"], token=DEVICE)

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    result = run(DEVICE_ARGS, obj={"sleep": interrupt})
    assert result.exit_code == 130
    assert stored_file_token() is None


def test_device_login_gives_up_when_expires_in_elapses(fake: FakeGraph) -> None:
    fake.device_script(["pending"], token=DEVICE)
    now = [0.0]
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        now[0] += seconds

    client = GraphClient(graph_url=fake.url, api_version="v24.0", token=None)
    with client, pytest.raises(AuthError, match="expired"):
        device_login(client, "1", "c", on_code=lambda _c: None, sleep=sleep, clock=lambda: now[0])
    assert sum(polls) >= 420 and len(polls) == 84  # 420 s / 5 s, then no further poll
    status_polls = [r for r in fake.requests if r["path"].endswith("/device/login_status")]
    assert len(status_polls) == 83


def test_verify_token_reads_identity_scopes_and_datasets(fake: FakeGraph) -> None:
    fake.identities[TOKEN] = ("42", "System User")
    fake.deny(TOKEN, DS2, code=10)
    with GraphClient(
        graph_url=fake.url, api_version="v24.0", token=Secret(TOKEN), policy=RetryPolicy(scale=0)
    ) as client:
        report = verify_token(client, [DS1, DS2, DS1])
    assert (report.user_id, report.user_name) == ("42", "System User")
    assert report.granted == ("ads_management", "public_profile")
    assert report.has_ads_management
    assert [(d.dataset_id, d.ok) for d in report.datasets] == [(DS1, True), (DS2, False)]
    assert "code 10" in report.datasets[1].name_or_reason


# ----------------------------------------------------------------- status


def test_status_from_the_environment_shows_last4_only(config: Path) -> None:
    result = run(["status"], env={"FBOCLI_ACCESS_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert "Token:       ...WXYZ from environment ($FBOCLI_ACCESS_TOKEN)" in result.stdout
    assert "Test User (id 100000001)" in result.stdout
    assert f"ok      {DS1}" in result.stdout


def test_status_from_the_keyring(config: Path, memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password(KEYRING_SERVICE, KEYRING_USER, TOKEN)
    result = run(["status"])
    assert result.exit_code == 0, result.output
    assert "...WXYZ from keyring (" in result.stdout


def test_status_from_the_file_as_json(config: Path) -> None:
    assert run(["login", "--token-stdin"], input=TOKEN + "\n").exit_code == 0
    result = run(["status", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    expected = {
        "ok": True,
        "error": None,
        "source": "file",
        "location": str(credentials_path()),
        "token_last4": "WXYZ",
        "user": {"id": "100000001", "name": "Test User"},
        "permissions": ["ads_management", "public_profile"],
        "has_ads_management": True,
        "datasets": [
            {"id": DS1, "ok": True, "name": f"Dataset {DS1}"},
            {"id": DS2, "ok": True, "name": f"Dataset {DS2}"},
        ],
        "api_version": {"version": DEFAULT_API_VERSION, "expiry_warning": None},
    }
    assert {key: doc[key] for key in expected} == expected
    # the token doctor's part (tests/test_token_doctor.py checks its values)
    assert {"token", "app_secret", "recommended_missing"} <= set(doc)


def test_status_reports_a_denied_dataset_with_metas_reason_and_exits_1(
    config: Path, fake: FakeGraph
) -> None:
    fake.deny(TOKEN, DS1)
    result = run(["status", "--json"], env={"FBOCLI_ACCESS_TOKEN": TOKEN})
    assert result.exit_code == 1  # cli.md: 1 when a configured dataset is not accessible
    doc = json.loads(result.stdout)
    denied = doc["datasets"][0]
    assert denied["id"] == DS1 and denied["ok"] is False and "code 200" in denied["reason"]
    assert doc["ok"] is False
    assert f"cannot reach 1 configured dataset(s): {DS1}" in result.stderr
    text = run(["status"], env={"FBOCLI_ACCESS_TOKEN": TOKEN})
    assert text.exit_code == 1 and "DENIED" in text.stdout and "fbocli: error:" in text.stderr


def test_status_shows_the_api_version_and_warns_when_it_expired(
    tmp_path: Path, fake: FakeGraph
) -> None:
    path = tmp_path / "old.toml"
    path.write_text(f'[destination]\napi_version = "v24.0"\n[events]\n"A" = "{DS1}"\n')
    result = run(["status", "-c", str(path)], env={"FBOCLI_ACCESS_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert "API version: v24.0 (expires 2026-11-10)" in result.stdout
    assert "api_version v24.0 expired on 2026-11-10; the newest known is v27.0" in result.stderr
    fresh = run(["status"], env={"FBOCLI_ACCESS_TOKEN": TOKEN})
    assert f"API version: {DEFAULT_API_VERSION} (released" in fresh.stdout
    assert "warning" not in fresh.stderr


def test_status_without_a_token_exits_3(config: Path) -> None:
    result = run(["status"])
    assert result.exit_code == 3
    assert "no access token found" in result.stderr
    result = run(["status", "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout) == {"ok": False, "error": "no access token found"}


def test_status_with_a_revoked_token_exits_3(config: Path, fake: FakeGraph) -> None:
    assert run(["login", "--token-stdin"], input=TOKEN + "\n").exit_code == 0
    fake.revoke_token(TOKEN)
    result = run(["status", "--json"])
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and "code 190" in doc["error"] and doc["source"] == "file"
    assert "fbocli auth" in result.stderr


def test_status_with_a_token_lacking_ads_management_exits_3(config: Path) -> None:
    result = run(["status"], env={"FBOCLI_ACCESS_TOKEN": WEAK})
    assert result.exit_code == 3
    assert "Permissions: public_profile" in result.stdout
    assert "lacks ads_management" in result.stderr


def test_status_refuses_a_world_readable_credentials_file(config: Path) -> None:
    assert run(["login", "--token-stdin"], input=TOKEN + "\n").exit_code == 0
    credentials_path().chmod(0o644)
    result = run(["status"])
    assert result.exit_code == 3
    assert f"hint: chmod 600 {credentials_path()}" in result.stderr


# ----------------------------------------------------------------- logout


def test_logout_removes_the_file_token() -> None:
    assert run(["login", "--token-stdin"], input=TOKEN + "\n").exit_code == 0
    result = run(["logout"])
    assert result.exit_code == 0
    assert f"Removed the stored token from {credentials_path()}." in result.stdout
    assert not credentials_path().exists()
    assert run(["status"]).exit_code == 3


def test_logout_removes_the_keyring_token(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password(KEYRING_SERVICE, KEYRING_USER, TOKEN)
    result = run(["logout"])
    assert result.exit_code == 0
    assert "Removed the stored token from the OS keyring." in result.stdout
    assert memory_keyring.store == {}


def test_logout_with_nothing_stored_says_so_and_notes_the_environment() -> None:
    result = run(["logout"], env={"FBOCLI_ACCESS_TOKEN": TOKEN})
    assert result.exit_code == 0
    assert "No stored token found." in result.stdout
    assert "$FBOCLI_ACCESS_TOKEN is set and still applies." in result.stdout


def test_group_options_apply_to_subcommands(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text(f'[events]\n"Order Completed" = "{DS2}"\n')
    result = run(["--no-keyring", "-c", str(config), "login", "--token-stdin"], input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert f"ok      {DS2}" in result.stdout
    assert stored_file_token() == TOKEN and keyring_token(memory_keyring) is None
