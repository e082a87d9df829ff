"""Faceted search and matching over the replica, on SQLite and PostgreSQL: relevance on a fixed corpus of
received profiles (French and English queries), visibility, facets and filters, distance, matching.

No timing is asserted here (see bench/search_bench.py).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from node.compose import Node, NodeOptions, open_node
from node.config import NodeConfig, load_config
from node.errors import ConfigError
from node.reference.places import load_places
from node.services.finder import Finder
from node.viewer import Viewer

from .conftest import PASSWORD, receive


def _place(town: str) -> dict[str, Any]:
    found = load_places().find(town)
    assert found is not None, town
    return dict(found.as_record())


def _trades(*codes: str) -> list[dict[str, str]]:
    return [{"label": code, "rome": code} for code in codes]


CORPUS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "smart",
        "menuisier-montreuil",
        {
            "display_name": "Paul Menuisier",
            "bio": "Menuiserie en chêne massif",
            "trades": _trades("H2206"),
            "place": _place("Montreuil"),
            "languages": ["fr"],
            "stage": "established",
            "availability": {"from": "2027-03-01", "status": "available"},
            "public": ["display_name", "trades"],
        },
    ),
    (
        "smart",
        "graphiste-saint-denis",
        {
            "display_name": "Léa Martin",
            "bio": "Identité visuelle et mise en page",
            "trades": _trades("E1205"),
            "place": _place("Saint-Denis"),
            "languages": ["fr", "en"],
            "stage": "starting",
            "availability": {"from": "2027-01-01", "until": "2027-02-28", "status": "available"},
            "public": ["display_name"],
        },
    ),
    (
        "oxalis",
        "formatrice-lyon",
        {
            "display_name": "Ana Formatrice",
            "bio": "Formation d'adultes, facilitation",
            "trades": _trades("K2111"),
            "place": _place("Lyon"),
            "languages": ["fr", "es"],
            "stage": "intermittent",
            "public": ["display_name"],
        },
    ),
    (
        "oxalis",
        "graphiste-aubervilliers",
        {
            "display_name": "Marc Motion",
            "bio": "Motion design et illustration",
            "trades": _trades("E1205"),
            "place": _place("Aubervilliers"),
            "languages": ["fr"],
            "stage": "established",
            "public": ["display_name"],
        },
    ),
]


async def _receive(
    services: Node, entries: list[tuple[str, str, dict[str, Any]]] | None = None, ts0: int = 1_000
) -> None:
    """Store profiles as received from their origins (signed, chained, stored by replication's path), in order."""
    for i, (origin, rid, body) in enumerate(CORPUS if entries is None else entries):
        await receive(services, origin, rid, body, ts=ts0 + i)


async def _member(services: Node, email: str = "m@example.org") -> Viewer:
    await services.accounts.add_user(email=email, display_name="M", password=PASSWORD)
    result = await services.accounts.login(email, PASSWORD, "test")
    found = await services.accounts.authenticate(result.token)
    assert found is not None
    return found


def _finder(services: Node) -> Finder:
    return Finder(services.db, services.publisher.origin, services.reference)


async def _ids(finder: Finder, viewer: Viewer, **query: str) -> list[str]:
    found = await finder.search(viewer, finder.parse(query))
    return [r["id"] for r in found["results"]]


async def test_relevance_in_french_and_english(services: Node) -> None:
    await _receive(services)
    member = await _member(services)
    finder = _finder(services)
    assert (await _ids(finder, member, q="menuisier"))[0] == "menuisier-montreuil"
    assert (await _ids(finder, member, q="carpenter"))[0] == "menuisier-montreuil"
    assert (await _ids(finder, member, q="menuisières"))[0] == "menuisier-montreuil"  # plural, feminine
    assert set(await _ids(finder, member, q="graphic designer")) == {"graphiste-saint-denis", "graphiste-aubervilliers"}
    assert (await _ids(finder, member, q="motion design"))[0] == "graphiste-aubervilliers"
    assert (await _ids(finder, member, q="formatr"))[0] == "formatrice-lyon"  # prefix while typing
    assert await _ids(finder, member, q="trainer") == ["formatrice-lyon"]


async def test_visibility_follows_the_viewer(services: Node) -> None:
    await _receive(services)
    member = await _member(services)
    finder = _finder(services)
    anonymous = await finder.search(Viewer(), finder.parse({"q": "menuisier"}))
    assert [r["id"] for r in anonymous["results"]] == ["menuisier-montreuil"]
    assert set(anonymous["results"][0]["fields"]) == {"display_name", "trades"}  # public fields only
    assert await _ids(finder, Viewer(), q="chene") == []  # the bio is not public
    assert await _ids(finder, Viewer(), q="graphiste") == []  # trades of Léa are network-only
    seen = await finder.search(member, finder.parse({"q": "chêne"}))
    assert seen["results"][0]["origin"] == "smart" and "bio" in seen["results"][0]["fields"]
    facets = (await finder.search(Viewer(), finder.parse({"q": "paul"})))["facets"]
    assert facets["departement"] == []  # the town is not public: no count may reveal it


async def test_facets_and_filters(services: Node) -> None:
    await _receive(services)
    member = await _member(services)
    finder = _finder(services)
    found = await finder.search(member, finder.parse({"q": "graphiste"}))
    assert found["total"] == 2
    assert {f["value"]: f["count"] for f in found["facets"]["origin"]} == {"smart": 1, "oxalis": 1}
    assert {f["value"]: f["count"] for f in found["facets"]["trade"]} == {"E1205": 2}
    assert {f["value"]: f["count"] for f in found["facets"]["language"]} == {"fr": 2, "en": 1}
    assert await _ids(finder, member, q="graphiste", origin="oxalis") == ["graphiste-aubervilliers"]
    assert await _ids(finder, member, q="graphiste", language="en") == ["graphiste-saint-denis"]
    assert await _ids(finder, member, q="graphiste", stage="established") == ["graphiste-aubervilliers"]
    assert await _ids(finder, member, trade="menuisier") == ["menuisier-montreuil"]  # a filter alone
    assert await _ids(finder, member, trade="H2206", departement="93") == ["menuisier-montreuil"]
    assert await _ids(finder, member, q="graphiste", available_on="2027-06-01") == ["graphiste-aubervilliers"]
    assert set(await _ids(finder, member, q="graphiste", available_on="2027-02-01")) == {
        "graphiste-saint-denis",
        "graphiste-aubervilliers",
    }


async def test_distance_filters_and_ranks(services: Node) -> None:
    await _receive(services)
    member = await _member(services)
    finder = _finder(services)
    near = await finder.search(member, finder.parse({"q": "graphiste", "near": "Saint-Denis", "radius_km": "2"}))
    assert [r["id"] for r in near["results"]] == ["graphiste-saint-denis"]
    assert near["results"][0]["distance_km"] < 1
    wide = await finder.search(member, finder.parse({"q": "graphiste", "near": "93300", "radius_km": "20"}))
    assert [r["id"] for r in wide["results"]] == ["graphiste-aubervilliers", "graphiste-saint-denis"]
    everyone = await _ids(finder, member, near="Lyon", radius_km="30", type="profile")
    assert everyone == ["formatrice-lyon"]


async def test_matching_offers_and_members(services: Node) -> None:
    await _receive(services)
    member = await _member(services)
    finder = _finder(services)
    from node.services.things import OFFERS

    offer = await services.things.create(
        OFFERS,
        member,
        {"purpose": "request", "title": "Identité visuelle", "trades": ["E1205"], "place": "Saint-Denis"},
    )
    fits = await finder.offer_matches(member, services.publisher.origin, offer["id"])
    assert [r["id"] for r in fits["results"]][:2] == ["graphiste-saint-denis", "graphiste-aubervilliers"]
    assert "menuisier-montreuil" not in [r["id"] for r in fits["results"]]
    await services.directory.update_my_profile(
        member, {"fields": {"trades": ["E1205"], "place": "Montreuil"}}, replace=False
    )
    mine = await finder.member_matches(member)
    assert [r["id"] for r in mine["results"]] == [offer["id"]]


async def test_search_and_matches_over_http(api: Any) -> None:
    await _receive(api.services)
    await api.user("a@example.org")
    found = await api.call("GET", "/api/v1/search?q=graphic+designer&near=Saint-Denis&radius_km=20", "a@example.org")
    assert {r["id"] for r in found["results"]} == {"graphiste-saint-denis", "graphiste-aubervilliers"}
    assert all("distance_km" in r for r in found["results"])
    assert found["total"] == 2 and found["page"] == 1 and found["items"][0]["kind"] == "profile"
    assert {f["value"] for f in found["facets"]["origin"]} == {"smart", "oxalis"}
    await api.call("GET", "/api/v1/search?near=Atlantis", "a@example.org", expect=422)
    offer = await api.call(
        "POST", "/api/v1/offers", "a@example.org", {"purpose": "request", "title": "Menuiserie", "trades": ["H2206"]}
    )
    fits = await api.call("GET", f"/api/v1/offers/coopaname/{offer['id']}/matches", "a@example.org", expect=200)
    assert [r["id"] for r in fits["results"]] == ["menuisier-montreuil"]
    await api.call("GET", f"/api/v1/offers/coopaname/{offer['id']}/matches", None, expect=401)
    mine = await api.call("GET", "/api/v1/me/matches", "a@example.org", expect=200)
    assert mine["results"] == []  # no trades on this member's profile yet


async def test_operator_trades_file_reaches_received_records(node_config: NodeConfig, options: NodeOptions) -> None:
    """A synonym the operator adds in `trades_file` finds other coops' members of that trade (their records are
    indexed with the node's vocabulary) as well as the node's own lookups."""
    shipped = (Path(__file__).parents[2] / "node" / "data" / "trades.csv").read_text(encoding="utf-8")
    header, carpenter = shipped.splitlines()[0], next(r for r in shipped.splitlines() if r.startswith("H2206,"))
    (node_config.directory / "trades-extra.csv").write_text(
        f"{header}\n{carpenter.replace('|escaliéteur,', '|escaliéteur|xylothérapeute,')}\n", encoding="utf-8"
    )
    config = dataclasses.replace(node_config, trades_file="trades-extra.csv")
    services = await open_node(config, options)
    try:
        assert services.reference.trades.search("xylothérapeute")[0].rome == "H2206"
        await _receive(services, CORPUS[:1])  # Paul Menuisier, H2206, from smart
        viewer = await _member(services)
        assert await _ids(_finder(services), viewer, q="xylotherapeute") == ["menuisier-montreuil"]
    finally:
        await services.close()


def test_trades_file_must_exist(node_config: NodeConfig) -> None:
    raw = json.loads((node_config.directory / "node.json").read_text(encoding="utf-8"))
    (node_config.directory / "node.json").write_text(json.dumps({**raw, "trades_file": "nope.csv"}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"trades_file 'nope\.csv' is not a file"):
        load_config(node_config.directory)
