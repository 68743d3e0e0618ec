"""Security, end to end: the token never leaks, no plaintext PII leaves, HTTPS is enforced.

Every command runs as a real subprocess against the fake Graph API with a recognisable
token; then every output and every file fbocli wrote is searched for it. Request bodies
as Meta received them are searched for the input's personal data, and the journal is
dumped row by row.
"""

from __future__ import annotations

import http.server
import json
import re
import sqlite3
import ssl
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from fbocli.graph import GraphClient
from fbocli.secret import Secret
from tests.fakegraph import FakeGraph, Fault, _Answer
from tests.helpers import APP_SECRET, NOW, NOW_TS, ROOT, Run, cli_env, run_cli, upload_args

pytestmark = pytest.mark.slow  # every command as a process, a TLS server

TOKEN = "EAAGfbocliLEAKCHECK1234567890"
DS = "1234567890123456"
PII = {  # raw values of the input; none may leave the machine in plaintext
    "email": "Leak.Person@example.org",
    "phone": "(401) 555-0199",
    "first": "Zebediah",
    "last": "Quixotic",
    "city": "Xanadu Springs",
    "user": "user-raw-77",
    "prop_email": "prop.only@example.net",
    "prop_phone": "+44 20 7946 0999",
}
CHOSEN = "Xanadu Springs"  # also sent on purpose, by the user, as custom_data.store_city


class RecordingGraph(FakeGraph):
    """The fake, also keeping every raw request (target, headers, body) as received."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.raw: list[tuple[str, dict[str, str], bytes]] = []

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client: str = ""
    ) -> _Answer | None:
        self.raw.append((target, dict(headers), body))
        return super().handle(method, target, headers, body, client)


def _messages() -> list[dict[str, Any]]:
    traits = {
        "email": PII["email"],
        "phone": PII["phone"],
        "firstName": PII["first"],
        "lastName": PII["last"],
        "address": {"city": PII["city"], "postalCode": "02818", "country": "US"},
    }
    base = {"event": "Order Completed", "timestamp": "2026-11-19T10:00:00Z"}
    return [
        {
            **base,
            "messageId": "s1",
            "userId": PII["user"],
            "context": {"traits": traits},
            "properties": {"revenue": 10, "store_city": CHOSEN},
        },
        {
            **base,
            "messageId": "s2",
            "properties": {"revenue": 5, "email": PII["prop_email"], "phone": PII["prop_phone"]},
        },
        {
            **base,
            "messageId": "s3-bad",
            "context": {"traits": traits},
            "properties": {"revenue": 7},
        },
        {
            **base,
            "messageId": "s4-old",
            "timestamp": "2020-01-01T00:00:00Z",
            "context": {"traits": traits},
            "properties": {"revenue": 1},
        },
    ]


@pytest.fixture
def fake() -> Iterator[RecordingGraph]:
    graph = RecordingGraph(tokens=[TOKEN], datasets=[DS], now=NOW_TS)
    graph.reject_events(lambda e: "Invalid parameter" if e.get("event_id") == "s3-bad" else None)
    with graph:
        yield graph


@pytest.fixture
def world(fake: RecordingGraph, tmp_path: Path) -> dict[str, Path]:
    paths = {
        "home": tmp_path,
        "input": tmp_path / "in" / "export.jsonl",
        "config": tmp_path / "fbocli.toml",
        "state": tmp_path / "state",
        "xdg": tmp_path / "xdg-config",
        "cwd": tmp_path / "cwd",
        "output": tmp_path / "out" / "requests.jsonl",
    }
    paths["input"].parent.mkdir()
    paths["cwd"].mkdir()
    paths["input"].write_text("".join(json.dumps(m) + "\n" for m in _messages()))
    paths["config"].write_text(f'[events]\n"Order Completed" = "{DS}"\n')
    return paths


def _env(fake: FakeGraph, world: dict[str, Path], **extra: str) -> dict[str, str]:
    """A clean environment under the world's home; $FBOCLI_ACCESS_TOKEN only if given."""
    env = cli_env(world["home"], fake.url, **extra)
    assert (world["state"], world["xdg"]) == (
        Path(env["FBOCLI_STATE_DIR"]),
        Path(env["XDG_CONFIG_HOME"]),
    )
    if "FBOCLI_ACCESS_TOKEN" not in extra:
        del env["FBOCLI_ACCESS_TOKEN"]
    return env


