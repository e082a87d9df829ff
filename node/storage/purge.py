"""Erased text leaves the database's files, not only its tables (issue 12.5).

Deleting a row is not enough for an erasure: SQLite leaves the old bytes in free space of its pages and in every
frame of the write-ahead log (``-wal``) that held the page until the log is reset, and FTS5 keeps a deleted
document's words in its index segments (with a delete marker) until they are merged. PostgreSQL keeps dead tuples
until ``VACUUM`` and their bytes in the table's files until a rewrite.

So, on SQLite, every connection runs with ``secure_delete`` on (deleted content is overwritten with zeros, in the
database and in the pages the WAL gets), and after an erasure :class:`DiskPurge` merges the full-text index into
one segment (FTS5 ``optimize``, which drops the deleted entries; their old segments are freed, hence zeroed) and
then checkpoints the WAL with ``TRUNCATE`` (every frame copied into the database, the file cut to zero bytes).
On PostgreSQL it runs ``VACUUM FULL`` on the tables that hold member content (each rewritten into a new file, the
old file unlinked). A purge that cannot finish (a reader holds an old snapshot, so the WAL cannot be reset) is
tried again at the next run: the job runs every :data:`PURGE_SECONDS`, so erased text is gone from every file a
few seconds after the erasure reached the node (docs/operators.md, "Erasure").
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from node.storage.database import Database, connection

log = logging.getLogger(__name__)

#: how often the job looks for a purge to do (a flag: nothing is read when there is none)
PURGE_SECONDS: Final = 2.0
#: PostgreSQL: the tables whose rows carry a member's words (rewritten by VACUUM FULL after an erasure)
CONTENT_TABLES: Final = (
    "entries",
    "records",
    "search_documents",
    "member_profiles",
    "accounts",
    "offers",
    "mentorings",
    "events",
    "help_requests",
    "help_answers",
    "inbox_messages",
    "sent_messages",
    "member_moves",
    "member_path_steps",
    "outbox",
)


class DiskPurge:
    """Purges erased content from the database files once an erasure asks for it (:meth:`request`).

    On SQLite it is pending at construction: a node that stopped between an erasure and its purge purges at its
    next start (a merge of the index and a checkpoint: seconds at most). Not on PostgreSQL, where a purge rewrites
    the content tables under a lock: there an operator runs ``VACUUM FULL`` after such a stop (docs/operators.md).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pending = db.is_sqlite
        self.purges = 0  # purges completed (for the tests and the logs)

    def request(self) -> None:
        """An erasure was committed: purge at the next run (a flag; cheap to call after every commit)."""
        self.pending = True

    async def run_if_pending(self) -> int:
        """The job: purge if asked to; 1 when a purge completed."""
        if not self.pending:
            return 0
        self.pending = False
        try:
            done = await self.purge()
        except BaseException:
            self.pending = True
            raise
        if not done:
            self.pending = True
            return 0
        self.purges += 1
        return 1

    async def purge(self) -> bool:
        """Purge now; False when the files could not all be reset yet (tried again at the next run)."""
        if self.db.is_sqlite:
            await self.db.run_write(_optimize_fts)
            busy = await asyncio.to_thread(self._checkpoint)
            if busy:
                log.info("erasure purge: the WAL is in use by a reader; trying again in %g s", PURGE_SECONDS)
                return False
            log.info("erasure purge: full-text index merged, WAL checkpointed and truncated")
            return True
        async with self.db.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in CONTENT_TABLES:
                await auto.exec_driver_sql(f"VACUUM (FULL) {table}")
        log.info("erasure purge: VACUUM FULL of %d tables", len(CONTENT_TABLES))
        return True

    def _checkpoint(self) -> bool:
        """``PRAGMA wal_checkpoint(TRUNCATE)`` on a connection of its own; True when it was blocked."""
        engine = self.db.sync_engine
        assert engine is not None
        with engine.connect() as conn:
            row = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        return row is None or int(row[0]) != 0


def _optimize_fts(session: Session) -> None:
    """Merge the FTS5 index into one segment: the entries of deleted documents are dropped, not only marked."""
    connection(session).execute(text("INSERT INTO search_fts(search_fts) VALUES ('optimize')"))
