"""Delivery from the durable outbox: one loop per peer, exponential backoff with jitter.

The outbox rows are written by the node in the same transaction as the change they announce, so a crash can
lose no announcement. Each peer has its own loop (a slow or dead peer never delays the others); a loop wakes
when told new items exist (:meth:`Deliverer.wake`) or when the earliest pending item becomes due. An item is
removed when the peer confirmed it, or refused it for good (a 4xx answer other than 408 and 429: sending it
again would be refused again; the refusal is recorded in the peer's health for the operator, and the receiver
still gets the entries by pulling when it can take them). Any other failure reschedules the rest of the batch
after a delay that doubles with each attempt (capped) and is randomised so that many nodes do not retry in step.
A loop survives every error: an unforeseen one is logged with the peer named and retried after a backoff.

The loops' bookkeeping is shared: an update wakes every peer's loop at once, and what they ask of the store at
about the same moment is asked once (:class:`Coalesced`): the items due for every woken peer in one read, the
entries to push read once for all of them (:class:`SingleFlight`), and the confirmations of the pushes that end
together (items removed, each peer's last success) in one write. An author's cost per update then hardly grows
with the number of its peers (the HTTP pushes remain, one per peer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Final, Generic, TypeVar

from protocol import MAX_DIRECT_ENVELOPE_BYTES, InvalidInputError, canonical, decode_entry

from .errors import PERMANENT_CODES, PeerUnavailableError, RefusedByPeerError
from .ports import LEFT, MEMBER, SUSPENDED, LogPort, OutboxItem, OutboxPort, Peer, PeerPort
from .transport import PeerClient
from .trust import TrustStore

log = logging.getLogger(__name__)

BATCH = 500
IDLE_WAIT_S = 30.0
ENTRY, DIRECT = "entry", "direct"  # the two kinds of outbox item: a log entry (origin, seq), a direct record
#: direct record types still delivered to a suspended or departed peer: a node that erased that coop's records
#: tells it so (docs/PROTOCOL.md §8.1, erasure receipts)
ALWAYS_DELIVERED: Final = frozenset({"erasure_receipt"})


def backoff_ms(attempts: int, rng: random.Random, base_ms: int = 500, cap_ms: int = 300_000) -> int:
    """Delay before the next try after ``attempts`` failures: base·2^attempts, capped, times 0.5–1 at random."""
    ceiling = min(cap_ms, base_ms * 2 ** min(attempts, 30))
    return int(ceiling * (0.5 + 0.5 * rng.random()))


def direct_type(payload: bytes) -> str | None:
    """The record type of a queued direct record (None if it does not decode: it is then sent as usual)."""
    try:
        return decode_entry(payload, max_bytes=MAX_DIRECT_ENVELOPE_BYTES).header.type
    except InvalidInputError:
        return None


def entry_payload(origin: str, seq: int) -> bytes:
    return canonical.encode([origin, seq])


T = TypeVar("T")
R = TypeVar("R")


class Coalesced(Generic[T, R]):
    """Calls made while the previous batch runs (or in the same turn of the event loop) are run together: ``run``
    gets every waiting call's argument and its one result goes to each caller (its exception too). The delivery
    loops woken by one update each ask for their due items, then confirm their pushes; here that is one
    transaction for all of them instead of one per peer."""

    def __init__(self, run: Callable[[list[T]], Awaitable[R]]) -> None:
        self._run = run
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, argument: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # a caller cancelled meanwhile leaves no "never retrieved" warning
        self._waiting.append((argument, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await asyncio.shield(future)  # a cancelled caller leaves the batch to finish for the others

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # the other loops woken in this turn add theirs
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                result = await self._run([argument for argument, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.wait([self._task], timeout=10)


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class SingleFlight(Generic[R]):
    """Concurrent calls with the same key share one: every loop pushing the same new entries reads them once."""

    def __init__(self) -> None:
        self._flying: dict[Hashable, asyncio.Future[R]] = {}

    async def __call__(self, key: Hashable, fetch: Callable[[], Awaitable[R]]) -> R:
        flying = self._flying.get(key)
        if flying is None:
            flying = self._flying[key] = asyncio.ensure_future(fetch())
            flying.add_done_callback(lambda _: self._flying.pop(key, None))
            flying.add_done_callback(_retrieved)
        return await asyncio.shield(flying)


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
        self._due: Coalesced[str, dict[str, tuple[list[OutboxItem], int | None]]] = Coalesced(self._due_many)
        self._settle: Coalesced[tuple[list[int], str, int], None] = Coalesced(self._delivered)
        self._reads: SingleFlight[list[bytes]] = SingleFlight()

    async def _due_many(self, peers: list[str]) -> dict[str, tuple[list[OutboxItem], int | None]]:
        return await self.outbox.due_many(sorted(set(peers)), self.clock(), BATCH)

    async def _read(self, origin: str, after: int, limit: int) -> list[bytes]:
        """The log entries to push, read once for every loop asking for the same ones at the same time."""
        return await self._reads((origin, after, limit), lambda: self.log_store.read(origin, after, limit))

    async def _delivered(self, settled: list[tuple[list[int], str, int]]) -> None:
        await self.outbox.delivered([i for ids, _, _ in settled for i in ids], [(peer, at) for _, peer, at in settled])

    def refresh(self) -> None:
        """Start a loop for every direct member peer that has none (peers join while the node runs)."""
        if self._stopping:
            return
        for peer in [*self.trust.direct_members(), *self.trust.direct_departed()]:
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
        await self._due.close()
        await self._settle.close()
        for task in tasks:
            if not task.done():
                log.error("delivery loop %s did not stop", task.get_name())
            elif not task.cancelled() and task.exception() is not None:
                log.error("delivery loop %s had failed: %r", task.get_name(), task.exception())
        self._tasks.clear()

    async def _loop(self, name: str) -> None:
        """Deliver ``name``'s queue until the node stops or the peer leaves. Nothing ends it early: an error no
        one foresaw is logged with the peer named and the loop tries again after a backoff."""
        event = self._wake[name]
        failures = 0
        while not self._stopping:
            peer = self.trust.peer(name)
            if peer is None or peer.status not in (MEMBER, SUSPENDED, LEFT):
                return  # not a node of the network (any more): its loop ends; items wait (or are dropped)
            departed = peer.status != MEMBER
            event.clear()
            try:
                items, next_due = (await self._due(name)).get(name, ([], None))
                if departed:  # suspended or left: only erasure receipts still go (erasure outranks governance)
                    items = [i for i in items if i.kind == DIRECT and direct_type(i.payload) in ALWAYS_DELIVERED]
                    if not items:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(event.wait(), IDLE_WAIT_S)
                        continue
                if items:
                    settled = await self._send(peer, items)
                    failures = 0
                    # everything due was confirmed and nothing was queued since (a wake would say so): the queue
                    # holds only what ``next_due`` names, no need to ask the store again before waiting
                    if not settled or len(items) >= BATCH or event.is_set():
                        continue
                now = self.clock()
                timeout = IDLE_WAIT_S if next_due is None else min(IDLE_WAIT_S, max(0.0, (next_due - now) / 1000))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout)
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                delay = backoff_ms(failures, self.rng) / 1000
                log.exception(
                    "delivery loop for %s: unexpected error (%d in a row); trying again in %.1f s",
                    name,
                    failures,
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), delay)

    async def _send(self, peer: Peer, items: list[OutboxItem]) -> bool:
        """Send a batch. Confirmed items leave the queue. A refusal that sending again cannot change (a 4xx other
        than 408 and 429) is final: the log entries it concerns leave the queue (a pull repairs whatever the
        peer lacks once it accepts them), a direct record it concerns is set aside, kept for the operator, when
        its code says the record itself is wrong (:data:`PERMANENT_CODES`), and every such refusal is recorded
        in the peer's health. The rest is retried later with a backoff, whether the peer was unavailable or
        something unforeseen failed here. True when every item was confirmed (nothing refused, nothing failed)."""
        done: list[int] = []
        refused: list[tuple[list[int], RefusedByPeerError]] = []
        set_aside: list[int] = []
        failure: str | None = None
        try:
            done.extend(await self._push_entries(peer, [i for i in items if i.kind == ENTRY], refused))
            for item in (i for i in items if i.kind != ENTRY):
                if item.kind != DIRECT:
                    reason = f"unknown outbox kind {item.kind!r}"
                    log.error("outbox item %d for %s set aside: %s", item.id, peer.name, reason)
                    await self.outbox.refused([item.id], error=reason, at=self.clock())
                    set_aside.append(item.id)
                    continue
                try:
                    await self.client.direct(peer, item.payload)
                except RefusedByPeerError as exc:
                    if exc.code not in PERMANENT_CODES:
                        raise  # e.g. it does not know this node's key yet: worth trying again later
                    # the record itself is refused: retrying cannot help; kept, set aside, for the operator
                    log.error("%s refused direct record (outbox item %d) for good: %s", peer.name, item.id, exc)
                    await self.outbox.refused([item.id], error=str(exc), at=self.clock())
                    await self.peers.record_refusal(peer.name, at=self.clock(), reason=str(exc), dropped=0)
                    set_aside.append(item.id)
                    continue
                done.append(item.id)
        except PeerUnavailableError as exc:
            failure = str(exc)
        except Exception as exc:
            log.exception("delivery to %s failed unexpectedly", peer.name)
            failure = f"internal: {type(exc).__name__}: {exc}"
        given_up = [i for ids, _ in refused for i in ids]
        if failure is None and not refused and not set_aside:  # the common case: batched with the other peers'
            await self._settle((done, peer.name, self.clock()))
            return True
        if done or given_up:
            await self.outbox.done([*done, *given_up])
        for ids, refusal in refused:
            await self.peers.record_refusal(peer.name, at=self.clock(), reason=str(refusal), dropped=len(ids))
            log.warning("delivery to %s refused for good, %d item(s) given up: %s", peer.name, len(ids), refusal)
        if failure is None:
            await self.peers.record_contact(peer.name, at=self.clock(), error=None)
            return False
        settled = {*done, *given_up, *set_aside}
        pending = [i for i in items if i.id not in settled]
        attempts = max(i.attempts for i in pending) if pending else 0
        delay = backoff_ms(attempts, self.rng)
        if pending:
            await self.outbox.failed([i.id for i in pending], next_attempt_at=self.clock() + delay, error=failure)
        await self.peers.record_contact(peer.name, at=self.clock(), error=failure)
        log.warning("delivery to %s failed (attempt %d, next in %d ms): %s", peer.name, attempts + 1, delay, failure)
        return False

    async def _push_entries(
        self, peer: Peer, items: list[OutboxItem], refused: list[tuple[list[int], RefusedByPeerError]]
    ) -> list[int]:
        """Push the runs the items name; when the peer is behind, push from its head. Confirmed item ids; the
        items of an origin whose push the peer refused for good go to ``refused``."""
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
                blobs = await self._read(origin, after, min(BATCH, high - after))
                if not blobs:
                    break
                try:
                    head = await self.client.push(peer, blobs)
                except RefusedByPeerError as exc:
                    refused.append(([item_id for seq, item_id in pairs if seq > max(head, after)], exc))
                    break
                if head >= after + len(blobs):
                    after += len(blobs)
                elif head < after:
                    after = head  # the peer is behind (it was down): fill from its head
                else:
                    break  # partial progress only: retry later
            confirmed.extend(item_id for seq, item_id in pairs if seq <= max(head, after))
        return confirmed
