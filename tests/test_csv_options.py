"""The CSV options of inputs.md section 3, any CSV (preset or not), and the messages a CSV
user reads: encoding, decimal comma, date_format, timezone, [csv.filter], group_by,
short column names, --column, the customer-file join."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fbocli.config import parse_settings
from fbocli.errors import ConfigError, UsageError
from fbocli.inputs.cells import money
from fbocli.inputs.reader import open_input
from fbocli.inputs.zones import RAILS_ZONES, zone
from fbocli.settings import CsvSettings
from tests.helpers import NOW, invoke, request_events, summary


def utc(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())  # type: ignore[misc]


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "fbocli.toml"
    path.write_text(f'[events]\n"Order Completed" = "1"\n{extra}\n', encoding="utf-8")
    return path


def run(
    tmp_path: Path, data: bytes | str, extra: str = "", *args: str, name: str = "e.csv"
) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    out = tmp_path / "out.jsonl"
    result = invoke(
        ["upload", str(path), "-c", str(config(tmp_path, extra)), "--now", NOW, "--dry-run",
         "--json", "--output", str(out), *args],
        tmp_path / "state",
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.stderr
    events = [event for _, event in request_events(out)] if out.exists() else []
    return summary(result), events, result


def rejects(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(data["rejects_file"]).read_text().splitlines()]


# --- encoding ------------------------------------------------------------------------


def test_a_file_that_is_not_utf8_is_read_as_cp1252_with_a_warning(tmp_path: Path) -> None:
    text = "Date,Email,First Name,Total\n2026-11-19,zoe@x.co,Zoë,12.50\n"
    data, events, result = run(tmp_path, text.encode("cp1252"))
    assert data["records"]["accepted"] == 1 and data["csv"][0]["encoding"] == "cp1252"
    assert "e.csv: not UTF-8, read as cp1252" in result.stderr
    assert any("cp1252" in w for w in data["warnings"])
    expected = run(tmp_path, text.encode("utf-8"))[1]  # the same name as UTF-8 gives
    assert events[0]["user_data"]["fn"] == expected[0]["user_data"]["fn"]


def test_a_late_row_that_is_not_utf8_is_read_as_cp1252_and_named(tmp_path: Path) -> None:
    rows = "".join(f"2026-11-19,a{i}@x.co,1\n" for i in range(4000))
    head = "Date,Email,Total\n" + rows  # past the 64 KB sample
    body = head.encode() + "2026-11-19,caf\xe9@x.co,2\n".encode("cp1252")
    data, _, result = run(tmp_path, body)
    assert data["records"]["accepted"] == 4001
    assert "e.csv: line 4002 is not UTF-8: read as cp1252" in result.stderr


def test_an_explicit_encoding_makes_undecodable_rows_invalid(tmp_path: Path) -> None:
    body = "Date,Email,Total\n2026-11-19,caf\xe9@x.co,2\n2026-11-19,a@x.co,1\n".encode("cp1252")
    data, _, _ = run(tmp_path, body, '[csv]\nencoding = "utf-8"')
    assert data["reasons"] == {"invalid_row": 1}
    assert "not valid utf-8 in column 'Email'" in rejects(data)[0]["detail"]
    data, _, result = run(tmp_path, body, '[csv]\nencoding = "latin-1"')
    assert data["records"]["accepted"] == 2 and "cp1252" not in result.stderr


def test_a_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    data, _, _ = run(tmp_path, "\ufeffDate,Email,Total\n2026-11-19,a@x.co,1\n")
    assert data["records"]["accepted"] == 1


# --- amounts and times -------------------------------------------------------------


def test_decimal_comma(tmp_path: Path) -> None:
    text = "Datum;E-Mail;Summe;Menge\n2026-11-19;a@x.co;12,50;1\n2026-11-19;b@x.co;1.234,56;2\n"
    data, events, _ = run(tmp_path, text, '[csv]\ndecimal = ","\n[csv.columns]\n'
                          'timestamp = "Datum"\nemail = "E-Mail"\nvalue = "Summe"')  # fmt: skip
    assert [e["custom_data"]["value"] for e in events] == [12.5, 1234.56]
    data, _, _ = run(tmp_path, text, '[csv.columns]\ntimestamp = "Datum"\n'
                     'email = "E-Mail"\nvalue = "Summe"')  # fmt: skip
    assert data["reasons"] == {"invalid_value": 2}  # without it: not numbers


@pytest.mark.parametrize(
    ("text", "decimal", "amount"),
    [
        ("$22.50", ".", "22.50"),
        ("$1,240.00", ".", "1240.00"),
        ("-$0.95", ".", "-0.95"),
        ("(5.00)", ".", "-5.00"),
        ("12,50 €", ",", "12.50"),
        ("1.234,56", ",", "1234.56"),
        ("1 234,56", ",", "1234.56"),
        ("12.50", ",", None),
        ("1,23", ".", None),
        ("abc", ".", None),
    ],
)
def test_money_as_exports_write_it(text: str, decimal: str, amount: str | None) -> None:
    found = money(text, decimal)
    assert (None if found is None else str(found)) == amount


def test_date_format_and_a_file_timezone(tmp_path: Path) -> None:
    text = "Date,Email,Total\n19/11/2026 10:30,a@x.co,1\n2026-11-19,b@x.co,1\n"
    extra = '[csv]\ndate_format = "%d/%m/%Y %H:%M"\ntimezone = "Europe/Paris"'
    data, events, _ = run(tmp_path, text, extra)
    assert events[0]["event_time"] == utc(2026, 11, 19, 9, 30)  # 10:30 in Paris
    (reject,) = rejects(data)
    assert reject["reason"] == "invalid_timestamp"
    assert reject["detail"] == "`Date` '2026-11-19' does not match date_format '%d/%m/%Y %H:%M'"
    data, events, _ = run(tmp_path, text, '[csv]\ntimezone = "America/New_York"\ndayfirst = true')
    assert [e["event_time"] for e in events] == [
        utc(2026, 11, 19, 15, 30),  # read day first, in New York
        utc(2026, 11, 19, 5),
    ]


def test_timestamp_from_a_date_and_a_time_column(tmp_path: Path) -> None:
    text = "Day,Hour,Email,Total\n2026-11-19,14:05,a@x.co,1\n"
    _, events, _ = run(tmp_path, text, '[csv.columns]\ntimestamp = ["Day", "Hour"]')
    assert events[0]["event_time"] == utc(2026, 11, 19, 14, 5)
    _, events, _ = run(tmp_path, text, "", "--column", "timestamp=Day", "--column",
                       "timestamp=Hour")  # fmt: skip
    assert events[0]["event_time"] == utc(2026, 11, 19, 14, 5)


def test_every_rails_zone_name_is_an_iana_zone() -> None:
    assert all(zone(name) is not None for name in RAILS_ZONES)
    assert str(zone("Eastern Time (US & Canada)")) == "America/New_York"
    assert str(zone("(GMT-08:00) Pacific Time (US & Canada)")) == "America/Los_Angeles"
    assert str(zone("Europe/Paris")) == "Europe/Paris"
    assert zone("Narnia") is None and zone("") is None


# --- orders, filter, columns ----------------------------------------------------------


def test_group_by_makes_one_order_of_consecutive_rows(tmp_path: Path) -> None:
    text = (
        "Order ID,Date,Email,Total,SKU,Qty,Price\n"
        "A1,2026-11-19,a@x.co,30,S1,1,10\n"
        "A1,,,,S2,2,10\n"
        "B2,2026-11-19,b@x.co,5,S3,1,5\n"
        "A1,2026-11-19,a@x.co,30,S1,1,10\n"  # A1 again, not next to the first: a duplicate
        ",2026-11-19,c@x.co,7,S4,1,7\n"
        ",2026-11-19,d@x.co,8,S5,1,8\n"
    )
    data, events, _ = run(tmp_path, text, '[csv]\ngroup_by = "Order ID"')
    assert data["csv"][0]["rows"] == 6 and data["csv"][0]["grouped_rows"] == 1
    assert data["records"] == {"read": 5, "accepted": 4, "rejected": 0, "skipped": 1}
    assert data["skips"] == {"duplicate": 1}
    first = events[0]["custom_data"]
    assert first["value"] == 30 and first["content_ids"] == ["S1", "S2"]
    assert first["contents"][1] == {"id": "S2", "quantity": 2, "item_price": 10}
    assert len(events) == 4  # rows with an empty key are orders of their own


def test_filter_skips_orders_and_counts_why(tmp_path: Path) -> None:
    text = "Date,Email,Total,Source,Status\n" + "".join(
        f"2026-11-19,a{i}@x.co,1,{src},{status}\n"
        for i, (src, status) in enumerate(
            [("pos", "paid"), ("POS", "Partially_Refunded"), ("web", "paid"), ("pos", "pending")]
        )
    )
    extra = '[csv.filter]\nSource = "pos"\nStatus = ["paid", "partially_refunded"]'
    data, events, _ = run(tmp_path, text, extra)
    assert len(events) == 2 and data["skips"] == {"filtered": 2}
    causes = {row["cause"]: row["orders"] for row in data["csv"][0]["skipped"]}
    assert causes == {"Source is 'web'": 1, "Status is 'pending'": 1}


def test_settings_that_cannot_apply_stop_the_run_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    (tmp_path / "e.csv").write_text("Date,Email\n2026-11-19,a@x.co\n")
    for extra in ('[csv]\ngroup_by = "Order"', '[csv.filter]\nStore = "Main"'):
        result = invoke(
            ["validate", str(tmp_path / "e.csv"), "-c", str(config(tmp_path, extra))],
            tmp_path / "state",
        )
        assert result.exit_code == 2 and "not a header of the file" in result.stderr
        assert result.stdout == ""


def test_short_names_and_an_explicit_value_column_win(tmp_path: Path) -> None:
    text = "When,Mail,Billing Zip,Net,Total\n2026-11-19,a@x.co,2116,8.00,10.00\n"
    extra = '[csv.columns]\ntimestamp = "When"\nemail = "Mail"\nzip = "Billing Zip"\nvalue = "Net"'
    _, events, _ = run(tmp_path, text, extra)
    assert events[0]["custom_data"]["value"] == 8.0  # not the Total found by name
    assert "zp" in events[0]["user_data"]
    settings = parse_settings({"csv": {"columns": {"zip": "Z", "lead_id": "L"}}})
    assert dict(settings.csv.columns) == {
        "context.traits.address.postalCode": ("Z",),
        "context.Facebook Offline Conversions.leadId": ("L",),
    }
    with pytest.raises(ConfigError, match="not a field"):
        parse_settings({"csv": {"columns": {"bad..path": "X"}}})


def test_column_option_and_its_mistakes(tmp_path: Path) -> None:
    text = "Paid at,Mail,Amount\n2026-11-19,a@x.co,3\n"
    _, events, _ = run(tmp_path, text, "", "--column", "timestamp=Paid at", "--column",
                       "email=Mail")  # fmt: skip
    assert len(events) == 1
    result = invoke(
        ["validate", str(tmp_path / "e.csv"), "-c", str(config(tmp_path)), "--column", "oops",
         "--preset", "shopfy"],
        tmp_path / "state",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--column 'oops': expected FIELD=HEADER" in result.stderr
    assert "--preset must be" in result.stderr  # every problem at once


# --- messages a CSV user can act on ---------------------------------------------------


def test_a_missing_time_says_which_column_and_how_to_map_one(tmp_path: Path) -> None:
    data, _, _ = run(tmp_path, "Paid on,Email,Total\n2026-11-19,a@x.co,1\n")
    (reject,) = rejects(data)
    assert reject["reason"] == "missing_timestamp"
    assert reject["detail"] == (
        'no time: expected a column like `Date`; map one with `timestamp = "..."` under '
        "[csv.columns] or --column timestamp=HEADER"
    )
    data, _, _ = run(tmp_path, "Date,Email,Total\n,a@x.co,1\n")
    assert rejects(data)[0]["detail"] == "no time: `Date` is empty"


def test_the_details_of_rejects_name_the_columns(tmp_path: Path) -> None:
    text = (
        "Date,Email,Amount,Devise\n"
        "2026-11-19,a@x.co,ten,EUR\n"
        "2026-11-19,a@x.co,1,Euro\n"
        "2026-11-19,a@x.co,,EUR\n"
        "2026-11-19,,1,EUR\n"
        "2026-09-01,a@x.co,1,EUR\n"
    )
    data, _, _ = run(tmp_path, text, '[csv.columns]\ncurrency = "Devise"')
    details = {r["reason"]: r["detail"] for r in rejects(data)}
    assert details == {
        "invalid_value": '`Amount` "ten" is not a number',
        "invalid_currency": '`Devise` "Euro" is not ISO 4217',
        "purchase_without_value": "no value: `Amount` is empty",
        "no_match_keys": "no email, phone, name, address, customer ID or lead ID in this row",
        "too_old": '`Date` "2026-09-01" is 80.0 days before now; Meta accepts 62',
    }


# --- the customer-file join, for any CSV ------------------------------------------------


def test_customers_join_any_csv_by_the_key_it_names(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(
        "Client,E-mail,Phone Number,First Name\nK1,k1@x.co,(401) 555-0100,Kay\nK2,,,\n",
        encoding="utf-8",
    )
    text = "Date,Total,Client Ref\n2026-11-19,5,K1\n2026-11-19,5,K9\n2026-11-19,5,K2\n"
    extra = '[csv]\ncustomers_key = "Client Ref"\ncustomers_key_column = "Client"'
    data, events, _ = run(tmp_path, text, extra, "--customers", str(tmp_path / "people.csv"))
    assert sorted(events[0]["user_data"]) == ["em", "fn", "ph"]
    assert data["reasons"] == {"no_match_keys": 2}
    assert data["csv"][0]["customers"] == {
        "file": str(tmp_path / "people.csv"),
        "joined": 2,
        "not_found": 1,
    }


def test_a_customer_file_needs_a_key(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("Email\na@x.co\n", encoding="utf-8")
    (tmp_path / "e.csv").write_text("Date,Total,Ref\n2026-11-19,5,K1\n", encoding="utf-8")
    args = ["validate", str(tmp_path / "e.csv"), "-c", str(config(tmp_path)), "--customers"]
    result = invoke([*args, str(tmp_path / "people.csv")], tmp_path / "s")
    assert result.exit_code == 2 and "no key column" in result.stderr
    result = invoke([*args, str(tmp_path / "nope.csv")], tmp_path / "s")
    assert result.exit_code == 2 and "no such file" in result.stderr
    (tmp_path / "people.csv").write_text("id,Email\nK1,a@x.co\n", encoding="utf-8")
    result = invoke([*args, str(tmp_path / "people.csv")], tmp_path / "s")
    assert result.exit_code == 2 and "customers_key" in result.stderr


def test_the_reader_checks_the_header_when_it_opens(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("Date,Email\n2026-11-19,a@x.co\n", encoding="utf-8")
    with pytest.raises(UsageError, match="group_by names 'Order'"):
        open_input(str(path), "auto", CsvSettings(group_by="Order"))


def test_the_api_takes_the_run_options_and_says_the_preset(tmp_path: Path) -> None:
    from fbocli import api

    path = tmp_path / "offline.csv"
    path.write_text("email,event_name,event_time\na@x.co,Lead,2026-11-19T10:00:00Z\n")
    heard: list[str] = []
    result = api.validate(
        [tmp_path],  # a folder
        api.load_config(config(tmp_path)),
        now=NOW,
        state_dir=tmp_path / "state",
        warn=heard.append,
        dataset=["42"],
        columns=["external_id=email"],
    )
    assert result.by_event == {("42", "Lead"): 1}
    assert heard == [
        f"{path}: read as a Meta offline event set upload template "
        "(preset meta-offline: its header has event_name, event_time, email)"
    ]
    with pytest.raises(UsageError, match="--preset"):
        api.validate([path], api.load_config(config(tmp_path)), preset="square-ish")
