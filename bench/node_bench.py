"""Node benchmark: profile updates per second, as ratios to bare baselines measured in the same run.

1. Through the API (auth, validation, storage, search index, signing and outbox included): PATCH
   /api/v1/me/profile by concurrent clients, against a bare aiohttp JSON endpoint under the same load.
   Target ratio >= 0.15. The same load of POST /api/v1/offers (offer creation) is reported beside it. The load
   generator runs in its own process (a client sharing the server's event loop would take the server's CPU and
   flatter neither side the same way).
2. Through the storage layer (the directory service: validation, signing, entries, records, search, outbox;
   one transaction per update), against bare ``sqlite3`` writing the same rows (the very rows the node wrote:
   entries byte for byte, the same record bodies, search documents and outbox items) in one transaction per
   update into the same schema, with the same pragmas. Target ratio >= 0.4.
3. With ``--postgres USER@HOST:PORT`` (``make bench`` passes the local server when it answers): the same storage
   layer updates on PostgreSQL (a fresh database, dropped at the end), against the SQLite ones of this run.
   Target ratio >= 0.6.

Run: ``.venv/bin/python -m bench.node_bench [--seconds S] [--postgres postgres@127.0.0.1:5432]``. Prints raw
numbers and ratios with the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import multiprocessing
import secrets
import socket
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import aiohttp
from aiohttp import web
from sqlalchemy import create_engine, select

import protocol
from bench.common import load_average, result
from node.app import create_app
from node.compose import Node, NodeOptions, open_node
from node.config import create_node_dir
from node.http.state import NODE_KEY
from node.records.log import jsonable
from node.search import index as search
from node.services import profiles
from node.services.passwords import PasswordHasher
from node.storage.models import LogEntry, MemberProfile, OutboxItem

WORKERS = 16
PEERS = ("smart", "oxalis")


def two_peers(_session: object) -> list[str]:
    return list(PEERS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _load(
    url: str, make_request: Callable[[aiohttp.ClientSession, int, int], Awaitable[None]], seconds: float
) -> float:
    """Requests per second from WORKERS concurrent clients over ``seconds`` (in the load generator's process)."""
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


def _load_process(url: str, kind: str, tokens: list[str], seconds: float, out: Any) -> None:
    """The load generator's process: ``kind`` of requests (bare, profile, offer) against ``url``; sends the rate."""

    async def bare_request(session: aiohttp.ClientSession, w: int, i: int) -> None:
        async with session.patch("/api/v1/me/profile", json={"fields": {"bio": f"bio {w} {i}"}}) as resp:
            await resp.read()

    async def node_request(session: aiohttp.ClientSession, w: int, i: int) -> None:
        async with session.patch(
            "/api/v1/me/profile", json=_update(i), headers={"Authorization": f"Bearer {tokens[w]}"}
        ) as resp:
            if resp.status != 200:
                raise RuntimeError(f"{resp.status}: {await resp.text()}")
            await resp.read()

    async def offer_request(session: aiohttp.ClientSession, w: int, i: int) -> None:
        async with session.post(
            "/api/v1/offers", json=_offer(w, i), headers={"Authorization": f"Bearer {tokens[w]}"}
        ) as resp:
            if resp.status != 201:
                raise RuntimeError(f"{resp.status}: {await resp.text()}")
            await resp.read()

    requests = {"bare": bare_request, "profile": node_request, "offer": offer_request}
    out.send(asyncio.run(_load(url, requests[kind], seconds)))
    out.close()


async def _load_elsewhere(url: str, kind: str, tokens: list[str], seconds: float) -> float:
    """Run the load generator in a separate process while this process's event loop serves the requests."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_load_process, args=(url, kind, tokens, seconds, send), daemon=True)
    child.start()
    send.close()
    try:
        while not receive.poll():
            if not child.is_alive():
                raise RuntimeError(f"the load generator exited ({child.exitcode}) without a result")
            await asyncio.sleep(0.05)
        return float(receive.recv())
    finally:
        await asyncio.to_thread(child.join, 30)


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def bench_api(tmp: Path, seconds: float) -> tuple[float, float, float]:
    async def bare(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"ok": True, "fields": body.get("fields")})

    bare_app = web.Application()
    bare_app.router.add_patch("/api/v1/me/profile", bare)
    runner, url = await _serve(bare_app)
    bare_rate = await _load_elsewhere(url, "bare", [], seconds)
    await runner.cleanup()

    config = create_node_dir(tmp / "api", name="coopaname", url="http://127.0.0.1:1")
    # a benchmark writes far faster than people: the rate limits (tested apart) must not be what it measures
    unlimited = {"account": "1000000/minute", "address": "1000000/minute"}
    config = dataclasses.replace(config, rate_limit_writes=unlimited)
    app = create_app(
        config, options=NodeOptions(hasher=PasswordHasher(memory_kib=256, time_cost=1), outbox_peers=two_peers)
    )
    runner, url = await _serve(app)
    tokens = []
    services = app[NODE_KEY]
    for w in range(WORKERS):
        await services.accounts.add_user(email=f"w{w}@example.org", password="benchmark password")
        result = await services.accounts.login(f"w{w}@example.org", "benchmark password", f"10.0.0.{w}")
        tokens.append(result.token)

    node_rate = await _load_elsewhere(url, "profile", tokens, seconds)
    offer_rate = await _load_elsewhere(url, "offer", tokens, seconds)
    await runner.cleanup()
    return node_rate, offer_rate, bare_rate


def _offer(w: int, i: int) -> dict[str, Any]:
    return {
        "purpose": "offer",
        "title": f"Menuiserie sur mesure {w}-{i}",
        "note": "Agencement, escaliers, petites séries",
        "trades": ["H2206"],
        "place": "Montreuil",
        "effort_days": 5,
        "reciprocity": "paid",
        "visibility": "public",
    }


def _update(i: int) -> dict[str, Any]:
    return {
        "fields": {"bio": f"Menuisière à Montreuil, mise à jour {i}", "trades": ["H2206"]},
        "visibility": {"bio": "network", "trades": "public"},
    }


async def _storage_updates(config: Any, count: int) -> tuple[float, Node]:
    """Profile updates per second through the directory service of the node of ``config`` (left open)."""
    services = await open_node(
        config, NodeOptions(hasher=PasswordHasher(memory_kib=256, time_cost=1), outbox_peers=two_peers)
    )
    await services.accounts.add_user(email="s@example.org", password="benchmark password")
    login = await services.accounts.login("s@example.org", "benchmark password", "bench")
    viewer = await services.accounts.authenticate(login.token)
    assert viewer is not None
    start = time.perf_counter()
    for i in range(count):
        await services.directory.update_my_profile(viewer, _update(i), replace=False)
    return count / (time.perf_counter() - start), services


async def bench_storage_pg(tmp: Path, count: int, server: str) -> float:
    """The same storage-layer updates on a fresh PostgreSQL database (dropped at the end)."""
    import asyncpg

    name = f"bigre_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(f"postgresql://{server}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        config = create_node_dir(
            tmp / name,
            name="coopaname",
            url="http://127.0.0.1:1",
            database_url=f"postgresql+asyncpg://{server}/{name}",
        )
        rate, services = await _storage_updates(config, count)
        await services.close()
        return rate
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def bench_storage(tmp: Path, count: int) -> tuple[float, float]:
    config = create_node_dir(tmp / "storage", name="coopaname", url="http://127.0.0.1:1")
    node_rate, services = await _storage_updates(config, count)
    rows = await _rows_written(services, count)
    await services.close()

    # The same rows (byte for byte, as the node wrote them), written by bare sqlite3 into the same schema (a fresh
    # node database), with the same commit policy: one BEGIN IMMEDIATE ... COMMIT per update.
    bare_config = create_node_dir(tmp / "bare", name="coopaname", url="http://127.0.0.1:1")
    services = await open_node(bare_config, NodeOptions(hasher=PasswordHasher(memory_kib=256, time_cost=1)))
    await services.accounts.add_user(email="s@example.org", password="benchmark password")
    await services.close()
    bare_file = bare_config.database.split("///", 1)[1]
    plans = _document_plans(bare_file, [row[4] for row in rows])  # facet sets made before timing
    conn = sqlite3.connect(bare_file, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    ids: dict[str, int] = {}  # audience -> id of the record's document, as the node numbers them
    start = time.perf_counter()
    for (profile, entry, record, head, _, outbox), (in_place, replaced, gone) in zip(rows, plans, strict=True):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE member_profiles SET data=?, visibility=?, updated_at=? WHERE account_id=1", profile)
        conn.execute("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", entry)
        conn.execute(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (origin, record_id) DO UPDATE "
            "SET type=excluded.type, seq=excluded.seq, deleted=excluded.deleted, body=excluded.body, ts=excluded.ts",
            record,
        )
        conn.execute("UPDATE log_heads SET seq=?, hash=? WHERE origin='coopaname'", head)
        # as search.replace_documents: an unchanged text is updated in place, a changed one replaced
        for audience, values in in_place:
            conn.execute(f"UPDATE search_documents SET {IN_PLACE_SET} WHERE id = ?", (*values, ids[audience]))
        for audience in gone:
            conn.execute("DELETE FROM search_documents WHERE id = ?", (ids.pop(audience),))
        if replaced:
            last = conn.execute("SELECT COALESCE(max(id), 0) FROM search_documents").fetchone()[0]
            numbered = []
            for i, (audience, document) in enumerate(replaced, last + 1):
                ids[audience] = i
                numbered.append((i, *document[:4], "", *document[5:]))
            conn.executemany(
                f"INSERT INTO search_documents (id, {DOCUMENT_COLUMNS}) VALUES (?, {DOCUMENT_MARKS})", numbered
            )
            conn.executemany(
                "INSERT INTO search_fts(rowid, content) VALUES (?, ?)",
                [(n[0], d[4]) for n, (_, d) in zip(numbered, replaced, strict=True)],
            )
        for item in outbox:
            conn.execute(
                "INSERT INTO outbox (peer, kind, origin, seq, attempts, next_attempt_at, created_at) "
                "VALUES (?, 'entry', 'coopaname', ?, 0, ?, ?)",
                item,
            )
        conn.execute("COMMIT")
    bare_rate = count / (time.perf_counter() - start)
    conn.close()
    return node_rate, bare_rate


Rows = tuple[
    tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], list[dict[str, Any]], list[tuple[Any, ...]]
]


DOCUMENT_FIELDS: Final = (
    "kind", "origin", "record_id", "audience", "content", "departement", "town", "lat_e6", "lon_e6", "stage",
    "status", "avail_from", "avail_until", "ts", "colset", "tagset",
)  # fmt: skip
DOCUMENT_COLUMNS: Final = ", ".join(DOCUMENT_FIELDS)
DOCUMENT_MARKS: Final = ", ".join("?" for _ in DOCUMENT_FIELDS)


IN_PLACE_FIELDS: Final = (
    "departement", "town", "lat_e6", "lon_e6", "stage", "status", "avail_from", "avail_until", "ts", "colset", "tagset",
)  # fmt: skip
IN_PLACE_SET: Final = ", ".join(f"{f} = ?" for f in IN_PLACE_FIELDS)
Plan = tuple[list[tuple[str, tuple[Any, ...]]], list[tuple[str, tuple[Any, ...]]], list[str]]


def _document_plans(db_file: str, updates: list[list[dict[str, Any]]]) -> list[Plan]:
    """Per update, what the node does to the record's search documents, against the previous update's: (unchanged
    texts updated in place, replaced or new documents, audiences gone). Facet sets are named in the bare database
    first, by the node's own :func:`node.search.index.name_sets` (each set is made once)."""
    engine = create_engine(f"sqlite:///{db_file}")
    with engine.begin() as conn:
        named = search.name_sets(conn, [d for documents in updates for d in documents])
    engine.dispose()
    plans: list[Plan] = []
    held: dict[str, dict[str, Any]] = {}
    rows = iter(named)
    for documents in updates:
        in_place: list[tuple[str, tuple[Any, ...]]] = []
        replaced: list[tuple[str, tuple[Any, ...]]] = []
        now: dict[str, dict[str, Any]] = {}
        for row in (next(rows) for _ in documents):
            audience = row["audience"]
            before = held.get(audience)
            if before is not None and before["content"] == row["content"] and before["kind"] == row["kind"]:
                in_place.append((audience, tuple(row.get(f) for f in IN_PLACE_FIELDS)))
            else:
                replaced.append((audience, tuple(row.get(f) for f in DOCUMENT_FIELDS)))
            now[audience] = row
        gone = [a for a in held if a not in now] + [a for a, _ in replaced if a in held]
        plans.append((in_place, replaced, gone))
        held = now
    return plans


async def _rows_written(services: Node, count: int) -> list[Rows]:
    """What the node wrote for each of the ``count`` updates, as rows: the profile, the entry, the record state,
    the log head, the search documents and the outbox items. Entries are read back from the node's database; the
    rest is rebuilt from them with the node's own functions (before any timing)."""
    async with services.db.read() as session:
        profile = (await session.scalars(select(MemberProfile))).one()
        entries = (await session.scalars(select(LogEntry).order_by(LogEntry.seq))).all()
        outbox = (await session.execute(select(OutboxItem.peer, OutboxItem.seq))).all()
    assert len(entries) == count, f"expected one entry per update, found {len(entries)}"
    peers_of: dict[int, list[str]] = {}
    for peer, seq in outbox:
        peers_of.setdefault(seq, []).append(peer)
    visibility = profile.visibility
    rows: list[Rows] = []
    for i, e in enumerate(entries):
        data = {**profile.data, "bio": _update(i)["fields"]["bio"]}
        body = jsonable(protocol.decode(e.body)) if e.body is not None else None
        rows.append(
            (
                (json.dumps(data), json.dumps(visibility), e.received_at),
                (e.origin, e.seq, e.record_id, e.type, e.hash, e.header, e.body, e.signature, e.ts, e.received_at),
                (e.origin, e.record_id, e.type, e.seq, 0, json.dumps(body), e.ts),
                (e.seq, e.hash),
                services.search_documents.own(
                    "profile", e.origin, e.record_id, profiles.search_bodies(data, visibility), e.ts
                ),
                [(peer, e.seq, e.received_at, e.received_at) for peer in peers_of.get(e.seq, ())],
            )
        )
    return rows


async def main_async(seconds: float, count: int, postgres: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bigre-bench-") as tmp:
        print(f"load average before: {load_average()}", flush=True)
        api_rate, offer_rate, bare_http = await bench_api(Path(tmp), seconds)
        print(f"load average after the API part: {load_average()}", flush=True)
        pg_before = await bench_storage_pg(Path(tmp), count, postgres) if postgres else None
        storage_rate, bare_sql = await bench_storage(Path(tmp), count)
        pg_after = await bench_storage_pg(Path(tmp), count, postgres) if postgres else None
        print(f"load average after the storage part: {load_average()}", flush=True)
    out: dict[str, Any] = {
        "api_updates_per_s": round(api_rate, 1),
        "bare_aiohttp_per_s": round(bare_http, 1),
        "api_ratio": round(api_rate / bare_http, 3),
        "api_offers_per_s": round(offer_rate, 1),
        "api_offers_ratio": round(offer_rate / bare_http, 3),
        "api_target": 0.15,
        "storage_updates_per_s": round(storage_rate, 1),
        "bare_sqlite_updates_per_s": round(bare_sql, 1),
        "storage_ratio": round(storage_rate / bare_sql, 3),
        "storage_target": 0.4,
    }
    if pg_before is not None and pg_after is not None:
        pg = (pg_before + pg_after) / 2  # measured before and after the SQLite run: their mean counts
        out |= {
            "postgres_updates_per_s": [round(pg_before, 1), round(pg_after, 1)],
            "postgres_ratio": round(pg / storage_rate, 3),
            "postgres_target": 0.6,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each HTTP load (default 8)")
    parser.add_argument("--count", type=int, default=2000, help="storage-layer updates (default 2000)")
    parser.add_argument("--postgres", metavar="USER@HOST:PORT", help="also the storage layer on this PostgreSQL")
    args = parser.parse_args()
    out = asyncio.run(main_async(args.seconds, args.count, args.postgres))
    api_ok, storage_ok = out["api_ratio"] >= out["api_target"], out["storage_ratio"] >= out["storage_target"]
    print(
        f"API:     {out['api_updates_per_s']} profile updates/s vs bare aiohttp {out['bare_aiohttp_per_s']}/s"
        f" -> ratio {out['api_ratio']} (target >= {out['api_target']}) {'ok' if api_ok else 'BELOW TARGET'}"
    )
    print(f"API:     {out['api_offers_per_s']} offer creations/s -> ratio {out['api_offers_ratio']}")
    print(
        f"storage: {out['storage_updates_per_s']} updates/s vs bare sqlite3 {out['bare_sqlite_updates_per_s']}"
        f"/s -> ratio {out['storage_ratio']} (target >= {out['storage_target']}) "
        f"{'ok' if storage_ok else 'BELOW TARGET'}"
    )
    result(
        "node_bench",
        "profile updates through the API / bare aiohttp (load generator in its own process)",
        f"{out['api_ratio']:.3f} ({out['api_updates_per_s']}/s)",
        ">= 0.15",
        api_ok,
    )
    result(
        "node_bench",
        "profile updates through the storage layer / bare sqlite3 of the same rows",
        f"{out['storage_ratio']:.3f} ({out['storage_updates_per_s']}/s)",
        ">= 0.4",
        storage_ok,
    )
    if "postgres_ratio" in out:
        pg_ok = out["postgres_ratio"] >= out["postgres_target"]
        print(
            f"postgres: {out['postgres_updates_per_s']} updates/s (before / after the SQLite run) -> ratio to SQLite"
            f" {out['postgres_ratio']} (target >= {out['postgres_target']}) {'ok' if pg_ok else 'BELOW TARGET'}"
        )
        result(
            "node_bench",
            "profile updates, storage layer: PostgreSQL / SQLite",
            f"{out['postgres_ratio']:.3f}",
            ">= 0.6",
            pg_ok,
        )
    print(f"load average: {load_average()}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
