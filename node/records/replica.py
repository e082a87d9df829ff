"""Storing verified runs of other origins' entries, in bulk: the one way entries of another origin are stored.

A new node taking in a peer's history of 100,000 records cannot afford several queries per record. Here a run
(consecutive entries of one origin that continue this node's head, already verified by ``federation``) is
stored with a handful of statements per page: one ``executemany`` for the entries, one read of the current
states of the records the run touches, one insert of the states that are new and one upsert of those that
changed, one delete (of the documents of records already held) and one insert for the search documents, one
head update. The caller's transaction makes it atomic: a crash mid-run leaves the previous head and nothing of
the run.

Statements are Core statements on the tables, built once (the ORM's bulk path costs more per row than the
database does), and record states skip the JSON-safe copy of bodies that hold no byte string. The rows derived
from a record alone (its state and its search documents: :func:`derive`, with the node's
:class:`~node.search.documents.SearchDocuments`) can be computed ahead, while the database stores the previous
page, and handed to :func:`store_run`.

Checking a run is the caller's (``federation``): duplicates are skipped, gaps refused and forks kept out before
a run gets here, so every entry of a run is new and continues this node's head for its origin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, delete, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.records.log import ERASE_EARLIER_BODIES, HEAD_UPSERT, STATE_UPSERT, jsonable
from node.search.documents import SearchDocuments
from node.search.index import store_documents
from node.storage.database import Prepared
from node.storage.models import LogEntry, LogHead, RecordState, SearchDocument
from protocol import Record

CHUNK = 400  # ids per IN clause: well under SQLite's and PostgreSQL's parameter limits

_ENTRIES: Final = cast(Table, LogEntry.__table__)
_RECORDS: Final = cast(Table, RecordState.__table__)
_DOCUMENTS: Final = cast(Table, SearchDocument.__table__)
_HEADS: Final = cast(Table, LogHead.__table__)
_INSERT_ENTRIES: Final = Prepared(insert(_ENTRIES))
_INSERT_RECORDS: Final = Prepared(insert(_RECORDS))
# msgpack markers of bin 8/16/32: a body whose bytes hold none of them has no byte string anywhere
_BIN_MARKERS: Final = (b"\xc4", b"\xc5", b"\xc6")


@dataclass(frozen=True, slots=True)
class Derived:
    """What a record alone determines: its row in ``records`` and its search documents (if it is current)."""

    state: dict[str, Any]
    documents: list[dict[str, Any]]


def derive_key(r: Record) -> tuple[bytes, bool]:
    """The key of :func:`derive`'s result: the entry hash, and whether the body is there (erasure keeps the hash)."""
    return r.entry.hash, r.entry.body is not None


def derive(r: Record, search_documents: SearchDocuments) -> Derived:
    """The record's state row and its complete search documents (text with both languages' trade names, facet
    columns, tags): everything but what only the database knows, so that it can be computed ahead."""
    found = [] if r.body is None else search_documents.received(r.type, r.origin, r.id, r.body, r.entry.header.ts)
    return Derived(_state_row(r), found)


async def store_run(
    session: AsyncSession,
    records: Sequence[Record],
    received_at: int,
    search_documents: SearchDocuments,
    derived: Mapping[tuple[bytes, bool], Derived] | None = None,
) -> None:
    """:func:`store_run_sync` in an async session's transaction."""
    await session.run_sync(
        lambda sync: store_run_sync(sync.connection(), records, received_at, search_documents, derived)
    )


