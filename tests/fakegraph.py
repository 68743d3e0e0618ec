"""A fake Meta Graph API on 127.0.0.1 for fbocli's network tests and benchmarks.

Meta's API is unreachable from tests, so this server reproduces what fbocli depends on
(``/work/shared/spec/meta-api.md``): the Conversions API ``/events`` endpoint with Meta's
validation and its all-or-nothing refusals, the legacy Offline Conversions API, the token
checks used by ``fbocli auth``, Facebook Login for Devices, and injectable faults (errors,
rate limits, connection resets, slow answers, proxy error pages).

It also inspects tokens (``debug_token``: valid, expired, expiring, user or system user,
scopes), answers the Dataset Quality API (scores, 2044055, 10, no ``offline`` field) and
can play an app that requires ``appsecret_proof``.

It is a real HTTP/1.1 keep-alive server on its own thread: tests talk to it over TCP
exactly as the product talks to Meta. Run it by hand with
``python -m tests.fakegraph --port 8765 --token T --dataset ID``.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gc
import hashlib
import hmac
import itertools
import json
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson

JSON = dict[str, Any]

DAY = 86400
CAPI_MAX_EVENTS = 1000
LEGACY_MAX_EVENTS = 2000
PHYSICAL_STORE_WINDOW = 62 * DAY  # physical_store events may be this old ...
OTHER_SOURCE_WINDOW = 7 * DAY  # ... every other action_source only this old
FUTURE_TOLERANCE = 60

DEFAULT_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("ads_management", "granted"),
    ("public_profile", "granted"),
)
DEFAULT_IDENTITY = ("100000001", "Test User")
APP_ID = "987654321012345"  # the app every token of the fake belongs to
NO_SUCH_DATASET = 2044055  # dataset_quality's answer for a dataset it does not know
_NOT_OBJECTS = frozenset({"me", "device", "debug_token", "dataset_quality"})  # path roots
VERIFICATION_URI = "https://www.facebook.com/device"

_VERSION = re.compile(r"v\d+\.\d+")
_APP_TOKEN = re.compile(r"[^|\s]+\|[^|\s]+")
_ACTION_SOURCES = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
_LEGACY_EVENT_NAMES = frozenset(
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
_RATE_LIMIT_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    341: "(#341) Application limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
}
_DEVICE_STEPS = {
    "pending": (
        1349174,
        "Device Login Authorization Pending",
        "User has not yet authorized your application. Continue polling.",
    ),
    "slow_down": (
        1349172,
        "OAuth Device Excessive Polling",
        "Your device is polling too frequently. Space your requests with a minimum interval.",
    ),
    "expired": (
        1349152,
        "Activation Code Expired",
        "The code you entered has expired. Please go back to your device for a new code.",
    ),
}
_USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_HTML_PAGE = (
    "<html><head><title>{status} Bad Gateway</title></head><body>"
    "<center><h1>{status} Bad Gateway</h1></center><hr><center>proxy</center>"
    "</body></html>\n"
)


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class _Answer:
    """One HTTP response, built before anything is written to the socket."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


def _trace_id() -> str:
    return secrets.token_urlsafe(8)


def _json(status: int, payload: JSON, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer(status, json.dumps(payload).encode(), headers=dict(headers or {}))


def _error_body(
    code: int | None,
    message: str,
    *,
    subcode: int | None = None,
    kind: str = "OAuthException",
    is_transient: bool | None = False,
    user_title: str | None = None,
    user_msg: str | None = None,
) -> JSON:
    """Meta's error envelope; optional members are left out when not given."""
    error: JSON = {"message": message, "type": kind}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    if user_title is not None:
        error["error_user_title"] = user_title
    if user_msg is not None:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = _trace_id()
    return {"error": error}


def _error(status: int, code: int | None, message: str, **kwargs: Any) -> _Answer:
    headers: dict[str, str] = {}
    if code == 190:
        headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
    return _json(status, _error_body(code, message, **kwargs), headers)


def _invalid_parameter(user_msg: str, title: str = "Invalid parameter") -> _Answer:
    """Meta's answer to a request with any bad event: it does not say which one."""
    return _error(400, 100, "Invalid parameter", user_title=title, user_msg=user_msg)


def _no_such_object(object_id: str, method: str) -> _Answer:
    return _error(
        400,
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation. "
        "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
    )


def _permission_error(code: int) -> _Answer:
    if code == 10:
        message = "(#10) Application does not have permission for this action"
    else:
        message = f"(#{code}) Permissions error"
    return _error(403, code, message)


def _unknown_path(path: str) -> _Answer:
    return _error(400, 2500, f"Unknown path components: {path}")


def _meta_time(seconds: float) -> str:
    """Meta's way of writing a moment in its 190/463 message."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")


def appsecret_proof(token: str, app_secret: str) -> str:
    """What Meta expects: hex(HMAC-SHA256(key=app_secret, msg=access_token))."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def quality_event(
    event_name: str = "Purchase",
    composite: float = 7.9,
    match_key: float = 6.5,
    email: float = 0.81,
    phone: float = 0.64,
    frequency: float = 9.0,
    freshness: float = 5.0,
) -> JSON:
    """One event of a ``dataset_quality`` answer's ``offline`` list, as Meta writes it."""

    def score(value: float, what: str) -> JSON:
        return {"score": value, "recommendation": f"Improve {what} of {event_name} events."}

    return {
        "event_name": event_name,
        "composite": score(composite, "the overall quality"),
        "match_key": {
            **score(match_key, "match keys"),
            "coverage": {"email": email, "phone": phone},
        },
        "frequency": score(frequency, "the upload frequency"),
        "freshness": score(freshness, "the freshness"),
    }


