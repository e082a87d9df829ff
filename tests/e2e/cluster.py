"""Real node processes on loopback for the multi-process federation tests.

A :class:`Cluster` builds small seeded node folders in-process with the demo's own functions
(:func:`node.demo.run.seed_node`, :func:`node.demo.run.network_file`, :func:`node.demo.run.load_network`), puts a
:class:`tests.e2e.faultproxy.FaultProxy` in front of each node (a node's public URL, the one its peers call and
the one in its signed node document, is its proxy's address; the node listens on another port), and runs each
node as ``python -m node.cli serve DIR --port P`` in its own process group with a short anti-entropy interval.
Every wait has a deadline and polls a condition; :meth:`Cluster.close` kills every process group and stops every
proxy, also when a test failed.

State is read three ways: the JSON API (``/api/v1/health`` heads, search, inboxes), signed federation requests
(as a peer would make them, with a node's key from its folder), and the node's SQLite file read directly (the
whole log of each origin with its entry hashes, record states, inbox rows), which is what proves that nothing was
lost or duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import asyncpg

from node.compose import NodeOptions, open_node
from node.config import CONFIG_FILE, load_config
from node.demo.run import DemoNode, load_network, network_file, seed_node
from node.keyfile import KEY_DIR_NAME, write_key
from node.records import replica
from node.storage.models import LogHead
from protocol import (
    RECORD_TYPES,
    Record,
    SigningKey,
    canonical,
    check_body,
    decode_entry,
    sign_entry,
    sign_handover,
    sign_request,
)

from .faultproxy import FaultProxy

#: the cluster's nodes answer scripts that poll far faster than people do: generous rate limits (the limits
#: themselves are tested in tests/node/test_rate_limits.py, normal use there under the defaults)
HARNESS_RATE_LIMITS: Final = {
    f"BIGRE_RATE_LIMIT_{kind.upper()}": '{"account": "100000/minute", "address": "100000/minute"}'
    for kind in ("messages", "invitations", "searches", "writes")
}

REPO = Path(__file__).resolve().parents[2]
COOPS = (("coopaname", "Coopaname"), ("smart", "SMart"), ("oxalis", "Oxalis"))
ANTI_ENTROPY_SECONDS = "1"
OWN_LOG_WAIT_SECONDS = "5"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def eventually(check: Callable[[], T | None], within: float = 30.0, every: float = 0.1, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy (returned), or fail at the deadline with its last value."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            value = check()
        except AssertionError as exc:
            last = exc
        else:
            last = value
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {within:.0f} s (last: {str(last)[:2000]})")
        time.sleep(every)


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def error_code(self) -> str | None:
        try:
            return str(self.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return None

    def error_message(self) -> str:
        try:
            return str(self.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            return ""


def call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20.0,
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
    finally:
        conn.close()


class Node:
    """One node: its folder, its real port, its proxy (public URL) and its process."""

    def __init__(self, cluster: Cluster, name: str, display_name: str) -> None:
        self.cluster = cluster
        self.name = name
        self.display_name = display_name
        self.directory = cluster.root / name
        self.port = free_port()
        self.proxy = FaultProxy(self.port, seed=len(cluster.nodes) + 1, name=name).start()
        self.log_path = cluster.root / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.anti_entropy_seconds = ANTI_ENTROPY_SECONDS  # a test may lengthen it to see what else brings records
        self.operator = f"operateur@{name}.example"
        self.member = f"membre@{name}.example"
        self.password = f"demo-{name}-2027"
        self._tokens: dict[str, str] = {}
        self.database_url: str | None = None  # default: node.sqlite3 in its folder
        self.workers = 1  # more: ``bigre serve --workers N`` (PostgreSQL)

    def __repr__(self) -> str:
        return f"<node {self.name} :{self.port} via :{self.proxy.port}>"

    @property
    def url(self) -> str:
        return self.proxy.url

    @property
    def database(self) -> Path:
        return self.directory / "node.sqlite3"

    def demo(self) -> DemoNode:
        return DemoNode(
            self.name,
            self.display_name,
            self.directory,
            self.url,
            self.port,
            self.operator,
            self.member,
            self.password,
            self.database_url,
        )

    def key(self) -> SigningKey:
        return load_config(self.directory).signing_key()

    # ----------------------------------------------------------------------------------------------- process

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.name} is already running"
        env = {
            **os.environ,
            "BIGRE_ANTI_ENTROPY_SECONDS": self.anti_entropy_seconds,
            # a peer that is down is waited for this long before the node signs again (60 s in production)
            "BIGRE_OWN_LOG_WAIT_SECONDS": OWN_LOG_WAIT_SECONDS,
            "PYTHONUNBUFFERED": "1",
            "BIGRE_CHECK_RESPONSES": "1",
            **HARNESS_RATE_LIMITS,
        }
        with open(self.log_path, "ab") as log:
            log.write(f"----- start {time.strftime('%H:%M:%S')} -----\n".encode())
            log.flush()
            workers = ["--workers", str(self.workers)] if self.workers > 1 else []
            self.process = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "serve", str(self.directory), "--port", str(self.port), *workers],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: killed as a whole
            )
        self._tokens.clear()

    def wait_healthy(self, within: float = 60.0) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                answer = call(self.port, "GET", "/api/v1/health", timeout=5)
                # healthy, and done checking its own log with its peers (it signs again, its start-up document is
                # published): what a test does next is not refused, and no entry of its own comes later
                if answer.status == 200 and answer.json()["own_log_checked"]:
                    return dict(answer.json())
            return None

        return eventually(ready, within, 0.1, f"{self.name} healthy")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the node's process group and wait for it to end (SIGKILL: no clean-up at all)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # anything left in the group

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_log(self, *needles: str, within: float = 15.0) -> str:
        """The first log line holding every needle (waits for it to be written)."""

        def find() -> str | None:
            for line in self.log_text().splitlines():
                if all(n in line for n in needles):
                    return line
            return None

        return eventually(find, within, 0.1, f"log line of {self.name} with {needles}")

    # ------------------------------------------------------------------------------------------------ the API

    def api(self, method: str, path: str, data: Any = None, *, token: str | None = None) -> Answer:
        headers = {"Accept": "application/json"}
        body = None
        if data is not None:
            body = json.dumps(data).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return call(self.port, method, path, body, headers)

    def login(self, who: str = "member") -> str:
        email = self.member if who == "member" else self.operator if who == "operator" else who
        if email not in self._tokens:
            answer = self.api("POST", "/api/v1/auth/login", {"email": email, "password": self.password})
            assert answer.status == 200, (self.name, email, answer.status, answer.body[:300])
            self._tokens[email] = answer.json()["token"]
        return self._tokens[email]

    def member_id(self, who: str = "member") -> str:
        answer = self.api("GET", "/api/v1/me", token=self.login(who))
        assert answer.status == 200, answer.body
        return str(answer.json()["member_id"])

    def health(self) -> dict[str, Any]:
        answer = self.api("GET", "/api/v1/health")
        assert answer.status == 200, answer.body
        return dict(answer.json())

    def heads(self) -> dict[str, int]:
        return dict(self.health()["heads"])

    def search(self, q: str, who: str = "member") -> list[dict[str, Any]]:
        answer = self.api("GET", f"/api/v1/search?q={q}&limit=50", token=self.login(who))
        assert answer.status == 200, answer.body
        return list(answer.json()["items"])

    def found(self, q: str) -> set[tuple[str, str, str]]:
        """(kind, origin, id) of what a member of this node finds for ``q``."""
        return {(hit["kind"], hit["origin"], hit["id"]) for hit in self.search(q)}

    def wait_found(self, q: str, hit: tuple[str, str, str], present: bool = True, within: float = 20.0) -> None:
        """Wait until a member's search for ``q`` holds ``hit`` (or no longer holds it)."""

        def seen() -> bool:
            return (hit in self.found(q)) == present

        eventually(seen, within, 0.1, f"{hit} {'found' if present else 'gone'} for {q!r} on {self.name}")

    def create_offer(self, title: str, **extra: Any) -> str:
        payload = {"purpose": "offer", "title": title, "visibility": "network", **extra}
        answer = self.api("POST", "/api/v1/offers", payload, token=self.login())
        assert answer.status == 201, (answer.status, answer.body[:300])
        return str(answer.json()["id"])

    def update_offer(self, offer_id: str, **changes: Any) -> None:
        answer = self.api("PATCH", f"/api/v1/offers/{offer_id}", changes, token=self.login())
        assert answer.status == 200, (answer.status, answer.body[:300])

    def delete_offer(self, offer_id: str) -> None:
        answer = self.api("DELETE", f"/api/v1/offers/{offer_id}", token=self.login())
        assert answer.status == 204, (answer.status, answer.body[:300])

    def forks(self) -> list[dict[str, Any]]:
        answer = self.api("GET", "/api/v1/federation/forks", token=self.login("operator"))
        assert answer.status == 200, answer.body
        return list(answer.json()["forks"])

    def peers(self) -> dict[str, dict[str, Any]]:
        answer = self.api("GET", "/api/v1/federation/peers", token=self.login("operator"))
        assert answer.status == 200, answer.body
        return {p["name"]: p for p in answer.json()["peers"]}

    # ----------------------------------------------------------------------------------- signed federation

    def signed(
        self,
        sender: str,
        method: str,
        path: str,
        payload: Any = None,
        *,
        raw: bytes | None = None,
        key: SigningKey | None = None,
        time_ms: int | None = None,
        nonce: str | None = None,
        destination: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """A federation request to this node (its real port) signed as node ``sender`` would sign it.

        ``key`` defaults to the sender's own key from its folder; ``raw`` sends other bytes than the encoded
        ``payload`` (the signature still covers the encoded payload, to test the digest check).
        """
        encoded = canonical.encode(payload) if payload is not None else b""
        signing = key or self.cluster.node(sender).key()
        signed = sign_request(
            signing,
            method=method,
            path=path,
            origin=sender,
            destination=destination or self.name,
            time=now_ms() if time_ms is None else time_ms,
            nonce=nonce or secrets.token_urlsafe(18),
            body=encoded,
        )
        signed["Content-Type"] = "application/x-bigre+msgpack"
        signed.update(headers or {})
        return call(self.port, method, path, raw if raw is not None else encoded, signed)

    def federation_heads(self, asked_by: str) -> dict[str, tuple[int, bytes]]:
        answer = self.signed(asked_by, "GET", "/federation/v1/heads")
        assert answer.status == 200, answer.body
        value: Any = canonical.decode(answer.body)
        assert isinstance(value, dict)
        return {str(o): (int(p[0]), bytes(p[1])) for o, p in value.items()}

    # --------------------------------------------------------------------------------------- its database

    def sql(self, query: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Read the node's SQLite file directly (the node may be running: WAL lets readers in), or its
        PostgreSQL database (``?`` placeholders become ``$n``)."""
        if self.database_url is not None:
            return _pg_rows(self.database_url, query, tuple(params))
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)
        try:
            return list(conn.execute(query, tuple(params)).fetchall())
        finally:
            conn.close()

    def log_of(self, origin: str) -> list[tuple[int, bytes]]:
        """The (seq, entry hash) of every entry of ``origin`` this node holds, by seq."""
        rows = self.sql("SELECT seq, hash FROM entries WHERE origin=? ORDER BY seq", [origin])
        return [(int(s), bytes(h)) for s, h in rows]

    def logs(self) -> dict[str, list[tuple[int, bytes]]]:
        out: dict[str, list[tuple[int, bytes]]] = {}
        for origin, seq, h in self.sql("SELECT origin, seq, hash FROM entries ORDER BY origin, seq"):
            out.setdefault(str(origin), []).append((int(seq), bytes(h)))
        return out

    def record_states(self) -> set[tuple[str, str, str, int, bool]]:
        rows = self.sql("SELECT origin, record_id, type, seq, deleted FROM records")
        return {(str(o), str(r), str(t), int(s), bool(d)) for o, r, t, s, d in rows}

    def stored_heads(self) -> dict[str, tuple[int, bytes | None]]:
        return {str(o): (int(s), h) for o, s, h in self.sql("SELECT origin, seq, hash FROM log_heads")}


def _pg_rows(url: str, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    parts = query.split("?")
    numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return [tuple(row) for row in await conn.fetch(numbered, *params)]
        finally:
            await conn.close()

    return asyncio.run(run())


class Cluster:
    """Up to three nodes (Coopaname, SMart, Oxalis), each behind its own fault proxy."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: dict[str, Node] = {}

    def node(self, name: str) -> Node:
        return self.nodes[name]

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def running(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.running]

    def build(
        self,
        members: int = 10,
        names: Iterable[str] = ("coopaname", "smart", "oxalis"),
        seed: int = 7,
        database_urls: dict[str, str] | None = None,
    ) -> None:
        """Create, seed and peer the nodes (in this process, with the demo's functions); ``database_urls``: the
        nodes that use another database than a SQLite file in their folder."""
        wanted = set(names)
        for name, display in COOPS:
            if name in wanted:
                self.nodes[name] = Node(self, name, display)
                self.nodes[name].database_url = (database_urls or {}).get(name)

        async def prepare() -> None:
            for n in self.nodes.values():
                await seed_node(n.demo(), members, seed)
            network = network_file([n.demo() for n in self.nodes.values()])
            for n in self.nodes.values():
                await load_network(n.directory, network)

        asyncio.run(prepare())

    def add_bulk_entries(self, name: str, count: int) -> int:
        """Append ``count`` signed profile entries to ``name``'s own log (node stopped); its new head."""
        return asyncio.run(_bulk_entries(self.nodes[name].directory, count))

    def start(self, *names: str) -> None:
        chosen = [self.nodes[n] for n in names] if names else list(self.nodes.values())
        for n in chosen:
            n.start()
        for n in chosen:
            n.wait_healthy()

    def close(self) -> None:
        for n in self.nodes.values():
            with contextlib.suppress(Exception):
                n.kill()
        for n in self.nodes.values():
            with contextlib.suppress(Exception):
                n.proxy.close()

    def clear_faults(self) -> None:
        for n in self.nodes.values():
            n.proxy.clear()

    # --------------------------------------------------------------------------------------------- checks

    def wait_converged(self, nodes: Iterable[Node] | None = None, within: float = 60.0) -> dict[str, int]:
        """Wait until the nodes hold the same logs, entry for entry, and the same record states; the heads."""
        chosen = list(nodes) if nodes is not None else self.running()

        def same() -> dict[str, int] | None:
            heads = [n.heads() for n in chosen]
            if any(h != heads[0] for h in heads[1:]):
                return None
            logs = [n.logs() for n in chosen]
            if any(log != logs[0] for log in logs[1:]):
                return None
            return heads[0] or None

        heads = eventually(same, within, 0.2, f"convergence of {[n.name for n in chosen]}")
        for n in chosen:
            assert_log_sound(n)
        states = [n.record_states() for n in chosen]
        assert all(s == states[0] for s in states[1:]), "same logs but different record states"
        return heads


def assert_log_sound(node: Node) -> None:
    """Per origin: seqs 1..n with no gap and no repeat, the stored head at n with the last hash, and the API
    heads saying n."""
    logs = node.logs()
    stored = node.stored_heads()
    heads = node.heads()
    for origin, entries in logs.items():
        seqs = [s for s, _ in entries]
        assert seqs == list(range(1, len(seqs) + 1)), f"{node.name}: {origin} has gaps or repeats"
        assert len({h for _, h in entries}) == len(entries), f"{node.name}: {origin} holds one entry twice"
        assert stored[origin] == (len(seqs), entries[-1][1]), f"{node.name}: stored head of {origin} is off"
        assert heads[origin] == len(seqs), f"{node.name}: API head of {origin} is off"


# ------------------------------------------------------------------------------------------ forging entries


def next_entry(
    key: SigningKey,
    *,
    origin: str,
    after: tuple[int, bytes | None],
    record_id: str,
    body: dict[str, Any],
    type: str = "profile",
    ts: int | None = None,
) -> bytes:
    """The encoded entry of ``origin`` that continues (seq, hash) ``after``, signed with ``key``."""
    seq, prev = after
    when = now_ms() if ts is None else ts
    entry = sign_entry(
        key,
        type=type,
        type_version=RECORD_TYPES[type].version,
        origin=origin,
        id=record_id,
        seq=seq + 1,
        created=when,
        ts=when,
        prev=prev,
        body=body,
    )
    return entry.encode()


async def _bulk_entries(directory: Path, count: int) -> int:
    config = load_config(directory)
    services = await open_node(config, NodeOptions())
    try:
        async with services.db.read() as session:
            head = await session.get(LogHead, config.name)
            assert head is not None
            seq, prev = int(head.seq), head.hash
        records: list[Record] = []
        now = now_ms()
        for i in range(count):
            entry = sign_entry(
                services.key,
                type="profile",
                type_version=RECORD_TYPES["profile"].version,
                origin=config.name,
                id=f"bulk-{i:05d}",
                seq=seq + 1,
                created=now,
                ts=now,
                prev=prev,
                body={"display_name": f"Bulk member {i}", "skills": [f"bulkskill{i % 7}"], "public": []},
            )
            records.append(Record(entry, check_body(entry)))
            seq, prev = seq + 1, entry.hash
        for start in range(0, len(records), 1000):
            async with services.db.write() as session:
                await replica.store_run(session, records[start : start + 1000], now, services.search_documents)
        return seq
    finally:
        await services.close()


def rotate_and_revoke(node: Node) -> tuple[SigningKey, SigningKey, int]:
    """Give a stopped node a new key the way its log proves it: a node document signed by the old key that adds
    the new one, then a revocation of the old key signed by the new one (as after a theft), then the new key in
    its folder. Returns (old key, new key, revocation time)."""
    assert not node.running
    return asyncio.run(_rotate(node))


async def _rotate(node: Node) -> tuple[SigningKey, SigningKey, int]:
    config = load_config(node.directory)
    old, new = config.signing_key(), SigningKey.generate()
    services = await open_node(config, NodeOptions())
    try:
        async with services.db.read() as session:
            head = await session.get(LogHead, config.name)
            assert head is not None
            after: tuple[int, bytes | None] = (int(head.seq), head.hash)
        document = {
            "name": config.name,
            "display_name": config.display_name,
            "url": config.url,
            "protocol_versions": [1],
            "keys": [
                {"kid": old.kid, "public_key": old.public_bytes, "not_before": 0},
                {"kid": new.kid, "public_key": new.public_bytes, "not_before": 0},
            ],
            "status": "member",
        }
        revoked_at = now_ms()
        records = []
        for key, type, record_id, body in (
            (old, "node", "node", document),
            (
                new,
                "key_revocation",
                "revocation-1",
                {"kid": old.kid, "revoked_at": revoked_at, "reason": "compromised"},
            ),
        ):
            blob = next_entry(key, origin=config.name, after=after, record_id=record_id, body=body, type=type)
            entry = decode_entry(blob)
            records.append(Record(entry, check_body(entry)))
            after = (entry.header.seq, entry.hash)
        async with services.db.write() as session:
            await replica.store_run(session, records, now_ms(), services.search_documents)
    finally:
        await services.close()
    write_key(node.directory / KEY_DIR_NAME, new)
    path = node.directory / CONFIG_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data["key_id"] = new.kid
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return old, new, revoked_at


def hand_over(node: Node, *, revoke: bool = True, repair: bool = False) -> tuple[SigningKey, SigningKey, int]:
    """Rotate a stopped node the safe way (docs/PROTOCOL.md §7.2): a hand-over signed by a new key with the old
    key's signature over its position, then (``revoke``) the old key's revocation and (``repair``) a fork repair
    naming the hand-over, all published by the node's own publisher (so they are queued for its peers and pushed
    when it starts); then the new key in its folder. Returns (old key, new key, the hand-over's seq).

    The node's own key rotation (``node/keys_app.py``) still writes the document of release 1.0; this is what it
    is to write (a follow-up of the node)."""
    assert not node.running
    return asyncio.run(_hand_over(node, revoke, repair))


async def _hand_over(node: Node, revoke: bool, repair: bool) -> tuple[SigningKey, SigningKey, int]:
    config = load_config(node.directory)
    old, new = config.signing_key(), SigningKey.generate()
    services = await open_node(config)
    try:
        async with services.db.read() as session:
            head = await session.get(LogHead, config.name)
            assert head is not None
            seq, prev = int(head.seq), head.hash
        now = now_ms()
        body = {
            "name": config.name,
            "display_name": config.display_name,
            "url": config.url,
            "protocol_versions": [1],
            "keys": [
                {"kid": old.kid, "public_key": old.public_bytes, "not_before": 0, "not_after": now, "last_seq": seq},
                {"kid": new.kid, "public_key": new.public_bytes, "not_before": now, "first_seq": seq + 1},
            ],
            "status": "member",
            "handover": sign_handover(old, origin=config.name, seq=seq + 1, prev=prev, new_key=new.public_bytes),
        }
        services.signing.replace(new)
        async with services.db.write() as session:
            rotation = await services.publisher.publish(session, type="node", record_id="node", body=body, created=now)
            assert rotation.header.seq == seq + 1 and rotation.header.kid == new.kid
            if revoke:
                revocation = {"kid": old.kid, "revoked_at": now, "reason": "compromised", "replacement": new.kid}
                await services.publisher.publish(
                    session, type="key_revocation", record_id=f"revocation-{old.kid}", body=revocation, created=now
                )
            if repair:
                named = {"seq": seq + 1, "hash": rotation.hash, "reason": "compromised", "text": "clé volée"}
                await services.publisher.publish(
                    session, type="fork_repair", record_id=f"repair-{seq + 1}", body=named, created=now
                )
    finally:
        await services.db.close()
    write_key(node.directory / KEY_DIR_NAME, new)
    path = node.directory / CONFIG_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data["key_id"] = new.kid
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return old, new, seq + 1
