"""Fan-out benchmark: what an update costs its author as the number of peers grows, and what an idle pull costs.

    python -m bench.fanout_bench [--updates 60] [--idle-rounds 200]

Every node is a real process (``python -m node.cli serve``), all peered directly as the network file does it, on
SQLite; CPU time is read from ``/proc/<pid>/stat`` (user + system), so it is the node's own work whatever else
the machine runs (the load average is printed beside it).

1. **Author's CPU per update**: a network of the author and 2 peers, then one of the author and 9 peers; the
   author's member changes their bio through the API ``--updates`` times, each time waiting until every peer
   holds the new entry (so the pushes and their bookkeeping are inside the window). CPU of the author's process
   per update, 9 peers / 2 peers: target <= 1.5 (the HTTP pushes remain one per peer; the bookkeeping is shared).
2. **Idle anti-entropy**: a node (in this process) pulls from a served peer that has nothing new, ``--idle-rounds``
   times; CPU per round on the puller (this process) and on the served node (its process), with conditional
   heads (docs/PROTOCOL.md 13.1: a 304) and, for comparison, forcing the whole round each time. Target: at most
   1 ms on each side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import load_average, result
from bench.federation_bench import SERVED, free_port, serving
from federation.replication import Replicator
from federation.transport import PeerClient
from federation.trust import TrustStore
from node.compose import NodeOptions, open_node
from node.config import create_node_dir, load_config
from node.demo.run import load_network
from node.services.passwords import PasswordHasher

AUTHOR = "coopaname"
EMAIL, PASSWORD = "amelie@example.org", "benchmark password"
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


async def make_network(base: Path, peers: int) -> list[tuple[Path, int]]:
    """The author and ``peers`` other nodes, every one a direct peer of every other; (folder, port) each."""
    nodes = []
    for i in range(peers + 1):
        name = AUTHOR if i == 0 else f"coop{i}"
        port = free_port()
        config = create_node_dir(base / name, name=name, url=f"http://127.0.0.1:{port}", port=port)
        nodes.append((config, port))
    network = {
        "network": "bench",
        "nodes": [
            {
                "name": c.name,
                "url": c.url,
                "display_name": c.display_name,
                "public_key": c.signing_key().public_bytes.hex(),
            }
            for c, _ in nodes
        ],
    }
    for config, _ in nodes:
        await load_network(config.directory, network)
    author = await open_node(nodes[0][0], NodeOptions(hasher=PasswordHasher(memory_kib=256, time_cost=1)))
    try:
        await author.accounts.add_user(email=EMAIL, password=PASSWORD)
    finally:
        await author.close()
    return [(c.directory, port) for c, port in nodes]


async def updates(urls: list[str], count: int) -> float:
    """``count`` profile updates on the author (urls[0]), each until every peer holds it; seconds."""
    async with aiohttp.ClientSession() as http:

        async def head(url: str) -> int:
            async with http.get(url + "/api/v1/health") as response:
                return int((await response.json())["heads"].get(AUTHOR, 0))

        deadline = time.monotonic() + 120
        while len({await head(u) for u in urls}) != 1 or await head(urls[0]) == 0:  # first syncs done
            if time.monotonic() > deadline:
                raise SystemExit("the nodes did not converge")
            await asyncio.sleep(0.2)
        async with http.post(urls[0] + "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}) as response:
            token = (await response.json())["token"]
        auth = {"Authorization": f"Bearer {token}"}
        expected = await head(urls[0])
        start = time.perf_counter()
        for n in range(count):
            payload = {"fields": {"bio": f"Menuisière, mise à jour {n}"}, "visibility": {"bio": "network"}}
            async with http.patch(urls[0] + "/api/v1/me/profile", json=payload, headers=auth) as response:
                if response.status != 200:
                    raise SystemExit(f"update refused: {response.status} {await response.text()}")
            expected += 1
            deadline = time.monotonic() + 30
            for url in urls[1:]:
                while await head(url) < expected:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"update {n} did not reach {url}")
                    await asyncio.sleep(0.002)
        return time.perf_counter() - start


def author_cpu_per_update(tmp: Path, peers: int, count: int) -> float:
    """CPU seconds of the author's process per update, in a network of the author and ``peers`` peers."""
    dirs = asyncio.run(make_network(tmp / f"net-{peers}", peers))
    with serving(dirs, tmp, anti_entropy_s=3600, start_within=300) as urls:
        pid = _pid_of(dirs[0][1])
        asyncio.run(updates(urls, 3))  # warm up (first connections, caches)
        before = cpu_seconds(pid)
        seconds = asyncio.run(updates(urls, count))
        cpu = (cpu_seconds(pid) - before) / count
    print(
        f"  {peers} peers: author's CPU {cpu * 1000:.1f} ms per update ({count} updates in {seconds:.1f} s, each "
        f"until every peer holds it); load average {load_average()}",
        flush=True,
    )
    return cpu


