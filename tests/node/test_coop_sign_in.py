"""Sign-in with the coop's identity provider (OpenID Connect), against a real provider served on loopback
(tests/oidc_provider.py): discovery, the authorization form, the code exchange with the client secret and PKCE,
the signed ID token. Accounts are linked by verified e-mail address; roles stay the operator's."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from sqlalchemy import select

from node.app import create_app
from node.compose import NodeOptions
from node.config import NodeConfig, load_config
from node.errors import ConfigError
from node.http.state import NODE_KEY
from node.services.users import CONSOLE
from node.storage.models import Invitation
from tests.node.conftest import PASSWORD
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _configure(config: NodeConfig, **settings: Any) -> NodeConfig:
    path = config.directory / "node.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**raw, **settings}), encoding="utf-8")
    return load_config(config.directory)


@pytest.fixture
async def idp(aiohttp_server: Any) -> Provider:
    provider = Provider()
    server = await aiohttp_server(provider.app())
    provider.issuer = str(server.make_url("")).rstrip("/")
    return provider


@pytest.fixture
async def node(
    aiohttp_server: Any, aiohttp_client: Any, node_config: NodeConfig, options: NodeOptions, idp: Provider
) -> Any:
    port = _free_port()
    oidc = {"issuer": idp.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "label": "Nextcloud Coop"}
    config = _configure(node_config, url=f"http://127.0.0.1:{port}", oidc=oidc)
    idp.redirect_uris.add(f"{config.url}/login/oidc/callback")
    server = await aiohttp_server(create_app(config, options=options, check_responses=True), port=port)
    return await aiohttp_client(server)


async def _sign_in(node: Any, idp: Provider, login: str, password: str) -> aiohttp.ClientResponse:
    """The browser's path: the node sends it to the provider, the provider's form, back to the node."""
    start = await node.get("/login/oidc?next=/me", allow_redirects=False)
    assert start.status == 303, await start.text()
    authorize = start.headers["Location"]
    assert authorize.startswith(f"{idp.issuer}/authorize?")
    query = dict(parse_qsl(urlsplit(authorize).query))
    assert query["code_challenge_method"] == "S256" and query["nonce"] and query["state"]
    assert CLIENT_SECRET not in authorize
    form_page = await node.session.get(authorize)
    assert form_page.status == 200
    answer = await node.session.post(
        f"{idp.issuer}/authorize", data={**query, "login": login, "password": password}, allow_redirects=False
    )
    assert answer.status == 302, await answer.text()
    back = urlsplit(answer.headers["Location"])
    done: aiohttp.ClientResponse = await node.get(f"{back.path}?{back.query}", allow_redirects=False)
    return done


def _services(node: Any) -> Any:
    return node.app[NODE_KEY]


async def test_a_member_signs_in_with_the_coops_accounts(
    node: Any, idp: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await _services(node).accounts.add_user(email="lea@example.org", role="advisor", password=PASSWORD)
    idp.add("lea", "Lea@Example.org", "nextcloud password")
    login_page = await (await node.get("/login?lang=en")).text()
    assert "Sign in with Nextcloud Coop" in login_page
    done = await _sign_in(node, idp, "lea", "nextcloud password")
    assert done.status == 303 and done.headers["Location"] == "/me"
    me = await node.get("/api/v1/me")
    assert me.status == 200
    assert (await me.json())["role"] == "advisor"  # the operator's role, not the provider's
    assert idp.token_requests == 1
    logged = caplog.text + repr(_services(node).config)
    assert CLIENT_SECRET not in logged  # the secret never reaches the logs


async def test_an_unverified_email_is_refused(node: Any, idp: Provider) -> None:
    await _services(node).accounts.add_user(email="sam@example.org", password=PASSWORD)
    idp.add("sam", "sam@example.org", "pw", verified=False)
    refused = await _sign_in(node, idp, "sam", "pw")
    assert refused.status == 403
    assert "bigre_session" not in refused.cookies
    assert "adresse e-mail vérifiée" in await refused.text()  # the page explains, in French by default
    assert (await node.get("/api/v1/me")).status == 401


async def test_an_unknown_email_is_refused_and_an_invited_one_is_let_in(node: Any, idp: Provider) -> None:
    idp.add("stranger", "stranger@example.org", "pw")
    refused = await _sign_in(node, idp, "stranger", "pw")
    assert refused.status == 403 and "invitation" in await refused.text()
    assert (await node.get("/api/v1/me")).status == 401

    services = _services(node)
    account, token = await services.accounts.add_user(email="new@example.org")  # invited, no password yet
    assert token is not None
    idp.add("new", "new@example.org", "pw")
    done = await _sign_in(node, idp, "new", "pw")
    assert done.status == 303
    assert (await node.get("/api/v1/me")).status == 200
    async with services.db.read() as session:
        used = await session.scalar(select(Invitation.used_at).where(Invitation.account_id == account.id))
    assert used is not None  # the invitation link cannot be used any more


async def test_the_address_may_come_from_userinfo(node: Any, idp: Provider) -> None:
    await _services(node).accounts.add_user(email="lea@example.org", password=PASSWORD)
    idp.add("lea", "lea@example.org", "pw")
    idp.add("sam", "sam@example.org", "pw", verified=False)
    idp.email_in_id_token = False
    assert (await _sign_in(node, idp, "sam", "pw")).status == 403  # unverified, said at userinfo
    idp.userinfo_sub = "someone-else"
    assert (await _sign_in(node, idp, "lea", "pw")).status == 403  # userinfo about another subject
    assert (await node.get("/api/v1/me")).status == 401
    idp.userinfo_sub = None
    assert (await _sign_in(node, idp, "lea", "pw")).status == 303
    assert (await node.get("/api/v1/me")).status == 200


async def test_a_disabled_account_is_refused(node: Any, idp: Provider) -> None:
    services = _services(node)
    account, _ = await services.accounts.add_user(email="gone@example.org", password=PASSWORD)
    await services.users.set_disabled(CONSOLE, account.id, True)
    idp.add("gone", "gone@example.org", "pw")
    refused = await _sign_in(node, idp, "gone", "pw")
    assert refused.status == 403 and (await node.get("/api/v1/me")).status == 401


async def test_a_callback_not_started_in_this_browser_is_refused(node: Any, idp: Provider) -> None:
    await _services(node).accounts.add_user(email="lea@example.org", password=PASSWORD)
    idp.add("lea", "lea@example.org", "pw")
    start = await node.get("/login/oidc", allow_redirects=False)
    query = dict(parse_qsl(urlsplit(start.headers["Location"]).query))
    answer = await node.session.post(
        f"{idp.issuer}/authorize", data={**query, "login": "lea", "password": "pw"}, allow_redirects=False
    )
    back = urlsplit(answer.headers["Location"])
    node.session.cookie_jar.clear()  # another browser: it lacks the state cookie (login CSRF)
    refused = await node.get(f"{back.path}?{back.query}", allow_redirects=False)
    assert refused.status == 403 and (await node.get("/api/v1/me")).status == 401
    assert idp.token_requests == 0  # refused before the code was even exchanged
    replay = await node.get("/login/oidc/callback?code=forged&state=forged", allow_redirects=False)
    assert replay.status == 403


async def test_without_a_provider_there_is_no_such_sign_in(client: Any) -> None:
    assert (await client.get("/login/oidc")).status == 404
    assert "coop-sign-in" not in await (await client.get("/login")).text()


def test_the_provider_settings_are_checked(node_config: NodeConfig) -> None:
    for bad in (
        {"issuer": "https://id.example"},
        {"issuer": "not a url", "client_id": "a", "client_secret": "b"},
        {"issuer": "https://id.example", "client_id": "a", "client_secret": "b", "scopes": "email"},
        {"issuer": "https://id.example", "client_id": "a", "client_secret": "b", "extra": 1},
    ):
        with pytest.raises(ConfigError, match="oidc"):
            _configure(node_config, oidc=bad)
