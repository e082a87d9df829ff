"""Regressions for the outside test's findings (issue 13): each of these failed before its fix."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from node.http.middleware import error_middleware
from node.storage.models import LogEntry
from node.web.render import same_site_path
from protocol import MalformedError, SigningKey, canonical
from protocol.requests import parse_request_headers, sign_request

from .conftest import PASSWORD, Api, Client

EVENT = {"kind": "workshop", "title": "Atelier compta", "start": 1_760_000_000_000, "seats": 2, "online": True}


# ------------------------------------------------------------------------------------- privacy (1 and 2)


async def test_an_event_never_names_its_author_by_their_e_mail(api: Api) -> None:
    await api.user("zoe.tres-secrete@coopaname.example", display_name="Zoé")
    event = await api.call("POST", "/api/v1/events", "zoe.tres-secrete@coopaname.example", json=EVENT, expect=201)
    assert event["organiser"] == "Coopaname"  # her name is coop-only: the coop organises
    async with api.services.db.read() as session:
        bodies = (await session.scalars(select(LogEntry.body).where(LogEntry.type == "event"))).all()
    assert bodies and not any(b"tres-secrete" in (body or b"") for body in bodies)

    await api.call(
        "PATCH",
        "/api/v1/me/profile",
        "zoe.tres-secrete@coopaname.example",
        {"fields": {"display_name": "Zoé Martin"}, "visibility": {"display_name": "network"}},
        expect=200,
    )
    network = await api.call(
        "POST", "/api/v1/events", "zoe.tres-secrete@coopaname.example", json={**EVENT, "visibility": "network"}
    )
    assert network["organiser"] == "Zoé Martin"  # shared with the network, read by the network
    public = await api.call(
        "POST", "/api/v1/events", "zoe.tres-secrete@coopaname.example", json={**EVENT, "visibility": "public"}
    )
    assert public["organiser"] == "Coopaname"  # not shared with the public, who read a public event


async def test_a_private_coop_status_hides_the_path_from_other_members(api: Api) -> None:
    lea = await api.user("lea@coopaname.example")
    await api.user("voisin@coopaname.example")
    await api.user("conseil@coopaname.example", role="advisor")
    path = f"/api/v1/members/{lea}/path"
    await api.call("POST", path, "conseil@coopaname.example", json={"status": "cape"}, expect=201)
    assert (await api.call("GET", path, "voisin@coopaname.example", expect=200))["items"]  # coop-visible by default
    await api.call(
        "PATCH", "/api/v1/me/profile", "lea@coopaname.example", {"visibility": {"coop_status": "private"}}, expect=200
    )
    assert (await api.call("GET", path, "voisin@coopaname.example", expect=200))["items"] == []
    assert (await api.call("GET", path, "conseil@coopaname.example", expect=200))["items"]  # the coop's advisors
    assert (await api.call("GET", "/api/v1/me/path", "lea@coopaname.example", expect=200))["items"]  # herself


# ------------------------------------------------------------------------------------ web security (4, 7, 8)


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/\r/evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "/%09/evil.example",  # harmless once encoded: kept as a path
        "evil.example",
        "",
    ],
)
def test_only_same_site_paths_are_accepted_after_sign_in(target: str) -> None:
    kept = same_site_path(target)
    assert kept in ("/", target)
    assert not kept.startswith("//") and "\\" not in kept and not any(c in kept for c in "\t\r\n")
    assert same_site_path("/search?q=menuisier") == "/search?q=menuisier"


async def test_sign_in_never_redirects_off_site(api: Api, client: Client) -> None:
    await api.services.accounts.add_user(email="c@example.org", password=PASSWORD)
    page = await client.get("/login")
    csrf = page.cookies["bigre_csrf"].value
    for target in ("/\t/evil.example/", "/%0A/evil.example/", "/\r/evil.example/", "//evil.example"):
        resp = await client.post(
            "/login",
            data={"email": "c@example.org", "password": PASSWORD, "next": target, "csrf": csrf},
            allow_redirects=False,
        )
        assert resp.status == 303
        location = resp.headers["Location"]
        assert location == "/" or (location.startswith("/") and not location.startswith("//")), location


async def test_pages_cannot_be_framed_and_signed_in_answers_are_not_stored(api: Api, client: Client) -> None:
    await api.user("a@example.org")
    for path in ("/", "/login", "/api/v1/health"):
        resp = await client.get(path)
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    resp = await client.get("/api/v1/me", headers=api.auth("a@example.org"))
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"


async def test_password_confirmation_before_erasure_is_throttled(api: Api) -> None:
    await api.user("a@example.org")
    statuses = [
        (
            await api.client.post(
                "/api/v1/me/erase", json={"password": f"guess {i}"}, headers=api.auth("a@example.org")
            )
        ).status
        for i in range(8)
    ]
    assert statuses[:5] == [403] * 5 and 429 in statuses[5:]
    assert (await api.call("GET", "/api/v1/me", "a@example.org", expect=200))["email"] == "a@example.org"


async def test_a_bad_invitation_token_is_refused_before_hashing_and_throttled(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    hasher_type = type(api.services.accounts.hasher)
    original = hasher_type.hash_async

    async def counting(self: Any, password: str) -> str:
        hashed.append(password)
        return await original(self, password)

    monkeypatch.setattr(hasher_type, "hash_async", counting)
    statuses = [
        (await api.client.post("/api/v1/auth/accept", json={"token": f"forged-{i}", "password": "x" * 12})).status
        for i in range(25)
    ]
    assert hashed == []  # not one expensive hash for a token that does not exist
    assert statuses[0] == 404 and statuses[-1] == 429


# ----------------------------------------------------------------------------------- federation (10)


def test_a_signature_header_given_twice_is_malformed() -> None:
    key = SigningKey.from_seed(b"\x01" * 32)
    headers = sign_request(
        key,
        origin="smart",
        destination="coopaname",
        method="POST",
        path="/federation/v1/push",
        body=canonical.encode([]),
        time=1_760_000_000_000,
        nonce="n" * 20,
    )
    parse_request_headers(headers)
    pairs = [*headers.items(), ("bigre-origin", "oxalis")]
    with pytest.raises(MalformedError, match="twice"):
        parse_request_headers(pairs)


# ------------------------------------------------------------------------------------------ logging (11)


async def test_a_client_leaving_mid_body_is_an_info_line(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(_request: web.Request) -> web.StreamResponse:
        raise ConnectionResetError("Connection lost")

    request: Any = type(
        "R", (), {"method": "POST", "path": "/api/v1/offers", "remote": "127.0.0.1", "get": dict().get}
    )()
    caplog.set_level(logging.INFO)
    response = await error_middleware(request, handler)
    assert response.status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("went away" in r.getMessage() for r in caplog.records)


# -------------------------------------------------------------------------------------- spoofed notices (6)


async def test_a_member_cannot_pass_a_message_for_a_notice_or_name_themselves(api: Api) -> None:
    mallory = await api.user("mallory@coopaname.example", display_name="Mallory")
    await api.user("lea@coopaname.example")
    lea = api.services.accounts
    await api.call(
        "PATCH",
        "/api/v1/me/profile",
        "mallory@coopaname.example",
        {"fields": {"display_name": "Mallory Dupont"}, "visibility": {"display_name": "coop"}},
        expect=200,
    )
    lea_id = (await api.call("GET", "/api/v1/me", "lea@coopaname.example", expect=200))["member_id"]
    await api.call(
        "POST",
        "/api/v1/messages",
        "mallory@coopaname.example",
        {
            "to_member": lea_id,
            "text": "Votre cotisation est en retard, payez ici.",
            "about": f"coopaname/{mallory}",  # what made an inbox line pass for the coop's own notice
            "from_name": "Jeanne Bensaïd (opératrice Coopaname)",
        },
        expect=202,
    )
    [message] = (await api.call("GET", "/api/v1/inbox", "lea@coopaname.example", expect=200))["messages"]
    assert message["kind"] == "message"
    assert message["from_name"] == "Mallory Dupont"  # what her node vouches for, not what she typed
    [entry] = await api.services.messages.inbox(await lea.authenticate(api.tokens["lea@coopaname.example"]))  # type: ignore[arg-type]
    assert not entry.is_notice


async def test_a_name_kept_private_is_not_given_to_the_reader(api: Api) -> None:
    await api.user("discret@coopaname.example", display_name="Compte Discret")
    await api.user("lea@coopaname.example")
    await api.call(
        "PATCH",
        "/api/v1/me/profile",
        "discret@coopaname.example",
        {"visibility": {"display_name": "private"}},
        expect=200,
    )
    lea_id = (await api.call("GET", "/api/v1/me", "lea@coopaname.example", expect=200))["member_id"]
    await api.call(
        "POST", "/api/v1/messages", "discret@coopaname.example", {"to_member": lea_id, "text": "Bonjour"}, expect=202
    )
    [message] = (await api.call("GET", "/api/v1/inbox", "lea@coopaname.example", expect=200))["messages"]
    assert message["from_name"] == ""


# ------------------------------------------------------------------------------ login CSRF (5), empty PUT (9)


async def test_a_cross_site_form_cannot_sign_a_victim_in(api: Api, client: Client) -> None:
    """A form on another site can send text/plain, urlencoded or multipart bodies, never JSON: the JSON API
    refuses them before reading them, so the attacker's session cookie is never set on the victim's browser."""
    await api.services.accounts.add_user(email="mallory@example.org", password=PASSWORD)
    body = '{"email": "mallory@example.org", "password": "' + PASSWORD + '"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        resp = await client.post("/api/v1/auth/login", data=body, headers={"Content-Type": content_type})
        assert resp.status == 415, content_type
        assert "bigre_session" not in resp.cookies
    ok = await client.post("/api/v1/auth/login", json={"email": "mallory@example.org", "password": PASSWORD})
    assert ok.status == 200


async def test_a_profile_replacement_needs_a_body(api: Api) -> None:
    await api.user("a@example.org")
    await api.call("PATCH", "/api/v1/me/profile", "a@example.org", {"fields": {"bio": "Ébéniste"}}, expect=200)
    for empty in (None, b""):
        resp = await api.client.put("/api/v1/me/profile", data=empty, headers=api.auth("a@example.org"))
        assert resp.status in (400, 422), (empty, resp.status)
    resp = await api.client.put("/api/v1/me/profile", json={}, headers=api.auth("a@example.org"))
    assert resp.status == 422 and "fields" in (await resp.json())["error"]["fields"]
    kept = await api.call("GET", "/api/v1/me/profile", "a@example.org", expect=200)
    assert kept["fields"]["bio"] == "Ébéniste"  # nothing was cleared
