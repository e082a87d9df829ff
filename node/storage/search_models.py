"""Tables of the search feature beyond ``search_documents``: multi-valued facets, saved searches, notifications.

Kept apart from :mod:`node.storage.models` (same ``Base``, migration ``0005``). ``search_tags`` is keyed like a
search document (origin, record id, audience), so a tag is only ever counted or filtered on for an audience
that may read the field it came from.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, JSONDict


class SearchTag(Base):
    """One value of a multi-valued facet (``trade``: a ROME code, ``language``: an ISO code) of a document."""

    __tablename__ = "search_tags"
    __table_args__ = (Index("ix_search_tags_value", "facet", "value", "audience"),)

    origin: Mapped[str] = mapped_column(String(32), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    audience: Mapped[str] = mapped_column(String(16), primary_key=True)
    facet: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(16), primary_key=True)


class SavedSearch(Base):
    """A member's search kept to be run again by the scheduled job; ``checked_at``: the freshness seen last."""

    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    query: Mapped[JSONDict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    checked_at: Mapped[int] = mapped_column(BigInteger)


class Notification(Base):
    """Something a member should see: a new match of a saved search (one per search and record)."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("account_id", "saved_search_id", "origin", "record_id", name="uq_notifications_match"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    saved_search_id: Mapped[int | None] = mapped_column(
        ForeignKey("saved_searches.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[JSONDict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
