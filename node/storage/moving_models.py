"""Tables of member moves: a member leaving this coop for another (``out``), or arriving from one (``in``).

A move is one row on each of the two nodes, keyed by ``(origin, move_id)``: ``origin`` is the node the member
leaves, which names the move. Both signed records are kept on both sides, exactly as signed: the origin's
**request** (a ``member_move`` direct record: the member's portable data) and the destination's **acceptance** (a
``member_move_acceptance``: which of the origin's record ids became which new ids). Either node can show them
later as the proof of what was agreed. Each column holds a canonical list of envelopes: one typed record since
migration ``0010``; the ``message`` parts that carried a move before it, for older moves.

Kept apart from :mod:`node.storage.models` (moves are rare, and their own feature); same ``Base``, migration
``0004``. ``account_id`` is deliberately not a foreign key: on the origin the account is erased when the move
completes, and the row must outlive it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.storage.models import Base, JSONDict

#: statuses of a move, in order: ``requested`` (sent, on the origin) / ``pending`` (received, on the destination),
#: then ``accepted`` (the destination created the member; the origin published its forwards), then ``done``
#: (the origin erased the member's local data)
STATUSES = ("requested", "pending", "accepted", "done")


class MemberMove(Base):
    """One member's move between two coops, as this node holds it."""

    __tablename__ = "member_moves"
    __table_args__ = (
        UniqueConstraint("origin", "move_id", name="uq_member_moves_ref"),
        Index("ix_member_moves_status", "direction", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))  # out (this node is the origin) | in (the destination)
    origin: Mapped[str] = mapped_column(String(32))  # the node the member leaves
    move_id: Mapped[str] = mapped_column(String(64))
    to_node: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the member's account on this node
    member_id: Mapped[str] = mapped_column(String(64))  # the profile's record id on the origin
    new_member_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # ... and on the destination
    display_name: Mapped[str] = mapped_column(String(120))
    data: Mapped[JSONDict] = mapped_column(JSON)  # the portable data, as the request carried it
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # origin record id -> destination id
    request: Mapped[bytes] = mapped_column(LargeBinary)  # canonical list of the request's signed envelopes
    acceptance: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # ... of the acceptance's
    requested_at: Mapped[int] = mapped_column(BigInteger)
    accepted_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    done_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
