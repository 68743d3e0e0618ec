"""Unit tests of mapping.md's rules: one per reject reason, skip, and field rule."""

from __future__ import annotations

from typing import Any

import pytest

from fbocli.chunks import Reject, map_chunk
from fbocli.config import parse_settings
from fbocli.inputs.reader import Chunk
from fbocli.inputs.record import Record
from fbocli.mapping.message import MapContext, Outcome, map_message
from fbocli.mapping.normalize import sha256_hex
from fbocli.mapping.payload import capi_event
from tests.helpers import NOW_TS

NOW = NOW_TS  # 2026-11-20T00:00:00Z
CONFIG: dict[str, Any] = {
    "events": {
        "Order Completed": ["111", "222"],
        "Product Added": "111",
        "Product List Viewed": "111",
        "Store Visit": "111",
    },
    "lead_events": {"Order Completed": "111", "Lead Captured": "111"},
    "registration_events": {"Signed Up": "333"},
}


def ctx(**mapping: Any) -> MapContext:
    config = {**CONFIG, "mapping": mapping} if mapping else CONFIG
    return MapContext(parse_settings(config), NOW)


def track(**fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": "Store Visit",
        "userId": "u1",
        "timestamp": "2026-11-19T00:00:00Z",
        "messageId": "m1",
    }
    message.update(fields)
    return message


def run(message: object, context: MapContext | None = None) -> Outcome:
    return map_message(message, context or ctx(), "in.jsonl", 7)


def event(message: object, context: MapContext | None = None) -> dict[str, Any]:
    outcome = run(message, context)
    assert outcome.status == "accepted", (outcome.reason, outcome.detail)
    return outcome.events[0].to_dict()


def rejected(message: object, context: MapContext | None = None) -> str:
    outcome = run(message, context)
    assert outcome.status == "rejected"
    assert outcome.detail
    return outcome.reason


# --- reject reasons -------------------------------------------------------------------


def test_reader_errors_pass_through() -> None:
    record = Record("in.jsonl", 7, None, "invalid_json", "Expecting value", "{not json")
    mapped = map_chunk(ctx(), Chunk("in.jsonl", 7, [record]))
    assert mapped.rejects == [Reject("in.jsonl", 7, "invalid_json", "Expecting value", "{not json")]
    assert mapped.counts.reasons == {"invalid_json": 1} and mapped.events == []
    assert mapped.counts.examples == {"invalid_json": ["in.jsonl:7: Expecting value"]}


@pytest.mark.parametrize("value", [[], 3, "x", None, True])
def test_not_an_object(value: object) -> None:
    assert rejected(value) == "not_an_object"


@pytest.mark.parametrize("value", [None, "", "  ", 42, ["x"]])
def test_missing_event(value: object) -> None:
    assert rejected(track(event=value)) == "missing_event"
    no_event = track()
    del no_event["event"]
    assert run(no_event).reason == "missing_event"  # type track, no event


def test_missing_and_invalid_timestamp() -> None:
    message = track()
    del message["timestamp"]
    assert rejected(message) == "missing_timestamp"
    assert rejected(track(timestamp=None, originalTimestamp="")) == "missing_timestamp"
    assert (
        event(track(timestamp=None, originalTimestamp="2026-11-18T00:00:00Z"))["event_time"]
        == NOW - 2 * 86400
    )
    for bad in ["not a date", {"$date": 1}, True, [1], "2026-13-45"]:
        assert rejected(track(timestamp=bad)) == "invalid_timestamp", bad


def test_window_edges() -> None:
    oldest = NOW - 62 * 86400
    assert event(track(timestamp=oldest))["event_time"] == oldest
    assert rejected(track(timestamp=oldest - 1)) == "too_old"
    assert event(track(timestamp=NOW + 60))["event_time"] == NOW + 60
    assert rejected(track(timestamp=NOW + 61)) == "in_future"
    narrow = MapContext(parse_settings({**CONFIG, "upload": {"window_days": 7}}), NOW)
    assert rejected(track(timestamp=NOW - 8 * 86400), narrow) == "too_old"


