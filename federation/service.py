"""The federation of one node: its routes, its delivery loops and its scheduled anti-entropy, wired together.

The node builds one :class:`FederationService` from its stores (the ports), adds :meth:`routes` to its
application and calls :meth:`start` / :meth:`stop` from a ``cleanup_ctx``. After committing a change that
enqueued outbox items it calls :meth:`notify`, which wakes the delivery loops at once: that is what keeps the
time until an update is visible on the other nodes in the tens of milliseconds, while the scheduled pull makes
delivery certain whatever push missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from protocol import (
    MAX_DIRECT_ENVELOPE_BYTES,
    InvalidInputError,
    KeyInfo,
    KeyResolver,
    Keyring,
    MalformedError,
    Record,
    SigningKey,
    UnknownKeyError,
    canonical,
    check_body,
    decode_entry,
    key_id,
    open_direct,
)
from protocol.keystate import KEY_TYPES

from . import joining
from .documents import peer_from_document
from .errors import (
    ForkError,
    InvitationError,
    PeerRefusedError,
    PeerUnavailableError,
    RecordRefusedError,
    RefusedByPeerError,
    SuspendedPeerError,
)
from .governance import GOVERNANCE_TYPES, Governance
from .outbox import ENTRY, Deliverer, entry_payload
from .ports import (
    MEMBER,
    InboxPort,
    InvitationPort,
    LogPort,
    NodeDocumentPort,
    OutboxPort,
    Peer,
    PeerKey,
    PeerPort,
    ProposerPort,
)
from .recovery import DEFAULT_WAIT_S, OwnLogGate
from .replication import PAGE, Replicator
from .transport import (
    CONTENT_TYPE,
    DIRECT_PATH,
    MAX_BODY,
    Exchange,
    PeerClient,
    ReplayCheck,
    ReplayGuard,
    authenticate,
    read_limited,
    refusal,
    wall_clock_ms,
)
from .trust import TrustStore

log = logging.getLogger(__name__)

FIRST_SYNC_DELAY_S = 0.2  # the first retry of a first sync; doubling up to FIRST_SYNC_MAX_DELAY_S
FIRST_SYNC_MAX_DELAY_S = 5.0

#: set while this process applies a change announced by another worker: it must not be announced back
_FOLLOWING: contextvars.ContextVar[bool] = contextvars.ContextVar("following", default=False)


class FederationService:
    def __init__(
        self,
        *,
        name: str,
        key: Callable[[], SigningKey],
        log_store: LogPort,
        peers: PeerPort,
        outbox: OutboxPort,
        inbox: InboxPort,
        invitations: InvitationPort,
        documents: NodeDocumentPort,
        clock: Callable[[], int] = wall_clock_ms,
        rng: random.Random | None = None,
        anti_entropy_seconds: float = 30.0,
        charter: Mapping[str, Any] | None = None,
        proposer: ProposerPort | None = None,
        own_keys: Callable[[], list[PeerKey]] | None = None,
        replay: ReplayCheck | None = None,
        own_log_wait_seconds: float = DEFAULT_WAIT_S,
        exchange: Exchange | None = None,
        pull_fanout: int = 0,
        relay_fanout: int = 0,
    ) -> None:
        """``exchange``: how requests reach peers (HTTP when None). ``pull_fanout``: how many direct peers, drawn
        at random, each anti-entropy round pulls from (0: every one). ``relay_fanout``: 0 (the default) means an
        origin pushes its new entries to every direct peer and nothing is relayed; k > 0 means an origin pushes
        them to k peers drawn at random (:meth:`push_targets`) and a node that stores entries from a push relays
        them to k others. docs/PROTOCOL.md, "Fan-out", gives the figures behind the defaults."""
        self.name = name
        self.key = key
        self.log_store = log_store
        self.peers = peers
        self.outbox = outbox
        self.inbox = inbox
        self.invitations = invitations
        self.documents = documents
        self.clock = clock
        self.rng = rng or random.Random()
        self.anti_entropy_seconds = anti_entropy_seconds
        self.proposer = proposer
        self.own_keys = own_keys
        self.exchange = exchange
        self.pull_fanout = max(0, pull_fanout)
        self.relay_fanout = max(0, relay_fanout)
        self.trust = TrustStore(name)
        #: closed while this node may hold less of its own log than a peer does (its publisher reads it)
        self.own_log = OwnLogGate(name, own_log_wait_seconds)
        self.governance = Governance(
            name,
            self.trust,
            peers,
            self.clock,
            charter,
            self.reload_peers,
            drop_records=log_store.drop_origin,
            on_key_recovered=self._key_recovered,
        )
        self.replay: ReplayCheck = replay or ReplayGuard()
        #: called when this process changed what every process of the node must know (peers, keys, governance
        #: records): with several workers on one database, the node tells the others to reload
        self.on_shared_state_changed: Callable[[], Awaitable[None]] | None = None
        #: whether this process runs the loops (anti-entropy, delivery, first syncs); with several workers only
        #: the one holding the node's leadership does, the others answer requests
        self.leading = False
        self._session: aiohttp.ClientSession | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._heads_answer: tuple[dict[str, tuple[int, bytes]], bytes, str] = (
            {},
            canonical.encode({}),
            heads_etag(canonical.encode({})),
        )
        self._schedule = True
        self._first_synced: set[str] = set()  # peers a first sync was started with (see _sync_new_peers)
        self.client: PeerClient
        self.replicator: Replicator
        self.deliverer: Deliverer

    # ------------------------------------------------------------------------------------------- lifecycle

    async def start(self, *, lead: bool = True, schedule: bool = True) -> None:
        """Build the clients and the in-memory state (trust, governance); with ``lead``, also run the loops (see
        :meth:`lead`). ``schedule``: run the periodic anti-entropy and governance rounds on APScheduler (wall
        time). Without it the caller runs :meth:`anti_entropy` every :meth:`anti_entropy_delay` seconds and
        ``governance.tick`` every minute (the network simulation does, on its virtual clock)."""
        self._schedule = schedule
        if self.exchange is None:
            self._session = aiohttp.ClientSession()
        self.client = PeerClient(self._session, self.key, self.name, self.clock, exchange=self.exchange)
        self.replicator = Replicator(
            self.log_store,
            self.peers,
            self.trust,
            self.client,
            self.clock,
            on_stored=self._on_stored,
            spawn=self.spawn,
            own_log=self.own_log,
        )
        self.deliverer = Deliverer(
            self.outbox, self.log_store, self.peers, self.trust, self.client, self.clock, self.rng
        )
        await self.reload_peers()
        await self._replay_trust()
        await self._replay_governance()
        # nothing is signed until each peer said how much of our own log it holds (the first syncs, or below)
        self.own_log.expect(p.name for p in self.trust.direct_members())
        if lead:
            await self.lead()
        else:
            for peer in self.trust.direct_members():
                self.spawn(self._check_own_log_with(peer))

    async def _check_own_log_with(self, peer: Peer) -> None:
        """Ask ``peer`` how much of our own log it holds, until it answers or the gate's wait runs out: in a worker
        that does not lead (it runs no syncs), and in the leader for the peers its first syncs do not reach (with
        ``pull_fanout``). When the peer holds more, the leader pulls from it (which takes our tail back); a worker
        that does not lead waits until our stored head reached it (the leader takes it back)."""
        delay = FIRST_SYNC_DELAY_S
        while self.own_log.blocked() is not None:
            try:
                theirs = await self.client.heads(peer)
                held = theirs.get(self.name, (0, b""))[0]
                ours = (await self.log_store.heads()).get(self.name, (0, b""))[0]
                if held <= ours:
                    self.own_log.heard(peer.name)
                    return
                if self.leading:
                    await self.replicator.sync_from(peer)
                    return
            except RefusedByPeerError as exc:
                if exc.code in ("unknown_peer", "suspended_peer"):  # it takes nothing from us
                    self.own_log.heard(peer.name)
                    return
            except PeerUnavailableError:
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, FIRST_SYNC_MAX_DELAY_S)

    async def lead(self) -> None:
        """Run the loops: scheduled anti-entropy and governance ticks, one delivery loop per peer, first syncs.
        A single process does it; with several workers, the one that holds the node's leadership."""
        if self.leading:
            return
        self.leading = True
        if self._schedule:
            self._scheduler = AsyncIOScheduler()
            self._scheduler.add_job(
                self.anti_entropy,
                "interval",
                seconds=self.anti_entropy_seconds,
                jitter=self.anti_entropy_jitter(),
                max_instances=1,
                coalesce=True,
                id="anti-entropy",
            )
            self._scheduler.add_job(self.governance.tick, "interval", seconds=60, id="governance", coalesce=True)
            self._scheduler.start()
        self.deliverer.refresh()
        self._sync_new_peers()

    def anti_entropy_jitter(self) -> int:
        """Seconds an anti-entropy round may start early or late, so that the nodes do not pull in step."""
        return max(1, int(self.anti_entropy_seconds / 5))

    def anti_entropy_delay(self) -> float:
        """The wait until the next round, as the scheduler draws it: the period, plus or minus the jitter."""
        jitter = self.anti_entropy_jitter()
        return max(0.0, self.anti_entropy_seconds + self.rng.uniform(-jitter, jitter))

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        if hasattr(self, "deliverer"):
            await self.deliverer.stop()
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def reload_peers(self) -> None:
        self.trust.load(await self.peers.list_peers())
        own = self.own_keys() if self.own_keys is not None else [PeerKey(self.key().public_bytes)]
        self.trust.put(Peer(self.name, "", keys=own, direct=False))
        members = {p.name for p in self.trust.direct_members()}
        self.own_log.forget(p.name for p in self.trust.peers() if p.name not in members)
        if self.leading:
            self.deliverer.refresh()
            self._sync_new_peers()
        await self._announce()

    async def follow(self) -> None:
        """Another worker of this node changed peers, keys or governance records: read them again from the
        database (decisions re-apply idempotently) without announcing it back."""
        token = _FOLLOWING.set(True)
        try:
            await self.reload_peers()
            await self._replay_trust()
            await self._replay_governance()
        finally:
            _FOLLOWING.reset(token)

    async def _announce(self) -> None:
        if self.on_shared_state_changed is not None and not _FOLLOWING.get():
            await self.on_shared_state_changed()

    async def _on_stored(self, records: Sequence[Record]) -> None:
        await self.governance.on_records(records)
        if any(r.type in GOVERNANCE_TYPES or r.type in KEY_TYPES for r in records):
            await self._announce()

    def _sync_new_peers(self) -> None:
        """Start a first sync with every direct member peer not synced with yet: at start (with ``pull_fanout``,
        with that many of them), and when a coop is admitted or joins (a newcomer should hold the network's
        records within seconds, not at the next round)."""
        new = [peer for peer in self.trust.direct_members() if peer.name not in self._first_synced]
        starting = not self._first_synced
        self._first_synced.update(peer.name for peer in new)
        if starting and self.pull_fanout and len(new) > self.pull_fanout:
            sampled = self.rng.sample(new, self.pull_fanout)  # catching up at start is what a round does
            for peer in new:
                if peer not in sampled:  # but each says how much of our own log it holds (federation.recovery)
                    self.spawn(self._check_own_log_with(peer))
            new = sampled
        for peer in new:
            self.spawn(self.first_sync(peer))

    async def first_sync(self, peer: Peer) -> None:
        """Pull from ``peer`` as soon as it answers: retried with a short, growing backoff (a peer that is still
        starting answers within seconds) for up to one anti-entropy period, after which the rounds take over."""
        delay, waited = FIRST_SYNC_DELAY_S, 0.0
        while True:
            try:
                await self.replicator.sync_from(peer)
                return
            except PeerUnavailableError as exc:
                log.info("first sync from %s not yet (%s); again in %.1f s", peer.name, exc, delay)
                await self.peers.record_contact(peer.name, at=self.clock(), error=str(exc))
            except Exception as exc:
                log.exception("first sync from %s failed unexpectedly", peer.name)
                await self.peers.record_contact(peer.name, at=self.clock(), error=f"internal: {exc}")
            if waited >= self.anti_entropy_seconds:
                return
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, FIRST_SYNC_MAX_DELAY_S)

    async def _replay_trust(self) -> None:
        """Re-apply node documents and key revocations from the log, per origin in chain order: a crash between
        storing them and saving the peers table must not leave a revoked key trusted. Applying them again is
        harmless (every effect is tagged with its entry's seq)."""
        records = [decode_entry(blob) for blob in await self.log_store.records_of_types(sorted(KEY_TYPES))]
        for entry in sorted(records, key=lambda e: (e.header.origin, e.header.seq)):
            if entry.header.origin == self.name:
                continue  # our own keys come from our key files, not from our log
            changed = self.trust.apply(Record(entry, check_body(entry)))
            if changed is not None:
                await self.peers.save_peer(changed)

    async def _key_recovered(self, origin: str) -> None:
        """A key recovery decision changed ``origin``'s keys: forks it blocked may now be repaired."""
        self.replicator.unblock(origin)
        self.spawn(self.anti_entropy())

    async def _replay_governance(self) -> None:
        """Rebuild the decision state from the proposals and votes already held (decisions re-apply idempotently)."""
        for blob in await self.log_store.records_of_types(sorted(GOVERNANCE_TYPES)):
            entry = decode_entry(blob)
            await self.governance.on_record(Record(entry, check_body(entry)))

    def notify(self) -> None:
        """New outbox items were committed: deliver now (before :meth:`start`, the first round will)."""
        deliverer = getattr(self, "deliverer", None)
        if deliverer is not None:
            deliverer.wake()

    def push_targets(self, exclude: Collection[str] = ()) -> list[str]:
        """The direct member peers a new entry goes to: every one, or ``relay_fanout`` of them drawn at random."""
        peers = [p.name for p in self.trust.direct_members() if p.name not in exclude]
        if self.relay_fanout and len(peers) > self.relay_fanout:
            return self.rng.sample(peers, self.relay_fanout)
        return peers

    def pull_targets(self) -> list[Peer]:
        """The direct member peers this anti-entropy round pulls from: every one, or ``pull_fanout`` at random."""
        peers = self.trust.direct_members()
        if self.pull_fanout and len(peers) > self.pull_fanout:
            return self.rng.sample(peers, self.pull_fanout)
        return peers

    async def relay(self, origin: str, first: int, last: int, source: str) -> None:
        """Entries ``first``..``last`` of ``origin`` came by a push from ``source`` and were stored: with
        ``relay_fanout``, queue them for that many other peers and wake their delivery (else nothing)."""
        if not self.relay_fanout or last < first:
            return
        targets = self.push_targets(exclude=(source, origin, self.name))
        at = self.clock()
        for name in targets:
            for seq in range(first, last + 1):
                await self.outbox.enqueue(name, ENTRY, entry_payload(origin, seq), at)
        for name in targets:
            self.deliverer.wake(name)

    async def anti_entropy(self) -> None:
        """Pull from the direct peers :meth:`pull_targets` draws; record each peer's health. Never raises."""
        for peer in self.pull_targets():
            try:
                await self.replicator.sync_from(peer)
            except PeerUnavailableError as exc:
                log.warning("sync from %s failed: %s", peer.name, exc)
                await self.peers.record_contact(peer.name, at=self.clock(), error=str(exc))
            except Exception as exc:
                log.exception("sync from %s failed unexpectedly", peer.name)
                await self.peers.record_contact(peer.name, at=self.clock(), error=f"internal: {exc}")
        try:
            await self.learn_decisions_about_us()
        except Exception:
            log.exception("learning the decisions about this node failed")

    async def learn_decisions_about_us(self) -> None:
        """An open decision about this node is taken by the others' votes, and once it is they may refuse our
        requests (a suspended or departed coop's are): the last votes may never reach us. So we fetch the
        decision's certificate (public, ``GET /federation/v1/certificates/...``) from the proposer, then from any
        peer, check it as a stranger would, and count its votes. Never raises."""
        if self._session is None:
            return
        for case in self.governance.pending_about_self():
            proposer = case.entry.header.origin
            peers = sorted(self.trust.peers(), key=lambda p: (p.name != proposer, p.name))
            for peer in peers:
                if peer.name == self.name or not peer.url:
                    continue
                try:
                    cert = await joining.certificate(self._session, peer.url, case.ref)
                except PeerUnavailableError as exc:
                    log.info("certificate of %s from %s: %s", case.ref, peer.name, exc)
                    continue
                if cert is not None and await self.governance.take_certificate(cert):
                    log.warning("learnt from %s's certificate that %s was accepted", peer.name, case.ref)
                    break

    # ----------------------------------------------------------------------------------------------- routes

    #: (method, path, handler method name): the federation HTTP surface, declared once (docs/PROTOCOL.md §13).
    ROUTE_TABLE: tuple[tuple[str, str, str], ...] = (
        ("GET", "/.well-known/bigre/node", "handle_node_document"),
        ("GET", "/federation/v1/heads", "handle_heads"),
        ("GET", "/federation/v1/log/{origin}", "handle_log"),
        ("POST", "/federation/v1/push", "handle_push"),
        ("POST", DIRECT_PATH, "handle_direct"),
        ("POST", "/federation/v1/messages", "handle_direct"),  # the 1.0 name, kept as an alias for one release
        ("POST", "/federation/v1/join", "handle_join"),
        ("POST", "/federation/v1/apply", "handle_apply"),
        ("GET", "/federation/v1/certificates/{origin}/{id}", "handle_certificate"),
    )

    def routes(self) -> list[web.RouteDef]:
        return [web.route(method, path, getattr(self, name)) for method, path, name in self.ROUTE_TABLE]

    async def _authenticated(
        self, request: web.Request, *, introduced_by_body: bool = False, departed: bool = False
    ) -> tuple[Peer, bytes]:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise _TooLarge()
        body = await read_limited(request.content, MAX_BODY)
        if len(body) > MAX_BODY:
            raise _TooLarge()
        try:
            peer = await authenticate(
                request, body, trust=self.trust, replay=self.replay, now=self.clock(), departed=departed
            )
        except UnknownKeyError:
            if not introduced_by_body:
                raise
            keys = self._keys_with_introduced(request, body)
            if keys is None:
                raise
            peer = await authenticate(
                request, body, trust=self.trust, replay=self.replay, now=self.clock(), keys=keys, departed=departed
            )
        return peer, body

    def _keys_with_introduced(self, request: web.Request, body: bytes) -> KeyResolver | None:
        """Our keys plus the sender's request key, if the pushed entries introduce it (a hand-over or a document
        of the sender that verifies with the keys we hold and lists that key); else None."""
        origin, kid = request.headers.get("Bigre-Origin", ""), request.headers.get("Bigre-Key", "")
        try:
            value = canonical.decode(body, canonical.Limits(max_bin=MAX_BODY))
        except InvalidInputError:
            return None
        if not isinstance(value, list):
            return None
        entries = []
        for blob in value[:PAGE]:
            if isinstance(blob, bytes):
                with contextlib.suppress(InvalidInputError):
                    entries.append(decode_entry(blob))
        info = self.trust.introduced_key(origin, kid, entries)
        if info is None:
            return None
        keys = Keyring()
        keys.add(origin, info)
        return _Either(keys, self.trust)

    async def handle_node_document(self, request: web.Request) -> web.Response:
        """This node's self-signed node document (the newest ``node`` entry)."""
        return web.Response(body=await self.documents.own_document(), content_type=CONTENT_TYPE)

    async def handle_heads(self, request: web.Request) -> web.Response:
        """Federation: the heads this node holds, per origin (signed request)."""
        try:
            await self._authenticated(request)
        except (InvalidInputError, PeerRefusedError) as exc:
            return refusal(exc, request)
        heads = await self.log_store.heads()
        if heads != self._heads_answer[0]:  # most asks find the heads unchanged: encode them once per change
            body = canonical.encode({origin: [seq, h] for origin, (seq, h) in heads.items()})
            self._heads_answer = (dict(heads), body, heads_etag(body))
        _, body, etag = self._heads_answer
        # Conditional heads (docs/PROTOCOL.md): the ETag names these heads; a puller that shows it gets a 304
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type=CONTENT_TYPE, headers={"ETag": etag})

    async def handle_log(self, request: web.Request) -> web.Response:
        """Federation: a page of an origin's log after a seq (signed request)."""
        try:
            await self._authenticated(request)
            after = _query_int(request, "after", 0)
            limit = min(_query_int(request, "limit", PAGE), PAGE)
        except (InvalidInputError, PeerRefusedError) as exc:
            return refusal(exc, request)
        blobs = await self.log_store.read(request.match_info["origin"], after, limit)
        return _msgpack(blobs)

    async def handle_push(self, request: web.Request) -> web.Response:
        """Federation: a peer pushes a run of entries (signed request).

        An origin that has just handed over to a new key signs its push with that key, which we learn from the
        hand-over inside the push: the request is checked with a key the pushed entries introduce
        (docs/PROTOCOL.md §12), verified from the keys we hold.

        A suspended or departed node may still push its own log: only the deletions in it are applied
        (erasure outranks governance, docs/PROTOCOL.md §6.2), and the push is then refused for the rest.
        """
        try:
            peer, body = await self._authenticated(request, introduced_by_body=True, departed=True)
            value = canonical.decode(body, canonical.Limits(max_bin=MAX_BODY))
            if not isinstance(value, list) or not value or not all(isinstance(b, bytes) for b in value):
                raise MalformedError("a push is a non-empty array of entries")
            first = decode_entry(value[0])  # type: ignore[arg-type]
            if peer.status != MEMBER and first.header.origin != peer.name:
                raise SuspendedPeerError(f"{peer.name} is {peer.status}: only its own deletions are taken")
            result = await self.replicator.apply(first.header.origin, value, source=peer)  # type: ignore[arg-type]
        except (InvalidInputError, PeerRefusedError) as exc:
            return refusal(exc, request)
        except ForkError as exc:
            return web.json_response({"error": {"code": "fork", "message": str(exc)}}, status=409)
        if result.applied:
            await self.relay(first.header.origin, result.head - result.applied + 1, result.head, peer.name)
        if result.gap:
            log.info(
                "push from %s left a gap in %s; it will fill from our head %d",
                peer.name,
                first.header.origin,
                result.head,
            )
        return _msgpack({"head": result.head})

    async def handle_direct(self, request: web.Request) -> web.Response:
        """Federation: one direct record for this node (docs/PROTOCOL.md §8.1), from the node that signed it.

        The record is checked whole here (the sending peer is its origin, it is addressed to this node, it is of a
        direct type, verified alone) and handed, typed, to the inbox port; it is never stored in the log, so it is
        never relayed. The inbox may refuse it for good (:class:`RecordRefusedError`): the sender then stops
        retrying and reports the refusal.
        """
        try:
            peer, body = await self._authenticated(request)
            blob = canonical.decode(body, canonical.Limits(max_bin=MAX_DIRECT_ENVELOPE_BYTES))
            if not isinstance(blob, bytes):
                raise MalformedError("a direct request carries one entry (a byte string)")
            record = open_direct(blob, self.trust, to_node=self.name)
            if record.origin != peer.name:
                raise MalformedError(f"a direct record comes from its origin ({record.origin}), not from {peer.name}")
            fresh = await self.inbox.deliver(record, self.clock())
        except (InvalidInputError, PeerRefusedError) as exc:
            return refusal(exc, request)
        except RecordRefusedError as exc:
            return _record_refusal(request, exc.code, exc.status, exc.reason)
        except LookupError as exc:  # the inbox does not know the recipient
            return _record_refusal(request, "unknown_recipient", 404, str(exc))
        return _msgpack({"delivered": fresh})

    async def handle_join(self, request: web.Request) -> web.Response:
        """An invited node presents its token and its self-signed node document; we answer with ours."""
        try:
            body = await read_limited(request.content, MAX_BODY)
            if len(body) > MAX_BODY:
                raise _TooLarge()
            value = canonical.decode(body)
            if not isinstance(value, dict) or not isinstance(value.get("token"), str):
                raise MalformedError("a join request is {'node': <entry>, 'token': <string>}")
            peer = peer_from_document(value.get("node"))
            token = value["token"]
            assert isinstance(token, str)
            existing = self.trust.peer(peer.name)
            if existing is not None and existing.status == MEMBER and peer.name != self.name:
                known = {key_id(k.public_key) for k in existing.keys}
                if not known & {key_id(k.public_key) for k in peer.keys}:
                    raise InvitationError(f"{peer.name} is already a peer with other keys")
            if peer.name == self.name:
                raise InvitationError("a node cannot join itself")
            if not await self.invitations.consume(hashlib.sha256(token.encode()).digest(), self.clock()):
                raise InvitationError("unknown, used or expired invitation")
        except InvalidInputError as exc:
            return refusal(exc, request)
        except InvitationError as exc:
            log.warning("join refused (%s): %s", request.remote, exc)
            return web.json_response({"error": {"code": exc.code, "message": str(exc)}}, status=exc.status)
        await self.peers.save_peer(peer)
        await self.reload_peers()
        self.spawn(self.anti_entropy())
        log.info("%s (%s) joined as a peer", peer.name, peer.url)
        return _msgpack({"node": await self.documents.own_document()})

    async def handle_apply(self, request: web.Request) -> web.Response:
        """A candidate coop's join request, addressed to its sponsor: becomes an admission proposal."""
        try:
            body = await read_limited(request.content, 65_536)
            value = canonical.decode(body)
            if not isinstance(value, dict):
                raise MalformedError("a join request is a map")
            candidate = peer_from_document(value.get("node"))
            if value.get("sponsor") != self.name:
                raise MalformedError(f"this node is not the sponsor named in the request ({value.get('sponsor')!r})")
            open_case = self.governance.open_admission_for(candidate.name)
            if open_case is not None:  # the same request again: answer with its proposal (idempotent)
                return _msgpack({"proposal": open_case.ref, "result": open_case.result})
            existing = self.trust.peer(candidate.name)
            if existing is not None and existing.status == MEMBER:
                raise MalformedError(f"{candidate.name} is already a member")
            if self.proposer is None:
                raise MalformedError("this node does not take join requests")
        except InvalidInputError as exc:
            return refusal(exc, request)
        details: dict[str, object] = {
            "url": candidate.url,
            "display_name": candidate.display_name or candidate.name,
            "public_key": candidate.keys[0].public_key,
            "sponsor": self.name,
        }
        for name in ("legal_name", "registry_number", "contact", "case"):
            if isinstance(value.get(name), str) and value[name]:
                details[name] = value[name]
        ref = await self.proposer.propose_admission({"subject": candidate.name, "candidate": details})
        log.info("join request from %s (%s): admission proposal %s", candidate.name, candidate.url, ref)
        return _msgpack({"proposal": ref, "result": "pending"})

    async def handle_certificate(self, request: web.Request) -> web.Response:
        """The certificate of an accepted decision: the proposal and its votes, checkable by anyone."""
        ref = f"{request.match_info['origin']}/{request.match_info['id']}"
        cert = self.governance.certificate(ref)
        if cert is None:
            case = self.governance.cases.get(ref)
            status = "unknown" if case is None else case.result
            return web.json_response({"error": {"code": "no_certificate", "message": status}}, status=404)
        return web.Response(body=cert, content_type=CONTENT_TYPE)

    async def join(self, url: str, token: str) -> Peer:
        """Our side of an invitation: present our document, store theirs, sync with them at once."""
        assert self._session is not None
        peer = await joining.join(self._session, url, token, await self.documents.own_document())
        await self.peers.save_peer(peer)
        await self.reload_peers()
        self.spawn(self.anti_entropy())
        return peer


