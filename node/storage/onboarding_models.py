"""Tables of onboarding (Manucoop): the cases advisors follow and members' individual paths.

A case is one aggregate: the group, its project and its path through the stages are edited together and travel
together (a signed ``case_share`` direct record) to the coops it is shared with, so its content is one JSON
document (``data``).
The columns the board filters, sorts or locks on are real columns. A case is keyed by ``(origin, case_id)``:
``origin`` is the coop that opened it (this node for its own cases, another node for a case shared with us).

Kept apart from :mod:`node.storage.models` because onboarding is staff work on people who are not (yet)
members; the tables share the same ``Base`` and migrations (``0003``).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.storage.models import Base, JSONDict


class OnboardingCase(Base):
    """One group accompanied towards a cooperative, as this node holds it (own case or shared copy)."""

    __tablename__ = "onboarding_cases"
    __table_args__ = (
        UniqueConstraint("origin", "case_id", name="uq_onboarding_cases_ref"),
        Index("ix_onboarding_cases_stage", "stage", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(32))  # the coop that opened the case
    case_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(32))
    origin_kind: Mapped[str] = mapped_column(String(32))
    target_form: Mapped[str] = mapped_column(String(32))
    data: Mapped[JSONDict] = mapped_column(JSON)  # group, project, stages, owners (see services.onboarding_rules)
    shared_with: Mapped[list[str]] = mapped_column(JSON, default=list)  # node names; decided by the origin only
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)  # time of the newest edit, wherever made: newest wins
    updated_by: Mapped[str] = mapped_column(String(32))  # node of the newest edit (breaks ties)
    retention_until: Mapped[int] = mapped_column(BigInteger, index=True)


class MemberPathStep(Base):
    """One step of an entrepreneur's individual path in this coop (CAPE contract, salaried entrepreneur,
    associate...), recorded by staff; the newest ``since`` is the member's current status."""

    __tablename__ = "member_path_steps"
    __table_args__ = (Index("ix_member_path_steps_account", "account_id", "since"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(32))
    since: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recorded_at: Mapped[int] = mapped_column(BigInteger)
