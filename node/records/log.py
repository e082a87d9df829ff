"""The record log in the database: entries of every origin, the current state of every record, heads.

These functions never commit: the caller's transaction decides. The node's own entries are written by
:class:`node.records.publisher.Publisher` with :func:`append_own_entry` (on a sync connection, inside
:meth:`~node.storage.database.Database.run_write`); other origins' entries arrive in verified runs, stored by
:mod:`node.records.replica` (which shares this module's statements). The reads here answer a peer's pull
(:func:`entries_after`, :func:`get_entry`, :func:`envelope`) and the health endpoint (:func:`stored_heads`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

import protocol
from node.storage.database import Prepared
from node.storage.models import LogEntry, LogHead, RecordState
from protocol import Entry, Value


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
    """Per origin, the highest contiguous seq held, as ``log_heads`` keeps it (one small read: the health
    endpoint is polled by peers)."""
    rows = await session.execute(select(LogHead.origin, LogHead.seq).where(LogHead.seq > 0))
    return {origin: int(seq) for origin, seq in rows}


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


# ------------------------------------- writes, on a sync connection (the publisher's and the replica's statements)

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
