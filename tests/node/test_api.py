"""Every route of the JSON API, on both backends: behaviour, errors and authorisation."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from node.app import create_app
from node.clock import ManualClock
from node.compose import NodeOptions
from node.config import NodeConfig
from node.http.forwarded import client_address
from node.http.state import NODE_KEY
from tests.node.conftest import PASSWORD, Api, Client

OFFER = {
    "purpose": "request",
    "title": "Motion designer for three weeks",
    "trades": ["H2206"],
    "place": "Montreuil",
    "remote": False,
    "effort_days": 15,
    "reciprocity": "paid",
}
EVENT = {"kind": "workshop", "title": "Atelier compta", "start": 1_760_000_000_000, "seats": 2, "online": True}


async def test_openapi_documents_every_route_of_the_json_api_and_nothing_else(client: Client) -> None:
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(method, path) for path, operations in doc["paths"].items() for method in operations}
    served = set()
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method != "HEAD" and path.startswith("/api/v1/") and path != "/api/v1/openapi.json":
            served.add((route.method.lower(), path))
    assert documented == served
    assert all(path.startswith("/api/v1/") for path in doc["paths"])
    ids = [op["operationId"] for operations in doc["paths"].values() for op in operations.values()]
    assert len(ids) == len(set(ids)), "operation ids must be unique"


async def test_errors_are_json_with_stable_codes(api: Api, client: Client) -> None:
    await api.user("a@example.org")
    cases = [
        ("GET", "/api/v1/nope", None, 404, "not_found"),
        ("DELETE", "/api/v1/health", None, 405, "method_not_allowed"),
        ("GET", "/api/v1/me", None, 401, "not_authenticated"),
        ("GET", "/api/v1/members?limit=1000", None, 422, "invalid_input"),
        ("GET", "/api/v1/members?cursor=garbage!", None, 422, "invalid_input"),
        ("GET", "/api/v1/search?q=", None, 422, "invalid_input"),
    ]
    for method, path, who, status, code in cases:
        resp = await client.request(method, path, headers=api.auth(who))
        assert resp.status == status, (method, path)
        assert (await resp.json())["error"]["code"] == code
    json_type = {"Content-Type": "application/json"}
    resp = await client.post("/api/v1/offers", data=b"{not json", headers=api.auth("a@example.org") | json_type)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_request"
    resp = await client.post(
        "/api/v1/offers", data=b"{not json", headers=api.auth("a@example.org"), skip_auto_headers=["Content-Type"]
    )
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_request"  # no Content-Type: JSON
    resp = await client.post(
        "/api/v1/offers",
        data=b"purpose=offer&title=t",
        headers=api.auth("a@example.org") | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 415 and (await resp.json())["error"]["code"] == "unsupported_media_type"
    resp = await client.post("/api/v1/offers", data=b"x" * 300_000, headers=api.auth("a@example.org"))
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "too_large"
    resp = await client.get("/api/v1/me", headers={"Authorization": "Bearer " + "x" * 43})
    assert resp.status == 401
    body = await api.call(
        "POST", "/api/v1/offers", "a@example.org", {"title": "x" * 200, "purpose": "offer", "color": 1}, expect=422
    )
    assert body["error"]["fields"] == {"color": "unknown field", "title": "string should have at most 140 characters"}
    body = await api.call(
        "POST", "/api/v1/offers", "a@example.org", {"title": "x" * 200, "purpose": "offer"}, expect=422
    )
    assert "title" in body["error"]["fields"]
    body = await api.call(
        "PUT",
        "/api/v1/me/profile",
        "a@example.org",
        {"fields": {"trades": ["Z9999"], "place": "Nowhere-sur-Rien"}},
        expect=422,
    )
    assert set(body["error"]["fields"]) == {"trades", "place"}


async def test_login_logout_and_cookie_rules(api: Api, client: Client) -> None:
    await api.services.accounts.add_user(email="c@example.org", password=PASSWORD)
    resp = await client.post("/api/v1/auth/login", json={"email": "c@example.org", "password": "wrong password"})
    assert resp.status == 401
    resp = await client.post("/api/v1/auth/login", json={"email": "C@example.org ", "password": PASSWORD})
    assert resp.status == 200 and "bigre_session" in resp.cookies
    assert (await client.get("/api/v1/me")).status == 200  # the cookie authenticates reads
    resp = await client.post("/api/v1/offers", json={"purpose": "offer", "title": "t"})
    assert resp.status == 403  # but not a state change without X-Requested-With (CSRF)
    resp = await client.post(
        "/api/v1/offers", json={"purpose": "offer", "title": "t"}, headers={"X-Requested-With": "fetch"}
    )
    assert resp.status == 201
    resp = await client.post("/api/v1/auth/logout", headers={"X-Requested-With": "fetch"})
    assert resp.status == 204
    client.session.cookie_jar.clear()
    assert (await client.get("/api/v1/me")).status == 401


async def test_invitation_flow_and_account_administration(api: Api, client: Client) -> None:
    await api.user("op@example.org", role="operator")
    await api.user("m@example.org")
    await api.call("POST", "/api/v1/accounts", "m@example.org", {"email": "x@example.org"}, expect=403)
    created = await api.call(
        "POST",
        "/api/v1/accounts",
        "op@example.org",
        {"email": "new@example.org", "display_name": "Newcomer", "role": "member"},
        expect=201,
    )
    assert created["invitation_url"].endswith(created["invitation_token"])
    # inviting again an address never activated mails a fresh link (issue 15; it answered 409), the old one dies
    old_token = created["invitation_token"]
    created = await api.call("POST", "/api/v1/accounts", "op@example.org", {"email": "new@example.org"}, expect=201)
    assert created["resent"] is True and created["invitation_token"] != old_token
    await api.call("POST", "/api/v1/auth/accept", None, {"token": old_token, "password": PASSWORD}, expect=404)
    await api.call(
        "POST", "/api/v1/auth/accept", None, {"token": created["invitation_token"], "password": "short"}, expect=422
    )
    accepted = await api.call(
        "POST", "/api/v1/auth/accept", None, {"token": created["invitation_token"], "password": PASSWORD}, expect=200
    )
    assert accepted["token"]
    await api.call(
        "POST", "/api/v1/auth/accept", None, {"token": created["invitation_token"], "password": PASSWORD}, expect=404
    )  # used
    client.session.cookie_jar.clear()
    listed = await api.call("GET", "/api/v1/accounts?limit=2", "op@example.org", expect=200)
    assert len(listed["items"]) == 2 and listed["next_cursor"]
    rest = await api.call("GET", f"/api/v1/accounts?cursor={listed['next_cursor']}", "op@example.org", expect=200)
    assert [a["email"] for a in rest["items"]] == ["new@example.org"]
    await api.call("GET", "/api/v1/accounts", "m@example.org", expect=403)
    new_id = rest["items"][0]["id"]
    await api.call("PATCH", f"/api/v1/accounts/{new_id}", "m@example.org", {"disabled": True}, expect=403)
    changed = await api.call(
        "PATCH", f"/api/v1/accounts/{new_id}", "op@example.org", {"disabled": True, "role": "advisor"}, expect=200
    )
    assert changed["disabled"] is True and changed["role"] == "advisor"
    resp = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {accepted['token']}"})
    assert resp.status == 401  # disabling ends sessions
    await api.call("POST", f"/api/v1/accounts/{new_id}/invitation", "op@example.org", expect=409)  # activated
    await api.call("DELETE", f"/api/v1/accounts/{new_id}", "m@example.org", expect=403)
    await api.call("DELETE", f"/api/v1/accounts/{new_id}", "op@example.org", expect=204)
    await api.call("DELETE", f"/api/v1/accounts/{new_id}", "op@example.org", expect=404)


async def test_login_throttling(api: Api, client: Client, clock: ManualClock) -> None:
    await api.services.accounts.add_user(email="t@example.org", password=PASSWORD)
    for _ in range(5):
        resp = await client.post("/api/v1/auth/login", json={"email": "t@example.org", "password": "bad password!"})
        assert resp.status == 401
    resp = await client.post("/api/v1/auth/login", json={"email": "t@example.org", "password": PASSWORD})
    assert resp.status == 429  # locked: even the right password waits
    assert int(resp.headers["Retry-After"]) >= 1
    assert (await resp.json())["error"]["code"] == "too_many_attempts"
    clock.advance(1_001)
    resp = await client.post("/api/v1/auth/login", json={"email": "t@example.org", "password": "bad again!!"})
    assert resp.status == 401
    resp = await client.post("/api/v1/auth/login", json={"email": "t@example.org", "password": PASSWORD})
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) == 2  # the lockout doubled
    clock.advance(2_001)
    resp = await client.post("/api/v1/auth/login", json={"email": "t@example.org", "password": PASSWORD})
    assert resp.status == 200
    # per address: many accounts from one IP are throttled too
    for i in range(20):
        await client.post("/api/v1/auth/login", json={"email": f"nobody{i}@example.org", "password": "whatever!!"})
    resp = await client.post("/api/v1/auth/login", json={"email": "t@example.org", "password": PASSWORD})
    assert resp.status == 429


async def test_throttling_behind_a_trusted_proxy(
    aiohttp_client: Any, node_config: NodeConfig, options: NodeOptions
) -> None:
    """Behind the operator's proxy, failures count against the address it forwards for, not against the proxy."""

    async def attempts(proxies: tuple[str, ...], first: bool) -> tuple[int, int]:
        app = create_app(dataclasses.replace(node_config, trusted_proxies=proxies), options=options)
        client = await aiohttp_client(app)
        if first:
            await app[NODE_KEY].accounts.add_user(email="t@example.org", password=PASSWORD)
        for i in range(20):  # one address tries 20 accounts (its per-address allowance)
            await client.post(
                "/api/v1/auth/login",
                json={"email": f"nobody{i}@example.org", "password": "whatever!!"},
                headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.66"},
            )
        other = await client.post(  # someone else, through the same proxy
            "/api/v1/auth/login",
            json={"email": "t@example.org", "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        same = await client.post(
            "/api/v1/auth/login",
            json={"email": "t@example.org", "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.66"},
        )
        await client.close()
        return other.status, same.status

    assert await attempts(("127.0.0.1",), first=True) == (200, 429)  # the forwarded client is the one throttled
    # without a trusted proxy the header is nobody's word: everything counts against the connection's address
    # (and the earlier failures were counted against 203.0.113.66, so this run starts clean for 127.0.0.1)
    assert await attempts((), first=False) == (429, 429)


def test_forwarded_header_parsing() -> None:
    trusted = frozenset({"127.0.0.1", "10.0.0.2"})
    assert client_address("127.0.0.1", "203.0.113.5", trusted) == "203.0.113.5"
    assert client_address("127.0.0.1", "6.6.6.6, 203.0.113.5, 10.0.0.2", trusted) == "203.0.113.5"  # chain of proxies
    assert client_address("127.0.0.1", "not-an-address", trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", None, trusted) == "127.0.0.1"
    assert client_address("192.0.2.1", "203.0.113.5", trusted) == "192.0.2.1"  # not a proxy of ours: ignored
    assert client_address("127.0.0.1", "2001:db8::1", trusted) == "2001:db8::1"


VISIBILITY = {"display_name": "public", "bio": "network", "skills": "coop", "phone": "private"}
FIELDS = {"display_name": "Alice", "bio": "Ébéniste", "skills": ["marqueterie"], "phone": "01 02 03 04 05"}


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        (None, {"display_name"}),
        ("bob@example.org", {"display_name", "bio", "skills"}),
        ("op@example.org", {"display_name", "bio", "skills"}),
        ("alice@example.org", {"display_name", "bio", "skills", "phone"}),
    ],
)
async def test_visibility_table(api: Api, viewer: str | None, expected: set[str]) -> None:
    alice = await api.user("alice@example.org")
    await api.user("bob@example.org")
    await api.user("op@example.org", role="operator")
    await api.call(
        "PUT", "/api/v1/me/profile", "alice@example.org", {"fields": FIELDS, "visibility": VISIBILITY}, expect=200
    )
    one = await api.call("GET", f"/api/v1/members/{alice}", viewer, expect=200)
    assert set(one["fields"]) == expected
    listed = await api.call("GET", "/api/v1/members", viewer, expect=200)
    mine = [m for m in listed["items"] if m["id"] == alice]
    assert set(mine[0]["fields"]) == expected
    found = await api.call("GET", "/api/v1/search?q=01 02 03", viewer, expect=200)
    assert found["items"] == []  # the private phone is never searchable
    found = await api.call("GET", "/api/v1/search?q=marqueterie", viewer, expect=200)
    assert bool(found["items"]) == ("skills" in expected)
    found = await api.call("GET", "/api/v1/search?q=ebeniste", viewer, expect=200)  # accents folded
    assert bool(found["items"]) == ("bio" in expected)


