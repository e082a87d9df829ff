"""N federation nodes in one process, over an in-memory transport, on the virtual clock of :mod:`tests.sim.loop`.

Each node is the real :class:`federation.service.FederationService` (trust, replication, delivery loops, its
routes and their handlers) on the in-memory stores of ``tests/federation/fakes.py``. What is simulated is only
what lies outside ``federation``:

- **the wire**: :class:`MemoryExchange` implements the transport port (:class:`federation.transport.Exchange`).
  A request is signed by the real :class:`~federation.transport.PeerClient`, carried after a random delay to
  the receiving node's real aiohttp route handler (authentication, replay guard, replication), and its answer
  carried back; a lost message or a partition costs the sender its timeout, a node that is down refuses at
  once. Every request and answer is counted, with its bytes.
- **time**: one virtual clock gives the entries' and requests' timestamps (the services' ``clock``) and runs the
  schedule (the event loop's timers, so the delivery loops' waits, backoffs and timeouts), and the harness runs
  each node's anti-entropy and governance rounds on it as APScheduler would (:meth:`SimNode.start`).
- **a node's life**: :meth:`SimNetwork.take_down` stops a node's service and makes it unreachable;
  :meth:`SimNetwork.bring_back` starts a new service on the same stores, as a restarted process would.

Records published during a run are profiles; each node's log records when it stored each entry, which gives
the virtual time an update took to reach every node.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web
from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.web_urldispatcher import MatchInfoError
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from federation.errors import PeerUnavailableError
from federation.outbox import ENTRY, entry_payload
from federation.ports import Peer
from federation.service import FederationService
from federation.transport import Answer
from protocol import Record, SigningKey, decode_entry
from tests.federation.fakes import T0, Clock, MemoryLog, MemoryNode

log = logging.getLogger(__name__)

HTTP_OVERHEAD = 40  # bytes of a request line or status line and the framing headers not counted one by one


@dataclass(frozen=True, slots=True)
class Rule:
    """A fan-out rule, as the service's two settings (0: every direct peer)."""

    name: str
    pull_fanout: int = 0
    relay_fanout: int = 0


FULL = Rule("full")


@dataclass(slots=True)
class Faults:
    """What the network does to messages. ``loss``: the chance that one message (a request, or its answer) is
    lost; ``delay_ms``: one-way delay, uniform in the range; ``timeout_s``: how long a sender waits for an
    answer that does not come (the HTTP client's timeout)."""

    loss: float = 0.0
    delay_ms: tuple[float, float] = (5.0, 40.0)
    timeout_s: float = 20.0


@dataclass(slots=True)
class Traffic:
    """Requests and bytes (both ways) per kind of request (heads, log, push, direct, other); requests per
    (sender, kind); messages lost, requests refused (the receiver was down)."""

    requests: Counter[str] = field(default_factory=Counter)
    bytes: Counter[str] = field(default_factory=Counter)
    sent: Counter[tuple[str, str]] = field(default_factory=Counter)
    lost: int = 0
    refused: int = 0

    def copy(self) -> Traffic:
        return Traffic(Counter(self.requests), Counter(self.bytes), Counter(self.sent), self.lost, self.refused)

    def since(self, before: Traffic) -> Traffic:
        return Traffic(
            self.requests - before.requests,
            self.bytes - before.bytes,
            self.sent - before.sent,
            self.lost - before.lost,
            self.refused - before.refused,
        )

    def total_requests(self, kinds: Iterable[str] | None = None) -> int:
        return sum(n for k, n in self.requests.items() if kinds is None or k in kinds)

    def total_bytes(self, kinds: Iterable[str] | None = None) -> int:
        return sum(n for k, n in self.bytes.items() if kinds is None or k in kinds)


def kind_of(path: str) -> str:
    for kind in ("heads", "log", "push", "direct"):
        if path.startswith(f"/federation/v1/{kind}"):
            return kind
    return "other"


class VirtualClock(Clock):
    """Milliseconds since the epoch on the running loop's (virtual) time: what every service and signature reads."""

    def __call__(self) -> int:
        return T0 + round(asyncio.get_running_loop().time() * 1000)


