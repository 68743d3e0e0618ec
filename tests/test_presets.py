"""The exports stores have (inputs.md section 1, issue 16): every preset's sample gives
exactly its expected events, presets are found by their header, and each preset's
rules hold on their own."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fbocli.config import parse_settings, starter_config
from fbocli.inputs.presets import ALL, BY_NAME, choose, preset_config
from fbocli.settings import PRESETS
from tests.helpers import (
    NOW,
    PRESETS_CONFIG,
    ROOT,
    SAMPLES,
    event_facts,
    invoke,
    request_events,
    sample_expectations,
    summary,
)

EXPORTS = [name for name, facts in sample_expectations().items() if "preset" in facts]


def utc(year: int, month: int, day: int, hour: int) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp())


def run_sample(name: str, state: Path, *extra: str, config: Path = PRESETS_CONFIG) -> Any:
    facts = sample_expectations()[name]
    args = [str(SAMPLES / name), "-c", str(config), "--now", NOW, *extra]
    customers = [a.replace("sample_data/", f"{SAMPLES}/") for a in facts["args"]]
    return invoke(["upload", *args, *customers, "--dry-run"], state)


def test_there_is_a_sample_for_every_preset() -> None:
    assert {sample_expectations()[name]["preset"] for name in EXPORTS} == set(PRESETS)


@pytest.mark.parametrize("name", EXPORTS)
def test_a_sample_gives_exactly_its_expected_events(name: str, tmp_path: Path) -> None:
    """One event per real sale, with its value (refunds subtracted), currency, time (its
    zone honoured), order id, contents and match keys; what is not a sale is skipped
    and listed; read == accepted + rejected + skipped."""
    facts = sample_expectations()[name]
    out = tmp_path / "requests.jsonl"
    result = run_sample(name, tmp_path / "state", "--output", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    data = summary(result)
    assert data["records"] == facts["records"]
    assert data["reasons"] == facts["reasons"]
    assert data["skips"] == facts["skips"]
    assert data["events"]["built"] == facts["events_built"]
    (csv,) = data["csv"]
    assert csv["preset"] == facts["preset"]
    assert (csv["rows"], csv["orders"]) == (facts["rows"], facts["orders"])
    assert csv["rows"] == csv["orders"] + csv["grouped_rows"]  # every row in one record
    sent = [event_facts(dataset, event) for dataset, event in request_events(out)]
    expected = facts["events"]
    for event in expected:  # only what the sample states (a hash where it gives one)
        event["em"] = event["em"] or next(
            (e["em"] for e in sent if e["event_id"] == event["event_id"]), []
        )
        event["ph"] = event["ph"] or next(
            (e["ph"] for e in sent if e["event_id"] == event["event_id"]), []
        )
    assert sorted(sent, key=_key) == sorted(expected, key=_key)
    assert f"preset {facts['preset']}" in result.stderr  # the choice, on stderr


def _key(event: dict[str, Any]) -> tuple[str, str]:
    return (event["dataset"], event["event_id"])


@pytest.mark.parametrize("name", EXPORTS)
def test_validate_reports_the_preset_its_orders_and_what_is_not_sent(
    name: str, tmp_path: Path
) -> None:
    facts = sample_expectations()[name]
    args = [str(SAMPLES / name), "-c", str(PRESETS_CONFIG), "--now", NOW]
    args += [a.replace("sample_data/", f"{SAMPLES}/") for a in facts["args"]]
    result = invoke(["validate", *args], tmp_path / "state")
    out = result.stdout
    assert f"preset {facts['preset']}: its header has" in out
    assert "CSV columns of" in out and "(read by the preset: " in out
    assert f"rowsread{facts['rows']}" in out.replace(" ", "")
    for reason in facts["skips"]:
        assert f"{reason}:" in out  # the causes, counted
    assert result.exit_code == (1 if facts["reasons"] else 0)


@pytest.mark.parametrize("preset", PRESETS)
def test_init_preset_writes_a_config_that_works_with_its_export(
    preset: str, tmp_path: Path
) -> None:
    path = tmp_path / "fbocli.toml"
    result = invoke(["init", str(path), "--preset", preset])
    assert result.exit_code == 0, result.stderr
    assert BY_NAME[preset].menu in result.stdout
    settings = parse_settings(tomllib.loads(path.read_text("utf-8")))
    assert settings.csv.preset == preset
    assert bool(settings.destination.dataset) == BY_NAME[preset].native
    for name in (n for n in EXPORTS if sample_expectations()[n]["preset"] == preset):
        data = summary(run_sample(name, tmp_path / "state", "--json", config=path))
        assert data["records"] == sample_expectations()[name]["records"]


def test_init_preset_edits_the_one_starter_config() -> None:
    """Generated from config.example.toml (no second copy): only the preset lines
    differ, and every anchor the edits need is there."""
    starter = starter_config()
    assert starter == (ROOT / "config.example.toml").read_text("utf-8")
    for preset in PRESETS:
        written = preset_config(preset, starter).splitlines()
        changed = [line for line in written if line not in starter.splitlines()]
        assert f'preset = "{preset}"' in changed
        assert len(changed) <= 4
    with pytest.raises(ValueError):
        preset_config("shopify", starter.replace('preset = "auto"', ""))


# --- detection ------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ALL, ids=lambda p: p.name)
def test_each_signature_picks_its_preset(preset: Any) -> None:
    for signature in preset.signatures:
        headers = ["Notes", *reversed(signature), "Other"]
        assert choose(headers, "auto").preset is preset
        assert choose([h.upper() for h in headers], "auto").preset is preset  # case
    assert choose(["Name", "Email", "Total"], "auto").preset is None
    assert choose(list(preset.signatures[0]), "none").preset is None
    assert choose(["a"], preset.name).preset is preset


def test_preset_none_reads_by_common_names_and_columns_win_over_a_preset(
    tmp_path: Path,
) -> None:
    sample = SAMPLES / "shopify-orders.csv"
    data = summary(run_sample("shopify-orders.csv", tmp_path / "s", "--json", "--preset", "none"))
    assert data["csv"][0]["preset"] is None
    assert data["records"]["read"] == 19  # every row is a record: no orders
    config = tmp_path / "c.toml"
    config.write_text(
        PRESETS_CONFIG.read_text() + '\n[csv.columns]\norder_id = "Id"\n', encoding="utf-8"
    )
    out = tmp_path / "r.jsonl"
    result = invoke(
        ["upload", str(sample), "-c", str(config), "--now", NOW, "--dry-run", "--output",
         str(out)],
        tmp_path / "s",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    ids = {event["custom_data"]["order_id"] for _, event in request_events(out)}
    assert ids and all(i.isdigit() for i in ids)  # Shopify's numeric Id, not Name


# --- each preset's rules, on small files -----------------------------------------------


def write(tmp_path: Path, name: str, header: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def dry_run(path: Path, tmp_path: Path, *extra: str) -> tuple[dict[str, Any], list[Any], str]:
    out = tmp_path / "out.jsonl"
    result = invoke(
        ["upload", str(path), "-c", str(PRESETS_CONFIG), "--now", NOW, "--dry-run", "--json",
         "--output", str(out), *extra],
        tmp_path / "state",
    )  # fmt: skip
    data = summary(result)
    events = [event for _, event in request_events(out)] if out.exists() else []
    return data, events, result.stderr


SHOPIFY = "Name,Email,Financial Status,Paid at,Currency,Total,Refunded Amount,Cancelled at,Lineitem name,Lineitem quantity,Lineitem price,Lineitem sku"  # noqa: E501


def test_shopify_total_is_counted_once_and_a_refund_in_full_is_not_a_sale(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "orders_export.csv",
        SHOPIFY,
        "#1,a@x.co,paid,2026-11-18 10:00:00 +0100,EUR,30.00,,,A,1,10.00,S-A",
        "#1,,,,,,,,B,2,10.00,S-B",
        "#2,b@x.co,partially_refunded,2026-11-18 11:00:00 +0100,EUR,50.00,50.00,,C,1,50,S-C",
        "#3,c@x.co,paid,2026-11-18 12:00:00 +0100,EUR,15.00,,,D,1,15,",
    )
    data, events, _ = dry_run(path, tmp_path)
    assert data["records"] == {"read": 3, "accepted": 2, "rejected": 0, "skipped": 1}
    first, third = events
    assert first["custom_data"]["value"] == 30.0  # once, not once per line item
    assert first["event_time"] == utc(2026, 11, 18, 9)  # 10:00 at +01:00 is 09:00 UTC
    assert [c["id"] for c in first["custom_data"]["contents"]] == ["S-A", "S-B"]
    assert "contents" not in third["custom_data"]  # a line item without a SKU: no entry
    assert data["csv"][0]["skipped"] == [
        {"reason": "not_a_sale", "cause": "refunded in full (50.00)", "orders": 1}
    ]


def test_square_time_needs_a_zone_it_knows(tmp_path: Path) -> None:
    header = "Date,Time,Time Zone,Total Collected,Transaction ID,Event Type,Customer ID"
    path = write(
        tmp_path,
        "transactions.csv",
        header,
        "2026-11-18,09:00:00,Narnia Time,$5.00,T1,Payment,C1",
        "11/18/2026,9:00:00 AM,Paris,$5.00,T2,Payment,C1",
        "2026-11-18,09:00:00,,$5.00,T3,Payment,C1",
    )
    customers = write(tmp_path, "customers.csv", "Square Customer ID,Email Address", "C1,c@x.co")
    data, events, _ = dry_run(path, tmp_path, "--customers", str(customers))
    assert data["reasons"] == {"invalid_timestamp": 2}
    assert events[0]["event_time"] == utc(2026, 11, 18, 8)  # 09:00 in Paris: 08:00 UTC
    rejects = Path(data["rejects_file"]).read_text()
    assert "'Narnia Time' is not a time zone fbocli knows" in rejects
    assert "Time Zone is empty, and [csv] timezone is not set" in rejects


def test_square_without_a_customer_file_says_one_would_add_match_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "transactions.csv",
        "Date,Time,Time Zone,Total Collected,Transaction ID,Event Type,Customer ID",
        "2026-11-18,09:00:00,London,$5.00,T1,Payment,C1",
    )
    data, _, _ = dry_run(path, tmp_path)
    assert data["reasons"] == {"no_match_keys": 1}
    assert data["csv"][0]["customer_key_without_file"] == 1
    assert "a customer file (--customers FILE) would add" in Path(data["rejects_file"]).read_text()
    report = invoke(
        ["validate", str(path), "-c", str(PRESETS_CONFIG), "--now", NOW], tmp_path / "state"
    ).stdout
    assert "--customers FILE would add their email, phone and names" in report


def test_stripe_reads_utc_and_subtracts_refunds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "payments.csv",
        "id,Created (UTC),Amount,Amount Refunded,Currency,Status,Captured,Mode,Customer Email",
        "ch_1,2026-11-18 09:00:00,20.00,5.50,usd,Paid,true,Live,a@x.co",
        "ch_2,2026-11-18 09:00:00,20.00,0.00,usd,Paid,true,Test,a@x.co",
    )
    config = tmp_path / "c.toml"
    config.write_text(
        PRESETS_CONFIG.read_text() + '\n[mapping]\ntimezone = "America/New_York"\n',
        encoding="utf-8",
    )
    out = tmp_path / "o.jsonl"
    result = invoke(
        ["upload", str(path), "-c", str(config), "--now", NOW, "--dry-run", "--output",
         str(out), "--json"],
        tmp_path / "state",
    )  # fmt: skip
    data = summary(result)
    ((_, event),) = request_events(out)
    assert event["event_time"] == utc(2026, 11, 18, 9)  # UTC, whatever [mapping] timezone says
    assert event["custom_data"]["value"] == 14.5 and event["custom_data"]["currency"] == "USD"
    assert data["skips"] == {"not_a_sale": 1}


def test_meta_offline_without_a_dataset_stops_before_anything_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "offline.csv",
        "email,event_name,event_time,value",
        "a@x.co,Purchase,1,5",
        "a@x.co,Lead,2026-11-19T10:00:00Z,",
    )
    config = tmp_path / "c.toml"
    config.write_text('[events]\n"Order Completed" = "1"\n', encoding="utf-8")
    result = invoke(["validate", str(path), "-c", str(config), "--now", NOW], tmp_path / "s")
    assert result.exit_code == 2
    assert "[destination]" in result.stderr and "--dataset" in result.stderr
    assert result.stdout == ""
    result = invoke(
        ["validate", str(path), "-c", str(config), "--now", NOW, "--dataset", "77", "--json"],
        tmp_path / "s",
    )
    data = summary(result)
    assert {ds: c["sent"] for ds, c in data["datasets"].items()} == {"77": 1}
    assert data["reasons"] == {"too_old": 1}  # Unix time 1: the rules of mapping.md apply


def test_meta_native_rows_keep_their_name_and_are_case_corrected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gateway.csv",
        "DATA_SET_ID,EVENT_NAME,EVENT_TIME,EMAIL,VALUE,ACTION_SOURCE",
        "11,viewcontent,2026-11-19 10:00:00,a@x.co,,",
        "12,Store Visit,2026-11-19 10:00:00,a@x.co,,chat",
        "13,,2026-11-19 10:00:00,a@x.co,5,",
        "14,Purchase,2026-11-10 10:00:00,a@x.co,5,email",
    )
    data, events, _ = dry_run(path, tmp_path)
    names = [(e["event_name"], e["action_source"]) for e in events]
    assert names == [("ViewContent", "physical_store"), ("Store Visit", "chat"),
                     ("Purchase", "physical_store")]  # fmt: skip
    assert data["reasons"] == {"too_old": 1}  # 9.6 days: too old for email (7)
    assert "Meta accepts 7 for action_source email" in Path(data["rejects_file"]).read_text()


@pytest.mark.parametrize("name", EXPORTS)
def test_docs_show_what_validate_prints_for_each_sample(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/inputs.md quotes validate's report of each sample: it must stay true."""
    monkeypatch.chdir(ROOT)
    facts = sample_expectations()[name]
    args = [f"sample_data/{name}", "-c", "sample_data/presets.toml", "--now", NOW]
    result = invoke(["validate", *args, *facts["args"]], tmp_path / "state")
    docs = (ROOT / "docs" / "inputs.md").read_text("utf-8")
    for block in result.stdout.split("\n\n"):
        title = block.split("\n", 1)[0]
        shown = {"Records", "Rejected", "Skipped (not sent, not errors)", "Events"}
        if title in shown or title.startswith("CSV rows"):
            assert block in docs, block
    assert result.stderr.splitlines()[0] in docs  # the preset's note


