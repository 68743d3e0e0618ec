"""GraphClient against the fake Graph API (a real HTTP server): every row of the error table."""

from __future__ import annotations

import hashlib
import json
import math
import random
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fbocli import wire
from fbocli.errors import ApiVersionError, AuthError, ExitStatus, FbocliError
from fbocli.graph import (
    BatchResult,
    Failure,
    GraphClient,
    GraphError,
    GraphErrorInfo,
    RetryPolicy,
    classify,
    max_usage,
    parse_error,
    server_wait,
)
from fbocli.secret import Secret
from tests.fakegraph import FakeGraph, Fault
from tests.helpers import event_requests, in_threads

TOKEN = "EAAtest-token-0123456789-SECRET-abcd"
DS = "1234567890123456"
DS2 = "6543210987654321"
VERSION = "v24.0"
EXTRA = {"upload_tag": "Segment"}
EM = hashlib.sha256(b"someone@example.com").hexdigest()


def event(i: int, prefix: str = "e") -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()) - 3600,
        "action_source": "physical_store",
        "event_id": f"{prefix}{i}",
        "user_data": {"em": [EM]},
        "custom_data": {"currency": "USD", "value": 1.5},
    }


def events(n: int, prefix: str = "e") -> list[bytes]:
    """``n`` events as mapping hands them to the client: encoded."""
    return [wire.dumps(event(i, prefix)) for i in range(n)]


def legacy_event(i: int) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": int(time.time()) - 3600,
        "match_keys": {"email": [EM]},
        "currency": "USD",
        "value": 3.0,
        "order_id": f"o{i}",
    }


