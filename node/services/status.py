"""How this node is doing, for its health endpoint and its operators: heads held, replication activity."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from sqlalchemy import func, select, text

from node.errors import NodeError
from node.metrics import PeerFigures, Snapshot
from node.records import log as replication_log
from node.storage.database import Database
from node.storage.federation_models import ForkRow, PeerRow
from node.storage.models import Account, LogEntry, LogHead, OutboxItem

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

    async def snapshot(self, now: int, sqlite_files: list[Path]) -> Snapshot:
        """The database's figures for a metrics scrape: peers' queues and health, forks, heads, size."""
        async with self.db.read() as session:
            queues = {
                peer: (int(depth), oldest, int(refused or 0))
                for peer, depth, oldest, refused in await session.execute(
                    select(
                        OutboxItem.peer,
                        func.count().filter(OutboxItem.refused_at.is_(None)),
                        func.min(OutboxItem.created_at).filter(OutboxItem.refused_at.is_(None)),
                        func.count().filter(OutboxItem.refused_at.is_not(None)),
                    ).group_by(OutboxItem.peer)
                )
            }
            peers = (
                await session.execute(
                    select(PeerRow.name, PeerRow.lag, PeerRow.last_success_at, PeerRow.last_error_at).where(
                        PeerRow.name != self.name, PeerRow.direct.is_(True), PeerRow.status == "member"
                    )
                )
            ).all()
            forks = int(await session.scalar(select(func.count()).select_from(ForkRow)) or 0)
            heads = {origin: int(seq) for origin, seq in await session.execute(select(LogHead.origin, LogHead.seq))}
            size = None
            if self.db.dialect == "postgresql":
                size = int(await session.scalar(text("SELECT pg_database_size(current_database())")) or 0)
        if self.db.dialect == "sqlite":
            size = sum(p.stat().st_size for p in sqlite_files if p.exists())
        figures = []
        for name, lag, last_success, last_error in peers:
            depth, oldest, refused = queues.get(name, (0, None, 0))
            figures.append(
                PeerFigures(
                    name=name,
                    outbox_depth=depth,
                    outbox_oldest_age_s=max(0.0, (now - oldest) / 1000) if oldest is not None else 0.0,
                    outbox_refused=refused,
                    lag=int(lag),
                    last_success_age_s=None if last_success is None else max(0.0, (now - last_success) / 1000),
                    reachable=last_success is not None and (last_error is None or last_error <= last_success),
                )
            )
        return Snapshot(figures, forks, heads, size)

    async def readiness(self) -> list[str]:
        """Why this node should not take traffic now (empty when ready): its database does not answer, or it
        has peers and reaches none of them (its search would show a stale network)."""
        try:
            async with self.db.read() as session:
                peers = (
                    await session.execute(
                        select(PeerRow.last_success_at, PeerRow.last_error_at).where(
                            PeerRow.name != self.name, PeerRow.direct.is_(True), PeerRow.status == "member"
                        )
                    )
                ).all()
        except NodeError as exc:
            return [f"database: {exc.message}"]
        except Exception as exc:  # whatever the driver raises when the server is gone
            return [f"database: {type(exc).__name__}"]
        tried = [(ok, err) for ok, err in peers if ok is not None or err is not None]
        if tried and not any(ok is not None and (err is None or err <= ok) for ok, err in tried):
            return [f"peers: none of the {len(tried)} peers answered at the last try"]
        return []

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
