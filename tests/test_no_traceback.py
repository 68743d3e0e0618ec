"""Every command against every failure class (issue 19, item 3): never a traceback, never
the token, and whenever the exit code is not 0, stderr says why.

The failure classes: tokens as people mangle them, a server that errs, one that cannot
be reached, one that answers garbage (cut short, redirects), a configuration that is
not one, and input that is not there or not text. In-process (click's runner): an
exception that escaped the boundary would be ``result.exception``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import badserver
from tests.badserver import BadServer
from tests.fakegraph import FakeGraph, Fault
from tests.helpers import TOKEN, cli_env, fake_graph, invoke, write_config, write_events


@dataclass
class World:
    """One failure class set up: what the commands run with."""

    tmp: Path
    url: str
    token: str = TOKEN
    config: Path = field(default_factory=Path)
    input: Path = field(default_factory=Path)

    @property
    def env(self) -> dict[str, str]:
        return cli_env(self.tmp, self.url, token=self.token)


Setup = Callable[[World, FakeGraph, BadServer], None]


def _token(value: str) -> Setup:
    def setup(world: World, fake: FakeGraph, bad: BadServer) -> None:
        world.token = value

    return setup


def _server_errors(world: World, fake: FakeGraph, bad: BadServer) -> None:
    fake.inject(Fault.error(500, 1), times=10**6, path_suffix="")


def _unreachable(world: World, fake: FakeGraph, bad: BadServer) -> None:
    world.url = "http://127.0.0.1:9"  # discard: nothing listens


def _garbage(reply: badserver.Reply) -> Setup:
    def setup(world: World, fake: FakeGraph, bad: BadServer) -> None:
        bad.inject(reply, times=10**6, path_suffix="")
        world.url = bad.url

    return setup


def _bad_config(world: World, fake: FakeGraph, bad: BadServer) -> None:
    world.config.write_text('[upload\nworkers = "many"\n', encoding="utf-8")


def _missing_input(world: World, fake: FakeGraph, bad: BadServer) -> None:
    world.input.unlink()


def _binary_input(world: World, fake: FakeGraph, bad: BadServer) -> None:
    world.input.write_bytes(b"\x00\xff\xfe" * 1000 + b"\n{\x80}\n")


CLASSES: dict[str, Setup] = {
    "token with a newline": _token(TOKEN[:10] + "\n" + TOKEN[10:]),
    "token with a non-ASCII letter": _token(TOKEN[:5] + "é" + TOKEN[5:]),
    "token with a zero-width space": _token(TOKEN + "\u200b"),
    "token with a control character": _token(TOKEN[:7] + "\x1b" + TOKEN[7:]),
    "server errors": _server_errors,
    "unreachable server": _unreachable,
    "answers cut short": _garbage(badserver.truncated()),
    "redirects": _garbage(badserver.redirect(f"https://x.example/?access_token={TOKEN}")),
    "HTML error pages": _garbage(badserver.canned(502, b"<html>Bad gateway</html>")),
    "bad config": _bad_config,
    "missing input": _missing_input,
    "binary input": _binary_input,
}

COMMANDS: dict[str, Callable[[World], tuple[list[str], str | None]]] = {
    "validate": lambda w: (["validate", str(w.input), "-c", str(w.config)], None),
    "upload": lambda w: (["upload", str(w.input), "-c", str(w.config)], None),
    "upload -q": lambda w: (["upload", "-q", str(w.input), "-c", str(w.config)], None),
    "upload --dry-run": lambda w: (
        ["upload", str(w.input), "-c", str(w.config), "--dry-run", "--output", str(w.tmp / "o")],
        None,
    ),
    "auth login": lambda w: (["auth", "login", "--token-stdin"], w.token + "\n"),
    "auth status": lambda w: (["auth", "status", "-c", str(w.config)], None),
    "auth logout": lambda w: (["auth", "logout"], None),
    "runs": lambda w: (["runs"], None),
    "quality": lambda w: (["quality", "-c", str(w.config)], None),
    "init": lambda w: (["init", str(w.tmp / "new.toml")], None),
}


@pytest.fixture
def servers() -> Iterator[tuple[FakeGraph, BadServer]]:
    with fake_graph() as fake, BadServer(upstream=fake.url) as bad:
        yield fake, bad


def _pieces(value: str) -> list[str]:
    return [value[i : i + 8] for i in range(0, len(value) - 7, 4)]


@pytest.mark.usefixtures("no_keyring")  # what login stores goes to the test's file
@pytest.mark.parametrize("failure", sorted(CLASSES))
def test_no_command_shows_a_traceback_or_the_token(
    failure: str, tmp_path: Path, servers: tuple[FakeGraph, BadServer]
) -> None:
    fake, bad = servers
    problems: list[str] = []
    for name, command in COMMANDS.items():
        tmp = tmp_path / name.replace(" ", "_")
        tmp.mkdir()
        world = World(tmp, fake.url)
        world.config = write_config(tmp / "fbocli.toml", upload="max_retries = 2")
        world.input = tmp / "in.jsonl"
        write_events(world.input, 3)
        CLASSES[failure](world, fake, bad)
        args, stdin = command(world)
        state = tmp / "state" if args[0] in ("validate", "upload") else None
        env = {**world.env, "XDG_CONFIG_HOME": str(tmp / "cfg")}
        result = invoke(args, state, env=env, input=stdin)
        shown = result.stdout + result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            problems.append(f"{name}: escaped {result.exception!r}")
        if "Traceback" in shown:
            problems.append(f"{name}: traceback")
        if any(piece in shown for piece in _pieces(TOKEN)):
            problems.append(f"{name}: the token is shown")
        if result.exit_code != 0 and not result.stderr.strip():
            problems.append(f"{name}: exit {result.exit_code} with nothing on stderr")
    assert problems == []
