"""How records become search documents (:class:`node.search.documents.SearchDocuments`): what each audience's
document holds, bilingual trade words, and a vocabulary that belongs to one node, not to the process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from node.reference.places import load_places
from node.reference.vocabulary import load_trades
from node.search.documents import SearchDocuments
from node.search.text import normalise
from node.services import profiles

SHIPPED = Path(__file__).parents[2] / "node" / "data" / "trades.csv"


def _with_synonym(tmp_path: Path, code: str, synonym: str) -> SearchDocuments:
    """Documents built with the shipped vocabulary plus an operator file giving ``code`` one more synonym."""
    rows = SHIPPED.read_text(encoding="utf-8").splitlines()
    header, row = rows[0], next(r for r in rows if r.startswith(code + ","))
    cells = row.split(",")
    cells[3] = f"{cells[3]}|{synonym}"  # synonyms_fr
    extra = tmp_path / "trades-extra.csv"
    extra.write_text(f"{header}\n{','.join(cells)}\n", encoding="utf-8")
    return SearchDocuments(load_trades(extra))


def _content(documents: list[dict[str, Any]], audience: str) -> str:
    return next(str(d["content"]) for d in documents if d["audience"] == audience)


def test_each_node_indexes_with_its_own_vocabulary(tmp_path: Path) -> None:
    """Two nodes in one process (as tests and the demo run them): one's operator synonyms never reach the other's
    documents, whichever was built first."""
    body = {"display_name": "Paul", "trades": [{"rome": "H2206", "label": "Menuisier"}], "public": []}
    extended = _with_synonym(tmp_path, "H2206", "xylothérapeute")
    shipped = SearchDocuments(load_trades())
    for documents, expected in ((extended, True), (shipped, False), (extended, True)):
        received = documents.received("profile", "smart", "p1", body, 1)
        assert ("xylotherapeute" in _content(received, "network").split()) is expected
        own = documents.own("profile", "coopaname", "p2", {"coop": body}, 1)
        assert ("xylotherapeute" in _content(own, "coop").split()) is expected


def test_trade_words_come_in_both_languages_for_own_and_received_records() -> None:
    documents = SearchDocuments(load_trades())
    trades = [{"rome": "H2206", "label": "Menuisier"}, {"rome": "Z9999", "label": "Inconnu"}]
    received = _content(
        documents.received("offer", "smart", "o1", {"title": "Atelier", "trades": trades}, 1), "network"
    )
    own = _content(
        documents.own("offer", "coopaname", "o2", {"network": {"title": "Atelier", "trades": trades}}, 1), "network"
    )
    for content in (received, own):
        words = content.split()
        assert {"menuisier", "carpenter", "joiner", "ebeniste", "z9999"} <= set(words)
    assert received.split()[:1] == ["atelier"]


def test_an_audience_reads_only_its_own_fields() -> None:
    """A profile kept on the node: each audience's document holds the words and facets of the fields it may read,
    never a narrower field's (the coop-only bio, the private phone, the private day rate)."""
    place = load_places().find("Montreuil")
    assert place is not None
    data = {
        "display_name": "Zoé Martin",
        "bio": "Vitraux secrets à Noël",
        "trades": [{"rome": "H2206", "label": "Menuisier"}],
        "languages": ["fr"],
        "place": dict(place.as_record()),
        "availability": {"status": "available", "from": "2027-03-01"},
        "day_rate_eur": 350,
        "links": ["https://example.org/zoe"],
        "phone": "06 00 00 00 00",
    }
    visibility = {
        "display_name": "public",
        "trades": "network",
        "place": "network",
        "availability": "network",
        "bio": "coop",
        "day_rate_eur": "private",
        "links": "coop",
        "languages": "coop",
    }
    bodies = profiles.search_bodies(data, visibility)
    documents = SearchDocuments(load_trades()).own("profile", "coopaname", "p1", bodies, 7)
    by_audience = {d["audience"]: d for d in documents}
    assert by_audience["public"]["content"] == "zoe martin"
    assert by_audience["public"]["departement"] is None and by_audience["public"]["tags"] == ()
    network = by_audience["network"]
    network_words = set(network["content"].split())
    assert {"carpenter", "montreuil", "93100"} <= network_words
    assert not {"vitraux", "secrets", "noel", "fr", "350", "06", "available", "example"} & network_words
    assert (network["departement"], network["status"], network["avail_from"]) == ("93", "available", "2027-03-01")
    assert network["tags"] == (("trade", "H2206"),)
    coop = by_audience["coop"]
    assert {"vitraux", "secrets", "noel", "fr"} <= set(coop["content"].split())
    assert coop["tags"] == (("language", "fr"), ("trade", "H2206"))
    assert not {"350", "06", "example", "available"} & set(coop["content"].split())  # facets and links are no text
    assert {d["ts"] for d in documents} == {7}


def test_records_that_are_not_searched_have_no_documents() -> None:
    documents = SearchDocuments(load_trades())
    assert documents.received("help_request", "smart", "h1", {"topic": "compta", "text": "aide"}, 1) == []
    assert documents.received("node", "smart", "node", {"name": "smart"}, 1) == []
    assert documents.own("offer", "coopaname", "o1", {"public": {}}, 1) == []  # no words, no document


# letters of French and English with their accents, ligatures, other scripts, combining marks, punctuation
_CHARS = st.characters(codec="utf-8") | st.sampled_from("éÈçœÆßǅﬁ\u0301\u034f -'’.")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(_CHARS, max_size=12), max_size=6))
def test_normalising_by_parts_gives_the_words_of_the_whole(parts: list[str]) -> None:
    """What lets :meth:`SearchDocuments.own` normalise each field once and join the results per audience."""
    assert " ".join(p for p in map(normalise, parts) if p) == normalise(" ".join(parts))