async def test_visibility_rules_are_enforced_on_input(api: Api) -> None:
    await api.user("a@example.org")
    body = await api.call(
        "PATCH",
        "/api/v1/me/profile",
        "a@example.org",
        {"visibility": {"phone": "network", "bio": "everyone", "nope": "coop"}},
        expect=422,
    )
    assert set(body["error"]["fields"]) == {"visibility.phone", "visibility.bio", "visibility.nope"}
    profile = await api.call("GET", "/api/v1/me/profile", "a@example.org", expect=200)
    assert set(profile["visibility"].values()) <= {"private", "coop"}  # conservative defaults
    assert profile["published"] is False


async def test_members_anonymous_sees_only_public_profiles_and_pages(api: Api) -> None:
    ids = []
    for i in range(5):
        ids.append(await api.user(f"m{i}@example.org"))
        if i % 2 == 0:
            await api.call(
                "PATCH",
                "/api/v1/me/profile",
                f"m{i}@example.org",
                {"visibility": {"display_name": "public"}},
                expect=200,
            )
    anon = await api.call("GET", "/api/v1/members", None, expect=200)
    assert [m["id"] for m in anon["items"]] == [ids[0], ids[2], ids[4]]
    page1 = await api.call("GET", "/api/v1/members?limit=2", "m1@example.org", expect=200)
    page2 = await api.call(
        "GET", f"/api/v1/members?limit=2&cursor={page1['next_cursor']}", "m1@example.org", expect=200
    )
    page3 = await api.call(
        "GET", f"/api/v1/members?limit=2&cursor={page2['next_cursor']}", "m1@example.org", expect=200
    )
    assert [m["id"] for m in page1["items"] + page2["items"] + page3["items"]] == ids
    await api.call("GET", f"/api/v1/members/{ids[1]}", None, expect=404)  # nothing public: not even there


