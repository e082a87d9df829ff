"""The node's tables, as typed SQLAlchemy 2 models. One schema for SQLite and PostgreSQL.

Times are integers, milliseconds since the epoch (the node's :data:`~node.clock.Clock`), so both backends store
and compare them the same way. Structured member data is JSON; the columns we filter or lock on are real columns.

Two groups of tables:

* the coop's own data (accounts, sessions, invitations, throttling, profiles, offers, mentoring, events, help),
  which may hold private and coop-only fields and never leaves the node as such;
* the replication log (``entries``, ``records``, ``log_heads``, ``outbox``), which holds only signed entries
  and what they say: network and public fields. The federation layer reads and extends these.

The search index (``search_documents`` + a backend-specific full-text structure) is created by the migration;
see :mod:`node.search.index`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONDict = dict[str, Any]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {JSONDict: JSON}  # noqa: RUF012 - SQLAlchemy's declared configuration


# ------------------------------------------------------------------------------------------------ accounts


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), default="member")
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class AuthToken(Base):
    """A login session (cookie) or an API token. Only the SHA-256 of the token is stored."""

    __tablename__ = "auth_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # session | api
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class LoginThrottle(Base):
    """Failed logins per key (``account:<email>`` or ``ip:<address>``) and the lockout they earned."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[int] = mapped_column(BigInteger, default=0)
    last_failure_at: Mapped[int] = mapped_column(BigInteger, default=0)


# ------------------------------------------------------------------------------------------- member data


class MemberProfile(Base):
    """A member's whole profile, private fields included, with the visibility the member chose for each."""

    __tablename__ = "member_profiles"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[JSONDict] = mapped_column(JSON)
    visibility: Mapped[JSONDict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class _SharedThing:
    """Columns common to the things members share: a record id in the log, an author, the data."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[JSONDict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)

    @declared_attr
    def author_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy declared_attr convention
        return mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)


class Offer(_SharedThing, Base):
    """A collaboration offer or request (Valueflows intent)."""

    __tablename__ = "offers"
    visibility: Mapped[str] = mapped_column(String(16), default="network")
    status: Mapped[str] = mapped_column(String(16), default="open")


class Mentoring(_SharedThing, Base):
    """A mentoring offer (by an experienced member) or request (by a newcomer)."""

    __tablename__ = "mentorings"
    status: Mapped[str] = mapped_column(String(16), default="open")


class Event(_SharedThing, Base):
    """A training, workshop or working group, with optional seats."""

    __tablename__ = "events"
    visibility: Mapped[str] = mapped_column(String(16), default="network")
    seats: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start: Mapped[int] = mapped_column(BigInteger, index=True)


class EventRegistration(Base):
    __tablename__ = "event_registrations"
    __table_args__ = (UniqueConstraint("event_id", "account_id", name="uq_event_registrations_event_account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class HelpRequest(_SharedThing, Base):
    __tablename__ = "help_requests"
    status: Mapped[str] = mapped_column(String(16), default="open")


class HelpAnswer(_SharedThing, Base):
    __tablename__ = "help_answers"
    request_id: Mapped[int] = mapped_column(ForeignKey("help_requests.id", ondelete="CASCADE"), index=True)


# ------------------------------------------------------------------------------------------ replication log


class LogEntry(Base):
    """One signed entry, from this node or any origin, exactly as signed. ``body`` is NULL once erased."""

    __tablename__ = "entries"
    __table_args__ = (Index("ix_entries_origin_record", "origin", "record_id"),)

    origin: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    header: Mapped[bytes] = mapped_column(LargeBinary)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    ts: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[int] = mapped_column(BigInteger)


class RecordState(Base):
    """The current state of each record: the newest entry's seq, its type and body (as JSON), or deleted."""

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_type", "type", "deleted"),)

    origin: Mapped[str] = mapped_column(String(32), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[JSONDict | None] = mapped_column(JSON, nullable=True)
    ts: Mapped[int] = mapped_column(BigInteger)


class LogHead(Base):
    """Per origin: the highest contiguous seq held and that entry's hash. The own origin's row is also the lock
    that serialises seq allocation on PostgreSQL (``SELECT ... FOR UPDATE``)."""

    __tablename__ = "log_heads"

    origin: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)


class OutboxItem(Base):
    """A durable delivery to one peer: an entry of the log (``origin``/``seq``) or a direct record (``payload``).

    A direct record the peer refused for good is kept, set aside (``refused_at``, the reason in ``last_error``),
    for the operator: it is never tried again and never silently dropped."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_peer_due", "peer", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="entry")  # entry | direct
    origin: Mapped[str | None] = mapped_column(String(32), nullable=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    refused_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SearchDocument(Base):
    """Normalised text of one record for one audience (public, network or coop), under a full-text index."""

    __tablename__ = "search_documents"
    __table_args__ = (
        UniqueConstraint("kind", "origin", "record_id", "audience", name="uq_search_documents_ref"),
        Index("ix_search_documents_record", "origin", "record_id"),
        Index("ix_search_documents_place", "audience", "lat_e6", "lon_e6"),
        Index("ix_search_documents_departement", "departement"),
        Index("ix_search_documents_tagset", "tagset"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    # Facet columns (migration 0005), taken from the fields this audience may read: filters and counts run in SQL
    # next to the full-text match. Multi-valued facets (trades, languages) are a set, ``tagset`` below.
    departement: Mapped[str | None] = mapped_column(String(3), nullable=True)
    town: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lat_e6: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lon_e6: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    avail_from: Mapped[str | None] = mapped_column(String(10), nullable=True)  # YYYY-MM-DD, sorts as text
    avail_until: Mapped[str | None] = mapped_column(String(10), nullable=True)
    ts: Mapped[int] = mapped_column(BigInteger, default=0)  # freshness: when the record last changed
    # Facet sets (migration 0008): the document's (origin, kind, departement, stage) and its set of multi-valued
    # facet values (trades, languages) as small integers (``search_colsets``, ``search_tagsets``), so that counting
    # a matched set groups by two integers and expands each distinct set once, not each document.
    colset: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tagset: Mapped[int | None] = mapped_column(Integer, nullable=True)
