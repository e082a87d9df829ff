"""The gazetteer: lookups a member would type, autocompletion, radius search and distances."""

from typing import Any

import pytest

from node.reference.places import Place, distance_km, load_places
from protocol import RECORD_TYPES

IDF_DEPARTEMENTS = {"75", "77", "78", "91", "92", "93", "94", "95"}


@pytest.mark.parametrize(
    ("query", "town", "postcode"),
    [
        ("Saint-Denis", "Saint-Denis", "93200"),
        ("saint denis", "Saint-Denis", "93200"),
        ("SAINT-DENIS", "Saint-Denis", "93200"),
        ("93200", "Saint-Denis", "93200"),
        ("Saint-Denis (93)", "Saint-Denis", "93200"),
        ("St-Ouen", "Saint-Ouen", "93400"),
        ("Montreuil", "Montreuil", "93100"),
        ("montreuil sous bois", "Montreuil", "93100"),
        ("Aubervilliers", "Aubervilliers", "93300"),
        ("aubervilliers", "Aubervilliers", "93300"),
        ("Creteil", "Créteil", "94000"),
        ("l'hay les roses", "L'Haÿ-les-Roses", "94240"),
        ("Paris", "Paris", "75001"),
        ("75011", "Paris", "75011"),
        ("Paris 11e", "Paris", "75011"),
    ],
)
def test_find(query, town, postcode):
    place = load_places().find(query)
    assert place is not None
    assert (place.town, place.postcode) == (town, postcode)
    assert place.region == "Île-de-France"


def test_find_qualified_and_unknown():
    gaz = load_places()
    other = gaz.find("Montreuil (62)")
    assert other is not None and other.departement == "62" and other.region == "Hauts-de-France"
    assert gaz.find("Nulle-Part-sur-Mer") is None
    assert gaz.find("") is None
    assert gaz.find("99999") is None


def test_idf_is_covered_with_postcodes():
    places = load_places().all()
    assert len(places) > 10_000
    idf = [p for p in places if p.region == "Île-de-France"]
    assert len(idf) > 900
    assert {p.departement for p in idf} == IDF_DEPARTEMENTS
    assert sum(1 for p in idf if p.postcode) >= 300
    assert all(p.postcode[:2] == p.departement for p in idf if p.postcode)


def test_search_prefix_for_autocompletion():
    gaz = load_places()
    assert gaz.search("aubervil")[0].town == "Aubervilliers"
    assert gaz.search("saint d")[0].town == "Saint-Denis"
    towns = [p.town for p in gaz.search("mont", limit=5)]
    assert "Montreuil" in towns and "Mont" not in towns
    assert all(p.postcode.startswith("932") for p in gaz.search("932"))
    assert len(gaz.search("s", limit=7)) == 7
    assert gaz.search("") == []


def test_distance_and_near():
    gaz = load_places()
    paris, saint_denis = gaz.find("Paris"), gaz.find("Saint-Denis")
    assert paris is not None and saint_denis is not None
    assert 8.5 <= distance_km(paris, saint_denis) <= 10.5
    assert distance_km(paris, paris) == 0
    montreuil = gaz.find("Montreuil")
    assert montreuil is not None
    around = gaz.near(montreuil, 5)
    assert around[0] == montreuil
    assert {"Vincennes", "Bagnolet"} <= {p.town for p in around}
    assert all(distance_km(montreuil, p) <= 5 for p in around)
    assert saint_denis not in around
    assert gaz.near(montreuil, -1) == []


def test_place_as_record_validates():
    place = load_places().find("93200")
    assert place is not None
    body: dict[str, Any] = {"place": place.as_record(), "purpose": "offer", "status": "open", "title": "t"}
    RECORD_TYPES["offer"].validate(body)
    bare = Place("Quelque-Part", "", "", "", 0, 0).as_record()
    assert bare == {"lat_e6": 0, "lon_e6": 0, "town": "Quelque-Part"}
