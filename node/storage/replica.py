"""Storing verified runs of other origins' entries, in bulk.

:func:`node.storage.log.store_received` stores one record at a time; a new node taking in a peer's history of
100,000 records cannot afford several queries per record. Here a run (consecutive entries of one origin that
continue this node's head, already verified by ``federation``) is stored with a handful of statements per
page: one ``executemany`` for the entries, one read of the current states of the records the run touches, one
upsert of the states that changed, one delete and one insert for the search documents, one head update. The
caller's transaction makes it atomic: a crash mid-run leaves the previous head and nothing of the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from protocol import Record

from . import search
from .log import INDEXED_TYPES, jsonable, network_texts, upsert
from .models import LogEntry, LogHead, RecordState, SearchDocument

CHUNK = 400  # ids per IN clause: well under SQLite's and PostgreSQL's parameter limits


async def store_run(session: AsyncSession, records: Sequence[Record], received_at: int) -> None:
    if not records:
        return
    origin = records[0].origin
    await session.execute(
        insert(LogEntry),
        [
            {
                "origin": r.origin,
                "seq": r.seq,
                "record_id": r.id,
                "type": r.entry.header.type,
                "hash": r.entry.hash,
                "header": r.entry.header_bytes,
                "body": r.entry.body,
                "signature": r.entry.signature,
                "ts": r.entry.header.ts,
                "received_at": received_at,
            }
            for r in records
        ],
    )
    newest: dict[str, Record] = {}
    for r in records:
        newest[r.id] = r  # later seq wins within the run
    current = await _current_seqs(session, origin, newest)
    changed = [r for rid, r in newest.items() if current.get(rid, (0, False))[0] < r.seq]
    deleted_before = {rid for rid, (_, deleted) in current.items() if deleted}

    if changed:
        await session.execute(upsert_states(session), [_state_row(r) for r in changed])
        await _erase_tombstoned_bodies(session, origin, [r for r in changed if r.type == "tombstone"])
        await _reindex(session, origin, changed)
    # Older entries of a record already deleted here keep their headers but never their bodies.
    stale = [r for r in records if r.id in deleted_before]
    if stale:
        await session.execute(
            update(LogEntry)
            .where(LogEntry.origin == origin, LogEntry.seq.in_([r.seq for r in stale]))
            .values(body=None)
        )
    last = records[-1]
    await session.execute(
        upsert(session, LogHead, {"origin": origin, "seq": last.seq, "hash": last.entry.hash}, ("origin",))
    )


def upsert_states(session: AsyncSession) -> Any:
    """INSERT ... ON CONFLICT (origin, record_id) DO UPDATE for ``records``, for executemany."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(RecordState)
    return stmt.on_conflict_do_update(
        index_elements=["origin", "record_id"],
        set_={c: stmt.excluded[c] for c in ("type", "seq", "deleted", "body", "ts")},
    )


def _state_row(r: Record) -> dict[str, Any]:
    tombstone = r.type == "tombstone"
    target = str(r.body["target_type"]) if tombstone and r.body is not None else r.type
    return {
        "origin": r.origin,
        "record_id": r.id,
        "type": target if not (tombstone and r.body is None) else "unknown",
        "seq": r.seq,
        "deleted": tombstone,
        "body": None if tombstone or r.body is None else jsonable(dict(r.body)),
        "ts": r.entry.header.ts,
    }


async def _current_seqs(session: AsyncSession, origin: str, ids: Iterable[str]) -> dict[str, tuple[int, bool]]:
    out: dict[str, tuple[int, bool]] = {}
    id_list = list(ids)
    for start in range(0, len(id_list), CHUNK):
        chunk = id_list[start : start + CHUNK]
        rows = await session.execute(
            select(RecordState.record_id, RecordState.seq, RecordState.deleted).where(
                RecordState.origin == origin, RecordState.record_id.in_(chunk)
            )
        )
        for rid, seq, deleted in rows:
            out[rid] = (int(seq), bool(deleted))
    return out


async def _erase_tombstoned_bodies(session: AsyncSession, origin: str, tombstones: list[Record]) -> None:
    for t in tombstones:
        await session.execute(
            update(LogEntry)
            .where(LogEntry.origin == origin, LogEntry.record_id == t.id, LogEntry.seq < t.seq)
            .values(body=None)
        )


async def _reindex(session: AsyncSession, origin: str, changed: list[Record]) -> None:
    ids = [r.id for r in changed]
    for start in range(0, len(ids), CHUNK):
        await session.execute(
            delete(SearchDocument).where(
                tuple_(SearchDocument.origin, SearchDocument.record_id).in_(
                    [(origin, rid) for rid in ids[start : start + CHUNK]]
                )
            )
        )
    rows = [
        {"kind": r.type, "origin": origin, "record_id": r.id, "audience": audience, "content": content}
        for r in changed
        if r.type in INDEXED_TYPES and r.body is not None
        for audience, content in ((a, search.normalise(t)) for a, t in network_texts(r.type, r.body).items())
        if content
    ]
    if rows:
        await session.execute(insert(SearchDocument), rows)
