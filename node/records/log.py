"""The replication log in the database: entries of every origin, the current state of every record, heads.

These functions take an open session and never commit: the caller's transaction decides. They are what the
federation layer calls to store what it received (:func:`store_received`), to answer a peer's pull
(:func:`entries_after`) and to compare version vectors (:func:`heads`). The node's own publishing goes through
:class:`node.records.publisher.Publisher`, which writes with :func:`append_own_entry` (on a sync connection, inside
:meth:`~node.storage.database.Database.run_write`) or :func:`append_entry`.
"""

from __future__ import annotations

import base64
import enum
import logging
from collections.abc import Mapping
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, and_, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

import protocol
from node.search import facets as search_facets
from node.search import index as search
from node.storage.database import Prepared, upsert
from node.storage.models import LogEntry, LogHead, RecordState
from protocol import Entry, Record, Value

log = logging.getLogger(__name__)


def jsonable(value: Value | Any) -> Any:
    """A record body as JSON: byte strings become ``{"$b64": ...}``; everything else maps one to one."""
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {k: jsonable(v) if isinstance(v, _CONVERTED) else v for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) if isinstance(v, _CONVERTED) else v for v in value]
    return value


_CONVERTED: Final = (bytes, dict, list)


# -------------------------------------------------------------------------------------------------- reads


async def stored_heads(session: AsyncSession) -> dict[str, int]:
    """Per origin, the highest contiguous seq held, as ``log_heads`` keeps it (one small read; :func:`heads`
    recomputes the same from every entry and is for checking, not for the health endpoint polled by peers)."""
    rows = await session.execute(select(LogHead.origin, LogHead.seq).where(LogHead.seq > 0))
    return {origin: int(seq) for origin, seq in rows}


async def heads(session: AsyncSession) -> dict[str, int]:
    """Per origin, the highest seq n such that entries 1..n are all held (0 when seq 1 is missing)."""
    rows = (
        await session.execute(
            select(LogEntry.origin, func.count(), func.min(LogEntry.seq), func.max(LogEntry.seq)).group_by(
                LogEntry.origin
            )
        )
    ).all()
    result: dict[str, int] = {}
    for origin, count, lowest, highest in rows:
        if lowest != 1:
            result[origin] = 0
        elif count == highest:
            result[origin] = int(highest)
        else:  # a gap: the first held seq whose successor is missing
            nxt = LogEntry.__table__.alias("nxt")
            first_gap = await session.scalar(
                select(func.min(LogEntry.seq)).where(
                    LogEntry.origin == origin,
                    ~select(nxt.c.seq)
                    .where(and_(nxt.c.origin == LogEntry.origin, nxt.c.seq == LogEntry.seq + 1))
                    .exists(),
                )
            )
            result[origin] = int(first_gap or 0)
    return result


async def head_of(session: AsyncSession, origin: str) -> tuple[int, bytes | None]:
    """(seq, hash) of the highest contiguous entry of ``origin`` held, from ``log_heads``; (0, None) if none."""
    row = (await session.execute(select(LogHead.seq, LogHead.hash).where(LogHead.origin == origin))).first()
    return (int(row[0]), row[1]) if row is not None else (0, None)


def entry_from_row(row: LogEntry) -> Entry:
    """Rebuild the protocol entry from its stored bytes (as signed; body None if erased)."""
    return Entry(
        protocol.decode_entry(envelope(row.header, row.body, row.signature)).header,
        row.header,
        row.body,
        row.signature,
    )


def envelope(header: bytes, body: bytes | None, signature: bytes) -> bytes:
    """A stored entry as it travels: the ``{b, h, s}`` envelope of the protocol."""
    return protocol.encode({"b": body, "h": header, "s": signature})


async def entries_after(session: AsyncSession, origin: str, after: int, limit: int) -> list[bytes]:
    """Encoded envelopes of ``origin`` with seq > ``after``, in order, at most ``limit`` (for a peer's pull)."""
    rows = (
        await session.execute(
            select(LogEntry.header, LogEntry.body, LogEntry.signature)
            .where(LogEntry.origin == origin, LogEntry.seq > after)
            .order_by(LogEntry.seq)
            .limit(limit)
        )
    ).all()
    return [envelope(h, b, s) for h, b, s in rows]


