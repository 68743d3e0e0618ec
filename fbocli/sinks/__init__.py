"""The last stage: where batches go. Counted only (validate), written as the requests that
would be sent (dry run, :mod:`fbocli.sinks.dryrun`), or sent to Meta
(:mod:`fbocli.sinks.upload`). Every sink takes the same batches of encoded events."""

from __future__ import annotations

from typing import Any, Protocol

from fbocli.mapping.message import Event
from fbocli.settings import Settings
from fbocli.stats import RunSummary


class Sink(Protocol):
    def submit(self, dataset_id: str, batch: list[Event]) -> None:
        """Take one batch; may block to keep memory bounded."""

    def close(self) -> None:
        """Wait for everything submitted; called once at the end of a run."""

    def abort(self) -> None:
        """Stop quickly (Ctrl-C): finish or abandon in-flight work, keep state consistent."""


class CountingSink:
    """`validate`: every batch counts as what would be sent."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary

    def submit(self, dataset_id: str, batch: list[Event]) -> None:
        self.summary.batches += 1
        self.summary.result(dataset_id, "sent", len(batch))

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def body_extra(settings: Settings) -> dict[str, Any]:
    """Request fields besides ``data`` (upload_tag first, as the legacy API documents)."""
    extra: dict[str, Any] = {"upload_tag": settings.destination.upload_tag}
    code = settings.destination.test_event_code
    if code and settings.destination.api == "conversions":
        extra["test_event_code"] = code
    return extra


def request_url(settings: Settings, dataset_id: str) -> str:
    """The events endpoint; the same path serves both APIs (event set id = dataset id)."""
    d = settings.destination
    return f"{d.graph_url}/{d.api_version}/{dataset_id}/events"
