"""The search page's links and rows, without a browser: facet links toggle their filter and keep the others,
trade labels follow the language, and a result shows only what the finder returned."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from node.web.i18n import lang_for
from node.web.search_pages import _facets, _href, _row


def _params(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


def test_facet_links_toggle_and_keep_the_other_filters() -> None:
    query = {"q": "graphiste", "near": "Saint-Denis", "radius_km": "10", "origin": "smart", "page": "3"}
    facets = {
        "origin": [{"value": "smart", "count": 2}, {"value": "oxalis", "count": 1}],
        "trade": [{"value": "E1205", "count": 3, "label": "Graphiste", "label_en": "Graphic designer"}],
        "language": [],
    }
    [origin, trade] = _facets(facets, query, lang_for("en", "Europe/Paris"), {"smart": "SMart"})
    smart, oxalis = origin["rows"]
    assert smart["current"] and not oxalis["current"]
    assert smart["label"] == "SMart" and oxalis["label"] == "oxalis"  # coops by the name people know
    assert "origin" not in _params(smart["href"])  # clicking the chosen value clears it
    assert _params(oxalis["href"])["origin"] == ["oxalis"]
    assert _params(oxalis["href"])["near"] == ["Saint-Denis"] and "page" not in _params(oxalis["href"])
    assert trade["rows"][0]["label"] == "Graphic designer"
    assert _facets(facets, query, lang_for("fr", "Europe/Paris"), {})[1]["rows"][0]["label"] == "Graphiste"
    assert _params(_href({"q": "a b&c"}, page="2")) == {"q": ["a b&c"], "page": ["2"]}


def test_a_row_shows_what_the_finder_returned() -> None:
    row = _row(
        {
            "origin": "smart",
            "type": "profile",
            "id": "p1",
            "fields": {"display_name": "Léa", "trades": [{"rome": "E1205", "label": "Graphiste"}]},
            "distance_km": 2.5,
        },
    )
    assert row == {
        "kind": "profile",
        "origin": "smart",
        "id": "p1",
        "title": "Léa",
        "trades": [{"rome": "E1205", "label": "Graphiste"}],  # shown in the page's language by the template
        "town": None,
        "distance_km": 2.5,
        "summary": "",
    }
    mentoring = _row({"origin": "smart", "type": "mentoring", "id": "m1", "fields": {"topics": ["CAPE", "CESA"]}})
    assert mentoring["title"] == "CAPE, CESA"
