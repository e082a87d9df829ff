"""Erasure benchmark: what making erased text leave the files costs, as ratios measured in the same run.

1. ``secure_delete``: N updates and deletes of 1 KB rows in a WAL database (one transaction each, the node's
   pragmas), with ``secure_delete`` on against off. The ratio on/off is the write cost the node pays for deleted
   content being overwritten with zeros.
2. The purge after an erasure: an FTS5 ``optimize`` (merge into one segment) plus ``wal_checkpoint(TRUNCATE)``
   on an index of N documents written one transaction each (as a node indexes its records), against the time
   those N documents took to index. The ratio says how many "indexing times" one purge costs.

Run: ``.venv/bin/python -m bench.erasure_bench [--rows 5000]``. Prints raw numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=15000")
WORDS = [
    "menuisier",
    "ébéniste",
    "couvreur",
    "zinguerie",
    "reliure",
    "tapissière",
    "doreuse",
    "ferronnier",
    "vitrail",
    "charpente",
]


def text(rng: random.Random, size: int) -> str:
    out: list[str] = []
    while sum(len(w) + 1 for w in out) < size:
        out.append(rng.choice(WORDS) + str(rng.randrange(10_000)))
    return " ".join(out)


def connect(path: Path, secure: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.execute(f"PRAGMA secure_delete={'ON' if secure else 'OFF'}")
    return conn


def writes(path: Path, rows: int, secure: bool) -> float:
    rng = random.Random(7)
    conn = connect(path, secure)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    for i in range(rows):
        conn.execute("INSERT INTO t VALUES (?, ?)", (i, text(rng, 1000)))
    start = time.perf_counter()
    for i in range(rows):
        conn.execute("BEGIN IMMEDIATE")
        if i % 2:
            conn.execute("DELETE FROM t WHERE id = ?", (i,))
        else:
            conn.execute("UPDATE t SET body = ? WHERE id = ?", (text(rng, 600), i))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def purge(path: Path, rows: int) -> tuple[float, float]:
    rng = random.Random(11)
    conn = connect(path, True)
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(content, tokenize='unicode61 remove_diacritics 2')")
    start = time.perf_counter()
    for i in range(rows):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO f(rowid, content) VALUES (?, ?)", (i, text(rng, 400)))
        conn.execute("COMMIT")
    indexed = time.perf_counter() - start
    for i in range(0, rows, 50):  # some documents deleted, as erasures and updates do
        conn.execute("DELETE FROM f WHERE rowid = ?", (i,))
    start = time.perf_counter()
    conn.execute("INSERT INTO f(f) VALUES ('optimize')")
    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    purged = time.perf_counter() - start
    assert busy == 0
    conn.close()
    return indexed, purged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        off1 = writes(root / "off1.db", args.rows, False)
        on = writes(root / "on.db", args.rows, True)
        off2 = writes(root / "off2.db", args.rows, False)
        off = (off1 + off2) / 2
        print(f"secure_delete: {args.rows} updates/deletes of 1 KB rows, one transaction each")
        print(f"  off {args.rows / off:,.0f}/s (mean of {off1:.2f} s and {off2:.2f} s), on {args.rows / on:,.0f}/s")
        print(f"  ratio on/off (throughput): {off / on:.2f}")
        indexed, purged = purge(root / "fts.db", args.rows)
        print(f"purge: FTS5 optimize + WAL truncate on {args.rows} documents: {purged * 1000:.0f} ms")
        print(f"  indexing them took {indexed * 1000:.0f} ms; ratio purge/indexing: {purged / indexed:.2f}")
        print(f"  database {os.path.getsize(root / 'fts.db') / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
