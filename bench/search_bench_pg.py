"""Search benchmark on PostgreSQL: the same profiles and queries as ``bench/search_bench.py``, storage layer only.

Run: ``.venv/bin/python -m bench.search_bench_pg [--profiles N] [--seconds S] [--server user@host:port]``. A fresh
database is created on the server (default ``postgres@127.0.0.1:5432``, as the tests use) and dropped at the end.

Bare: the ranked tsvector match alone, ``SELECT id FROM search_documents, to_tsquery('simple', ...) q WHERE tsv @@
q ORDER BY ts_rank(tsv, q) DESC LIMIT 20`` on a plain asyncpg connection. Ours: :func:`node.search.query.find`
with every facet count (PostgreSQL keeps no counts between searches: every call is "cold"), as a member of another
coop. Same words (prefix matches), same 20 hits. Prints raw numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import time
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from bench.search_bench import BROAD, SELECTIVE, documents_of, profiles, summary
from node.search import index as search
from node.search.query import Filters, Scope, find, query_words
from node.storage.database import Database


async def run(server: str, count: int, seconds: float) -> None:
    name = f"bigre_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(f"postgresql://{server}/test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://{server}/{name}"
    try:
        db = Database.open(url)
        await db.migrate()
        await db.close()
        documents = documents_of(profiles(count, random.Random(7)))
        engine = create_async_engine(url)
        t0 = time.perf_counter()
        async with engine.connect() as conn:
            for start in range(0, len(documents), 1000):
                await conn.run_sync(search.store_documents, documents[start : start + 1000])
                await conn.commit()
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()
        print(f"stored {len(documents)} documents of {count} profiles in {time.perf_counter() - t0:.1f} s")
        bare = await asyncpg.connect(f"postgresql://{server}/{name}")
        scope = Scope("coopaname", anonymous=False)
        async with engine.connect() as conn:
            for kind, queries in (("selective", SELECTIVE), ("broad", BROAD)):
                for q in queries:
                    words = query_words(q)
                    tsquery = " & ".join(f"{w}:*" for w in words)
                    matched = await bare.fetchval(
                        "SELECT count(*) FROM search_documents WHERE tsv @@ to_tsquery('simple', $1)", tsquery
                    )

                    async def bare_query(tsquery: str = tsquery) -> None:
                        await bare.fetch(
                            "SELECT id FROM search_documents, to_tsquery('simple', $1) q WHERE tsv @@ q "
                            "ORDER BY ts_rank(tsv, q) DESC LIMIT 20",
                            tsquery,
                        )

                    async def ours(words: list[str] = words) -> None:
                        found = await conn.run_sync(find, words, scope, Filters(), limit=20)
                        assert len(found.hits) == min(20, found.total)

                    b = summary(await timed_async(bare_query, seconds))
                    s = summary(await timed_async(ours, seconds))
                    print(
                        f"[{kind}] {q!r}: {matched} matching documents\n"
                        f"  bare tsvector  median {b['median_ms']:.2f} ms  p95 {b['p95_ms']:.2f} ms\n"
                        f"  storage+facets median {s['median_ms']:.2f} ms  p95 {s['p95_ms']:.2f} ms  "
                        f"(p95 {s['p95_ms'] / b['p95_ms']:.2f}x bare, median {s['median_ms'] / b['median_ms']:.2f}x)"
                    )
        await bare.close()
        await engine.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def timed_async(fn: Any, seconds: float, at_least: int = 20) -> list[float]:
    samples: list[float] = []
    await fn()  # warm
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(samples) < at_least:
        t0 = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t0)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--server", default="postgres@127.0.0.1:5432")
    args = parser.parse_args()
    asyncio.run(run(args.server, args.profiles, args.seconds))


if __name__ == "__main__":
    main()
