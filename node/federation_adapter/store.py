"""The node's implementation of the federation ports, on its database.

``federation`` defines what it needs as small interfaces (:mod:`federation.ports`); this module answers them
with the node's tables: the replication log, peers, the outbox and peer invitations (received direct records go
to :class:`node.federation_adapter.direct_inbox.DirectInbox`). Every write is
one transaction, so each port call is atomic.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from federation.outbox import entry_payload
from federation.ports import Fork, OutboxItem, Peer, PeerHealth, peer_key_from_json, peer_key_to_json
from node.clock import Clock
from node.records import log as replication_log
from node.records import replica
from node.records.branches import replace_branch_sync
from node.records.deletions import apply_deletions_sync
from node.search.documents import SearchDocuments
from node.storage.database import Database, Prepared, connection, upsert
from node.storage.federation_models import ForkRow, PeerInvitation, PeerRow
from node.storage.models import LogEntry, RecordState, SearchDocument
from node.storage.models import OutboxItem as OutboxRow
from node.storage.statistics import PlannerStatistics
from protocol import Record

log = logging.getLogger(__name__)


def peer_to_row(peer: Peer) -> dict[str, Any]:
    return {
        "name": peer.name,
        "url": peer.url,
        "display_name": peer.display_name,
        "status": peer.status,
        "direct": peer.direct,
        "keys": [peer_key_to_json(k) for k in peer.keys],
    }


def row_to_peer(row: PeerRow) -> Peer:
    return Peer(
        name=row.name,
        url=row.url,
        status=row.status,
        direct=row.direct,
        display_name=row.display_name,
        keys=[peer_key_from_json(k) for k in row.keys],
    )


class NodeFederationStore:
    """All federation ports of one node. ``search_documents``: how the records it stores are indexed (the node's
    own, so that other coops' records are indexed with the node's trade vocabulary)."""

    #: rows derived ahead (:meth:`prepare_run`) are dropped past this many: pages prefetched then abandoned
    PREPARED_MAX = 4_000

    def __init__(self, db: Database, name: str, clock: Clock, search_documents: SearchDocuments) -> None:
        self.db = db
        self.name = name
        self.clock = clock
        self.search_documents = search_documents
        self._prepared: dict[tuple[bytes, bool], replica.Derived] = {}
        #: erasures taken in (tombstones with the reason ``erased``): called in the storing transaction with them
        #: (the node's receipts), then ``after_erased`` once it committed (the purge of the files)
        self.on_erased_sync: Callable[[Session, list[Record]], None] | None = None
        self.after_erased: Callable[[], None] | None = None
        #: called with each run once it committed (what the node tells its members of what arrived)
        self.after_stored: Callable[[Sequence[Record]], Awaitable[object]] | None = None
        self.statistics = PlannerStatistics(db)  # PostgreSQL: ANALYZE after bulk loads

    # ------------------------------------------------------------------------------------------------ log

    async def heads(self) -> dict[str, tuple[int, bytes]]:
        """Every origin's head: read on every pull, answered or made (one hop to a reader thread on SQLite)."""
        rows = await self.db.run_read(lambda session: _HEADS.all(connection(session), {}))
        return {origin: (int(seq), bytes(h)) for origin, seq, h in rows if h is not None}

    async def read(self, origin: str, after: int, limit: int) -> list[bytes]:
        async with self.db.read() as session:
            return await replication_log.entries_after(session, origin, after, limit)

    async def entry(self, origin: str, seq: int) -> bytes | None:
        async with self.db.read() as session:  # by primary key, nothing decoded
            row = await replication_log.get_entry(session, origin, seq)
            return None if row is None else replication_log.envelope(row.header, row.body, row.signature)

    def prepare_run(self, records: Sequence[Record]) -> None:
        """Derive the rows of records about to be stored (a pull calls it for the next page while the database
        stores the current one); :meth:`store_run` uses them, or derives what was not prepared."""
        if len(self._prepared) > self.PREPARED_MAX:
            self._prepared.clear()
        for r in records:
            self._prepared[replica.derive_key(r)] = replica.derive(r, self.search_documents)

    async def store_run(self, records: Sequence[Record], received_at: int) -> None:
        prepared = self._prepared
        derived = {k: d for k in map(replica.derive_key, records) if (d := prepared.pop(k, None)) is not None}
        if records and records[0].origin == self.name:
            derived = {replica.derive_key(r): _as_own(replica.derive(r, self.search_documents)) for r in records}

        def store(session: Session) -> bool:
            replica.store_run_sync(session.connection(), records, received_at, self.search_documents, derived)
            return self._erased_sync(session, records)

        if await self.db.run_write(store) and self.after_erased is not None:
            self.after_erased()
        if self.after_stored is not None:
            await self.after_stored(records)
        await self.statistics.stored(len(records))

    def _erased_sync(self, session: Session, records: Sequence[Record]) -> bool:
        """Hand the erasures among ``records`` to :attr:`on_erased_sync`; True if there were any."""
        erased = [
            r for r in records if r.type == "tombstone" and r.body is not None and r.body.get("reason") == "erased"
        ]
        if erased and self.on_erased_sync is not None:
            self.on_erased_sync(session, erased)
        return bool(erased)

    async def note_fork(self, fork: Fork) -> None:
        async with self.db.write() as session:
            known = await session.scalar(
                select(ForkRow.id).where(
                    ForkRow.origin == fork.origin, ForkRow.seq == fork.seq, ForkRow.theirs == fork.theirs
                )
            )
            if known is not None:
                return  # the same evidence presented again (by another peer, or by a push)
            session.add(
                ForkRow(
                    origin=fork.origin,
                    seq=fork.seq,
                    ours=fork.ours,
                    theirs=fork.theirs,
                    reported_by=fork.reported_by,
                    at=fork.at,
                )
            )

    async def replace_branch(self, origin: str, from_seq: int, records: Sequence[Record], received_at: int) -> int:
        """A fork repair: drop ``origin``'s entries from ``from_seq`` on and store its branch, atomically."""
        if origin == self.name:
            raise ValueError("a node never replaces its own log")
        replaced = await self.db.run_write(
            lambda session: replace_branch_sync(
                session.connection(), origin, from_seq, records, received_at, self.search_documents
            )
        )
        await self.statistics.stored(len(records))
        return replaced

    async def drop_origin(self, origin: str) -> int:
        async with self.db.write() as session:
            result = await session.execute(delete(RecordState).where(RecordState.origin == origin))
            await session.execute(delete(SearchDocument).where(SearchDocument.origin == origin))
            await session.execute(update(LogEntry).where(LogEntry.origin == origin).values(body=None))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def apply_deletions(self, tombstones: Sequence[Record], received_at: int) -> int:
        """Tombstones of a suspended or departed origin, applied outside its log (:mod:`node.records.deletions`)."""

        def apply(session: Session) -> tuple[int, bool]:
            applied = apply_deletions_sync(session.connection(), tombstones)
            return len(applied), self._erased_sync(session, applied)

        count, erased = await self.db.run_write(apply)
        if erased and self.after_erased is not None:
            self.after_erased()
        return count

    async def records_of_types(self, types: Sequence[str]) -> list[bytes]:
        async with self.db.read() as session:
            rows = await session.execute(
                select(LogEntry.header, LogEntry.body, LogEntry.signature)
                .where(LogEntry.type.in_(list(types)), LogEntry.body.is_not(None))
                .order_by(LogEntry.ts, LogEntry.origin, LogEntry.seq)
            )
            return [replication_log.envelope(h, b, sig) for h, b, sig in rows]

    async def forks(self) -> list[dict[str, Any]]:
        async with self.db.read() as session:
            rows = (await session.execute(select(ForkRow).order_by(ForkRow.id))).scalars().all()
            return [{"origin": r.origin, "seq": r.seq, "reported_by": r.reported_by, "at": r.at} for r in rows]

    # ---------------------------------------------------------------------------------------------- peers

    async def list_peers(self) -> list[Peer]:
        async with self.db.read() as session:
            rows = (await session.execute(select(PeerRow).order_by(PeerRow.name))).scalars().all()
            return [row_to_peer(r) for r in rows]

    async def save_peer(self, peer: Peer) -> None:
        async with self.db.write() as session:
            await session.execute(upsert(session, PeerRow, peer_to_row(peer), ("name",)))

    async def record_contact(self, name: str, *, at: int, error: str | None, lag: int | None = None) -> None:
        values: dict[str, Any] = (
            {"last_success_at": at} if error is None else {"last_error": error[:500], "last_error_at": at}
        )
        if lag is not None:
            values["lag"] = lag
        async with self.db.write() as session:
            await session.execute(update(PeerRow).where(PeerRow.name == name).values(**values))

    async def record_refusal(self, name: str, *, at: int, reason: str, dropped: int) -> None:
        """A peer refused deliveries for good: shown as its last error (the dashboard and the peers API)."""
        await self.record_contact(name, at=at, error=f"refused, {dropped} item(s) given up: {reason}")

    async def health(self) -> list[PeerHealth]:
        async with self.db.read() as session:
            counts = await session.execute(
                select(OutboxRow.peer, func.count()).where(OutboxRow.refused_at.is_(None)).group_by(OutboxRow.peer)
            )
            depth: dict[str, int] = {str(peer): int(n) for peer, n in counts}
            rows = (await session.execute(select(PeerRow).order_by(PeerRow.name))).scalars().all()
            return [
                PeerHealth(
                    name=r.name,
                    url=r.url,
                    status=r.status,
                    last_success=r.last_success_at,
                    last_error=r.last_error,
                    last_error_at=r.last_error_at,
                    queue_depth=int(depth.get(r.name, 0)),
                    lag=r.lag,
                )
                for r in rows
                if r.name != self.name
            ]

    # --------------------------------------------------------------------------------------------- outbox

    async def enqueue(self, peer: str, kind: str, payload: bytes, at: int) -> None:
        async with self.db.write() as session:
            await session.execute(
                insert(OutboxRow).values(
                    peer=peer,
                    kind=kind,
                    origin=None,
                    seq=None,
                    payload=payload,
                    attempts=0,
                    next_attempt_at=at,
                    last_error=None,
                    created_at=at,
                )
            )

    async def due(self, peer: str, now: int, limit: int) -> list[OutboxItem]:
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(OutboxRow)
                    .where(OutboxRow.peer == peer, OutboxRow.next_attempt_at <= now, OutboxRow.refused_at.is_(None))
                    .order_by(OutboxRow.id)
                    .limit(limit)
                )
            ).scalars()
            return [
                OutboxItem(
                    r.id,
                    r.peer,
                    r.kind,
                    entry_payload(r.origin, r.seq)
                    if r.kind == "entry" and r.origin is not None and r.seq is not None
                    else r.payload or b"",
                    r.attempts,
                )
                for r in rows
            ]

    async def next_due(self, peer: str) -> int | None:
        async with self.db.read() as session:
            value = await session.scalar(
                select(func.min(OutboxRow.next_attempt_at)).where(
                    OutboxRow.peer == peer, OutboxRow.refused_at.is_(None)
                )
            )
            return int(value) if value is not None else None

    async def due_many(
        self, peers: Sequence[str], now: int, limit: int
    ) -> dict[str, tuple[list[OutboxItem], int | None]]:
        """Every peer's due items (and, for a peer with none, its next attempt) in one read transaction: the
        delivery loops woken by one update ask together (``federation.outbox.Coalesced``)."""
        return await self.db.run_read(lambda session: _due_many(connection(session), peers, now, limit))

    async def delivered(self, ids: Sequence[int], contacts: Sequence[tuple[str, int]]) -> None:
        """Confirmed items removed and the peers' last successes recorded, in one write transaction."""
        if ids or contacts:
            await self.db.run_write(lambda session: _delivered(connection(session), ids, contacts))

    async def done(self, ids: Sequence[int]) -> None:
        if ids:
            async with self.db.write() as session:
                await session.execute(delete(OutboxRow).where(OutboxRow.id.in_(list(ids))))

    async def failed(self, ids: Sequence[int], *, next_attempt_at: int, error: str) -> None:
        if ids:
            async with self.db.write() as session:
                await session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(list(ids)))
                    .values(attempts=OutboxRow.attempts + 1, next_attempt_at=next_attempt_at, last_error=error[:500])
                )

    async def refused(self, ids: Sequence[int], *, error: str, at: int) -> None:
        """Set aside items the peer refused for good: kept, with the reason, for the operator; never retried."""
        if ids:
            async with self.db.write() as session:
                await session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(list(ids)))
                    .values(refused_at=at, last_error=error[:500], attempts=OutboxRow.attempts + 1)
                )

    async def refused_items(self) -> list[dict[str, Any]]:
        """The direct records peers refused for good, newest first (what the operator looks into)."""
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(OutboxRow).where(OutboxRow.refused_at.is_not(None)).order_by(OutboxRow.id.desc()).limit(200)
                )
            ).scalars()
            return [
                {"id": r.id, "peer": r.peer, "kind": r.kind, "refused_at": r.refused_at, "reason": r.last_error}
                for r in rows
            ]

    # ---------------------------------------------------------------------------------------- invitations

    async def create_invitation(self, valid_ms: int) -> str:
        # a letter first: the token is pasted as a command-line argument, where a leading "-" reads as an option
        token = "p" + secrets.token_urlsafe(24)
        now = self.clock()
        async with self.db.write() as session:
            session.add(
                PeerInvitation(
                    token_hash=hashlib.sha256(token.encode()).digest(),
                    created_at=now,
                    expires_at=now + valid_ms,
                    used_at=None,
                    used_by=None,
                )
            )
        return token

    async def consume(self, token_hash: bytes, now: int) -> bool:
        async with self.db.write() as session:
            result = await session.execute(
                update(PeerInvitation)
                .where(
                    PeerInvitation.token_hash == token_hash,
                    PeerInvitation.used_at.is_(None),
                    PeerInvitation.expires_at > now,
                )
                .values(used_at=now)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------------------------- node document

    async def own_document(self) -> bytes:
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(LogEntry.header, LogEntry.body, LogEntry.signature)
                    .where(LogEntry.origin == self.name, LogEntry.type == "node")
                    .order_by(LogEntry.seq.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            raise LookupError(f"{self.name} has not published its node document")
        return replication_log.envelope(row[0], row[1], row[2])


# ------------------------------------------------------------------------------ delivery bookkeeping (sync)

_OUTBOX: Final = cast(Table, OutboxRow.__table__)
_HEADS: Final = Prepared(text("SELECT origin, seq, hash FROM log_heads WHERE seq > 0"))
_PEERS: Final = cast(Table, PeerRow.__table__)
_DUE: Final = Prepared(  # a text statement: the SQLite dialect would add an OFFSET parameter to a LIMIT
    text(
        "SELECT id, kind, origin, seq, payload, attempts FROM outbox WHERE peer = :peer AND next_attempt_at <= :now "
        "AND refused_at IS NULL ORDER BY id LIMIT :limit"
    )
)
_NEXT_DUE: Final = Prepared(
    select(func.min(_OUTBOX.c.next_attempt_at)).where(
        _OUTBOX.c.peer == bindparam("peer"),
        _OUTBOX.c.refused_at.is_(None),
        _OUTBOX.c.next_attempt_at > bindparam("now"),
    )
)
_SUCCESS: Final = Prepared(
    update(_PEERS).where(_PEERS.c.name == bindparam("p_name")).values(last_success_at=bindparam("p_at"))
)


def _due_many(
    conn: Connection, peers: Sequence[str], now: int, limit: int
) -> dict[str, tuple[list[OutboxItem], int | None]]:
    out: dict[str, tuple[list[OutboxItem], int | None]] = {}
    for peer in peers:
        items = [
            OutboxItem(
                int(id_),
                peer,
                kind,
                entry_payload(origin, seq)
                if kind == "entry" and origin is not None and seq is not None
                else payload or b"",
                int(attempts),
            )
            for id_, kind, origin, seq, payload, attempts in _DUE.all(conn, {"peer": peer, "now": now, "limit": limit})
        ]
        if len(items) >= limit:
            out[peer] = (items, now)  # more may be due
            continue
        # the earliest of the others: those not due yet (every due one was returned)
        found = _NEXT_DUE.first(conn, {"peer": peer, "now": now if items else -1})
        out[peer] = (items, int(found[0]) if found is not None and found[0] is not None else None)
    return out


def _delivered(conn: Connection, ids: Sequence[int], contacts: Sequence[tuple[str, int]]) -> None:
    for start in range(0, len(ids), 400):
        conn.execute(delete(_OUTBOX).where(_OUTBOX.c.id.in_(list(ids[start : start + 400]))))
    latest: dict[str, int] = {}
    for peer, at in contacts:
        latest[peer] = max(at, latest.get(peer, at))
    _SUCCESS.executemany(conn, [{"p_name": peer, "p_at": at} for peer, at in sorted(latest.items())])


def _as_own(derived: replica.Derived) -> replica.Derived:
    """One of this node's own records taken back from a peer (the node was restored from an older backup): its
    members find it as they found it before, under the coop's audience; only its network body is known now."""
    coop = [{**d, "audience": "coop"} for d in derived.documents if d["audience"] == "network"]
    return replica.Derived(derived.state, derived.documents + coop)