def _credentials(world: dict[str, Path]) -> Path:
    return world["xdg"] / "fbocli" / "credentials.toml"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_every_command_keeps_the_token_secret(fake: RecordingGraph, world: dict[str, Path]) -> None:
    env, cwd = _env(fake, world), world["cwd"]
    run_args = [str(world["input"]), "-c", str(world["config"]), "--now", NOW]
    runs: list[tuple[str, Run]] = []

    def step(
        name: str, args: list[str], code: int, *, stdin: str | None = None, **extra: str
    ) -> Run:
        result = run_cli(args, {**env, **extra}, cwd=cwd, input=stdin)
        assert result.code == code, (name, result.stdout, result.stderr)
        runs.append((name, result))
        return result

    step(
        "login",
        ["auth", "login", "--token-stdin", "-c", str(world["config"])],
        0,
        stdin=TOKEN + "\n",
    )
    creds = _credentials(world)
    assert TOKEN in creds.read_text()  # the one place allowed to hold it ...
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600  # ... private
    status = step("status", ["auth", "status", "-c", str(world["config"])], 0)
    assert TOKEN[-4:] in status.stdout
    step("status-json", ["auth", "status", "--json", "-c", str(world["config"])], 0)
    step("validate", ["validate", *run_args], 1)
    step("dry-run", ["upload", "--dry-run", "--output", str(world["output"]), *run_args], 0)
    step("upload-bad-event", ["upload", *run_args], 1)
    step("quality", ["quality", "-c", str(world["config"]), "--now", NOW], 0)
    step("quality-json", ["quality", "--json", "-c", str(world["config"]), "--now", NOW], 0)
    fake.inject(Fault.error(401, code=190, message="Error validating access token"))
    step("upload-190", ["upload", "--force", *run_args], 3)
    step(
        "upload-env-token", ["upload", "--force", "--json", *run_args], 1, FBOCLI_ACCESS_TOKEN=TOKEN
    )
    step("upload-bad-token", ["upload", "--force", *run_args], 3, FBOCLI_ACCESS_TOKEN=TOKEN + "x")
    step("logout", ["auth", "logout"], 0)
    assert not creds.exists()
    step("status-after-logout", ["auth", "status"], 3)

    for name, result in runs:
        for text in (result.stdout, result.stderr):
            assert TOKEN not in text, name
            assert "Traceback" not in text, name
    written = _files(world["home"])
    assert any(p.name.startswith("rejects") for p in written)  # rejects were written
    assert world["output"].exists()
    assert (world["state"] / "journal.sqlite3").exists()
    for path in written:  # journal (+WAL), lock, rejects, dry-run output, config ...
        assert TOKEN.encode() not in path.read_bytes(), path
    for target, headers, body in fake.raw:  # the token travels only in the header ...
        assert TOKEN not in _url_without_input_token(target) and TOKEN.encode() not in body
        assert headers.get("authorization") in (None, f"Bearer {TOKEN}", f"Bearer {TOKEN}x")


def _url_without_input_token(target: str) -> str:
    """... and as `debug_token`'s input_token, where Meta's API wants it (token doctor)."""
    url = urlsplit(target)
    if not url.path.endswith("/debug_token"):
        return target
    query = {k: v for k, v in parse_qs(url.query).items() if k != "input_token"}
    return f"{url.path}?{query}"


def test_the_app_secret_never_leaves_the_credential_store(
    fake: RecordingGraph, world: dict[str, Path]
) -> None:
    """An app that requires appsecret_proof: every command with the secret stored by
    `auth login`, or in $FBOCLI_APP_SECRET, or wrong; the secret shows nowhere but in the
    0600 credentials file, and never travels (only its proof does)."""
    fake.require_app_secret(APP_SECRET)
    env, cwd = _env(fake, world), world["cwd"]
    config = str(world["config"])
    run_args = [str(world["input"]), "-c", config, "--now", NOW]
    runs: list[tuple[str, Run]] = []

    def step(name: str, args: list[str], code: int, *, stdin: str | None = None,
             **extra: str) -> Run:  # fmt: skip
        result = run_cli(args, {**env, **extra}, cwd=cwd, input=stdin)
        assert result.code == code, (name, result.stdout, result.stderr)
        runs.append((name, result))
        return result

    login = ["auth", "login", "--token-stdin", "--app-secret-stdin", "-c", config]
    step("login", login, 0, stdin=f"{TOKEN}\n{APP_SECRET}\n")
    creds = _credentials(world)
    assert APP_SECRET in creds.read_text() and stat.S_IMODE(creds.stat().st_mode) == 0o600
    step("status", ["auth", "status", "-c", config], 0)
    step("status-json", ["auth", "status", "--json", "-c", config], 0)
    step("validate", ["validate", *run_args], 1)
    step("dry-run", ["upload", "--dry-run", "--output", str(world["output"]), *run_args], 0)
    step("upload", ["upload", *run_args], 1)  # one event is refused by Meta: api_rejected
    step("quality", ["quality", "-c", config, "--now", NOW, "--json"], 0)
    step("logout", ["auth", "logout"], 0)
    step("upload-env", ["upload", "--force", *run_args], 1, FBOCLI_ACCESS_TOKEN=TOKEN,
         FBOCLI_APP_SECRET=APP_SECRET)  # fmt: skip
    step("upload-without", ["upload", "--force", *run_args], 3, FBOCLI_ACCESS_TOKEN=TOKEN)
    step("upload-wrong", ["upload", "--force", *run_args], 3, FBOCLI_ACCESS_TOKEN=TOKEN,
         FBOCLI_APP_SECRET=APP_SECRET[::-1])  # fmt: skip
    assert fake.count() == 4  # two uploads that went through, two events each

    for name, result in runs:
        for text in (result.stdout, result.stderr):
            assert APP_SECRET not in text and APP_SECRET[::-1] not in text, name
            assert TOKEN not in text and "Traceback" not in text, name
    assert "appsecret_proof" in runs[-2][1].stderr  # the one without says why
    for path in _files(world["home"]):  # the credentials file is gone (logout)
        assert APP_SECRET.encode() not in path.read_bytes(), path
    for target, headers, body in fake.raw:
        assert APP_SECRET not in target + str(headers) and APP_SECRET.encode() not in body


