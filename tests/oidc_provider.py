"""A small, real OpenID Connect provider for tests, served on loopback: discovery, an authorization endpoint with
a sign-in form, a token endpoint (client secret, PKCE S256, one-time codes), the JSON Web Key Set, userinfo, and
ID tokens signed with RS256 (joserfc; PKCE checked with authlib's RFC 7636 helper).

It stands in for the coop's Nextcloud or Keycloak the way they behave on the wire, so that the node's client is
tested against real HTTP, real signatures and real redirects (never a mock of the sign-in flow). Each test
starts its own on a free port and gives it its people.
"""

from __future__ import annotations

import asyncio
import base64
import html
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "bigre-node"
CLIENT_SECRET = "s3cret-" + "x" * 24  # a test secret: the tests check it never reaches the node's logs


@dataclass
class Person:
    email: str
    password: str
    email_verified: bool = True
    sub: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass
class Provider:
    """The provider's state; :attr:`issuer` is known once it is served."""

    people: dict[str, Person] = field(default_factory=dict)  # by login name
    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, Person] = field(default_factory=dict)
    redirect_uris: set[str] = field(default_factory=set)
    token_requests: int = 0
    email_in_id_token: bool = True  # False: like providers that give the address at userinfo only
    userinfo_sub: str | None = None  # set: userinfo answers about another subject (a broken or hostile provider)

    def add(self, login: str, email: str, password: str, *, verified: bool = True) -> Person:
        person = Person(email, password, verified)
        self.people[login] = person
        return person

    # ------------------------------------------------------------------------------------------ endpoints

    async def discovery(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )

    async def jwks(self, _request: web.Request) -> web.Response:
        return web.json_response(KeySet([self.key]).as_dict(private=False))

    async def authorize_form(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != CLIENT_ID or q.get("redirect_uri") not in self.redirect_uris:
            return web.Response(status=400, text="unknown client or redirect_uri")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            return web.Response(status=400, text="only the code flow with PKCE S256")
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
            for k, v in q.items()
            if k in ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope")
        )
        page = (
            "<!doctype html><html lang='en'><head><title>Coop accounts</title></head><body><h1>Coop accounts</h1>"
            f"<form method='post' action='/authorize'>{hidden}"
            "<label for='login'>Login</label><input id='login' name='login'>"
            "<label for='password'>Password</label><input id='password' name='password' type='password'>"
            "<button type='submit'>Log in</button></form></body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    async def authorize_submit(self, request: web.Request) -> web.Response:
        form = await request.post()
        person = self.people.get(str(form.get("login", "")))
        if person is None or not secrets.compare_digest(person.password, str(form.get("password", ""))):
            return web.Response(status=401, text="wrong login or password")
        redirect = str(form.get("redirect_uri"))
        if redirect not in self.redirect_uris:
            return web.Response(status=400, text="unknown redirect_uri")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "person": person,
            "redirect_uri": redirect,
            "nonce": str(form.get("nonce", "")),
            "challenge": str(form.get("code_challenge", "")),
            "expires": time.time() + 60,
        }
        query = urlencode({"code": code, "state": str(form.get("state", ""))})
        raise web.HTTPFound(f"{redirect}?{query}")

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != CLIENT_ID or not secrets.compare_digest(secret, CLIENT_SECRET):
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = self.codes.pop(str(form.get("code", "")), None)  # one time only
        if form.get("grant_type") != "authorization_code" or grant is None or grant["expires"] < time.time():
            return web.json_response({"error": "invalid_grant"}, status=400)
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return web.json_response({"error": "invalid_grant", "error_description": "redirect_uri"}, status=400)
        if create_s256_code_challenge(str(form.get("code_verifier", ""))) != grant["challenge"]:
            return web.json_response({"error": "invalid_grant", "error_description": "PKCE"}, status=400)
        person: Person = grant["person"]
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": person.sub,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
        }
        if self.email_in_id_token:
            claims.update(email=person.email, email_verified=person.email_verified)
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        access = secrets.token_urlsafe(16)
        self.tokens[access] = person
        return web.json_response(
            {"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}
        )

    async def userinfo(self, request: web.Request) -> web.Response:
        person = self.tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if person is None:
            return web.json_response({"error": "invalid_token"}, status=401)
        sub = self.userinfo_sub or person.sub
        return web.json_response({"sub": sub, "email": person.email, "email_verified": person.email_verified})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self.discovery)
        app.router.add_get("/jwks", self.jwks)
        app.router.add_get("/authorize", self.authorize_form)
        app.router.add_post("/authorize", self.authorize_submit)
        app.router.add_post("/token", self.token)
        app.router.add_get("/userinfo", self.userinfo)
        return app


@contextmanager
def serve_in_thread(provider: Provider) -> Iterator[Provider]:
    """Serve ``provider`` on a free loopback port in a thread of its own (for tests whose node runs elsewhere)."""
    started = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            runner = web.AppRunner(provider.app(), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            provider.issuer = f"http://127.0.0.1:{port}"
            stop = asyncio.Event()
            box["stop"] = lambda: loop.call_soon_threadsafe(stop.set)
            started.set()
            await stop.wait()
            await runner.cleanup()

        loop = asyncio.new_event_loop()
        box["loop"] = loop
        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the test identity provider did not start")
    try:
        yield provider
    finally:
        box["stop"]()
        thread.join(30)
