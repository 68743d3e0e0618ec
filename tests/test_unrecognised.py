"""Values the match keys could not use are counted and shown, never silently dropped.

A country, a US or Canadian state or a gender not recognised (with its value), an email
that is not an address, a phone that is not a possible number, a birthday that is not a
date (counted, never printed: personal data), and the records read in the default region
because their country was not recognised: in the outcome of each record, counted per
chunk, merged into the run summary whatever the chunks, and shown by ``validate``, by
``upload`` and in ``--json`` (``unrecognised``, ``region_fallback``).
"""

from __future__ import annotations

import json
import pickle
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fbocli.chunks import map_chunk
from fbocli.config import parse_settings
from fbocli.inputs.reader import Chunk
from fbocli.inputs.record import Record
from fbocli.mapping.matchkeys import NO_NOTES, NOT_SHOWN, why_no_keys
from fbocli.mapping.message import MapContext, map_message
from fbocli.stats import MAX_UNRECOGNISED_VALUES, OTHER_VALUES, RunSummary
from tests.helpers import (
    DS1,
    NOW,
    NOW_TS,
    cli_env,
    fake_graph,
    invoke,
    summary,
    write_config,
    write_jsonl,
)

SECRET_EMAIL = "jane.doe(at)example.com"  # invalid, and personal: never printed by a report
SECRET_PHONE = "555-01"  # impossible, and personal
SECRET_BIRTHDAY = "1799-07-04"


def _track(n: int, traits: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"m{n}",
        "timestamp": NOW_TS - 3600,
        "properties": {"revenue": 5},
        "context": {"traits": traits},
        **fields,
    }


def _context(default_country: str = "US") -> MapContext:
    config = f"""
[events]
"Order Completed" = "{DS1}"
[mapping]
default_country = "{default_country}"
"""
    return MapContext(parse_settings(tomllib.loads(config)), NOW_TS)


# --- what a record's outcome says ----------------------------------------------------------


def test_a_clean_record_carries_no_notes() -> None:
    traits = {
        "email": "a@b.co",
        "phone": "(401) 555-0143",
        "gender": "Female",
        "birthday": "1990-12-31",
        "address": {"country": "England", "state": "Rhode Island", "postalCode": "SW1A 1AA"},
    }
    outcome = map_message(_track(1, traits), _context())
    assert outcome.status == "accepted"
    assert outcome.notes is NO_NOTES


@pytest.mark.parametrize(
    ("traits", "notes"),
    [
        ({"address": {"country": "Narnia"}}, [("country", "Narnia")]),
        ({"address": {"country": " Narnia  "}}, [("country", "Narnia")]),  # trimmed
        (
            {"address": {"country": "Narnia", "postalCode": "2116"}},
            [("country", "Narnia"), ("region", "us")],
        ),
        (
            {"phone": "555 123 4567", "address": {"country": "Narnia"}},
            [("country", "Narnia"), ("region", "us")],
        ),
        ({"address": {"state": "Tex."}}, [("state", "Tex.")]),
        ({"address": {"state": "Bayern", "country": "DE"}}, []),  # outside US/CA: a name
        ({"address": {"state": "Ontario", "country": "CA"}}, []),
        ({"gender": "x"}, [("gender", "x")]),
        ({"gender": "Mr."}, [("gender", "Mr.")]),
        ({"email": SECRET_EMAIL}, [("email", "invalid")]),
        ({"email": ["a@b.co", SECRET_EMAIL]}, [("email", "invalid")]),  # one of a list
        ({"email": "  "}, []),  # blank is absent, not invalid
        ({"phone": SECRET_PHONE}, [("phone", "impossible")]),
        ({"phone": ["(401) 555-0143", "12"]}, [("phone", "impossible")]),
        ({"phone": "020 7946 0958", "address": {"country": "GB"}}, []),
        ({"birthday": SECRET_BIRTHDAY}, [("birthday", "invalid")]),
        ({"birthday": "F" * 64}, []),  # pre-hashed
        # a column out of place: what looks like an email or a phone is not shown
        ({"address": {"country": "jane.doe@example.com"}}, [("country", NOT_SHOWN)]),
        ({"address": {"country": "02818"}}, [("country", NOT_SHOWN)]),
        ({"address": {"state": "12 Main St"}}, [("state", "12 Main St")]),
        ({"address": {"state": "123 Main St"}}, [("state", NOT_SHOWN)]),
        ({"gender": "jo@x.io"}, [("gender", NOT_SHOWN)]),
        ({"address": {"country": "F" * 64, "state": "RI"}}, []),  # pre-hashed
    ],
)
def test_the_outcome_notes_what_was_not_used(
    traits: dict[str, Any], notes: list[tuple[str, str]]
) -> None:
    outcome = map_message(_track(1, {**traits, "firstName": "Jo"}), _context())
    assert outcome.status == "accepted"
    assert sorted(outcome.notes) == sorted(notes)


