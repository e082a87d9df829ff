"""``bigre serve --workers N`` on PostgreSQL (issue 17): several processes, one node, nothing lost or sent twice.

Coopaname runs on a PostgreSQL database of its own with two workers behind one port; SMart runs as usual. The
tests read what reached SMart through its proxy (every push body) and SMart's log, and Coopaname's outbox in
its database.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from protocol import canonical, decode_entry, sign_request

from .cluster import Cluster, Node, assert_log_sound, call, eventually, now_ms

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PUSH = "/federation/v1/push"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one node (dropped at the end); skipped without a server unless in CI."""
    name = f"bigre_workers_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _pg_count(url: str, sql: str) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()

    return asyncio.run(run())


def _pushed(node: Node, origin: str) -> Counter[int]:
    """How many times each seq of ``origin`` was pushed to ``node`` (through its proxy)."""
    seen: Counter[int] = Counter()
    for body in node.proxy.recorded(PUSH):
        blobs = canonical.decode(body)
        assert isinstance(blobs, list)
        for blob in blobs:
            assert isinstance(blob, bytes)
            entry = decode_entry(blob)
            if entry.header.origin == origin:
                seen[entry.header.seq] += 1
    return seen


def _leaders(node: Node) -> list[int]:
    return [int(m) for m in re.findall(r"worker (\d+) leads node", node.log_text())]


def _start_pair(cluster: Cluster, pg_database: str) -> tuple[Node, Node]:
    cluster.build(members=4, names=("coopaname", "smart"), database_urls={"coopaname": pg_database})
    coopaname, smart = cluster["coopaname"], cluster["smart"]
    coopaname.workers = 2
    smart.proxy.record(PUSH)
    cluster.start()
    eventually(lambda: len(re.findall(r"worker \d+ serving node coopaname", coopaname.log_text())) == 2, 60)
    cluster.wait_converged()
    return coopaname, smart


def test_two_workers_one_leader_every_write_delivered_once(cluster: Cluster, pg_database: str) -> None:
    coopaname, smart = _start_pair(cluster, pg_database)
    assert len(_leaders(coopaname)) == 1, coopaname.log_tail()

    # writes through the shared port reach both workers (one connection each: the kernel spreads them)
    offers = [coopaname.create_offer(f"Atelier partagé {i}") for i in range(24)]
    head = coopaname.heads()["coopaname"]
    eventually(lambda: smart.heads().get("coopaname") == head, 60, what="smart holds every coopaname entry")
    pushed = _pushed(smart, "coopaname")
    assert pushed, "the new entries were pushed, not only pulled"
    assert max(pushed.values()) == 1, {seq: n for seq, n in pushed.items() if n > 1}
    assert_log_sound(smart)
    smart.wait_found("Atelier", ("offer", "coopaname", offers[-1]))
    eventually(lambda: _pg_count(pg_database, "SELECT count(*) FROM outbox") == 0, 30, what="coopaname outbox empty")

    # the jobs and loops ran in one worker only: one leader line, one node document
    assert len(_leaders(coopaname)) == 1
    assert _pg_count(pg_database, "SELECT count(*) FROM entries WHERE type = 'node' AND origin = 'coopaname'") == 1


def test_killing_the_leader_mid_delivery_loses_nothing(cluster: Cluster, pg_database: str) -> None:
    coopaname, smart = _start_pair(cluster, pg_database)
    (leader,) = _leaders(coopaname)

    smart.proxy.set(cut=True)  # deliveries to smart queue up in coopaname's outbox
    for i in range(10):
        coopaname.create_offer(f"Tournage en Seine-Saint-Denis {i}")
    head = coopaname.heads()["coopaname"]
    assert _pg_count(pg_database, "SELECT count(*) FROM outbox") > 0
    os.kill(leader, signal.SIGKILL)  # no clean-up at all: its lock goes with its connection
    eventually(lambda: len(_leaders(coopaname)) == 2, 30, what="another worker takes the lead")
    assert _leaders(coopaname)[1] != leader
    # the node kept answering on its port all along (the other worker, then the restarted one)
    assert coopaname.api("GET", "/api/v1/health").status == 200

    smart.proxy.clear()
    eventually(lambda: smart.heads().get("coopaname") == head, 90, what="smart holds every coopaname entry")
    assert_log_sound(smart)
    eventually(lambda: _pg_count(pg_database, "SELECT count(*) FROM outbox") == 0, 60, what="coopaname outbox empty")
    eventually(
        lambda: len(re.findall(r"worker \d+ serving node coopaname", coopaname.log_text())) == 3,
        60,
        what="the supervisor restarted the killed worker",
    )


def test_a_request_replayed_to_another_worker_is_refused(cluster: Cluster, pg_database: str) -> None:
    coopaname, _smart = _start_pair(cluster, pg_database)
    path = "/federation/v1/heads"
    headers = sign_request(
        cluster["smart"].key(),
        method="GET",
        path=path,
        origin="smart",
        destination="coopaname",
        time=now_ms(),
        nonce=secrets.token_urlsafe(18),
        body=b"",
    )
    # each call is a new connection, which the kernel gives to either worker: a guard in one process's memory
    # would let about half of the replays through
    statuses = [call(coopaname.port, "GET", path, None, dict(headers)).status for _ in range(12)]
    assert statuses[0] == 200, statuses
    assert statuses[1:] == [409] * 11, statuses


def test_workers_need_postgresql(tmp_path: Path) -> None:
    from node.config import create_node_dir

    directory = tmp_path / "n"
    create_node_dir(directory, name="test", url="http://127.0.0.1:1")
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli", "serve", str(directory), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("bigre: error: several workers need a PostgreSQL")


def test_a_key_rotation_by_one_worker_is_followed_by_the_others(cluster: Cluster, pg_database: str) -> None:
    coopaname, smart = _start_pair(cluster, pg_database)
    answer = coopaname.api("POST", "/api/v1/keys/rotate", token=coopaname.login("operator"))
    assert answer.status == 201, answer.body
    # at once, writes through both workers: none may be signed with the replaced key
    for i in range(16):
        coopaname.create_offer(f"Fresque participative {i}")
    head = coopaname.heads()["coopaname"]
    eventually(lambda: smart.heads().get("coopaname") == head, 60, what="smart accepts every entry after the rotation")
    assert_log_sound(smart)
    assert smart.forks() == []
