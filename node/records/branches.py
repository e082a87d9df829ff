"""Replacing a branch of another origin's log: what a fork repair does to the node's tables (docs/PROTOCOL.md §6.1).

Federation verified the branch the origin stands by; here, in one transaction, the entries of the dropped branch
go (from ``from_seq`` on), every record they touched goes back to its newest state before ``from_seq`` (or leaves
the current states and the search index when it had none), and the origin's branch is stored as any verified run
is (:func:`node.storage.replica.store_run_sync`). A failure leaves the log as it was.

Known limit: a body that a tombstone of the dropped branch erased is not restored (it is gone from this node);
the record's state then shows it erased until the origin publishes it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, delete, func, select, update

from node.records.log import envelope
from node.records.replica import CHUNK, derive, store_run_sync
from node.search import index as search
from node.search.documents import SearchDocuments
from node.storage.models import LogEntry, LogHead, RecordState
from protocol import Record, check_body, decode_entry

_ENTRIES: Final = cast(Table, LogEntry.__table__)
_RECORDS: Final = cast(Table, RecordState.__table__)
_HEADS: Final = cast(Table, LogHead.__table__)


def replace_branch_sync(
    conn: Connection,
    origin: str,
    from_seq: int,
    records: Sequence[Record],
    received_at: int,
    search_documents: SearchDocuments,
) -> int:
    """Drop ``origin``'s entries from ``from_seq`` on, restore the states they superseded, store ``records``
    (which continue seq ``from_seq`` - 1); the number of entries dropped. In the caller's transaction."""
    touched = sorted(
        {
            str(rid)
            for (rid,) in conn.execute(
                select(_ENTRIES.c.record_id).where(_ENTRIES.c.origin == origin, _ENTRIES.c.seq >= from_seq)
            )
        }
    )
    dropped = conn.execute(delete(_ENTRIES).where(_ENTRIES.c.origin == origin, _ENTRIES.c.seq >= from_seq))
    states: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    for start in range(0, len(touched), CHUNK):
        chunk = touched[start : start + CHUNK]
        conn.execute(delete(_RECORDS).where(_RECORDS.c.origin == origin, _RECORDS.c.record_id.in_(chunk)))
        for rid in chunk:
            search.unindex_record_sync(conn, origin, rid)
        newest = (
            select(_ENTRIES.c.record_id, func.max(_ENTRIES.c.seq).label("seq"))
            .where(_ENTRIES.c.origin == origin, _ENTRIES.c.record_id.in_(chunk))
            .group_by(_ENTRIES.c.record_id)
            .subquery()
        )
        rows = conn.execute(
            select(_ENTRIES.c.header, _ENTRIES.c.body, _ENTRIES.c.signature)
            .join(
                newest,
                (_ENTRIES.c.record_id == newest.c.record_id) & (_ENTRIES.c.seq == newest.c.seq),
            )
            .where(_ENTRIES.c.origin == origin)
        )
        for header, body, signature in rows:
            entry = decode_entry(envelope(header, body, signature))
            derived = derive(Record(entry, check_body(entry)), search_documents)
            states.append(derived.state)
            documents.extend(derived.documents)
    if states:
        conn.execute(_RECORDS.insert(), states)
    search.store_documents(conn, documents)
    previous = conn.execute(
        select(_ENTRIES.c.hash).where(_ENTRIES.c.origin == origin, _ENTRIES.c.seq == from_seq - 1)
    ).scalar()
    conn.execute(update(_HEADS).where(_HEADS.c.origin == origin).values(seq=from_seq - 1, hash=previous))
    store_run_sync(conn, records, received_at, search_documents)
    return int(dropped.rowcount or 0)