def test_without_a_default_country_the_fallback_is_no_region() -> None:
    traits = {"phone": "020 7946 0958", "address": {"country": "Narnia"}}
    outcome = map_message(_track(1, {**traits, "firstName": "Jo"}), _context(""))
    assert ("region", "") in outcome.notes


def test_a_keyless_record_says_what_it_had_without_personal_values() -> None:
    traits = {
        "email": SECRET_EMAIL,
        "phone": SECRET_PHONE,
        "firstName": "123",
        "gender": "x",
        "birthday": SECRET_BIRTHDAY,
        "address": {"country": "Narnia", "state": "!!", "postalCode": "--"},
    }
    outcome = map_message(_track(1, traits), _context())
    assert (outcome.status, outcome.reason) == ("rejected", "no_match_keys")
    assert outcome.detail == (
        "nothing usable: email is not an address; phone is not a possible phone number; "
        'firstName has no letters; address.state "!!" has no letters; '
        "address.postalCode has nothing a zip code keeps; "
        'address.country "Narnia" is not a country; '
        'gender "x" is not a gender Meta takes (m or f); '
        "birthday is not a date from 1900 to 2026"
    )
    assert ("email", "invalid") in outcome.notes and ("country", "Narnia") in outcome.notes
    for secret in (SECRET_EMAIL, SECRET_PHONE, SECRET_BIRTHDAY):
        assert secret not in outcome.detail


def test_a_record_with_nothing_says_so() -> None:
    outcome = map_message(_track(1, {}), _context())
    assert outcome.detail == "no email, phone, name, address, userId or lead id"
    assert why_no_keys({"userId": True}, {}, 2026) == (
        "nothing usable: userId is empty or not text or a number"
    )


# --- counting: per chunk, merged -------------------------------------------------------------


def _records(messages: list[dict[str, Any]]) -> list[Record]:
    return [Record("in.jsonl", n, message) for n, message in enumerate(messages, 1)]


def _merged(ctx: MapContext, records: list[Record], size: int) -> RunSummary:
    run = RunSummary(now=ctx.now)
    for start in range(0, len(records), size):
        chunk = Chunk("in.jsonl", records[start].line, records[start : start + size])
        run.merge(pickle.loads(pickle.dumps(map_chunk(ctx, chunk))).counts)  # as from a worker
    return run


def _view(run: RunSummary) -> dict[str, Any]:
    data = run.to_dict()
    return {
        "unrecognised": data["unrecognised"],
        "region_fallback": data["region_fallback"],
        "examples": run.unrecognised_examples,
        "records": data["records"],
    }


def _mixed() -> list[dict[str, Any]]:
    messages = []
    for n in range(40):
        traits: dict[str, Any] = {"firstName": "Jo", "address": {}}
        if n % 3 == 0:
            traits["address"] = {"country": f"Narnia {n % 2}", "postalCode": "02818"}
        if n % 4 == 0:
            traits["email"] = SECRET_EMAIL
        if n % 5 == 0:
            traits["address"]["state"] = "Tex."
        if n % 7 == 0:
            traits = {"phone": SECRET_PHONE}  # keyless: rejected, still counted
        messages.append(_track(n, traits))
    return messages


def test_counts_and_examples_do_not_depend_on_the_chunks() -> None:
    ctx, records = _context(), _records(_mixed())
    whole = _merged(ctx, records, 1000)
    assert whole.unrecognised["country"] == {"Narnia 0": 6, "Narnia 1": 6}
    assert whole.unrecognised["email"] == {"invalid": 8}
    assert whole.unrecognised["phone"] == {"impossible": 6}
    assert whole.unrecognised["state"]["Tex."] == 6
    assert whole.region_fallback == {"us": 12}
    assert whole.unrecognised_examples["country", "Narnia 1"] == [
        "in.jsonl:4",
        "in.jsonl:10",
        "in.jsonl:16",
    ]
    assert whole.rejected == 6
    for size in (1, 2, 3, 7):
        assert _view(_merged(ctx, records, size)) == _view(whole)


def test_distinct_values_are_capped_but_every_record_is_counted() -> None:
    ctx = _context()
    messages = [_track(n, {"firstName": "Jo", "address": {"country": f"X{n}"}}) for n in range(150)]
    records = _records(messages)
    for size in (1000, 13):
        run = _merged(ctx, records, size)
        countries = run.unrecognised["country"]
        assert len(countries) == MAX_UNRECOGNISED_VALUES + 1
        assert "X0" in countries and "X99" in countries and "X100" not in countries
        assert countries[OTHER_VALUES] == 50
        assert sum(countries.values()) == 150
        assert run.unrecognised_examples["country", OTHER_VALUES] == [
            "in.jsonl:101",
            "in.jsonl:102",
            "in.jsonl:103",
        ]


def test_a_long_value_is_cut_short() -> None:
    outcome = map_message(
        _track(1, {"firstName": "Jo", "address": {"country": "N" * 500}}), _context()
    )
    ((_, shown),) = outcome.notes
    assert len(shown) == 80 and shown.endswith("…")


# --- what the user sees ----------------------------------------------------------------------