@pytest.mark.parametrize(
    ("method", "path", "who", "status"),
    [
        ("PATCH", "/api/v1/offers/{offer}", "bob@example.org", 403),
        ("DELETE", "/api/v1/offers/{offer}", "bob@example.org", 403),
        ("PATCH", "/api/v1/offers/{offer}", None, 401),
        ("POST", "/api/v1/offers", None, 401),
        ("GET", "/api/v1/offers/{offer}", None, 404),  # network-only offer: hidden from anonymous
        ("PATCH", "/api/v1/offers/{offer}", "op@example.org", 403),  # operators moderate, they do not edit
        ("GET", "/api/v1/mentoring", None, 401),
        ("GET", "/api/v1/help-requests", None, 401),
        ("PATCH", "/api/v1/events/{event}", "bob@example.org", 403),
        ("POST", "/api/v1/events/{event}/registration", None, 401),
        ("GET", "/api/v1/me/export", None, 401),
        ("POST", "/api/v1/me/erase", None, 401),
        ("GET", "/api/v1/accounts", "bob@example.org", 403),
        ("POST", "/api/v1/accounts", "bob@example.org", 403),
        ("GET", "/api/v1/help-requests/{help}/answers", None, 401),
        ("DELETE", "/api/v1/offers/{offer}", "op@example.org", 204),
    ],
)
async def test_authorisation_table(api: Api, method: str, path: str, who: str | None, status: int) -> None:
    await api.user("alice@example.org")
    await api.user("bob@example.org")
    await api.user("op@example.org", role="operator")
    offer = await api.call("POST", "/api/v1/offers", "alice@example.org", OFFER, expect=201)
    event = await api.call("POST", "/api/v1/events", "alice@example.org", EVENT, expect=201)
    help_ = await api.call("POST", "/api/v1/help-requests", "alice@example.org", {"topic": "TVA"}, expect=201)
    url = path.format(offer=offer["id"], event=event["id"], help=help_["id"])
    await api.call(method, url, who, {"title": "changed"} if method in ("PATCH", "POST") else None, expect=status)
    after = await api.call("GET", f"/api/v1/offers/{offer['id']}", "alice@example.org")
    if status != 204:
        assert after["title"] == OFFER["title"]  # nothing changed


