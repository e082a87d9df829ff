"""Workers benchmark: API reads and writes of one node on PostgreSQL served by 1, 2 and 4 worker processes.

The same node folder (a fresh PostgreSQL database, seeded with members and offers) is served in turn by ``bigre
serve`` (one process) and ``bigre serve --workers N``; for each, a load generator in its own process (its own
interpreter, so it shares no event loop or GIL with the node) runs CONCURRENCY clients for ``--seconds``:

* reads: ``GET /api/v1/search`` with a different query per request (trade words and places, cold counts);
* writes: ``PATCH /api/v1/me/profile`` (validation, signing, entries, records, search index, outbox for two
  peers, in one transaction per update).

Each figure is printed with its ratio to the one-worker figure of the same run and the load average; the
machine's core count bounds what more workers can give (on 2 cores, the load generator takes part of one).

Run: ``.venv/bin/python -m bench.workers_bench [--seconds S] [--workers 1,2,4]``. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Final

import aiohttp
import asyncpg

from node.compose import NodeOptions, open_node
from node.config import create_node_dir
from node.services.passwords import PasswordHasher

PG_ADMIN: Final = "postgresql://postgres@127.0.0.1:5432/test"
CONCURRENCY: Final = 32
MEMBERS: Final = 64
QUERIES: Final = ("menuiserie", "graphiste", "formation", "Montreuil", "Lyon", "boulangerie", "vidéo", "berger")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _prepare(directory: Path, database: str, port: int) -> list[str]:
    """The node folder on its database, MEMBERS members with a profile and an offer each; their tokens."""
    config = create_node_dir(
        directory, name="coopaname", url=f"http://127.0.0.1:{port}", database_url=database, port=port
    )
    node = await open_node(
        config, NodeOptions(hasher=PasswordHasher(memory_kib=256, time_cost=1), outbox_peers=lambda _s: ["smart"])
    )
    tokens = []
    try:
        await node.identity.ensure_document()
        for i in range(MEMBERS):
            email = f"m{i}@coopaname.example"
            await node.accounts.add_user(email=email, password="benchmark password")
            tokens.append((await node.accounts.login(email, "benchmark password", f"10.1.{i // 200}.{i % 200}")).token)
    finally:
        await node.close()
    return tokens


# ------------------------------------------------------------------------------------ the load generator


def _load_process(url: str, mode: str, tokens: list[str], seconds: float, out: Any) -> None:
    out.send(asyncio.run(_load(url, mode, tokens, seconds)))


async def _load(url: str, mode: str, tokens: list[str], seconds: float) -> dict[str, float]:
    done = errors = 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession, c: int) -> None:
        nonlocal done, errors
        token = tokens[c % len(tokens)]
        headers = {"Authorization": f"Bearer {token}"}
        i = 0
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            if mode == "read":
                q = QUERIES[(c + i) % len(QUERIES)]
                request = session.get(f"/api/v1/search?q={q}&limit=20", headers=headers)
            else:
                body = {
                    "fields": {"bio": f"Menuisière à Montreuil, mise à jour {c}-{i}", "trades": ["H2206"]},
                    "visibility": {"bio": "network", "trades": "public"},
                }
                request = session.patch("/api/v1/me/profile", json=body, headers=headers)
            async with request as resp:
                await resp.read()
                if resp.status != 200:
                    errors += 1
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
            latencies.append(time.perf_counter() - start)
            done += 1
            i += 1

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(client(session, c) for c in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rate": done / elapsed,
        "errors": errors,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else 0.0,
        "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)] if latencies else 0.0,
        **{f"status_{code}": float(n) for code, n in statuses.items()},
    }


def _run_load(url: str, mode: str, tokens: list[str], seconds: float) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_load_process, args=(url, mode, tokens, seconds, send))
    proc.start()
    result: dict[str, float] = receive.recv()
    proc.join()
    return result


# --------------------------------------------------------------------------------------------- serving


@contextlib.contextmanager
def _serving(directory: Path, port: int, workers: int, log: Path) -> Any:
    argv = [sys.executable, "-m", "node.cli", "serve", str(directory), "--port", str(port)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    # the benchmark's 32 clients share 64 accounts and one address: the node's rate limits would answer 429
    unlimited = '{"account": "1000000/minute", "address": "1000000/minute"}'
    env = {**os.environ, **{f"BIGRE_RATE_LIMIT_{kind}": unlimited for kind in ("SEARCHES", "WRITES")}}
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out, start_new_session=True, env=env)
    try:
        _wait_ready(port, proc, workers, log)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_ready(port: int, proc: subprocess.Popen[bytes], workers: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the node exited: {log.read_text()[-2000:]}")
        text = log.read_text(errors="replace") if log.exists() else ""
        serving = text.count("serving node coopaname")
        if serving >= workers:
            return
        time.sleep(0.2)
    raise RuntimeError("the node did not start in 120 s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    name = f"bigre_workers_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            port = _free_port()
            tokens = asyncio.run(_prepare(root / "node", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", port))
            url = f"http://127.0.0.1:{port}"
            results: dict[int, dict[str, dict[str, float]]] = {}
            for n in counts:
                log = root / f"serve-{n}.log"
                with _serving(root / "node", port, n, log):
                    _run_load(url, "read", tokens, 1.0)  # warm-up: connections, caches, plans
                    results[n] = {
                        "read": _run_load(url, "read", tokens, args.seconds),
                        "write": _run_load(url, "write", tokens, args.seconds),
                    }
                print(f"{n} worker(s): load average {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    base = results[counts[0]]
    print(
        f"\nworkers on PostgreSQL, {os.cpu_count()} cores, {CONCURRENCY} clients in a separate process, "
        f"{args.seconds:g} s windows; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'workers':>8} {'reads/s':>9} {'× 1':>6} {'p95 ms':>7} {'writes/s':>9} {'× 1':>6} {'p95 ms':>7} {'errors':>7}"
    )
    for n, r in results.items():
        read, write = r["read"], r["write"]
        print(
            f"{n:>8} {read['rate']:>9.0f} {read['rate'] / base['read']['rate']:>6.2f} {read['p95_ms']:>7.1f} "
            f"{write['rate']:>9.0f} {write['rate'] / base['write']['rate']:>6.2f} {write['p95_ms']:>7.1f} "
            f"{int(read['errors'] + write['errors']):>7}"
        )
    print(json.dumps({"workers": {str(k): v for k, v in results.items()}}))


if __name__ == "__main__":
    main()
