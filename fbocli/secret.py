"""A token type that cannot be printed by accident (after pip's ``HiddenText``)."""

from __future__ import annotations

import re
from typing import Any


class Secret:
    """Holds an access token or an app secret; ``str``/``repr`` never show it, only
    :meth:`reveal` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    @property
    def last4(self) -> str:
        return self._value[-4:] if len(self._value) >= 12 else ""

    def __bool__(self) -> bool:
        return bool(self._value)

    def __str__(self) -> str:
        return "****" + self.last4

    def __repr__(self) -> str:
        return f"Secret('****{self.last4}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[Any, ...]:  # never pickled into a worker or a dump
        raise TypeError("Secret cannot be pickled")


_TOKEN_IN_TEXT = re.compile(
    r"(access_token=|input_token=|appsecret_proof=|client_secret=|Bearer\s+)[^\s&\"']+",
    re.IGNORECASE,
)


def redact(text: str, *secrets: Secret | None) -> str:
    """Remove every known secret, and anything shaped like a token, proof or secret
    parameter, from text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret.reveal(), str(secret))
    return _TOKEN_IN_TEXT.sub(r"\1****", text)
