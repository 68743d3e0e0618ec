"""The fake Graph API must behave like Meta, or every network test of fbocli proves nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from tests.fakegraph import (
    APP_ID,
    DAY,
    NO_SUCH_DATASET,
    FakeGraph,
    Fault,
    appsecret_proof,
    check_capi_event,
    quality_event,
)
from tests.helpers import ROOT

NOW = 1_790_000_000
TOKEN = "test-token"
DS = "1234567890123456"
DS2 = "6543210987654321"
V = "v24.0"
EM = hashlib.sha256(b"jane@example.com").hexdigest()
FN = hashlib.sha256(b"jane").hexdigest()


def capi_event(n: int = 0, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW - 3600,
        "action_source": "physical_store",
        "event_id": f"msg-{n}",
        "user_data": {"em": [EM], "fn": FN},
        "custom_data": {"value": 10.5, "currency": "USD"},
    }
    event.update(overrides)
    return event


def legacy_event(n: int = 0, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "match_keys": {"email": [EM], "fn": FN},
        "event_name": "Purchase",
        "event_time": NOW - 3600,
        "currency": "USD",
        "value": 10.5,
        "order_id": f"order-{n}",
    }
    event.update(overrides)
    return event


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(now=NOW, deprecated_versions=("v16.0",)) as fake:
        yield fake


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        yield s


def post_events(
    graph: FakeGraph,
    session: requests.Session,
    data: list[Any],
    dataset: str = DS,
    **extra: Any,
) -> requests.Response:
    return session.post(
        f"{graph.url}/{V}/{dataset}/events", json={"data": data, **extra}, timeout=10
    )


def error_of(response: requests.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert error["fbtrace_id"]
    return error


# --------------------------------------------------------------------------- success shapes


def test_events_success_shape_and_bookkeeping(graph: FakeGraph, session: requests.Session) -> None:
    data = [capi_event(i) for i in range(3)]
    r = post_events(graph, session, data, upload_tag="Segment")
    assert r.status_code == 200
    body = r.json()
    assert body["events_received"] == 3
    assert body["messages"] == []
    assert body["fbtrace_id"]
    assert r.headers["Content-Type"].startswith("application/json")
    assert graph.received[DS] == data
    assert graph.received[DS2] == []
    assert graph.event_ids() == ["msg-0", "msg-1", "msg-2"]
    assert graph.event_ids(DS2) == []
    assert graph.count() == 3
    [logged] = graph.requests
    assert logged["method"] == "POST"
    assert logged["path"] == f"/{V}/{DS}/events"
    assert logged["dataset"] == DS
    assert logged["status"] == 200
    assert logged["events"] == 3
    assert logged["params"] == {"upload_tag": "Segment"}
    assert logged["fault"] is None


def test_duplicates_are_counted_in_event_ids(graph: FakeGraph, session: requests.Session) -> None:
    post_events(graph, session, [capi_event(1)])
    post_events(graph, session, [capi_event(1), capi_event(2)], dataset=DS2)
    assert graph.event_ids() == ["msg-1", "msg-1", "msg-2"]
    assert graph.event_ids(DS) == ["msg-1"]


def test_token_as_query_param_and_form_encoded_body(graph: FakeGraph) -> None:
    url = f"{graph.url}/{V}/{DS}/events"
    r = requests.post(
        url, params={"access_token": TOKEN}, json={"data": [capi_event(1)]}, timeout=10
    )
    assert r.status_code == 200
    form = {"access_token": TOKEN, "data": json.dumps([capi_event(2)]), "upload_tag": "x"}
    r = requests.post(url, data=form, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["events_received"] == 1
    assert graph.event_ids() == ["msg-1", "msg-2"]


def test_me_permissions_and_dataset(graph: FakeGraph, session: requests.Session) -> None:
    r = session.get(f"{graph.url}/{V}/me", params={"fields": "id,name"}, timeout=10)
    assert r.json() == {"id": "100000001", "name": "Test User"}
    r = session.get(f"{graph.url}/{V}/me/permissions", timeout=10)
    assert r.json() == {
        "data": [
            {"permission": "ads_management", "status": "granted"},
            {"permission": "public_profile", "status": "granted"},
        ]
    }
    r = session.get(f"{graph.url}/{V}/{DS}", params={"fields": "id,name"}, timeout=10)
    assert r.json() == {"id": DS, "name": f"Dataset {DS}"}


def test_identities_and_permissions_are_configurable(
    graph: FakeGraph, session: requests.Session
) -> None:
    graph.identities[TOKEN] = ("42", "Ada")
    graph.permissions[TOKEN] = [("ads_management", "declined")]
    assert session.get(f"{graph.url}/{V}/me", timeout=10).json() == {"id": "42", "name": "Ada"}
    r = session.get(f"{graph.url}/{V}/me/permissions", timeout=10)
    assert r.json()["data"] == [{"permission": "ads_management", "status": "declined"}]


def test_usage_headers_on_every_response(graph: FakeGraph, session: requests.Session) -> None:
    usage = json.dumps({"call_count": 95, "total_time": 10, "total_cputime": 10})
    graph.usage_headers["X-App-Usage"] = usage
    assert session.get(f"{graph.url}/{V}/me", timeout=10).headers["X-App-Usage"] == usage
    r = requests.get(f"{graph.url}/{V}/me", timeout=10)  # an error answer too
    assert r.status_code == 401
    assert r.headers["X-App-Usage"] == usage


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_bad_or_missing_token(graph: FakeGraph, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.post(
        f"{graph.url}/{V}/{DS}/events", json={"data": [capi_event()]}, headers=headers, timeout=10
    )
    assert r.status_code == 401
    error = error_of(r)
    assert error["code"] == 190
    assert error["type"] == "OAuthException"
    assert graph.count() == 0


@pytest.mark.parametrize("version", ["24.0", "vx", "v24", "latest"])
def test_bad_version(graph: FakeGraph, session: requests.Session, version: str) -> None:
    r = session.get(f"{graph.url}/{version}/me", timeout=10)
    assert r.status_code == 400
    assert error_of(r)["code"] != 2635


def test_deprecated_version(graph: FakeGraph, session: requests.Session) -> None:
    r = session.post(f"{graph.url}/v16.0/{DS}/events", json={"data": [capi_event()]}, timeout=10)
    assert r.status_code == 400
    assert error_of(r)["code"] == 2635
    assert graph.count() == 0


def test_unknown_dataset(graph: FakeGraph, session: requests.Session) -> None:
    r = post_events(graph, session, [capi_event()], dataset="999")
    assert r.status_code == 400
    error = error_of(r)
    assert (error["code"], error["error_subcode"]) == (100, 33)
    assert "does not exist" in error["message"]
    r = session.get(f"{graph.url}/{V}/999", params={"fields": "id,name"}, timeout=10)
    assert (r.status_code, error_of(r)["error_subcode"]) == (400, 33)


def test_batch_size_limits(graph: FakeGraph, session: requests.Session) -> None:
    r = post_events(graph, session, [capi_event(i) for i in range(1001)])
    assert r.status_code == 400
    assert error_of(r)["code"] == 100
    assert graph.count() == 0
    r = post_events(graph, session, [])
    assert (r.status_code, error_of(r)["code"]) == (400, 100)
    r = post_events(graph, session, [capi_event(i) for i in range(1000)])
    assert r.json()["events_received"] == 1000
    assert graph.count(DS) == 1000


@pytest.mark.parametrize(
    "overrides",
    [
        {"event_name": None},
        {"event_name": ""},
        {"event_time": None},
        {"event_time": "1790000000"},
        {"event_time": 1789999000.5},
        {"action_source": None},
        {"action_source": "shop"},
        {"user_data": None},
        {"user_data": {}},
        {"custom_data": {"value": "10"}},
    ],
    ids=repr,
)
def test_missing_or_bad_fields_refuse_the_whole_request(
    graph: FakeGraph, session: requests.Session, overrides: dict[str, Any]
) -> None:
    bad = capi_event(1)
    for key, value in overrides.items():
        if value is None:
            del bad[key]
        else:
            bad[key] = value
    r = post_events(graph, session, [capi_event(0), bad, capi_event(2)])
    assert r.status_code == 400
    error = error_of(r)
    assert error["code"] == 100
    assert error["message"] == "Invalid parameter"
    assert "error_subcode" not in error
    assert graph.count() == 0


@pytest.mark.parametrize(
    "user_data",
    [
        {"em": ["jane@example.com"]},
        {"em": EM},  # a string where Meta's payload has a list
        {"em": []},
        {"ph": [EM[:-1]]},
        {"fn": FN.upper()},
        {"fn": FN[:-1] + "g"},  # 64 characters, one not hex
        {"ln": "\u00e9" * 64},  # 64 characters, none ASCII
        {"ph": [EM, "\ud800" * 64]},  # a lone surrogate (the standard decoder's answer)
        {"zp": "02818"},
        {"country": ["us"]},
        {"lead_id": "123"},
        {"external_id": [""]},
        {"external_id": "user-1"},
    ],
    ids=repr,
)
def test_bad_match_keys_refuse(
    graph: FakeGraph, session: requests.Session, user_data: dict[str, Any]
) -> None:
    r = post_events(graph, session, [capi_event(0), capi_event(1, user_data=user_data)])
    assert (r.status_code, error_of(r)["code"]) == (400, 100)
    assert graph.count() == 0


def test_valid_match_keys_accepted(graph: FakeGraph, session: requests.Session) -> None:
    user = {
        "em": [EM, FN],
        "ph": [EM],
        "external_id": ["user-1", EM],  # external_id need not be a hash
        "lead_id": 1234567890,
        **{key: FN for key in ("ge", "fn", "ln", "ct", "st", "zp", "country", "db")},
        "client_user_agent": "anything",
    }
    r = post_events(graph, session, [capi_event(0, user_data=user)])
    assert r.status_code == 200, r.text


def test_one_event_too_old_refuses_the_whole_request(
    graph: FakeGraph, session: requests.Session
) -> None:
    old = capi_event(1, event_time=NOW - 62 * DAY - 1)
    r = post_events(graph, session, [capi_event(0), old, capi_event(2)])
    assert r.status_code == 400
    error = error_of(r)
    assert error["code"] == 100
    assert "too far in the past" in error["error_user_msg"]
    assert graph.count() == 0
    edge = capi_event(3, event_time=NOW - 62 * DAY)
    assert post_events(graph, session, [edge]).status_code == 200


def test_other_action_sources_have_a_seven_day_window(
    graph: FakeGraph, session: requests.Session
) -> None:
    web = capi_event(1, action_source="website", event_time=NOW - 8 * DAY)
    assert post_events(graph, session, [web]).status_code == 400
    web["event_time"] = NOW - 6 * DAY
    assert post_events(graph, session, [web]).status_code == 200


def test_future_event_refused(graph: FakeGraph, session: requests.Session) -> None:
    r = post_events(graph, session, [capi_event(0), capi_event(1, event_time=NOW + 61)])
    assert r.status_code == 400
    assert "future" in error_of(r)["error_user_msg"]
    assert post_events(graph, session, [capi_event(2, event_time=NOW + 60)]).status_code == 200
    assert graph.event_ids() == ["msg-2"]


def test_invalid_json_body(graph: FakeGraph, session: requests.Session) -> None:
    r = session.post(
        f"{graph.url}/{V}/{DS}/events",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert (r.status_code, error_of(r)["code"]) == (400, 100)


@given(offset=st.integers(min_value=-70 * DAY, max_value=3600))
def test_window_property(offset: int) -> None:
    problem = check_capi_event(capi_event(event_time=NOW + offset), NOW)
    assert (problem is None) == (-62 * DAY <= offset <= 60)


# --------------------------------------------------------------------------- faults


def test_error_fault_then_normal_answers(graph: FakeGraph, session: requests.Session) -> None:
    graph.inject(
        Fault.error(503, code=2, subcode=7, message="Service temporarily unavailable",
                    is_transient=True, user_msg="try later", headers={"X-Extra": "1"}),
        times=2,
    )  # fmt: skip
    for _ in range(2):
        r = post_events(graph, session, [capi_event()])
        assert r.status_code == 503
        assert r.headers["X-Extra"] == "1"
        error = error_of(r)
        assert error["code"] == 2
        assert error["error_subcode"] == 7
        assert error["is_transient"] is True
        assert error["error_user_msg"] == "try later"
        assert error["message"] == "Service temporarily unavailable"
    assert graph.count() == 0
    assert post_events(graph, session, [capi_event()]).status_code == 200
    assert [q["fault"] for q in graph.requests] == ["error", "error", None]
    assert [q["events"] for q in graph.requests] == [1, 1, 1]


def test_default_error_fault(graph: FakeGraph, session: requests.Session) -> None:
    graph.inject(Fault.error())
    r = post_events(graph, session, [capi_event()])
    assert r.status_code == 500
    assert error_of(r)["code"] == 1
    graph.inject(Fault.error(code=None))
    assert "code" not in error_of(post_events(graph, session, [capi_event()]))


def test_faults_are_fifo_and_filtered(graph: FakeGraph, session: requests.Session) -> None:
    graph.inject(Fault.error(500), dataset=DS2)
    graph.inject(Fault.error(502))
    graph.inject(Fault.error(504))
    graph.inject(Fault.error(418), path_suffix="/me")
    assert session.get(f"{graph.url}/{V}/{DS}", timeout=10).status_code == 200  # not /events
    assert post_events(graph, session, [capi_event()], dataset=DS).status_code == 502
    assert post_events(graph, session, [capi_event()], dataset=DS2).status_code == 500
    assert post_events(graph, session, [capi_event()], dataset=DS2).status_code == 504
    assert post_events(graph, session, [capi_event()], dataset=DS2).status_code == 200
    assert session.get(f"{graph.url}/{V}/me", timeout=10).status_code == 418


def test_rate_limit_headers(graph: FakeGraph, session: requests.Session) -> None:
    graph.inject(Fault.rate_limit(retry_after=1.5))
    graph.inject(Fault.rate_limit(80004, regain_minutes=3))
    r = post_events(graph, session, [capi_event()])
    assert r.status_code == 400
    assert error_of(r)["code"] == 4
    assert error_of(r)["is_transient"] is True
    assert float(r.headers["Retry-After"]) == 1.5
    assert "X-Business-Use-Case-Usage" not in r.headers
    r = post_events(graph, session, [capi_event()])
    assert (r.status_code, error_of(r)["code"]) == (400, 80004)
    assert "Retry-After" not in r.headers
    usage = json.loads(r.headers["X-Business-Use-Case-Usage"])
    [entries] = usage.values()
    assert entries[0]["estimated_time_to_regain_access"] == 3
    assert graph.count() == 0


def test_reset_raises_connection_error_and_server_recovers(
    graph: FakeGraph, session: requests.Session
) -> None:
    assert post_events(graph, session, [capi_event(0)]).status_code == 200  # pooled connection
    graph.inject(Fault.reset())
    with pytest.raises(requests.ConnectionError):
        post_events(graph, session, [capi_event(1)])
    assert post_events(graph, session, [capi_event(2)]).status_code == 200
    assert graph.event_ids() == ["msg-0", "msg-2"]
    assert [q["status"] for q in graph.requests] == [200, None, 200]


def test_delay_answers_late_but_accepts(graph: FakeGraph, session: requests.Session) -> None:
    graph.inject(Fault.delay(0.3))
    start = time.monotonic()
    r = post_events(graph, session, [capi_event(1)])
    assert r.status_code == 200
    assert time.monotonic() - start >= 0.3
    graph.inject(Fault.delay(1.0))
    with pytest.raises(requests.Timeout):
        session.post(f"{graph.url}/{V}/{DS}/events", json={"data": [capi_event(2)]}, timeout=0.2)
    # Meta got the events even though the client gave up: a retry would deliver twice.
    assert graph.event_ids() == ["msg-1", "msg-2"]


def test_html_fault(graph: FakeGraph, session: requests.Session) -> None:
    graph.inject(Fault.html())
    r = post_events(graph, session, [capi_event()])
    assert r.status_code == 502
    assert r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()
    graph.inject(Fault.html(504))
    assert post_events(graph, session, [capi_event()]).status_code == 504


# --------------------------------------------------------------------------- behaviour switches


def test_reject_events_refuses_whole_request_without_naming_the_event(
    graph: FakeGraph, session: requests.Session
) -> None:
    graph.reject_events(lambda e: "bad value" if e["event_id"] == "msg-7" else None)
    r = post_events(graph, session, [capi_event(i) for i in range(10)])
    assert r.status_code == 400
    error = error_of(r)
    assert error["code"] == 100
    assert error["type"] == "OAuthException"
    assert error["message"] == "Invalid parameter"
    assert error["error_user_msg"] == "bad value"
    assert "msg-7" not in r.text
    assert graph.count() == 0
    r = post_events(graph, session, [capi_event(i) for i in range(7)])
    assert r.json()["events_received"] == 7


def test_remove_dataset(graph: FakeGraph, session: requests.Session) -> None:
    assert post_events(graph, session, [capi_event(0)]).status_code == 200
    graph.remove_dataset(DS)
    r = post_events(graph, session, [capi_event(1)])
    assert (r.status_code, error_of(r)["code"], error_of(r)["error_subcode"]) == (400, 100, 33)
    r = session.get(f"{graph.url}/{V}/{DS}", timeout=10)
    assert (r.status_code, error_of(r)["error_subcode"]) == (400, 33)
    assert post_events(graph, session, [capi_event(2)], dataset=DS2).status_code == 200
    assert graph.event_ids() == ["msg-0", "msg-2"]


def test_revoke_token() -> None:
    with FakeGraph(tokens=("a", "b"), now=NOW) as graph:
        url = f"{graph.url}/{V}/me"
        assert requests.get(url, headers={"Authorization": "Bearer a"}, timeout=10).ok
        graph.revoke_token("a")
        r = requests.get(url, headers={"Authorization": "Bearer a"}, timeout=10)
        assert r.status_code == 401
        assert error_of(r)["code"] == 190
        assert requests.get(url, headers={"Authorization": "Bearer b"}, timeout=10).ok


def test_deny(graph: FakeGraph, session: requests.Session) -> None:
    graph.deny(TOKEN, DS)
    graph.deny(TOKEN, DS2, code=10)
    r = post_events(graph, session, [capi_event()])
    assert (r.status_code, error_of(r)["code"]) == (403, 200)
    r = session.get(f"{graph.url}/{V}/{DS}", params={"fields": "id,name"}, timeout=10)
    assert (r.status_code, error_of(r)["code"]) == (403, 200)
    r = post_events(graph, session, [capi_event()], dataset=DS2)
    assert (r.status_code, error_of(r)["code"]) == (403, 10)
    assert graph.count() == 0


def test_store_events_false_keeps_ids_only(session: requests.Session) -> None:
    with FakeGraph(now=NOW, store_events=False) as graph:
        post_events(graph, session, [capi_event(1), capi_event(2)])
        assert graph.received[DS] == [{"event_id": "msg-1"}, {"event_id": "msg-2"}]
        assert graph.event_ids() == ["msg-1", "msg-2"]
        assert graph.count() == 2


# --------------------------------------------------------------------------- legacy


@pytest.fixture
def legacy() -> Iterator[FakeGraph]:
    with FakeGraph(now=NOW, legacy=True) as fake:
        yield fake


def test_legacy_success(legacy: FakeGraph, session: requests.Session) -> None:
    data = [legacy_event(i) for i in range(2000)]
    r = post_events(legacy, session, data, upload_tag="Segment")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["num_processed_entries"] == 2000
    assert body["id"]
    assert legacy.event_ids()[:2] == ["order-0", "order-1"]
    assert legacy.count(DS) == 2000


@pytest.mark.parametrize(
    ("data", "extra"),
    [
        ([legacy_event()], {}),  # no upload_tag
        ([legacy_event(i) for i in range(2001)], {"upload_tag": "t"}),
        ([legacy_event(match_keys={})], {"upload_tag": "t"}),
        ([legacy_event(match_keys={"email": ["x@y.z"]})], {"upload_tag": "t"}),
        ([legacy_event(currency=None)], {"upload_tag": "t"}),
        ([legacy_event(event_name="Signed Up")], {"upload_tag": "t"}),
        ([legacy_event(event_time=NOW - 63 * DAY)], {"upload_tag": "t"}),
        ([capi_event()], {"upload_tag": "t"}),  # a CAPI event has no match_keys
    ],
    ids=["no-tag", "2001", "empty-keys", "unhashed", "no-currency", "name", "old", "capi"],
)
def test_legacy_refusals(
    legacy: FakeGraph, session: requests.Session, data: list[Any], extra: dict[str, Any]
) -> None:
    r = post_events(legacy, session, data, **extra)
    assert (r.status_code, error_of(r)["code"]) == (400, 100)
    assert legacy.count() == 0


def test_legacy_needs_no_action_source_or_currency_without_value(
    legacy: FakeGraph, session: requests.Session
) -> None:
    event = legacy_event(1)
    del event["value"], event["currency"]
    assert post_events(legacy, session, [event], upload_tag="t").status_code == 200


# --------------------------------------------------------------------------- device login


def device_post(graph: FakeGraph, what: str, **form: str) -> requests.Response:
    form.setdefault("access_token", "123456|client-token")
    return requests.post(f"{graph.url}/{V}/device/{what}", data=form, timeout=10)


def test_device_login_script(graph: FakeGraph) -> None:
    graph.device_script(["pending", "slow_down", "pending", "approved"], token="fresh-token")
    r = device_post(graph, "login", scope="ads_management,business_management")
    assert r.status_code == 200
    start = r.json()
    assert start["verification_uri"] == "https://www.facebook.com/device"
    assert (start["expires_in"], start["interval"]) == (420, 5)
    assert start["code"] and start["user_code"]
    subcodes = []
    for _ in range(3):
        r = device_post(graph, "login_status", code=start["code"])
        assert r.status_code == 400
        subcodes.append(error_of(r)["error_subcode"])
    assert subcodes == [1349174, 1349172, 1349174]
    assert requests.get(
        f"{graph.url}/{V}/me", headers={"Authorization": "Bearer fresh-token"}, timeout=10
    ).status_code == 401  # fmt: skip
    r = device_post(graph, "login_status", code=start["code"])
    assert r.status_code == 200
    assert r.json()["access_token"] == "fresh-token"
    r = requests.get(
        f"{graph.url}/{V}/me", headers={"Authorization": "Bearer fresh-token"}, timeout=10
    )
    assert r.json()["id"] == "100000001"


def test_device_login_expired_and_bad_inputs(graph: FakeGraph) -> None:
    graph.device_script(["expired"])
    code = device_post(graph, "login").json()["code"]
    r = device_post(graph, "login_status", code=code)
    assert error_of(r)["error_subcode"] == 1349152
    assert error_of(device_post(graph, "login_status", code=code))["error_subcode"] == 1349152
    r = device_post(graph, "login_status", code="not-issued")
    assert (r.status_code, error_of(r)["code"]) == (400, 100)
    r = device_post(graph, "login", access_token=TOKEN)  # a user token is not an app token
    assert (r.status_code, error_of(r)["code"]) == (401, 190)
    with pytest.raises(ValueError):
        graph.device_script(["maybe"])


# --------------------------------------------------------------------------- transport


def test_concurrent_posts_all_counted(graph: FakeGraph) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with requests.Session() as s:
                s.headers["Authorization"] = f"Bearer {TOKEN}"
                data = [capi_event(n * 100 + i) for i in range(50)]
                r = post_events(graph, s, data, dataset=(DS, DS2)[n % 2])
                assert r.json()["events_received"] == 50
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert errors == []
    assert graph.count() == 1000
    assert graph.count(DS) == graph.count(DS2) == 500
    assert len(set(graph.event_ids())) == 1000
    assert len(graph.requests) == 20


def test_keep_alive(graph: FakeGraph, session: requests.Session) -> None:
    for i in range(5):
        r = post_events(graph, session, [capi_event(i)])
        assert r.status_code == 200
        assert r.raw.version == 11
        assert r.headers.get("Connection", "").lower() != "close"
    session.get(f"{graph.url}/{V}/me", timeout=10)
    assert len({q["client"] for q in graph.requests}) == 1


def test_throughput_of_full_batches(graph: FakeGraph, session: requests.Session) -> None:
    data = [capi_event(i) for i in range(1000)]
    start = time.monotonic()
    for _ in range(10):
        assert post_events(graph, session, data).status_code == 200
    # ~50 requests/s of 1000 events is needed; leave slack for a loaded CI machine.
    assert time.monotonic() - start < 2.0
    assert graph.count() == 10_000


def test_runs_by_hand() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakegraph", "--port", "0", "--token", "T", "--dataset", "42"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        r = requests.get(f"{url}/{V}/42", headers={"Authorization": "Bearer T"}, timeout=10)
        assert r.json() == {"id": "42", "name": "Dataset 42"}
        assert (
            requests.get(f"{url}/{V}/{DS}", params={"access_token": "T"}, timeout=10).status_code
            == 400
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # say where it hung rather than only that it did
            proc.send_signal(signal.SIGUSR1)  # the fake prints every thread's stack
            time.sleep(1)
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"the fake did not stop on Ctrl-C; stderr: {err!r}") from None
    assert proc.returncode == 0
    assert "events accepted" in err


# --------------------------------------------------------------------------- token inspection


def debug_token(graph: FakeGraph, session: requests.Session, token: str = TOKEN) -> Any:
    url = f"{graph.url}/{V}/debug_token"
    return session.get(url, params={"input_token": token}, timeout=10)


def test_debug_token_of_a_system_user_token_that_never_expires(
    graph: FakeGraph, session: requests.Session
) -> None:
    data = debug_token(graph, session).json()["data"]
    assert data["app_id"] == APP_ID and data["type"] == "SYSTEM_USER" and data["is_valid"]
    assert data["expires_at"] == 0 and data["data_access_expires_at"] == 0
    assert data["scopes"] == ["ads_management", "public_profile"]  # the granted permissions
    assert [g["scope"] for g in data["granular_scopes"]] == data["scopes"]
    assert "input_token" not in graph.requests[-1]["params"]  # the token is not kept


def test_debug_token_of_a_user_token_expiring_soon_with_its_scopes(
    graph: FakeGraph, session: requests.Session
) -> None:
    graph.describe_token(
        TOKEN, type="USER", expires_in=3 * DAY, data_access_expires_in=90 * DAY,
        scopes=["ads_management", "business_management"],
    )  # fmt: skip
    data = debug_token(graph, session).json()["data"]
    assert (data["type"], data["expires_at"]) == ("USER", NOW + 3 * DAY)
    assert data["data_access_expires_at"] == NOW + 90 * DAY
    assert data["scopes"] == ["ads_management", "business_management"]


def test_an_expired_token_is_refused_everywhere_with_subcode_463(
    graph: FakeGraph, session: requests.Session
) -> None:
    graph.describe_token(TOKEN, type="USER", expires_in=-DAY, expired=True)
    for response in (debug_token(graph, session), session.get(f"{graph.url}/{V}/me", timeout=10)):
        error = error_of(response)
        assert (response.status_code, error["code"], error["error_subcode"]) == (401, 190, 463)
        assert "Session has expired" in error["message"]


def test_debug_token_of_another_token_that_is_not_valid(
    graph: FakeGraph, session: requests.Session
) -> None:
    data = debug_token(graph, session, token="unknown").json()["data"]
    assert data["is_valid"] is False and data["error"]["code"] == 190


# --------------------------------------------------------------------------- dataset quality


def dataset_quality(graph: FakeGraph, session: requests.Session, dataset: str) -> Any:
    fields = "offline{event_name,composite,match_key,frequency,freshness}"
    url = f"{graph.url}/{V}/dataset_quality"
    return session.get(url, params={"dataset_id": dataset, "fields": fields}, timeout=10)


def test_dataset_quality_scores_and_each_way_of_not_having_them(
    graph: FakeGraph, session: requests.Session
) -> None:
    graph.set_quality(DS, [quality_event(composite=8.7)])
    offline = dataset_quality(graph, session, DS).json()["offline"]
    assert offline[0]["composite"]["score"] == 8.7
    assert offline[0]["match_key"]["coverage"] == {"email": 0.81, "phone": 0.64}
    assert set(offline[0]) == {"event_name", "composite", "match_key", "frequency", "freshness"}
    assert "offline" not in dataset_quality(graph, session, DS2).json()  # no beta
    missing = dataset_quality(graph, session, "999")
    assert error_of(missing)["error_subcode"] == NO_SUCH_DATASET
    graph.deny(TOKEN, DS)
    assert error_of(dataset_quality(graph, session, DS))["code"] == 10


# --------------------------------------------------------------------------- appsecret_proof


def test_an_app_that_requires_the_proof(graph: FakeGraph, session: requests.Session) -> None:
    graph.require_app_secret("s3cret")
    me = f"{graph.url}/{V}/me"
    missing = session.get(me, timeout=10)
    assert error_of(missing)["code"] == 100 and "appsecret_proof" in error_of(missing)["message"]
    wrong = session.get(me, params={"appsecret_proof": appsecret_proof(TOKEN, "other")}, timeout=10)
    assert "Invalid appsecret_proof" in error_of(wrong)["message"]
    proof = hmac.new(b"s3cret", TOKEN.encode(), hashlib.sha256).hexdigest()
    assert appsecret_proof(TOKEN, "s3cret") == proof
    assert session.get(me, params={"appsecret_proof": proof}, timeout=10).ok
    body = {"data": [capi_event()], "appsecret_proof": proof}  # in the body works too
    assert session.post(f"{graph.url}/{V}/{DS}/events", json=body, timeout=10).ok
    assert post_events(graph, session, [capi_event(1)]).status_code == 400
    graph.require_app_secret(None)
    assert session.get(me, timeout=10).ok
