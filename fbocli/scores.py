"""Meta's data-quality scores of a dataset's offline events (meta-api.md "Dataset quality"),
and the report of ``fbocli quality``: those scores beside fbocli's own figures.

The Dataset Quality API is a beta: a dataset without access to it answers with an error
or without the ``offline`` field, and a dataset Meta does not know, or this token may not
read, answers 2044055 or 10. All of these mean "not available for this dataset", with
Meta's reason in one line; only a token problem (AuthError) or Meta not answering at all
(the network, retries running out) is a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fbocli.graph import GraphClient, GraphError
from fbocli.quality import (
    DAY,
    FREQUENCY_DAYS,
    FREQUENCY_WANTED,
    OMNICHANNEL_COMPOSITE,
    STALE_AFTER,
    WINDOW_DAYS,
    Check,
    Tally,
    checks,
    score_band,
    to_dict,
)

FIELDS = "offline{event_name,composite,match_key,frequency,freshness}"
NO_SUCH_DATASET = 2044055
NO_PERMISSION = 10
NO_OFFLINE_FIELD = (
    "Meta gave no offline scores for this dataset (the Dataset Quality API for offline "
    "events is in beta, and not every dataset has it)"
)


@dataclass(frozen=True)
class Score:
    """One of Meta's scores (0-10) with its recommendation."""

    score: float | None
    recommendation: str = ""

    @property
    def band(self) -> str | None:
        """Meta's band: high (8-10), medium (4-7), low (0-3)."""
        return None if self.score is None else score_band(self.score)

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "band": self.band, "recommendation": self.recommendation}


@dataclass(frozen=True)
class EventScores:
    """Meta's scores of one offline event name."""

    event_name: str
    composite: Score
    match_key: Score
    email: float | None  # match-key coverage: share of events with an email
    phone: float | None
    frequency: Score
    freshness: Score

    @property
    def omnichannel_ready(self) -> bool | None:
        """Whether the composite reaches what omnichannel ads require (8.5)."""
        score = self.composite.score
        return None if score is None else score >= OMNICHANNEL_COMPOSITE

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_name": self.event_name,
            "composite": self.composite.to_dict(),
            "match_key": {
                **self.match_key.to_dict(),
                "coverage": {"email": self.email, "phone": self.phone},
            },
            "frequency": self.frequency.to_dict(),
            "freshness": self.freshness.to_dict(),
            "omnichannel_ready": self.omnichannel_ready,
        }


@dataclass(frozen=True)
class MetaScores:
    """What Meta says about a dataset: its scores, or why there are none.

    ``failed``: Meta could not be asked (the network, retries running out): a failure of
    the command; any answer from Meta is not.
    """

    available: bool
    events: tuple[EventScores, ...] = ()
    reason: str = ""
    failed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "reason": self.reason or None,
            "failed": self.failed,
            "events": [event.to_dict() for event in self.events],
        }


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _score(value: object) -> Score:
    if not isinstance(value, dict):
        return Score(None)
    text = value.get("recommendation")
    return Score(_number(value.get("score")), str(text) if text else "")


def parse_scores(answer: dict[str, Any]) -> MetaScores:
    """A ``dataset_quality`` answer -> scores, or not available without ``offline``."""
    offline = answer.get("offline")
    if isinstance(offline, dict) and isinstance(offline.get("data"), list):
        offline = offline["data"]  # the Graph API's edge form of a list
    if not isinstance(offline, list):
        return MetaScores(False, reason=NO_OFFLINE_FIELD)
    events = []
    for item in offline:
        if not isinstance(item, dict):
            continue
        match_key = item.get("match_key")
        coverage = match_key.get("coverage") if isinstance(match_key, dict) else None
        coverage = coverage if isinstance(coverage, dict) else {}
        events.append(
            EventScores(
                event_name=str(item.get("event_name") or ""),
                composite=_score(item.get("composite")),
                match_key=_score(match_key),
                email=_number(coverage.get("email")),
                phone=_number(coverage.get("phone")),
                frequency=_score(item.get("frequency")),
                freshness=_score(item.get("freshness")),
            )
        )
    if not events:
        return MetaScores(False, reason="Meta has scored no offline events of this dataset yet")
    return MetaScores(True, tuple(events))


def dataset_scores(
    client: GraphClient, dataset_id: str, agent_name: str | None = None
) -> MetaScores:
    """Ask Meta for one dataset's offline scores. Raises AuthError (token invalid, expired,
    or an appsecret_proof wanted); every other answer is a :class:`MetaScores`."""
    params = {"dataset_id": dataset_id, "fields": FIELDS}
    if agent_name:
        params["agent_name"] = agent_name
    try:
        answer = client.get("dataset_quality", params)
    except GraphError as error:
        info = error.info
        if not error.answered or info is None:
            return MetaScores(False, reason=error.message, failed=True)
        if NO_SUCH_DATASET in (info.code, info.subcode):
            why = "Meta knows no such dataset"
        elif info.code == NO_PERMISSION:
            why = "this token may not read its quality"
        else:
            why = "Meta refused"
        return MetaScores(False, reason=f"{why}: {info.describe()}")
    return parse_scores(answer)


@dataclass(frozen=True)
class DatasetQuality:
    """One dataset in ``fbocli quality``: Meta's scores (None: Meta was not asked) beside
    fbocli's own figures from the journal."""

    dataset_id: str
    meta: MetaScores | None
    local: Tally

    def checks(self) -> list[Check]:
        return checks(self.local, lag_to="upload")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "meta": self.meta.to_dict() if self.meta is not None else None,
            "local": {"window_days": WINDOW_DAYS, **to_dict(self.local, lag_to="upload")},
        }


@dataclass(frozen=True)
class QualityReport:
    """What ``fbocli quality`` shows: each dataset, as of ``now`` (Unix seconds)."""

    now: int
    api_version: str
    journal: str | None  # the journal the figures come from; None: there is none yet
    datasets: tuple[DatasetQuality, ...]

    @property
    def failed(self) -> tuple[DatasetQuality, ...]:
        """Datasets Meta could not be asked about (the network, retries running out)."""
        return tuple(d for d in self.datasets if d.meta is not None and d.meta.failed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": datetime.fromtimestamp(self.now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "api_version": self.api_version,
            "journal": self.journal,
            "thresholds": {
                "omnichannel_composite": OMNICHANNEL_COMPOSITE,
                "upload_days": {"wanted": FREQUENCY_WANTED, "of": FREQUENCY_DAYS},
                "stale_after_days": STALE_AFTER // DAY,
            },
            "datasets": [dataset.to_dict() for dataset in self.datasets],
        }
