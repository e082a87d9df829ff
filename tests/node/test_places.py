"""The gazetteer: lookups a member would type, ambiguity, autocompletion, radius search and distances."""

import collections
import csv
import timeit
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.errors import InvalidInput
from node.reference.data import load_reference
from node.reference.places import (
    COLUMNS,
    DEFAULT_PLACES,
    AmbiguousPlace,
    Place,
    UnknownPlace,
    _key,
    distance_km,
    load_places,
    read_places,
)
from node.reference.vocabulary import normalise
from protocol import RECORD_TYPES

IDF_DEPARTEMENTS = {"75", "77", "78", "91", "92", "93", "94", "95"}
METROPOLITAN = {f"{n:02d}" for n in range(1, 96) if n != 20} | {"2A", "2B"}


@pytest.mark.parametrize(
    ("query", "town", "postcode"),
    [
        ("Saint-Denis", "Saint-Denis", "93200"),
        ("saint denis", "Saint-Denis", "93200"),
        ("SAINT-DENIS", "Saint-Denis", "93200"),
        ("93200", "Saint-Denis", "93200"),
        ("Saint-Denis (93)", "Saint-Denis", "93200"),
        ("St-Denis 93", "Saint-Denis", "93200"),
        ("St-Ouen 93", "Saint-Ouen-sur-Seine", "93400"),  # its former name, as GeoNames still has it
        ("Saint-Ouen-sur-Seine", "Saint-Ouen-sur-Seine", "93400"),
        ("Montreuil", "Montreuil", "93100"),
        ("montreuil sous bois", "Montreuil", "93100"),
        ("Aubervilliers", "Aubervilliers", "93300"),
        ("aubervilliers", "Aubervilliers", "93300"),
        ("Creteil", "Créteil", "94000"),
        ("l'hay les roses", "L'Haÿ-les-Roses", "94240"),
        ("lhay les roses", "L'Haÿ-les-Roses", "94240"),
        ("Blanc-Mesnil", "Le Blanc-Mesnil", "93150"),  # INSEE keeps the article apart; both spellings work
        ("Paris", "Paris", "75001"),
        ("75011", "Paris", "75011"),
        ("Paris 11e", "Paris", "75011"),
        ("paris 11eme", "Paris", "75011"),
        ("Paris 75013", "Paris", "75013"),
        ("Pierrefitte-sur-Seine", "Saint-Denis", "93200"),  # a commune déléguée finds its commune
        ("Saint-Denis 93380", "Saint-Denis", "93380"),  # a commune's other postcode is kept
    ],
)
def test_resolve_idf(query: str, town: str, postcode: str) -> None:
    place = load_places().resolve(query)
    assert (place.town, place.postcode) == (town, postcode)
    assert place.region == "Île-de-France"
    assert place.departement == place.postcode[:2]


@pytest.mark.parametrize(
    "query",
    [
        "Briançon",
        "briancon",
        "BRIANCON",
        "Briancon",
        "Briançon 05100",
        "05100 Briançon",
        "Briançon (05)",
        "Briançon, 05",
    ],
)
def test_a_town_outside_ile_de_france_has_its_postcode(query: str) -> None:
    """The bug of issue 13: 14,914 of 15,339 towns had no postcode and could not be set on a profile."""
    place = load_places().resolve(query)
    assert (place.town, place.postcode, place.departement) == ("Briançon", "05100", "05")
    assert place.region == "Provence-Alpes-Côte d'Azur"
    assert 44.85e6 < place.lat_e6 < 44.95e6 and 6.58e6 < place.lon_e6 < 6.70e6


def test_every_town_of_the_gazetteer_is_usable() -> None:
    """Every row resolves back to itself from its own label, and turns into a place map the protocol accepts."""
    gazetteer = load_places()
    reference = load_reference()
    places = gazetteer.all()
    assert len(places) > 34_000  # every commune of metropolitan France, not only GeoNames' larger places
    assert {p.departement for p in places} == METROPOLITAN
    missing = [p for p in places if not p.postcode or not p.postcodes]
    assert missing == []
    elsewhere = 0  # a few communes are served by a post office of the next département (Curbans, 04: 05110)
    for place in places:
        assert place.postcode == place.postcodes[0]
        elsewhere += any(code[:2] != place.departement[:2] for code in place.postcodes if place.region != "Corse")
        if place.insee == place.commune:
            assert gazetteer.resolve(place.label).commune == place.commune, place  # Paris 75001: 1er
    assert 0 < elsewhere < len(places) // 100
    assert gazetteer.resolve("Curbans 05110").departement == "04"
    for place in places[::97]:  # a spread sample through the API's path, population order
        body: dict[str, Any] = {
            "place": reference.place(place.label),
            "purpose": "offer",
            "status": "open",
            "title": "t",
        }
        RECORD_TYPES["offer"].validate(body)


