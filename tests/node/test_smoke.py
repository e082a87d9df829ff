from __future__ import annotations

from tests.node.conftest import Api


async def test_health_and_profile_roundtrip(api: Api) -> None:
    health = await api.call("GET", "/api/v1/health", expect=200)
    assert health["name"] == "coopaname"
    assert health["heads"] == {"coopaname": 1}  # a started node publishes its node document
    alice = await api.user("alice@example.org")
    body = await api.call(
        "PUT",
        "/api/v1/me/profile",
        "alice@example.org",
        {
            "fields": {"display_name": "Alice", "trades": ["H2206"], "place": "Montreuil", "phone": "0102030405"},
            "visibility": {"display_name": "public", "trades": "network"},
        },
        expect=200,
    )
    assert body["published"] is True
    health = await api.call("GET", "/api/v1/health", expect=200)
    assert health["heads"] == {"coopaname": 2}
    anon = await api.call("GET", f"/api/v1/members/{alice}", expect=200)
    assert anon["fields"] == {"display_name": "Alice"}
    found = await api.call("GET", "/api/v1/search?q=carpenter", "alice@example.org", expect=200)
    assert [i["id"] for i in found["items"]] == [alice]