def _pid_of(port: int) -> int:
    """The pid of the node process serving on ``port`` (started by :func:`bench.federation_bench.serving`)."""
    return SERVED[port]


async def idle_rounds(puller: Path, count: int, server_pid: int, conditional: bool) -> tuple[float, float]:
    """CPU seconds per idle pull, (puller, served node), ``count`` rounds after a first one that takes everything."""
    config = load_config(puller)
    services = await open_node(config, NodeOptions())
    store = services.federation_store
    trust = TrustStore(config.name)
    trust.load(await store.list_peers())
    source = trust.peer(AUTHOR)
    assert source is not None
    try:
        async with aiohttp.ClientSession() as http:
            client = PeerClient(http, lambda: services.key, config.name)
            replicator = Replicator(store, store, trust, client, services.clock)
            await replicator.sync_from(source)
            await replicator.sync_from(source)
            server_before, before = cpu_seconds(server_pid), time.process_time()
            for _ in range(count):
                if not conditional:
                    replicator._settled.clear()  # as before conditional heads: the whole round each time
                if await replicator.sync_from(source):
                    raise SystemExit("an idle round pulled something")
            mine, theirs = time.process_time() - before, cpu_seconds(server_pid) - server_before
    finally:
        await services.close()
    return mine / count, theirs / count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=60)
    parser.add_argument("--idle-rounds", type=int, default=300)
    args = parser.parse_args(argv)
    print(f"load average before: {load_average()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bigre-fanout-") as tmp_name:
        tmp = Path(tmp_name)
        print("author's CPU per profile update (API, storage, signing, pushes to every peer, their bookkeeping):")
        two = author_cpu_per_update(tmp, 2, args.updates)
        nine = author_cpu_per_update(tmp, 9, args.updates)
        ratio = nine / two
        print(f"  9 peers / 2 peers: {ratio:.2f} (target <= 1.5) {'ok' if ratio <= 1.5 else 'ABOVE TARGET'}")
        result(
            "fanout_bench",
            "author's CPU per update with 9 peers / with 2 peers",
            f"{ratio:.2f} ({two * 1000:.1f} / {nine * 1000:.1f} ms)",
            "<= 1.5",
            ratio <= 1.5,
        )

        dirs = asyncio.run(make_network(tmp / "idle", 1))
        with serving(dirs[:1], tmp, anti_entropy_s=3600, start_within=300):
            pid = _pid_of(dirs[0][1])
            print(f"idle anti-entropy, {args.idle_rounds} rounds each (CPU per round):")
            rows: dict[str, list[tuple[float, float]]] = {}
            for conditional in (True, False, True):
                mine, theirs = asyncio.run(idle_rounds(dirs[1][0], args.idle_rounds, pid, conditional))
                label = "conditional heads (304)" if conditional else "whole round (200, compared)"
                rows.setdefault(label, []).append((mine, theirs))
                print(
                    f"  {label:<28} puller {mine * 1000:.2f} ms, served node {theirs * 1000:.2f} ms; "
                    f"load average {load_average()}",
                    flush=True,
                )
        mine = statistics.median(m for m, _ in rows["conditional heads (304)"])
        theirs = statistics.median(t for _, t in rows["conditional heads (304)"])
        ok = max(mine, theirs) <= 0.001
        verdict = "ok" if ok else "ABOVE TARGET"
        print(f"  idle round: {mine * 1000:.2f} ms / {theirs * 1000:.2f} ms (target <= 1 ms each) {verdict}")
        result(
            "fanout_bench",
            "CPU of an idle anti-entropy round, puller / served node",
            f"{mine * 1000:.2f} / {theirs * 1000:.2f} ms",
            "<= 1 ms each",
            ok,
        )
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
