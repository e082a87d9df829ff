"""Tables of the mentoring programmes (pairs, check-ins) and of the schools' requests (issue 16).

A pair is one row on each node that takes part in it: the programme's node (the coordinator's), the mentor's and
the mentee's (one row when two of them are the same node). The programme's node is the authority: it sends its
snapshot (a ``mentoring_pair`` direct record) to the others, which keep the newest. Check-ins are kept on the
pair's nodes only, never in a log. A school request is the coop's own business: it never leaves the node.

Kept apart from :mod:`node.storage.models` (its own feature, migration ``0017_mentoring``); same ``Base``.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.storage.models import Base, JSONDict

#: a pair's life: ``proposed`` until both accept, ``active``, then ``closed``; ``declined`` when either declines
PAIR_STATUSES: Final = ("proposed", "active", "declined", "closed")
#: a school request's life: ``new``, ``planned`` (it became an event), ``declined``
SCHOOL_STATUSES: Final = ("new", "planned", "declined")


class MentoringPair(Base):
    """One mentoring pair, as this node holds it (the programme's node holds the feedback too)."""

    __tablename__ = "mentoring_pairs"
    __table_args__ = (UniqueConstraint("pair_id", name="uq_mentoring_pairs_pair_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair_id: Mapped[str] = mapped_column(String(64))
    coordinator_node: Mapped[str] = mapped_column(String(32))  # the programme's node: the pair's authority
    programme: Mapped[str] = mapped_column(String(97), index=True)  # origin/id of the mentoring_programme
    programme_name: Mapped[str] = mapped_column(String(120))
    mentor: Mapped[JSONDict] = mapped_column(JSON)  # node, member, mentoring, name, answer
    mentee: Mapped[JSONDict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    #: the members' closing words, by role; on the programme's node only (never sent on)
    feedback: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    proposed_at: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[int] = mapped_column(BigInteger)  # the snapshot's time: the newest wins
    reminded_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # the last reminder sent here


class MentoringCheckin(Base):
    """One meeting of a pair: on the pair's nodes only."""

    __tablename__ = "mentoring_checkins"
    __table_args__ = (
        UniqueConstraint("origin", "checkin_id", name="uq_mentoring_checkins_ref"),
        Index("ix_mentoring_checkins_pair", "pair_id", "date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(32))  # the node where it was written
    checkin_id: Mapped[str] = mapped_column(String(64))
    pair_id: Mapped[str] = mapped_column(String(64))
    date: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    by_node: Mapped[str] = mapped_column(String(32))
    by_name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[int] = mapped_column(BigInteger)


class SchoolRequest(Base):
    """A teacher's request for a discovery session, from the public form; the coop's own, never sent on."""

    __tablename__ = "school_requests"
    __table_args__ = (Index("ix_school_requests_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school: Mapped[str] = mapped_column(String(200))
    town: Mapped[str] = mapped_column(String(80))
    class_level: Mapped[str] = mapped_column(String(80))
    dates: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(120))
    contact_email: Mapped[str] = mapped_column(String(254))
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="new")
    volunteers: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{origin, member, name}]
    event_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
