"""The only network I/O of fbocli: a Graph API client implementing ``spec/meta-api.md``.

One ``requests.Session`` shared by the upload workers; every request is retried
here (backoff with full jitter, longer for rate limits, server-told waits
honoured), bad events are isolated by bisection (with a budget, and a stop when
Meta's clock and the run's disagree), and every error text is redacted so the
access token can never leak through a message or a traceback. Each try ends by
``timeout_seconds`` from connecting to the last byte, reads at most
:data:`MAX_RESPONSE_BYTES`, follows no redirect, and plain http (loopback only)
ignores every proxy variable.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import random as _random
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from fbocli import __version__, wire
from fbocli.errors import ApiVersionError, AppSecretError, AuthError, FbocliError, clip
from fbocli.secret import Secret, redact
from fbocli.versions import NEWEST

Api = Literal["conversions", "offline"]
ErrorKind = Literal[
    "auth",
    "app_secret",
    "permission",
    "version",
    "missing_dataset",
    "rate_limit",
    "transient",
    "invalid",
    "too_large",  # HTTP 413: a body limit in front of Meta; the batch is split
    "headers_too_large",  # HTTP 431: stops the run
    "redirect",  # 3xx: not followed; stops the run
    "clock",  # refused for time while Meta's clock and the run's disagree: stops the run
]

RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
MAX_SERVER_WAIT = 15 * 60.0  # never trust a server-told wait beyond 15 minutes
MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # Meta's answers are a few KB; more is not Meta
MAX_CLOCK_SKEW = 5 * 60.0  # Meta's Date vs the run's clock, when Meta refuses for time
# Meta's words when it refuses an event for its time (too old, in the future).
_TIME_REFUSAL = re.compile(r"timestamp|event_time|too far in the past|in the future", re.I)
USAGE_SLOWDOWN_PCT = 90.0
USAGE_KEYS = ("call_count", "total_time", "total_cputime", "acc_id_util_pct")
AUTH_HINT = "run `fbocli auth` to set up a new token"
CLOCK_HINT = (
    "the run's clock is --now when given (moving on from it), else this machine's: set "
    "the machine's clock right (NTP: timedatectl set-ntp true), or give --now within a few "
    "minutes of the current time; nothing more was sent, and a re-run sends what was not"
)
APP_SECRET_HINT = (
    "set FBOCLI_APP_SECRET to the app's secret (App settings > Basic in Meta's app "
    "dashboard), or store it with the token: "
    "fbocli auth login --token-stdin --app-secret-stdin"
)


@dataclass(frozen=True, slots=True)
class GraphErrorInfo:
    """What we keep of a Meta error for the user (already redacted)."""

    status: int
    code: int | None
    subcode: int | None
    message: str  # error_user_msg when present, else message
    fbtrace_id: str | None = None
    is_transient: bool | None = None
    per_event: bool = False  # Meta explained one event (error_user_msg), not the request

    def describe(self) -> str:
        """One line for a person: the message and the identifiers Meta support asks for."""
        return f"{self.message} ({self.ids()})"

    def ids(self) -> str:
        """``code 100, subcode 33, fbtrace_id A1b2`` (or the HTTP status without a code)."""
        parts = [f"code {self.code}" if self.code is not None else f"HTTP {self.status}"]
        if self.subcode is not None:
            parts.append(f"subcode {self.subcode}")
        if self.fbtrace_id:
            parts.append(f"fbtrace_id {self.fbtrace_id}")
        return ", ".join(parts)


class GraphError(FbocliError):
    """A Graph API request finally failed; ``info`` holds Meta's error when there was one,
    ``answered`` whether that error was Meta's final answer (not retries running out or
    the network failing)."""

    def __init__(
        self,
        message: str,
        *,
        info: GraphErrorInfo | None = None,
        hint: str | None = None,
        answered: bool = True,
    ) -> None:
        super().__init__(message, hint=hint)
        self.info = info
        self.answered = answered and info is not None


@dataclass(frozen=True, slots=True)
class Failure:
    """Why events were not delivered: in words, and Meta's error when Meta answered."""

    reason: str  # without Meta's identifiers, so that one cause is one row
    info: GraphErrorInfo | None = None