def test_a_looser_credentials_file_is_refused(fake: RecordingGraph, world: dict[str, Path]) -> None:
    env, cwd = _env(fake, world), world["cwd"]
    login = run_cli(["auth", "login", "--token-stdin"], env, cwd=cwd, input=TOKEN + "\n")
    assert login.code == 0, login.stderr
    creds = _credentials(world)
    before = len(fake.raw)
    for mode in (0o644, 0o660):
        creds.chmod(mode)
        status = run_cli(["auth", "status"], env, cwd=cwd)
        assert status.code == 3 and "refusing to read" in status.stderr, status.stderr
        upload = run_cli(upload_args(world["input"], world["config"]), env, cwd=cwd)
        assert upload.code == 3 and "chmod 600" in upload.stderr, upload.stderr
        assert TOKEN not in status.stdout + status.stderr + upload.stdout + upload.stderr
    assert len(fake.raw) == before  # nothing was sent with a possibly tampered token


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path)
    else:
        yield path, value


def test_no_plaintext_pii_in_requests_or_journal(
    fake: RecordingGraph, world: dict[str, Path]
) -> None:
    env = _env(fake, world, FBOCLI_ACCESS_TOKEN=TOKEN)
    result = run_cli(upload_args(world["input"], world["config"]), env, cwd=world["cwd"])
    assert result.code == 1, result.stderr  # the bad event is api_rejected
    assert fake.count() == 2
    needles = {v.lower() for v in PII.values()} | {"4015550199", "zebediah", "xanadu"}
    events = [e for bodies in fake.received.values() for e in bodies]
    assert {e["event_id"] for e in events} == {"s1", "s2"}
    for _, _, body in fake.raw:
        doc = json.loads(body) if body else {}
        for path, value in _walk(doc):
            assert not re.search(r"e-?mail|phone", path.split(".")[-1], re.I), path
            text = str(value).lower()
            leaked = [n for n in needles if n in text]
            if leaked:  # only the custom_data field the user chose may carry one
                assert path == "data.custom_data.store_city" and value == CHOSEN, path
        raw = body.decode().lower()
        for needle in needles - {CHOSEN.lower(), "xanadu"}:
            assert needle not in raw

    conn = sqlite3.connect(world["state"] / "journal.sqlite3")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [row for t in tables for row in conn.execute(f'SELECT * FROM "{t}"')]
    finally:
        conn.close()
    assert rows
    hashed = {v for e in events for _, v in _walk(e.get("user_data", {})) if isinstance(v, str)}
    for row in rows:
        for cell in row:
            text = str(cell).lower()
            assert not any(n in text for n in needles), row
            assert str(cell) not in hashed, row  # not even the hashes of match keys


