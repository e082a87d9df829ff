"""A département by number or name, in "Près de" or among the words of a search, is a département filter."""

from __future__ import annotations

import pytest

from node.reference.data import load_reference
from node.reference.departements import departement_in, departement_name, find_departement
from node.services.finder import Finder


@pytest.mark.parametrize(
    ("text", "code"),
    [("93", "93"), ("5", "05"), ("2a", "2A"), ("seine st denis", "93"), ("Val-d'Oise", "95"), ("Ille et Vilaine", "35"),
     ("971", "971"), ("96", None), ("Montreuil", None)],
)  # fmt: skip
def test_find_departement(text: str, code: str | None) -> None:
    assert find_departement(text) == code


def test_departement_among_words() -> None:
    assert departement_in("menuisier Seine-Saint-Denis") == ("93", "menuisier")
    assert departement_in("graphiste hauts de seine vélo") == ("92", "graphiste velo")
    assert departement_in("menuisier Paris") is None  # a city before a département
    assert departement_in("plombier nord") is None  # a common word
    assert departement_name("93") == "Seine-Saint-Denis" and departement_name("xx") == "xx"


def test_the_finder_reads_a_departement_as_a_filter() -> None:
    finder = Finder(None, "coopaname", load_reference())  # type: ignore[arg-type]  # parsing needs no database
    assert finder.with_departement({"q": "menuisier Seine-Saint-Denis"}) == {"q": "menuisier", "departement": "93"}
    assert finder.with_departement({"q": "menuisier", "near": "93", "radius_km": "25"}) == {
        "q": "menuisier",
        "departement": "93",
    }
    assert finder.with_departement({"near": "Seine-Saint-Denis"}) == {"departement": "93"}
    assert finder.with_departement({"near": "Paris"}) is None  # a town: a radius around it
    assert finder.with_departement({"near": "93200"}) is None  # a postcode: a town
    assert finder.with_departement({"q": "menuisier", "departement": "93"}) is None
    parsed = finder.parse({"q": "menuisier Seine-Saint-Denis"})
    assert parsed.q == "menuisier" and parsed.filters.departements == ("93",)