async def test_offers_crud_filters_and_public_visibility(api: Api) -> None:
    await api.user("a@example.org")
    created = await api.call("POST", "/api/v1/offers", "a@example.org", OFFER, expect=201)
    assert created["trades"][0]["rome"] == "H2206" and created["place"]["town"] == "Montreuil"
    assert created["status"] == "open" and created["visibility"] == "network" and created["mine"] is True
    await api.call(
        "POST",
        "/api/v1/offers",
        "a@example.org",
        {"purpose": "offer", "title": "Atelier partagé", "visibility": "public"},
        expect=201,
    )
    anon = await api.call("GET", "/api/v1/offers", None, expect=200)
    assert [o["title"] for o in anon["items"]] == ["Atelier partagé"]
    requests = await api.call("GET", "/api/v1/offers?purpose=request", "a@example.org", expect=200)
    assert [o["id"] for o in requests["items"]] == [created["id"]]
    await api.call("GET", "/api/v1/offers?colour=red", "a@example.org", expect=422)
    updated = await api.call(
        "PATCH", f"/api/v1/offers/{created['id']}", "a@example.org", {"status": "fulfilled", "note": None}, expect=200
    )
    assert updated["status"] == "fulfilled"
    closed = await api.call("GET", "/api/v1/offers?status=fulfilled", "a@example.org", expect=200)
    assert len(closed["items"]) == 1
    found = await api.call("GET", "/api/v1/search?q=motion&kind=offer", "a@example.org", expect=200)
    assert [i["id"] for i in found["items"]] == [created["id"]]
    await api.call("DELETE", f"/api/v1/offers/{created['id']}", "a@example.org", expect=204)
    await api.call("GET", f"/api/v1/offers/{created['id']}", "a@example.org", expect=404)
    found = await api.call("GET", "/api/v1/search?q=motion", "a@example.org", expect=200)
    assert found["items"] == []


