"""Deletions of an origin whose log this node no longer takes (a suspended or departed coop).

Erasure outranks governance (docs/PROTOCOL.md §6.2): a member of a suspended coop who erases their account must
vanish from every node, yet the suspended coop's log is frozen everywhere at its suspension. Its tombstones are
therefore applied here *outside* the log: verified one by one by ``federation``, they delete the record's current
state, its search documents and the bodies of its entries held, and the log's head does not move. If the coop is
reinstated, the same tombstones arrive again in its chain and are stored as any entry (applying them twice
changes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, cast

from sqlalchemy import Connection, Table, select, update

from node.records.log import ERASE_EARLIER_BODIES
from node.search.index import unindex_record_sync
from node.storage.models import RecordState
from protocol import Record

_RECORDS: Final = cast(Table, RecordState.__table__)


def apply_deletions_sync(conn: Connection, tombstones: Sequence[Record]) -> list[Record]:
    """Apply verified tombstones in the caller's transaction; those that deleted something or found it deleted
    already (a tombstone of a record held at a newer seq, republished since, is skipped)."""
    applied: list[Record] = []
    for t in tombstones:
        held = conn.execute(
            select(_RECORDS.c.seq).where(_RECORDS.c.origin == t.origin, _RECORDS.c.record_id == t.id)
        ).first()
        if held is not None and int(held[0]) > t.seq:
            continue
        ERASE_EARLIER_BODIES.execute(conn, {"body": None, "e_origin": t.origin, "e_record_id": t.id, "e_seq": t.seq})
        if held is not None:
            conn.execute(
                update(_RECORDS)
                .where(_RECORDS.c.origin == t.origin, _RECORDS.c.record_id == t.id)
                .values(deleted=True, body=None)
            )
        unindex_record_sync(conn, t.origin, t.id)
        applied.append(t)
    return applied