class _Either:
    """A key resolver that asks ``first``, then ``then``."""

    def __init__(self, first: KeyResolver, then: KeyResolver) -> None:
        self.first, self.then = first, then

    def resolve(self, origin: str, kid: str) -> KeyInfo:
        try:
            return self.first.resolve(origin, kid)
        except UnknownKeyError:
            return self.then.resolve(origin, kid)


class _TooLarge(InvalidInputError):
    code = "too_large"
    status = 413

    def __init__(self) -> None:
        super().__init__(f"request body larger than {MAX_BODY} bytes")


def _record_refusal(request: web.Request, code: str, status: int, reason: str) -> web.Response:
    """The answer to a direct record this node's services refuse for good, logged with the reason."""
    log.warning(
        "refused a direct record from %s (%s): %s", request.headers.get("Bigre-Origin", "?"), code, reason[:300]
    )
    return web.json_response({"error": {"code": code, "message": reason[:1000]}}, status=status)


def _query_int(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or len(text) > 16:
        raise MalformedError(f"query parameter {name} must be a non-negative integer")
    return int(text)


def heads_etag(body: bytes) -> str:
    """The ETag of a heads answer (docs/PROTOCOL.md 13.1): the first 32 hex digits of its body's SHA-256."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _msgpack(value: Any) -> web.Response:
    return web.Response(body=canonical.encode(value), content_type=CONTENT_TYPE)