def test_exports_mapped_by_worker_processes_give_the_same_requests(tmp_path: Path) -> None:
    """CSV records (their wording and Meta-native routing) cross to a worker intact."""
    from fbocli import api
    from fbocli.pipeline import Tuning

    settings = api.load_config(PRESETS_CONFIG)
    paths = [SAMPLES / name for name in EXPORTS if not sample_expectations()[name]["args"]]
    outputs = []
    for tuning in (Tuning(processes=1), Tuning(processes=2, pool_min_bytes=0)):
        out = tmp_path / f"{tuning.processes}.jsonl"
        result = api.upload(paths, settings, now=NOW, dry_run=True, output=out,
                            state_dir=tmp_path / "s", tuning=tuning)  # fmt: skip
        assert result.read == sum(sample_expectations()[p.name]["orders"] for p in paths)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0]


def test_dataset_ids_from_the_command_line_and_rows_are_ascii_digits(tmp_path: Path) -> None:
    """Full-width digits pass str.isdigit(), but Meta refuses them as dataset IDs."""
    path = write(
        tmp_path,
        "gateway.csv",
        "DATA_SET_ID,EVENT_NAME,EVENT_TIME,EMAIL,VALUE,CURRENCY",
        "１２３,Purchase,2026-11-19T10:00:00Z,a@x.co,5,USD",
        "123,Purchase,2026-11-19T10:00:00Z,b@x.co,5,USD",
    )
    config = tmp_path / "c.toml"
    config.write_text('[events]\n"Order Completed" = "1"\n', encoding="utf-8")
    result = invoke(
        ["validate", str(path), "-c", str(config), "--now", NOW, "--dataset", "７７"],
        tmp_path / "s",
    )
    assert result.exit_code == 2 and "--dataset" in result.stderr
    assert "ASCII digits" in result.stderr
    result = invoke(
        ["validate", str(path), "-c", str(config), "--now", NOW, "--json"], tmp_path / "s"
    )
    data = summary(result)
    assert data["reasons"] == {"invalid_dataset": 1}
    assert list(data["datasets"]) == ["123"]
