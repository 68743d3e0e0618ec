"""Token checks and Facebook Login for Devices (meta-api.md "Token checks").

Verification answers the three questions a failed upload would otherwise raise late: whose
token is it, does it carry ``ads_management``, and can it see every configured dataset.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fbocli.errors import AuthError
from fbocli.graph import GraphClient, GraphError
from fbocli.secret import Secret

REQUIRED_PERMISSION = "ads_management"
DEVICE_SCOPE = "ads_management,business_management"

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
class TokenReport:
    """What Meta says about a token; no token material in here."""

    user_id: str
    user_name: str
    granted: tuple[str, ...]
    datasets: tuple[DatasetAccess, ...]

    @property
    def has_ads_management(self) -> bool:
        return REQUIRED_PERMISSION in self.granted

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
    """Identity, granted scopes and access to each dataset; AuthError when the token is bad."""
    me = client.get("me", {"fields": "id,name"})
    granted = granted_permissions(client.get("me/permissions", {}))
    datasets = tuple(check_dataset(client, ds) for ds in dict.fromkeys(dataset_ids))
    return TokenReport(
        user_id=str(me.get("id", "")),
        user_name=str(me.get("name", "")),
        granted=granted,
        datasets=datasets,
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
            return Secret(token)
        raise AuthError("device login finished without an access token")


def _expired() -> AuthError:
    return AuthError(
        "the device login code expired before it was approved",
        hint="run `fbocli auth login --device ...` again and enter the code sooner",
    )
