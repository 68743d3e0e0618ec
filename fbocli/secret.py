"""A token type that cannot be printed by accident (after pip's ``HiddenText``).

A token or an app secret is visible ASCII only (``!`` to ``~``): what a paste adds
around one (whitespace at either end, zero-width characters anywhere) is removed, and
the caller says so (:meth:`Secret.cleanup_note`); any other character is refused with
an :class:`~fbocli.errors.AuthError` that never shows the value. Every secret made in
the process is remembered, so :func:`redact` masks it in any text, whoever wrote it.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from fbocli.errors import AuthError

# What a copy and paste leaves in a token: zero-width space, non-joiner, joiner, word
# joiner, BOM / zero-width no-break space, Mongolian vowel separator.
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e")
_HINT = (
    "copy the token again (a token is letters, digits and punctuation only), then run "
    "`fbocli auth`, or set the variable again"
)


def _kind(char: str) -> str:
    """A character a token cannot hold, in words (never the character itself)."""
    if char in "\n\r\v\f\x85\u2028\u2029":
        return "a line break"
    if char == "\t":
        return "a tab"
    if char.isspace():
        return "a space" if char == " " else f"a space character (U+{ord(char):04X})"
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"a control character (U+{ord(char):04X})"
    return f"a non-ASCII character (U+{ord(char):04X})"


def _strip(value: str) -> tuple[str, tuple[str, ...]]:
    """The value without zero-width characters and surrounding whitespace; what went."""
    removed: list[str] = []
    if not ZERO_WIDTH.isdisjoint(value):
        value = "".join(c for c in value if c not in ZERO_WIDTH)
        removed.append("zero-width characters")
    stripped = value.strip()
    if stripped != value:
        removed.append("whitespace at its ends")
    return stripped, tuple(removed)


def _refusal(value: str, what: str) -> AuthError | None:
    """Why ``value`` (already stripped) is no token, without showing it; None if it is."""
    if value.isascii() and value.isprintable() and " " not in value:
        return None
    position, char = next((i, c) for i, c in enumerate(value, 1) if not ("!" <= c <= "~"))
    return AuthError(
        f"{what} holds {_kind(char)} at position {position}, which no token holds: "
        "it was not used (and is not shown)",
        hint=_HINT,
    )


class Secret:
    """Holds an access token or an app secret; ``str``/``repr`` never show it, only
    :meth:`reveal` does.

    ``what`` names where the value came from (``$FBOCLI_ACCESS_TOKEN``, ``the app
    secret on standard input``...) in the error that refuses it. ``stripped`` says what
    was removed from around it (empty for a clean value).
    """

    __slots__ = ("_value", "stripped")

    def __init__(self, value: str, what: str = "the access token") -> None:
        cleaned, self.stripped = _strip(value)
        refusal = _refusal(cleaned, what)
        if refusal is not None:
            raise refusal
        self._value = cleaned
        _remember(cleaned)

    def reveal(self) -> str:
        return self._value

    @property
    def last4(self) -> str:
        return self._value[-4:] if len(self._value) >= 12 else ""

    def cleanup_note(self, what: str) -> str | None:
        """The warning to give when something was removed from around the value."""
        if not self.stripped:
            return None
        return (
            f"{what}: removed {' and '.join(self.stripped)} (a copy and paste adds them); "
            "the rest is used"
        )

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
_MIN_REMEMBERED = 8  # shorter values would mask ordinary words; no real secret is this short
_known: dict[str, str] = {}  # every secret made in this process -> its masked form
_known_lock = threading.Lock()


def _remember(value: str) -> None:
    if len(value) >= _MIN_REMEMBERED and value not in _known:
        with _known_lock:
            _known[value] = "****" + (value[-4:] if len(value) >= 12 else "")


def remember(value: str) -> None:
    """Mask ``value`` in every text :func:`redact` sees from now on (an
    ``appsecret_proof``, made from the secrets)."""
    _remember(value)


def redact(text: str, *secrets: Secret | None) -> str:
    """Remove every secret this process made (and those given), and anything shaped like
    a token, proof or secret parameter, from text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret.reveal(), str(secret))
    with _known_lock:
        known = list(_known.items())
    for value, masked in known:
        if value in text:
            text = text.replace(value, masked)
    return _TOKEN_IN_TEXT.sub(r"\1****", text)
