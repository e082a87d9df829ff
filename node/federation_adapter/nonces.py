"""The replay guard of signed federation requests in the database, for a node served by several workers.

Each worker's memory would let a request replayed to another worker through; the ``federation_nonces`` table
(PostgreSQL only: workers need it) is shared. One statement decides atomically, also when two workers get the
same request at once: the insert succeeds for a new nonce (or replaces one older than the window) and does
nothing for a nonce seen within the window.
"""

from __future__ import annotations

from typing import Final, cast

from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql

from federation.errors import ReplayedRequestError
from federation.transport import REPLAY_WINDOW_MS
from node.storage.database import Database
from node.storage.federation_models import SeenNonce

PURGE_EVERY_MS: Final = 60_000  # each worker deletes expired nonces at most this often
_NONCES: Final = cast(Table, SeenNonce.__table__)


class SharedNonces:
    """:class:`federation.transport.ReplayCheck` on the node's PostgreSQL database."""

    def __init__(self, db: Database, window_ms: int = REPLAY_WINDOW_MS) -> None:
        self.db = db
        self.window_ms = window_ms
        self._purged_at = 0

    async def check(self, origin: str, nonce: str, now: int) -> None:
        cutoff = now - self.window_ms
        new = postgresql.insert(_NONCES).values(origin=origin, nonce=nonce, seen_at=now)
        stmt = new.on_conflict_do_update(
            index_elements=[_NONCES.c.origin, _NONCES.c.nonce],
            set_={"seen_at": new.excluded.seen_at},
            where=_NONCES.c.seen_at < cutoff,
        ).returning(_NONCES.c.seen_at)
        async with self.db.write() as session:
            fresh = (await session.execute(stmt)).first() is not None
            if now - self._purged_at > PURGE_EVERY_MS:
                self._purged_at = now
                await session.execute(delete(_NONCES).where(_NONCES.c.seen_at < cutoff))
        if not fresh:
            raise ReplayedRequestError(f"nonce {nonce} from {origin} was already used")
