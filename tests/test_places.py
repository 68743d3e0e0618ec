"""Countries and US/Canadian states (fbocli.mapping.places, mapping.md section 4).

Countries: everything pycountry's own lookup finds, found the same; then its names with
the qualifier dropped or first, and the alias table, insensitive to case, accents,
punctuation and spacing. States: two-letter codes in the US and Canada from a code or a
name, a name anywhere else.
"""

from __future__ import annotations

import pycountry
import pytest

from fbocli.mapping import places
from fbocli.mapping.normalize import fold
from fbocli.mapping.places import COUNTRY_ALIASES, norm_country, norm_state, state_known

# --- countries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("US", "us"),
        ("us", "us"),
        ("USA", "us"),
        ("840", "us"),  # ISO numeric
        ("🇺🇸", "us"),  # the flag
        ("United States", "us"),
        ("United States of America", "us"),
        ("U.S.A.", "us"),  # punctuation, case, spacing do not matter
        ("u.s.", "us"),
        ("United-States", "us"),
        ("United   Kingdom", "gb"),
        ("united_kingdom", "gb"),
        ("Canada", "ca"),
        (" canada ", "ca"),
        ("Can.", "ca"),  # the alpha-3 code, with a dot
        ("UK", "gb"),
        ("U.K.", "gb"),
        ("England", "gb"),
        ("Great Britain", "gb"),
        ("Scotland", "gb"),
        ("GBR", "gb"),
        ("Germany", "de"),
        ("Deutschland", "de"),  # the country's own name
        ("DEUTSCHLAND", "de"),
        ("España", "es"),
        ("Espana", "es"),  # accents do not matter
        ("México", "mx"),
        ("Brasil", "br"),
        ("Österreich", "at"),
        ("日本", "jp"),
        ("Россия", "ru"),
        ("Russia", "ru"),
        ("Turkey", "tr"),
        ("Türkiye", "tr"),
        ("Holland", "nl"),
        ("The Netherlands", "nl"),  # a leading "The" is ignored
        ("UAE", "ae"),
        ("Ivory Coast", "ci"),
        ("Côte d'Ivoire", "ci"),
        ("Korea", "kr"),
        ("South Korea", "kr"),
        ("Republic of Korea", "kr"),  # pycountry's name with its qualifier first
        ("North Korea", "kp"),
        ("Saint Martin (French part)", "mf"),
        ("Saint Martin", "mf"),  # ... or dropped
        ("Falkland Islands", "fk"),
        ("British Virgin Islands", "vg"),
        ("Virgin Islands", None),  # two countries: neither
        ("Congo", "cg"),  # not the Democratic Republic (cd)
        ("DR Congo", "cd"),
        ("Democratic Republic of the Congo", "cd"),
        ("Atlantis", None),
        ("Narnia", None),
        ("123us", None),  # the whole value is looked up
        ("UnitedStatesAmerica", None),
        ("Ger.", None),
        ("Germánia", None),  # other languages' names for other countries are not known
        ("Theland", None),
        ("", None),
        ("  ", None),
    ],
)
def test_norm_country(value: str, expected: str | None) -> None:
    assert norm_country(value) == expected


def test_norm_country_every_alpha2_maps_to_itself() -> None:
    for country in pycountry.countries:
        code = str(country.alpha_2)
        assert norm_country(code) == code.lower()
        assert norm_country(str(country.alpha_3)) == code.lower()


def _pycountry_lookup(text: str) -> str | None:
    try:
        return str(pycountry.countries.lookup(text).alpha_2).lower()
    except LookupError:
        return None


def test_norm_country_finds_what_pycountrys_lookup_finds() -> None:
    """places reads pycountry's ISO 3166-1 file itself (importing pycountry costs ~35 ms of
    start-up): every value of every field, in any case, finds what pycountry finds."""
    values = {v for c in pycountry.countries for v in c._fields.values() if isinstance(v, str)}
    assert len(values) > 1000
    for value in sorted(values):
        for text in (value, value.upper(), value.lower(), value.title()):
            if text.strip():
                assert norm_country(text) == _pycountry_lookup(text.strip()), text


def test_no_alias_names_another_country() -> None:
    """An alias never shadows pycountry (pycountry wins), nor another alias: each finds
    its own country."""
    seen: dict[str, str] = {}
    for code, aliases in COUNTRY_ALIASES.items():
        assert pycountry.countries.get(alpha_2=code.upper()) is not None, code
        for alias in aliases:
            assert seen.setdefault(fold(alias), code) == code, alias
            assert norm_country(alias) == code, alias


def test_the_country_table_is_built_once() -> None:
    assert places._countries() is places._countries()


# --- states ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("RI", "us", "ri"),
        ("ri", "us", "ri"),
        ("r.i.", "us", "ri"),  # punctuation and case do not matter
        ("Rhode Island", "us", "ri"),
        ("  rhode island ", "us", "ri"),
        ("rhode-island", "us", "ri"),
        ("RhodeIsland", "us", "ri"),  # nor spacing
        ("California", "us", "ca"),
        ("Califórnia", "us", "ca"),  # nor accents
        ("District of Columbia", "us", "dc"),
        ("Puerto Rico", "us", "pr"),
        ("AE", "us", "ae"),  # USPS: Armed Forces Europe
        ("Florida32801", "us", "fl"),  # digits are dropped, as in a name
        ("Tex.", "us", "tex"),  # neither code nor name: sent as a name
        ("Nowhere Land", "us", "nowhereland"),
        ("XY", "us", "xy"),
        ("Ontario", "ca", "on"),
        ("ON", "ca", "on"),
        ("Québec", "ca", "qc"),
        ("Quebec", "ca", "qc"),
        ("QC", "ca", "qc"),
        ("Colombie-Britannique", "ca", "bc"),  # the French name
        ("California", "ca", "california"),  # not a Canadian province
        ("Bayern", "de", "bayern"),  # outside the US and Canada: a name
        ("BY", "de", "by"),
        ("Île-de-France", "fr", "îledefrance"),
        ("Greater London", "gb", "greaterlondon"),
        ("California", "", "california"),  # no region: a name
        ("RI", "zz", "ri"),
        ("", "us", None),
        ("--", "us", None),
        ("123", "us", None),
    ],
)
def test_norm_state(value: str, region: str, expected: str | None) -> None:
    assert norm_state(value, region) == expected


@pytest.mark.parametrize(
    ("value", "region", "known"),
    [
        ("RI", "us", True),
        ("Rhode Island", "us", True),
        ("Tex.", "us", False),
        ("XY", "us", False),
        ("Ontario", "ca", True),
        ("Ontario", "us", False),
        ("Bayern", "de", True),  # no recognition outside the US and Canada
        ("anything", "", True),
        ("", "us", True),  # nothing to recognise
        ("!!", "us", True),
    ],
)
def test_state_known(value: str, region: str, known: bool) -> None:
    assert state_known(value, region) is known


@pytest.mark.parametrize("region", ["us", "ca"])
def test_every_subdivision_of_pycountry_is_known_by_code_and_name(region: str) -> None:
    """places reads pycountry's ISO 3166-2 file itself (its database costs ~50 ms a
    process to load): every subdivision of the US and Canada, by code and by name."""
    subdivisions = pycountry.subdivisions.get(country_code=region.upper())
    assert len(subdivisions) >= 13
    for sub in subdivisions:
        code = str(sub.code).partition("-")[2].lower()
        assert norm_state(code.upper(), region) == code
        assert norm_state(str(sub.name), region) == code, sub.name
        assert norm_state(str(sub.name).upper(), region) == code
