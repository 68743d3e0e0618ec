"""Tokens and app secrets as people paste them (issue 19, item 3).

Only visible ASCII is a token: leading and trailing whitespace and zero-width characters
(a pasted U+200B, a BOM) are removed with a warning, anything else is refused with exit 3
and without echoing the value, before any request is made. And whatever escapes a
command, the one boundary turns it into a line on stderr with every secret masked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from fbocli.cli import main
from fbocli.errors import AuthError
from fbocli.secret import Secret, redact
from tests.fakegraph import FakeGraph
from tests.helpers import (
    APP_SECRET,
    TOKEN,
    cli_env,
    event_requests,
    invoke,
    run_cli,
    upload_args,
    write_config,
    write_events,
)

# The keyring is the headless server's stub in every test here, so what `auth login`
# stores goes to the test's credentials file, never to a process-wide keyring that a
# later test would find a token in.
pytestmark = pytest.mark.usefixtures("no_keyring")

# Forms refused: each would reach a header or a URL in a broken or dangerous way.
REFUSED = {
    "newline inside": TOKEN[:10] + "\n" + TOKEN[10:],
    "line break at the end, then more": TOKEN + "\nEAAsecond",
    "space inside": TOKEN[:10] + " " + TOKEN[10:],
    "tab inside": TOKEN[:10] + "\t" + TOKEN[10:],
    "NUL": TOKEN + "\0",
    "DEL": TOKEN[:5] + "\x7f" + TOKEN[5:],
    "accented letter": TOKEN[:5] + "é" + TOKEN[5:],
    "right-to-left mark": TOKEN[:5] + "\u200f" + TOKEN[5:],
    "full-width letter": TOKEN[:5] + "Ｅ" + TOKEN[5:],
}
# Forms cleaned (with a warning): what a copy and paste adds around a token.
CLEANED = {
    "spaces around": f"  {TOKEN}  ",
    "zero-width space after": TOKEN + "\u200b",
    "BOM before": "\ufeff" + TOKEN,
    "zero-width joiner inside": TOKEN[:8] + "\u200d" + TOKEN[8:],
    "word joiner and CRLF": "\u2060" + TOKEN + "\r\n",
}


def pieces(value: str) -> list[str]:
    """Stretches of a token long enough to recognise: none may be shown."""
    return [value[i : i + 8] for i in range(0, len(value) - 7, 4)]


def assert_not_shown(text: str, value: str) -> None:
    """Neither a traceback nor any stretch of the token (every form here holds it)."""
    assert "Traceback" not in text
    for piece in pieces(TOKEN):
        assert piece not in text, (piece, value)


@pytest.fixture
def world(tmp_path: Path, fake: FakeGraph) -> dict[str, Path]:
    write_events(tmp_path / "in.jsonl", 3)
    config = write_config(tmp_path / "fbocli.toml")
    return {"input": tmp_path / "in.jsonl", "config": config, "state": tmp_path / "state"}


def _env(fake: FakeGraph, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**cli_env(tmp_path, fake.url), **extra}


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("form", sorted(REFUSED))
def test_a_token_with_an_invisible_or_foreign_character_is_refused_without_echo(
    form: str,
) -> None:
    value = REFUSED[form]
    with pytest.raises(AuthError) as refused:
        Secret(value)
    assert refused.value.exit_status == 3
    assert_not_shown(str(refused.value) + str(refused.value.hint), value)
    assert "position" in refused.value.message


@pytest.mark.parametrize("form", sorted(CLEANED))
def test_whitespace_and_zero_width_characters_around_a_token_are_removed(form: str) -> None:
    secret = Secret(CLEANED[form])
    assert secret.reveal() == TOKEN
    assert secret.stripped  # the caller warns
    note = secret.cleanup_note("$FBOCLI_ACCESS_TOKEN")
    assert note is not None and "$FBOCLI_ACCESS_TOKEN" in note
    assert_not_shown(note, TOKEN)


def test_a_clean_token_needs_no_warning() -> None:
    secret = Secret(TOKEN)
    assert not secret.stripped and secret.cleanup_note("the token") is None


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize("form", sorted(REFUSED))
def test_upload_status_and_quality_refuse_a_bad_token_with_exit_3_before_any_request(
    form: str, world: dict[str, Path], fake: FakeGraph, tmp_path: Path
) -> None:
    value = REFUSED[form]
    if "\0" in value:
        pytest.skip("an environment variable cannot hold NUL")
    env = _env(fake, tmp_path, FBOCLI_ACCESS_TOKEN=value)
    runs = {
        "upload": invoke(upload_args(world["input"], world["config"]), world["state"], env=env),
        "status": invoke(["auth", "status", "-c", str(world["config"])], env=env),
        "quality": invoke(["quality", "-c", str(world["config"])], env=env),
    }
    for name, result in runs.items():
        assert result.exit_code == 3, (name, result.output)
        assert isinstance(result.exception, SystemExit), (name, result.exception)
        assert "fbocli: error: " in result.stderr, name
        assert "FBOCLI_ACCESS_TOKEN" in result.stderr, name
        assert_not_shown(result.stdout + result.stderr, value)
    assert fake.requests == []


@pytest.mark.parametrize("form", sorted(REFUSED))
def test_login_refuses_a_bad_token_from_stdin_and_stores_nothing(
    form: str, world: dict[str, Path], fake: FakeGraph, tmp_path: Path
) -> None:
    value = REFUSED[form]
    if "\n" in value:  # the line read from stdin ends at the first line break
        value = value.replace("\n", "\x0b")
    env = _env(fake, tmp_path, XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    result = invoke(["auth", "login", "--token-stdin"], input=value + "\n", env=env)
    assert result.exit_code == 3, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert_not_shown(result.stdout + result.stderr, value)
    assert not (tmp_path / "cfg").exists()
    assert fake.requests == []


@pytest.mark.parametrize("form", sorted(CLEANED))
def test_upload_cleans_a_pasted_token_warns_and_sends_only_the_clean_one(
    form: str, world: dict[str, Path], fake: FakeGraph, tmp_path: Path
) -> None:
    env = _env(fake, tmp_path, FBOCLI_ACCESS_TOKEN=CLEANED[form])
    result = invoke(upload_args(world["input"], world["config"]), world["state"], env=env)
    assert result.exit_code == 0, result.output
    assert "fbocli: warning: " in result.stderr and "removed" in result.stderr
    sent = {r["headers"]["authorization"] for r in event_requests(fake)}
    assert sent == {f"Bearer {TOKEN}"}


def test_login_with_a_zero_width_space_stores_the_clean_token(
    fake: FakeGraph, tmp_path: Path
) -> None:
    """The paste that gave a UnicodeEncodeError traceback in `auth login`."""
    env = _env(fake, tmp_path, XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    pasted = TOKEN[:3] + "\u200b" + TOKEN[3:] + "\u200b"
    result = invoke(["auth", "login", "--token-stdin"], input=pasted + "\n", env=env)
    assert result.exit_code == 0, result.output
    assert "removed" in result.stderr
    stored = (tmp_path / "cfg" / "fbocli" / "credentials.toml").read_text("utf-8")
    assert f'"{TOKEN}"' in stored and "\u200b" not in stored


def test_a_bad_app_secret_is_refused_too(
    world: dict[str, Path], fake: FakeGraph, tmp_path: Path
) -> None:
    bad = APP_SECRET[:6] + "\n" + APP_SECRET[6:]
    env = _env(fake, tmp_path, FBOCLI_APP_SECRET=bad)
    result = invoke(upload_args(world["input"], world["config"]), world["state"], env=env)
    assert result.exit_code == 3, result.output
    assert "FBOCLI_APP_SECRET" in result.stderr
    assert APP_SECRET[6:14] not in result.output and fake.requests == []


@pytest.mark.slow
def test_as_a_process_a_newline_token_gives_one_line_and_no_traceback(
    world: dict[str, Path], fake: FakeGraph, tmp_path: Path
) -> None:
    """The reports of the issue: `auth status` and `auth login` printed the token in a
    traceback, `upload` cut it into the summary."""
    bad = REFUSED["newline inside"]
    env = _env(fake, tmp_path, FBOCLI_ACCESS_TOKEN=bad)
    status = run_cli(["auth", "status", "-c", str(world["config"])], env)
    up = run_cli(upload_args(world["input"], world["config"], "-q"), env)
    login = run_cli(
        ["auth", "login", "--token-stdin"],
        {**env, "FBOCLI_ACCESS_TOKEN": ""},
        input=TOKEN[:3] + "\u200b\u00e9" + TOKEN[3:] + "\n",
    )
    for run in (status, up, login):
        assert run.code == 3, run.stderr
        assert run.stderr.startswith("fbocli: error: "), run.stderr
        assert_not_shown(run.stdout + run.stderr, bad)
    assert fake.requests == []


# --------------------------------------------------------------------------- the boundary


@pytest.fixture
def broken_command() -> Iterator[str]:
    """A command that fails the way a bug would: an exception that is no FbocliError,
    its text holding the token."""
    Secret(TOKEN)  # a secret this process knows, as any command that read one does

    @click.command("explode-for-test")
    def explode() -> None:
        raise ValueError(f"Invalid header value b'Bearer {TOKEN}\\n'; token={TOKEN}")

    main.add_command(explode)
    try:
        yield "explode-for-test"
    finally:
        main.commands.pop("explode-for-test", None)


def test_an_unexpected_exception_is_one_redacted_line_and_exit_1(broken_command: str) -> None:
    result = invoke([broken_command])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("fbocli: error: internal error: ValueError")
    assert TOKEN not in result.output and "Traceback" not in result.output


def test_redact_masks_every_secret_the_process_made() -> None:
    other = "EAAanother-secret-value-42"
    Secret(other)
    text = f"first {TOKEN} then {other}"
    masked = redact(text)
    assert TOKEN not in masked and other not in masked and masked.count("****") == 2


def test_a_bad_stored_token_is_refused_naming_the_file_and_login_replaces_it(
    world: dict[str, Path], fake: FakeGraph, tmp_path: Path
) -> None:
    """A credentials file written by hand with a line break in the token."""
    folder = tmp_path / "cfg" / "fbocli"
    folder.mkdir(parents=True, mode=0o700)
    stored = folder / "credentials.toml"
    stored.write_text(f'access_token = "{TOKEN[:12]}\\n{TOKEN[12:]}"\n', encoding="utf-8")
    stored.chmod(0o600)
    env = _env(fake, tmp_path, XDG_CONFIG_HOME=str(tmp_path / "cfg"), FBOCLI_ACCESS_TOKEN="")
    refused = invoke(upload_args(world["input"], world["config"]), world["state"], env=env)
    assert refused.exit_code == 3, refused.output
    assert str(stored) in refused.stderr and "a line break at position 13" in refused.stderr
    assert_not_shown(refused.output, TOKEN)
    login = invoke(["auth", "login", "--token-stdin"], input=TOKEN + "\n", env=env)
    assert login.exit_code == 0, login.output
    again = invoke(upload_args(world["input"], world["config"]), world["state"], env=env)
    assert again.exit_code == 0, again.output