def store_run_sync(
    conn: Connection,
    records: Sequence[Record],
    received_at: int,
    search_documents: SearchDocuments,
    derived: Mapping[tuple[bytes, bool], Derived] | None = None,
) -> None:
    """Store a verified run in the caller's transaction, its records indexed with ``search_documents``;
    ``derived``: :func:`derive` results computed ahead (by :func:`derive_key`). Synchronous, so that on SQLite
    the node runs it on its writer thread in one hop (the async session's per-statement hand-over between threads
    cost as much as the statements)."""
    if not records:
        return
    origin = records[0].origin
    _INSERT_ENTRIES.executemany(
        conn,
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
    current = _current_seqs(conn, origin, newest)
    changed = [r for rid, r in newest.items() if current.get(rid, (0, False))[0] < r.seq]
    deleted_before = {rid for rid, (_, deleted) in current.items() if deleted}

    if changed:
        ahead = derived or {}
        rows = {r.id: ahead.get(derive_key(r)) or derive(r, search_documents) for r in changed}
        new = [rows[r.id].state for r in changed if r.id not in current]
        held = [rows[r.id].state for r in changed if r.id in current]
        if new:  # no row yet for these ids (read above, in this transaction): a plain insert
            _INSERT_RECORDS.executemany(conn, new)
        if held:
            STATE_UPSERT.executemany(conn, held)
        # every tombstone of the run erases the bodies before it, even one a later entry of the run supersedes
        ERASE_EARLIER_BODIES.executemany(
            conn,
            [
                {"body": None, "e_origin": origin, "e_record_id": t.id, "e_seq": t.seq}
                for t in records
                if t.type == "tombstone"
            ],
        )
        _reindex(conn, origin, changed, current, [d for r in changed for d in rows[r.id].documents])
    # Entries OLDER than a tombstone already held keep their headers but never their bodies. An entry newer than
    # the tombstone brings the record back (the newest seq wins): its body stays.
    stale = [r for r in records if r.id in deleted_before and r.seq < current[r.id][0]]
    if stale:
        conn.execute(
            update(_ENTRIES)
            .where(_ENTRIES.c.origin == origin, _ENTRIES.c.seq.in_([r.seq for r in stale]))
            .values(body=None)
        )
    last = records[-1]
    HEAD_UPSERT.execute(conn, {"origin": origin, "seq": last.seq, "hash": last.entry.hash})


def _state_row(r: Record) -> dict[str, Any]:
    tombstone = r.type == "tombstone"
    target = str(r.body["target_type"]) if tombstone and r.body is not None else r.type
    return {
        "origin": r.origin,
        "record_id": r.id,
        "type": target if not (tombstone and r.body is None) else "unknown",
        "seq": r.seq,
        "deleted": tombstone,
        "body": None if tombstone or r.body is None else _json_body(r),
        "ts": r.entry.header.ts,
    }


def _json_body(r: Record) -> Any:
    """The body as the JSON column stores it: :func:`jsonable`, which only changes byte strings."""
    raw = r.entry.body
    assert r.body is not None
    if raw is not None and not any(marker in raw for marker in _BIN_MARKERS):
        return r.body  # no byte string inside: the JSON column serialises it as it is
    return jsonable(dict(r.body))


# On PostgreSQL: one primary-key lookup per id, whatever the planner statistics. ``origin = ? AND record_id IN
# (...)`` is planned from statistics: on a table that grew since its last ANALYZE (a bootstrap), the planner takes
# ``origin = ?`` for selective and scans every row of that origin (31-38 ms a page at 100,000 rows, 1 ms after
# ANALYZE). The lateral subquery's OFFSET 0 keeps it from being flattened into a hash join, so each id is an
# index lookup on the full primary key (one row at most: no statistics involved), about 1 ms for 400 ids.
_CURRENT_SEQS_PG: Final = text(
    "SELECT r.record_id, r.seq, r.deleted FROM unnest(CAST(:ids AS VARCHAR[])) AS wanted(id) "
    "CROSS JOIN LATERAL (SELECT record_id, seq, deleted FROM records "
    "WHERE origin = :origin AND record_id = wanted.id OFFSET 0) AS r"
)


def _current_seqs(conn: Connection, origin: str, ids: Iterable[str]) -> dict[str, tuple[int, bool]]:
    out: dict[str, tuple[int, bool]] = {}
    id_list = list(ids)
    if conn.dialect.name == "postgresql":
        for rid, seq, deleted in conn.execute(_CURRENT_SEQS_PG, {"origin": origin, "ids": id_list}):
            out[rid] = (int(seq), bool(deleted))
        return out
    for start in range(0, len(id_list), CHUNK):
        chunk = id_list[start : start + CHUNK]
        rows = conn.execute(
            select(_RECORDS.c.record_id, _RECORDS.c.seq, _RECORDS.c.deleted).where(
                _RECORDS.c.origin == origin, _RECORDS.c.record_id.in_(chunk)
            )
        )
        for rid, seq, deleted in rows:
            out[rid] = (int(seq), bool(deleted))
    return out


def _reindex(
    conn: Connection,
    origin: str,
    changed: list[Record],
    current: dict[str, tuple[int, bool]],
    documents: list[dict[str, Any]],
) -> None:
    # Search documents of another origin's record are written only here, together with its row in ``records``:
    # a record without a row (absent from ``current``) has no documents to drop.
    ids = [r.id for r in changed if r.id in current]
    for start in range(0, len(ids), CHUNK):
        conn.execute(
            delete(_DOCUMENTS).where(
                tuple_(_DOCUMENTS.c.origin, _DOCUMENTS.c.record_id).in_(
                    [(origin, rid) for rid in ids[start : start + CHUNK]]
                )
            )
        )
    store_documents(conn, documents)