class Recorder:
    """Stands in for time.sleep and on_retry: records, never sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []
        self.reasons: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            self.now += seconds

    def clock(self) -> float:
        with self._lock:
            return self.now

    def on_retry(self, seconds: float, reason: str) -> None:
        with self._lock:
            self.reasons.append((seconds, reason))


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph(tokens=(TOKEN,), datasets=(DS, DS2)) as server:
        yield server


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def make_client(url: str, rec: Recorder, **kwargs: Any) -> GraphClient:
    options: dict[str, Any] = {
        "graph_url": url,
        "api_version": VERSION,
        "token": Secret(TOKEN),
        "sleep": rec.sleep,
        "random": lambda: 1.0,
        "on_retry": rec.on_retry,
        "clock": rec.clock,
        "timeout": 5.0,
    }
    options.update(kwargs)
    return GraphClient(**options)


@pytest.fixture
def client(fake: FakeGraph, rec: Recorder) -> Iterator[GraphClient]:
    with make_client(fake.url, rec) as c:
        yield c


def assert_no_token(*texts: object) -> None:
    for text in texts:
        assert TOKEN not in str(text)
        assert TOKEN not in repr(text)


# ---------------------------------------------------------------- success


def test_delivers_a_batch_with_bearer_header_and_upload_tag(
    fake: FakeGraph, client: GraphClient, rec: Recorder
) -> None:
    result = client.send_events(DS, events(25), extra={**EXTRA, "test_event_code": "TEST1"})
    assert result == BatchResult(delivered=list(range(25)), rejected=[], failed=[], retries=0)
    assert fake.event_ids(DS) == [f"e{i}" for i in range(25)]
    assert rec.waits == []
    (req,) = fake.requests
    assert req["method"] == "POST"
    assert req["path"] == f"/{VERSION}/{DS}/events"
    assert TOKEN not in req["path"]
    assert req["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert req["headers"]["user-agent"].startswith("fbocli/")
    assert "access_token" not in req["query"]


def test_empty_batch_sends_nothing(fake: FakeGraph, client: GraphClient) -> None:
    assert client.send_events(DS, [], extra=EXTRA) == BatchResult()
    assert fake.requests == []


def test_legacy_success_shape_counts_num_processed_entries(rec: Recorder) -> None:
    legacy = FakeGraph(tokens=(TOKEN,), datasets=(DS,), legacy=True)
    with legacy, make_client(legacy.url, rec) as c:
        batch = [wire.dumps(legacy_event(i)) for i in range(30)]
        result = c.send_events(DS, batch, extra=EXTRA, api="offline")
        assert result.delivered == list(range(30))
        assert result.failed == []
        assert legacy.event_ids(DS) == [f"o{i}" for i in range(30)]
        # the legacy shape has no events_received: a conversions client must not count it
        again = c.send_events(DS, batch[:2], extra=EXTRA, api="conversions")
        assert again.delivered == []
        assert [i for i, _ in again.failed] == [0, 1]
        assert "events_received" in again.failed[0][1].reason


# ---------------------------------------------------------------- transient errors


@pytest.mark.parametrize(
    "fault",
    [
        Fault.error(status=500, code=1),
        Fault.error(status=500, code=2, message="Service temporarily unavailable"),
        Fault.error(status=400, code=100, is_transient=True),
        Fault.error(status=503, code=None),
        Fault.html(502),
        Fault.reset(),
    ],
    ids=["code1", "code2", "is_transient", "5xx", "html", "reset"],
)
def test_transient_errors_are_retried_with_exponential_backoff(
    fake: FakeGraph, client: GraphClient, rec: Recorder, fault: Fault
) -> None:
    fake.inject(fault, times=2)
    result = client.send_events(DS, events(10), extra=EXTRA)
    assert result.delivered == list(range(10))
    assert result.failed == [] and result.rejected == []
    assert result.retries == 2
    assert rec.waits == [1.0, 2.0]  # random() = 1.0: full jitter at its ceiling
    assert [w for w, _ in rec.reasons] == rec.waits  # on_retry before every wait
    assert fake.event_ids(DS) == [f"e{i}" for i in range(10)]


def test_retries_exhausted_fail_every_event(
    fake: FakeGraph, client: GraphClient, rec: Recorder
) -> None:
    fake.inject(Fault.error(status=500, code=1, message="An unknown error occurred"), times=6)
    result = client.send_events(DS, events(5), extra=EXTRA)
    assert result.delivered == [] and result.rejected == []
    assert [i for i, _ in result.failed] == [0, 1, 2, 3, 4]
    failure = result.failed[0][1]
    # the reason in words; Meta's identifiers apart, so that one cause is one row
    assert failure.reason == "gave up after 6 tries: An unknown error occurred"
    assert failure.info is not None and failure.info.code == 1 and failure.info.fbtrace_id
    assert result.retries == 5
    assert rec.waits == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert len(event_requests(fake)) == 6


def test_backoff_is_capped_and_max_tries_honoured(fake: FakeGraph, rec: Recorder) -> None:
    policy = RetryPolicy(max_tries=9)
    with make_client(fake.url, rec, policy=policy) as c:
        fake.inject(Fault.error(status=500, code=2), times=9)
        result = c.send_events(DS, events(1), extra=EXTRA)
    assert len(result.failed) == 1
    assert rec.waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_read_timeout_is_retried_then_delivered(fake: FakeGraph, rec: Recorder) -> None:
    with make_client(fake.url, rec, timeout=0.3) as c:
        fake.inject(Fault.delay(1.0))
        result = c.send_events(DS, events(3), extra=EXTRA)
    assert result.delivered == [0, 1, 2]
    assert result.retries == 1
    assert "0.3" in rec.reasons[0][1]


def test_connection_refused_fails_after_retries_without_leaking(rec: Recorder) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with make_client(f"http://127.0.0.1:{port}", rec, policy=RetryPolicy(max_tries=2)) as c:
        result = c.send_events(DS, events(2), extra=EXTRA)
        assert [i for i, _ in result.failed] == [0, 1]
        assert result.failed[0][1].reason == "gave up after 2 tries: connection refused"
        assert result.failed[0][1].info is None
        assert_no_token(*(f.reason for _, f in result.failed))
        with pytest.raises(GraphError) as caught:
            c.get("me")
        assert caught.value.info is None
        assert_no_token(caught.value, caught.value.message)


# ---------------------------------------------------------------- rate limits


@pytest.mark.parametrize("code", [4, 17, 32, 341, 613, 80000, 80004, 80014])
def test_rate_limits_back_off_from_the_longer_base(
    fake: FakeGraph, client: GraphClient, rec: Recorder, code: int
) -> None:
    fake.inject(Fault.rate_limit(code), times=2)
    result = client.send_events(DS, events(4), extra=EXTRA)
    assert result.delivered == [0, 1, 2, 3]
    assert rec.waits == [15.0, 30.0]
    assert "rate limited" in rec.reasons[0][1]


def test_retry_after_header_replaces_the_computed_wait(
    fake: FakeGraph, client: GraphClient, rec: Recorder
) -> None:
    fake.inject(Fault.rate_limit(4, retry_after=7))
    assert client.send_events(DS, events(2), extra=EXTRA).delivered == [0, 1]
    assert rec.waits == [7.0]


def test_retry_after_is_honoured_on_a_5xx(
    fake: FakeGraph, client: GraphClient, rec: Recorder
) -> None:
    fake.inject(Fault.error(status=503, code=2, headers={"Retry-After": "3"}))
    assert client.send_events(DS, events(2), extra=EXTRA).delivered == [0, 1]
    assert rec.waits == [3.0]


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (2, [120.0]),
        (600, [900.0]),  # beyond 15 minutes is capped
        # 0 = retry soon: the short base wait, then the rest of the slow-down the header's
        # 100 % usage asks for
        (0, [1.0, 4.0]),
    ],
)
def test_regain_access_minutes_replace_the_computed_wait(
    fake: FakeGraph, client: GraphClient, rec: Recorder, minutes: int, expected: list[float]
) -> None:
    fake.inject(Fault.rate_limit(80000, regain_minutes=minutes))
    assert client.send_events(DS, events(2), extra=EXTRA).delivered == [0, 1]
    assert rec.waits == expected


def test_backoff_scale_shrinks_every_wait(fake: FakeGraph, rec: Recorder) -> None:
    with make_client(fake.url, rec, policy=RetryPolicy.for_run(4, 0.01)) as c:
        fake.inject(Fault.rate_limit(4, retry_after=7))
        fake.inject(Fault.error(status=500, code=1))
        fake.inject(Fault.rate_limit(17))
        assert c.send_events(DS, events(1), extra=EXTRA).delivered == [0]
    assert rec.waits == pytest.approx([0.07, 0.02, 0.6])


def test_usage_near_the_limit_slows_down_every_thread(
    fake: FakeGraph, client: GraphClient, rec: Recorder
) -> None:
    fake.usage_headers["X-App-Usage"] = json.dumps(
        {"call_count": 95, "total_time": 20, "total_cputime": 10}
    )
    assert client.send_events(DS, events(2), extra=EXTRA).delivered == [0, 1]
    assert rec.waits == []  # the first request could not know
    assert client.send_events(DS2, events(2), extra=EXTRA).delivered == [0, 1]
    assert rec.waits == [2.5]  # (95 - 90) / 10 * 5 s
    assert "95%" in rec.reasons[0][1]
    fake.usage_headers["X-App-Usage"] = json.dumps({"call_count": 10})
    fake.usage_headers["X-Business-Use-Case-Usage"] = json.dumps(
        {"123": [{"type": "ads_management", "call_count": 100, "total_time": 5}]}
    )
    client.send_events(DS, events(1), extra=EXTRA)
    client.send_events(DS, events(1), extra=EXTRA)
    assert rec.waits == [2.5, 2.5, 5.0]


def test_low_usage_does_not_slow_down(fake: FakeGraph, client: GraphClient, rec: Recorder) -> None:
    fake.usage_headers["X-App-Usage"] = json.dumps({"call_count": 89, "total_time": 50})
    for _ in range(3):
        client.send_events(DS, events(1), extra=EXTRA)
    assert rec.waits == []


# ---------------------------------------------------------------- fatal errors


def test_invalid_token_raises_auth_error(fake: FakeGraph, client: GraphClient) -> None:
    fake.revoke_token(TOKEN)
    with pytest.raises(AuthError) as caught:
        client.send_events(DS, events(3), extra=EXTRA)
    err = caught.value
    assert err.exit_status == ExitStatus.AUTH
    assert "access token invalid or expired" in str(err)
    assert err.hint is not None and "fbocli auth" in err.hint
    assert err.__suppress_context__
    assert_no_token(err, err.hint)
    with pytest.raises(AuthError):
        client.get("me", {"fields": "id,name"})


def test_missing_token_is_an_auth_error(fake: FakeGraph, rec: Recorder) -> None:
    with make_client(fake.url, rec, token=None) as c, pytest.raises(AuthError):
        c.send_events(DS, events(1), extra=EXTRA)


@pytest.mark.parametrize("code", [200, 10, 294])
def test_permission_errors_raise_auth_error_naming_the_dataset(
    fake: FakeGraph, client: GraphClient, code: int
) -> None:
    if code == 200:
        fake.deny(TOKEN, DS)
    else:
        fake.inject(Fault.error(status=403, code=code, message="Permission denied"))
    with pytest.raises(AuthError) as caught:
        client.send_events(DS, events(3), extra=EXTRA)
    assert DS in str(caught.value)
    assert caught.value.hint is not None and "ads_management" in caught.value.hint
    assert_no_token(caught.value)


def test_deprecated_version_raises_api_version_error(rec: Recorder) -> None:
    old = FakeGraph(tokens=(TOKEN,), datasets=(DS,), deprecated_versions=(VERSION,))
    with old, make_client(old.url, rec) as c, pytest.raises(ApiVersionError) as caught:
        c.send_events(DS, events(3), extra=EXTRA)
    err = caught.value
    assert err.exit_status == ExitStatus.USAGE
    assert VERSION in str(err)
    assert err.hint is not None and "api_version" in err.hint and "[destination]" in err.hint
    assert rec.waits == []


# ---------------------------------------------------------------- missing dataset


def test_missing_dataset_fails_its_events_and_is_not_asked_again(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.remove_dataset(DS)
    first = client.send_events(DS, events(4), extra=EXTRA)
    assert first.delivered == [] and first.rejected == []
    assert [i for i, _ in first.failed] == [0, 1, 2, 3]
    reason = first.failed[0][1]
    assert reason.reason.startswith(
        f"dataset {DS} does not exist or is not visible to this token: "
    )
    assert reason.info is not None and (reason.info.code, reason.info.subcode) == (100, 33)
    asked = len(fake.requests)
    assert asked == 1
    second = client.send_events(DS, events(2, "x"), extra=EXTRA)
    assert second.failed == [(0, reason), (1, reason)]
    assert len(fake.requests) == asked  # failed at once, without a request
    # other datasets go on
    assert client.send_events(DS2, events(2), extra=EXTRA).delivered == [0, 1]


def test_code_803_is_a_missing_dataset(fake: FakeGraph, client: GraphClient) -> None:
    fake.inject(Fault.error(status=400, code=803, message="Some of the aliases do not exist"))
    result = client.send_events(DS, events(2), extra=EXTRA)
    assert [i for i, _ in result.failed] == [0, 1]
    assert "Some of the aliases do not exist" in result.failed[0][1].reason
    assert result.failed[0][1].info is not None and result.failed[0][1].info.code == 803


# ---------------------------------------------------------------- bisection


def test_bisection_isolates_exactly_the_bad_events(
    fake: FakeGraph, client: GraphClient, rec: Recorder
) -> None:
    n = 1000
    bad = set(random.Random(4).sample(range(n), 3))
    bad_ids = {f"e{i}" for i in bad}
    fake.reject_events(
        lambda e: f"bad email in {e['event_id']}" if e["event_id"] in bad_ids else None
    )
    result = client.send_events(DS, events(n), extra=EXTRA)
    assert sorted(result.rejected) == sorted((i, f"bad email in e{i}") for i in bad)
    assert result.delivered == sorted(set(range(n)) - bad)
    assert result.failed == [] and result.retries == 0 and rec.waits == []
    assert sorted(fake.event_ids(DS)) == sorted(f"e{i}" for i in range(n) if i not in bad)
    k = len(bad)
    assert len(event_requests(fake)) <= 1 + 2 * k * math.ceil(math.log2(n))


def test_unknown_4xx_is_bisected_like_code_100(fake: FakeGraph, client: GraphClient) -> None:
    fake.inject(Fault.error(status=400, code=12345, message="Something odd"))
    result = client.send_events(DS, events(4), extra=EXTRA)
    assert result.delivered == [0, 1, 2, 3]
    assert [r["events"] for r in event_requests(fake)] == [4, 2, 2]


def test_single_bad_event_is_rejected_with_metas_message(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.inject(Fault.error(status=400, code=100, user_msg="The email is not hashed"))
    result = client.send_events(DS, events(1), extra=EXTRA)
    assert result.rejected == [(0, "The email is not hashed")]
    assert len(event_requests(fake)) == 1


def test_bisection_halves_have_their_own_retries(
    fake: FakeGraph, client: GraphClient, rec: Recorder
) -> None:
    fake.reject_events(lambda e: "bad" if e["event_id"] == "e0" else None)
    fake.inject(Fault.error(status=400, code=100, user_msg="bad"))  # the whole batch
    fake.inject(Fault.error(status=500, code=1))  # the left half's first try
    result = client.send_events(DS, events(4), extra=EXTRA)
    assert result.rejected == [(0, "bad")]
    assert result.delivered == [1, 2, 3]
    assert result.retries == 1


# ---------------------------------------------------------------- count mismatch


class _Canned(BaseHTTPRequestHandler):
    answer: bytes = b"{}"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[tuple[str, type[_Canned]]]:
    handler = type("Handler", (_Canned,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("api", "answer"),
    [
        ("conversions", {"events_received": 2, "messages": [], "fbtrace_id": "T"}),
        ("offline", {"id": "99", "num_processed_entries": 2}),
    ],
)
def test_count_mismatch_fails_the_batch(
    canned: tuple[str, type[_Canned]], rec: Recorder, api: Any, answer: dict[str, Any]
) -> None:
    url, handler = canned
    handler.answer = json.dumps(answer).encode()
    with make_client(url, rec) as c:
        result = c.send_events(DS, events(3), extra=EXTRA, api=api)
        assert result.delivered == []
        assert result.failed == [(i, Failure("Meta acknowledged 2 of 3 events")) for i in range(3)]
        assert c.send_events(DS, events(2), extra=EXTRA, api=api).delivered == [0, 1]


# ---------------------------------------------------------------- concurrency


def test_concurrent_batches_from_four_threads(fake: FakeGraph, client: GraphClient) -> None:
    fake.inject(Fault.error(status=500, code=1), times=3)
    results: dict[tuple[int, int], BatchResult] = {}

    def worker(t: int) -> None:
        for b in range(10):
            ds = DS if b % 2 else DS2
            results[(t, b)] = client.send_events(ds, events(50, f"t{t}b{b}-"), extra=EXTRA)

    assert in_threads(worker, 4) == []
    assert len(results) == 40
    assert all(r.delivered == list(range(50)) and not r.failed for r in results.values())
    assert sum(r.retries for r in results.values()) == 3
    ids = fake.event_ids()
    assert len(ids) == 2000 == len(set(ids))


# ---------------------------------------------------------------- get / post_form


def test_get_returns_the_answer(fake: FakeGraph, client: GraphClient) -> None:
    assert client.get("me", {"fields": "id,name"}) == {"id": "100000001", "name": "Test User"}
    assert client.get(DS, {"fields": "id,name"})["id"] == DS


def test_get_retries_transient_errors(fake: FakeGraph, client: GraphClient, rec: Recorder) -> None:
    fake.inject(Fault.error(status=500, code=2), path_suffix="/me")
    fake.inject(Fault.rate_limit(17, retry_after=4), path_suffix="/me")
    assert client.get("me", {"fields": "id,name"})["id"] == "100000001"
    assert rec.waits == [1.0, 4.0]


def test_get_raises_graph_error_with_info(fake: FakeGraph, client: GraphClient) -> None:
    fake.remove_dataset(DS)
    with pytest.raises(GraphError) as caught:
        client.get(DS, {"fields": "id,name"})
    info = caught.value.info
    assert info is not None and info.code == 100 and info.subcode == 33
    assert caught.value.exit_status == ExitStatus.FAILURE


def test_post_form_sends_no_bearer_and_surfaces_subcodes(fake: FakeGraph, rec: Recorder) -> None:
    with make_client(fake.url, rec, token=None) as c:
        answer = c.post_form("device/login", {"access_token": "123|abc", "scope": "ads_management"})
        assert answer["user_code"] and answer["code"]
        fake.device_script(["pending", "approved"], token="device-token")
        with pytest.raises(GraphError) as caught:
            c.post_form("device/login_status", {"access_token": "123|abc", "code": answer["code"]})
        assert caught.value.info is not None and caught.value.info.subcode == 1349174
        done = c.post_form(
            "device/login_status", {"access_token": "123|abc", "code": answer["code"]}
        )
        assert done["access_token"] == "device-token"
    assert all("authorization" not in req["headers"] for req in fake.requests)


def test_post_form_retries_transient_errors_and_rate_limits(fake: FakeGraph, rec: Recorder) -> None:
    fake.inject(Fault.html(502), path_suffix="/device/login")
    fake.inject(Fault.rate_limit(4), path_suffix="/device/login")
    with make_client(fake.url, rec, token=None) as c:
        answer = c.post_form("device/login", {"access_token": "123|abc", "scope": "x"})
    assert answer["interval"] == 5
    assert rec.waits == [1.0, 30.0]


def test_post_form_never_sends_the_user_token(fake: FakeGraph, client: GraphClient) -> None:
    # the client holds a user token, yet the form call must authenticate with data alone
    with pytest.raises(GraphError) as caught:
        client.post_form("device/login", {"scope": "ads_management"})
    assert caught.value.info is not None and caught.value.info.code == 190
    assert "authorization" not in fake.requests[-1]["headers"]


# ---------------------------------------------------------------- token never leaks


def test_token_never_appears_in_errors_or_reasons(
    fake: FakeGraph, client: GraphClient, rec: Recorder
) -> None:
    leaky = f"token {TOKEN} is weird; access_token={TOKEN}"
    fake.inject(Fault.error(status=500, code=1, message=leaky), times=6)
    failed = client.send_events(DS, events(2), extra=EXTRA)
    fake.reject_events(lambda e: leaky)
    rejected = client.send_events(DS, events(1), extra=EXTRA)
    fake.inject(Fault.error(status=500, code=2, message=leaky), path_suffix="/me", times=6)
    with pytest.raises(GraphError) as get_error:
        client.get("me")
    fake.inject(Fault.error(status=403, code=200, message=leaky))
    with pytest.raises(AuthError) as auth_error:
        client.send_events(DS2, events(1), extra=EXTRA)
    texts: list[object] = [
        *(r for _, r in failed.failed),
        *(r for _, r in rejected.rejected),
        failed,
        rejected,
        get_error.value,
        get_error.value.info,
        auth_error.value,
        client,
        *(r for _, r in rec.reasons),
    ]
    assert rejected.rejected and failed.failed
    assert_no_token(*texts)
    assert "****" in failed.failed[0][1].reason


# ---------------------------------------------------------------- pure parts


def test_parse_error_prefers_the_user_message() -> None:
    body = json.dumps(
        {
            "error": {
                "message": "Invalid parameter",
                "type": "OAuthException",
                "code": 100,
                "error_subcode": 2804019,
                "error_user_msg": "The event time is too old",
                "fbtrace_id": "AbC",
                "is_transient": False,
            }
        }
    ).encode()
    info = parse_error(400, body)
    assert info == GraphErrorInfo(
        400, 100, 2804019, "The event time is too old", "AbC", False, per_event=True
    )
    assert (
        info.describe() == "The event time is too old (code 100, subcode 2804019, fbtrace_id AbC)"
    )
    html = parse_error(502, b"<html><body>Bad gateway</body></html>")
    assert html.code is None and "non-JSON" in html.message
    assert html.describe().endswith("(HTTP 502)")


@pytest.mark.parametrize(
    ("status", "code", "subcode", "transient", "kind"),
    [
        (500, 1, None, None, "transient"),
        (400, 2, None, None, "transient"),
        (400, 100, None, True, "transient"),
        (502, None, None, None, "transient"),
        (400, 4, None, None, "rate_limit"),
        (400, 80014, None, None, "rate_limit"),
        (429, None, None, None, "rate_limit"),
        (401, 190, 463, None, "auth"),
        (403, 10, None, None, "permission"),
        (403, 200, None, None, "permission"),
        (403, 299, None, None, "permission"),
        (400, 100, 33, None, "missing_dataset"),
        (400, 803, None, None, "missing_dataset"),
        (400, 2635, None, None, "version"),
        (400, 100, None, None, "invalid"),
        (400, 100, 2804019, False, "invalid"),
        (404, 12345, None, None, "invalid"),
    ],
)
def test_classify_follows_the_error_table(
    status: int, code: int | None, subcode: int | None, transient: bool | None, kind: str
) -> None:
    assert classify(GraphErrorInfo(status, code, subcode, "m", None, transient)) == kind


def test_server_wait_and_usage_headers() -> None:
    assert server_wait({}) is None
    assert server_wait({"Retry-After": "12"}) == 12.0
    buc = {"X-Business-Use-Case-Usage": json.dumps({"1": [{"estimated_time_to_regain_access": 3}]})}
    assert server_wait(buc) == 180.0
    assert server_wait({**buc, "Retry-After": "500"}) == 500.0
    assert server_wait({"Retry-After": "soon"}) is None
    assert max_usage({}) == 0.0
    assert max_usage({"X-App-Usage": "not json"}) == 0.0
    assert max_usage({"X-App-Usage": json.dumps({"call_count": 3, "total_cputime": 97})}) == 97.0


def test_retry_policy_of_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FBOCLI_BACKOFF_SCALE", "0")  # the CLI's business, not the client's
    assert RetryPolicy.for_run(3) == RetryPolicy(max_tries=3)
    assert RetryPolicy.for_run(0) == RetryPolicy(max_tries=1)
    assert RetryPolicy.for_run(6).backoff(3, 1.0) == 8.0
    assert RetryPolicy.for_run(6, 0).backoff(3, 1.0) == 0.0
    assert RetryPolicy.for_run(6, 0.5).server_wait(10) == 5.0


@given(
    attempt=st.integers(min_value=0, max_value=60),
    rnd=st.floats(min_value=0.0, max_value=1.0),
    rate_limited=st.booleans(),
)
def test_backoff_is_full_jitter_within_the_cap(
    attempt: int, rnd: float, rate_limited: bool
) -> None:
    policy = RetryPolicy()
    wait = policy.backoff(attempt, rnd, rate_limited=rate_limited)
    base = policy.rate_limit_base if rate_limited else policy.base
    ceiling = min(policy.cap, base * 2**attempt)
    assert 0.0 <= wait <= ceiling <= policy.cap
    assert wait == pytest.approx(rnd * ceiling)


def test_graph_error_is_an_fbocli_error() -> None:
    err = GraphError("boom", info=None)
    assert isinstance(err, FbocliError) and str(err) == "boom" and err.info is None


def test_netrc_credentials_never_replace_the_bearer_token(
    fake: FakeGraph, rec: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests applies ~/.netrc to a request without its own auth, and a ``default``
    entry matches every host: its Basic credentials would overwrite the bearer token."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("default login netrc-user password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with make_client(fake.url, rec) as client:
        result = client.send_events(DS, events(3), extra=EXTRA)
        assert result.delivered == [0, 1, 2]
        client.post_form("device/login", {"access_token": "app|token", "scope": "x"})
    sent, device = fake.requests[0], fake.requests[-1]
    assert sent["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert "authorization" not in device["headers"]  # no token, and no netrc login either
