"""Conversion -> the wire format: Conversions API (default) or legacy Offline Conversions.

The one seam between mapping and the API dialect (mapping.md sections 8 and 9); both the
dry run and the upload build their requests here, so what a dry run writes is what is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fbocli.mapping import Conversion
from fbocli.settings import Settings

ACTION_SOURCE = "physical_store"
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
META_GRAPH_HOST = "graph.facebook.com"
LEGACY_WARNING = (
    'warning: [destination] api = "offline" sends the legacy Offline Conversions API '
    "payload, which Meta discontinued on 14 May 2025 (Graph API v16.0); "
    "graph.facebook.com no longer accepts it, so an upload there will fail. "
    'Remove `api = "offline"` to send the same events to the same dataset IDs through '
    "the Conversions API, or point graph_url ($FBOCLI_GRAPH_URL) at an endpoint that "
    "still speaks the legacy API."
)

EventBuilder = Callable[[Conversion], dict[str, Any]]


def capi_event(conv: Conversion) -> dict[str, Any]:
    """The Conversions API event (mapping.md section 6); doby/dobm/dobd never leak into it.

    Called once per event in the workers: three key lookups instead of a set
    intersection, and no call at all for the usual event without LDU options.
    """
    user = conv.user
    if "doby" in user or "dobm" in user or "dobd" in user:
        user = {k: v for k, v in user.items() if k not in _CAPI_ONLY_USER}
    event: dict[str, Any] = {
        "event_name": conv.event_name,
        "event_time": conv.event_time,
        "action_source": ACTION_SOURCE,
        "event_id": conv.event_id,
        "user_data": user,
        "custom_data": conv.custom,
    }
    if conv.ldu is not None:
        _add_ldu(event, conv)
    return event


def offline_event(conv: Conversion) -> dict[str, Any]:
    """The legacy Offline Conversions API event (mapping.md section 9).

    The same normalized, hashed values as :func:`capi_event`, under the seed's names.
    ``event_id`` is not sent (the legacy API has none; Meta deduplicates legacy events by
    ``order_id``), but ``conv.event_id`` is still what the journal records, so re-runs
    skip delivered events exactly as in Conversions API mode.
    """
    match_keys: dict[str, Any] = {}
    for key, value in conv.user.items():
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
        "event_name": conv.event_name if conv.event_name in STANDARD_EVENTS else "Other",
        "event_time": conv.event_time,
    }
    custom = dict(conv.custom)
    for key in _LEGACY_TOP:
        if key in custom:
            event[key] = custom.pop(key)
    if custom:
        event["custom_data"] = custom
    _add_ldu(event, conv)
    return event


def legacy_warning(settings: Settings) -> str | None:
    """The warning to print on stderr before a legacy run aimed at Meta itself.

    ``None`` for the Conversions API, or when ``graph_url`` points anywhere but
    graph.facebook.com (a proxy or test server that may still speak the legacy API).
    """
    if settings.destination.api != "offline":
        return None
    return LEGACY_WARNING if targets_meta(settings) else None


def targets_meta(settings: Settings) -> bool:
    """Whether requests go to Meta itself rather than a proxy or a test server."""
    host = (urlsplit(settings.destination.graph_url).hostname or "").rstrip(".").lower()
    return host == META_GRAPH_HOST


def _add_ldu(event: dict[str, Any], conv: Conversion) -> None:
    if conv.ldu is None:
        return
    options, country, state = conv.ldu
    event["data_processing_options"] = options
    if country is not None:
        event["data_processing_options_country"] = country
    if state is not None:
        event["data_processing_options_state"] = state


def event_builder(settings: Settings) -> EventBuilder:
    """The one event builder of a run: what the dry run writes is what upload sends."""
    return offline_event if settings.destination.api == "offline" else capi_event


def body_extra(settings: Settings, test_event_code: str | None = None) -> dict[str, Any]:
    """Request fields besides ``data`` (upload_tag first, as the legacy API documents)."""
    extra: dict[str, Any] = {"upload_tag": settings.destination.upload_tag}
    code = settings.destination.test_event_code if test_event_code is None else test_event_code
    if code and settings.destination.api == "conversions":
        extra["test_event_code"] = code
    return extra


def request_url(settings: Settings, dataset_id: str) -> str:
    """The events endpoint; the same path serves both APIs (event set id = dataset id)."""
    d = settings.destination
    return f"{d.graph_url}/{d.api_version}/{dataset_id}/events"
