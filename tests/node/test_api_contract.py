"""The JSON API against its own declarations: the OpenAPI document (valid, JSON API only, real schemas), access
enforced exactly as each route declares it, input refused at the edge with the API's error shape, and answers
checked against their declared statuses and schemas."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import validate
from pydantic import BaseModel

from node.app import API_ROUTES, create_app
from node.compose import NodeOptions
from node.config import NodeConfig
from node.http.routing import ROUTES_KEY, Route, json_response
from tests.node.conftest import PASSWORD, Api, Client


@pytest.fixture
def backend() -> str:
    return "sqlite"  # nothing here depends on the database


# Path parameters that exist nowhere: an allowed caller gets the handler's 404 (or its own refusal), never the
# guard's; destructive routes (erase an account...) then touch nothing.
MISSING: dict[str, str] = {
    "id": "NoSuchRecord0000",
    "member_id": "NoSuchMember0000",
    "offer_id": "NoSuchOffer00000",
    "answer_id": "NoSuchAnswer0000",
    "case_id": "NoSuchCase000000",
    "move_id": "NoSuchMove000000",
    "booking_id": "NoSuchBooking000",
    "origin": "nowhere",
    "coop": "nowhere",
    "account_id": "999999",
    "search_id": "999999",
    "mail_id": "999999",
    "erasure_token": "NoSuchErasureToken000",
    "number": "999999",
}
GUARD_401 = "log in first"
GUARD_403 = ("operators only", "advisors and operators only")
ROLES: dict[str, str | None] = {"anonymous": None, "member": "member", "advisor": "advisor", "operator": "operator"}


def allowed(access: str, role: str | None) -> bool:
    return {
        "anyone": True,
        "member": role is not None,
        "staff": role in ("advisor", "operator"),
        "operator": role == "operator",
    }[access]


async def test_the_document_is_valid_openapi_of_the_json_api_only(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    validate(doc)  # openapi-spec-validator: OpenAPI 3.1 and JSON Schema 2020-12
    assert doc["openapi"] == "3.1.0"
    declared = {(r.method.lower(), r.path) for r in client.app[ROUTES_KEY]}
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == declared
    served = {
        (r.method.lower(), r.resource.canonical)
        for r in client.app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/v1/") and r.method != "HEAD"
    }
    assert served - documented == {("get", "/api/v1/openapi.json")}  # no page, no federation route
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    for op in operations:
        for status, answer in op["responses"].items():
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            assert status == "204" or schema, (op["operationId"], status)
            assert schema != {} and schema != {"type": "object"}, (op["operationId"], status)
        if "requestBody" in op:
            assert op["requestBody"]["content"]["application/json"]["schema"].get("$ref"), op["operationId"]
    assert not _keywords_json_schema_lacks(doc), "pydantic left constraints it could not translate"
    offer = doc["components"]["schemas"]["OfferInput"]
    assert offer["additionalProperties"] is False
    assert set(offer["required"]) == {"purpose", "title"}
    assert offer["properties"]["title"]["maxLength"] == 140  # from protocol/records.py


def _keywords_json_schema_lacks(value: Any) -> list[str]:
    """Keys like ``ge`` that pydantic writes when it cannot express a constraint: JSON Schema ignores them, so
    the document would accept what the node refuses."""
    if isinstance(value, dict):
        found = [k for k in value if k in ("ge", "le", "gt", "lt", "strict", "max_digits")]
        return found + [k for v in value.values() for k in _keywords_json_schema_lacks(v)]
    if isinstance(value, list):
        return [k for v in value for k in _keywords_json_schema_lacks(v)]
    return []


async def test_security_and_statuses_follow_each_declaration(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    for route in client.app[ROUTES_KEY]:
        op = doc["paths"][route.path][route.method.lower()]
        assert op["x-access"] == route.access
        if route.access == "anyone":
            assert {} in op["security"]
        else:
            assert {} not in op["security"] and {"bearer": []} in op["security"]
            assert "401" in op["responses"]
        if route.access in ("staff", "operator"):
            assert "403" in op["responses"]
        if route.body is not None:
            assert {"400", "415", "422"} <= set(op["responses"])


async def test_every_route_with_every_role_answers_as_declared(api: Api, client: Client) -> None:
    for staff_role in ("member", "advisor", "operator"):
        await api.user(f"{staff_role}@example.org", role=staff_role)
    routes: list[Route] = client.app[ROUTES_KEY]
    assert len(routes) == len(API_ROUTES)
    seen = 0
    for route in routes:
        path = route.path.format(**{name: MISSING[name] for name in route.params})
        for role_name, role in ROLES.items():
            who = None if role is None else f"{role}@example.org"
            client.session.cookie_jar.clear()
            resp = await client.request(route.method, path, headers=api.auth(who), json={} if route.body else None)
            body = await resp.json() if resp.content_type == "application/json" else None
            where = (route.method, route.path, role_name, resp.status, body)
            message = (body or {}).get("error", {}).get("message") if isinstance(body, dict) else None
            if allowed(route.access, role):
                assert resp.status != 401, where
                assert not (resp.status == 403 and message in GUARD_403), where
                assert resp.status < 500, where
            elif role is None:
                assert resp.status == 401 and message == GUARD_401, where
            else:
                assert resp.status == 403 and message in GUARD_403, where
            seen += 1
            if route.path.endswith("/auth/logout") and role is not None and resp.status == 204:
                await _login_again(api, who)  # the token just ended; the next routes need it
    assert seen == 4 * len(routes)


async def _login_again(api: Api, email: str | None) -> None:
    assert email is not None
    resp = await api.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 200
    api.tokens[email] = (await resp.json())["token"]
    api.client.session.cookie_jar.clear()


async def test_invalid_input_is_refused_at_the_edge_with_every_field(api: Api) -> None:
    await api.user("a@example.org")
    body = await api.call(
        "POST",
        "/api/v1/offers",
        "a@example.org",
        {"purpose": "gift", "effort_days": "15", "remote": 1, "place": 5, "trades": ["H2206", 3], "from": "2026-02-30"},
        expect=422,
    )
    fields = body["error"]["fields"]
    assert set(fields) == {"purpose", "title", "effort_days", "remote", "place", "trades[1]", "from"}
    assert fields["title"] == "is required"
    assert "integer" in fields["effort_days"]  # strict: "15" is not 15
    assert body["error"]["code"] == "invalid_input"
    body = await api.call("GET", "/api/v1/offers?limit=0&purpose=gift&colour=red", None, expect=422)
    assert set(body["error"]["fields"]) == {"limit", "purpose", "colour"}
    body = await api.call("PATCH", "/api/v1/me/profile", "a@example.org", {"fields": {"bio": 5}}, expect=422)
    assert set(body["error"]["fields"]) == {"fields.bio"}
    body = await api.call(
        "PATCH", "/api/v1/me/profile", "a@example.org", {"visibility": {"phone": "public"}}, expect=422
    )
    assert set(body["error"]["fields"]) == {"visibility.phone"}  # the phone is at most coop-wide


async def test_a_valid_body_reaches_the_service_as_given(api: Api) -> None:
    await api.user("a@example.org")
    offer = await api.call(
        "POST",
        "/api/v1/offers",
        "a@example.org",
        {"purpose": "offer", "title": "Menuiserie", "from": "2026-03-01", "place": {"town": "Montreuil"}},
        expect=201,
    )
    assert offer["from"] == "2026-03-01" and offer["place"]["town"] == "Montreuil"
    changed = await api.call("PATCH", f"/api/v1/offers/{offer['id']}", "a@example.org", {"from": None}, expect=200)
    assert "from" not in changed and changed["title"] == "Menuiserie"  # null clears; absent keeps


class _Answer(BaseModel):
    ok: bool


async def test_the_response_check_turns_an_undeclared_answer_into_a_500(
    aiohttp_client: Any, node_config: NodeConfig, options: NodeOptions
) -> None:
    async def teapot(request: web.Request) -> web.Response:
        return json_response({"ok": True}, 418)

    async def wrong_shape(request: web.Request) -> web.Response:
        return json_response({"ok": "yes"})

    async def fine(request: web.Request) -> web.Response:
        return json_response({"ok": True})

    routes = [
        Route("GET", "/api/v1/teapot", teapot, "t", "anyone", "t", response=_Answer),
        Route("GET", "/api/v1/wrong", wrong_shape, "w", "anyone", "t", response=_Answer),
        Route("GET", "/api/v1/fine", fine, "f", "anyone", "t", response=_Answer),
    ]
    checked: Client = await aiohttp_client(
        create_app(node_config, options=options, api_routes=routes, check_responses=True)
    )
    assert (await checked.get("/api/v1/teapot")).status == 500
    assert (await checked.get("/api/v1/wrong")).status == 500
    assert (await checked.get("/api/v1/fine")).status == 200
    unchecked: Client = await aiohttp_client(create_app(node_config, options=options, api_routes=routes))
    assert (await unchecked.get("/api/v1/teapot")).status == 418  # production does not pay for the check


def test_a_declaration_must_match_its_handler() -> None:
    async def handler(request: web.Request, id: str) -> web.Response:
        return json_response({})

    with pytest.raises(ValueError, match="takes"):
        Route("GET", "/api/v1/x/{id}", handler, "x", "anyone", "t", query=_Query, response=_Answer)
    with pytest.raises(ValueError, match="PATH_PARAMS"):
        Route("GET", "/api/v1/x/{nope}", handler, "x", "anyone", "t", response=_Answer)
    with pytest.raises(ValueError, match="204"):
        Route("DELETE", "/api/v1/x/{id}", handler, "x", "anyone", "t", status=204, response=_Answer)


class _Query(BaseModel):
    q: str = ""
