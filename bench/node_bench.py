"""Node benchmark: profile updates per second, as ratios to bare baselines measured in the same run.

1. Through the API (auth, validation, storage, search index, signing and outbox included): PATCH
   /api/v1/me/profile by concurrent clients, against a bare aiohttp JSON endpoint under the same load.
   Target ratio >= 0.1.
2. Through the storage layer (the directory service: validation, signing, entries, records, search, outbox;
   one transaction per update), against bare ``sqlite3`` writing the same rows in one transaction per update
   into the same schema. Target ratio >= 0.3.

Run: ``.venv/bin/python -m bench.node_bench [--seconds S]``. Prints raw numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from node.app import NodeOptions, create_app, open_services
from node.config import create_node_dir
from node.context import SERVICES_KEY
from node.services.accounts import PasswordHasher

WORKERS = 16
PEERS = ("smart", "oxalis")


async def two_peers(_session: AsyncSession) -> list[str]:
    return list(PEERS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _load(
    url: str, make_request: Callable[[aiohttp.ClientSession, int, int], Awaitable[None]], seconds: float
) -> float:
    """Requests per second from WORKERS concurrent clients over ``seconds``."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession, w: int) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < deadline:
            await make_request(session, w, i)
            i += 1
            done += 1

    connector = aiohttp.TCPConnector(limit=WORKERS)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session, w) for w in range(WORKERS)))
        return done / (time.perf_counter() - start)


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def bench_api(tmp: Path, seconds: float) -> tuple[float, float]:
    async def bare(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"ok": True, "fields": body.get("fields")})

    bare_app = web.Application()
    bare_app.router.add_patch("/api/v1/me/profile", bare)
    runner, url = await _serve(bare_app)

    async def bare_request(session: aiohttp.ClientSession, w: int, i: int) -> None:
        async with session.patch("/api/v1/me/profile", json={"fields": {"bio": f"bio {w} {i}"}}) as resp:
            await resp.read()

    bare_rate = await _load(url, bare_request, seconds)
    await runner.cleanup()

    config = create_node_dir(tmp / "api", name="coopaname", url="http://127.0.0.1:1")
    app = create_app(config, options=NodeOptions(hasher=PasswordHasher(n=2**10), outbox_peers=two_peers))
    runner, url = await _serve(app)
    tokens = []
    services = app[SERVICES_KEY]
    for w in range(WORKERS):
        await services.accounts.add_user(email=f"w{w}@example.org", password="benchmark password")
        result = await services.accounts.login(f"w{w}@example.org", "benchmark password", f"10.0.0.{w}")
        tokens.append(result.token)

    async def node_request(session: aiohttp.ClientSession, w: int, i: int) -> None:
        payload = {
            "fields": {"bio": f"Menuisière à Montreuil, mise à jour {i}", "trades": ["H2206"]},
            "visibility": {"bio": "network", "trades": "public"},
        }
        async with session.patch(
            "/api/v1/me/profile", json=payload, headers={"Authorization": f"Bearer {tokens[w]}"}
        ) as resp:
            if resp.status != 200:
                raise RuntimeError(f"{resp.status}: {await resp.text()}")
            await resp.read()

    node_rate = await _load(url, node_request, seconds)
    await runner.cleanup()
    return node_rate, bare_rate