async def get_entry(session: AsyncSession, origin: str, seq: int) -> LogEntry | None:
    return await session.get(LogEntry, (origin, seq))


# ------------------------------------------------------------------------------------------------- writes


async def _apply_state(session: AsyncSession, entry: Entry, body: Mapping[str, Value] | None) -> bool:
    """Make ``records`` reflect ``entry`` if it is newer than what is there; True when it was."""
    h = entry.header
    current = (
        await session.execute(
            select(RecordState.seq, RecordState.deleted).where(
                RecordState.origin == h.origin, RecordState.record_id == h.id
            )
        )
    ).first()
    if current is not None and current[0] >= h.seq:
        if current[1]:  # an older entry of a deleted record: keep its header, never its body
            await session.execute(
                update(LogEntry).where(LogEntry.origin == h.origin, LogEntry.seq == h.seq).values(body=None)
            )
        return False
    is_tombstone = h.type == "tombstone"
    target_type = str(body["target_type"]) if is_tombstone and body is not None else h.type
    if is_tombstone and body is None:
        target_type = "unknown"
    await session.execute(
        upsert(
            session,
            RecordState,
            {
                "origin": h.origin,
                "record_id": h.id,
                "type": target_type,
                "seq": h.seq,
                "deleted": is_tombstone,
                "body": None if is_tombstone or body is None else jsonable(dict(body)),
                "ts": h.ts,
            },
            ("origin", "record_id"),
        )
    )
    if is_tombstone:
        # Every node that holds the body drops it: erase the bodies of this record's earlier entries.
        await session.execute(
            update(LogEntry)
            .where(LogEntry.origin == h.origin, LogEntry.record_id == h.id, LogEntry.seq < h.seq)
            .values(body=None)
        )
    return True


async def advance_head(session: AsyncSession, origin: str) -> int:
    """Move ``log_heads`` of ``origin`` over every entry now held contiguously; return the new head seq."""
    seq, last_hash = await head_of(session, origin)
    start = seq
    while True:
        row = (
            await session.execute(
                select(LogEntry.seq, LogEntry.hash)
                .where(LogEntry.origin == origin, LogEntry.seq > seq)
                .order_by(LogEntry.seq)
                .limit(500)
            )
        ).all()
        moved = False
        for s, hsh in row:
            if s != seq + 1:
                break
            seq, last_hash, moved = s, hsh, True
        if not moved or len(row) < 500:
            break
    if seq != start:
        await session.execute(upsert(session, LogHead, {"origin": origin, "seq": seq, "hash": last_hash}, ("origin",)))
    return seq


# ------------------------------------------------------------------- sync writes (the node's own publishing)

_ENTRIES: Final = cast(Table, LogEntry.__table__)
_RECORDS: Final = cast(Table, RecordState.__table__)
_INSERT_ENTRY: Final = Prepared(insert(_ENTRIES))
ERASE_EARLIER_BODIES: Final = Prepared(  # body=None is passed as a parameter (Prepared binds no literals)
    update(_ENTRIES).where(
        _ENTRIES.c.origin == bindparam("e_origin"),
        _ENTRIES.c.record_id == bindparam("e_record_id"),
        _ENTRIES.c.seq < bindparam("e_seq"),
    )
)
# The same SQL on SQLite and PostgreSQL; as text() it is compiled once (SQLAlchemy does not cache the compiled
# form of the dialects' insert().on_conflict_do_update() constructs).
STATE_UPSERT: Final = Prepared(
    text(
        "INSERT INTO records (origin, record_id, type, seq, deleted, body, ts) "
        "VALUES (:origin, :record_id, :type, :seq, :deleted, :body, :ts) "
        "ON CONFLICT (origin, record_id) DO UPDATE SET type = excluded.type, seq = excluded.seq, "
        "deleted = excluded.deleted, body = excluded.body, ts = excluded.ts"
    ).bindparams(
        bindparam("seq", type_=_RECORDS.c.seq.type),
        bindparam("deleted", type_=_RECORDS.c.deleted.type),
        bindparam("body", type_=_RECORDS.c.body.type),
        bindparam("ts", type_=_RECORDS.c.ts.type),
    )
)


