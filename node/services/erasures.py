"""Erasure receipts (issue 12.7): every node that held an erased member's records confirms, signed, that it
erased them, and the member sees which nodes confirmed and which are still pending.

Two sides:

- **On the member's node**, the erasure (:meth:`Directory.erase_account`) calls :meth:`Erasures.open` in its
  transaction: the ids of the records withdrawn and the peers they were pushed to (the nodes that hold them) are
  kept, with the SHA-256 of a secret token handed to the member (their account is gone: the token is how they
  come back to :meth:`status` and :meth:`export`, at ``/erasures/<token>``). Received ``erasure_receipt``
  records (:meth:`receive`) are kept exactly as signed, for every erasure whose records they name.
- **On every other node**, the federation store calls :meth:`receipts_sync` in the transaction that applied
  ``erased`` tombstones (from the log, or outside it for a suspended coop): one receipt per origin is queued for
  that origin, in the same transaction, so a deletion and its receipt commit together.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from node.clock import Clock
from node.errors import NotFound
from node.services.direct import DirectSender
from node.storage.database import Database
from node.storage.erasure_models import Erasure, ErasureReceipt
from node.storage.outbox import direct_peer_names, enqueue_direct_sync
from protocol import Record
from protocol.records import MAX_RECEIPT_RECORDS

log = logging.getLogger(__name__)

TOKEN_BYTES: Final = 24
EXPORT_FORMAT: Final = "bigre-erasure-receipts/1"


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class Erasures:
    def __init__(self, db: Database, *, name: str, clock: Clock, direct: DirectSender) -> None:
        self.db = db
        self.name = name
        self.clock = clock
        self.direct = direct

    # -------------------------------------------------------------------------------- the member's node

    async def open(self, session: AsyncSession, records: Sequence[str]) -> str:
        """Remember an erasure in the caller's transaction; the member's secret token. The nodes expected to
        confirm are the peers the tombstones were queued for (none when nothing had left this node)."""
        nodes = sorted(await direct_peer_names(session, self.name)) if records else []
        token = secrets.token_urlsafe(TOKEN_BYTES)
        session.add(Erasure(token_hash=token_hash(token), records=list(records), nodes=nodes, erased_at=self.clock()))
        await session.flush()
        return token

    async def receive(self, record: Record, received_at: int) -> bool:
        """Keep a signed receipt for each erasure whose records it names; False if nothing new (a repeat, or
        records this node erased for no member it remembers: logged)."""
        body = record.body or {}
        listed = body.get("records")
        confirmed = {str(r) for r in listed} if isinstance(listed, list) else set()
        at = body.get("erased_at")
        erased_at = at if isinstance(at, int) else 0
        fresh = False
        async with self.db.write() as session:
            for erasure in (await session.scalars(select(Erasure).order_by(Erasure.id))).all():
                mine = [r for r in erasure.records if r in confirmed]
                if not mine:
                    continue
                repeat = await session.scalar(
                    select(ErasureReceipt.id).where(
                        ErasureReceipt.erasure_id == erasure.id,
                        ErasureReceipt.node == record.origin,
                        ErasureReceipt.receipt_id == record.id,
                    )
                )
                if repeat is not None:
                    continue
                session.add(
                    ErasureReceipt(
                        erasure_id=erasure.id,
                        node=record.origin,
                        receipt_id=record.id,
                        records=mine,
                        erased_at=erased_at,
                        received_at=received_at,
                        envelope=record.entry.encode(),
                    )
                )
                fresh = True
                log.info("erasure %d: %s confirmed %d record(s)", erasure.id, record.origin, len(mine))
        if not fresh:
            log.info("erasure receipt %s/%s names no erasure waiting for it; kept nothing", record.origin, record.id)
        return fresh

    async def status(self, token: str) -> dict[str, Any]:
        """Which nodes confirmed the erasure and which are still pending (NotFound for an unknown token)."""
        return _status(*await self._load(token), self.name, with_envelopes=False)

    async def export(self, token: str) -> dict[str, Any]:
        """:meth:`status` with every receipt exactly as signed (hex), for the member to keep and check."""
        return {"format": EXPORT_FORMAT, **_status(*await self._load(token), self.name, with_envelopes=True)}

    async def _load(self, token: str) -> tuple[Erasure, list[ErasureReceipt]]:
        async with self.db.read() as session:
            erasure = await session.scalar(select(Erasure).where(Erasure.token_hash == token_hash(token)))
            if erasure is None:
                raise NotFound("no erasure with this address")
            receipts = (
                await session.scalars(
                    select(ErasureReceipt).where(ErasureReceipt.erasure_id == erasure.id).order_by(ErasureReceipt.id)
                )
            ).all()
        return erasure, list(receipts)

    # --------------------------------------------------------------------------------- every other node

    def receipts_sync(self, session: Session, tombstones: Sequence[Record]) -> None:
        """Queue a receipt for each origin of these applied ``erased`` tombstones, in the caller's transaction."""
        by_origin: defaultdict[str, list[str]] = defaultdict(list)
        for t in tombstones:
            if t.origin != self.name and t.id not in by_origin[t.origin]:
                by_origin[t.origin].append(t.id)
        now = self.clock()
        conn = session.connection()
        for origin, ids in by_origin.items():
            for start in range(0, len(ids), MAX_RECEIPT_RECORDS):
                part = ids[start : start + MAX_RECEIPT_RECORDS]
                entry = self.direct.sign(
                    "erasure_receipt", {"to_node": origin, "records": part, "erased_at": now}, now=now
                )
                enqueue_direct_sync(conn, origin, [entry], now)
            log.info("erasure receipt queued for %s: %d record(s) erased here", origin, len(ids))


def _status(erasure: Erasure, receipts: list[ErasureReceipt], own: str, *, with_envelopes: bool) -> dict[str, Any]:
    wanted = set(erasure.records)
    by_node: defaultdict[str, list[ErasureReceipt]] = defaultdict(list)
    for r in receipts:
        by_node[r.node].append(r)
    nodes = []
    for node in sorted(set(erasure.nodes) | set(by_node)):
        mine = by_node.get(node, [])
        covered = {rid for r in mine for rid in r.records}
        confirmed = wanted <= covered
        item: dict[str, Any] = {
            "node": node,
            "status": "confirmed" if confirmed else "pending",
            "confirmed_at": max((r.received_at for r in mine), default=None) if confirmed else None,
            "records_confirmed": len(covered & wanted),
        }
        if with_envelopes:
            item["receipts"] = [
                {"id": r.receipt_id, "records": r.records, "erased_at": r.erased_at, "signed_hex": r.envelope.hex()}
                for r in mine
            ]
        nodes.append(item)
    return {
        "node": own,
        "erased_at": erasure.erased_at,
        "records": len(erasure.records),
        **({"record_ids": list(erasure.records)} if with_envelopes else {}),
        "confirmed": sum(1 for n in nodes if n["status"] == "confirmed"),
        "pending": sum(1 for n in nodes if n["status"] == "pending"),
        "nodes": nodes,
    }
