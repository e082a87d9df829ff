"""Search benchmark: 100,000 replicated profiles, selective and broad queries, storage layer vs HTTP vs bare FTS.

Run: ``.venv/bin/python -m bench.search_bench [--profiles N] [--seconds S] [--warm] [--no-writes]``. Prints raw
numbers and ratios; asserts nothing (timings belong here, never in tests). ``--profiles 20000`` for quick iterations.

What is measured, in one run on one SQLite file:

* **index cost per replicated record**: deriving the documents of a profile (text, facet columns, tags with
  :mod:`node.search.documents`) and storing them (facet sets and FTS5 index included), per record, in
  transactions of 1,000 documents, next to the cost of inserting the same number of ``records`` rows (what
  replication pays anyway);
* **bare FTS**: ``SELECT rowid FROM search_fts WHERE search_fts MATCH ? ORDER BY rank LIMIT 20`` on a stdlib
  connection: the floor;
* **storage layer**: :func:`node.search.query.find` with facets (one statement: match, page, total,
  counts per facet value), as a member of another coop: *cold* (no counts kept: every call computes the match,
  the page, the total and every count) and *warm* (the counts of the same matched set kept from the previous call,
  as the node does on SQLite until the database changes: only the page is computed);
* **HTTP**: ``GET /api/v1/search`` on a real aiohttp server (a separate process), one client, then 50
  concurrent clients for queries/s; the ratio is to the bare FTS rate of the same query (one connection). By
  default the node keeps no counts (*cold*: every search computes its counts, as after any replicated write,
  which clears them); ``--warm`` lets it keep them (the same query is sent again and again, so it would answer
  from kept counts: a flattering figure, for information only).
* **replicated writes**: during every timed part, a thread stores one more replicated profile (its record and
  search documents, as replication does) every second, in its own transaction, so the figures are those of a
  node that receives updates (``--no-writes``: without). Targets: selective queries, HTTP one client p95 <= 15 ms
  and 50 clients >= 0.5x the bare FTS rate.

Bare and ours get the same query string (the same prefix MATCH expression) and return the same number of hits
(20); CPU-bound, so on a shared machine compare ratios of the same run rather than absolute times.

Selective queries: a trade and a town; two skills. Broad: two words each found in a quarter of the profiles or
more (the matched count is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import load_average, result
from node.demo.seed import FIRST_NAMES, LAST_NAMES, STAGES, TRADE_MIX, _idf_towns
from node.reference.vocabulary import load_trades
from node.search import index as search
from node.search import query as search_query
from node.search.documents import SearchDocuments
from node.search.query import Filters, Scope, find, query_words

ORIGINS = ("smart", "oxalis", "scopelec", "grenoble")
SELECTIVE = ("graphiste montreuil", "facilitation qualiopi")
BROAD = ("projets clients", "coopérative accompagnement")
COMMON = (("projets", 0.45), ("clients", 0.40), ("coopérative", 0.5), ("accompagnement", 0.35))


def profiles(count: int, rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    """(origin, id, body) of realistic profiles: trades by the demo's weights, Île-de-France towns, skills."""
    vocab = load_trades()
    towns = _idf_towns()
    town_places, town_weights = [p for p, _ in towns], [w for _, w in towns]
    codes, weights = list(TRADE_MIX), [w for w, _ in TRADE_MIX.values()]
    out = []
    for i in range(count):
        chosen = rng.choices(codes, weights=weights, k=rng.choice((1, 1, 2)))
        trades = [{"label": vocab.label(c, "fr"), "rome": c} for c in dict.fromkeys(chosen)]
        skills = rng.sample(TRADE_MIX[chosen[0]][1], k=min(3, len(TRADE_MIX[chosen[0]][1])))
        place = rng.choices(town_places, town_weights)[0]
        words = [w for w, share in COMMON if rng.random() < share]
        bio = f"{trades[0]['label']} à {place.town}. " + " ".join(words + rng.sample(skills, k=1))
        body: dict[str, Any] = {
            "availability": {"from": f"2027-0{rng.randint(1, 6)}-01", "status": "available"},
            "bio": bio,
            "display_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            "languages": ["fr", *(["en"] if rng.random() < 0.45 else [])],
            "place": place.as_record(),
            "public": ["display_name", "trades"],
            "skills": skills,
            "stage": rng.choice(STAGES),
            "trades": trades,
        }
        out.append((ORIGINS[i % len(ORIGINS)], f"p{i:07d}", body))
    return out


