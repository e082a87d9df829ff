"""Publishing: every local change to a shareable thing appends one signed entry to this node's own log, in the
same database transaction as the change itself.

The caller (a service) passes the *network body*, built from network and public fields only; the publisher
validates it against the record type's schema, allocates the next ``seq`` under a lock on this origin's row of
``log_heads`` (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the single writer already serialises),
chains it to the previous entry, signs it, stores it in ``entries`` and ``records``, updates the search index
and queues it in the ``outbox`` for every peer that :data:`OutboxPeers` names (none until federation says so).

The search documents of the node's own records are made here too, from what each audience may read (the
caller's ``search_bodies``), by the node's :class:`~node.search.documents.SearchDocuments`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from node.clock import Clock
from node.errors import InvalidInput, NodeError, Unavailable
from node.records import log as replication_log
from node.search.documents import Bodies, SearchDocuments
from node.search.index import replace_documents, unindex_record_sync
from node.storage.database import Prepared, connection
from node.storage.models import LogHead, OutboxItem, RecordState
from protocol import RECORD_TYPES, Entry, SchemaError, SigningKey, sign_entry

logger = logging.getLogger(__name__)

T = TypeVar("T")

OutboxPeers = Callable[[Session], Sequence[str]]
"""Returns the names of the peers a new entry must be pushed to, read within the publishing transaction."""

RECORD_ID_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

_HEADS: Final = cast(Table, LogHead.__table__)
_RECORDS: Final = cast(Table, RecordState.__table__)
_LOCK_HEAD: Final = Prepared(
    select(_HEADS.c.seq, _HEADS.c.hash).where(_HEADS.c.origin == bindparam("h_origin")).with_for_update()
)
_SET_HEAD: Final = Prepared(update(_HEADS).where(_HEADS.c.origin == bindparam("h_origin")))
_RECORD_STATE: Final = Prepared(
    select(_RECORDS.c.body, _RECORDS.c.deleted).where(
        _RECORDS.c.origin == bindparam("r_origin"), _RECORDS.c.record_id == bindparam("r_record_id")
    )
)
_INSERT_OUTBOX: Final = Prepared(insert(cast(Table, OutboxItem.__table__)))


def new_record_id() -> str:
    """A short random record id (16 characters, about 95 bits), starting with a letter or digit."""
    return "".join(secrets.choice(RECORD_ID_ALPHABET) for _ in range(16))


def canonical_order(value: Any) -> Any:
    """``value`` with every map's keys in canonical order (by UTF-8 bytes), as schemas expect to see them."""
    if isinstance(value, dict):
        return {
            k: canonical_order(v) if isinstance(v, dict | list) else v
            for k, v in sorted(value.items(), key=_utf8_of_key)
        }
    if isinstance(value, list):
        return [canonical_order(v) if isinstance(v, dict | list) else v for v in value]
    return value


def _utf8_of_key(item: tuple[Any, Any]) -> bytes:
    return bytes(item[0].encode("utf-8"))


def no_peers(_session: Session) -> Sequence[str]:
    return ()


def _always() -> str | None:
    return None