async def bench_storage(tmp: Path, count: int) -> tuple[float, float]:
    config = create_node_dir(tmp / "storage", name="coopaname", url="http://127.0.0.1:1")
    services = await open_services(config, NodeOptions(hasher=PasswordHasher(n=2**10), outbox_peers=two_peers))
    await services.accounts.add_user(email="s@example.org", password="benchmark password")
    login = await services.accounts.login("s@example.org", "benchmark password", "bench")
    viewer = await services.accounts.authenticate(login.token)
    assert viewer is not None
    start = time.perf_counter()
    for i in range(count):
        await services.directory.update_my_profile(
            viewer,
            {
                "fields": {"bio": f"Menuisière à Montreuil, mise à jour {i}", "trades": ["H2206"]},
                "visibility": {"bio": "network", "trades": "public"},
            },
            replace=False,
        )
    node_rate = count / (time.perf_counter() - start)
    await services.db.close()

    # the same rows, written by bare sqlite3 into the same schema (a fresh node database), one commit each
    bare_config = create_node_dir(tmp / "bare", name="coopaname", url="http://127.0.0.1:1")
    services = await open_services(bare_config, NodeOptions(hasher=PasswordHasher(n=2**10)))
    await services.accounts.add_user(email="s@example.org", password="benchmark password")
    await services.db.close()
    conn = sqlite3.connect(bare_config.database_url.split("///", 1)[1], isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    header, signature, body_bytes = os.urandom(200), os.urandom(64), os.urandom(150)
    start = time.perf_counter()
    for i in range(count):
        seq = i + 1
        data = json.dumps(
            {
                "display_name": "s",
                "bio": f"Menuisière à Montreuil, mise à jour {i}",
                "trades": [{"rome": "H2206", "label": "Menuisier"}],
            }
        )
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE member_profiles SET data=?, visibility=?, updated_at=? WHERE account_id=1",
            (data, '{"bio": "network"}', i),
        )
        conn.execute(
            "INSERT INTO entries VALUES ('coopaname', ?, 'rec', 'profile', ?, ?, ?, ?, ?, ?)",
            (seq, hashlib.sha256(header).digest(), header, body_bytes, signature, i, i),
        )
        conn.execute(
            "INSERT INTO records VALUES ('coopaname', 'rec', 'profile', ?, 0, ?, ?) ON CONFLICT "
            "(origin, record_id) DO UPDATE SET seq=excluded.seq, body=excluded.body, ts=excluded.ts",
            (seq, data, i),
        )
        conn.execute("UPDATE log_heads SET seq=?, hash=? WHERE origin='coopaname'", (seq, os.urandom(32)))
        conn.execute("DELETE FROM search_documents WHERE origin='coopaname' AND record_id='rec'")
        for audience in ("public", "network", "coop"):
            conn.execute(
                "INSERT INTO search_documents (kind, origin, record_id, audience, content) "
                "VALUES ('profile', 'coopaname', 'rec', ?, ?)",
                (audience, f"menuisiere montreuil {i}"),
            )
        for peer in PEERS:
            conn.execute(
                "INSERT INTO outbox (peer, kind, origin, seq, attempts, next_attempt_at, created_at) "
                "VALUES (?, 'entry', 'coopaname', ?, 0, ?, ?)",
                (peer, seq, i, i),
            )
        conn.execute("COMMIT")
    bare_rate = count / (time.perf_counter() - start)
    conn.close()
    return node_rate, bare_rate


async def main_async(seconds: float, count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bigre-bench-") as tmp:
        api_rate, bare_http = await bench_api(Path(tmp), seconds)
        storage_rate, bare_sql = await bench_storage(Path(tmp), count)
    return {
        "api_updates_per_s": round(api_rate, 1),
        "bare_aiohttp_per_s": round(bare_http, 1),
        "api_ratio": round(api_rate / bare_http, 3),
        "api_target": 0.1,
        "storage_updates_per_s": round(storage_rate, 1),
        "bare_sqlite_updates_per_s": round(bare_sql, 1),
        "storage_ratio": round(storage_rate / bare_sql, 3),
        "storage_target": 0.3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each HTTP load (default 5)")
    parser.add_argument("--count", type=int, default=2000, help="storage-layer updates (default 2000)")
    args = parser.parse_args()
    result = asyncio.run(main_async(args.seconds, args.count))
    print(
        f"API:     {result['api_updates_per_s']} profile updates/s vs bare aiohttp {result['bare_aiohttp_per_s']}/s"
        f" -> ratio {result['api_ratio']} (target >= {result['api_target']})"
    )
    print(
        f"storage: {result['storage_updates_per_s']} updates/s vs bare sqlite3 {result['bare_sqlite_updates_per_s']}"
        f"/s -> ratio {result['storage_ratio']} (target >= {result['storage_target']})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