@dataclass(slots=True)
class TokenDetails:
    """What ``debug_token`` says about a token; expiries in seconds from the fake's now
    (None: never)."""

    type: str = "SYSTEM_USER"
    expires_in: float | None = None
    data_access_expires_in: float | None = None
    scopes: list[str] | None = None  # None: the token's granted permissions
    expired: bool = False  # every call with it: 190, subcode 463


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True, slots=True)
class Fault:
    """What the server does instead of its normal answer (see :meth:`FakeGraph.inject`)."""

    kind: str  # "error" | "reset" | "delay" | "html" | "reply"
    status: int = 0
    payload: JSON | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @staticmethod
    def error(
        status: int = 500,
        code: int | None = 1,
        subcode: int | None = None,
        message: str = "An unknown error occurred",
        is_transient: bool | None = None,
        user_msg: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """An arbitrary Graph error answer (``code=None`` leaves ``code`` out)."""
        body: JSON = {"message": message, "type": "OAuthException"}
        if code is not None:
            body["code"] = code
        if subcode is not None:
            body["error_subcode"] = subcode
        if is_transient is not None:
            body["is_transient"] = is_transient
        if user_msg is not None:
            body["error_user_msg"] = user_msg
        return Fault("error", status, body, dict(headers or {}))

    @staticmethod
    def rate_limit(
        code: int = 4, *, retry_after: float | None = None, regain_minutes: int | None = None
    ) -> Fault:
        """HTTP 400 with a rate-limit code, optionally telling the client how long to wait."""
        message = _RATE_LIMIT_MESSAGES.get(
            code,
            f"(#{code}) There have been too many calls from this ad-account. "
            "Wait a bit and try again.",
        )
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        if regain_minutes is not None:
            usage = {
                "1234567890": [
                    {
                        "type": "ads_management",
                        "call_count": 100,
                        "total_cputime": 100,
                        "total_time": 100,
                        "estimated_time_to_regain_access": regain_minutes,
                    }
                ]
            }
            headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
        body: JSON = {"message": message, "type": "OAuthException", "code": code}
        return Fault("error", 400, {**body, "is_transient": True}, headers)

    @staticmethod
    def reset() -> Fault:
        """Close the connection (TCP reset) without sending any response."""
        return Fault("reset")

    @staticmethod
    def delay(seconds: float) -> Fault:
        """Process the request normally (events are accepted) but answer only after a sleep."""
        return Fault("delay", seconds=seconds)

    @staticmethod
    def html(status: int = 502) -> Fault:
        """A proxy's HTML error page instead of JSON."""
        return Fault("html", status)

    @staticmethod
    def reply(payload: JSON, status: int = 200) -> Fault:
        """Answer with exactly this JSON (no events are stored): e.g. a success whose
        ``num_processed_entries`` / ``events_received`` disagrees with what was sent."""
        return Fault("reply", status, payload)

    def answer(self) -> _Answer:
        """The response for an ``error``, ``html`` or ``reply`` fault."""
        if self.kind == "reply":
            return _json(self.status, dict(self.payload or {}), self.headers)
        if self.kind == "html":
            page = _HTML_PAGE.format(status=self.status).encode()
            return _Answer(self.status, page, "text/html; charset=utf-8", dict(self.headers))
        body = dict(self.payload or {})
        body["fbtrace_id"] = _trace_id()
        return _json(self.status, {"error": body}, self.headers)


@dataclass(slots=True)
class _Pending:
    fault: Fault
    remaining: int
    dataset: str | None
    path_suffix: str

    def matches(self, path: str, dataset: str | None) -> bool:
        if self.dataset is not None and dataset != self.dataset:
            return False
        return path.endswith(self.path_suffix)


# --------------------------------------------------------------------------- validation


class Problem(NamedTuple):
    """Why Meta refuses a request: shown as ``error_user_title`` / ``error_user_msg``."""

    title: str
    message: str


def _bad(message: str) -> Problem:
    return Problem("Invalid parameter", message)


def _is_number(value: object) -> bool:
    return type(value) in (int, float)


# Match-key kinds, looked up only for the keys an event carries: this is the hot path
# (25,000 events/s in benchmarks), hence plain branches rather than a validator per key.
_HASH, _HASH_LIST, _STRING_LIST, _INT, _DIGITS = range(5)
_KIND_RULES = {
    _HASH: "must be a lowercase SHA-256 hash",
    _HASH_LIST: "must be an array of lowercase SHA-256 hashes",
    _STRING_LIST: "must be an array of strings",
    _INT: "must be an integer",
    _DIGITS: "must be a string of digits",
}
_CAPI_KEYS = {
    "em": _HASH_LIST,
    "ph": _HASH_LIST,
    **dict.fromkeys(("ge", "fn", "ln", "ct", "st", "zp", "country", "db"), _HASH),
    "external_id": _STRING_LIST,
    "lead_id": _INT,
}
_LEGACY_KEYS = {
    "email": _HASH_LIST,
    "phone": _HASH_LIST,
    **dict.fromkeys(
        ("gen", "fn", "ln", "ct", "st", "zip", "country", "doby", "dobm", "dobd"), _HASH
    ),
    "lead_id": _DIGITS,
}
_hex64 = re.compile(r"[0-9a-f]{64}").fullmatch
_HEX_DIGITS = b"0123456789abcdef"


def _all_hex(text: str) -> bool:
    """Only lowercase hex digits: deleting those leaves nothing (~5x cheaper than a regex
    over the dozen hashes of an event; any other character, non-ASCII too, survives)."""
    return not text.encode("utf-8", "surrogatepass").translate(None, _HEX_DIGITS)


def _key_ok(kind: int, value: object) -> bool:
    if kind == _HASH:
        return type(value) is str and _hex64(value) is not None
    if kind == _HASH_LIST:
        return (
            type(value) is list
            and bool(value)
            and all(type(v) is str and _hex64(v) is not None for v in value)
        )
    if kind == _STRING_LIST:
        return type(value) is list and bool(value) and all(type(v) is str and v for v in value)
    if kind == _INT:
        return type(value) is int
    return type(value) is str and value.isdigit()


def _check_keys(keys: dict[str, Any], kinds: dict[str, int]) -> Problem | None:
    if _keys_fine(keys, kinds):
        return None
    for key, value in keys.items():  # name the first key at fault
        kind = kinds.get(key)
        if kind is not None and not _key_ok(kind, value):
            return _bad(f"The parameter {key} {_KIND_RULES[kind]}.")
    return None


def _keys_fine(keys: dict[str, Any], kinds: dict[str, int]) -> bool:
    """Every key passes ``_key_ok``, checked faster: one scan over all the hashes of an
    event (a dozen per event, 100,000 events per benchmark run) instead of one each."""
    hashes: list[str] = []
    add, extend = hashes.append, hashes.extend
    for key, value in keys.items():
        kind = kinds.get(key)
        if kind == _HASH:
            if type(value) is not str:
                return False
            add(value)
        elif kind == _HASH_LIST:
            if type(value) is not list or not value:
                return False
            extend(value)
        elif kind is not None and not _key_ok(kind, value):
            return False
    if not hashes:
        return True
    try:
        joined = "".join(hashes)
    except TypeError:  # an array item that is not a string
        return False
    # Every hash 64 long: the shortest is, and together they are 64 each.
    return len(joined) == 64 * len(hashes) and min(map(len, hashes)) == 64 and _all_hex(joined)


def _check_time(event_time: int, now: float, window: int) -> Problem | None:
    if event_time < now - window:
        return Problem(
            "Event Timestamp Too Old",
            "The timestamp for this event is too far in the past. Events need to be sent "
            f"within {window // DAY} days of when they occurred.",
        )
    if event_time > now + FUTURE_TOLERANCE:
        return Problem(
            "Event Timestamp In Future",
            "The timestamp for this event is in the future. "
            "Events may be at most one minute ahead of the current time.",
        )
    return None


def check_capi_event(event: object, now: float) -> Problem | None:
    """Why Meta would refuse this Conversions API event (``None``: it is fine)."""
    if not isinstance(event, dict):
        return _bad("Each event in data must be a JSON object.")
    name = event.get("event_name")
    if not isinstance(name, str) or not name:
        return _bad("The parameter event_name is required and must be a string.")
    event_time = event.get("event_time")
    if not isinstance(event_time, int) or isinstance(event_time, bool):
        return _bad("The parameter event_time is required and must be a Unix timestamp.")
    source = event.get("action_source")
    if source not in _ACTION_SOURCES:
        return _bad("The parameter action_source is required and must be a valid source.")
    user = event.get("user_data")
    if not isinstance(user, dict) or not user:
        return _bad("The parameter user_data must contain at least one customer information key.")
    problem = _check_keys(user, _CAPI_KEYS)
    if problem is not None:
        return problem
    if "event_id" in event and not isinstance(event["event_id"], str):
        return _bad("The parameter event_id must be a string.")
    custom = event.get("custom_data")
    if custom is not None:
        if not isinstance(custom, dict):
            return _bad("The parameter custom_data must be an object.")
        if "value" in custom and not _is_number(custom["value"]):
            return _bad("The parameter value in custom_data must be a number.")
    window = PHYSICAL_STORE_WINDOW if source == "physical_store" else OTHER_SOURCE_WINDOW
    return _check_time(event_time, now, window)


def check_legacy_event(event: object, now: float) -> Problem | None:
    """Why the Offline Conversions API would refuse this event (``None``: it is fine)."""
    if not isinstance(event, dict):
        return _bad("Each event in data must be a JSON object.")
    keys = event.get("match_keys")
    if not isinstance(keys, dict) or not keys:
        return _bad("The parameter match_keys is required and must not be empty.")
    problem = _check_keys(keys, _LEGACY_KEYS)
    if problem is not None:
        return problem
    name = event.get("event_name")
    if name not in _LEGACY_EVENT_NAMES:
        return _bad(f"The parameter event_name must be one of {sorted(_LEGACY_EVENT_NAMES)}.")
    event_time = event.get("event_time")
    if not isinstance(event_time, int) or isinstance(event_time, bool):
        return _bad("The parameter event_time is required and must be a Unix timestamp.")
    if "value" in event:
        if not _is_number(event["value"]):
            return _bad("The parameter value must be a number.")
        currency = event.get("currency")
        if not isinstance(currency, str) or len(currency) != 3:
            return _bad("The parameter currency is required when value is present.")
    return _check_time(event_time, now, PHYSICAL_STORE_WINDOW)


def _event_id(event: JSON, legacy: bool) -> str | None:
    """The deduplication key Meta would use: event_id (CAPI) or order_id (legacy)."""
    if not legacy:
        value = event.get("event_id")
    else:
        value = event.get("order_id")
        custom = event.get("custom_data")
        if value is None and isinstance(custom, dict):
            value = custom.get("order_id")
    return None if value is None else str(value)


# --------------------------------------------------------------------------- requests


class _BadBody(Exception):
    """The request body could not be parsed."""


def _parse_params(query: str, headers: dict[str, str], body: bytes) -> JSON:
    """Query string and body parameters merged (the body wins), ``data`` decoded."""
    params: JSON = {k: v[-1] for k, v in parse_qs(query).items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if body:
        if content_type == "application/x-www-form-urlencoded":
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            params.update({k: v[-1] for k, v in form.items()})
        else:
            try:
                parsed = _loads(body)
            except ValueError as exc:
                raise _BadBody("The request body is not valid JSON.") from exc
            if not isinstance(parsed, dict):
                raise _BadBody("The request body must be a JSON object.")
            params.update(parsed)
    data = params.get("data")
    if isinstance(data, str):
        try:
            params["data"] = json.loads(data)
        except ValueError as exc:
            raise _BadBody("(#100) param data must be an array.") from exc
    return params


def _loads(body: bytes) -> Any:
    """JSON as the standard library reads it; orjson first, for the benchmark's sake (where
    it refuses what the standard library takes, e.g. NaN, the standard library decides)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token.strip():
        return token.strip()
    return None


def _count_events(query: str, headers: dict[str, str], body: bytes) -> int:
    try:
        data = _parse_params(query, headers, body).get("data")
    except _BadBody:
        return 0
    return len(data) if isinstance(data, list) else 0


class FakeGraph:
    """A Graph API lookalike with what-Meta-accepted bookkeeping and fault injection."""

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("test-token",),
        datasets: Iterable[str] = ("1234567890123456", "6543210987654321"),
        legacy: bool = False,
        now: float | None = None,
        store_events: bool = True,
        deprecated_versions: Iterable[str] = (),
        port: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._tokens = set(tokens)
        self._revoked: set[str] = set()
        self._datasets = list(dict.fromkeys(datasets))
        self._removed: set[str] = set()
        self.legacy = legacy
        self._now = now
        self.store_events = store_events
        self.deprecated_versions = frozenset(deprecated_versions)
        self._port = port
        self._received: dict[str, list[JSON]] = {d: [] for d in self._datasets}
        self._ids: list[tuple[str, str]] = []
        self._requests: list[JSON] = []
        self._faults: list[_Pending] = []
        self._rejectors: list[Callable[[JSON], str | None]] = []
        self._denied: dict[tuple[str, str], int] = {}
        self._device_steps: list[str] = []
        self._device_token = "device-token"
        self._device_codes: set[str] = set()
        self._upload_ids = itertools.count(900000000000001)
        self._connections: set[socket.socket] = set()
        self.permissions: dict[str, list[tuple[str, str]]] = {
            t: list(DEFAULT_PERMISSIONS) for t in self._tokens
        }
        self.identities: dict[str, tuple[str, str]] = {t: DEFAULT_IDENTITY for t in self._tokens}
        self.usage_headers: dict[str, str] = {}
        self.tokens: dict[str, TokenDetails] = {}  # debug_token's answer (default: system user)
        self.app_secret: str | None = None  # set: every call needs a matching appsecret_proof
        self.quality: dict[str, list[JSON]] = {}  # dataset -> dataset_quality's offline list
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeGraph:
        """Listen on 127.0.0.1 and serve on a daemon thread; sets :attr:`url`."""
        handler = type("_BoundHandler", (_Handler,), {"graph": self})
        server = _Server(("127.0.0.1", self._port), handler)
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open (keep-alive) connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- observations

    @property
    def received(self) -> dict[str, list[JSON]]:
        """Accepted events per dataset, in arrival order (a snapshot).

        With ``store_events=False`` each entry is only ``{"event_id": ...}``.
        """
        with self._lock:
            return {d: list(events) for d, events in self._received.items()}

    @property
    def requests(self) -> list[JSON]:
        """Every request seen: method, path, query, dataset, status, events, fault, params,
        headers and client (``host:port``, one per TCP connection)."""
        with self._lock:
            return list(self._requests)

    def event_ids(self, dataset_id: str | None = None) -> list[str]:
        """Accepted event_id (CAPI) / order_id (legacy), duplicates included."""
        with self._lock:
            return [i for d, i in self._ids if dataset_id is None or d == dataset_id]

    def count(self, dataset_id: str | None = None) -> int:
        """How many events were accepted (for one dataset or all)."""
        with self._lock:
            if dataset_id is not None:
                return len(self._received.get(dataset_id, []))
            return sum(len(events) for events in self._received.values())

    # ----------------------------------------------------------------- behaviour

    def inject(
        self,
        fault: Fault,
        times: int = 1,
        *,
        dataset: str | None = None,
        path_suffix: str = "/events",
    ) -> None:
        """Give the next ``times`` matching requests this fault (faults queue FIFO)."""
        with self._lock:
            self._faults.append(_Pending(fault, times, dataset, path_suffix))

    def clear_faults(self) -> None:
        """Forget every injected fault, event refusal and removed dataset."""
        with self._lock:
            self._faults.clear()
            self._rejectors.clear()
            self._removed.clear()

    def reject_events(self, predicate: Callable[[JSON], str | None]) -> None:
        """Refuse any whole request holding an event for which ``predicate`` gives a message."""
        with self._lock:
            self._rejectors.append(predicate)

    def remove_dataset(self, dataset_id: str) -> None:
        with self._lock:
            self._removed.add(dataset_id)

    def add_dataset(self, dataset_id: str) -> None:
        with self._lock:
            self._removed.discard(dataset_id)
            if dataset_id not in self._datasets:
                self._datasets.append(dataset_id)
                self._received[dataset_id] = []

    def add_token(self, token: str) -> None:
        with self._lock:
            self._tokens.add(token)
            self._revoked.discard(token)

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._revoked.add(token)

    def deny(self, token: str, dataset_id: str, code: int = 200) -> None:
        """Make ``token`` lack permission on ``dataset_id`` (HTTP 403, ``code``)."""
        with self._lock:
            self._denied[(token, dataset_id)] = code

    def describe_token(self, token: str, **details: Any) -> None:
        """What ``debug_token`` says about ``token`` (see :class:`TokenDetails`); a token
        described with ``expired=True`` is refused on every call (190, subcode 463)."""
        with self._lock:
            self.tokens[token] = TokenDetails(**details)

    def require_app_secret(self, app_secret: str | None) -> None:
        """Play an app with "Require App Secret" (None: stop)."""
        with self._lock:
            self.app_secret = app_secret

    def set_quality(self, dataset_id: str, events: list[JSON]) -> None:
        """The ``offline`` list ``dataset_quality`` answers for ``dataset_id`` (see
        :func:`quality_event`); a dataset never set answers without the field."""
        with self._lock:
            self.quality[dataset_id] = list(events)

    def device_script(self, steps: list[str], token: str = "device-token") -> None:
        """Answers to successive device login_status polls; the last one repeats."""
        unknown = [s for s in steps if s != "approved" and s not in _DEVICE_STEPS]
        if unknown:
            raise ValueError(f"unknown device steps: {unknown}")
        with self._lock:
            self._device_steps = list(steps)
            self._device_token = token

    # ----------------------------------------------------------------- dispatch

    def _now_time(self) -> float:
        return time.time() if self._now is None else self._now

    def _take_fault(self, path: str, dataset: str | None) -> Fault | None:
        with self._lock:
            for pending in self._faults:
                if pending.matches(path, dataset):
                    pending.remaining -= 1
                    if pending.remaining <= 0:
                        self._faults.remove(pending)
                    return pending.fault
        return None

    def handle(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        client: str = "",
    ) -> _Answer | None:
        """Answer one request; ``None`` means drop the connection without a response."""
        split = urlsplit(target)
        path = split.path
        segments = [s for s in path.split("/") if s]
        has_object = len(segments) > 1 and segments[1] not in _NOT_OBJECTS
        dataset = segments[1] if has_object else None
        fault = self._take_fault(path, dataset)
        record: JSON = {
            "method": method,
            "path": path,
            "query": split.query,
            "dataset": dataset,
            "headers": headers,
            "client": client,
            "fault": fault.kind if fault else None,
            "time": time.time(),
        }
        answer: _Answer | None
        if fault is None or fault.kind == "delay":
            answer, n_events, params = self._route(method, segments, split.query, headers, body)
            record["params"] = params
        else:
            n_events = _count_events(split.query, headers, body)
            answer = None if fault.kind == "reset" else fault.answer()
        record["events"] = n_events
        record["status"] = None if answer is None else answer.status
        with self._lock:
            self._requests.append(record)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)  # already accepted: a client timeout may cause a resend
        return answer

    def _route(
        self, method: str, segments: list[str], query: str, headers: dict[str, str], body: bytes
    ) -> tuple[_Answer, int, JSON]:
        """The normal answer, how many events the body carried, its non-data params."""
        path = "/" + "/".join(segments)
        if not segments or not _VERSION.fullmatch(segments[0]):
            return _unknown_path(path), 0, {}
        if segments[0] in self.deprecated_versions:
            message = (
                f"(#2635) You are calling a deprecated version of the Ads API ({segments[0]}). "
                "Please update to the latest version."
            )
            return _error(400, 2635, message), 0, {}
        try:
            params = _parse_params(query, headers, body)
        except _BadBody as exc:
            return _invalid_parameter(str(exc)), 0, {}
        data = params.get("data")
        n_events = len(data) if isinstance(data, list) else 0
        hidden = ("data", "access_token", "input_token")
        shown = {k: v for k, v in params.items() if k not in hidden}
        rest = segments[1:]
        if rest[:1] == ["device"]:
            return self._device(method, rest, params), n_events, shown
        token = _bearer(headers) or params.get("access_token")
        if not isinstance(token, str) or not token:
            return _error(401, 190, "An active access token must be used."), n_events, shown
        with self._lock:
            valid = token in self._tokens and token not in self._revoked
            details = self.tokens.get(token)
            app_secret = self.app_secret
        if not valid:
            message = "Invalid OAuth access token - Cannot parse access token"
            return _error(401, 190, message), n_events, shown
        if details is not None and details.expired:
            now = self._now_time()
            message = (
                f"Error validating access token: Session has expired on "
                f"{_meta_time(now - DAY)}. The current time is {_meta_time(now)}."
            )
            return _error(401, 190, message, subcode=463), n_events, shown
        if app_secret is not None:
            refusal = self._proof_refusal(token, app_secret, params.get("appsecret_proof"))
            if refusal is not None:
                return refusal, n_events, shown
        return self._route_user(method, rest, token, params), n_events, shown

    @staticmethod
    def _proof_refusal(token: str, app_secret: str, proof: object) -> _Answer | None:
        """An app with "Require App Secret": error 100 naming appsecret_proof."""
        if not proof:
            message = "API calls from the server require an appsecret_proof argument"
        elif proof != appsecret_proof(token, app_secret):
            message = "Invalid appsecret_proof provided in the API argument"
        else:
            return None
        return _error(400, 100, message, kind="GraphMethodException")

    def _route_user(self, method: str, rest: list[str], token: str, params: JSON) -> _Answer:
        if method == "GET" and rest == ["debug_token"]:
            return self._debug_token(params.get("input_token"))
        if method == "GET" and rest == ["dataset_quality"]:
            return self._dataset_quality(token, params)
        if method == "GET" and rest == ["me"]:
            user_id, name = self.identities.get(token, DEFAULT_IDENTITY)
            return _json(200, {"id": user_id, "name": name})
        if method == "GET" and rest == ["me", "permissions"]:
            granted = self.permissions.get(token, list(DEFAULT_PERMISSIONS))
            data = [{"permission": p, "status": s} for p, s in granted]
            return _json(200, {"data": data})
        if len(rest) == 1 and method == "GET":
            refusal = self._dataset_refusal(token, rest[0], method)
            if refusal is not None:
                return refusal
            return _json(200, {"id": rest[0], "name": f"Dataset {rest[0]}"})
        if len(rest) == 2 and rest[1] == "events" and method == "POST":
            refusal = self._dataset_refusal(token, rest[0], method)
            if refusal is not None:
                return refusal
            return self._events(rest[0], params)
        return _unknown_path("/" + "/".join(rest))

    def _debug_token(self, input_token: object) -> _Answer:
        now = int(self._now_time())
        with self._lock:
            known = input_token in self._tokens and input_token not in self._revoked
            details = self.tokens.get(str(input_token), TokenDetails())
            granted = self.permissions.get(str(input_token), list(DEFAULT_PERMISSIONS))
            user_id, _ = self.identities.get(str(input_token), DEFAULT_IDENTITY)
        if not isinstance(input_token, str) or not input_token:
            return _invalid_parameter("The parameter input_token is required")
        scopes = details.scopes
        if scopes is None:
            scopes = [p for p, status in granted if status == "granted"]

        def moment(seconds: float | None) -> int:
            return 0 if seconds is None else int(now + seconds)

        data: JSON = {
            "app_id": APP_ID,
            "type": details.type,
            "application": "fbocli test app",
            "data_access_expires_at": moment(details.data_access_expires_in),
            "expires_at": moment(details.expires_in),
            "is_valid": known and not details.expired,
            "issued_at": now - 30 * DAY,
            "scopes": scopes,
            "granular_scopes": [{"scope": scope} for scope in scopes],
            "user_id": user_id,
        }
        if not data["is_valid"]:
            data["error"] = {
                "code": 190,
                "message": "Error validating access token: the token is invalid or expired.",
                "subcode": 463 if details.expired else 467,
            }
        return _json(200, {"data": data})

    def _dataset_quality(self, token: str, params: JSON) -> _Answer:
        dataset = str(params.get("dataset_id") or "")
        with self._lock:
            exists = dataset in self._datasets and dataset not in self._removed
            denied = self._denied.get((token, dataset))
            offline = self.quality.get(dataset)
        if not exists:
            return _error(
                400,
                100,
                f"Dataset {dataset} does not exist or you do not have access to it",
                subcode=NO_SUCH_DATASET,
            )
        if denied is not None:
            return _permission_error(10)
        if offline is None:  # a dataset without the beta: no offline field at all
            return _json(200, {"id": dataset})
        return _json(200, {"offline": offline})

    def _dataset_refusal(self, token: str, dataset: str, method: str) -> _Answer | None:
        with self._lock:
            exists = dataset in self._datasets and dataset not in self._removed
            denied = self._denied.get((token, dataset))
        if not exists:
            return _no_such_object(dataset, method)
        if denied is not None:
            return _permission_error(denied)
        return None

    def _events(self, dataset: str, params: JSON) -> _Answer:
        data = params.get("data")
        limit = LEGACY_MAX_EVENTS if self.legacy else CAPI_MAX_EVENTS
        if not isinstance(data, list) or not data:
            return _invalid_parameter(
                "The parameter data is required and must be a non-empty array."
            )
        if len(data) > limit:
            return _invalid_parameter(f"The parameter data may hold at most {limit} events.")
        if self.legacy and not (params.get("upload_tag") or params.get("upload_id")):
            return _invalid_parameter("The parameter upload_tag is required.")
        check = check_legacy_event if self.legacy else check_capi_event
        now = self._now_time()
        for event in data:
            problem = check(event, now)
            if problem is not None:
                return _invalid_parameter(problem.message, problem.title)
        with self._lock:
            rejectors = list(self._rejectors)
        for predicate in rejectors:
            for event in data:
                message = predicate(event)
                if message is not None:
                    return _invalid_parameter(message)
        self._accept(dataset, data)
        if self.legacy:
            upload_id = str(next(self._upload_ids))
            return _json(200, {"id": upload_id, "num_processed_entries": len(data)})
        return _json(200, {"events_received": len(data), "messages": [], "fbtrace_id": _trace_id()})

    def _accept(self, dataset: str, data: list[JSON]) -> None:
        ids = [_event_id(event, self.legacy) for event in data]
        stored = data if self.store_events else [{"event_id": i} for i in ids]
        with self._lock:
            self._received[dataset].extend(stored)
            self._ids.extend((dataset, i) for i in ids if i is not None)

    def _device(self, method: str, rest: list[str], params: JSON) -> _Answer:
        app_token = params.get("access_token")
        if not isinstance(app_token, str) or not _APP_TOKEN.fullmatch(app_token):
            message = "Invalid OAuth access token - Cannot parse access token"
            return _error(401, 190, message)
        if method != "POST":
            return _unknown_path("/" + "/".join(rest))
        if rest == ["device", "login"]:
            code = secrets.token_hex(16)
            user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
            with self._lock:
                self._device_codes.add(code)
            return _json(
                200,
                {
                    "code": code,
                    "user_code": user_code,
                    "verification_uri": VERIFICATION_URI,
                    "expires_in": 420,
                    "interval": 5,
                },
            )
        if rest == ["device", "login_status"]:
            return self._device_poll(params.get("code"))
        return _unknown_path("/" + "/".join(rest))

    def _device_poll(self, code: object) -> _Answer:
        with self._lock:
            if code not in self._device_codes:
                return _invalid_parameter("The device code is invalid.")
            if len(self._device_steps) > 1:
                step = self._device_steps.pop(0)
            else:
                step = self._device_steps[0] if self._device_steps else "pending"
            token = self._device_token
            if step == "approved":
                self._tokens.add(token)
                self._revoked.discard(token)
                self.permissions.setdefault(token, list(DEFAULT_PERMISSIONS))
        if step == "approved":
            return _json(
                200,
                {"access_token": token, "expires_in": 5183944, "data_access_expiration_time": 0},
            )
        subcode, title, user_msg = _DEVICE_STEPS[step]
        return _error(
            400,
            31,
            "(#31) " + user_msg,
            subcode=subcode,
            user_title=title,
            user_msg=user_msg,
        )

    def _track(self, conn: socket.socket, opened: bool) -> None:
        with self._lock:
            if opened:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP layer: reads the request, lets :class:`FakeGraph` answer, writes it."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeGraph/1.0"
    disable_nagle_algorithm = True
    graph: FakeGraph

    def setup(self) -> None:
        super().setup()
        self.graph._track(self.connection, True)

    def finish(self) -> None:
        self.graph._track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests and benchmarks do not want a line per request."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header tells Meta's clock: the fake's ``now`` when it has one."""
        return super().date_time_string(self.graph._now_time() if timestamp is None else timestamp)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        client = "{}:{}".format(*self.client_address[:2])
        answer = self.graph.handle(method, self.path, headers, body, client)
        if answer is None:
            self.close_connection = True
            # SO_LINGER 0: close() sends a TCP RST, like a dropped upstream connection.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("x-fb-trace-id", _trace_id())
            for name, value in {**self.graph.usage_headers, **answer.headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:  # the client gave up (timeout) before the answer came
            self.close_connection = True


def main(argv: list[str] | None = None) -> int:
    """Serve a fake Graph API until Ctrl-C (README troubleshooting, benchmarks)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakegraph", description="A fake Meta Graph API on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--token", action="append", help="a valid access token (repeatable)")
    parser.add_argument("--dataset", action="append", help="an existing dataset id (repeatable)")
    parser.add_argument("--legacy", action="store_true", help="speak the Offline Conversions API")
    parser.add_argument("--deprecated", action="append", default=[], help="a deprecated version")
    parser.add_argument("--no-store", action="store_true", help="keep only counts and ids")
    parser.add_argument(
        "--now", help="reference time of the 62-day window, ISO 8601 (as fbocli's --now)"
    )
    args = parser.parse_args(argv)
    now = None
    if args.now:
        moment = datetime.fromisoformat(args.now)
        now = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    graph = FakeGraph(
        tokens=args.token or ("test-token",),
        datasets=args.dataset or ("1234567890123456", "6543210987654321"),
        legacy=args.legacy,
        store_events=not args.no_store,
        deprecated_versions=args.deprecated,
        port=args.port,
        now=now,
    ).start()
    # What lives for the whole process (modules, the server) stays out of the cyclic
    # collector's sight: each request parses ~30,000 objects, whose allocations would
    # otherwise trigger collections walking all of it (benchmarks share two cores).
    gc.freeze()
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # where is it stuck? kill -USR1
    # Ctrl-C stops it even when started from a background job, which ignores SIGINT (and
    # Python then installs no KeyboardInterrupt handler).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(graph.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        graph.stop()
        counts = {d: len(events) for d, events in graph.received.items()}
        print(f"events accepted: {json.dumps(counts)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