def test_departements_are_exact_not_guessed() -> None:
    """Towns near a département border used to take the département of the nearest curated town."""
    gaz = load_places()
    for query, departement in [
        ("Villeurbanne", "69"),
        ("Vaulx-en-Velin", "69"),
        ("Montgenèvre", "05"),
        ("Barcelonnette", "04"),
        ("Villeneuve-lès-Avignon", "30"),  # across the Rhône from Avignon (84)
        ("Le Pontet", "84"),
        ("Saint-Laurent-du-Var", "06"),
        ("Bastia", "2B"),
        ("Ajaccio", "2A"),
    ]:
        assert gaz.resolve(query).departement == departement, query


def test_shared_postcode_needs_the_town() -> None:
    gaz = load_places()
    with pytest.raises(AmbiguousPlace) as caught:
        gaz.resolve("05100")
    choices = {p.town for p in caught.value.choices}
    assert {"Briançon", "Cervières", "Névache", "Montgenèvre"} <= choices
    assert all(p.postcode == "05100" for p in caught.value.choices)
    assert "Cervières 05100 (05)" in caught.value.message and "give the town too" in caught.value.message
    assert gaz.resolve("Cervières 05100").town == "Cervières"
    assert gaz.resolve("05100 cervieres").town == "Cervières"
    assert gaz.resolve("Névache", "05100").town == "Névache"
    with pytest.raises(AmbiguousPlace):
        gaz.resolve("", "05100")


def test_homonyms_are_disambiguated_or_refused() -> None:
    gaz = load_places()
    with pytest.raises(AmbiguousPlace) as caught:
        gaz.resolve("Saint-Martin")  # villages of similar size in several départements
    named = [p for p in caught.value.choices if p.town == "Saint-Martin"]
    assert len(named) >= 4 and caught.value.choices[: len(named)] == tuple(named)  # the bearers of the name first
    assert len({p.departement for p in named}) == len(named)
    assert len(caught.value.choices) <= len(named) + 3  # then at most three larger towns "also known" so
    assert "add the postcode or the département" in caught.value.message
    first = caught.value.choices[0]
    assert gaz.resolve(f"Saint-Martin ({first.departement})") == first
    assert gaz.resolve(f"Saint-Martin {first.postcode}").insee == first.insee
    with pytest.raises(AmbiguousPlace) as caught:
        gaz.resolve("St-Ouen")  # two villages bear the name; the renamed Saint-Ouen-sur-Seine is offered first
    assert [p.departement for p in caught.value.choices] == ["41", "80", "93"]
    assert "also known by that name: Saint-Ouen-sur-Seine 93400 (93)" in caught.value.message
    assert gaz.resolve("Montreuil (62)").departement == "62"  # GeoNames' "Montreuil" for Montreuil-sur-Mer
    assert gaz.resolve("Montreuil 28").departement == "28"
    assert gaz.resolve("Montreuil", "85200").departement == "85"
    # A bare name means its largest bearer only when that one is ten times as populous as any other.
    counts = collections.Counter(_key(p.town) for p in gaz.all() if p.insee == p.commune)
    refused = 0
    for name, n in counts.items():
        if n > 1:
            try:
                gaz.resolve(name)
            except AmbiguousPlace:
                refused += 1
    assert refused > 500  # "Saint-Martin", "Sainte-Foy"...: refused, never a silent pick


def test_unknown_and_malformed() -> None:
    gaz = load_places()
    for text, postcode in [("Nulle-Part-sur-Mer", None), ("", None), ("99999", None), ("  ", "  "), ("Paris", "7501")]:
        with pytest.raises(UnknownPlace):
            gaz.resolve(text, postcode)
    with pytest.raises(UnknownPlace) as caught:
        gaz.resolve("Saint-Denis (62)")
    assert "with 62" in caught.value.message and "Saint-Denis 93200 (93)" in caught.value.message
    assert caught.value.choices[0].departement == "93"
    assert gaz.find("Nulle-Part-sur-Mer") is None
    assert gaz.find("05100") is not None and gaz.find("05100").town == "Briançon"  # type: ignore[union-attr]


def test_reference_field_errors_list_the_choices() -> None:
    reference = load_reference()
    with pytest.raises(InvalidInput) as caught:
        reference.place("05100")
    assert caught.value.fields.keys() == {"place"} and "Névache" in caught.value.fields["place"]
    place = reference.place({"town": "Névache", "postcode": "05100"})
    assert place["town"] == "Névache" and place["postcode"] == "05100" and place["departement"] == "05"
    # A place map received with a record: its département tells homonyms apart.
    assert reference.place({"town": "Saint-Martin", "departement": "67", "region": "Grand Est"})["postcode"] == "67220"
    with pytest.raises(InvalidInput, match="postcode of 8 towns"):
        reference.place({"postcode": "05100", "departement": "05", "town": ""})
    with pytest.raises(InvalidInput, match="not a département number"):
        reference.place({"town": "Saint-Martin", "departement": "Gers"})
    with pytest.raises(InvalidInput) as caught:
        reference.place({"town": 5})
    assert "place" in caught.value.fields


