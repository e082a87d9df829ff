"""Tables of the search feature beyond ``search_documents``: facet sets, saved searches, notifications.

Kept apart from :mod:`node.storage.models` (same ``Base``, migrations ``0005`` and ``0008``).

Facet sets: many documents share the same (origin, kind, département, stage) and the same set of trades and
languages (a network of 100,000 profiles holds about 100 of the first and 3,000 of the second). Each document
names its two sets by integer id, so the facet counts of a matched set are two integer ``GROUP BY`` and a join of
the few distinct sets to their values, instead of one join row per document and value. A tagset belongs to the
audience of the document that names it: a tag is only ever counted or filtered on for an audience that may read
the field it came from, because the document of that audience is the one that carries it. Sets are never
deleted (they are small and shared); a set no document names any more is simply never counted.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.storage.models import Base, JSONDict


class SearchColset(Base):
    """One combination of the single-valued facets of documents: origin, kind, département, stage."""

    __tablename__ = "search_colsets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)  # the four values joined (see search.col_key)
    origin: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    departement: Mapped[str | None] = mapped_column(String(3), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(16), nullable=True)


class SearchTagset(Base):
    """One set of multi-valued facet values (``trade``: ROME codes, ``language``: ISO codes)."""

    __tablename__ = "search_tagsets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)  # the sorted "facet:value" pairs (search.tag_key)


class SearchTagsetValue(Base):
    """A (facet, value) of a tagset; indexed by value for the trade and language filters and for matching."""

    __tablename__ = "search_tagset_values"
    __table_args__ = (Index("ix_search_tagset_values_value", "facet", "value", "tagset"),)

    tagset: Mapped[int] = mapped_column(ForeignKey("search_tagsets.id", ondelete="CASCADE"), primary_key=True)
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