@pytest.fixture
def messy(tmp_path: Path) -> tuple[Path, Path]:
    """A config and an input with every kind of value not recognised."""
    config = write_config(tmp_path / "fbocli.toml")
    rows = [
        _track(
            1, {"email": "ok@example.com", "address": {"country": "Narnia", "postalCode": "2116"}}
        ),
        _track(2, {"email": SECRET_EMAIL, "phone": SECRET_PHONE}),  # keyless: rejected
        _track(3, {"email": "ok3@example.com", "gender": "x", "address": {"state": "Tex."}}),
        _track(4, {"email": "ok4@example.com", "birthday": SECRET_BIRTHDAY}),
        _track(5, {"email": "ok5@example.com", "address": {"country": "Narnia"}}),
    ]
    return config, write_jsonl(tmp_path / "messy.jsonl", rows)


def _never_printed(text: str) -> None:
    for secret in (SECRET_EMAIL, SECRET_PHONE, SECRET_BIRTHDAY, "555 01", "55501"):
        assert secret not in text


def test_validate_reports_the_values_not_recognised(
    messy: tuple[Path, Path], tmp_path: Path
) -> None:
    config, data = messy
    result = invoke(["validate", str(data), "-c", str(config), "--now", NOW], tmp_path / "state")
    assert result.exit_code == 1  # the keyless record
    out = result.stdout
    section = out[out.index("Values not recognised") :].split("\n\n")[0]
    lines = section.splitlines()
    assert "what fbocli did" in lines[1] and "first examples (file:line)" in lines[1]
    expected_rows = [
        ("country", "'Narnia'", "2", "not a country fbocli knows: not sent", "messy.jsonl:1"),
        ("state", "'Tex.'", "1", "not a US or Canadian state", "messy.jsonl:3"),
        ("gender", "'x'", "1", "not a word for male or female: not sent", "messy.jsonl:3"),
        ("email", "(values not shown)", "1", "not an email address: not sent", "messy.jsonl:2"),
        ("phone", "(values not shown)", "1", "not a possible phone number", "messy.jsonl:2"),
        ("birthday", "(values not shown)", "1", "not a date from 1900", "messy.jsonl:4"),
        ("region", "US", "1", "phone, state and zip read in US (default_country)", "messy.jsonl:1"),
    ]
    for row in expected_rows:
        assert any(all(cell in line for cell in row) for line in lines), row
    assert "messy.jsonl:5" in section  # the second example of Narnia, on its own line
    # the keyless record's example names what it had, without the values
    assert "messy.jsonl:2: nothing usable: email is not an address; phone is not a" in out
    _never_printed(out + result.stderr)


def test_validate_json_has_the_counts_without_personal_values(
    messy: tuple[Path, Path], tmp_path: Path
) -> None:
    config, data = messy
    args = ["validate", str(data), "-c", str(config), "--now", NOW, "--json"]
    result = invoke(args, tmp_path / "state")
    found = summary(result)  # (the invariants hold)
    assert found["unrecognised"] == {
        "birthday": {"invalid": 1},
        "country": {"Narnia": 2},
        "email": {"invalid": 1},
        "gender": {"x": 1},
        "phone": {"impossible": 1},
        "state": {"Tex.": 1},
    }
    assert found["region_fallback"] == {"us": 1}
    _never_printed(result.stdout + result.stderr)
    # The rejects file holds the record itself (and the detail still no value).
    (line,) = Path(found["rejects_file"]).read_text("utf-8").splitlines()
    rejected = json.loads(line)
    assert rejected["record"]["context"]["traits"]["email"] == SECRET_EMAIL
    assert SECRET_EMAIL not in rejected["detail"]


def test_a_clean_run_reports_nothing_of_the_kind(tmp_path: Path) -> None:
    config = write_config(tmp_path / "fbocli.toml")
    data = write_jsonl(tmp_path / "ok.jsonl", [_track(1, {"email": "a@b.co"})])
    args = ["validate", str(data), "-c", str(config), "--now", NOW]
    result = invoke(args, tmp_path / "state")
    assert result.exit_code == 0 and "Values not recognised" not in result.stdout
    found = summary(invoke([*args, "--json"], tmp_path / "state"))
    assert found["unrecognised"] == {} and found["region_fallback"] == {}


def test_the_upload_summary_reports_them_too(messy: tuple[Path, Path], tmp_path: Path) -> None:
    config, data = messy
    with fake_graph() as graph:
        env = cli_env(tmp_path, graph.url)
        args = ["upload", str(data), "-c", str(config), "--now", NOW]
        result = invoke(args, tmp_path / "state", env=env)
        assert result.exit_code == 0, result.stderr
        assert sum(len(events) for events in graph.received.values()) == 4 * 2  # two datasets
        out = result.stdout
        assert "Values not recognised" in out and "'Narnia'" in out and "(values not shown)" in out
        _never_printed(out + result.stderr)
        again = invoke([*args, "--json", "--force"], tmp_path / "state", env=env)
        found = summary(again)
        assert found["unrecognised"]["country"] == {"Narnia": 2}
        assert found["region_fallback"] == {"us": 1}
