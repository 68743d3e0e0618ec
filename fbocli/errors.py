"""One exception family: every error the core raises carries its exit status and a hint.

The CLI has a single boundary that turns an :class:`FbocliError` into a message on
stderr and its exit status; nothing else in the core knows about exit codes.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from enum import IntEnum
from typing import Any


class ExitStatus(IntEnum):
    """The exit codes promised by ``spec/cli.md``."""

    OK = 0
    FAILURE = 1  # events not delivered, --strict/validate rejects, lock held
    USAGE = 2  # usage, configuration, unreadable input: nothing was sent
    AUTH = 3  # token missing, expired or lacking access
    INTERRUPTED = 130


class FbocliError(Exception):
    """Root of every error fbocli reports to a user."""

    exit_status: int = ExitStatus.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # A run stopped part-way: its fbocli.stats.RunSummary (what was sent, failed, ...)
        # when it stopped; None otherwise. (Untyped here: errors sit below the stats.)
        self.summary: Any = None

    def __str__(self) -> str:
        return self.message


class UsageError(FbocliError):
    """Bad options or arguments (exit 2)."""

    exit_status = ExitStatus.USAGE


class ConfigError(UsageError):
    """The configuration is missing or invalid; carries every problem found at once."""

    def __init__(
        self, problems: Iterable[str], *, path: str | None = None, hint: str | None = None
    ) -> None:
        self.problems = tuple(problems)
        self.path = path
        where = f" in {path}" if path else ""
        if len(self.problems) == 1:
            message = f"configuration error{where}: {self.problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{len(self.problems)} configuration errors{where}:\n{lines}"
        super().__init__(message, hint=hint)


class InputError(UsageError):
    """An input file is missing, unreadable or a directory, or failed part-way (exit 2;
    1 once events were sent, set by :mod:`fbocli.api`)."""


class StateError(UsageError):
    """The state directory or the rejects/output path cannot be written (exit 2)."""


class LocalWriteError(FbocliError):
    """A local file (journal, rejects, --output) failed mid-run, e.g. a full disk (exit 1).

    Checked paths fail before anything is sent (StateError, exit 2); this is what is left:
    the run stops, the journal stays consistent and a re-run sends the rest.
    """


class ApiVersionError(UsageError):
    """Meta says the configured Graph API version is deprecated (code 2635)."""


class AuthError(FbocliError):
    """Token missing, invalid, expired or lacking a permission (exit 3)."""

    exit_status = ExitStatus.AUTH


class AppSecretError(AuthError):
    """Meta refused a call for its ``appsecret_proof``: the app requires one and none was
    sent, or it was made with another app's secret (exit 3)."""


class LockError(FbocliError):
    """Another upload holds the state directory's lock (exit 1)."""


class Interrupted(FbocliError):
    """Ctrl-C or a stop signal ended the run; acknowledged batches are journaled.

    The exit status is 128 + the signal's number, as a shell reports it: 130 for Ctrl-C
    (SIGINT), 143 for SIGTERM, 129 for SIGHUP.
    """

    def __init__(self, signum: int = signal.SIGINT) -> None:
        what = "interrupted" if signum == signal.SIGINT else f"stopped by {_name(signum)}"
        super().__init__(
            f"{what}: acknowledged batches are journaled; run the same command again to "
            "send the rest"
        )
        self.signum = signum
        self.exit_status = 128 + signum


class Stop(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP) raised where Ctrl-C would be, to unwind the same
    way: in-flight batches finish, the journal stays consistent, the summary is kept."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Rejected(FbocliError):
    """A record breaks a mapping rule (``fbocli.map_message``): ``reason`` is the stable
    reject reason of mapping.md, ``detail`` says what was wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _name(signum: int) -> str:
    """``SIGTERM`` for 15."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


MAX_MESSAGE_CHARS = 1000
CLIP_MARKER = "… [cut: {:,} more characters]"


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` in at most ``limit`` characters, the last ones a marker saying how much
    was cut: what fbocli keeps of a message from elsewhere (Meta's, a server's) in a
    rejects line, a failure or the summary, so a huge answer cannot grow every line that
    quotes it. Clipping clipped text changes nothing."""
    if len(text) <= limit:
        return text
    marker = CLIP_MARKER.format(len(text))  # as long as, or longer than, the real one
    kept = max(0, limit - len(marker))
    return text[:kept] + CLIP_MARKER.format(len(text) - kept)
