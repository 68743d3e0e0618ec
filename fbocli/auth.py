"""Token checks and Facebook Login for Devices (meta-api.md "Token checks", "Token
inspection").

Verification answers the questions a failed upload would otherwise raise late: whose
token is it, what kind of token, when does it expire, does it carry ``ads_management``,
and can it see every configured dataset (the token doctor of ``fbocli auth status``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fbocli.errors import AuthError, FbocliError
from fbocli.graph import AUTH_HINT, GraphClient, GraphError
from fbocli.secret import Secret

REQUIRED_PERMISSION = "ads_management"
RECOMMENDED_PERMISSIONS = ("business_management",)  # to see the business's datasets
DEVICE_SCOPE = "ads_management,business_management"
EXPIRY_WARN_DAYS = 7  # warn when the token expires sooner than this
_KINDS = {"SYSTEM_USER": "system user", "USER": "user", "PAGE": "page", "APP": "app"}

# Facebook Login for Devices: error subcodes of device/login_status.
PENDING = 1349174
SLOW_DOWN = 1349172
EXPIRED = 1349152
SLOW_DOWN_STEP = 5.0


@dataclass(frozen=True)
class DatasetAccess:
    """One configured dataset: reachable (its name) or not (Meta's reason)."""

    dataset_id: str
    ok: bool
    name_or_reason: str


@dataclass(frozen=True)
class TokenInfo:
    """What ``debug_token`` says about a token (meta-api.md); no token material in here."""

    app_id: str
    type: str  # Meta's: SYSTEM_USER, USER, PAGE, APP...
    is_valid: bool
    expires_at: int | None  # Unix seconds; None: never expires (Meta's 0)
    data_access_expires_at: int | None  # None: never, or not given
    scopes: tuple[str, ...]

    @property
    def kind(self) -> str:
        """``system user``, ``user``...: the type in words."""
        return _KINDS.get(self.type, self.type.lower().replace("_", " ") or "unknown")

    def days_left(self, now: float) -> float | None:
        """Days until the token expires (negative once expired); None: never."""
        return None if self.expires_at is None else (self.expires_at - now) / 86400

    def expiry_text(self, now: float) -> str:
        """``2026-12-06 (in 3 days)``, ``never``, ``2026-11-01 (expired 2 days ago)``."""
        return _date_and_days(self.expires_at, now)

    def data_access_text(self, now: float) -> str:
        return _date_and_days(self.data_access_expires_at, now)

    def expiry_warning(self, now: float) -> str | None:
        """A warning when the token expires within EXPIRY_WARN_DAYS days."""
        left = self.days_left(now)
        if left is None or left >= EXPIRY_WARN_DAYS:
            return None
        what = "expired" if left <= 0 else "expires"
        return (
            f"the access token ({self.kind} token) {what} on {self.expiry_text(now)}: "
            "run `fbocli auth` with a new one before then (a system-user token can be "
            "made without an expiry date)"
        )


def _date_and_days(when: int | None, now: float) -> str:
    """``2026-12-06 10:00 UTC (in 3 days)``; under a day in hours; ``never``."""
    if when is None:
        return "never"
    day = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC")
    left = abs(when - now)
    amount = (
        f"{round(left / 86400)} day{'s' if round(left / 86400) != 1 else ''}"
        if left >= 86400
        else f"{round(left / 3600)} hour{'s' if round(left / 3600) != 1 else ''}"
    )
    return f"{day} (in {amount})" if when > now else f"{day} (expired {amount} ago)"


def _moment(value: object) -> int | None:
    """Meta's expiry field: Unix seconds, 0 (or absent) for never."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return int(value)


def parse_token_info(data: dict[str, Any]) -> TokenInfo:
    """``debug_token``'s ``data`` -> :class:`TokenInfo`."""
    scopes = data.get("scopes")
    return TokenInfo(
        app_id=str(data.get("app_id") or ""),
        type=str(data.get("type") or ""),
        is_valid=data.get("is_valid") is True,
        expires_at=_moment(data.get("expires_at")),
        data_access_expires_at=_moment(data.get("data_access_expires_at")),
        scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
    )


def inspect_token(client: GraphClient, *, retry: bool = True) -> TokenInfo:
    """``debug_token`` on the client's token; AuthError when Meta says it is not valid."""
    data = client.debug_token(retry=retry)
    info = parse_token_info(data)
    if not info.is_valid:
        error = data.get("error")
        detail = error.get("message") if isinstance(error, dict) else None
        raise AuthError(
            f"access token invalid or expired: {detail or 'debug_token says it is not valid'}",
            hint=AUTH_HINT,
        )
    return info


def expiry_warning(client: GraphClient, now: float) -> str | None:
    """The start of an upload: a warning when the token expires within a week. One cheap
    ``debug_token`` call; whatever goes wrong with it is left to the upload to find."""
    try:
        return inspect_token(client, retry=False).expiry_warning(now)
    except FbocliError:
        return None


@dataclass(frozen=True)
class TokenReport:
    """What Meta says about a token; no token material in here."""

    user_id: str
    user_name: str
    granted: tuple[str, ...]
    datasets: tuple[DatasetAccess, ...]
    info: TokenInfo | None = None  # debug_token's answer
    info_error: str | None = None  # why there is none (Meta refused debug_token)

    @property
    def has_ads_management(self) -> bool:
        return REQUIRED_PERMISSION in self.granted

    @property
    def missing_recommended(self) -> tuple[str, ...]:
        return tuple(p for p in RECOMMENDED_PERMISSIONS if p not in self.granted)

    @property
    def denied_datasets(self) -> tuple[DatasetAccess, ...]:
        return tuple(d for d in self.datasets if not d.ok)


def describe_error(error: GraphError) -> str:
    """Meta's message for a user, with the codes support asks for (already redacted)."""
    return error.info.describe() if error.info is not None else error.message


def granted_permissions(answer: dict[str, Any]) -> tuple[str, ...]:
    """The granted permissions of a ``me/permissions`` answer, in Meta's order."""
    rows = answer.get("data")
    if not isinstance(rows, list):
        return ()
    return tuple(
        str(row["permission"])
        for row in rows
        if isinstance(row, dict) and row.get("status") == "granted" and "permission" in row
    )


def check_dataset(client: GraphClient, dataset_id: str) -> DatasetAccess:
    """Whether the token can see one dataset; a denial is a result, not an exception."""
    try:
        answer = client.get(dataset_id, {"fields": "id,name"})
    except GraphError as error:
        # permission (10, 200-299) and missing (100/33) errors; 190 raises AuthError
        return DatasetAccess(dataset_id, False, describe_error(error))
    return DatasetAccess(dataset_id, True, str(answer.get("name") or answer.get("id") or ""))


def verify_token(client: GraphClient, dataset_ids: Sequence[str]) -> TokenReport:
    """Identity, type and expiry, granted scopes and access to each dataset; AuthError
    when the token is bad (invalid, expired, or its app wants an appsecret_proof)."""
    info: TokenInfo | None = None
    info_error: str | None = None
    try:
        info = inspect_token(client)
    except GraphError as error:  # Meta answered, but not about the token: keep going
        info_error = describe_error(error)
    me = client.get("me", {"fields": "id,name"})
    granted = granted_permissions(client.get("me/permissions", {}))
    datasets = tuple(check_dataset(client, ds) for ds in dict.fromkeys(dataset_ids))
    return TokenReport(
        user_id=str(me.get("id", "")),
        user_name=str(me.get("name", "")),
        granted=granted,
        datasets=datasets,
        info=info,
        info_error=info_error,
    )


@dataclass(frozen=True)
class DeviceCode:
    """What the user must do: open ``verification_uri`` and type ``user_code``."""

    code: str
    user_code: str
    verification_uri: str
    expires_in: float
    interval: float


def _device_code(answer: dict[str, Any]) -> DeviceCode:
    try:
        return DeviceCode(
            code=str(answer["code"]),
            user_code=str(answer["user_code"]),
            verification_uri=str(answer["verification_uri"]),
            expires_in=float(answer.get("expires_in", 420)),
            interval=float(answer.get("interval", 5)),
        )
    except (KeyError, TypeError, ValueError):
        raise AuthError("Meta's device login answer is missing the user code") from None


def device_login(
    client: GraphClient,
    app_id: str,
    client_token: str,
    *,
    on_code: Callable[[DeviceCode], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Secret:
    """Facebook Login for Devices: show a code, poll until approved; returns the user token.

    ``client`` must carry no token: both calls authenticate with ``APP_ID|CLIENT_TOKEN``.
    Ctrl-C while polling propagates as KeyboardInterrupt.
    """
    app_token = f"{app_id}|{client_token}"
    code = _device_code(
        client.post_form("device/login", {"access_token": app_token, "scope": DEVICE_SCOPE})
    )
    on_code(code)
    deadline = clock() + code.expires_in
    interval = code.interval
    while True:
        sleep(interval)
        if clock() >= deadline:
            raise _expired()
        try:
            answer = client.post_form(
                "device/login_status", {"access_token": app_token, "code": code.code}
            )
        except GraphError as error:
            subcode = error.info.subcode if error.info is not None else None
            if subcode == PENDING:
                continue
            if subcode == SLOW_DOWN:
                interval += SLOW_DOWN_STEP
                continue
            if subcode == EXPIRED:
                raise _expired() from None
            raise AuthError(f"device login failed: {describe_error(error)}") from None
        token = answer.get("access_token")
        if isinstance(token, str) and token.strip():
            return Secret(token, "the token Meta's device login returned")
        raise AuthError("device login finished without an access token")


def _expired() -> AuthError:
    return AuthError(
        "the device login code expired before it was approved",
        hint="run `fbocli auth login --device ...` again and enter the code sooner",
    )
