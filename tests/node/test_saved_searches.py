"""Saved searches and their notifications, on SQLite and PostgreSQL: the job is driven directly with the
manual clock (no sleeping), records arrive by replication or are published here, and the API is called over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from node.app import create_app
from node.clock import ManualClock
from node.compose import Node, NodeOptions
from node.config import NodeConfig, load_config
from node.errors import ConfigError
from node.reference.places import load_places
from node.services.saved_searches import OVERLAP_MS, SavedSearches
from node.services.things import OFFERS
from node.viewer import Viewer

from .conftest import PASSWORD, Api, receive

MINUTE = 60_000


async def _receive(services: Node, origin: str, rid: str, town: str, ts: int, trade: str = "E1205") -> None:
    """A profile from another coop arrives by replication, stamped ``ts`` by its origin."""
    place = load_places().find(town)
    assert place is not None
    body = {
        "display_name": f"Membre {rid}",
        "bio": "Atelier",
        "trades": [{"label": trade, "rome": trade}],
        "place": dict(place.as_record()),
        "public": ["display_name"],
    }
    await receive(services, origin, rid, body, ts=ts, received_at=ts)


async def _member(services: Node, email: str) -> Viewer:
    await services.accounts.add_user(email=email, display_name=email.split("@")[0], password=PASSWORD)
    result = await services.accounts.login(email, PASSWORD, "test")
    found = await services.accounts.authenticate(result.token)
    assert found is not None
    return found


def _job(services: Node) -> SavedSearches:
    return services.saved_searches


async def test_new_matches_become_notifications_once(services: Node, clock: ManualClock) -> None:
    job = _job(services)
    alice = await _member(services, "alice@example.org")
    await _receive(services, "smart", "old-graphiste", "Saint-Denis", clock())  # before the search is saved
    clock.advance(MINUTE)
    saved = await job.save(alice, {"q": "graphiste", "near": "Saint-Denis", "radius_km": "25"})
    assert saved["name"].startswith("graphiste") and saved["query"]["near"] == "Saint-Denis"

    clock.advance(OVERLAP_MS + MINUTE)  # the old profile is now out of the look-back window
    assert await job.run_due() == 0
    clock.advance(MINUTE)
    await _receive(services, "smart", "new-graphiste", "Aubervilliers", clock())
    await _receive(services, "oxalis", "far-graphiste", "Lyon", clock())  # outside the radius
    await _receive(services, "oxalis", "menuisier", "Saint-Denis", clock(), trade="H2206")  # other trade
    clock.advance(MINUTE)
    assert await job.run_due() == 1
    clock.advance(MINUTE)
    assert await job.run_due() == 0  # found again in the look-back window, not notified twice

    found = await job.notifications(alice)
    assert found["unread"] == 1
    [note] = found["items"]
    assert note["record"] == {
        "origin": "smart",
        "id": "new-graphiste",
        "search": saved["name"],
        "type": "profile",
        "title": "Membre new-graphiste",
    }
    assert note["saved_search_id"] == saved["id"] and not note["read"]
    assert await job.mark_read(alice) == 1
    assert (await job.notifications(alice))["unread"] == 0
    assert (await job.notifications(alice, unread_only=True))["items"] == []


async def test_a_late_replicated_record_is_still_notified(services: Node, clock: ManualClock) -> None:
    job = _job(services)
    alice = await _member(services, "alice@example.org")
    await job.save(alice, {"q": "graphiste"})
    clock.advance(5 * MINUTE)
    assert await job.run_due() == 0
    stamped = clock() - 2 * MINUTE  # stamped by its origin before our last run, received after it
    clock.advance(MINUTE)
    await _receive(services, "smart", "late", "Montreuil", stamped)
    assert await job.run_due() == 1


async def test_own_records_and_other_members_searches(services: Node, clock: ManualClock) -> None:
    job = _job(services)
    alice = await _member(services, "alice@example.org")
    bob = await _member(services, "bob@example.org")
    mine = await job.save(alice, {"type": "offer", "trade": "E1205"})
    clock.advance(MINUTE)
    offer = await services.things.create(
        OFFERS, bob, {"purpose": "request", "title": "Identité visuelle", "trades": ["E1205"], "visibility": "network"}
    )
    clock.advance(MINUTE)
    assert await job.run_due() == 1
    [note] = (await job.notifications(alice))["items"]
    assert note["record"]["id"] == offer["id"] and note["record"]["title"] == "Identité visuelle"
    assert (await job.notifications(bob))["items"] == []  # notifications are per member
    assert [s["id"] for s in await job.list(bob)] == []
    with pytest.raises(Exception, match="no saved search"):
        await job.delete(bob, mine["id"])
    await job.delete(alice, mine["id"])
    assert await job.list(alice) == [] and (await job.notifications(alice))["items"] == []


async def test_refuses_what_the_search_refuses(services: Node) -> None:
    job = _job(services)
    alice = await _member(services, "alice@example.org")
    with pytest.raises(Exception, match="unknown town"):
        await job.save(alice, {"q": "graphiste", "near": "Atlantis"})
    with pytest.raises(Exception, match="at least one filter"):
        await job.save(alice, {"name": "nothing"})
    with pytest.raises(Exception, match="log in"):
        await job.save(Viewer(), {"q": "graphiste"})


def test_interval_from_the_settings(node_config: NodeConfig) -> None:
    assert load_config(node_config.directory, environ={}).saved_search_seconds == 300
    env = {"BIGRE_SAVED_SEARCH_SECONDS": "7.5"}
    assert load_config(node_config.directory, environ=env).saved_search_seconds == 7.5
    with pytest.raises(ConfigError, match="BIGRE_SAVED_SEARCH_SECONDS"):
        load_config(node_config.directory, environ={"BIGRE_SAVED_SEARCH_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="saved_search_seconds"):
        load_config(node_config.directory, environ={"BIGRE_SAVED_SEARCH_SECONDS": "0"})


@pytest.fixture
async def saved_api(aiohttp_client: Any, node_config: NodeConfig, options: NodeOptions) -> Api:
    app = create_app(node_config, options=options)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return Api(client)


async def test_saved_searches_and_notifications_over_http(saved_api: Api, clock: ManualClock) -> None:
    api = saved_api
    await api.user("a@example.org")
    await api.user("b@example.org")
    me = "/api/v1/me"
    await api.call("POST", f"{me}/saved-searches", None, {"q": "graphiste"}, expect=401)
    bad = await api.call("POST", f"{me}/saved-searches", "a@example.org", {"q": "x", "near": "Atlantis"}, expect=422)
    assert "near" in bad["error"]["fields"]
    saved = await api.call(
        "POST",
        f"{me}/saved-searches",
        "a@example.org",
        {"q": "graphiste", "near": "93200", "radius_km": 10, "name": "Graphistes du 93"},
        expect=201,
    )
    assert saved["name"] == "Graphistes du 93" and saved["query"]["radius_km"] == "10"
    listed = await api.call("GET", f"{me}/saved-searches", "a@example.org", expect=200)
    assert [s["id"] for s in listed["items"]] == [saved["id"]]

    clock.advance(MINUTE)
    await _receive(api.services, "smart", "nouvelle", "Saint-Denis", clock())
    clock.advance(MINUTE)
    assert await api.services.saved_searches.run_due() == 1
    notes = await api.call("GET", f"{me}/notifications?unread=1", "a@example.org", expect=200)
    assert notes["unread"] == 1 and notes["items"][0]["record"]["id"] == "nouvelle"
    await api.call("GET", f"{me}/notifications", None, expect=401)
    other = await api.call("GET", f"{me}/notifications", "b@example.org", expect=200)
    assert other == {"items": [], "unread": 0}
    await api.call("POST", f"{me}/notifications/read", "a@example.org", {"ids": "all"}, expect=422)
    marked = await api.call(
        "POST", f"{me}/notifications/read", "a@example.org", {"ids": [notes["items"][0]["id"]]}, expect=200
    )
    assert marked == {"marked": 1}
    await api.call("DELETE", f"{me}/saved-searches/{saved['id']}", "b@example.org", expect=404)
    await api.call("DELETE", f"{me}/saved-searches/{saved['id']}", "a@example.org", expect=204)
    assert (await api.call("GET", f"{me}/saved-searches", "a@example.org"))["items"] == []
