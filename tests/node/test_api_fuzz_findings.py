"""What the OpenAPI-driven fuzzer (tests/node/test_api_fuzz.py) found, each kept as a plain regression test."""

from __future__ import annotations

import pytest

from tests.node.conftest import PASSWORD, Api, Client

LAST_MS = 2**53 - 1  # the protocol's largest time: year 285 000


@pytest.fixture
def backend() -> str:
    return "sqlite"


async def test_an_event_in_the_far_future_is_created_indexed_and_shown(api: Api, client: Client) -> None:
    """Found: POST /events with a start past year 9999 answered 500 (the search facets turned it into a date
    Python cannot hold); a peer's event like it would have stopped replication the same way."""
    await api.user("a@example.org")
    event = {"kind": "other", "title": "Dans très longtemps", "start": LAST_MS, "visibility": "public"}
    created = await api.call("POST", "/api/v1/events", "a@example.org", event, expect=201)
    assert created["start"] == LAST_MS
    listed = await api.call("GET", "/api/v1/events", None, expect=200)
    assert [e["id"] for e in listed["items"]] == [created["id"]]
    login = await client.post("/api/v1/auth/login", json={"email": "a@example.org", "password": PASSWORD})
    assert login.status == 200  # the session cookie signs the page in
    page = await client.get("/events")
    assert page.status == 200 and "Dans très longtemps" in await page.text()
    found = await api.call("GET", "/api/v1/search?type=event&available_on=9999-12-30", "a@example.org", expect=200)
    assert [r["id"] for r in found["results"]] == [created["id"]]  # indexed as running to the last date


async def test_a_json_integer_may_be_written_with_a_fraction_of_zero(api: Api) -> None:
    """Found: ``"effort_days": 15.0`` (an integer, for JSON and JSON Schema) was refused."""
    await api.user("a@example.org")
    offer = {"purpose": "offer", "title": "t", "effort_days": 15.0}
    assert (await api.call("POST", "/api/v1/offers", "a@example.org", offer, expect=201))["effort_days"] == 15
    body = await api.call("POST", "/api/v1/offers", "a@example.org", offer | {"effort_days": 15.5}, expect=422)
    assert set(body["error"]["fields"]) == {"effort_days"}
    body = await api.call("POST", "/api/v1/offers", "a@example.org", offer | {"effort_days": "15"}, expect=422)
    assert set(body["error"]["fields"]) == {"effort_days"}


async def test_notification_ids_beyond_the_database_s_integers_are_refused(api: Api) -> None:
    """Found: ``POST /me/notifications/read`` with an id past 2^63 answered 500 (the database's integer
    overflowed); the document now bounds the ids and the edge refuses them."""
    await api.user("a@example.org")
    body = await api.call("POST", "/api/v1/me/notifications/read", "a@example.org", {"ids": [2**70, 3]}, expect=422)
    assert set(body["error"]["fields"]) == {"ids[0]"}
    assert (await api.call("POST", "/api/v1/me/notifications/read", "a@example.org", {"ids": [3]}, expect=200)) == {
        "marked": 0
    }


async def test_a_null_part_of_a_profile_change_is_an_absent_one(api: Api) -> None:
    """Found: ``{"visibility": null}`` (valid per the document) was refused by the service."""
    await api.user("a@example.org")
    changed = await api.call(
        "PATCH", "/api/v1/me/profile", "a@example.org", {"fields": {"bio": "Bonjour"}, "visibility": None}, expect=200
    )
    assert changed["fields"]["bio"] == "Bonjour"
    await api.call("PATCH", "/api/v1/me/profile", "a@example.org", {"fields": {"display_name": None}}, expect=422)


async def test_null_on_creation_keeps_the_defaults(api: Api) -> None:
    """Found: ``{"status": null}`` on creation removed the default status, so the record could not be made."""
    await api.user("a@example.org")
    created = await api.call(
        "POST", "/api/v1/mentoring", "a@example.org", {"kind": "offer", "status": None, "note": None}, expect=201
    )
    assert created["status"] == "open" and "note" not in created


async def test_an_empty_required_text_is_refused_at_the_edge(api: Api) -> None:
    """Found: ``{"title": ""}`` fitted the document, but the node reads an empty text as an absent one."""
    await api.user("a@example.org")
    body = await api.call("POST", "/api/v1/offers", "a@example.org", {"purpose": "offer", "title": ""}, expect=422)
    assert set(body["error"]["fields"]) == {"title"}
    body = await api.call("POST", "/api/v1/help-requests", "a@example.org", {"topic": ""}, expect=422)
    assert set(body["error"]["fields"]) == {"topic"}
