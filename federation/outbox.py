"""Delivery from the durable outbox: one loop per peer, exponential backoff with jitter, nothing dropped.

The outbox rows are written by the node in the same transaction as the change they announce, so a crash can
lose no announcement. Each peer has its own loop (a slow or dead peer never delays the others); a loop wakes
when told new items exist (:meth:`Deliverer.wake`) or when the earliest pending item becomes due. An item is
removed only when the peer confirmed it; a failure reschedules the whole batch after a delay that doubles with
each attempt (capped) and is randomised so that many nodes do not retry in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable

from protocol import canonical

from .errors import DeliveryRefusedError, PeerUnavailableError
from .ports import LogPort, OutboxItem, OutboxPort, Peer, PeerPort
from .transport import PeerClient
from .trust import TrustStore

log = logging.getLogger(__name__)

BATCH = 500
IDLE_WAIT_S = 30.0
ENTRY, DIRECT = "entry", "direct"  # the two kinds of outbox item: a log entry (origin, seq), a direct record


def backoff_ms(attempts: int, rng: random.Random, base_ms: int = 500, cap_ms: int = 300_000) -> int:
    """Delay before the next try after ``attempts`` failures: base·2^attempts, capped, times 0.5–1 at random."""
    ceiling = min(cap_ms, base_ms * 2 ** min(attempts, 30))
    return int(ceiling * (0.5 + 0.5 * rng.random()))


def entry_payload(origin: str, seq: int) -> bytes:
    return canonical.encode([origin, seq])


class Deliverer:
    def __init__(
        self,
        outbox: OutboxPort,
        log_store: LogPort,
        peers: PeerPort,
        trust: TrustStore,
        client: PeerClient,
        clock: Callable[[], int],
        rng: random.Random,
    ) -> None:
        self.outbox = outbox
        self.log_store = log_store
        self.peers = peers
        self.trust = trust
        self.client = client
        self.clock = clock
        self.rng = rng
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._stopping = False

    def refresh(self) -> None:
        """Start a loop for every direct member peer that has none (peers join while the node runs)."""
        if self._stopping:
            return
        for peer in self.trust.direct_members():
            if peer.name not in self._tasks or self._tasks[peer.name].done():
                self._tasks[peer.name] = asyncio.create_task(self._loop(peer.name), name=f"deliver-{peer.name}")

    def wake(self, peer: str | None = None) -> None:
        for name in [peer] if peer else list(self._tasks):
            self._wake[name].set()

    async def stop(self) -> None:
        """Stop every loop. The flag matters: a cancellation that races a wake-up can be swallowed by
        ``asyncio.wait_for`` (Python 3.11), and the loop must still end."""
        self._stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for event in self._wake.values():
            event.set()
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            if not task.done():
                log.error("delivery loop %s did not stop", task.get_name())
            elif not task.cancelled() and task.exception() is not None:
                log.error("delivery loop %s had failed: %r", task.get_name(), task.exception())
        self._tasks.clear()

    async def _loop(self, name: str) -> None:
        event = self._wake[name]
        while not self._stopping:
            peer = self.trust.peer(name)
            if peer is None or peer.status != "member":
                return  # the peer left or was suspended: its loop ends; items wait (or are dropped by the node)
            event.clear()
            now = self.clock()
            try:
                items = await self.outbox.due(name, now, BATCH)
            except Exception:
                log.exception("outbox read for %s failed", name)
                items = []
            if not items:
                next_due = await self.outbox.next_due(name)
                timeout = IDLE_WAIT_S if next_due is None else min(IDLE_WAIT_S, max(0.0, (next_due - now) / 1000))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout)
                continue
            await self._send(peer, items)

    async def _send(self, peer: Peer, items: list[OutboxItem]) -> None:
        done: list[int] = []
        set_aside: set[int] = set()
        try:
            done.extend(await self._push_entries(peer, [i for i in items if i.kind == ENTRY]))
            for item in (i for i in items if i.kind != ENTRY):
                if item.kind != DIRECT:
                    reason = f"unknown outbox kind {item.kind!r}"
                    log.error("outbox item %d for %s set aside: %s", item.id, peer.name, reason)
                    await self.outbox.refused([item.id], error=reason, at=self.clock())
                    set_aside.add(item.id)
                    continue
                try:
                    await self.client.direct(peer, item.payload)
                except DeliveryRefusedError as exc:
                    # the record itself is refused: retrying cannot help; kept, set aside, for the operator
                    log.error("%s refused direct record (outbox item %d) for good: %s", peer.name, item.id, exc.reason)
                    await self.outbox.refused([item.id], error=exc.reason, at=self.clock())
                    set_aside.add(item.id)
                    continue
                done.append(item.id)
        except PeerUnavailableError as exc:
            if done:
                await self.outbox.done(done)
            settled = set(done) | set_aside
            pending = [i for i in items if i.id not in settled]
            attempts = max(i.attempts for i in pending) if pending else 0
            delay = backoff_ms(attempts, self.rng)
            await self.outbox.failed([i.id for i in pending], next_attempt_at=self.clock() + delay, error=str(exc))
            await self.peers.record_contact(peer.name, at=self.clock(), error=str(exc))
            log.warning("delivery to %s failed (attempt %d, next in %d ms): %s", peer.name, attempts + 1, delay, exc)
            return
        await self.outbox.done(done)
        await self.peers.record_contact(peer.name, at=self.clock(), error=None)

    async def _push_entries(self, peer: Peer, items: list[OutboxItem]) -> list[int]:
        """Push the runs the items name; when the peer is behind, push from its head. Confirmed item ids."""
        wanted: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
        confirmed: list[int] = []
        for item in items:
            value = canonical.decode(item.payload)
            if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
                log.error("dropping malformed outbox item %d for %s", item.id, peer.name)
                confirmed.append(item.id)
                continue
            origin, seq = value[0], value[1]
            assert isinstance(origin, str) and isinstance(seq, int)
            wanted[origin].append((seq, item.id))
        for origin, pairs in wanted.items():
            low, high = min(s for s, _ in pairs), max(s for s, _ in pairs)
            after = low - 1
            head = -1
            while after < high:
                blobs = await self.log_store.read(origin, after, min(BATCH, high - after))
                if not blobs:
                    break
                head = await self.client.push(peer, blobs)
                if head >= after + len(blobs):
                    after += len(blobs)
                elif head < after:
                    after = head  # the peer is behind (it was down): fill from its head
                else:
                    break  # partial progress only: retry later
            confirmed.extend(item_id for seq, item_id in pairs if seq <= max(head, after))
        return confirmed
