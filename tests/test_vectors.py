"""Every match-key normalization vector of shared/peers/normalization-vectors, through the
pipeline's own mapper.

2,710 vectors from Meta's documentation, Meta's Parameter Builder and SDKs, Segment,
RudderStack and stape, each with the text fbocli must send for one key (its README). Each
input is put in a Segment track message in the field its key is read from (in its
region: the ``default_country`` of the config, without ``address.country``), mapped by
``map_message`` as every record of a run is, and the key in the event it gives must be
exactly ``expected_fbocli``: null means the key is not sent, 64 hex characters are sent
as they are (lowercase), anything else is sent as its SHA-256 (in an array for ``em``,
``ph``, ``external_id``). A lead id goes with each message, so that a record whose only
key was dropped is still an event to look into.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tomllib
from typing import Any

import pytest

from fbocli.api import unix_time
from fbocli.config import parse_settings
from fbocli.mapping.message import MapContext, map_message
from tests.helpers import shared_root

FOLDER = shared_root() / "peers" / "normalization-vectors"
FILES = sorted(p.name for p in FOLDER.glob("*.json"))
NOW = "2026-11-20T00:00:00Z"  # the reference time of the birthday vectors (README)
TRAIT = {"em": "email", "ph": "phone", "ge": "gender", "fn": "firstName", "ln": "lastName"}
ADDRESS = {"ct": "city", "st": "state", "zp": "postalCode", "country": "country"}
BIRTHDAY = ("db", "doby", "dobm", "dobd")  # doby, dobm, dobd: the legacy payload's keys
LEAD = 1234567


def _vectors(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((FOLDER / name).read_text("utf-8"))["cases"]
    return cases


@functools.cache
def _context(region: str, legacy: bool) -> MapContext:
    config = f"""
[destination]
api = "{"offline" if legacy else "conversions"}"
[events]
"Vector" = "1234567890123456"
[mapping]
default_country = "{region}"
"""
    return MapContext(parse_settings(tomllib.loads(config)), unix_time(NOW))


def _message(vector: dict[str, Any]) -> dict[str, Any]:
    """A track whose only customer information is the vector's input (and a lead id)."""
    key, value = vector["key"], vector["input"]
    traits: dict[str, Any] = {}
    message: dict[str, Any] = {
        "type": "track",
        "event": "Vector",
        "messageId": vector["id"],
        "timestamp": NOW,
        "context": {"traits": traits, "Facebook Offline Conversions": {"leadId": LEAD}},
    }
    if key in TRAIT:
        traits[TRAIT[key]] = value
    elif key in ADDRESS:
        traits["address"] = {ADDRESS[key]: value}
    elif key in BIRTHDAY:
        traits["birthday"] = value
    elif key == "external_id":
        message["userId"] = value
    else:
        raise AssertionError(f"a vector of an unknown key: {vector['id']}")
    return message


def _sent(vector: dict[str, Any]) -> object:
    """What the pipeline sends for the vector's key (None: nothing)."""
    legacy = vector["key"] in BIRTHDAY[1:]
    outcome = map_message(_message(vector), _context(vector.get("region", "us"), legacy))
    assert outcome.status == "accepted", (vector["id"], outcome.detail)
    event = outcome.events[0].to_dict()
    keys = event["match_keys"] if legacy else event["user_data"]
    assert keys.get("lead_id") in (LEAD, str(LEAD)), vector["id"]
    return keys.get(vector["key"])


def _expected(vector: dict[str, Any]) -> object:
    text = vector["expected_fbocli"]
    if text is None:
        return None
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        value = text.lower()
    else:
        value = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return [value] if vector["key"] in ("em", "ph", "external_id") else value


@pytest.mark.parametrize("name", FILES)
def test_every_vector_gives_what_fbocli_must_send(name: str) -> None:
    wrong = [
        (v["id"], v["input"][:40], v.get("region"), v["expected_fbocli"])
        for v in _vectors(name)
        if _sent(v) != _expected(v)
    ]
    assert wrong == []


def test_the_vectors_are_all_there() -> None:
    """The README's count: a test over fewer vectors would pass vacuously."""
    vectors = [v for name in FILES for v in _vectors(name)]
    assert len(FILES) == 6
    assert len(vectors) == 2710
    assert len({v["id"] for v in vectors}) == 2710
    keys = {v["key"] for v in vectors}
    assert keys == {*TRAIT, *ADDRESS, *BIRTHDAY, "external_id"}


def test_a_region_of_a_vector_is_one_the_config_accepts() -> None:
    regions = {v.get("region", "us") for name in FILES for v in _vectors(name)}
    assert regions >= {"", "us", "ca", "gb"}
    for region in regions:
        assert _context(region, False).settings.mapping.default_country == region
