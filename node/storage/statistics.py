"""PostgreSQL's planner statistics, kept fresh by the node itself after bulk loads.

PostgreSQL plans every query from statistics gathered by ``ANALYZE``. Its autovacuum daemon gathers them in the
background, by default once a table has changed by a tenth plus 50 rows and at most once a minute per table, and
an operator may have turned it off: a bootstrap that stores 100,000 records in a couple of minutes runs most of
its queries on statistics of an almost empty table, and a query planned on them can scan every row of an origin
instead of looking rows up by key (measured: 31-38 ms per page instead of 1 ms at 100,000 rows). So the node
analyses the tables replication fills itself, whenever they have grown by half since the last time (and by at
least :data:`MIN_ROWS` rows): a handful of times in a bootstrap of any size (each a sample of at most 30,000 rows
per table, a fraction of a second), never on a node that only receives the odd update. SQLite plans without
gathered statistics here (the node's queries are written for its index choices): nothing to do.

The hot lookups do not depend on this either (:func:`node.records.replica._current_seqs` is written so that any
plan is an index lookup); fresh statistics are for every other query, searches included.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from sqlalchemy import text

from node.storage.database import Database

log = logging.getLogger(__name__)

#: the tables a replicated run writes (analysed together: one statement)
TABLES: Final = (
    "entries",
    "records",
    "log_heads",
    "search_documents",
    "search_colsets",
    "search_tagsets",
    "search_tagset_values",
)
MIN_ROWS: Final = 5_000  # rows stored since the last ANALYZE before another is worth it
GROWTH: Final = 0.5  # ... and this share of the entries held at the last ANALYZE


class PlannerStatistics:
    """Counts the rows stored since the last ``ANALYZE`` of :data:`TABLES` and runs one when they have grown by
    half (PostgreSQL only; on SQLite every call returns at once)."""

    def __init__(self, db: Database, min_rows: int = MIN_ROWS) -> None:
        self._db = db
        self._min_rows = min_rows
        self._held = 0  # entries at the last ANALYZE (0 until the first one: this process has not looked)
        self._since = 0
        self._lock = asyncio.Lock()
        self.runs = 0  # ANALYZE statements run by this process (for tests and the operator's logs)

    @property
    def due(self) -> bool:
        return self._since >= max(self._min_rows, GROWTH * self._held)

    async def stored(self, rows: int) -> None:
        """``rows`` entries were stored in a committed transaction: analyse when the tables have grown enough."""
        if self._db.is_sqlite:
            return
        self._since += rows
        if self.due and not self._lock.locked():
            await self.analyze()

    async def analyze(self) -> None:
        """``ANALYZE`` the replicated tables now (in its own transaction: it takes no lock writers wait for)."""
        if self._db.is_sqlite:
            return
        async with self._lock:
            since = self._since
            async with self._db.engine.connect() as conn:
                await conn.execute(text(f"ANALYZE {', '.join(TABLES)}"))
                held = await conn.scalar(text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'entries'"))
                await conn.commit()
            self._held = max(0, int(held or 0))
            self._since -= since
            self.runs += 1
            log.info("planner statistics refreshed after %d new entries (%d entries held)", since, self._held)