def test_a_place_without_postcode_is_valid_on_the_wire(tmp_path: Path) -> None:
    """A gazetteer row without a postcode (a commune the postcode table does not know yet) still works."""
    path = tmp_path / "places.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(COLUMNS)
        w.writerow(["99001", "99001", "Nouvelle-Commune", "", "05", "Provence", "44900000", "6600000", "10", ""])
    gaz = read_places(path)
    place = gaz.resolve("nouvelle commune")
    assert place.postcode == "" and place.label == "Nouvelle-Commune (05)"
    body: dict[str, Any] = {"place": place.as_record(), "purpose": "offer", "status": "open", "title": "t"}
    RECORD_TYPES["offer"].validate(body)
    assert "postcode" not in body["place"]
    with pytest.raises(UnknownPlace):
        gaz.resolve("05100")


def test_places_file_columns_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text("town,postcode,departement,region,lat_e6,lon_e6,population,alt_names\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"rebuild with scripts/build_places\.py"):
        read_places(path)


def test_search_prefix_for_autocompletion() -> None:
    gaz = load_places()
    assert gaz.search("aubervil")[0].town == "Aubervilliers"
    assert gaz.search("saint d")[0].town == "Saint-Denis"
    towns = [p.town for p in gaz.search("mont", limit=5)]
    assert "Montreuil" in towns and "Mont" not in towns
    assert all(p.postcode.startswith("932") for p in gaz.search("932"))
    assert {p.town for p in gaz.search("05100", limit=20)} >= {"Briançon", "Névache"}
    assert len(gaz.search("s", limit=7)) == 7
    assert gaz.search("") == []


def test_distance_and_near() -> None:
    gaz = load_places()
    paris, saint_denis = gaz.resolve("Paris"), gaz.resolve("Saint-Denis")
    assert 8.5 <= distance_km(paris, saint_denis) <= 10.5
    assert distance_km(paris, paris) == 0
    montreuil = gaz.resolve("Montreuil")
    around = gaz.near(montreuil, 5)
    assert around[0] == montreuil
    assert {"Vincennes", "Bagnolet"} <= {p.town for p in around}
    assert all(distance_km(montreuil, p) <= 5 for p in around)
    assert saint_denis not in around
    assert gaz.near(montreuil, -1) == []
    briancon = gaz.resolve("Briançon")
    assert {"Névache", "Montgenèvre"} <= {p.town for p in gaz.near(briancon, 20)}


def test_place_as_record_validates() -> None:
    place = load_places().resolve("93200")
    body: dict[str, Any] = {"place": place.as_record(), "purpose": "offer", "status": "open", "title": "t"}
    RECORD_TYPES["offer"].validate(body)
    bare = Place("Quelque-Part", "", "", "", 0, 0).as_record()
    assert bare == {"lat_e6": 0, "lon_e6": 0, "town": "Quelque-Part"}


def test_population_and_arrondissements() -> None:
    gaz = load_places()
    paris = gaz.resolve("Paris")
    assert gaz.population(paris) > 2_000_000
    arrondissement = gaz.resolve("75013")
    assert arrondissement.commune == paris.insee and arrondissement.insee == "75113"
    assert 100_000 < gaz.population(arrondissement) < 300_000
    assert gaz.resolve("Marseille 13008").commune == gaz.resolve("Marseille").insee
    assert gaz.resolve("Lyon 3e").postcode == "69003"


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=30))
def test_ascii_fast_key_is_the_normalised_key(text: str) -> None:
    """The loader's ASCII shortcut gives exactly the key ``normalise`` would."""
    slow = " ".join({"st": "saint", "ste": "sainte"}.get(w, w) for w in normalise(text).split())
    assert _key(text) == slow


def test_lookup_is_fast() -> None:
    """It is on the profile write path: a lookup must stay far below a millisecond."""
    gaz = load_places()
    for text in ("Briançon", "Saint-Denis (93)", "Cervières 05100", "75013"):
        per_call = min(timeit.repeat(lambda t=text: gaz.resolve(t), number=200, repeat=3)) / 200  # type: ignore[misc]
        assert per_call < 0.001, (text, per_call)


def test_shipped_file_header() -> None:
    with DEFAULT_PLACES.open(encoding="utf-8") as handle:
        first, header = handle.readline(), handle.readline()
    assert "INSEE" in first and "GeoNames" in first
    assert tuple(header.strip().split(",")) == COLUMNS
