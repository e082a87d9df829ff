"""Shared spaces and machines: this coop's resources, the bookings of any resource as each node holds them, the
qualifications the place's staff gave, and the members' private calendar feeds.

One booking table, two directions, so each node holds its own side (as for event registrations):

* ``in`` on the resource's node: every booking of its resources, by its own members (``member_origin`` is this
  node, ``account_id`` set) or by members of other coops. Its status is the truth: ``pending`` (waiting for the
  staff), ``confirmed``, ``refused`` or ``cancelled``.
* ``out`` on the member's node, for a resource of another coop: ``requested`` until that node answers, then
  what it answered.

``booking_slots`` is the database's own guarantee that two live bookings of one resource never overlap: a
pending or confirmed ``in`` booking holds one row per 15-minute slot it covers, under a primary key
(resource, slot start). Whatever the backend, the isolation level or the number of processes, a second booking
of the same slot cannot commit. The service also checks the overlap under a lock on the resource's row first,
so a refusal names its reason; the key is what makes it true.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.storage.models import Base, JSONDict

#: the grid every booking lies on (every time zone's offset from UTC is a multiple of it)
SLOT_MS: Final = 15 * 60 * 1000
#: what a booking's status may be, on either side
STATUSES: Final = ("requested", "pending", "confirmed", "refused", "cancelled")
LIVE: Final = ("pending", "confirmed")


class Resource(Base):
    """A space or a machine this coop publishes (its ``resource`` record); the row bookings lock."""

    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    data: Mapped[JSONDict] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class Booking(Base):
    """One booking of one resource, as this node holds it (see the module's docstring for the directions)."""

    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("direction", "member_origin", "booking_id", name="uq_bookings_booking"),
        Index("ix_bookings_resource", "direction", "resource_origin", "resource_id", "start"),
        Index("ix_bookings_account", "account_id", "start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    booking_id: Mapped[str] = mapped_column(String(64))  # chosen by the member's node
    resource_origin: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    member_origin: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the member's, on their own node
    display_name: Mapped[str] = mapped_column(String(120))
    start: Mapped[int] = mapped_column(BigInteger)
    end: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    request_id: Mapped[str] = mapped_column(String(64))  # the member node's latest request
    requested_at: Mapped[int] = mapped_column(BigInteger)  # the member node's time of that request
    answered_at: Mapped[int] = mapped_column(BigInteger, default=0)  # the resource node's time of the state
    updated_at: Mapped[int] = mapped_column(BigInteger)


class BookingSlot(Base):
    """One 15-minute slot of one of this node's resources, held by one live booking (the no-overlap key)."""

    __tablename__ = "booking_slots"

    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    booking: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)


class Qualification(Base):
    """A qualification the place's staff gave a member of any coop (an induction on the laser cutter)."""

    __tablename__ = "qualifications"
    __table_args__ = (UniqueConstraint("qualification", "member_origin", "member_id", name="uq_qualifications_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    qualification: Mapped[str] = mapped_column(String(40))
    member_origin: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(120))
    given_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    given_at: Mapped[int] = mapped_column(BigInteger)


class CalendarFeed(Base):
    """A member's private calendar feed: only the SHA-256 of its secret token is kept."""

    __tablename__ = "calendar_feeds"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