def test_timestamp_forms() -> None:
    assert event(track(timestamp="2026-11-19T10:00:00Z"))["event_time"] == NOW - 14 * 3600
    assert event(track(timestamp="2026-11-19T05:00:00-05:00"))["event_time"] == NOW - 14 * 3600
    assert event(track(timestamp=(NOW - 100) * 1000))["event_time"] == NOW - 100
    assert event(track(timestamp=str(NOW - 100)))["event_time"] == NOW - 100
    assert event(track(timestamp=NOW - 100.9))["event_time"] == NOW - 101
    paris = ctx(timezone="Europe/Paris")
    assert event(track(timestamp="2026-11-19T10:00:00"), paris)["event_time"] == NOW - 15 * 3600


def test_no_match_keys() -> None:
    message = track(context={"traits": {"email": "nope", "phone": "12", "gender": "x"}})
    del message["userId"]
    assert rejected(message) == "no_match_keys"


@pytest.mark.parametrize("bad", [-1, "-5", "abc", True, float("nan"), float("inf"), "NaN", [], {}])
def test_invalid_value(bad: object) -> None:
    assert rejected(track(event="Order Completed", properties={"revenue": bad})) == "invalid_value"


def test_purchase_value_sources_and_missing() -> None:
    def value(props: dict[str, Any]) -> Any:
        return event(track(event="Order Completed", properties=props))["custom_data"]["value"]

    assert value({"revenue": 5, "total": 6, "value": 7}) == 5
    assert value({"total": "$1,234.56", "value": 7}) == 1234.56
    assert value({"revenue": None, "value": " €7 "}) == 7
    assert rejected(track(event="Order Completed", properties={"price": 3})) == (
        "purchase_without_value"
    )
    assert rejected(track(event="Order Completed")) == "purchase_without_value"


def test_value_field_for_other_events() -> None:
    props = {"value": 4, "price": 9}
    assert event(track(properties=props))["custom_data"]["value"] == 4
    by_price = event(track(properties=props), ctx(value_field="price"))["custom_data"]
    assert by_price["value"] == 9
    assert "price" not in by_price and "value" not in {k for k in by_price if k != "value"}
    assert "value" not in event(track(properties={"price": 9}))["custom_data"]


def test_currency() -> None:
    assert event(track(properties={"currency": " cad "}))["custom_data"]["currency"] == "CAD"
    assert event(track())["custom_data"]["currency"] == "USD"
    assert event(track(), ctx(default_currency="eur"))["custom_data"]["currency"] == "EUR"
    for bad in ["XYZ", "dollars", 5, ["USD"]]:
        assert rejected(track(properties={"currency": bad})) == "invalid_currency", bad


def test_limited_data_use() -> None:
    on = ctx(limited_data_use=True)
    ldu = "Facebook Offline Conversions"

    def dpo(options: object) -> dict[str, Any]:
        return event(track(integrations={ldu: {"dataProcessingOptions": options}}), on)

    assert event(track(), on)["data_processing_options"] == []
    got = dpo([[], 1, 1000])
    assert (
        got["data_processing_options"],
        got["data_processing_options_country"],
        got["data_processing_options_state"],
    ) == ([], 1, 1000)
    assert "data_processing_options_country" not in dpo([["LDU"]])
    assert dpo([["LDU"], 0])["data_processing_options_country"] == 0
    for bad in ["LDU", [], [["LDU"], "1"], [["LDU"], 1, 2, 3], [[1]], [["LDU"], True]]:
        message = track(integrations={ldu: {"dataProcessingOptions": bad}})
        assert rejected(message, on) == "invalid_data_processing_options", bad
    off = event(track(integrations={ldu: {"dataProcessingOptions": "garbage"}}))
    assert not any(k.startswith("data_processing") for k in off)


# --- skips and routing ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["identify", "page", "screen", "group", "alias", 5])
def test_unsupported_types_are_skipped(kind: object) -> None:
    outcome = run(track(type=kind))
    assert (outcome.status, outcome.reason) == ("skipped", "unsupported_type")


