"""Fixtures for node tests: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL: one fresh database per test session (``bigre_test_<random>``, created from the ``test`` database on
127.0.0.1:5432, dropped at the end); tables are truncated between tests. Without a server the PostgreSQL cases
are skipped, except under ``CI`` where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import protocol
from node.app import create_app
from node.clock import ManualClock
from node.compose import Node, NodeOptions, open_node
from node.config import NodeConfig, create_node_dir
from node.federation_adapter.store import NodeFederationStore
from node.services.accounts import ThrottlePolicy
from node.services.finder import Finder, SearchRequest, legacy_items
from node.services.passwords import PasswordHasher
from node.storage.database import Database
from node.storage.models import Base
from node.viewer import Viewer

PG_HOST = os.environ.get("BIGRE_TEST_PG", "postgres@127.0.0.1:5432")
PG_ADMIN_DSN = f"postgresql://{PG_HOST}/test"
FAST_HASHER = PasswordHasher(memory_kib=256, time_cost=1)  # Argon2id, cheaper for speed; the default is tested apart
REMOTE_KEY = protocol.SigningKey.from_seed(bytes(range(32)))  # signs the records of other coops in tests


async def _pg(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    name = f"bigre_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_DSN}: {exc}")
        yield None
        return
    url = f"postgresql+asyncpg://{PG_HOST}/{name}"

    async def migrate() -> None:
        db = Database.open(url)
        await db.migrate()
        await db.close()

    asyncio.run(migrate())
    yield url
    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _truncate(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def node_config(tmp_path: Path, backend: str, pg_url: str | None) -> NodeConfig:
    database_url = None
    if backend == "postgresql":
        if pg_url is None:
            pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_DSN} (set CI to make this a failure)")
        await _truncate(pg_url)
        database_url = pg_url
    return create_node_dir(
        tmp_path / "node",
        name="coopaname",
        url="http://127.0.0.1:8400",
        display_name="Coopaname",
        database_url=database_url,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_750_000_000_000)


@pytest.fixture
def options(clock: ManualClock) -> NodeOptions:
    return NodeOptions(clock=clock, hasher=FAST_HASHER, throttle=ThrottlePolicy())


@pytest.fixture
async def services(node_config: NodeConfig, options: NodeOptions) -> AsyncIterator[Node]:
    s = await open_node(node_config, options)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def client(aiohttp_client: Any, node_config: NodeConfig, options: NodeOptions) -> Client:
    app = create_app(node_config, options=options, check_responses=True)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


PASSWORD = "correct horse battery"
Client = TestClient[web.Request, web.Application]


class Api:
    """A small helper over the test client: log people in and call routes as them."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    @property
    def services(self) -> Node:
        from node.http.state import NODE_KEY

        services: Node = self.client.app[NODE_KEY]
        return services

    async def user(self, email: str, role: str = "member", display_name: str | None = None) -> str:
        await self.services.accounts.add_user(
            email=email, display_name=display_name or email.split("@")[0], role=role, password=PASSWORD
        )
        resp = await self.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert resp.status == 200, await resp.text()
        data = await resp.json()
        self.client.session.cookie_jar.clear()  # calls authenticate by bearer token, or not at all
        self.tokens[email] = data["token"]
        return str(data["member_id"])

    def auth(self, email: str | None) -> dict[str, str]:
        return {} if email is None else {"Authorization": f"Bearer {self.tokens[email]}"}

    async def call(
        self, method: str, path: str, who: str | None = None, json: Any = None, expect: int | None = None
    ) -> Any:
        self.client.session.cookie_jar.clear()  # only the bearer token (or nothing) says who is calling
        resp = await self.client.request(method, path, json=json, headers=self.auth(who))
        body = await resp.json() if resp.content_type == "application/json" else None
        if expect is not None:
            assert resp.status == expect, (method, path, resp.status, body)
        return body


@pytest.fixture
async def api(client: Client) -> Api:
    return Api(client)


async def search_items(services: Node, viewer: Viewer, q: str) -> list[dict[str, Any]]:
    """What ``GET /api/v1/search?q=...`` lists as ``items`` for this viewer (the node's Finder, no facets)."""
    finder = Finder(services.db, services.publisher.origin, services.reference)
    return legacy_items((await finder.search(viewer, SearchRequest(q=q, size=20), facets=False))["results"])


async def receive(
    services: Node,
    origin: str,
    record_id: str,
    body: dict[str, Any],
    *,
    ts: int,
    type: str = "profile",
    received_at: int = 1,
) -> protocol.Record:
    """Store a record of another coop as replication does: signed by :data:`REMOTE_KEY`, chained after what the
    node holds of ``origin``, stored (and indexed) by the node's own federation store."""
    store = NodeFederationStore(services.db, services.config.name, services.clock, services.search_documents)
    seq, prev = (await store.heads()).get(origin, (0, None))
    entry = protocol.sign_entry(
        REMOTE_KEY,
        type=type,
        type_version=protocol.RECORD_TYPES[type].version,
        origin=origin,
        id=record_id,
        seq=seq + 1,
        created=ts,
        ts=ts,
        prev=prev,
        body=body,
    )
    record = protocol.Record(entry, protocol.check_body(entry))
    await store.store_run([record], received_at)
    return record