async def test_mentoring_events_and_help(api: Api) -> None:
    a = await api.user("a@example.org")
    await api.user("b@example.org")
    await api.user("c@example.org")
    mentoring = await api.call(
        "POST",
        "/api/v1/mentoring",
        "a@example.org",
        {"kind": "offer", "topics": ["devis"], "programme": "jeunes"},
        expect=201,
    )
    assert mentoring["member"] == a
    listed = await api.call("GET", "/api/v1/mentoring?kind=offer", "b@example.org", expect=200)
    assert [m["id"] for m in listed["items"]] == [mentoring["id"]]
    await api.call("PATCH", f"/api/v1/mentoring/{mentoring['id']}", "a@example.org", {"status": "paired"}, expect=200)
    await api.call("DELETE", f"/api/v1/mentoring/{mentoring['id']}", "a@example.org", expect=204)

    event = await api.call("POST", "/api/v1/events", "a@example.org", EVENT, expect=201)
    assert event["seats_left"] == 2
    got = await api.call("POST", f"/api/v1/events/{event['id']}/registration", "b@example.org", expect=200)
    assert got["me_registered"] is True and got["seats_left"] == 1
    await api.call("POST", f"/api/v1/events/{event['id']}/registration", "b@example.org", expect=409)
    await api.call("POST", f"/api/v1/events/{event['id']}/registration", "a@example.org", expect=200)
    body = await api.call("POST", f"/api/v1/events/{event['id']}/registration", "c@example.org", expect=409)
    assert "full" in body["error"]["message"]
    await api.call("DELETE", f"/api/v1/events/{event['id']}/registration", "b@example.org", expect=200)
    await api.call("DELETE", f"/api/v1/events/{event['id']}/registration", "b@example.org", expect=404)
    await api.call("POST", f"/api/v1/events/{event['id']}/registration", "c@example.org", expect=200)
    events = await api.call("GET", "/api/v1/events", "c@example.org", expect=200)
    assert events["items"][0]["registered"] == 2
    await api.call("GET", f"/api/v1/events/{event['id']}", "c@example.org", expect=200)
    await api.call("DELETE", f"/api/v1/events/{event['id']}", "a@example.org", expect=204)

    request = await api.call(
        "POST",
        "/api/v1/help-requests",
        "a@example.org",
        {"topic": "Facturer à l'étranger", "urgency": "high"},
        expect=201,
    )
    answer = await api.call(
        "POST",
        f"/api/v1/help-requests/{request['id']}/answers",
        "b@example.org",
        {"text": "Autoliquidation de TVA"},
        expect=201,
    )
    assert answer["request"] == f"coopaname/{request['id']}"
    answers = await api.call("GET", f"/api/v1/help-requests/{request['id']}/answers", "a@example.org", expect=200)
    assert [x["id"] for x in answers["items"]] == [answer["id"]]
    await api.call(
        "DELETE", f"/api/v1/help-requests/{request['id']}/answers/{answer['id']}", "c@example.org", expect=403
    )
    await api.call(
        "DELETE", f"/api/v1/help-requests/{request['id']}/answers/{answer['id']}", "b@example.org", expect=204
    )
    await api.call("PATCH", f"/api/v1/help-requests/{request['id']}", "a@example.org", {"status": "closed"}, expect=200)
    await api.call(
        "POST", f"/api/v1/help-requests/{request['id']}/answers", "b@example.org", {"text": "late"}, expect=409
    )
    await api.call("GET", f"/api/v1/help-requests/{request['id']}", "b@example.org", expect=200)
    await api.call("DELETE", f"/api/v1/help-requests/{request['id']}", "a@example.org", expect=204)


