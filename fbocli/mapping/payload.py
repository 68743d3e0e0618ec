"""A mapped event in the API's dialect: Conversions API (default) or legacy Offline Conversions.

The one seam between mapping and the API dialect (mapping.md sections 6 and 9). Every event
is built here and encoded once (:func:`fbocli.wire.dumps`), right after mapping: what a dry
run writes is what upload sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

STANDARD_EVENTS = frozenset(
    {
        "ViewContent",
        "Search",
        "AddToCart",
        "AddToWishlist",
        "InitiateCheckout",
        "AddPaymentInfo",
        "Purchase",
        "Lead",
        "CompleteRegistration",
        "Other",
    }
)
_LEGACY_TOP = ("currency", "value", "content_type", "content_ids", "contents", "order_id")
_LEGACY_KEYS = {"em": "email", "ph": "phone", "ge": "gen", "zp": "zip", "external_id": "extern_id"}
_CAPI_ONLY_USER = frozenset({"doby", "dobm", "dobd"})
Ldu = tuple[list[str], int | None, int | None]  # options, country, state
Keys = Mapping[str, Any]  # user_data or custom_data
# (event_name, event_time, event_id, user_data, custom_data, LDU, action_source) -> the
# event's dict
EventBuilder = Callable[[str, int, str, Keys, Keys, Ldu | None, str], dict[str, Any]]


def capi_event(
    event_name: str,
    event_time: int,
    event_id: str,
    user: Keys,
    custom: Keys,
    ldu: Ldu | None,
    action_source: str = "physical_store",
) -> dict[str, Any]:
    """The Conversions API event (mapping.md section 6); doby/dobm/dobd never leak into it."""
    if not _CAPI_ONLY_USER.isdisjoint(user):
        user = {k: v for k, v in user.items() if k not in _CAPI_ONLY_USER}
    event: dict[str, Any] = {
        "event_name": event_name,
        "event_time": event_time,
        "action_source": action_source,
        "event_id": event_id,
        "user_data": user,
        "custom_data": custom,
    }
    if ldu is not None:
        _add_ldu(event, ldu)
    return event


def offline_event(
    event_name: str,
    event_time: int,
    event_id: str,
    user: Keys,
    custom: Keys,
    ldu: Ldu | None,
    action_source: str = "physical_store",
) -> dict[str, Any]:
    """The legacy Offline Conversions API event (mapping.md section 9).

    The same normalized, hashed values as :func:`capi_event`, under the seed's names.
    ``event_id`` and ``action_source`` are not sent (the legacy API has neither, and
    Meta deduplicates legacy events by ``order_id``); the window still follows the action
    source, and ``event_id`` is still what the journal records, so re-runs skip
    delivered events exactly as in Conversions API mode.
    """
    match_keys: dict[str, Any] = {}
    for key, value in user.items():
        if key == "db":
            continue  # the legacy API takes the birthday only as doby/dobm/dobd
        if key == "external_id":
            if not value:
                continue
            value = value[0] if len(value) == 1 else list(value)  # the seed sends one userId
        elif key == "lead_id":
            value = str(value)  # the legacy API wants a digit string, CAPI an integer
        match_keys[_LEGACY_KEYS.get(key, key)] = value
    event: dict[str, Any] = {
        "match_keys": match_keys,
        # The legacy API accepts only standard names: a custom event is sent as Other.
        "event_name": event_name if event_name in STANDARD_EVENTS else "Other",
        "event_time": event_time,
    }
    rest = dict(custom)
    for key in _LEGACY_TOP:
        if key in rest:
            event[key] = rest.pop(key)
    if rest:
        event["custom_data"] = rest
    if ldu is not None:
        _add_ldu(event, ldu)
    return event


def _add_ldu(event: dict[str, Any], ldu: Ldu) -> None:
    options, country, state = ldu
    event["data_processing_options"] = options
    if country is not None:
        event["data_processing_options_country"] = country
    if state is not None:
        event["data_processing_options_state"] = state


def event_builder(api: str) -> EventBuilder:
    """The event builder of an API dialect (``[destination] api``)."""
    return offline_event if api == "offline" else capi_event