def documents_of(rows: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The search documents the node derives from these replicated profiles (text, facets, tags), as its
    replica does (with the shipped vocabulary)."""
    documents = SearchDocuments(load_trades())
    out: list[dict[str, Any]] = []
    for i, (origin, rid, body) in enumerate(rows):
        out += documents.received("profile", origin, rid, body, 1_800_000_000_000 + i)
    return out


def load(path: Path, rows: list[tuple[str, str, dict[str, Any]]]) -> dict[str, float]:
    """Insert the profiles as replicated records with their search documents (through the node's own
    :func:`node.search.index.store_documents`: facet sets and full-text index); seconds per phase."""
    from sqlalchemy import create_engine

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=NORMAL")
    t0 = time.perf_counter()
    conn.executemany(
        "INSERT INTO records (origin, record_id, type, seq, deleted, body, ts) VALUES (?, ?, 'profile', ?, 0, ?, ?)",
        [(o, rid, i + 1, json.dumps(b), 1_800_000_000_000 + i) for i, (o, rid, b) in enumerate(rows)],
    )
    conn.commit()
    conn.close()
    t_records = time.perf_counter() - t0
    t0 = time.perf_counter()
    documents = documents_of(rows)
    t_derive = time.perf_counter() - t0
    engine = create_engine(f"sqlite:///{path}")
    t0 = time.perf_counter()
    with engine.connect() as sa_conn:
        for start in range(0, len(documents), 1000):  # about the size of a replication page
            with sa_conn.begin():
                search.store_documents(sa_conn, documents[start : start + 1000])
        t_insert = time.perf_counter() - t0
        with sa_conn.begin():
            sa_conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return {"records": t_records, "derive": t_derive, "insert": t_insert, "documents": len(documents)}


class ReplicatedWrites:
    """A thread storing one more replicated profile every ``every`` seconds (its ``records`` row and its search
    documents, in one transaction, through the node's own :func:`node.search.index.store_documents`), while the
    block runs: what a node receiving updates does beside its searches. Each write clears kept counts."""

    def __init__(self, path: Path, every: float = 1.0) -> None:
        self.path, self.every = path, every
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replicated-writes", daemon=True)
        self._rng = random.Random(11)

    def __enter__(self) -> ReplicatedWrites:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(f"sqlite:///{self.path}", connect_args={"timeout": 15})
        try:
            with engine.connect() as conn:
                while not self._stop.wait(self.every):
                    n = self.written
                    (origin, _, body), *_ = profiles(1, self._rng)
                    rid = f"w{n:07d}"
                    with conn.begin():
                        conn.execute(
                            text(
                                "INSERT INTO records (origin, record_id, type, seq, deleted, body, ts) "
                                "VALUES (:o, :r, 'profile', :s, 0, :b, :t)"
                            ),
                            {"o": origin, "r": rid, "s": 10_000_000 + n, "b": json.dumps(body), "t": 1_900_000_000_000},
                        )
                        search.store_documents(conn, documents_of([(origin, rid, body)]))
                    self.written += 1
        finally:
            engine.dispose()


def timed(fn: Callable[[], Any], seconds: float, at_least: int = 30) -> list[float]:
    samples: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(samples) < at_least:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
        "rate": len(ordered) / sum(ordered),
    }


def serve(config_dir: str, port: int, ready: Any, cold: bool = False) -> None:
    """The node in its own process (no benchmark client on its event loop)."""
    import logging

    from aiohttp import web

    from node.search import query as search_query

    if cold:
        search_query.CACHE_SIZE = 0

    from node.app import create_app
    from node.config import load_config

    logging.disable(logging.INFO)
    app = create_app(load_config(Path(config_dir)))

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def http_bench(base: str, token: str, query: str, seconds: float, clients: int) -> tuple[list[float], float]:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base}/api/v1/search"
    samples: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        params = {"q": query}
        async with http.get(url, params=params) as warm:
            assert warm.status == 200, await warm.text()
            await warm.read()
        end = time.perf_counter() + seconds

        async def one() -> None:
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                async with http.get(url, params=params) as response:
                    await response.read()
                samples.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    return samples, len(samples) / elapsed


async def member_token(config_dir: Path) -> str:
    from node.compose import open_node
    from node.config import load_config

    services = await open_node(load_config(config_dir))
    try:
        await services.accounts.add_user(email="bench@example.org", display_name="Bench", password="bench password 1")
        result = await services.accounts.login("bench@example.org", "bench password 1", "bench")
        return str(result.token)
    finally:
        await services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warm", action="store_true", help="the node keeps counts between searches (flattering)")
    parser.add_argument("--no-writes", action="store_true", help="no replicated write every second")
    args = parser.parse_args()
    args.cold = not args.warm
    from node.config import create_node_dir, load_config

    with tempfile.TemporaryDirectory() as tmp:
        node_dir = create_node_dir(Path(tmp) / "node", name="coopaname", url="http://127.0.0.1:1", display_name="C")
        config_dir = Path(tmp) / "node"
        token = asyncio.run(member_token(config_dir))  # also migrates
        config = load_config(config_dir)
        db_path = Path(config.database.split("///", 1)[1])
        t0 = time.perf_counter()
        rows = profiles(args.profiles, random.Random(7))
        print(f"generated {len(rows)} profiles in {time.perf_counter() - t0:.1f} s")
        phases = load(db_path, rows)
        n = len(rows)
        print(
            f"index cost per replicated record: derive {phases['derive'] / n * 1e6:.1f} us + insert "
            f"{phases['insert'] / n * 1e6:.1f} us ({phases['documents']} documents, facet sets and FTS5 included); "
            f"records row alone {phases['records'] / n * 1e6:.1f} us"
        )
        del node_dir

        bare_conn = sqlite3.connect(db_path)
        from sqlalchemy import create_engine

        engine = create_engine(f"sqlite:///{db_path}")
        scope = Scope("coopaname", anonymous=False)
        cache_size = 0 if args.cold else search_query.CACHE_SIZE
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Event()
        port = 18000 + random.Random().randint(0, 999)
        server = ctx.Process(target=serve, args=(str(config_dir), port, ready, args.cold), daemon=True)
        server.start()
        ready.wait(60)
        base = f"http://127.0.0.1:{port}"
        print(f"load average before the queries: {load_average()}", flush=True)
        writes = contextlib.nullcontext() if args.no_writes else ReplicatedWrites(db_path)
        try:
            with writes, engine.connect() as conn:
                for kind, queries in (("selective", SELECTIVE), ("broad", BROAD)):
                    for q in queries:
                        words = query_words(q)
                        match = " AND ".join(f'"{w}"*' for w in words)
                        matched = bare_conn.execute(
                            "SELECT count(*) FROM search_fts WHERE search_fts MATCH ?", (match,)
                        ).fetchone()[0]

                        def bare(match: str = match) -> None:
                            bare_conn.execute(
                                "SELECT rowid FROM search_fts WHERE search_fts MATCH ? ORDER BY rank LIMIT 20", (match,)
                            ).fetchall()

                        def storage(words: list[str] = words) -> None:
                            found = find(conn, words, scope, Filters(), limit=20)
                            conn.rollback()  # a fresh snapshot for the next search (replicated writes land)
                            assert len(found.hits) == min(20, found.total)

                        b = summary(timed(bare, args.seconds))
                        search_query.CACHE_SIZE = 0
                        s = summary(timed(storage, args.seconds))
                        search_query.CACHE_SIZE = cache_size
                        w = summary(timed(storage, args.seconds)) if cache_size else s
                        one, _ = asyncio.run(http_bench(base, token, q, args.seconds, 1))
                        h = summary(one)
                        many, qps = asyncio.run(http_bench(base, token, q, args.seconds, 50))
                        m = summary(many)
                        print(
                            f"[{kind}] {q!r}: {matched} FTS rows ({matched / (2 * n):.0%} of documents)\n"
                            f"  bare FTS      median {b['median_ms']:.2f} ms  p95 {b['p95_ms']:.2f} ms  "
                            f"{b['rate']:.0f} q/s (one connection)\n"
                            f"  storage+facets cold median {s['median_ms']:.2f} ms  p95 {s['p95_ms']:.2f} ms  "
                            f"(p95 {s['p95_ms'] / b['p95_ms']:.2f}x bare, "
                            f"median {s['median_ms'] / b['median_ms']:.2f}x)\n"
                            + (
                                f"  storage+facets warm median {w['median_ms']:.2f} ms  p95 {w['p95_ms']:.2f} ms  "
                                f"(p95 {w['p95_ms'] / b['p95_ms']:.2f}x bare, "
                                f"median {w['median_ms'] / b['median_ms']:.2f}x)\n"
                                if cache_size
                                else ""
                            )
                            + f"  HTTP 1 client{' (cold)' if args.cold else ''} median {h['median_ms']:.2f} ms  "
                            f"p95 {h['p95_ms']:.2f} ms  (p95 {h['p95_ms'] / b['p95_ms']:.2f}x bare)\n"
                            f"  HTTP 50 clients {qps:.0f} q/s (median {m['median_ms']:.1f} ms, "
                            f"p95 {m['p95_ms']:.1f} ms)"
                            f"  ratio to bare rate {qps / b['rate']:.2f}\n"
                            f"  load average {load_average()}"
                        )
                        if kind == "selective":
                            mode = "cold" if args.cold else "warm (kept counts)"
                            writing = "" if args.no_writes else ", a replicated write every second"
                            result(
                                "search_bench",
                                f"selective search {q!r} over HTTP, one client p95 ({mode}{writing})",
                                f"{h['p95_ms']:.1f} ms",
                                "<= 15 ms",
                                h["p95_ms"] <= 15,
                            )
                            result(
                                "search_bench",
                                f"selective search {q!r} over HTTP, 50 clients / bare FTS rate ({mode}{writing})",
                                f"{qps / b['rate']:.2f} ({qps:.0f} q/s)",
                                ">= 0.5",
                                qps / b["rate"] >= 0.5,
                            )
                        else:
                            result(
                                "search_bench",
                                f"broad search {q!r}, storage layer with counts / bare FTS, p95",
                                f"{s['p95_ms'] / b['p95_ms']:.2f}x",
                                "<= 2x",
                                s["p95_ms"] / b["p95_ms"] <= 2,
                            )
        finally:
            server.terminate()
            server.join(5)
            bare_conn.close()
            engine.dispose()


if __name__ == "__main__":
    main()
