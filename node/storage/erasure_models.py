"""What a node keeps of an erasure after the account is gone: which records it withdrew, which nodes held them, and
the signed receipts those nodes sent back (issue 12.7).

Nothing here names the person: the record ids are the ones the tombstones already carry in the log, and the
member reaches their erasure only through the secret token they were given (only its SHA-256 is kept). Kept
apart from :mod:`node.storage.models` (its own feature and migration); same ``Base``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from node.storage.models import Base


class Erasure(Base):
    """One erased account, as its own node remembers it."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)  # SHA-256 of the member's token
    records: Mapped[list[Any]] = mapped_column(JSON)  # the record ids withdrawn (one tombstone each)
    nodes: Mapped[list[Any]] = mapped_column(JSON)  # the nodes expected to confirm (the peers that held them)
    erased_at: Mapped[int] = mapped_column(BigInteger)


class ErasureReceipt(Base):
    """One signed ``erasure_receipt`` from another node, for the erasures whose records it names."""

    __tablename__ = "erasure_receipts"
    __table_args__ = (Index("ix_erasure_receipts_erasure", "erasure_id", "node"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    erasure_id: Mapped[int] = mapped_column(ForeignKey("erasures.id", ondelete="CASCADE"))
    node: Mapped[str] = mapped_column(String(32))
    receipt_id: Mapped[str] = mapped_column(String(64))  # the signed record's id
    records: Mapped[list[Any]] = mapped_column(JSON)  # the ids it confirms, among this erasure's
    erased_at: Mapped[int] = mapped_column(BigInteger)  # as the node signed it
    received_at: Mapped[int] = mapped_column(BigInteger)
    envelope: Mapped[bytes] = mapped_column(LargeBinary)  # the record exactly as signed: proof for the member
