"""Replication: take in runs of entries from peers, verified against their origin's keys, and apply them.

The same path serves a pull (anti-entropy: compare heads, page through what is missing) and a push (a peer sends
its new entries). A run is applied only if it continues this node's head for that origin exactly: entries we
already hold are checked for equality and skipped (idempotence: duplicates and replays change nothing), a run
that starts past our head is a gap and is never skipped over (the caller pulls the missing part), and an entry
that differs from the one we hold at the same seq is a **fork**: kept out, recorded with both entries as evidence,
and logged for the operator. One lock per origin serialises applies, so a push and a pull of the same origin
cannot interleave.

Runs are verified with one signature per segment (``protocol.verify_chain``); a run is cut after each entry
that changes trust (a node document or a key revocation) so that later entries are checked against the keys in
force after it.

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from protocol import (
    Entry,
    InvalidInputError,
    MalformedError,
    Record,
    Value,
    check_body,
    check_log_entry,
    decode_entry,
    verify,
    verify_chain,
)

from .errors import ForkError, PeerUnavailableError
from .ports import Fork, LogPort, Peer, PeerPort
from .transport import PeerClient
from .trust import TRUST_TYPES, TrustStore

log = logging.getLogger(__name__)

PAGE = 500
YIELD_EVERY = 100  # entries decoded between two yields to the event loop (so the store's statements flow)


@dataclass(slots=True)
class ApplyResult:
    head: int
    applied: int
    gap: bool = False


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
    ) -> None:
        self.store = store
        self.peers = peers
        self.trust = trust
        self.client = client
        self.clock = clock
        self.page = page
        self.on_stored = on_stored
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._blocked: set[tuple[str, str]] = set()  # (origin, peer) pairs that showed us a fork
        # optional, pure and synchronous: derive what store_run will write, ahead of it
        self._prepare: Callable[[list[Record]], None] | None = getattr(store, "prepare_run", None)

    # ------------------------------------------------------------------------------------------------ pull

    async def sync_from(self, peer: Peer) -> int:
        """Pull from ``peer`` everything it holds that we lack; the number of entries applied."""
        theirs = await self.client.heads(peer)
        ours = await self.store.heads()
        applied = 0
        lag = 0
        for origin, (their_seq, their_hash) in sorted(theirs.items()):
            if origin == self.trust.self_name or not self.trust.accepts_records_from(origin):
                continue
            if (origin, peer.name) in self._blocked:
                continue
            our_seq, our_hash = ours.get(origin, (0, b""))
            if their_seq == our_seq and their_hash != our_hash and our_seq > 0:
                with contextlib.suppress(ForkError):
                    await self._report_fork(origin, our_seq, peer, None)
                continue
            done, our_seq = await self._pull(peer, origin, our_seq, their_seq)
            applied += done
            lag += max(0, their_seq - our_seq)
        await self.peers.record_contact(peer.name, at=self.clock(), error=None, lag=lag)
        if applied:
            log.info("pulled %d entries from %s", applied, peer.name)
        return applied

    async def _pull(self, peer: Peer, origin: str, our_seq: int, their_seq: int) -> tuple[int, int]:
        """Page through ``origin`` from ``our_seq``, fetching page n+1 while page n is applied; (applied, head)."""
        applied = 0
        pending: asyncio.Task[list[Checked]] | None = None
        try:
            while our_seq < their_seq:
                if pending is None:
                    pending = asyncio.ensure_future(self._fetch(peer, origin, our_seq))
                try:
                    page = await pending
                    pending = None
                    if not page:
                        break
                    last = page[-1].entry.header.seq
                    if our_seq < last < their_seq:  # assume the page applies whole: fetch what follows it
                        pending = asyncio.ensure_future(self._fetch(peer, origin, last))
                    result = await self._apply_checked(origin, page, source=peer)
                except ForkError:
                    break
                except InvalidInputError as exc:
                    log.warning("refused a page of %s from %s after seq %d: %s", origin, peer.name, our_seq, exc)
                    raise PeerUnavailableError(f"{peer.name} sent invalid entries of {origin}: {exc}") from exc
                applied += result.applied
                if result.head <= our_seq:
                    break  # no progress (e.g. only a gap): stop rather than loop
                our_seq = result.head
                if pending is not None and our_seq != last:
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
        """Verify and store a run of ``origin`` received from ``source`` (a push or a pulled page)."""
        return await self._apply_checked(origin, [check_entry(decode_entry(b)) for b in blobs], source)

    async def _apply_checked(self, origin: str, run: list[Checked], source: Peer) -> ApplyResult:
        """:meth:`apply` for a run already decoded, its bodies checked (their errors not raised yet)."""
        if not run:
            head = (await self.store.heads()).get(origin, (0, b""))[0]
            return ApplyResult(head, 0)
        entries = [c.entry for c in run]
        for e in entries:
            if e.header.origin != origin:
                raise MalformedError(f"an entry of {e.header.origin} in a run of {origin}")
            check_log_entry(e)  # a direct record is never part of a log, so never stored or relayed
        if not self.trust.accepts_records_from(origin):
            raise MalformedError(f"records of {origin} are not accepted (unknown, suspended or left)")
        async with self._locks[origin]:
            head_seq, head_hash = (await self.store.heads()).get(origin, (0, b""))
            # Skip what we hold, after checking it is the same entry: anything else is a fork.
            fresh: list[Checked] = []
            for c in run:
                e = c.entry
                if e.header.seq <= head_seq:
                    ours = await self.store.entry(origin, e.header.seq)
                    if ours is not None and decode_entry(ours).hash != e.hash:
                        await self._report_fork(origin, e.header.seq, source, e)
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
                await self._report_fork(origin, head_seq, source, None)
            after = (head_seq, head_hash) if head_seq > 0 else None
            applied = 0
            for segment in _segments(fresh):
                verify_chain([c.entry for c in segment], self.trust, after)
                records = [c.record() for c in segment]  # raises the first body error, as checking here would
                await self.store.store_run(records, self.clock())
                if self.on_stored is not None:
                    await self.on_stored(records)
                for record in records:
                    if record.type in TRUST_TYPES:
                        changed = self.trust.apply(record)
                        if changed is not None:
                            await self.peers.save_peer(changed)
                applied += len(records)
                after = (segment[-1].entry.header.seq, segment[-1].entry.hash)
            assert after is not None
            return ApplyResult(after[0], applied)

    async def _report_fork(self, origin: str, seq: int, source: Peer, theirs: Entry | None) -> None:
        ours = await self.store.entry(origin, seq)
        if theirs is None:
            pages = await self.client.log(source, origin, seq - 1, 1)
            if not pages:
                return
            theirs = decode_entry(pages[0])
        if ours is None or decode_entry(ours).hash == theirs.hash:
            return
        # Evidence only counts if the origin really signed both.
        try:
            verify(theirs, self.trust)
        except InvalidInputError as exc:
            log.warning("%s sent a forged entry %s/%d: %s", source.name, origin, seq, exc)
            raise ForkError(origin, seq, decode_entry(ours).hash, theirs.hash) from exc
        fork = Fork(origin, seq, ours, theirs.encode(), source.name, self.clock())
        await self.store.note_fork(fork)
        self._blocked.add((origin, source.name))
        log.error(
            "FORK: origin %s signed two entries for seq %d (ours %s, %s's %s); kept ours, refused theirs",
            origin,
            seq,
            decode_entry(ours).hash.hex()[:16],
            source.name,
            theirs.hash.hex()[:16],
        )
        raise ForkError(origin, seq, decode_entry(ours).hash, theirs.hash)


def _segments(run: list[Checked]) -> list[list[Checked]]:
    """Cut after each trust-changing entry, so the keys it brings apply to what follows."""
    segments: list[list[Checked]] = [[]]
    for c in run:
        segments[-1].append(c)
        if c.entry.header.type in TRUST_TYPES:
            segments.append([])
    return [s for s in segments if s]