class Publisher:
    """Appends this node's signed entries. One per node; safe to share between requests and threads.

    The work is done by the ``*_sync`` methods, on a sync :class:`Session` (inside
    :meth:`~node.storage.database.Database.run_write`); the coroutine methods of the same names run them on an
    :class:`AsyncSession` (``async with db.write()``) through ``run_sync``.

    ``search_documents`` makes the search documents of the records it publishes (or indexes without
    publishing: :meth:`index_sync`). ``outbox_peers`` names the peers a new entry is queued for; it is called
    with the publishing transaction's session, so a peer admitted or suspended in the same transaction counts.
    """

    def __init__(
        self,
        origin: str,
        key: Callable[[], SigningKey],
        clock: Clock,
        search_documents: SearchDocuments,
        outbox_peers: OutboxPeers = no_peers,
    ) -> None:
        self.origin = origin
        self.key = key
        self.clock = clock
        self.search_documents = search_documents
        self.outbox_peers = outbox_peers
        #: with several workers: called under the head lock, before signing, when another process appended to
        #: this node's chain since this one last did (it may have rotated the key: see Identity.follow_document)
        self.on_others_wrote: Callable[[Session], None] | None = None
        self._written: int | None = None  # the seq this process last appended
        #: why this node must not sign now (None: it may); the composition root sets it to the federation's
        #: own-log gate, closed while a peer may hold more of this node's log than the node does
        self.may_sign: Callable[[], str | None] = _always

    # ------------------------------------------------------------------------------- on an AsyncSession

    async def ensure_head(self, session: AsyncSession) -> None:
        """Create this origin's ``log_heads`` row if missing (at start, before concurrent publishing)."""
        await session.run_sync(self.ensure_head_sync)

    async def publish(
        self,
        session: AsyncSession,
        *,
        type: str,
        record_id: str,
        body: Mapping[str, Any],
        created: int,
        search_bodies: Bodies | None = None,
    ) -> Entry:
        """Sign and store the next entry of this node's log. ``search_bodies``: to index the record, what each
        audience may read of it (None: the record is not searched)."""
        return await session.run_sync(
            lambda s: self.publish_sync(
                s, type=type, record_id=record_id, body=body, created=created, search_bodies=search_bodies
            )
        )

    async def publish_at_head(
        self,
        session: AsyncSession,
        *,
        type: str,
        record_id: str,
        body_at: Callable[[int, bytes | None], Mapping[str, Any]],
        created: int,
    ) -> Entry:
        """Like :meth:`publish`, for a body that names its own position (a key hand-over signs its seq and prev):
        ``body_at(seq, prev)`` is called under the head lock, in the transaction that appends the entry."""

        def run(s: Session) -> Entry:
            s.flush()
            last, prev = self._lock_head(s, connection(s))
            body = body_at(last + 1, prev)
            return self.publish_sync(s, type=type, record_id=record_id, body=body, created=created, head=(last, prev))

        return await session.run_sync(run)

    async def tombstone(
        self, session: AsyncSession, *, target_type: str, record_id: str, reason: str = "deleted"
    ) -> Entry | None:
        """Publish the deletion of one of this node's records; None if it was never published (nothing to do)."""
        return await session.run_sync(  # one read of the record's state, peers looked up only when publishing
            lambda s: self.tombstone_sync(s, target_type=target_type, record_id=record_id, reason=reason)
        )

    async def published_body(self, session: AsyncSession, record_id: str) -> dict[str, Any] | None:
        """The body of the current published state of a record, or None (never published, or deleted)."""
        return await session.run_sync(lambda s: self.published_body_sync(s, record_id))

    # ---------------------------------------------------------------------------------- on a sync Session

    def ensure_head_sync(self, session: Session) -> None:
        if session.get(LogHead, self.origin) is None:
            session.add(LogHead(origin=self.origin, seq=0, hash=None))
            session.flush()

    def publish_sync(
        self,
        session: Session,
        *,
        type: str,
        record_id: str,
        body: Mapping[str, Any],
        created: int,
        search_bodies: Bodies | None = None,
        head: tuple[int, bytes | None] | None = None,
        peers: Sequence[str] | None = None,
    ) -> Entry:
        """Sign and store the next entry of this node's log.

        ``search_bodies``: to index the record, what each audience may read of it (its documents are replaced;
        None: the record is not searched); ``head``: this origin's (seq, hash) as the caller read it *under the
        head lock* in this transaction (``SELECT ... FOR UPDATE`` of this origin's ``log_heads`` row), to spare
        reading it again; ``peers``: the outbox peers if the caller already has them.
        """
        record_type = RECORD_TYPES[type]
        if record_type.direct:  # a programming error: direct records go through node.services.direct only
            raise ValueError(f"a {type} is a direct record: it is never published in the log")
        why = self.may_sign()
        if why is not None:  # signing now could take a seq the network already holds: a fork of our own log
            logger.warning("not signing a %s now: %s", type, why)
            raise Unavailable(f"this node is checking its records with its peers ({why}); try again in a moment")
        body = canonical_order(dict(body))
        try:
            record_type.validate(body)
        except SchemaError as exc:
            raise _schema_to_input(exc) from exc
        session.flush()  # whatever the caller added through the ORM goes first, as it did through the session
        conn = connection(session)
        last_seq, prev = head if head is not None else self._lock_head(session, conn)
        if self.on_others_wrote is not None and last_seq != self._written:
            self.on_others_wrote(session)
        seq = last_seq + 1
        now = self.clock()
        entry = sign_entry(
            self.key(),
            type=type,
            type_version=record_type.version,
            origin=self.origin,
            id=record_id,
            seq=seq,
            created=created,
            ts=now,
            prev=prev,
            body=body,
        )
        replication_log.append_own_entry(conn, entry, body, now)
        _SET_HEAD.execute(conn, {"h_origin": self.origin, "seq": seq, "hash": entry.hash})
        if peers is None:
            peers = self.outbox_peers(session)
        if peers:
            _INSERT_OUTBOX.executemany(
                conn,
                [
                    {
                        "peer": peer,
                        "kind": "entry",
                        "origin": self.origin,
                        "seq": seq,
                        "payload": None,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "last_error": None,
                        "created_at": now,
                    }
                    for peer in peers
                ],
            )
        if search_bodies is not None:
            self._index(conn, type, record_id, search_bodies, now)
        self._written = seq
        logger.debug("published %s/%d: %s %s", self.origin, seq, type, record_id)
        return entry

    def tombstone_sync(
        self,
        session: Session,
        *,
        target_type: str,
        record_id: str,
        reason: str = "deleted",
        peers: Sequence[str] | None = None,
    ) -> Entry | None:
        """Publish the deletion of one of this node's records; None if it was never published (nothing to do)."""
        conn = connection(session)
        state = _RECORD_STATE.first(conn, {"r_origin": self.origin, "r_record_id": record_id})
        unindex_record_sync(conn, self.origin, record_id)
        if state is None or state[1]:
            return None
        return self.publish_sync(
            session,
            type="tombstone",
            record_id=record_id,
            body={"target_type": target_type, "reason": reason},
            created=self.clock(),
            peers=peers,
        )

    def index_sync(self, session: Session, *, type: str, record_id: str, search_bodies: Bodies, ts: int) -> None:
        """Index one of this node's records without publishing it (a profile none of whose fields may leave the
        node is still found by the coop's members): ``search_bodies`` as for :meth:`publish_sync`."""
        self._index(connection(session), type, record_id, search_bodies, ts)

    def _index(self, conn: Connection, type: str, record_id: str, search_bodies: Bodies, ts: int) -> None:
        documents = self.search_documents.own(type, self.origin, record_id, search_bodies, ts)
        replace_documents(conn, self.origin, record_id, documents)

    def published_body_sync(self, session: Session, record_id: str) -> dict[str, Any] | None:
        row = _RECORD_STATE.first(connection(session), {"r_origin": self.origin, "r_record_id": record_id})
        if row is None or row[1]:
            return None
        body: dict[str, Any] | None = row[0]
        return body

    def _lock_head(self, session: Session, conn: Connection) -> tuple[int, bytes | None]:
        row = _LOCK_HEAD.first(conn, {"h_origin": self.origin})
        if row is None:
            self.ensure_head_sync(session)
            return 0, None
        return int(row[0]), row[1]


def _schema_to_input(exc: SchemaError) -> NodeError:
    """A schema error names a path like ``offer.title``: report it as that field's error."""
    reason = exc.reason
    path, _, why = reason.partition(": ")
    parts = path.split(".", 2)
    field = parts[1].split("[", 1)[0] if len(parts) > 1 else "body"
    return InvalidInput(f"{field}: {why or reason}", {field: why or reason})