HEAD_UPSERT: Final = Prepared(
    text(
        "INSERT INTO log_heads (origin, seq, hash) VALUES (:origin, :seq, :hash) "
        "ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
    ).bindparams(
        bindparam("seq", type_=cast(Table, LogHead.__table__).c.seq.type),
        bindparam("hash", type_=cast(Table, LogHead.__table__).c.hash.type),
    )
)


def append_own_entry(conn: Connection, entry: Entry, body: Mapping[str, Value] | None, received_at: int) -> None:
    """Store an entry this node just signed: its seq is above every seq held for its origin
    (the caller holds the head lock), so it is the newest of its record and ``records`` is overwritten without
    being read first. Three statements (two for anything but a tombstone)."""
    h = entry.header
    _INSERT_ENTRY.execute(
        conn,
        {
            "origin": h.origin,
            "seq": h.seq,
            "record_id": h.id,
            "type": h.type,
            "hash": entry.hash,
            "header": entry.header_bytes,
            "body": entry.body,
            "signature": entry.signature,
            "ts": h.ts,
            "received_at": received_at,
        },
    )
    is_tombstone = h.type == "tombstone"
    target_type = h.type
    if is_tombstone:
        target_type = str(body["target_type"]) if body is not None else "unknown"
    STATE_UPSERT.execute(
        conn,
        {
            "origin": h.origin,
            "record_id": h.id,
            "type": target_type,
            "seq": h.seq,
            "deleted": is_tombstone,
            "body": None if is_tombstone or body is None else jsonable(dict(body)),
            "ts": h.ts,
        },
    )
    if is_tombstone:
        ERASE_EARLIER_BODIES.execute(conn, {"body": None, "e_origin": h.origin, "e_record_id": h.id, "e_seq": h.seq})


class StoreOutcome(enum.Enum):
    STORED = "stored"  # new entry, kept
    DUPLICATE = "duplicate"  # the very same entry was already held: nothing changed
    FORK = "fork"  # a different entry with this origin and seq is held: evidence of a fork, nothing changed


async def store_received(session: AsyncSession, record: Record, received_at: int) -> StoreOutcome:
    """Store an entry of any origin that the caller has **already verified** (signature, chain, schema).

    Idempotent: replaying or reordering deliveries does not change the result. A tombstone drops the bodies
    this node holds for the record. The search index follows the record's current state.
    """
    entry = record.entry
    h = entry.header
    held = (
        await session.execute(select(LogEntry.hash).where(LogEntry.origin == h.origin, LogEntry.seq == h.seq))
    ).first()
    if held is not None:
        if held[0] == entry.hash:
            return StoreOutcome.DUPLICATE
        log.warning("fork: origin %s signed two different entries for seq %d (record %s)", h.origin, h.seq, h.id)
        return StoreOutcome.FORK
    session.add(
        LogEntry(
            origin=h.origin,
            seq=h.seq,
            record_id=h.id,
            type=h.type,
            hash=entry.hash,
            header=entry.header_bytes,
            body=entry.body,
            signature=entry.signature,
            ts=h.ts,
            received_at=received_at,
        )
    )
    await session.flush()
    if await _apply_state(session, entry, record.body):
        if h.type == "tombstone":
            await search.unindex_record(session, h.origin, h.id)
        elif record.body is not None and h.type in INDEXED_TYPES:
            bodies = search_facets.received_bodies(h.type, record.body)
            texts = network_texts(h.type, record.body)
            for audience, body in bodies.items():  # both languages' names of the trades (bilingual search)
                extra = search_facets.trade_words(body)
                if extra and texts.get(audience):
                    texts[audience] += " " + extra
            await search.index_record(session, h.type, h.origin, h.id, texts, bodies, h.ts)
    await advance_head(session, h.origin)
    return StoreOutcome.STORED


INDEXED_TYPES = frozenset({"profile", "offer", "mentoring", "event"})


def network_texts(record_type: str, body: Mapping[str, Any]) -> dict[str, str]:
    """Search texts of a network body: everything for the ``network`` audience; a profile's fields listed in
    its ``public`` list also for the ``public`` audience."""
    if record_type == "profile":
        public_fields = set(body.get("public") or ())
        everything = " ".join(search.flatten({k: v for k, v in body.items() if k != "public"}))
        public = " ".join(search.flatten({k: v for k, v in body.items() if k in public_fields}))
        return {"network": everything, "public": public}
    return {"network": " ".join(search.flatten(dict(body)))}
