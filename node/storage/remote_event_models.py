"""Registrations of a member of one coop for an event organised by another coop.

One table, two directions, so each node holds its own side of the agreement:

* ``out`` on the member's node: the member's request and where it stands (``pending`` until the organiser's node
  answers, then ``confirmed`` / ``full`` / ``closed`` / ``unknown``, or ``cancelled`` by the member);
* ``in`` on the organiser's node: a participant from another coop holding a seat (``confirmed``) or having given
  it back (``cancelled``). These rows count against the event's seats together with the local registrations.

Kept apart from :mod:`node.storage.models` (its own feature, migration ``0006``); same ``Base``. ``account_id`` is
not a foreign key: the row names the member by its profile record id, which is what the other node knows.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from node.storage.models import Base

#: what the organiser's node answered (or ``pending`` while it has not, ``cancelled`` once the member withdrew)
STATUSES: Final = ("pending", "confirmed", "full", "closed", "unknown", "cancelled")


class RemoteEventRegistration(Base):
    """One member's registration for one event of another coop, as this node holds it."""

    __tablename__ = "remote_event_registrations"
    __table_args__ = (
        UniqueConstraint(
            "direction", "event_origin", "event_id", "member_origin", "member_id", name="uq_remote_event_registrations"
        ),
        Index("ix_remote_event_registrations_event", "direction", "event_origin", "event_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))  # out (this node is the member's) | in (the organiser's)
    event_origin: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))
    member_origin: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[str] = mapped_column(String(64))  # the member's profile record id on member_origin
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # on the member's node only
    display_name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String(64))  # the member node's latest request (answers echo it)
    requested_at: Mapped[int] = mapped_column(BigInteger)  # the member node's clock at that request
    updated_at: Mapped[int] = mapped_column(BigInteger)


async def remote_seats_taken(session: AsyncSession, origin: str, event_id: str) -> int:
    """Seats of a local event held by members of other coops (the organiser's side, confirmed only)."""
    taken = await session.scalar(
        select(func.count())
        .select_from(RemoteEventRegistration)
        .where(
            RemoteEventRegistration.direction == "in",
            RemoteEventRegistration.event_origin == origin,
            RemoteEventRegistration.event_id == event_id,
            RemoteEventRegistration.status == "confirmed",
        )
    )
    return int(taken or 0)
