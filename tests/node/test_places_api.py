"""Issue 13: every town of the gazetteer on a profile, an offer and a search, through the JSON API."""

from __future__ import annotations

from tests.node.conftest import Api


async def test_a_town_without_a_curated_postcode_goes_on_a_profile_and_is_found_by_its_departement(api: Api) -> None:
    """``PATCH /api/v1/me/profile {"fields": {"place": "Briançon"}}`` answered 422: the town had no postcode."""
    alice = await api.user("alice@example.org")
    await api.user("bob@example.org")
    profile = await api.call(
        "PATCH",
        "/api/v1/me/profile",
        "alice@example.org",
        {"fields": {"place": "Briançon", "trades": ["H2206"]}},
        expect=200,
    )
    place = profile["fields"]["place"]
    assert (place["town"], place["postcode"], place["departement"]) == ("Briançon", "05100", "05")
    assert place["region"] == "Provence-Alpes-Côte d'Azur" and place["country"] == "FR"

    found = await api.call("GET", "/api/v1/search?departement=05", "bob@example.org", expect=200)
    assert [r["id"] for r in found["results"]] == [alice]
    assert {"value": "05", "count": 1} in [
        {k: f[k] for k in ("value", "count")} for f in found["facets"]["departement"]
    ]
    nothing = await api.call("GET", "/api/v1/search?departement=93", "bob@example.org", expect=200)
    assert nothing["results"] == []
    near = await api.call("GET", "/api/v1/search?near=Névache&radius_km=25", "bob@example.org", expect=200)
    assert [r["id"] for r in near["results"]] == [alice] and near["results"][0]["distance_km"] < 25
    far = await api.call("GET", "/api/v1/search?near=Gap&radius_km=25", "bob@example.org", expect=200)
    assert far["results"] == []


async def test_ambiguous_and_qualified_places(api: Api) -> None:
    await api.user("a@example.org")
    body = await api.call("PATCH", "/api/v1/me/profile", "a@example.org", {"fields": {"place": "05100"}}, expect=422)
    why = body["error"]["fields"]["place"]
    assert "postcode of 8 towns" in why and "Névache 05100 (05)" in why and "give the town too" in why
    body = await api.call(
        "PATCH", "/api/v1/me/profile", "a@example.org", {"fields": {"place": "Saint-Martin"}}, expect=422
    )
    assert "add the postcode or the département" in body["error"]["fields"]["place"]
    profile = await api.call(
        "PATCH", "/api/v1/me/profile", "a@example.org", {"fields": {"place": "05100 Névache"}}, expect=200
    )
    assert profile["fields"]["place"]["town"] == "Névache"
    profile = await api.call(
        "PATCH",
        "/api/v1/me/profile",
        "a@example.org",
        {"fields": {"place": {"town": "saint denis", "postcode": "93380"}}},
        expect=200,
    )
    place = profile["fields"]["place"]
    assert (place["town"], place["postcode"], place["departement"]) == ("Saint-Denis", "93380", "93")
    stored = await api.call("GET", "/api/v1/me/profile", "a@example.org", expect=200)
    assert stored["fields"]["place"] == place
    offer = await api.call(
        "POST",
        "/api/v1/offers",
        "a@example.org",
        {"purpose": "offer", "title": "Atelier de menuiserie", "place": "Saint-Denis (11)"},
        expect=201,
    )
    assert (offer["place"]["postcode"], offer["place"]["departement"]) == ("11310", "11")
    body = await api.call("GET", "/api/v1/search?near=Saint-Martin", "a@example.org", expect=422)
    assert "add the postcode or the département" in body["error"]["fields"]["near"]
    await api.call("GET", "/api/v1/search?near=Saint-Martin+(67)", "a@example.org", expect=200)


async def test_a_shared_postcode_centres_a_search_on_its_largest_town(api: Api) -> None:
    """A profile must say which town shares the postcode; a "near" search needs only a centre, and the
    communes of one postcode are neighbours."""
    alice = await api.user("alice@example.org")
    await api.call(
        "PATCH", "/api/v1/me/profile", "alice@example.org", {"fields": {"place": "Névache 05100"}}, expect=200
    )
    found = await api.call("GET", "/api/v1/search?near=05100&radius_km=25", "alice@example.org", expect=200)
    assert [r["id"] for r in found["results"]] == [alice]
    await api.call("GET", "/api/v1/search?near=99999", "alice@example.org", expect=422)
