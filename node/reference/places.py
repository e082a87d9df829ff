"""French towns for profiles, offers and "near me" search, from a file shipped with the package.

Why offline: a member types "saint denis" or "93200" and must get a town with coordinates without the node
calling an outside geocoder (privacy, and nodes may run without network). ``data/places_fr.csv`` is built
once by ``scripts/build_places.py`` from GeoNames (CC BY 4.0, see ``data/PLACES-LICENSE.txt``): about
15,000 places of 500 inhabitants or more, every one of Île-de-France with a postcode for its communes.

A place is a town, never an address: coordinates are the town's, so distances are town to town.
"""

from __future__ import annotations

import bisect
import csv
import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from node.reference.vocabulary import normalise

DEFAULT_PLACES: Final = Path(__file__).resolve().parent.parent / "data" / "places_fr.csv"
EARTH_RADIUS_KM: Final = 6371.0088
_QUALIFIED: Final = re.compile(r"^(.*?)[\s,]*\(?\s*(\d{5}|\d{2,3}|2[ab])\s*\)?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Place:
    town: str
    postcode: str
    departement: str
    region: str
    lat_e6: int
    lon_e6: int

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


def distance_km(a: Place, b: Place) -> float:
    """Great-circle (haversine) distance between two towns."""
    la1, lo1, la2, lo2 = (math.radians(v / 1e6) for v in (a.lat_e6, a.lon_e6, b.lat_e6, b.lon_e6))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _key(text: str) -> str:
    """Index key: normalised, with "st"/"ste" read as "saint"/"sainte" ("St-Ouen" finds Saint-Ouen)."""
    words = normalise(text).split()
    return " ".join({"st": "saint", "ste": "sainte"}.get(w, w) for w in words)


class Gazetteer:
    """Town lookup by name or postcode, prefix search for autocompletion, and radius search."""

    def __init__(self, rows: list[tuple[Place, int, tuple[str, ...]]]) -> None:
        # Most populous first, so that every list built below is already in preference order.
        rows = sorted(rows, key=lambda r: (-r[1], r[0].town, r[0].postcode))
        self._places = [place for place, _, _ in rows]
        self._population = [population for _, population, _ in rows]
        self._population_of = {place: population for place, population, _ in rows}
        self._compact: dict[str, list[int]] = {}  # spaces dropped: "lhay les roses" finds "L'Haÿ-les-Roses"
        self._names: dict[str, list[int]] = {}  # a town's own name -> places
        self._alts: dict[str, list[int]] = {}  # alternate names -> places
        self._postcodes: dict[str, list[int]] = {}
        prefix_keys: set[tuple[str, int, int]] = set()  # (key, rank: 0 name / 1 alt / 2 postcode, index)
        for i, (place, _, alts) in enumerate(rows):
            name = _key(place.town)
            self._names.setdefault(name, []).append(i)
            self._compact.setdefault(name.replace(" ", ""), []).append(i)
            prefix_keys.add((name, 0, i))
            for alt in alts:
                alt_key = _key(alt)
                if alt_key and alt_key != name:
                    self._alts.setdefault(alt_key, []).append(i)
                    prefix_keys.add((alt_key, 1, i))
            if place.postcode:
                self._postcodes.setdefault(place.postcode, []).append(i)
                prefix_keys.add((place.postcode, 2, i))
        self._sorted = sorted(prefix_keys)
        self._sorted_keys = [k for k, _, _ in self._sorted]

    def __len__(self) -> int:
        return len(self._places)

    def all(self) -> list[Place]:
        """Every place, most populous first."""
        return list(self._places)

    def population(self, place: Place) -> int:
        """The GeoNames population of a place of this gazetteer (0 for one it does not hold)."""
        return self._population_of.get(place, 0)

    def find(self, town_or_postcode: str) -> Place | None:
        """One place: by postcode ("93200"), by name in any case, accents or hyphens ("saint denis"), or by a
        name qualified with a département or postcode ("Saint-Denis (93)", "Montreuil 62"). An ambiguous name
        gives the most populous place of that name; a town's own name beats another town's alternate name."""
        text = town_or_postcode.strip()
        if not text:
            return None
        if text.isdigit() and len(text) == 5:
            hits = self._postcodes.get(text, [])
            return self._places[hits[0]] if hits else None
        candidates = self._candidates(_key(text))
        if candidates:
            return self._places[candidates[0]]
        m = _QUALIFIED.match(text)
        if m and m.group(1):
            qualifier = m.group(2).upper()
            for i in self._candidates(_key(m.group(1))):
                place = self._places[i]
                if qualifier in (place.departement, place.postcode) or (
                    len(qualifier) == 5 and place.postcode[:2] == qualifier[:2] and place.postcode == ""
                ):
                    return place
            if len(qualifier) == 5:
                for i in self._candidates(_key(m.group(1))):
                    if self._places[i].departement == qualifier[:2]:
                        return self._places[i]
        return None

    def _candidates(self, key: str) -> list[int]:
        found = self._names.get(key, []) + self._alts.get(key, [])
        return found or self._compact.get(key.replace(" ", ""), [])

    def search(self, prefix: str, limit: int = 10) -> list[Place]:
        """Places whose name, alternate name or postcode starts with ``prefix``, for autocompletion: own names
        before alternate names before postcodes, most populous first, an exact name counting as ten times
        its population (so "mont" offers Montpellier and Montreuil before the village of Mont)."""
        key = _key(prefix) if not prefix.strip().isdigit() else prefix.strip()
        if not key or limit <= 0:
            return []
        start = bisect.bisect_left(self._sorted_keys, key)
        ranked: dict[int, tuple[int, int]] = {}  # index -> (rank, -weight)
        for k, rank, i in self._sorted[start:]:
            if not k.startswith(key):
                break
            entry = (rank, -self._population[i] * (10 if k == key else 1))
            if i not in ranked or entry < ranked[i]:
                ranked[i] = entry
        ordered = sorted(ranked, key=lambda i: (ranked[i], i))
        return [self._places[i] for i in ordered[:limit]]

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
        reader = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in reader:
            place = Place(
                town=row["town"],
                postcode=row["postcode"],
                departement=row["departement"],
                region=row["region"],
                lat_e6=int(row["lat_e6"]),
                lon_e6=int(row["lon_e6"]),
            )
            alts = tuple(a for a in row["alt_names"].split("|") if a)
            rows.append((place, int(row["population"] or 0), alts))
    return Gazetteer(rows)


@functools.lru_cache(maxsize=1)
def load_places() -> Gazetteer:
    """The shipped gazetteer, read once per process (about 0.2 s)."""
    return read_places(DEFAULT_PLACES)