async def test_export_and_erase(api: Api) -> None:
    alice = await api.user("alice@example.org")
    await api.user("bob@example.org")
    await api.call(
        "PUT", "/api/v1/me/profile", "alice@example.org", {"fields": FIELDS, "visibility": VISIBILITY}, expect=200
    )
    offer = await api.call("POST", "/api/v1/offers", "alice@example.org", OFFER, expect=201)
    request = await api.call("POST", "/api/v1/help-requests", "bob@example.org", {"topic": "Statuts"}, expect=201)
    await api.call(
        "POST", f"/api/v1/help-requests/{request['id']}/answers", "alice@example.org", {"text": "oui"}, expect=201
    )
    me = await api.call("GET", "/api/v1/me", "alice@example.org", expect=200)
    assert me["member_id"] == alice
    export = await api.call("GET", "/api/v1/me/export", "alice@example.org", expect=200)
    assert export["account"]["email"] == "alice@example.org"
    assert export["profile"]["fields"]["phone"] == FIELDS["phone"]
    assert [o["id"] for o in export["offers"]] == [offer["id"]]
    assert len(export["help-answers"]) == 1 and export["published_entries"]
    await api.call("POST", "/api/v1/me/erase", "alice@example.org", {"password": "not it at all"}, expect=403)
    erased = await api.call("POST", "/api/v1/me/erase", "alice@example.org", {"password": PASSWORD}, expect=200)
    assert erased["withdrawn_records"] == 3  # the profile, the offer, the answer
    await api.call("GET", "/api/v1/me", "alice@example.org", expect=401)
    await api.call("GET", f"/api/v1/members/{alice}", "bob@example.org", expect=404)
    from sqlalchemy import select

    from node.storage.models import LogEntry, RecordState

    async with api.services.db.read() as session:
        states = {r.record_id: r for r in (await session.scalars(select(RecordState))).all()}
        entries = (await session.scalars(select(LogEntry).order_by(LogEntry.seq))).all()
    assert states[alice].deleted and states[offer["id"]].deleted and states[alice].body is None
    for entry in entries:  # every body of an erased record is gone; tombstones and headers stay
        if entry.record_id in (alice, offer["id"]) and entry.type != "tombstone":
            assert entry.body is None


async def test_trades_and_health(api: Api) -> None:
    found = await api.call("GET", "/api/v1/trades?q=carpenter", expect=200)
    assert found["items"][0]["rome"] == "H2206"
    health = await api.call("GET", "/api/v1/health", expect=200)
    assert health["key_id"] == api.services.key.kid and health["database"] in ("sqlite", "postgresql")
