"""Rate limits on messages, invitations, searches and API writes (issue 15): a burst over a limit gets 429 with
``Retry-After`` (an HTML page in the page's language on the pages), normal use never does, and an
``X-Forwarded-For`` header from an address that is not a trusted proxy does not give a fresh allowance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from node.app import create_app
from node.compose import NodeOptions
from node.config import NodeConfig, load_config
from node.errors import ConfigError, TooManyAttempts
from node.services.rate_limits import RateLimits
from tests.node.conftest import Api


def _with_settings(config: NodeConfig, **settings: Any) -> NodeConfig:
    path = config.directory / "node.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**raw, **settings}), encoding="utf-8")
    return load_config(config.directory)


@pytest.fixture
async def limited(aiohttp_client: Any, node_config: NodeConfig, options: NodeOptions) -> Api:
    """A node with small limits, so that a burst is a few requests."""
    config = _with_settings(
        node_config,
        rate_limit_searches={"account": "5/minute", "address": "8/minute"},
        rate_limit_messages={"account": "3/minute"},
        rate_limit_writes={"account": "4/minute"},
        rate_limit_invitations={"account": "2/hour"},
    )
    return Api(await aiohttp_client(create_app(config, options=options, check_responses=True)))


def test_limits_count_per_account_and_per_address() -> None:
    limits = RateLimits({"messages": {"account": "2/minute", "address": "3/minute"}})
    limits.hit("messages", 1, "192.0.2.1")
    limits.hit("messages", 1, "192.0.2.1")
    with pytest.raises(TooManyAttempts) as refused:
        limits.hit("messages", 1, "192.0.2.2")  # another address does not help the account
    assert 1 <= refused.value.retry_after <= 60
    limits.hit("messages", 2, "192.0.2.1")  # another account from the same address: the address's third
    with pytest.raises(TooManyAttempts):
        limits.hit("messages", 3, "192.0.2.1")  # the address is spent
    limits.hit("messages", 3, "192.0.2.9")  # a refused action was not counted against account 3
    limits.hit("searches", 1, "192.0.2.1")  # other kinds are counted apart


def test_limits_are_checked_at_start(node_config: NodeConfig) -> None:
    for bad in ({"account": "lots"}, {"acount": "5/minute"}, "5/minute", {}):
        with pytest.raises(ConfigError, match="rate_limit_searches"):
            _with_settings(node_config, rate_limit_searches=bad)
    path = node_config.directory / "node.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    del raw["rate_limit_searches"]
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert load_config(node_config.directory).rate_limits["searches"] == {
        "account": "60/minute",
        "address": "600/minute",
    }


async def test_a_burst_of_searches_gets_429_with_retry_after(limited: Api) -> None:
    await limited.user("a@example.org")
    statuses = []
    for _ in range(7):
        resp = await limited.client.get("/api/v1/search?q=menuisier", headers=limited.auth("a@example.org"))
        statuses.append(resp.status)
    assert statuses == [200] * 5 + [429] * 2
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert (await resp.json())["error"]["code"] == "too_many_attempts"
    # the limit is the account's: another member from the same address still searches (the address has room)
    await limited.user("b@example.org")
    resp = await limited.client.get("/api/v1/search?q=menuisier", headers=limited.auth("b@example.org"))
    assert resp.status == 200


async def test_messages_writes_and_invitations_are_limited(limited: Api) -> None:
    await limited.user("a@example.org")
    await limited.user("op@example.org", role="operator")
    # messages: counted before the body is read, so a flood of malformed ones counts too
    answers = [
        (await limited.client.post("/api/v1/messages", json={}, headers=limited.auth("a@example.org"))).status
        for _ in range(4)
    ]
    assert answers == [422, 422, 422, 429]
    # writes: any other change through the API
    body = {"fields": {"display_name": "A"}, "visibility": {"display_name": "public"}}
    answers = [
        (await limited.client.put("/api/v1/me/profile", json=body, headers=limited.auth("a@example.org"))).status
        for _ in range(5)
    ]
    assert answers == [200] * 4 + [429]
    # invitations
    answers = [
        (
            await limited.client.post(
                "/api/v1/accounts", json={"email": f"n{i}@example.org"}, headers=limited.auth("op@example.org")
            )
        ).status
        for i in range(3)
    ]
    assert answers == [201, 201, 429]


async def test_x_forwarded_for_from_an_untrusted_address_does_not_reset_the_limit(limited: Api) -> None:
    for i in range(8):
        resp = await limited.client.get("/api/v1/search?q=x", headers={"X-Forwarded-For": f"203.0.113.{i}"})
        assert resp.status == 200
    resp = await limited.client.get("/api/v1/search?q=x", headers={"X-Forwarded-For": "198.51.100.77"})
    assert resp.status == 429 and "Retry-After" in resp.headers


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(
    aiohttp_client: Any, node_config: NodeConfig, options: NodeOptions
) -> None:
    """The other side of the previous test: behind a trusted proxy, each client has its own allowance."""
    config = _with_settings(node_config, trusted_proxies=["127.0.0.1"], rate_limit_searches={"address": "2/minute"})
    client = await aiohttp_client(create_app(config, options=options, check_responses=True))
    for i in range(4):
        for _ in range(2):
            resp = await client.get("/api/v1/search?q=x", headers={"X-Forwarded-For": f"203.0.113.{i}"})
            assert resp.status == 200
    resp = await client.get("/api/v1/search?q=x", headers={"X-Forwarded-For": "203.0.113.0"})
    assert resp.status == 429


async def test_the_search_page_says_it_in_french_and_english(limited: Api) -> None:
    for _ in range(8):
        assert (await limited.client.get("/search?q=menuisier")).status == 200
    page = await limited.client.get("/search?q=menuisier&lang=fr")
    assert page.status == 429 and int(page.headers["Retry-After"]) >= 1
    assert page.content_type == "text/html" and "Vous allez trop vite" in await page.text()
    page = await limited.client.get("/search?q=menuisier&lang=en")
    assert page.status == 429 and "You are going too fast" in await page.text()


async def test_normal_use_never_meets_the_default_limits(api: Api) -> None:
    """A busy member's quarter of an hour, compressed into seconds, under the default limits."""
    lea = await api.user("lea@example.org")
    await api.user("sam@example.org")
    await api.user("op@example.org", role="operator")
    for i in range(40):
        await api.call("GET", f"/api/v1/search?q=menuisier+{i}", "sam@example.org", expect=200)
    for i in range(15):
        body = {"to_member": lea, "text": f"Bonjour, question {i}"}
        await api.call("POST", "/api/v1/messages", "sam@example.org", body, expect=202)
    profile = {"fields": {"display_name": "Sam"}, "visibility": {"display_name": "public"}}
    for _ in range(30):
        await api.call("PUT", "/api/v1/me/profile", "sam@example.org", profile, expect=200)
    for i in range(25):
        await api.call("POST", "/api/v1/accounts", "op@example.org", {"email": f"new{i}@example.org"}, expect=201)
    page = await api.client.get("/search?q=menuisier")
    assert page.status == 200


def test_the_settings_table_lists_the_limits() -> None:
    doc = Path("docs/operators.md").read_text(encoding="utf-8")
    for kind in ("messages", "invitations", "searches", "writes"):
        assert f"`rate_limit_{kind}`" in doc
