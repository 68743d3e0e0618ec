"""Countries and US/Canadian states of match keys (mapping.md section 4, ``country``, ``st``).

Both are looked up insensitive to case, accents, punctuation and spacing
(:func:`fbocli.mapping.normalize.fold`): ``U.S.A.``, ``united-states`` and
``United   States`` are one country, ``Québec``, ``QUEBEC`` and ``q.c.`` one province.

* **Countries**: ISO 3166-1 alpha-2 from pycountry's codes (alpha-2, alpha-3, numeric, the
  flag) and English names (short, official, common), pycountry's names with their
  qualifier dropped or put first (``Saint Martin (French part)``, ``Republic of Korea``),
  and the alias table of mapping.md: other English names and the countries' own names in
  the largest markets (``England``, ``Holland``, ``Deutschland``, ``日本``).
* **States**: in the US and Canada, the two-letter code of a state or province, from its
  code or its name; a value that is neither is sent as a name (``fn``) and reported as
  not recognised. In any other region (or none) a state is a name: Meta's documentation
  asks for states outside the US "in lowercase with no punctuation, no special characters
  and no white space".

pycountry's tables are read from its own data files: importing pycountry costs ~35 ms of
every start, and its subdivision database ~50 ms more.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from fbocli.mapping.normalize import fold, norm_name, pycountry_data, pycountry_module

__all__ = ["COUNTRY_ALIASES", "STATE_REGIONS", "norm_country", "norm_state", "state_known"]

# Alpha-2 code -> names pycountry does not know: mapping.md's alias table (other English
# names, former names), then the countries' own names in the largest markets. Each is
# looked up folded; tests/test_places.py checks that none names another country.
COUNTRY_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "gb": ("UK", "Great Britain", "Britain", "England", "Scotland", "Wales",
               "Northern Ireland"),
        "us": ("U.S.", "U.S.A.", "America", "United States of America"),
        "ru": ("Russia", "Россия"),
        "tr": ("Turkey", "Türkiye"),
        "nl": ("Holland", "Nederland"),
        "kr": ("South Korea", "Korea", "대한민국", "한국"),
        "kp": ("North Korea",),
        "ci": ("Ivory Coast",),
        "vn": ("Vietnam", "Việt Nam"),
        "ir": ("Iran",),
        "sy": ("Syria",),
        "la": ("Laos",),
        "bo": ("Bolivia",),
        "ve": ("Venezuela",),
        "tz": ("Tanzania",),
        "md": ("Moldova",),
        "cz": ("Czech Republic", "Czechia", "Česko"),
        "mk": ("Macedonia",),
        "sz": ("Swaziland",),
        "cv": ("Cape Verde",),
        "bn": ("Brunei",),
        "va": ("Vatican",),
        "ps": ("Palestine",),
        "ae": ("UAE", "الإمارات"),
        "cd": ("DR Congo", "Democratic Republic of the Congo"),
        "tl": ("East Timor",),
        "fm": ("Micronesia",),
        "sh": ("Saint Helena",),
        "mf": ("Saint Martin",),
        "ly": ("Libyan Arab Jamahiriya",),
        "mm": ("Burma",),
        "mo": ("Macau",),
        # the countries' own names
        "de": ("Deutschland",),
        "es": ("España",),
        "br": ("Brasil",),
        "mx": ("México",),
        "at": ("Österreich",),
        "ch": ("Schweiz", "Suisse", "Svizzera", "Svizra"),
        "it": ("Italia",),
        "be": ("België", "Belgique", "Belgien"),
        "pl": ("Polska",),
        "se": ("Sverige",),
        "no": ("Norge", "Noreg"),
        "dk": ("Danmark",),
        "fi": ("Suomi",),
        "ie": ("Éire",),
        "gr": ("Ελλάδα", "Hellas"),
        "jp": ("日本", "Nippon", "Nihon"),
        "cn": ("中国", "中國"),
        "tw": ("台灣", "臺灣", "台湾"),
        "hk": ("香港",),
        "hu": ("Magyarország",),
        "hr": ("Hrvatska",),
        "sk": ("Slovensko",),
        "si": ("Slovenija",),
        "bg": ("България",),
        "rs": ("Srbija", "Србија"),
        "ua": ("Україна",),
        "in": ("भारत", "Bharat"),
        "th": ("ประเทศไทย", "ไทย"),
        "ph": ("Pilipinas",),
        "sa": ("السعودية",),
        "eg": ("مصر",),
        "il": ("ישראל",),
        "ma": ("المغرب", "Maroc"),
        "dz": ("الجزائر", "Algérie"),
        "pk": ("پاکستان",),
        "sg": ("Singapura", "新加坡"),
        "nz": ("Aotearoa",),
        "is": ("Ísland",),
        "lt": ("Lietuva",),
        "lv": ("Latvija",),
        "ee": ("Eesti",),
    }
)  # fmt: skip
_NAME_FIELDS = ("name", "official_name", "common_name")

# Regions whose states are sent as codes; and, for each, codes and names pycountry's ISO
# 3166-2 data does not hold: the USPS codes of the armed forces and the freely associated
# states, and names people write (the French names of the provinces).
STATE_REGIONS = frozenset({"us", "ca"})
_STATE_EXTRAS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "us": MappingProxyType(
            {
                "aa": "aa", "ae": "ae", "ap": "ap", "fm": "fm", "mh": "mh", "pw": "pw",
                "US Virgin Islands": "vi", "U.S. Virgin Islands": "vi",
            }
        ),
        "ca": MappingProxyType(
            {
                "Colombie-Britannique": "bc", "Nouveau-Brunswick": "nb",
                "Terre-Neuve-et-Labrador": "nl", "Newfoundland": "nl",
                "Territoires du Nord-Ouest": "nt", "Nouvelle-Écosse": "ns",
                "Île-du-Prince-Édouard": "pe", "Yukon Territory": "yt",
            }
        ),
    }
)  # fmt: skip


def norm_country(value: str) -> str | None:
    """ISO 3166-1 alpha-2 in lowercase (``USA``, ``United-States``, ``England`` -> ``us``,
    ``us``, ``gb``), or None for a value that names no country. A leading ``The`` is
    ignored (``The Netherlands``)."""
    key = fold(value)
    if not key:
        return None
    table = _countries()
    found = table.get(key)
    if found is None and key.startswith("the") and value.split()[0].casefold() == "the":
        found = table.get(key[3:])
    return found


def norm_state(value: str, region: str) -> str | None:
    """A state in the region of its record: in the US and Canada its two-letter code in
    lowercase, from a code or a name (``Rhode Island``, ``R.I.`` -> ``ri``; ``Québec`` ->
    ``qc``); a value that is neither, and any state of another region, as a name
    (:func:`~fbocli.mapping.normalize.norm_name`: ``Bayern`` -> ``bayern``)."""
    name = norm_name(value)
    if name is None or region not in STATE_REGIONS:
        return name
    return _states(region).get(fold(name), name)


def state_known(value: str, region: str) -> bool:
    """False only for a US or Canadian state that is neither a code nor a name of the
    region (:func:`norm_state` sends it as a name; the run reports it)."""
    name = norm_name(value)
    return name is None or region not in STATE_REGIONS or fold(name) in _states(region)


@functools.cache
def _countries() -> Mapping[str, str]:
    """Folded code, name or alias -> lowercase alpha-2.

    First what ``pycountry.countries.lookup`` finds, built the way it builds its indexes
    (every field of every country, a later country taking a value from an earlier one,
    the first field winning); then pycountry's names without their qualifier (``Saint
    Martin``) or with it first (``Republic of Moldova``) where that names one country
    only; then the alias table. A key never changes country once set.
    """
    entries = pycountry_data("iso3166-1.json", "3166-1")
    if entries is None or any("alpha_2" not in entry for entry in entries):
        entries = [dict(c._fields) for c in pycountry_module().countries]  # pragma: no cover
    indexes: dict[str, dict[str, str]] = {}
    for entry in entries:
        for name, value in entry.items():
            indexes.setdefault(name, {})[fold(value)] = entry["alpha_2"].lower()
    table: dict[str, str] = {}
    for index in indexes.values():  # the first field's index first: it wins
        for key, code in index.items():
            table.setdefault(key, code)
    table.pop("", None)
    variants: dict[str, set[str]] = {}
    for entry in entries:
        for country_name in (entry.get(f) for f in _NAME_FIELDS):
            for variant in _qualifier_variants(country_name or ""):
                variants.setdefault(fold(variant), set()).add(entry["alpha_2"].lower())
    for key, codes in variants.items():
        if len(codes) == 1 and key:
            table.setdefault(key, next(iter(codes)))
    for code, aliases in COUNTRY_ALIASES.items():
        for alias in aliases:
            table.setdefault(fold(alias), code)
    return MappingProxyType(table)


def _qualifier_variants(name: str) -> list[str]:
    """``Korea, Republic of`` -> ``Korea`` and ``Republic of Korea``; ``Saint Martin
    (French part)`` -> ``Saint Martin``; a name without a qualifier -> nothing."""
    if "(" in name:
        base, _, rest = name.partition("(")
        return [base + rest.partition(")")[2]]
    if "," in name:
        base, _, qualifier = name.partition(",")
        return [base, f"{qualifier} {base}"]
    return []


@functools.lru_cache(maxsize=4)
def _states(region: str) -> Mapping[str, str]:
    """Folded code or name -> lowercase two-letter code, for a region of STATE_REGIONS."""
    found: list[tuple[str, str]]
    entries = pycountry_data("iso3166-2.json", "3166-2")
    if entries is not None and all("code" in e and "name" in e for e in entries):
        found = [(e["code"], e["name"]) for e in entries]
    else:  # pragma: no cover - a pycountry whose data file is laid out otherwise
        database: Any = pycountry_module().subdivisions  # untyped library
        found = [(str(s.code), str(s.name)) for s in database]
    prefix = region.upper() + "-"
    table: dict[str, str] = {}
    for code, name in sorted(found):
        if code.startswith(prefix):
            suffix = code[len(prefix) :].lower()
            table[fold(suffix)] = suffix
            table.setdefault(fold(name), suffix)
    for text, suffix in _STATE_EXTRAS.get(region, {}).items():
        table.setdefault(fold(text), suffix)
    return MappingProxyType(table)