class SimLog(MemoryLog):
    """:class:`MemoryLog` with each origin's head kept up to date (the fake recomputes it, too slow for hundreds of
    nodes) and the virtual time at which each entry was stored."""

    def __init__(self, clock: Callable[[], int]) -> None:
        super().__init__()
        self.clock = clock
        self._heads: dict[str, tuple[int, bytes]] = {}
        self.stored_at: dict[tuple[str, int], int] = {}
        self.stored_twice: list[tuple[str, int]] = []

    async def heads(self) -> dict[str, tuple[int, bytes]]:
        return dict(self._heads)

    def head(self, origin: str) -> tuple[int, bytes] | None:
        return self._heads.get(origin)

    def same_heads(self, heads: dict[str, tuple[int, bytes]]) -> bool:
        return self._heads == heads

    def _advance(self, origin: str) -> None:
        by_seq = self.entries.get(origin, {})
        seq, digest = self._heads.get(origin, (0, b""))
        while seq + 1 in by_seq:
            seq += 1
            digest = decode_entry(by_seq[seq]).hash
        if seq:
            self._heads[origin] = (seq, digest)

    def add(self, blob: bytes) -> None:
        """Hold an entry outright (this node's own new entry, or the state the network starts from)."""
        entry = decode_entry(blob)
        self.entries.setdefault(entry.header.origin, {})[entry.header.seq] = blob
        self._advance(entry.header.origin)

    async def store_run(self, records: Sequence[Record], received_at: int) -> None:
        for r in records:
            if r.seq in self.entries.get(r.origin, {}):
                self.stored_twice.append((r.origin, r.seq))
        await super().store_run(records, received_at)
        now = self.clock()
        for r in records:
            self.stored_at[(r.origin, r.seq)] = now
        if records:
            self._advance(records[0].origin)

    async def replace_branch(self, origin: str, from_seq: int, records: Sequence[Record], received_at: int) -> int:
        dropped = await super().replace_branch(origin, from_seq, records, received_at)
        self._heads.pop(origin, None)
        self._advance(origin)
        return dropped


class _Wire:
    """What an aiohttp request reads from its connection: nothing here is a socket."""

    ssl_context = None
    peername = None
    sockname = None
    transport = None