def test_track_without_type_and_without_either() -> None:
    untyped = track()
    del untyped["type"]
    assert run(untyped).status == "accepted"
    assert run({"userId": "u"}).reason == "unsupported_type"


def test_unmapped_event_is_skipped_and_case_sensitive() -> None:
    assert run(track(event="store visit")).reason == "unmapped_event"


def test_fan_out_one_event_per_dataset_and_name() -> None:
    outcome = run(track(event="Order Completed", properties={"revenue": 1}))
    routes = [(c.dataset_id, c.event_name) for c in outcome.events]
    assert routes == [("111", "Purchase"), ("222", "Purchase"), ("111", "Lead")]
    assert len({c.event_id for c in outcome.events}) == 1
    assert run(track(event="Signed Up")).events[0].event_name == "CompleteRegistration"
    assert run(track()).events[0].event_name == "Store Visit"


# --- match keys -------------------------------------------------------------------------


def test_user_data_sources() -> None:
    message = track(
        userId=12345,
        properties={"email": "P@Example.com", "phone": "(401) 123-4567", "coupon": "X"},
        context={
            "traits": {
                "name": "Mary Ann Smith",
                "gender": "Female",
                "birthday": "1980-07-22",
                "address": {
                    "city": "East Greenwich",
                    "state": "Rhode Island",
                    "postalCode": "02818-1234",
                    "country": "USA",
                },
            },
            "Facebook Offline Conversions": {"leadId": "l:123456"},
        },
    )
    got = event(message)
    user = got["user_data"]
    assert user["em"] == [sha256_hex("p@example.com")]
    assert user["ph"] == [sha256_hex("14011234567")]
    assert user["fn"] == sha256_hex("mary") and user["ln"] == sha256_hex("smith")
    assert user["ge"] == sha256_hex("f")
    assert user["db"] == sha256_hex("19800722")
    assert user["ct"] == sha256_hex("eastgreenwich")
    assert user["st"] == sha256_hex("ri") and user["zp"] == sha256_hex("02818")
    assert user["country"] == sha256_hex("us")
    assert user["external_id"] == [sha256_hex("12345")]
    assert user["lead_id"] == 123456
    # properties.email/phone feed user_data and are never copied to custom_data
    assert got["custom_data"] == {"currency": "USD", "coupon": "X"}


def test_lists_prehashed_and_dedup() -> None:
    hashed = "A" * 64
    user = event(
        track(
            context={
                "traits": {
                    "email": ["a@x.io", " A@X.IO ", "bad", hashed],
                    "phone": [4011234567, "+1 401 123 4567"],
                }
            }
        )
    )["user_data"]
    assert user["em"] == [sha256_hex("a@x.io"), "a" * 64]
    assert user["ph"] == [sha256_hex("14011234567")]


def test_region_from_country_for_phone() -> None:
    user = event(
        track(
            context={"traits": {"phone": "020 7946 0958", "address": {"country": "United Kingdom"}}}
        )
    )
    assert user["user_data"]["ph"] == [sha256_hex("442079460958")]
    assert user["user_data"]["country"] == sha256_hex("gb")


def test_external_id_options() -> None:
    plain = ctx(hash_external_id=False)
    assert event(track(userId=" abc "), plain)["user_data"]["external_id"] == ["abc"]
    assert event(track(userId="F" * 64))["user_data"]["external_id"] == ["f" * 64]
    message = track(userId=True, context={"traits": {"email": "a@b.co"}})
    assert "external_id" not in event(message)["user_data"]


def test_lead_id_rules() -> None:
    def lead(value: object) -> Any:
        message = track(context={"Facebook Offline Conversions": {"leadId": value}})
        return event(message)["user_data"].get("lead_id")

    assert lead("1234567890123") == 1234567890123
    assert lead("L:42") == 42
    assert lead(42) == 42
    assert lead("12a") is None and lead(True) is None


# --- custom_data ------------------------------------------------------------------------


