"""The legacy Offline Conversions payload (``[destination] api = "offline"``, mapping.md s9).

The golden cases are checked in their legacy form, derived here from golden.json's CAPI
expectations by the renames of section 9 (independently of fbocli.mapping.payload); the CLI runs
end to end against the fake Graph API in ``legacy=True`` mode over real HTTP, with a real
SQLite journal and real subprocesses.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fbocli
from fbocli.api import LEGACY_WARNING
from fbocli.config import parse_settings
from fbocli.journal import Journal
from fbocli.mapping.matchkeys import user_data
from fbocli.mapping.message import Event, MapContext, map_message
from fbocli.mapping.payload import capi_event
from fbocli.settings import DEFAULT_API_VERSION, Settings
from tests.fakegraph import _LEGACY_EVENT_NAMES, FakeGraph, Fault, check_legacy_event
from tests.helpers import (
    NOW_TS,
    SAMPLE_DATASETS,
    TOKEN,
    Run,
    cli_env,
    event_requests,
    fake_graph,
    golden,
    invoke,
    map_golden_case,
    run_cli,
    upload_args,
    write_jsonl,
)

DS1, DS2 = SAMPLE_DATASETS


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- golden


def _settings(config: str, api: str = "offline") -> Settings:
    return parse_settings(tomllib.loads(f'[destination]\napi = "{api}"\n' + config))


def legacy_from_capi(event: dict[str, Any]) -> dict[str, Any]:
    """mapping.md section 9, applied to an expected CAPI event (the test's own oracle)."""
    names = {"em": "email", "ph": "phone", "ge": "gen", "zp": "zip", "external_id": "extern_id"}
    keys: dict[str, Any] = {}
    for key, value in event["user_data"].items():
        if key == "external_id":
            (value,) = value
        elif key == "lead_id":
            value = str(value)
        keys[names.get(key, key)] = value
    out: dict[str, Any] = {
        "match_keys": keys,
        "event_name": event["event_name"]
        if event["event_name"] in _LEGACY_EVENT_NAMES
        else "Other",
        "event_time": event["event_time"],
    }
    custom = dict(event["custom_data"])
    for key in ("currency", "value", "content_type", "content_ids", "contents", "order_id"):
        if key in custom:
            out[key] = custom.pop(key)
    if custom:
        out["custom_data"] = custom
    for key in (
        "data_processing_options",
        "data_processing_options_country",
        "data_processing_options_state",
    ):
        if key in event:
            out[key] = event[key]
    return out


@pytest.mark.parametrize("case", golden()["cases"], ids=lambda c: c["description"][:60])
def test_golden_case_in_legacy_form(case: dict[str, Any]) -> None:
    outcome = map_golden_case(case, api="offline")
    if "reject" in case:
        assert (outcome.status, outcome.reason) == ("rejected", case["reject"])
        return
    assert outcome.status == "accepted", outcome.detail
    got = [{"dataset_id": e.dataset_id, "event": e.to_dict()} for e in outcome.events]
    expected = [
        {"dataset_id": e["dataset_id"], "event": legacy_from_capi(e["event"])}
        for e in case["expected"]
    ]
    assert got == expected
    assert all(check_legacy_event(e["event"], NOW_TS) is None for e in got)  # Meta takes it
    for event, legacy in zip(outcome.events, got, strict=True):
        assert "action_source" not in legacy["event"] and "event_id" not in legacy["event"]
        assert event.event_id == case["input"]["messageId"]  # still computed for the journal


# --------------------------------------------------------------------------- unit rules


BASE_CONFIG = """
[events]
"Order Completed" = "1234567890123456"
"Store Visit" = "1234567890123456"
[lead_events]
"Lead Captured" = "1234567890123456"
"""


def _convert(
    message: dict[str, Any], config: str = BASE_CONFIG, api: str = "offline"
) -> list[Event]:
    outcome = map_message(message, MapContext(_settings(config, api), NOW_TS), "t.jsonl", 1)
    assert outcome.status == "accepted", outcome.detail
    return outcome.events


def _both(message: dict[str, Any], config: str = BASE_CONFIG) -> tuple[Event, dict[str, Any]]:
    """The message's one event in the legacy dialect, and its Conversions API form."""
    (legacy,) = _convert(message, config)
    (capi,) = _convert(message, config, "conversions")
    assert (legacy.event_name, legacy.event_id) == (capi.event_name, capi.event_id)
    return legacy, capi.to_dict()


def _track(event: str = "Store Visit", **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": "m-1",
        "timestamp": "2026-11-10T12:00:00Z",
        "userId": "hamsolo813",
        "properties": {"order_id": "o-1", "revenue": 10, "aisle": 7},
        "context": {"traits": {"email": "ham@solo.com"}},
    }
    message.update(extra)
    return message


def test_custom_event_is_sent_as_other_but_journaled_under_its_name() -> None:
    conv, capi = _both(_track("Store Visit"))
    event = conv.to_dict()
    assert event["event_name"] == "Other"
    assert capi["event_name"] == "Store Visit"
    assert (conv.event_name, conv.event_id) == ("Store Visit", "m-1")
    assert event["custom_data"] == {"revenue": 10, "aisle": 7}  # not the value source here
    assert event["order_id"] == "o-1" and event["currency"] == "USD"


def test_standard_names_are_kept() -> None:
    (purchase,) = _convert(_track("Order Completed"))
    (lead,) = _convert(_track("Lead Captured"))
    assert purchase.to_dict()["event_name"] == "Purchase"
    assert purchase.to_dict()["value"] == 10
    assert lead.to_dict()["event_name"] == "Lead"


@pytest.mark.parametrize(
    ("birthday", "year", "month", "day"),
    [
        # Meta's archived uploader sent exactly these for 01/08/1980 (its e2e api.log).
        ("01/08/1980", "1980", "01", "08"),
        ("1980-07-22", "1980", "07", "22"),
        ("1980_07_22", "1980", "07", "22"),
    ],
)
def test_birthday_becomes_doby_dobm_dobd(birthday: str, year: str, month: str, day: str) -> None:
    message = _track(context={"traits": {"email": "ham@solo.com", "birthday": birthday}})
    conv, capi = _both(message)
    keys = conv.to_dict()["match_keys"]
    assert (keys["doby"], keys["dobm"], keys["dobd"]) == (sha(year), sha(month), sha(day))
    assert "db" not in keys
    assert capi["user_data"]["db"] == sha(year + month + day)
    assert not {"doby", "dobm", "dobd"} & capi["user_data"].keys()
    # the legacy user data, even were it laid out as a Conversions API event
    legacy_user, _ = user_data(
        message, {}, _settings(BASE_CONFIG).mapping, this_year=2026, offline=True
    )
    assert {"doby", "dobm", "dobd", "db"} <= legacy_user.keys()
    laid_out = capi_event("Purchase", NOW_TS, "m-1", legacy_user, {}, None)["user_data"]
    assert laid_out["db"] == sha(year + month + day)
    assert not {"doby", "dobm", "dobd"} & laid_out.keys()


def test_meta_uploader_birthday_vectors() -> None:
    """Hashes from facebookarchive/offline-conversion-file-uploader e2e-test/case-1-2."""
    (conv,) = _convert(_track(context={"traits": {"birthday": "01/08/1980"}}))
    keys = conv.to_dict()["match_keys"]
    assert keys["doby"] == "051c2e380d07844ffaca43743957f8c0efe2bdf74c6c1e6a9dcccb8d1a3c596b"
    assert keys["dobm"] == "938db8c9f82c8cb58d3f3ef4fd250036a48d26a712753d2fde5abd03a85cabf4"
    assert keys["dobd"] == "323783be9a53a31e158ec9600626a4703e99f4e183bc1acb8772cbdf5c3a1ece"


def test_prehashed_birthday_alone_is_no_match_keys_in_offline_mode() -> None:
    message = _track(context={"traits": {"birthday": sha("19800108")}})
    del message["userId"]
    outcome = map_message(message, MapContext(_settings(BASE_CONFIG), NOW_TS))
    assert (outcome.status, outcome.reason) == ("rejected", "no_match_keys")


def test_extern_id_and_lead_id() -> None:
    message = _track(
        context={
            "traits": {"phone": "(401) 123-4567"},
            "Facebook Offline Conversions": {"leadId": "l:4455667788"},
        }
    )
    conv, capi = _both(message)
    keys = conv.to_dict()["match_keys"]
    assert keys == {
        "phone": [sha("14011234567")],
        "extern_id": sha("hamsolo813"),
        "lead_id": "4455667788",
    }
    assert capi["user_data"]["lead_id"] == 4455667788
    plain = BASE_CONFIG + "[mapping]\nhash_external_id = false\n"
    (conv,) = _convert(message, plain)
    assert conv.to_dict()["match_keys"]["extern_id"] == "hamsolo813"


def test_ldu_fields_are_top_level() -> None:
    config = BASE_CONFIG + "[mapping]\nlimited_data_use = true\n"
    message = _track(
        integrations={"Facebook Offline Conversions": {"dataProcessingOptions": [["LDU"], 1, 1000]}}
    )
    (conv,) = _convert(message, config)
    event = conv.to_dict()
    assert event["data_processing_options"] == ["LDU"]
    assert event["data_processing_options_country"] == 1
    assert event["data_processing_options_state"] == 1000


@pytest.mark.parametrize(
    ("config", "graph_url", "warns"),
    [
        ('[destination]\napi = "offline"\n', None, True),
        ('[destination]\napi = "offline"\ngraph_url = "https://GRAPH.facebook.com/"\n', None, True),
        ('[destination]\napi = "offline"\n', "http://127.0.0.1:9", False),
        ('[destination]\napi = "offline"\ngraph_url = "https://proxy.example.com"\n', None, False),
        ("[destination]\n", None, False),
    ],
)
def test_legacy_warning(tmp_path: Path, config: str, graph_url: str | None, warns: bool) -> None:
    settings = parse_settings(tomllib.loads(config + BASE_CONFIG), graph_url=graph_url)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    warnings: list[str] = []
    fbocli.validate([empty], settings, warn=warnings.append, state_dir=tmp_path / "s")
    fbocli.upload([empty], settings, dry_run=True, warn=warnings.append, state_dir=tmp_path / "s")
    legacy = [warning for warning in warnings if warning == LEGACY_WARNING]
    assert legacy == ([LEGACY_WARNING] * 2 if warns else [])
    assert warnings.count(f"{empty}: no records (the input is empty)") == 2
    text = LEGACY_WARNING
    assert "graph.facebook.com" in text and "14 May 2025" in text and "offline" in text


# --------------------------------------------------------------------------- the CLI


def legacy_messages(n: int) -> list[dict[str, Any]]:
    """``n`` valid tracks of assorted kinds; every third has no messageId (content hash)."""
    kinds = ["Order Completed", "Store Visit", "Lead Captured"]
    messages = []
    for i in range(n):
        message: dict[str, Any] = {
            "type": "track",
            "event": kinds[i % 3],
            "timestamp": NOW_TS - 86400 - i * 60,
            "userId": f"user-{i}",
            "properties": {"order_id": f"order-{i}", "revenue": i % 50 + 1, "store": "s1"},
            "context": {"traits": {"email": f"u{i}@example.com", "birthday": "1980-07-22"}},
        }
        if i % 3:
            message["messageId"] = f"msg-{i}"
        messages.append(message)
    return messages


def write_legacy_events(path: Path, n: int) -> list[dict[str, Any]]:
    messages = legacy_messages(n)
    write_jsonl(path, messages)
    return messages


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    config = tmp_path / "fbocli.toml"
    config.write_text(
        '[destination]\napi = "offline"\nupload_tag = "legacy-test"\n'
        'test_event_code = "TEST123"\n' + BASE_CONFIG
    )
    return tmp_path


def run(workdir: Path, command: str, *args: str, graph_url: str = "") -> Run:
    """``fbocli COMMAND in.jsonl -c fbocli.toml --now NOW --json -q ARGS`` in ``workdir``."""
    config = workdir / "fbocli.toml"
    argv = upload_args(workdir / "in.jsonl", config, "--json", "-q", *args, command=command)
    result = run_cli(argv, cli_env(workdir, graph_url))
    assert TOKEN not in result.stdout + result.stderr
    return result


@pytest.mark.slow  # fbocli as a process
def test_dry_run_writes_legacy_bodies_in_batches_of_2000(workdir: Path) -> None:
    messages = write_legacy_events(workdir / "in.jsonl", 4001)
    out = workdir / "requests.jsonl"
    result = run(workdir, "upload", "--dry-run", "--output", str(out), "--batch-size", "2000")
    assert result.code == 0, result.stderr
    assert result.summary["events"]["sent"] == 4001
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [len(line["body"]["data"]) for line in lines] == [2000, 2000, 1]
    for line in lines:
        assert line["url"] == f"https://graph.facebook.com/{DEFAULT_API_VERSION}/{DS1}/events"
        assert list(line["body"]) == ["upload_tag", "data"]  # no test_event_code in legacy
        assert line["body"]["upload_tag"] == "legacy-test"
    events = [e for line in lines for e in line["body"]["data"]]
    assert [e["order_id"] for e in events] == [m["properties"]["order_id"] for m in messages]
    assert {e["event_name"] for e in events} == {"Purchase", "Other", "Lead"}
    for event in events:
        assert not {"action_source", "event_id", "user_data"} & event.keys()
        assert event["match_keys"]["doby"] == sha("1980")
        assert isinstance(event["match_keys"]["extern_id"], str)
        assert event["currency"] == "USD"
        if event["event_name"] == "Purchase":  # revenue became the top-level value
            assert event["custom_data"] == {"store": "s1"} and event["value"] >= 1
        else:
            assert set(event["custom_data"]) == {"store", "revenue"} and "value" not in event


@pytest.mark.parametrize(("api", "size", "code"), [("offline", 2001, 2), ("conversions", 2000, 2)])
def test_batch_size_limits(tmp_path: Path, api: str, size: int, code: int) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[destination]\napi = "{api}"\n' + BASE_CONFIG)
    write_legacy_events(tmp_path / "in.jsonl", 3)
    args = upload_args(tmp_path / "in.jsonl", config, "--dry-run", "--batch-size", str(size))
    result = invoke(args, tmp_path / "state")
    assert result.exit_code == code
    limit = 2000 if api == "offline" else 1000
    assert f"between 1 and {limit}" in result.stderr


@pytest.mark.slow  # fbocli as a process
def test_validate_works_in_offline_mode(workdir: Path) -> None:
    write_legacy_events(workdir / "in.jsonl", 30)
    result = run(workdir, "validate")
    assert result.code == 0, result.stderr
    data = result.summary
    assert data["records"]["accepted"] == 30 and data["events"]["sent"] == 30


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with fake_graph(datasets=[DS1, DS2], legacy=True) as graph:
        yield graph


@pytest.mark.slow  # fbocli as a process
def test_upload_through_the_legacy_fake_then_rerun_is_already_sent(
    workdir: Path, fake: FakeGraph
) -> None:
    n = 2500
    messages = write_legacy_events(workdir / "in.jsonl", n)
    result = run(workdir, "upload", graph_url=fake.url)
    assert result.code == 0, result.stderr
    data = result.summary
    assert data["events"] == {
        "built": n,
        "sent": n,
        "already_sent": 0,
        "api_rejected": 0,
        "failed": 0,
    }
    assert "discontinued" not in result.stderr  # graph_url is not graph.facebook.com
    posts = event_requests(fake)
    assert sorted(r["events"] for r in posts) == [500, 2000]  # default: the 2000 maximum
    assert all(r["status"] == 200 and r["params"]["upload_tag"] == "legacy-test" for r in posts)
    assert all("test_event_code" not in r["params"] for r in posts)
    # The fake deduplicates legacy events by order_id: each was delivered exactly once.
    assert sorted(fake.event_ids(DS1)) == sorted(m["properties"]["order_id"] for m in messages)
    with Journal(workdir / "state" / "journal.sqlite3") as journal:
        assert journal.count() == n
        journaled = journal.already_sent(DS1, [("Store Visit", "msg-1"), ("Other", "msg-1")])
        assert set(journaled) == {("Store Visit", "msg-1")}  # the journal keeps the real name

    again = run(workdir, "upload", graph_url=fake.url)
    assert again.code == 0, again.stderr
    assert again.summary["events"]["already_sent"] == n
    assert again.summary["events"]["sent"] == 0
    assert len(event_requests(fake)) == len(posts)


@pytest.mark.parametrize(
    "reply",
    [
        {"id": "900000000000001", "num_processed_entries": 4},
        {"events_received": 5, "messages": []},  # a CAPI-shaped success is no legacy receipt
    ],
    ids=["short-count", "capi-shape"],
)
@pytest.mark.slow  # fbocli as a process
def test_unconfirmed_success_counts_as_failed(
    workdir: Path, fake: FakeGraph, reply: dict[str, Any]
) -> None:
    write_legacy_events(workdir / "in.jsonl", 5)
    fake.inject(Fault.reply(reply))
    result = run(workdir, "upload", graph_url=fake.url)
    assert result.code == 1
    assert result.summary["events"]["failed"] == 5
    with Journal(workdir / "state" / "journal.sqlite3") as journal:
        assert journal.count() == 0  # not acknowledged: a re-run sends them
    again = run(workdir, "upload", graph_url=fake.url)
    assert again.code == 0, again.stderr
    assert again.summary["events"]["sent"] == 5
    assert fake.count(DS1) == 5


@pytest.mark.slow  # fbocli as a process
def test_validate_warns_when_legacy_mode_targets_meta(workdir: Path) -> None:
    write_legacy_events(workdir / "in.jsonl", 3)
    result = run(workdir, "validate")
    assert result.code == 0, result.stderr
    assert "discontinued on 14 May 2025" in result.stderr
    assert json.loads(result.stdout)["events"]["sent"] == 3  # stdout stays pure JSON