def test_paths_cannot_make_fbocli_write_elsewhere(
    fake: RecordingGraph, world: dict[str, Path]
) -> None:
    """Odd input names, `..` and a hostile upload_tag: files appear only where named."""
    home = world["home"]
    odd = home / "in" / "..\u202eevil name;rm -rf $HOME.jsonl"
    odd.write_bytes(world["input"].read_bytes())
    config = home / "odd.toml"
    config.write_text(
        f'[destination]\nupload_tag = "../../../../tmp/fbocli-escape"\n'
        f'[events]\n"Order Completed" = "{DS}"\n'
    )
    sneaky_input = str(home / "in" / ".." / "in" / odd.name)
    before = set(_files(home))
    env = _env(fake, world, FBOCLI_ACCESS_TOKEN=TOKEN)
    rejects = home / "chosen" / "rejects.jsonl"
    output = home / "chosen" / "requests.jsonl"
    common = [sneaky_input, "-c", str(config), "--now", NOW]
    runs = [
        ["validate", *common],
        ["upload", "--dry-run", "--output", str(output), "--rejects", str(rejects), *common],
        ["upload", *common],
    ]
    for args in runs:
        result = run_cli(args, env, cwd=world["cwd"])
        assert result.code in (0, 1), result.stderr
    allowed = (world["state"], home / "chosen")
    for path in set(_files(home)) - before:
        assert any(path.is_relative_to(root) for root in allowed), path
    assert not Path("/tmp/fbocli-escape").exists()
    assert list(world["cwd"].iterdir()) == []


@pytest.mark.parametrize(
    "where",
    ["config", "env"],
)
def test_plain_http_to_a_remote_host_is_refused(
    where: str, fake: RecordingGraph, world: dict[str, Path]
) -> None:
    url = "http://graph.facebook.com"
    env = _env(fake, world, FBOCLI_ACCESS_TOKEN=TOKEN)
    if where == "config":
        world["config"].write_text(
            f'[destination]\ngraph_url = "{url}"\n[events]\n"Order Completed" = "{DS}"\n'
        )
        env.pop("FBOCLI_GRAPH_URL")
    else:
        env["FBOCLI_GRAPH_URL"] = "http://10.20.30.40:8080"
    result = run_cli(upload_args(world["input"], world["config"]), env, cwd=world["cwd"])
    assert result.code == 2, result.stderr
    assert "https" in result.stderr
    assert fake.raw == []


def test_tls_verification_is_on_and_not_switched_off_by_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "")
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    client = GraphClient(
        graph_url="https://graph.facebook.com", api_version="v24.0", token=Secret(TOKEN)
    )
    try:
        session = client._session
        assert session.verify is True
        merged = session.merge_environment_settings(
            "https://graph.facebook.com/v24.0/me", {}, None, None, None
        )
        assert merged["verify"] is True
        assert TOKEN not in repr(client)
    finally:
        client.close()
    for source in (ROOT / "fbocli").rglob("*.py"):
        text = source.read_text()
        for pattern in (
            r"verify\s*=\s*False",
            r"CERT_NONE",
            r"check_hostname\s*=\s*False",
            r"disable_warnings",
            r"\.verify\s*=",
            r"PYTHONHTTPSVERIFY",
        ):
            assert not re.search(pattern, text), (source, pattern)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


def test_a_self_signed_https_endpoint_is_refused(
    tmp_path: Path, fake: RecordingGraph, world: dict[str, Path]
) -> None:
    """A real TLS server with an untrusted certificate: fbocli must not talk to it."""
    try:
        key, cert = _self_signed(tmp_path)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl is not available")
    served: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"id": "1", "name": "x", "data": []}')

        do_POST = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = _env(
            fake,
            world,
            FBOCLI_ACCESS_TOKEN=TOKEN,
            FBOCLI_GRAPH_URL=f"https://127.0.0.1:{server.server_address[1]}",
        )
        up = run_cli(upload_args(world["input"], world["config"], "--json"), env, cwd=world["cwd"])
        status = run_cli(["auth", "status"], env, cwd=world["cwd"])
    finally:
        server.shutdown()
        server.server_close()
    assert served == []  # not one request got through the TLS handshake
    assert up.code == 1 and up.summary["events"]["sent"] == 0, up.stderr
    assert status.code != 0
    assert "CERTIFICATE_VERIFY_FAILED" in status.stderr or "certificate" in status.stderr.lower()
    for text in (up.stdout, up.stderr, status.stdout, status.stderr):
        assert TOKEN not in text


def test_auth_without_a_config_refuses_plain_http_too(
    fake: RecordingGraph, world: dict[str, Path]
) -> None:
    """`fbocli auth` with no config takes $FBOCLI_GRAPH_URL alone: same https rule."""
    env = _env(fake, world)
    env["FBOCLI_GRAPH_URL"] = "http://10.20.30.40:8080"
    result = run_cli(["auth", "login", "--token-stdin"], env, cwd=world["cwd"], input=TOKEN + "\n")
    assert result.code == 2, result.stderr
    assert "https" in result.stderr and TOKEN not in result.stderr + result.stdout
