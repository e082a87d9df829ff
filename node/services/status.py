"""How this node is doing, for its health endpoint and its operators: heads held, replication activity."""

from __future__ import annotations

from typing import Final

from sqlalchemy import func, select

from node.storage import log as replication_log
from node.storage.database import Database
from node.storage.federation_models import PeerRow
from node.storage.models import Account, LogEntry, OutboxItem

HOUR_MS: Final = 3_600_000


class NodeStatus:
    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name

    async def heads(self) -> dict[str, int]:
        """Per origin, the highest contiguous seq held (one small read: peers poll the health endpoint)."""
        async with self.db.read() as session:
            return await replication_log.stored_heads(session)

    async def received_per_hour(self, now: int, hours: int = 24) -> list[int]:
        """Entries received from other origins in each of the last ``hours`` hours, oldest first."""
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select((LogEntry.received_at / HOUR_MS).label("h"), func.count())
                    .where(LogEntry.origin != self.name, LogEntry.received_at >= now - hours * HOUR_MS)
                    .group_by("h")
                )
            ).all()
        per_hour = {int(h): int(n) for h, n in rows}
        first = now // HOUR_MS - (hours - 1)
        return [per_hour.get(first + i, 0) for i in range(hours)]

    async def counts(self) -> dict[str, int]:
        """Accounts, entries held and outbox rows waiting (for ``bigre status``)."""
        async with self.db.read() as session:
            accounts = await session.scalar(select(func.count()).select_from(Account))
            entries = await session.scalar(select(func.count()).select_from(LogEntry))
            outbox = await session.scalar(select(func.count()).select_from(OutboxItem))
        return {"accounts": int(accounts or 0), "entries": int(entries or 0), "outbox": int(outbox or 0)}

    async def coops(self) -> list[dict[str, str | bool]]:
        """The coops this node knows (itself excluded): short name, name as people read it, status, and whether
        it is a direct peer (messages, moves and registrations go to direct member peers only)."""
        async with self.db.read() as session:
            rows = (await session.scalars(select(PeerRow).order_by(PeerRow.name))).all()
        return [
            {"name": r.name, "display_name": r.display_name or r.name, "status": r.status, "direct": bool(r.direct)}
            for r in rows
            if r.name != self.name
        ]