def test_contents_from_products_and_single_product() -> None:
    got = event(
        track(
            event="Product Added",
            properties={
                "products": [
                    {"product_id": "p1", "quantity": "2", "price": "9.50"},
                    {"id": 7, "price": 3},
                    {"name": "no id"},
                    "junk",
                ],
            },
        )
    )["custom_data"]
    assert got["content_type"] == "product"
    assert got["content_ids"] == ["p1", "7"]
    assert got["contents"] == [
        {"id": "p1", "quantity": 2, "item_price": 9.5},
        {"id": "7", "quantity": 1, "item_price": 3},
    ]
    single = event(track(properties={"product_id": 99, "quantity": 3, "price": 2}))
    assert single["custom_data"]["contents"] == [{"id": "99", "quantity": 3, "item_price": 2}]
    assert single["custom_data"]["quantity"] == 3  # not consumed: copied as given


def test_product_list_viewed_uses_the_category() -> None:
    got = event(
        track(
            event="Product List Viewed", properties={"category": "Deals", "products": [{"id": "x"}]}
        )
    )
    assert got["custom_data"]["content_type"] == "product_group"
    assert got["custom_data"]["content_ids"] == ["Deals"]
    assert "category" not in got["custom_data"]
    without = event(track(event="Product List Viewed", properties={"products": [{"id": "x"}]}))
    assert without["custom_data"]["content_ids"] == ["x"]


def test_pii_guard_and_non_finite_values() -> None:
    got = event(
        track(
            properties={
                "order_id": 5012,
                "Email_Address": "x@y.z",
                "billing": {"phone": "1", "zip": "9"},
                "mobile": "1",
                "ratio": float("nan"),
                "list": [1, float("inf")],
                "value": 3,
                "contents": "mine",
                "note": "keep",
            }
        )
    )["custom_data"]
    assert got == {
        "value": 3,
        "currency": "USD",
        "order_id": "5012",
        "billing": {},  # (a zip is contact data too)
        "list": [1],
        "note": "keep",
    }


CONTACT_PROPERTIES = {  # issue 19 item 8: what the guard knew nothing of before
    "firstName": "Jane",
    "first_name": "Jane",
    "last_name": "Doe",
    "LastName": "Doe",
    "fullName": "Jane Doe",
    "customer": {"name": "Jane Doe", "tier": "gold", "profile": {"first": "Jane"}},
    "address": "1 Main St",
    "street": "Main St",
    "address2": "Apt 4",
    "Shipping Address": {"line1": "1 Main St"},
    "billing_city": "Providence",
    "zip": "02903",
    "postal_code": "02903",
    "Postcode": "SW1A 1AA",
    "birthday": "1990-12-31",
    "dob": "1990-12-31",
    "date_of_birth": "1990-12-31",
    "ssn": "078-05-1120",
    "cell": "401 555 0143",
    "contact": "jane@example.org",
    "ip": "203.0.113.7",
    "ip_address": "203.0.113.7",
    "clientIp": "203.0.113.7",
    # values that are contact data under any name, at any depth
    "ref": "(401) 555-0143",
    "alt": "+44 20 7946 0958",
    "note": "write to jane@example.org please",
    "orders": [{"buyer": {"first": "Jane", "city": "Providence"}, "memo": "jane@example.org"}],
    "jane@example.org": True,
}
KEPT_PROPERTIES = {  # neighbours that are not contact data, kept as they are
    "name": "Monopoly: 3rd Edition",  # Segment's product name (the golden examples keep it)
    "city": "Providence",  # of the store, most likely: only a person's city is dropped
    "store": {"name": "Main St store", "city": "Providence"},
    "tip": 3,
    "coupon": "WELCOME5",
    "date": "2026-12-03",
    "sku": "8801234567890",
    "barcode": "0012345678905",
    "contactless": True,
    "order_ref": "SO-2026-000123",
    "amount_text": "1,234.56",
    "membership": "gold",
    "visits": [{"buyer": {"tier": "gold"}}],
}


