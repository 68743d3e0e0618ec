"""The network misbehaving (issue 19, items 4 to 7 and 11): proxies, URLs that parse two
ways, trickling and truncated answers, huge answers, body and header limits in front of
Meta, redirects, bisection on errors that are not about one event, and a clock that
disagrees with Meta's.

Real sockets throughout: the fake Graph API, and tests/badserver.py in front of it for
what the fake cannot do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fbocli
from fbocli.config import parse_settings
from fbocli.errors import ConfigError
from fbocli.settings import Destination, Settings
from tests import badserver
from tests.badserver import BadServer, RecordingProxy
from tests.fakegraph import FakeGraph, Fault
from tests.helpers import (
    DS1,
    NOW_TS,
    check_summary,
    cli_env,
    event_requests,
    fake_graph,
    invoke,
    summary,
    upload_args,
    write_config,
    write_events,
    write_jsonl,
)


@pytest.fixture
def bad(fake: FakeGraph) -> Iterator[BadServer]:
    """A misbehaving server in front of the fake (healthy once its faults are spent)."""
    with BadServer(upstream=fake.url) as server:
        yield server


def _upload(tmp_path: Path, url: str, n: int = 3, *extra: str, upload: str = "", **env: str) -> Any:
    write_events(tmp_path / "in.jsonl", n)
    config = write_config(
        tmp_path / "fbocli.toml", routes=f'"Order Completed" = ["{DS1}"]', upload=upload
    )
    args = upload_args(tmp_path / "in.jsonl", config, "--json", *extra)
    return invoke(args, tmp_path / "state", env={**cli_env(tmp_path, url), **env})


def _events(result: Any) -> dict[str, int]:
    return dict(check_summary(summary(result))["events"])


# --------------------------------------------------------------------------- item 4: http


def test_plain_http_to_loopback_never_goes_through_a_proxy(tmp_path: Path, fake: FakeGraph) -> None:
    """HTTP_PROXY got the token and every body in clear text, and its answer counted as
    Meta's."""
    with RecordingProxy() as proxy:
        proxies = {
            name: proxy.url for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
        }
        result = _upload(tmp_path, fake.url, 3, NO_PROXY="", no_proxy="", **proxies)
    assert result.exit_code == 0, result.output
    assert proxy.requests == []
    assert _events(result)["sent"] == 3 and fake.count() == 3


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://graph.example.com\\@127.0.0.1:9", "user name or password"),
        ("http://127.0.0.1:9\\graph.example.com", "backslash"),
        ("http://user:hunter2secret@127.0.0.1:9", "user name or password"),
        ("https://user@graph.facebook.com", "user name or password"),
        ("https://graph.facebook.com/#frag", "fragment"),
        ("https://graph.facebook.com/?x=1", "query"),
        ("http://10.0.0.1:8080", "loopback"),
        ("http://127.0.0.1:9 /x", "visible ASCII"),
    ],
)
def test_graph_url_is_checked_by_the_parser_that_connects(
    url: str, words: str, tmp_path: Path
) -> None:
    """``http://HOST\\@127.0.0.1`` passed the loopback check (urlsplit) while urllib3
    connected to HOST; userinfo went into the dry-run url."""
    path = tmp_path / "fbocli.toml"
    path.write_text(f"[destination]\ngraph_url = {url!r}\n[events]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        fbocli.load_config(path)
    text = str(refused.value)
    assert "graph_url" in text and words in text and str(path) in text
    assert "hunter2secret" not in text
    with pytest.raises(ConfigError) as from_env:
        parse_settings({}, graph_url=url)
    assert "$FBOCLI_GRAPH_URL" in str(from_env.value) and "hunter2secret" not in str(from_env.value)


def test_loopback_urls_pass() -> None:
    for url in ("http://127.0.0.1:8080/", "http://localhost:1", "http://[::1]:9", "https://x.io"):
        assert parse_settings({}, graph_url=url).destination.graph_url == url.rstrip("/")


def test_dry_run_url_never_carries_userinfo(tmp_path: Path) -> None:
    write_events(tmp_path / "in.jsonl", 2)
    config = write_config(tmp_path / "fbocli.toml")
    env = cli_env(tmp_path, "http://me:pw-secret-1@127.0.0.1:9")
    args = upload_args(tmp_path / "in.jsonl", config, "--dry-run", "--output", "-")
    result = invoke(args, tmp_path / "state", env=env)
    assert result.exit_code == 2, result.output
    assert "pw-secret-1" not in result.output and "user name or password" in result.stderr
    # Settings made by hand (the Python API) are checked as a configuration is.
    hand_made = Settings(destination=Destination(graph_url="https://me:pw-secret-1@x.io"))
    with pytest.raises(ConfigError) as refused:
        fbocli.upload([tmp_path / "in.jsonl"], hand_made, dry_run=True, state_dir=tmp_path / "s")
    assert "pw-secret-1" not in str(refused.value)


# --------------------------------------------------------------------------- item 5: deadline


@pytest.mark.parametrize(
    "in_headers",
    [pytest.param(False, marks=pytest.mark.slow), True],
    ids=["body", "headers"],
)
def test_a_trickling_answer_ends_at_the_deadline_and_is_retried(
    in_headers: bool, tmp_path: Path, bad: BadServer
) -> None:
    """Headers then a byte a second (or the headers themselves trickling) hung the run
    forever despite timeout_seconds, holding the lock."""
    bad.inject(badserver.trickle(0.2, in_headers=in_headers))
    started = time.monotonic()
    result = _upload(tmp_path, bad.url, 3, upload="timeout_seconds = 2")
    took = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert _events(result)["sent"] == 3
    assert took < 10, took  # one try of about 2 s, then the retry


@pytest.mark.slow
def test_a_trickle_that_never_ends_fails_the_batch_with_the_deadline_named(
    tmp_path: Path, bad: BadServer
) -> None:
    bad.inject(badserver.trickle(0.2), times=3)
    started = time.monotonic()
    result = _upload(tmp_path, bad.url, 2, upload="timeout_seconds = 1\nmax_retries = 3")
    assert time.monotonic() - started < 12
    assert result.exit_code == 1
    assert _events(result)["failed"] == 2
    assert "no complete response within 1 s" in result.output


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_huge_answer_is_not_read_whole(declared: bool, tmp_path: Path, bad: BadServer) -> None:
    """A 100 MB answer was read whole into memory."""
    bad.inject(badserver.huge(100 * 1024 * 1024, declared=declared))
    result = _upload(tmp_path, bad.url, 3)
    assert result.exit_code == 0, result.output
    assert _events(result)["sent"] == 3
    assert bad.sent_bytes and bad.sent_bytes[0] < 40 * 1024 * 1024, bad.sent_bytes


def test_a_huge_answer_every_time_fails_the_batch_with_its_size(
    tmp_path: Path, bad: BadServer
) -> None:
    bad.inject(badserver.huge(50 * 1024 * 1024), times=2)
    result = _upload(tmp_path, bad.url, 2, upload="max_retries = 2")
    assert result.exit_code == 1
    assert "response larger than 4 MB" in result.output


# --------------------------------------------------------------------------- item 6: cut short


@pytest.mark.parametrize(
    "reply",
    [
        badserver.truncated(),
        badserver.truncated(chunked=True),
        badserver.bad_gzip(),
    ],
    ids=["incomplete-read", "chunked-encoding", "content-decoding"],
)
def test_a_broken_answer_is_retried_like_a_reset(
    reply: badserver.Reply, tmp_path: Path, bad: BadServer
) -> None:
    """One IncompleteRead or ChunkedEncodingError stopped the run (600 of 58,345 sent)."""
    bad.inject(reply)
    result = _upload(tmp_path, bad.url, 5)
    assert result.exit_code == 0, result.output
    assert _events(result) | {"sent": 5} == _events(result)
    assert _events(result)["failed"] == 0


# --------------------------------------------------------------------------- item 11: HTTP


def test_413_splits_the_batch_until_it_passes(tmp_path: Path, bad: BadServer) -> None:
    """nginx's 1 MB default in front of Meta failed the same batches every run."""
    bad.inject(badserver.body_limit(6_000), times=10**6)
    result = _upload(tmp_path, bad.url, 40)
    assert result.exit_code == 0, result.output
    assert _events(result)["sent"] == 40
    sizes = [len(r.body) for r in bad.seen if r.target.split("?")[0].endswith("/events")]
    assert sizes[0] > 6_000 and len(sizes) > 2  # refused whole, then in parts


def test_413_for_a_single_event_fails_it_not_the_run(tmp_path: Path, bad: BadServer) -> None:
    bad.inject(badserver.body_limit(10), times=10**6)
    result = _upload(tmp_path, bad.url, 2)
    assert result.exit_code == 1
    events = _events(result)
    assert events["failed"] == 2 and events["sent"] == 0
    assert "HTTP 413" in result.output and "body size limit" in result.output


def test_431_stops_the_run_at_once(tmp_path: Path, bad: BadServer) -> None:
    bad.inject(badserver.canned(431, b"<html>431</html>"), times=10**6)
    result = _upload(tmp_path, bad.url, 3)
    assert result.exit_code == 1
    assert "HTTP 431" in result.stderr and "headers" in result.stderr
    assert len([r for r in bad.seen if r.target.split("?")[0].endswith("/events")]) == 1


def test_a_redirect_is_reported_as_one_by_host_only(tmp_path: Path, bad: BadServer) -> None:
    """It was reported as "empty response" (and retried)."""
    bad.inject(
        badserver.redirect("https://elsewhere.example.net/v1?access_token=LEAKED-VALUE-99"),
        times=10**6,
    )
    result = _upload(tmp_path, bad.url, 3)
    assert result.exit_code == 1
    assert "redirect (HTTP 301) to host elsewhere.example.net" in result.stderr
    assert "empty response" not in result.output and "LEAKED-VALUE-99" not in result.output
    assert len([r for r in bad.seen if r.target.split("?")[0].endswith("/events")]) == 1


# --------------------------------------------------------------------------- item 7: bisection


def test_an_error_not_about_one_event_is_not_split_to_single_events(
    tmp_path: Path, fake: FakeGraph
) -> None:
    """Every batch was split to single events: 2n - 1 requests for n events."""
    fake.inject(Fault.error(400, 100, message="Invalid parameter"), times=10**6)
    result = _upload(tmp_path, fake.url, 200)
    assert result.exit_code == 1
    events = _events(result)
    assert events["failed"] == 200 and events["api_rejected"] == 0
    assert len(event_requests(fake)) == 3  # the batch, then its two halves
    assert "Meta refused every part of the batch with the same error" in result.output


def test_events_refused_one_by_one_are_still_isolated(tmp_path: Path, fake: FakeGraph) -> None:
    """The budget leaves Meta's per-event refusals alone: the bad ones are found."""
    fake.reject_events(lambda e: "bad value" if e["event_id"] in ("e3", "e7") else None)
    result = _upload(tmp_path, fake.url, 16)
    assert result.exit_code == 1
    events = _events(result)
    assert events["api_rejected"] == 2 and events["sent"] == 14


@pytest.fixture
def fake_behind() -> Iterator[FakeGraph]:
    """Meta's clock three hours behind the run's (--now)."""
    with fake_graph(now=NOW_TS - 3 * 3600) as graph:
        yield graph


def test_a_clock_off_stops_the_run_with_both_clocks_named(
    tmp_path: Path, fake_behind: FakeGraph
) -> None:
    """The README's most common cause of code 100: ~11,000 requests for 5,000 records."""
    result = _upload(tmp_path, fake_behind.url, 300, upload="workers = 1\nbatch_size = 100")
    assert result.exit_code == 1
    assert "Meta's clock" in result.stderr and "3 h behind this run's clock" in result.stderr
    assert "--now" in result.stderr  # the hint: the run's clock is --now when given
    assert len(event_requests(fake_behind)) <= 2
    events = _events(result)
    assert events["failed"] == 300 and events["api_rejected"] == 0


def test_a_time_refusal_with_clocks_that_agree_is_the_event_s(
    tmp_path: Path, fake: FakeGraph
) -> None:
    """Meta's Date within minutes of the run's clock: the refused event is isolated."""
    messages = [
        {
            "type": "track",
            "event": "Order Completed",
            "messageId": f"m{i}",
            "timestamp": NOW_TS + 100 if i == 2 else NOW_TS - 3600,
            "context": {"traits": {"email": f"p{i}@example.com"}},
            "properties": {"revenue": 5},
        }
        for i in range(4)
    ]
    write_jsonl(tmp_path / "in.jsonl", messages)
    config = write_config(tmp_path / "fbocli.toml", routes=f'"Order Completed" = ["{DS1}"]')
    # --now 50 s after Meta's clock: m2 is within the run's minute of tolerance, not Meta's
    args = ["upload", str(tmp_path / "in.jsonl"), "-c", str(config), "--json"]
    args += ["--now", "2026-11-20T00:00:50Z"]
    result = invoke(args, tmp_path / "state", env=cli_env(tmp_path, fake.url))
    events = _events(result)
    assert result.exit_code == 1, result.output
    assert "Meta's clock" not in result.stderr
    assert events["api_rejected"] == 1 and events["sent"] == 3


def test_the_clock_check_reads_meta_s_date_header() -> None:
    from fbocli.graph import GraphErrorInfo, clock_skew, is_time_refusal

    assert clock_skew("Fri, 20 Nov 2026 00:00:00 GMT", NOW_TS - 600) == 600
    assert clock_skew("not a date", NOW_TS) is None and clock_skew(None, NOW_TS) is None
    old = GraphErrorInfo(400, 100, 2804003, "The timestamp for this event is too far in the past")
    assert is_time_refusal(old)
    assert not is_time_refusal(GraphErrorInfo(400, 100, None, "The value must be a number"))