@dataclass
class BatchResult:
    """Per-event outcome of one ``send_events`` call; indices refer to the events passed."""

    delivered: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # api_rejected
    failed: list[tuple[int, Failure]] = field(default_factory=list)
    retries: int = 0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter; ``scale`` shrinks every wait (a testing aid)."""

    max_tries: int = 6
    base: float = 1.0
    rate_limit_base: float = 15.0
    cap: float = 60.0
    scale: float = 1.0

    @classmethod
    def for_run(cls, max_tries: int, scale: float = 1.0) -> RetryPolicy:
        """The policy of a run: ``max_tries`` tries in all; ``scale`` multiplies every wait
        (the CLI's $FBOCLI_BACKOFF_SCALE, a testing aid)."""
        return cls(max_tries=max(1, max_tries), scale=scale)

    def backoff(self, attempt: int, rnd: float, *, rate_limited: bool = False) -> float:
        """Wait before retry number ``attempt`` (0-based): ``rnd * min(cap, base * 2**attempt)``."""
        base = self.rate_limit_base if rate_limited else self.base
        return rnd * min(self.cap, base * 2.0**attempt) * self.scale

    def server_wait(self, seconds: float) -> float:
        """A wait Meta asked for, capped and scaled like every other wait."""
        return min(seconds, MAX_SERVER_WAIT) * self.scale

    def usage_pause(self, usage_pct: float) -> float:
        """Pause before the next request when Meta reports usage near its limit."""
        if usage_pct < USAGE_SLOWDOWN_PCT:
            return 0.0
        pause = max(1.0, (usage_pct - USAGE_SLOWDOWN_PCT) / 10.0 * 5.0)
        return min(self.cap, pause) * self.scale


# ---------------------------------------------------------------- pure helpers


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def parse_error(status: int, body: bytes, token: Secret | None = None) -> GraphErrorInfo:
    """Meta's error envelope -> :class:`GraphErrorInfo`; a non-JSON body keeps a short excerpt."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        excerpt = " ".join(body[:120].decode("utf-8", "replace").split())
        text = f"unexpected non-JSON response: {excerpt}" if excerpt else "empty response"
        return GraphErrorInfo(status, None, None, redact(text, token))
    user_msg = err.get("error_user_msg")
    per_event = isinstance(user_msg, str) and bool(user_msg)
    message = user_msg if per_event else err.get("message")
    trace = err.get("fbtrace_id")
    transient = err.get("is_transient")
    return GraphErrorInfo(
        status=status,
        code=_as_int(err.get("code")),
        subcode=_as_int(err.get("error_subcode")),
        message=clip(redact(str(message or "no error message"), token)),
        fbtrace_id=clip(str(trace), 100) if trace else None,
        is_transient=transient if isinstance(transient, bool) else None,
        per_event=per_event,
    )


def redirect_info(status: int, location: str | None) -> GraphErrorInfo:
    """A redirect, in words: where it leads by host only (a URL may carry a token)."""
    host = ""
    if location:
        try:
            host = urlsplit(location.strip()).hostname or ""
        except ValueError:
            host = ""
    where = f"to host {host}" if host else "to the same host" if location else "(no Location)"
    return GraphErrorInfo(
        status,
        None,
        None,
        f"the server answered with a redirect (HTTP {status}) {where}; fbocli does not "
        "follow redirects",
    )


def is_time_refusal(info: GraphErrorInfo) -> bool:
    """Whether Meta refused an event for its time (too old, in the future)."""
    return info.code == 100 and _TIME_REFUSAL.search(info.message) is not None


def clock_skew(date_header: str | None, run_time: float) -> float | None:
    """Meta's clock (its ``Date`` header) minus the run's, in seconds; None without one."""
    if not date_header:
        return None
    try:
        when = parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - run_time


def classify(info: GraphErrorInfo) -> ErrorKind:
    """Map an error to its row of the meta-api.md error table."""
    code = info.code
    if info.status == 413:
        return "too_large"
    if info.status == 431:
        return "headers_too_large"
    if 300 <= info.status < 400:
        return "redirect"
    if code == 190:
        return "auth"
    if code == 100 and "appsecret_proof" in info.message.lower():
        return "app_secret"  # the app requires the proof (a missing or a wrong one)
    if code == 2635:
        return "version"
    if code == 10 or (code is not None and 200 <= code <= 299):
        return "permission"
    if (code == 100 and info.subcode == 33) or code == 803:
        return "missing_dataset"
    if code in RATE_LIMIT_CODES or info.status == 429:
        return "rate_limit"
    if (
        code in TRANSIENT_CODES
        or info.is_transient is True
        or info.status >= 500
        or info.status < 400
        or code is None
    ):
        return "transient"
    return "invalid"


def appsecret_proof(token: Secret, app_secret: Secret) -> str:
    """``hex(HMAC-SHA256(key=app_secret, msg=access_token))`` (meta-api.md)."""
    key, msg = app_secret.reveal().encode(), token.reveal().encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _json_header(headers: Mapping[str, str], name: str) -> object:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _buc_entries(headers: Mapping[str, str]) -> list[dict[str, Any]]:
    doc = _json_header(headers, "X-Business-Use-Case-Usage")
    if not isinstance(doc, dict):
        return []
    entries: list[dict[str, Any]] = []
    for value in doc.values():
        items = value if isinstance(value, list) else [value]
        entries.extend(item for item in items if isinstance(item, dict))
    return entries


def server_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds Meta asked us to wait (Retry-After, or regain-access minutes), if it said."""
    waits: list[float] = []
    after = _retry_after(headers.get("Retry-After"))
    if after is not None:
        waits.append(after)
    for entry in _buc_entries(headers):
        minutes = entry.get("estimated_time_to_regain_access")
        if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes >= 0:
            waits.append(float(minutes) * 60.0)
    return max(waits) if waits else None


def max_usage(headers: Mapping[str, str]) -> float:
    """Highest usage percentage in X-App-Usage / X-Business-Use-Case-Usage / X-Ad-Account-Usage."""
    dicts: list[dict[str, Any]] = _buc_entries(headers)
    for name in ("X-App-Usage", "X-Ad-Account-Usage"):
        doc = _json_header(headers, name)
        if isinstance(doc, dict):
            dicts.append(doc)
    values = [
        float(d[key])
        for d in dicts
        for key in USAGE_KEYS
        if isinstance(d.get(key), int | float) and not isinstance(d.get(key), bool)
    ]
    return max(values, default=0.0)


_CONNECTION_PROBLEMS = (
    ("refused", "connection refused"),
    ("reset by peer", "connection reset"),
    ("connectionreseterror", "connection reset"),
    ("remotedisconnected", "connection closed by the server"),
    ("connection aborted", "connection closed by the server"),
    ("name or service not known", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("name resolution", "host name not found"),
    ("failed to resolve", "host name not found"),
    ("timed out", "connection timed out"),
    ("certificate verify failed", "TLS certificate not trusted (certificate verify failed)"),
    ("ssl", "TLS/SSL error"),
    ("network is unreachable", "network unreachable"),
    ("no route to host", "no route to host"),
)


def connection_problem(exc: BaseException) -> str:
    """What went wrong with a connection, in words: requests' text is a urllib3 repr
    (with the URL), fit neither for a person nor for grouping failures by cause."""
    detail = str(exc).lower()
    return next(
        (short for key, short in _CONNECTION_PROBLEMS if key in detail), "connection failed"
    )


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: float) -> str:
    """``3 h 2 min``, ``7 min``, ``2 days 4 h``."""
    minutes = round(seconds / 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes or not parts else []
    return " ".join(parts)


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- one try's deadline


class _Deadline:
    """The whole of one try (connect, headers, body) within ``seconds``.

    requests' timeouts bound each socket operation, so a server that trickles a byte
    a second never trips them. A timer shuts the try's socket down at the deadline,
    which ends whatever read is blocked; the pools below tell it which socket that is.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._conn: Any = None
        self._ended = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        _watching.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()

    def end(self) -> None:
        """The try is over (answer read, or failed): the timer must not touch the socket
        once the connection may serve another try."""
        with self._lock:
            self._ended = True
        self._timer.cancel()
        _watching.deadline = None

    def watch(self, conn: Any) -> None:
        with self._lock:
            self._conn = conn

    def _fire(self) -> None:
        with self._lock:
            if self._ended:
                return
            self.fired = True
            sock = getattr(self._conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


_watching = threading.local()  # the deadline of the try this thread is making


def _watched(conn: Any) -> Any:
    deadline = getattr(_watching, "deadline", None)
    if deadline is not None:
        deadline.watch(conn)
    return conn


class _WatchedHTTPPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched(super()._get_conn(timeout))


class _WatchedHTTPSPool(HTTPSConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched(super()._get_conn(timeout))


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _Adapter(HTTPAdapter):
    """requests' adapter, with pools whose connections a :class:`_Deadline` can end."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def _same(info: GraphErrorInfo | None, other: GraphErrorInfo) -> bool:
    """The same refusal: code, subcode and message (fbtrace_id differs every time)."""
    return info is not None and (info.code, info.subcode, info.message) == (
        other.code,
        other.subcode,
        other.message,
    )


class _TooLarge(Exception):
    """An answer bigger than :data:`MAX_RESPONSE_BYTES`."""


@dataclass(frozen=True, slots=True)
class _Answer:
    """One HTTP answer, read whole within the try's deadline and the size cap."""

    status: int
    headers: Mapping[str, str]
    content: bytes


def _read_body(resp: requests.Response) -> bytes:
    """The body, in pieces, never more than :data:`MAX_RESPONSE_BYTES`."""
    declared = resp.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise _TooLarge()
    pieces: list[bytes] = []
    size = 0
    for piece in resp.iter_content(64 * 1024):
        size += len(piece)
        if size > MAX_RESPONSE_BYTES:
            raise _TooLarge()
        pieces.append(piece)
    return b"".join(pieces)


# ---------------------------------------------------------------- the client


@dataclass(frozen=True, slots=True)
class _Outcome:
    """The end of one retried request: a success body, a final error, or retries exhausted."""

    body: dict[str, Any] | None
    info: GraphErrorInfo | None
    kind: ErrorKind | Literal["ok", "exhausted", "broken"]
    reason: str
    retries: int

    def describe(self) -> str:
        """The reason with Meta's identifiers (code, subcode, fbtrace_id) when it answered."""
        return f"{self.reason} ({self.info.ids()})" if self.info is not None else self.reason


class _Throttle:
    """A pause shared by every worker thread, set when Meta reports usage near 100 %."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until = 0.0
        self._usage = 0.0

    def note(self, usage: float, pause: float) -> None:
        if pause <= 0:
            return
        with self._lock:
            until = self._clock() + pause
            if until > self._until:
                self._until, self._usage = until, usage

    def remaining(self) -> tuple[float, float]:
        with self._lock:
            return max(0.0, self._until - self._clock()), self._usage


class _Authorization(AuthBase):
    """The ``Authorization`` header of a request: the bearer token, or none at all.

    Given as the request's auth (not as a header) because requests applies ``~/.netrc``
    to any request without auth of its own, and a ``default`` entry there matches every
    host: its Basic credentials would replace the token (every upload then failing with
    "access token invalid"), or go to Meta with a request that must carry none.
    """

    def __init__(self, header: str | None) -> None:
        self._header = header

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._header is not None:
            request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "_Authorization(<redacted>)" if self._header else "_Authorization(None)"


class GraphClient:
    """Thread-safe Graph API client; see the module docstring and meta-api.md."""

    def __init__(
        self,
        *,
        graph_url: str,
        api_version: str,
        token: Secret | None,
        app_secret: Secret | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy = RetryPolicy(),
        pool_size: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        on_retry: Callable[[float, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        run_clock: Callable[[], float] | None = None,
    ) -> None:
        """``run_clock``: the run's time (``--now`` moving on, else the system's), which
        Meta's ``Date`` is compared with when Meta refuses events for their time."""
        self._base = f"{graph_url.rstrip('/')}/{api_version.strip('/')}"
        self._api_version = api_version
        self._token = token
        self._app_secret = app_secret if app_secret else None
        # Sent with every call that carries the token, when there is an app secret.
        self._proof = appsecret_proof(token, app_secret) if token and app_secret else None
        self._timeout = (min(10.0, timeout), timeout)
        self._deadline = timeout  # the whole of one try: connect, headers and body
        self._run_clock = run_clock
        self._policy = policy
        self._sleep = sleep
        self._random = random
        self._on_retry = on_retry
        self._throttle = _Throttle(clock)  # clock: pairs with a test's fake sleep
        self._missing: dict[str, Failure] = {}  # dataset -> why, once Meta said it is gone
        self._missing_lock = threading.Lock()
        self._session = requests.Session()
        adapter = _Adapter(pool_connections=1, pool_maxsize=max(1, pool_size))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers["User-Agent"] = f"fbocli/{__version__}"
        if self._base.lower().startswith("http://"):
            # Plain http goes to loopback only (config.py), and never through a proxy:
            # HTTP_PROXY would get the token and every body in clear text (and its answer
            # would count as Meta's). trust_env=False ignores every proxy variable.
            self._session.trust_env = False
        self._with_token = _Authorization(f"Bearer {token.reveal()}" if token else None)
        self._without_token = _Authorization(None)

    def __repr__(self) -> str:
        proof = ", appsecret_proof=<redacted>" if self._proof else ""
        return f"GraphClient({self._base!r}, token={self._token!r}{proof})"

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the pooled connections."""
        self._session.close()

    # ------------------------------------------------------------ public calls

    def send_events(
        self,
        dataset_id: str,
        events: Sequence[bytes],
        *,
        extra: Mapping[str, Any],
        api: Api = "conversions",
        result: BatchResult | None = None,
    ) -> BatchResult:
        """POST one batch to ``/{dataset}/events``; bad events are isolated by bisection.

        Raises AuthError (190, permissions) and ApiVersionError (2635), which stop a run;
        everything else is reported per event in the returned :class:`BatchResult`.
        Each event is its JSON text, as mapping encoded it: bodies are spliced from them.
        Pass ``result`` to keep what was already settled when an exception (a fatal error,
        or the caller's ``sleep`` abandoning a stopped run) ends a bisection half-way.
        """
        result = BatchResult() if result is None else result
        if events:
            self._send_slice(dataset_id, events, range(len(events)), extra, api, result)
        return result

    def get(
        self, path: str, params: Mapping[str, str] | None = None, *, retry: bool = True
    ) -> dict[str, Any]:
        """GET ``/{version}/{path}`` with the token; errors raise GraphError (190: AuthError).
        ``retry=False``: one try only."""
        out = self._request("GET", path, params=params, bearer=True, once=not retry)
        return self._body_or_raise(out, path)

    def debug_token(self, *, retry: bool = True) -> dict[str, Any]:
        """``debug_token`` on the client's own token: Meta's ``data`` about it (type,
        validity, expiry, scopes). The one call that puts the token in a URL, as
        ``input_token``, because Meta's API asks for it there."""
        if self._token is None:
            raise AuthError("no access token to inspect", hint=AUTH_HINT)
        params = {"input_token": self._token.reveal()}
        answer = self.get("debug_token", params, retry=retry)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise GraphError("Meta's debug_token answer has no data")
        return data

    def post_form(self, path: str, data: Mapping[str, str]) -> dict[str, Any]:
        """Form POST without the bearer token (device login carries an app token in ``data``).

        Transient errors and rate limits are retried; any other error raises GraphError so
        the caller can read ``info.subcode`` (the device flow's pending / slow-down answers).
        """
        out = self._request("POST", path, data=dict(data), bearer=False)
        if out.body is not None:
            return out.body
        raise GraphError(
            self._text(f"Graph API request {path} failed: {out.describe()}"), info=out.info
        )

    # ------------------------------------------------------------ events

    def _send_slice(
        self,
        dataset_id: str,
        events: Sequence[bytes],
        indices: range,
        extra: Mapping[str, Any],
        api: Api,
        result: BatchResult,
    ) -> None:
        out = self._post(dataset_id, events, indices, extra)
        if out is not None:
            self._settle(dataset_id, events, indices, extra, api, result, out)
        else:
            self._fail_missing(dataset_id, indices, result)

    def _post(
        self, dataset_id: str, events: Sequence[bytes], indices: range, extra: Mapping[str, Any]
    ) -> _Outcome | None:
        """The answer to these events (None: the dataset is known to be missing)."""
        with self._missing_lock:
            if dataset_id in self._missing:
                return None
        body = wire.body(extra, [events[i] for i in indices])
        return self._request("POST", f"{dataset_id}/events", body=body, bearer=True)

    def _fail_missing(self, dataset_id: str, indices: range, result: BatchResult) -> None:
        with self._missing_lock:
            failure = self._missing[dataset_id]
        result.failed.extend((i, failure) for i in indices)

    def _settle(
        self,
        dataset_id: str,
        events: Sequence[bytes],
        indices: range,
        extra: Mapping[str, Any],
        api: Api,
        result: BatchResult,
        out: _Outcome,
    ) -> None:
        """What Meta's answer to these events means for each of them."""
        result.retries += out.retries
        if out.body is not None:
            self._acknowledge(out.body, indices, api, result)
        elif out.kind == "exhausted":
            failure = Failure(out.reason, out.info)
            result.failed.extend((i, failure) for i in indices)
        elif out.kind == "missing_dataset":
            assert out.info is not None
            failure = Failure(
                self._text(
                    f"dataset {dataset_id} does not exist or is not visible to this token: "
                    f"{out.info.message}"
                ),
                out.info,
            )
            with self._missing_lock:
                self._missing.setdefault(dataset_id, failure)
            self._fail_missing(dataset_id, indices, result)
        elif out.kind == "too_large" and out.info is not None:
            if len(indices) > 1:  # a body limit in front of Meta: halves are smaller
                self._bisect(dataset_id, events, indices, extra, api, result, None)
                return
            failure = Failure(
                "the event alone is larger than the server in front of Meta accepts "
                f"(HTTP 413); raise its body size limit ({out.info.ids()})",
                out.info,
            )
            result.failed.append((indices[0], failure))
        elif out.kind == "invalid" and out.info is not None:
            if len(indices) == 1:
                result.rejected.append((indices[0], out.info.message))
                return
            self._bisect(dataset_id, events, indices, extra, api, result, out.info)
        else:
            self._raise_fatal(out, dataset_id)

    def _bisect(
        self,
        dataset_id: str,
        events: Sequence[bytes],
        indices: range,
        extra: Mapping[str, Any],
        api: Api,
        result: BatchResult,
        refused: GraphErrorInfo | None,
    ) -> None:
        """Send each half of refused events again, to isolate the bad ones.

        With a budget: when Meta's refusal was not about one event (no
        ``error_user_msg``) and both halves get the very same refusal, the error is the
        request's, not an event's, and splitting on would cost two requests per event:
        every event of these halves fails with it instead (a re-run sends them again).
        """
        mid = len(indices) // 2
        halves = (indices[:mid], indices[mid:])
        outs = [self._post(dataset_id, events, half, extra) for half in halves]
        if (
            refused is not None
            and not refused.per_event
            and all(
                out is not None and out.kind == "invalid" and _same(out.info, refused)
                for out in outs
            )
        ):
            for out in outs:
                assert out is not None
                result.retries += out.retries
            failure = Failure(
                "Meta refused every part of the batch with the same error, which is not "
                f"about one event: {refused.message}",
                refused,
            )
            result.failed.extend((i, failure) for i in indices)
            return
        for half, out in zip(halves, outs, strict=True):
            if out is None:
                self._fail_missing(dataset_id, half, result)
            else:
                self._settle(dataset_id, events, half, extra, api, result, out)

    @staticmethod
    def _acknowledge(body: dict[str, Any], indices: range, api: Api, result: BatchResult) -> None:
        key = "num_processed_entries" if api == "offline" else "events_received"
        count = _as_int(body.get(key))
        if count == len(indices):
            result.delivered.extend(indices)
            return
        if count is None:
            failure = Failure(
                f"Meta's success response did not include {key}; events not confirmed"
            )
        else:
            failure = Failure(f"Meta acknowledged {count} of {len(indices)} events")
        result.failed.extend((i, failure) for i in indices)

    # ------------------------------------------------------------ errors

    def _text(self, text: str) -> str:
        text = redact(text, self._token, self._app_secret)
        return text.replace(self._proof, "****") if self._proof else text

    def _raise_fatal(self, out: _Outcome, dataset_id: str | None) -> None:
        info = out.info
        detail = info.describe() if info else out.reason
        if out.kind == "auth":
            raise AuthError(
                self._text(f"access token invalid or expired: {detail}"), hint=AUTH_HINT
            ) from None
        if out.kind == "app_secret":
            what = (
                "Meta refused the appsecret_proof fbocli sent: the app secret does not "
                "belong to the token's app"
                if self._proof
                else "the token's app requires appsecret_proof (an app secret), and none is set"
            )
            raise AppSecretError(self._text(f"{what}: {detail}"), hint=APP_SECRET_HINT) from None
        if out.kind == "version":
            raise ApiVersionError(
                self._text(f"Graph API version {self._api_version} is deprecated: {detail}"),
                hint=f'set api_version = "{NEWEST}" (the newest version fbocli knows) '
                "in [destination] of the configuration",
            ) from None
        if out.kind == "permission" and dataset_id is not None:
            raise AuthError(
                self._text(f"the token has no access to dataset {dataset_id}: {detail}"),
                hint=(
                    "the token's user needs the ads_management permission and access to "
                    f"dataset {dataset_id} (Events Manager > Settings > people/partners); "
                    "then run `fbocli auth status`"
                ),
            ) from None
        if out.kind == "clock":
            raise GraphError(self._text(out.reason), info=info, hint=CLOCK_HINT) from None
        if out.kind == "redirect":
            raise GraphError(
                self._text(f"Graph API request failed: {detail}"),
                info=info,
                hint="check graph_url ($FBOCLI_GRAPH_URL): set it to where the redirect leads "
                "if that is right",
            ) from None
        if out.kind == "headers_too_large":
            raise GraphError(
                "the server in front of Meta refused the request's headers as too large "
                f"(HTTP 431): {detail}",
                info=info,
                hint="a proxy or load balancer between fbocli and Meta limits header size "
                "(nginx: large_client_header_buffers); raise it",
            ) from None
        raise GraphError(self._text(f"Graph API request failed: {detail}"), info=info) from None

    def _clock_problem(self, info: GraphErrorInfo, headers: Mapping[str, str]) -> str | None:
        """Why to stop, when Meta refused an event for its time and its clock (``Date``)
        and the run's disagree by more than :data:`MAX_CLOCK_SKEW`: every batch would be
        refused alike. None otherwise (then that event is Meta's to refuse)."""
        if self._run_clock is None or not is_time_refusal(info):
            return None
        run_time = self._run_clock()
        skew = clock_skew(headers.get("Date"), run_time)
        if skew is None or abs(skew) <= MAX_CLOCK_SKEW:
            return None
        side = "ahead of" if skew > 0 else "behind"
        return (
            f"Meta refused events for their time ({info.message}), and Meta's clock "
            f"({_stamp(run_time + skew)}, from its Date header) is {_span(abs(skew))} "
            f"{side} this run's clock ({_stamp(run_time)})"
        )

    def _body_or_raise(self, out: _Outcome, path: str) -> dict[str, Any]:
        if out.body is not None:
            return out.body
        if out.kind in ("auth", "app_secret", "version", "redirect", "headers_too_large"):
            self._raise_fatal(out, None)
        raise GraphError(
            self._text(f"Graph API request {path} failed: {out.describe()}"),
            info=out.info,
            answered=out.kind not in ("exhausted", "broken"),
        ) from None

    # ------------------------------------------------------------ transport

    def _wait(self, seconds: float, reason: str) -> None:
        if self._on_retry is not None:
            self._on_retry(seconds, reason)
        self._sleep(seconds)

    def _pace(self) -> None:
        """Honour a usage slow-down set by any thread."""
        pause, usage = self._throttle.remaining()
        if pause > 0:
            self._wait(pause, f"Graph API usage at {usage:.0f}%, slowing down")

    def _note_usage(self, headers: Mapping[str, str]) -> None:
        usage = max_usage(headers)
        self._throttle.note(usage, self._policy.usage_pause(usage))

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        data: dict[str, str] | None,
        params: Mapping[str, str] | None,
        bearer: bool,
    ) -> _Answer:
        """One try, whole within the deadline; raises requests' exceptions, _TooLarge, or
        TimeoutError when the deadline ended it."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if bearer and self._proof is not None:
            params = {**(params or {}), "appsecret_proof": self._proof}
        with _Deadline(self._deadline) as deadline:
            try:
                resp = self._session.request(
                    method,
                    url,
                    data=body if body is not None else data,
                    params=params,
                    headers=headers,
                    auth=self._with_token if bearer else self._without_token,
                    timeout=self._timeout,
                    allow_redirects=False,
                    stream=True,
                )
                try:
                    content = _read_body(resp)
                finally:
                    deadline.end()
                    resp.close()
            except (requests.RequestException, _TooLarge, OSError):
                if deadline.fired:
                    raise TimeoutError() from None
                raise
        if deadline.fired:  # a body read until the connection closed may have been cut
            raise TimeoutError()
        return _Answer(resp.status_code, resp.headers, content)

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        data: dict[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        bearer: bool,
        once: bool = False,
    ) -> _Outcome:
        """One logical request with retries (``once``: without); never raises for HTTP or
        network trouble."""
        url = f"{self._base}/{path.lstrip('/')}"
        policy = self._policy
        tries = 1 if once else max(1, policy.max_tries)
        for attempt in range(tries):
            self._pace()
            info: GraphErrorInfo | None = None  # Meta's error of this try, if it answered
            told: float | None = None
            rate_limited = False
            try:
                resp = self._send_once(
                    method, url, body=body, data=data, params=params, bearer=bearer
                )
            except (TimeoutError, requests.Timeout):
                reason = f"no complete response within {self._deadline:g} s"
            except requests.exceptions.ChunkedEncodingError:
                reason = "response cut short (the connection closed before its end)"
            except requests.exceptions.ContentDecodingError:
                reason = "response could not be decoded (a broken compressed body)"
            except _TooLarge:
                reason = f"response larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MB"
            except requests.ConnectionError as exc:
                reason = connection_problem(exc)
            except (requests.RequestException, OSError) as exc:
                text = self._text(f"request failed: {_shorten(str(exc))}")
                return _Outcome(None, None, "broken", text, attempt)
            else:
                self._note_usage(resp.headers)
                if 200 <= resp.status < 300:
                    try:
                        doc = json.loads(resp.content)
                    except ValueError:
                        doc = None
                    if isinstance(doc, dict):
                        return _Outcome(doc, None, "ok", "", attempt)
                    info = GraphErrorInfo(
                        resp.status, None, None, "success response was not a JSON object"
                    )
                    kind: ErrorKind = "transient"
                elif 300 <= resp.status < 400:
                    info = redirect_info(resp.status, resp.headers.get("Location"))
                    kind = "redirect"
                else:
                    info = parse_error(resp.status, resp.content, self._token)
                    kind = classify(info)
                    late = self._clock_problem(info, resp.headers) if kind == "invalid" else None
                    if late is not None:
                        return _Outcome(None, info, "clock", late, attempt)
                if kind not in ("transient", "rate_limit"):
                    return _Outcome(None, info, kind, info.message, attempt)
                rate_limited = kind == "rate_limit"
                told = server_wait(resp.headers)
                reason = ("rate limited: " if rate_limited else "") + info.message
            if attempt + 1 >= tries:
                text = f"gave up after {tries} tries: {reason}"
                return _Outcome(None, info, "exhausted", text, attempt)
            if told is not None and told > 0:
                wait = policy.server_wait(told)
            else:
                # a server-told 0 means "retry soon": the short base, not the rate-limit one
                use_rate_base = rate_limited and told is None
                wait = policy.backoff(attempt, self._random(), rate_limited=use_rate_base)
            self._wait(wait, f"{reason} ({info.ids()})" if info is not None else reason)
        raise AssertionError("unreachable")  # pragma: no cover
