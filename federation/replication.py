"""Replication: take in runs of entries from peers, verified against their origin's keys, and apply them.

The same path serves a pull (anti-entropy: compare heads, page through what is missing) and a push (a peer sends
its new entries). A run is applied only if it continues this node's head for that origin exactly: entries we
already hold are checked for equality and skipped (idempotence: duplicates and replays change nothing), a run
that starts past our head is a gap and is never skipped over (the caller pulls the missing part), and an entry
that differs from the one we hold at the same seq is either refused (its key is revoked, or not valid at that
position: a thief's claim, not the origin's) or a **fork**: kept out, recorded with both entries as evidence,
and logged for the operator. One lock per origin serialises applies, so a push and a pull of the same origin
cannot interleave.

Runs are verified with one signature per segment (``protocol.verify_chain``); a run is cut after each entry
that changes trust (a node document, a key revocation, a fork repair) so that later entries are checked against
the keys in force after it. The whole run is verified on a copy of the origin's key state before anything is
stored; the valid prefix is stored in one call, and the keys it changed are committed with it. Entries signed by
a key revoked with no known chain end (a key recovery decision revoked it) are stored only when a later entry of
the same stored run, signed by a key that is not revoked, vouches for them through the hash chain
(docs/PROTOCOL.md §13, Apply): such a key alone can prove nothing.

A fork is not the end: when another peer holds another branch of an origin, :meth:`Replicator._reconcile` finds
where the branches part, fetches the other branch, verifies it from the common prefix with the keys of the
common prefix, and switches to it when it holds a ``fork_repair`` of greater authority than any our branch holds
(docs/PROTOCOL.md §6.1). A peer that showed a fork is not pulled from for that origin again until its head for
that origin moves.

A pull is pipelined: while one page is verified and stored, the next one is already being fetched, decoded and
its bodies checked (a pure step; a body error is kept and raised only where the sequential order would raise
it, after the segment's chain verified), and, when the log store offers ``prepare_run(records)``, the rows it
will store derived. The database works in its own thread, so the next page's work overlaps the current page's
writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol import (
    BrokenLinkError,
    Entry,
    InvalidInputError,
    KeyInfo,
    KeyNotValidError,
    MalformedError,
    OriginKeys,
    Record,
    Value,
    check_body,
    check_log_entry,
    check_repair,
    decode_entry,
    entry_key,
    repair_authority,
    verify,
    verify_chain,
)
from protocol.keystate import KEY_TYPES, NO_AUTHORITY

from .errors import ForkError, PeerUnavailableError, RefusedByPeerError, SuspendedPeerError
from .ports import Fork, LogPort, Peer, PeerPort
from .recovery import OwnLogGate
from .transport import PeerClient
from .trust import TRUST_TYPES, TrustStore

log = logging.getLogger(__name__)

PAGE = 500
YIELD_EVERY = 100  # entries decoded between two yields to the event loop (so the store's statements flow)
MAX_UNPROVEN = 10 * PAGE  # entries of a revoked key held back by a pull, waiting for a valid key to vouch for them
MAX_BRANCH = 20 * PAGE  # entries of another branch fetched to look for its fork repair
MAX_DIVERGENCE_PAGES = 40  # pages walked back to find where two branches part


@dataclass(slots=True)
class ApplyResult:
    head: int
    applied: int
    gap: bool = False
    unproven: int = 0  # verified entries held back: signed by a revoked key, and nothing after vouches for them yet
    switched: bool = False  # a fork repair replaced our branch of this origin


@dataclass(slots=True)
class Checked:
    """One received entry with the outcome of its body check (5.3), done ahead of the chain verification."""

    entry: Entry
    body: dict[str, Value] | None = None
    error: InvalidInputError | None = None

    def record(self) -> Record:
        if self.error is not None:
            raise self.error
        return Record(self.entry, self.body)


def check_entry(entry: Entry) -> Checked:
    try:
        return Checked(entry, check_body(entry))
    except InvalidInputError as exc:
        return Checked(entry, error=exc)


async def decode_and_check(blobs: Sequence[bytes]) -> list[Checked]:
    """Decode a page and check its bodies, yielding to the loop now and then (a pull's prefetch step)."""
    out: list[Checked] = []
    for i, blob in enumerate(blobs):
        if i and i % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        out.append(check_entry(decode_entry(blob)))
    return out


@dataclass(slots=True)
class Verified:
    """What :func:`verify_run` found: the records that may be stored and the keys after them."""

    records: list[Record]
    keys: OriginKeys
    unproven: int = 0
    error: InvalidInputError | None = None
    repairs: list[tuple[Record, int]] = field(default_factory=list)  # fork repairs stored, with their authority


Named = Callable[[int], Awaitable[bytes | None]]
"""The hash of the entry at a seq before the run (held), for checking what a fork repair names."""
Weigh = Callable[[OriginKeys, str], int]
"""The authority of a fork repair signed by a kid, given the keys at the repair."""


async def verify_run(
    run: Sequence[Checked],
    keys: OriginKeys,
    after: tuple[int, bytes] | None,
    named: Named,
    weigh: Weigh | None = None,
) -> Verified:
    """Verify a run (continuing ``after``) on ``keys``, a copy of the origin's state that follows the run.

    The run is cut after each trust entry; each segment is proven by its last signature, its key changes applied
    before the next one. A fork repair must name an entry its own chain holds. Verification stops at the first
    invalid segment (``error``); what verified before it is kept, up to its last entry NOT signed by a key revoked
    with no known chain end (the rest is ``unproven``), with the key state as of that entry.
    """
    records: list[Record] = []
    good, good_keys = 0, keys.copy()
    repairs: list[tuple[Record, int]] = []
    error: InvalidInputError | None = None
    in_run: dict[int, bytes] = {}
    for segment in _segments(list(run)):
        entries = [c.entry for c in segment]
        try:
            verify_chain(entries, keys, after)
            segment_records = [c.record() for c in segment]
            signed_by_revoked = [_unbounded_revoked(entry_key(e, keys)) for e in entries]
            for r in segment_records:
                in_run[r.seq] = r.entry.hash
                if r.type == "fork_repair":
                    seq = r.body.get("seq") if r.body is not None else None
                    held = in_run.get(seq) if isinstance(seq, int) else None
                    if held is None and isinstance(seq, int):
                        held = await named(seq)
                    check_repair(r.entry, r.body, held)
                    if weigh is not None:
                        repairs.append((r, weigh(keys, r.entry.header.kid)))
        except InvalidInputError as exc:
            error = exc
            break
        before = keys.copy() if segment_records[-1].type in KEY_TYPES else None
        for r in segment_records:
            if r.type in KEY_TYPES:
                keys.apply(r.entry, r.body)
        for i, r in enumerate(segment_records):
            records.append(r)
            if not signed_by_revoked[i]:
                good = len(records)
                good_keys = keys if before is None or i == len(segment_records) - 1 else before
        after = (entries[-1].header.seq, entries[-1].hash)
    stored = records[:good]
    kept = {r.entry.hash for r in stored}
    return Verified(
        stored,
        good_keys.copy(),
        unproven=len(records) - good,
        error=error,
        repairs=[(r, level) for r, level in repairs if r.entry.hash in kept],
    )


#: an idle round (the peer's heads unchanged: a 304) records the peer's contact at most this often
CONTACT_REFRESH_MS = 60_000


class Replicator:
    def __init__(
        self,
        store: LogPort,
        peers: PeerPort,
        trust: TrustStore,
        client: PeerClient,
        clock: Callable[[], int],
        page: int = PAGE,
        on_stored: Callable[[list[Record]], Awaitable[None]] | None = None,
        spawn: Callable[[Coroutine[Any, Any, Any]], None] | None = None,
        own_log: OwnLogGate | None = None,
    ) -> None:
        self.store = store
        self.own_log = own_log or OwnLogGate(trust.self_name)
        self.peers = peers
        self.trust = trust
        self.client = client
        self.clock = clock
        self.page = page
        self.on_stored = on_stored
        self.spawn = spawn
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # (origin, peer) pairs that showed us a fork we could not repair, with the peer's head for that origin
        # then (None: not known yet): we pull that origin from that peer again only once its head moved
        self._blocked: dict[tuple[str, str], tuple[int, bytes] | None] = {}
        self._foreign_reported: set[tuple[str, int]] = set()  # (peer, seq): entries of ours we did not sign, logged
        self._reconciling: set[tuple[str, str]] = set()  # (origin, peer) forks being reconciled in the background
        # per peer: the ETag of heads after which a round left nothing to pull (conditional heads: an idle round
        # is a 304), the origins skipped then (not members: if one becomes a member, the whole round again), and
        # when its contact was last recorded
        self._settled: dict[str, tuple[str, frozenset[str], int]] = {}
        # optional, pure and synchronous: derive what store_run will write, ahead of it
        self._prepare: Callable[[list[Record]], None] | None = getattr(store, "prepare_run", None)

    def unblock(self, origin: str) -> None:
        """Pull ``origin`` from every peer again (a fork repair was stored, a key was recovered)."""
        for key in [k for k in self._blocked if k[0] == origin]:
            del self._blocked[key]
        self._settled.clear()  # what we hold of it changed: every peer's heads are worth comparing again

    # ------------------------------------------------------------------------------------------------ pull

    async def sync_from(self, peer: Peer) -> int:
        """Pull from ``peer`` everything it holds that we lack; the number of entries applied."""
        settled = self._settled.pop(peer.name, None)
        if settled is not None and any(self.trust.accepts_records_from(o) for o in settled[1]):
            settled = None  # an origin skipped then is a member now: its records are wanted
        try:
            theirs, etag = await self.client.heads_if_changed(peer, settled[0] if settled else None)
        except RefusedByPeerError as exc:
            if exc.code in ("unknown_peer", "suspended_peer"):  # it takes nothing from us: it adds nothing of ours
                self.own_log.heard(peer.name)
            raise
        if theirs is None:  # unchanged since a round that left nothing to pull: nothing to do
            assert settled is not None
            self.own_log.heard(peer.name)  # nor any more of our own log than it showed then
            now = self.clock()
            if now - settled[2] >= CONTACT_REFRESH_MS:
                await self.peers.record_contact(peer.name, at=now, error=None, lag=0)
                settled = (settled[0], settled[1], now)
            self._settled[peer.name] = settled
            return 0
        ours = await self.store.heads()
        applied = 0
        lag = 0
        complete = True  # nothing left to pull from these heads (no fork, nothing blocked, no lag)
        skipped: set[str] = set()
        mine = theirs.get(self.trust.self_name)
        if mine is not None and mine[0] > ours.get(self.trust.self_name, (0, b""))[0]:
            applied += await self._take_back_own(peer, ours.get(self.trust.self_name, (0, b""))[0], mine[0])
            complete = False  # compare again next round: what we took back changed our heads
        self.own_log.heard(peer.name)
        for origin, (their_seq, their_hash) in sorted(theirs.items()):
            if origin == self.trust.self_name:
                continue
            if not self.trust.accepts_records_from(origin):
                skipped.add(origin)
                continue
            blocked = (origin, peer.name)
            our_seq, our_hash = ours.get(origin, (0, b""))
            if (
                their_seq < our_seq or (their_seq == our_seq and their_hash == our_hash)
            ) and blocked not in self._blocked:
                continue  # nothing to take (most origins, most rounds: a network of hundreds compares them all)
            if blocked in self._blocked:
                if self._blocked[blocked] in (None, (their_seq, their_hash)):
                    self._blocked[blocked] = (their_seq, their_hash)
                    complete = False
                    continue
                del self._blocked[blocked]
                log.info("%s's branch of %s moved since it showed a fork: looking again", peer.name, origin)
            if their_seq == our_seq and their_hash != our_hash and our_seq > 0:
                complete = False
                try:
                    async with self._locks[origin]:
                        await self._conflict(origin, our_seq, peer, None, inline=True)
                except ForkError:
                    pass
                except InvalidInputError as exc:
                    self._blocked[blocked] = (their_seq, their_hash)
                    log.warning("%s serves %s/%d, which we refuse: %s", peer.name, origin, our_seq, exc)
                continue
            done, our_seq = await self._pull(peer, origin, our_seq, their_seq)
            applied += done
            lag += max(0, their_seq - our_seq)
        now = self.clock()
        await self.peers.record_contact(peer.name, at=now, error=None, lag=lag)
        if complete and lag == 0 and etag is not None:
            self._settled[peer.name] = (etag, frozenset(skipped), now)
        if applied:
            log.info("pulled %d entries from %s", applied, peer.name)
        return applied

    async def _take_back_own(self, peer: Peer, our_seq: int, their_seq: int) -> int:
        """``peer`` holds more of our own log than we do (restored from an older backup, or a power loss dropped
        our last commits): pull the missing tail from it, verified like any run, before we sign anything new.
        The own-log gate stays closed meanwhile, so no new entry can take one of those seqs."""
        name = self.trust.self_name
        if not self.own_log.may_take_back:
            if (peer.name, their_seq) in self._foreign_reported:
                return 0
            self._foreign_reported.add((peer.name, their_seq))
            log.error(
                "%s holds our own log up to seq %d and we hold %d, yet this node neither crashed nor was restored: "
                "those entries were signed elsewhere with our key (a stolen key, or a second copy of this node "
                "running); not taken (docs/operators.md, If a key leaks)",
                peer.name,
                their_seq,
                our_seq,
            )
            return 0
        log.warning(
            "%s holds our own log up to seq %d and we hold %d (restored from an older backup, or last writes lost): "
            "taking the missing entries back from it before signing anything new",
            peer.name,
            their_seq,
            our_seq,
        )
        self.own_log.hold(peer.name, their_seq)
        done, head = 0, our_seq
        try:
            done, head = await self._pull(peer, name, our_seq, their_seq)
        finally:
            self.own_log.release(peer.name, done)
        if head < their_seq:
            log.error(
                "could take back only %d of our own entries from %s (our head %d, theirs %d): see the node's log for "
                "why (a fork of our own log needs the operator, docs/operators.md#forks)",
                done,
                peer.name,
                head,
                their_seq,
            )
        else:
            log.warning("took back %d of our own entries from %s: our head is %d again", done, peer.name, head)
        return done

    async def _pull(self, peer: Peer, origin: str, our_seq: int, their_seq: int) -> tuple[int, int]:
        """Page through ``origin`` from ``our_seq``, fetching page n+1 while page n is applied; (applied, head).

        Entries a revoked key signed and nothing vouches for yet are carried over to the next page (at most
        :data:`MAX_UNPROVEN`): the entry by a valid key that proves them may be further on.
        """
        applied = 0
        carry: list[Checked] = []
        pending: asyncio.Task[list[Checked]] | None = None
        try:
            while our_seq < their_seq:
                fetched_to = our_seq + len(carry)
                if pending is None:
                    pending = asyncio.ensure_future(self._fetch(peer, origin, fetched_to))
                try:
                    page = await pending
                    pending = None
                    if not page:
                        break
                    last = page[-1].entry.header.seq
                    if fetched_to < last < their_seq:  # assume the page applies whole: fetch what follows it
                        pending = asyncio.ensure_future(self._fetch(peer, origin, last))
                    run = carry + page
                    result = await self._apply_checked(origin, run, source=peer, inline=True)
                except ForkError:
                    break
                except InvalidInputError as exc:
                    log.warning("refused a page of %s from %s after seq %d: %s", origin, peer.name, our_seq, exc)
                    raise PeerUnavailableError(f"{peer.name} sent invalid entries of {origin}: {exc}") from exc
                applied += result.applied
                if result.switched:
                    our_seq = result.head
                    break  # another branch now: the next round goes on from its head
                carry = [c for c in run if c.entry.header.seq > result.head] if result.unproven else []
                if len(carry) > MAX_UNPROVEN:
                    log.warning(
                        "%s: %d entries from %s after seq %d are signed by a revoked key and nothing vouches for "
                        "them; not taken",
                        origin,
                        len(carry),
                        peer.name,
                        result.head,
                    )
                    break
                if result.head <= our_seq and not result.unproven:
                    break  # no progress (e.g. only a gap): stop rather than loop
                our_seq = max(our_seq, result.head)
                if pending is not None and our_seq + len(carry) != last:
                    pending.cancel()  # the page did not apply whole: the prefetched one does not follow our head
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await pending
                    pending = None
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending
        return applied, our_seq

    async def _fetch(self, peer: Peer, origin: str, after: int) -> list[Checked]:
        page = await decode_and_check(await self.client.log(peer, origin, after, self.page))
        if self._prepare is not None:
            ready = [Record(c.entry, c.body) for c in page if c.error is None]
            for start in range(0, len(ready), YIELD_EVERY):
                await asyncio.sleep(0)
                self._prepare(ready[start : start + YIELD_EVERY])
        return page

    # ----------------------------------------------------------------------------------------------- apply

    async def apply(self, origin: str, blobs: list[bytes], source: Peer) -> ApplyResult:
        """Verify and store a run of ``origin`` pushed by ``source``."""
        return await self._apply_checked(origin, [check_entry(decode_entry(b)) for b in blobs], source)

    async def _apply_checked(
        self, origin: str, run: list[Checked], source: Peer, *, inline: bool = False
    ) -> ApplyResult:
        """:meth:`apply` for a run already decoded, its bodies checked (their errors not raised yet).

        ``inline``: a fork is reconciled before answering (a pull); else in the background (a push, whose
        sender waits for the answer).
        """
        if not run:
            head = (await self.store.heads()).get(origin, (0, b""))[0]
            return ApplyResult(head, 0)
        entries = [c.entry for c in run]
        for e in entries:
            if e.header.origin != origin:
                raise MalformedError(f"an entry of {e.header.origin} in a run of {origin}")
            check_log_entry(e)  # a direct record is never part of a log, so never stored or relayed
        if not self.trust.accepts_records_from(origin):
            if self.trust.takes_deletions_only(origin):
                await self._apply_deletions(origin, run, source)
                peer = self.trust.peer(origin)
                raise SuspendedPeerError(
                    f"records of {origin} are not taken any more ({peer.status if peer else 'left'}); "
                    "its deletions in this run were applied"
                )
            raise MalformedError(f"records of {origin} are not accepted (unknown, suspended or left)")
        async with self._locks[origin]:
            head_seq, head_hash = (await self.store.heads()).get(origin, (0, b""))
            # Skip what we hold, after checking it is the same entry: anything else is refused or a fork.
            fresh: list[Checked] = []
            for c in run:
                e = c.entry
                if e.header.seq <= head_seq:
                    ours = await self.store.entry(origin, e.header.seq)
                    if ours is not None and decode_entry(ours).hash != e.hash:
                        head = await self._conflict(origin, e.header.seq, source, e, inline)
                        return ApplyResult(head, 0, switched=True)
                    continue
                fresh.append(c)
            if not fresh:
                return ApplyResult(head_seq, 0)
            if fresh[0].entry.header.seq != head_seq + 1:
                log.info(
                    "gap in %s from %s: we hold up to %d, run starts at %d",
                    origin,
                    source.name,
                    head_seq,
                    fresh[0].entry.header.seq,
                )
                return ApplyResult(head_seq, 0, gap=True)
            if head_seq > 0 and fresh[0].entry.header.prev != head_hash:
                head = await self._conflict(origin, head_seq, source, None, inline)
                return ApplyResult(head, 0, switched=True)
            after = (head_seq, head_hash) if head_seq > 0 else None
            basis = self.trust.generation(origin)
            checked = await verify_run(fresh, self.trust.keys(origin), after, self._named(origin))
            stored = checked.records
            if stored:
                await self.store.store_run(stored, self.clock())
                await self._commit(origin, checked.keys, stored, basis)
            if checked.unproven:
                log.info(
                    "%s: %d entries from %s are signed by a revoked key; held back until an entry by a valid key "
                    "vouches for them",
                    origin,
                    checked.unproven,
                    source.name,
                )
            if checked.error is not None:
                raise checked.error
            head = stored[-1].seq if stored else head_seq
            return ApplyResult(head, len(stored), unproven=checked.unproven)

    async def _apply_deletions(self, origin: str, run: list[Checked], source: Peer) -> int:
        """Apply the tombstones of a run of an origin whose records are no longer taken (suspended or left):
        erasure outranks governance (docs/PROTOCOL.md §6.2). Each tombstone is verified alone, by the key of the
        origin valid at its seq; only those above the head we hold count (older ones are in our chain already,
        or were superseded there). The log itself does not move: nothing else of the run is stored."""
        async with self._locks[origin]:
            head_seq = (await self.store.heads()).get(origin, (0, b""))[0]
            keys = self.trust.keys(origin)
            deletions: list[Record] = []
            for c in run:
                e = c.entry
                if e.header.type != "tombstone" or e.header.seq <= head_seq:
                    continue
                try:
                    verify(e, keys)
                    deletions.append(c.record())
                except InvalidInputError as exc:
                    log.warning("deletion %s/%d from %s refused: %s", origin, e.header.seq, source.name, exc)
            applied = await self.store.apply_deletions(deletions, self.clock()) if deletions else 0
        log.info(
            "%s is not a member: %d of its %d deletion(s) pushed by %s applied, the rest of the run refused",
            origin,
            applied,
            len(deletions),
            source.name,
        )
        return applied

    def _named(self, origin: str) -> Named:
        async def named(seq: int) -> bytes | None:
            blob = await self.store.entry(origin, seq)
            return decode_entry(blob).hash if blob is not None else None

        return named

    async def _commit(
        self, origin: str, keys: OriginKeys, stored: list[Record], basis: int, rollback_to: int | None = None
    ) -> None:
        """After storing ``stored``: make ``keys`` the origin's, persist the peer, tell governance."""
        changed = self.trust.commit(origin, keys, basis=basis, records=stored, rollback_to=rollback_to)
        peer = self.trust.peer(origin)
        for record in stored:
            if record.type == "node" and record.body is not None and peer is not None:
                if self.trust.describe_from_document(peer, record.body):
                    changed = peer
            elif record.type == "fork_repair":
                self.unblock(origin)
                log.warning("%s published a fork repair at seq %d: its forks no longer block it", origin, record.seq)
        if changed is not None and changed.name != self.trust.self_name:
            await self.peers.save_peer(changed)
        if self.on_stored is not None:
            await self.on_stored(stored)

    # ----------------------------------------------------------------------------------------------- forks

    async def _conflict(self, origin: str, seq: int, source: Peer, theirs: Entry | None, inline: bool) -> int:
        """``source`` holds another entry than ours at ``seq``: refuse it, or record the fork and try to repair.

        Returns our new head when a fork repair switched us to ``source``'s branch; raises otherwise: the
        protocol error that refuses their entry (its key is revoked, or was not valid at that position, or the
        signature is forged), or :class:`ForkError` (a genuine fork, kept out and recorded). Called under the
        origin's lock.
        """
        ours_blob = await self.store.entry(origin, seq)
        if ours_blob is None:
            raise BrokenLinkError(f"{origin}/{seq} is not held here")
        ours = decode_entry(ours_blob)
        if theirs is None:
            pages = await self.client.log(source, origin, seq - 1, 1)
            if not pages:
                raise BrokenLinkError(f"{source.name} sent a run of {origin} that does not follow seq {seq}")
            theirs = decode_entry(pages[0])
        if theirs.hash == ours.hash:
            raise BrokenLinkError(f"{origin}/{seq + 1} from {source.name} does not link to entry {seq}")
        current = self.trust.keys(origin)
        try:
            key = entry_key(theirs, current)
            if key.revoked:
                raise KeyNotValidError(
                    f"{origin}/{seq} from {source.name} is signed by revoked key {theirs.header.kid} and contradicts "
                    "the entry held there"
                )
            verify(theirs, current)  # a fork is evidence only if the origin really signed both
        except InvalidInputError as exc:
            log.warning(
                "refused %s/%d from %s, which contradicts the entry held there: %s", origin, seq, source.name, exc
            )
            raise
        await self.store.note_fork(Fork(origin, seq, ours_blob, theirs.encode(), source.name, self.clock()))
        log.error(
            "FORK: origin %s signed two entries for seq %d (ours %s, %s's %s); kept ours, refused theirs",
            origin,
            seq,
            ours.hash.hex()[:16],
            source.name,
            theirs.hash.hex()[:16],
        )
        if origin != self.trust.self_name:  # our own log is ours: it is never replaced from elsewhere
            if inline:
                head = await self._reconcile(origin, seq, source)
                if head is not None:
                    return head
            elif self.spawn is not None and (origin, source.name) not in self._reconciling:
                self._reconciling.add((origin, source.name))
                self.spawn(self._reconcile_later(origin, seq, source))
        raise ForkError(origin, seq, ours.hash, theirs.hash)

    async def _reconcile_later(self, origin: str, seq: int, source: Peer) -> None:
        try:
            async with self._locks[origin]:
                await self._reconcile(origin, seq, source)
        except Exception:
            log.exception("reconciling the fork of %s with %s failed", origin, source.name)
        finally:
            self._reconciling.discard((origin, source.name))

    async def _reconcile(self, origin: str, seq: int, source: Peer) -> int | None:
        """Switch to ``source``'s branch of ``origin`` if a fork repair there outweighs ours (docs/PROTOCOL.md
        §6.1); our new head, or None (then ``source`` is not pulled from for ``origin`` until its head moves).
        Called under the origin's lock."""
        their_head: tuple[int, bytes] | None = None
        try:
            their_head = (await self.client.heads(source)).get(origin)
            if their_head is None:
                return None
            d = await self._divergence(origin, min(seq, their_head[0]), source)
            if d is None:
                return None  # the branches agree (again): nothing to repair, nothing to block
            branch = await self._fetch_branch(source, origin, d, their_head[0])
            head = await self._switch_if_repaired(origin, d, branch, source) if branch else None
            if head is not None:
                return head
        except PeerUnavailableError as exc:
            log.warning("could not fetch %s's branch of %s: %s", source.name, origin, exc)
        self._blocked[(origin, source.name)] = their_head
        return None

    async def _switch_if_repaired(self, origin: str, d: int, branch: list[Checked], source: Peer) -> int | None:
        basis = self.trust.generation(origin)
        current = self.trust.keys(origin)
        base = current.rollback(d - 1)
        after: tuple[int, bytes] | None = None
        if d > 1:
            held = await self.store.entry(origin, d - 1)
            if held is None:
                return None
            after = (d - 1, decode_entry(held).hash)

        def weigh(keys: OriginKeys, kid: str) -> int:
            return repair_authority(keys, kid, base, current)

        checked = await verify_run(branch, base.copy(), after, self._named(origin), weigh)
        if checked.error is not None:
            log.warning(
                "%s's branch of %s from seq %d does not verify from the common prefix: %s",
                source.name,
                origin,
                d,
                checked.error,
            )
        theirs = max((level for r, level in checked.repairs if _names_at_or_before(r, d)), default=NO_AUTHORITY)
        if theirs == NO_AUTHORITY:
            log.warning(
                "%s's branch of %s parts from ours at seq %d and holds no fork repair with authority here: ours "
                "is kept (a fork repair signed by a key valid before the fork, or a key recovery decision, settles "
                "it)",
                source.name,
                origin,
                d,
            )
            return None
        ours = await self._our_repair_weight(origin, d, base, current)
        if ours >= theirs:
            log.warning(
                "both branches of %s from seq %d hold a fork repair of the same weight (%d): ours is kept until a "
                "key recovery decision settles it",
                origin,
                d,
                ours,
            )
            return None
        dropped = await self.store.replace_branch(origin, d, checked.records, self.clock())
        await self._commit(origin, checked.keys, checked.records, basis, rollback_to=d - 1)
        self.unblock(origin)
        log.warning(
            "FORK REPAIRED: %s stands by its branch from seq %d; dropped our %d entries from seq %d and took %d "
            "from %s (head now %d)",
            origin,
            d,
            dropped,
            d,
            len(checked.records),
            source.name,
            checked.records[-1].seq,
        )
        return checked.records[-1].seq

    async def _our_repair_weight(self, origin: str, d: int, base: OriginKeys, current: OriginKeys) -> int:
        weight = NO_AUTHORITY
        for blob in await self.store.records_of_types(["fork_repair"]):
            entry = decode_entry(blob)
            if entry.header.origin != origin or entry.header.seq < d:
                continue
            record = Record(entry, check_body(entry))
            if _names_at_or_before(record, d):
                weight = max(weight, repair_authority(current, entry.header.kid, base, current))
        return weight

    async def _divergence(self, origin: str, seq: int, source: Peer) -> int | None:
        """The first seq where our branch of ``origin`` and ``source``'s differ (every entry before it the same),
        searching back from ``seq``; None if they agree at ``seq`` or part too far back."""
        hi = seq
        for _ in range(MAX_DIVERGENCE_PAGES):
            lo = max(1, hi - self.page + 1)
            theirs = {
                e.header.seq: e.hash
                for e in map(decode_entry, await self.client.log(source, origin, lo - 1, hi - lo + 1))
            }
            ours = {e.header.seq: e.hash for e in map(decode_entry, await self.store.read(origin, lo - 1, hi - lo + 1))}
            for s in range(hi, lo - 1, -1):
                if s in theirs and theirs[s] == ours.get(s):
                    return s + 1 if s < seq else None
            if lo == 1:
                return 1
            hi = lo - 1
        log.warning(
            "the branches of %s part more than %d entries before seq %d", origin, MAX_DIVERGENCE_PAGES * self.page, seq
        )
        return None

    async def _fetch_branch(self, source: Peer, origin: str, d: int, their_head: int) -> list[Checked]:
        branch: list[Checked] = []
        after = d - 1
        while after < their_head and len(branch) < MAX_BRANCH:
            page = await decode_and_check(await self.client.log(source, origin, after, self.page))
            if not page or page[0].entry.header.seq != after + 1:
                break
            branch.extend(page)
            after = page[-1].entry.header.seq
        return branch


def _unbounded_revoked(key: KeyInfo) -> bool:
    """A revoked key with no chain position where it stops (revoked by a key recovery decision, or known from a
    document that gives no ``last_seq``): its entries need a valid key to vouch for them (docs/PROTOCOL.md §13).
    A key revoked in the chain stops at a known seq, which its window already enforces."""
    return key.revoked and key.last_seq is None


def _names_at_or_before(record: Record, d: int) -> bool:
    """A fork repair covers a fork at ``d`` when the position it names is ``d`` or earlier."""
    seq = record.body.get("seq") if record.body is not None else None
    return isinstance(seq, int) and seq <= d


def _segments(run: list[Checked]) -> list[list[Checked]]:
    """Cut after each trust-changing entry, so the keys it brings apply to what follows."""
    segments: list[list[Checked]] = [[]]
    for c in run:
        segments[-1].append(c)
        if c.entry.header.type in TRUST_TYPES:
            segments.append([])
    return [s for s in segments if s]