def test_contact_data_in_properties_is_left_out_and_said() -> None:
    outcome = run(track(properties={**CONTACT_PROPERTIES, **KEPT_PROPERTIES}))
    assert outcome.status == "accepted"
    custom = outcome.events[0].to_dict()["custom_data"]
    assert custom == {
        "currency": "USD",
        **KEPT_PROPERTIES,
        "customer": {"tier": "gold", "profile": {}},
        "orders": [{"buyer": {}}],
    }
    wire = outcome.events[0].wire.decode()
    for secret in (
        "Jane",
        "Doe",
        'Main St"',
        "02903",
        "1990",
        "078-05",
        "555",
        "203.0.113",
        "jane@",
    ):
        assert secret not in wire, secret
    dropped = {path for name, path in outcome.notes if name == "contact_data"}
    assert dropped == {
        *(f"properties.{key}" for key in CONTACT_PROPERTIES if key not in ("customer", "orders")),
        "properties.customer.name",
        "properties.customer.profile.first",
        "properties.orders[].buyer.first",
        "properties.orders[].buyer.city",
        "properties.orders[].memo",
    } - {"properties.jane@example.org"} | {
        "properties.(a name that looks like an email or a phone number)"
    }


def test_event_id_is_message_id_or_a_stable_hash() -> None:
    assert event(track())["event_id"] == "m1"
    anonymous = track()
    del anonymous["messageId"]
    first, again = event(anonymous)["event_id"], event(dict(reversed(anonymous.items())))
    assert first == again["event_id"] and len(first) == 32
    assert event({**anonymous, "userId": "u2"})["event_id"] != first


def test_event_id_falls_back_to_the_order_id() -> None:
    """mapping.md section 6: an order re-exported with a cosmetic edit is the same event."""
    order = track(properties={"order_id": " ORD-7 "})
    del order["messageId"]
    assert event(order)["event_id"] == "ORD-7"
    assert event({**order, "userId": "someone else"})["event_id"] == "ORD-7"
    assert event(track(properties={"order_id": "ORD-7"}))["event_id"] == "m1"  # messageId first
    numbered = {**order, "properties": {"order_id": 1007}}
    assert event(numbered)["event_id"] == "1007"
    for unusable in ("", "  ", True, None, [1]):
        content = {**order, "properties": {"order_id": unusable}}
        assert len(event(content)["event_id"]) == 32  # the content hash


def test_wrong_container_types_count_as_absent() -> None:
    message = track(properties=[1], context="x", integrations=5)
    got = event(message, ctx(limited_data_use=True))
    assert got["custom_data"] == {"currency": "USD"}
    assert got["data_processing_options"] == []
    assert event(track(context={"traits": {"address": "Main St", "email": "a@b.co"}}))["user_data"][
        "em"
    ]


# --- the context and the payload --------------------------------------------------------


def test_the_routes_table_is_settings_routes_also_in_a_worker() -> None:
    import pickle

    context = ctx()
    settings = context.settings
    names = {*settings.events, *settings.lead_events, *settings.registration_events}
    for name in [*names, "Unlisted", "", "order completed"]:
        assert context.routes.get(name, ()) == settings.routes(name)
    again = pickle.loads(pickle.dumps(context))  # as a mapping worker receives it
    assert again == context and again.routes == context.routes


@pytest.mark.parametrize(
    "extra",
    [{}, {"doby": "y"}, {"dobm": "m"}, {"dobd": "d"}, {"doby": "y", "dobm": "m", "dobd": "d"}],
)
@pytest.mark.parametrize("ldu", [None, ([], None, None), (["LDU"], 1, 1000), (["LDU"], 0, None)])
def test_capi_event_drops_birth_parts_and_adds_ldu(extra: dict[str, str], ldu: Any) -> None:
    user = {"em": ["e"], **extra, "db": "b"}
    expected: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW,
        "action_source": "physical_store",
        "event_id": "id",
        "user_data": {"em": ["e"], "db": "b"},
        "custom_data": {"currency": "USD"},
    }
    if ldu is not None:
        expected["data_processing_options"] = ldu[0]
        if ldu[1] is not None:
            expected["data_processing_options_country"] = ldu[1]
        if ldu[2] is not None:
            expected["data_processing_options_state"] = ldu[2]
    event = capi_event("Purchase", NOW, "id", user, {"currency": "USD"}, ldu)
    assert repr(event) == repr(expected)