class _Body:
    """A received body, read as the handlers read a request's content (``read(n)`` until empty)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = len(self._data)
        chunk, self._data = self._data[:n], self._data[n:]
        return chunk


class SimNode(MemoryNode):
    """One node: the fakes' in-memory stores, a :class:`SimLog`, and a real service over :class:`MemoryExchange`."""

    log: SimLog

    def __init__(self, net: SimNetwork, name: str, index: int) -> None:
        super().__init__(name, 1, net.clock)
        self.net = net
        self.index = index
        self.key = SigningKey.from_seed(hashlib.sha256(name.encode()).digest())
        self.log = SimLog(net.clock)
        self.url = f"https://{name}.sim.invalid"
        self.up = False
        self.restarts = 0
        self._timers: list[asyncio.Task[None]] = []
        self.app = web.Application()
        self.service = self._service()

    def _service(self) -> FederationService:
        service = FederationService(
            name=self.name,
            key=lambda: self.key,
            log_store=self.log,
            peers=self.peer_store,
            outbox=self.outbox,
            inbox=self.inbox,
            invitations=self.invitations,
            documents=self,
            clock=self.clock,
            rng=random.Random(f"{self.net.seed}/{self.name}/{self.restarts}"),
            anti_entropy_seconds=self.net.anti_entropy_seconds,
            proposer=self,
            exchange=MemoryExchange(self.net, self.name),
            pull_fanout=self.net.rule.pull_fanout,
            relay_fanout=self.net.rule.relay_fanout,
        )
        self.app = web.Application()
        self.app.add_routes(service.routes())
        return service

    async def start(self) -> None:
        """Start the service with its rounds run here, on the virtual clock, as its scheduler would run them."""
        await self.service.start(schedule=False)
        self.up = True
        self._timers = [
            asyncio.create_task(self._every(self.service.anti_entropy_delay, self.service.anti_entropy)),
            asyncio.create_task(self._every(lambda: 60.0, self.service.governance.tick)),
        ]

    async def _every(self, delay: Callable[[], float], job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` as APScheduler's interval trigger does: each run ``delay()`` after the previous one was due
        (however long it took), never two at once (a run still going when the next is due makes it skip)."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        running: asyncio.Task[None] | None = None
        try:
            while True:
                due += delay()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if running is None or running.done():
                    running = asyncio.ensure_future(job())
        finally:
            if running is not None and not running.done():
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running

    async def stop(self) -> None:
        self.up = False
        for task in self._timers:
            task.cancel()
        for task in self._timers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._timers = []
        await self.service.stop()

    async def restart(self) -> None:
        """A new process on the same stores: a fresh service (trust and governance rebuilt from the log)."""
        self.restarts += 1
        self.service = self._service()
        await self.start()

    async def publish(self, type_: str, record_id: str, body: dict[str, Any], notify: bool = True) -> int:
        """Sign and hold a new entry, queue it for the peers the service's fan-out names, wake delivery (the
        node's publisher does the same in one transaction)."""
        seq, prev = (await self.log.heads()).get(self.name, (0, None))
        blob = self.sign(type_, record_id, body, seq + 1, prev)
        self.log.add(blob)
        self.log.stored_at[(self.name, seq + 1)] = self.clock()
        if self.up:
            for name in self.service.push_targets(exclude=(self.name,)):
                await self.outbox.enqueue(name, ENTRY, entry_payload(self.name, seq + 1), self.clock())
            if notify:
                self.service.notify()
        return seq + 1

    async def serve(self, method: str, path: str, body: bytes, headers: dict[str, str], remote: str) -> Answer:
        """Answer one request with this node's aiohttp routes: the real handler, as the server would call it."""
        all_headers = CIMultiDict(headers)
        all_headers["Content-Length"] = str(len(body))
        raw = tuple((k.encode(), v.encode()) for k, v in all_headers.items())
        message = RawRequestMessage(
            method, path, HttpVersion11, CIMultiDictProxy(all_headers), raw, False, None, False, False, URL(path)
        )
        loop = asyncio.get_running_loop()
        task = cast("asyncio.Task[None]", asyncio.current_task())
        request = web.Request(
            message, cast(Any, _Body(body)), cast(Any, _Wire()), cast(Any, None), task, loop, remote=remote
        )
        match = await self.app.router.resolve(request)
        if isinstance(match, MatchInfoError):
            text = match.http_exception.text
            return match.http_exception.status, text.encode() if text else b"", None
        match.add_app(self.app)
        request._match_info = match  # as aiohttp's own Application._handle does
        try:
            response = await match.handler(request)
        except web.HTTPException as exc:
            return exc.status, (exc.text or "").encode(), None
        except Exception:
            log.exception("%s: %s %s failed", self.name, method, path)
            return 500, b"internal error", None
        assert isinstance(response, web.Response)
        payload = response.body
        body_out = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
        return response.status, body_out, response.headers.get("ETag")


class MemoryExchange:
    """The transport port, in memory: one per sending node (see :meth:`SimNetwork.carry`)."""

    def __init__(self, net: SimNetwork, sender: str) -> None:
        self.net = net
        self.sender = sender

    async def __call__(self, peer: Peer, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        return await self.net.carry(self.sender, peer.name, method, path, body, headers)


class SimNetwork:
    """``n`` nodes, every one a direct peer of every other (the network file's full mesh), on one virtual clock.

    Build it, ``await start()`` inside :func:`tests.sim.loop.run`, publish, inject faults, wait for
    :meth:`converged`, then ``await close()``.
    """

    def __init__(
        self,
        n: int,
        *,
        rule: Rule = FULL,
        faults: Faults | None = None,
        seed: int = 1,
        anti_entropy_seconds: float = 30.0,
    ) -> None:
        self.seed = seed
        self.rule = rule
        self.faults = faults or Faults()
        self.anti_entropy_seconds = anti_entropy_seconds
        self.rng = random.Random(seed)
        self.clock = VirtualClock()
        self.traffic = Traffic()
        self.partition: list[frozenset[str]] = []  # when set, only nodes of one group reach each other
        self.nodes: dict[str, SimNode] = {}
        for i in range(n):
            name = f"coop-{i:03d}"
            self.nodes[name] = SimNode(self, name, i)

    # ------------------------------------------------------------------------------------------ the network

    async def start(self) -> None:
        """Every node holds its own node document, knows every other node from the network file, and holds every
        node's document (the network as after its bootstrap); then every service starts."""
        for node in self.nodes.values():
            await node.publish_document()
        peers = [node.as_peer() for node in self.nodes.values()]
        documents = [node.log.entries[node.name][1] for node in self.nodes.values()]
        for node in self.nodes.values():
            for peer in peers:
                await node.peer_store.save_peer(peer)
            for blob in documents:
                if decode_entry(blob).header.origin != node.name:
                    node.log.add(blob)
        for node in self.nodes.values():
            await node.start()

    async def close(self) -> None:
        for node in self.nodes.values():
            if node.up:
                await node.stop()

    def _delay(self) -> float:
        low, high = self.faults.delay_ms
        return self.rng.uniform(low, high) / 1000

    def _cut(self, a: str, b: str) -> bool:
        return bool(self.partition) and not any(a in group and b in group for group in self.partition)

    def _lost(self) -> bool:
        return self.faults.loss > 0 and self.rng.random() < self.faults.loss

    async def carry(
        self, sender: str, dest: str, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> Answer:
        """One request from ``sender`` to ``dest`` and its answer, through the faults; counted."""
        kind = kind_of(path)
        self.traffic.requests[kind] += 1
        self.traffic.sent[(sender, kind)] += 1
        self.traffic.bytes[kind] += (
            HTTP_OVERHEAD + len(path) + len(body) + sum(len(k) + len(v) + 4 for k, v in headers.items())
        )
        there = self._delay()
        node = self.nodes.get(dest)
        if node is None or not node.up:
            self.traffic.refused += 1
            await asyncio.sleep(there)
            raise PeerUnavailableError(f"{dest} unreachable (connection refused)")
        if self._cut(sender, dest) or self._lost():
            self.traffic.lost += 1
            await asyncio.sleep(self.faults.timeout_s)
            raise PeerUnavailableError(f"{dest} unreachable (timed out)")
        await asyncio.sleep(there)
        if not node.up:
            self.traffic.refused += 1
            raise PeerUnavailableError(f"{dest} unreachable (connection reset)")
        status, answer, etag = await node.serve(method, path, body, headers, remote=sender)
        self.traffic.bytes[kind] += HTTP_OVERHEAD + len(answer)
        if self._cut(sender, dest) or self._lost():
            self.traffic.lost += 1
            await asyncio.sleep(max(0.0, self.faults.timeout_s - there))
            raise PeerUnavailableError(f"{dest} unreachable (timed out)")
        await asyncio.sleep(self._delay())
        return status, answer, etag

    # ------------------------------------------------------------------------------------------------ faults

    def split(self, *groups: Iterable[str]) -> None:
        """Partition the network: from now on only nodes of the same group reach each other."""
        self.partition = [frozenset(g) for g in groups]

    def heal(self) -> None:
        self.partition = []

    async def take_down(self, name: str) -> None:
        """The node's process stops: its service ends, requests to it are refused."""
        await self.nodes[name].stop()

    async def bring_back(self, name: str) -> None:
        await self.nodes[name].restart()

    # ----------------------------------------------------------------------------------------------- observe

    def up(self) -> list[SimNode]:
        return [node for node in self.nodes.values() if node.up]

    def own_heads(self) -> dict[str, tuple[int, bytes]]:
        """Each origin's head in its own log: what every node should hold."""
        out: dict[str, tuple[int, bytes]] = {}
        for node in self.nodes.values():
            head = node.log.head(node.name)
            if head is not None:
                out[node.name] = head
        return out

    def converged(self, nodes: Iterable[SimNode] | None = None) -> bool:
        """Every node (of ``nodes``, default: the nodes up) holds every origin's log up to its head."""
        target = self.own_heads()
        return all(node.log.same_heads(target) for node in (nodes if nodes is not None else self.up()))

    def holders(self, origin: str, seq: int) -> int:
        return sum(1 for node in self.nodes.values() if (node.log.head(origin) or (0, b""))[0] >= seq)

    def spread(self, origin: str, seq: int) -> float | None:
        """Virtual seconds from the entry's publication until the last node stored it (None: not everywhere)."""
        times = [node.log.stored_at.get((origin, seq)) for node in self.nodes.values()]
        if any(t is None for t in times):
            return None
        published = self.nodes[origin].log.stored_at[(origin, seq)]
        return (max(cast(list[int], times)) - published) / 1000

    async def run_for(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def run_until(self, check: Callable[[], bool], within: float, step: float = 0.05) -> float:
        """Let the network run until ``check()`` holds; the virtual seconds it took. Raises after ``within``."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not check():
            if loop.time() - start > within:
                raise AssertionError(f"not reached within {within} virtual seconds")
            await asyncio.sleep(step)
        return loop.time() - start

    def now(self) -> float:
        return asyncio.get_running_loop().time()
