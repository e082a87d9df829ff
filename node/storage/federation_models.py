"""Tables the federation layer needs: peers and their health, forks, private messages, peer invitations.

Kept apart from :mod:`node.storage.models` (the coop's own data and the log) because they describe the
network around the node, not the node's data; they share the same ``Base`` and migrations.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.storage.models import Base


class PeerRow(Base):
    """A node of the network: name, URL, status, keys (with windows), and this node's view of its health."""

    __tablename__ = "peers"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(16), default="member")  # member | suspended | left
    direct: Mapped[bool] = mapped_column(Boolean, default=True)
    keys: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)  # public_key hex + window
    last_success_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lag: Mapped[int] = mapped_column(Integer, default=-1)


class ForkRow(Base):
    """Evidence that an origin signed two entries for one seq: both entries, as received."""

    __tablename__ = "forks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    ours: Mapped[bytes] = mapped_column(LargeBinary)
    theirs: Mapped[bytes] = mapped_column(LargeBinary)
    reported_by: Mapped[str] = mapped_column(String(32))
    at: Mapped[int] = mapped_column(BigInteger)


class InboxMessage(Base):
    """A private message from a member of another coop (or of this one), for one local member."""

    __tablename__ = "inbox_messages"
    __table_args__ = (
        UniqueConstraint("origin", "message_id", name="uq_inbox_messages_origin"),
        Index("ix_inbox_messages_account", "account_id", "received_at"),
        Index("ix_inbox_messages_unread", "account_id", "read"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(Integer)
    from_member: Mapped[str] = mapped_column(String(64))
    from_name: Mapped[str] = mapped_column(String(120), default="")
    subject: Mapped[str] = mapped_column(String(140), default="")
    text: Mapped[str] = mapped_column(Text)
    about: Mapped[str | None] = mapped_column(String(97), nullable=True)
    received_at: Mapped[int] = mapped_column(BigInteger)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``message`` (a member wrote it) or ``notice`` (this node wrote it from a coop's signed answer, e.g. an
    #: event registration confirmed): only the node sets it, never a sender
    kind: Mapped[str] = mapped_column(String(16), default="message", server_default="message")


class PeerInvitation(Base):
    """An invitation for another node to peer with this one; only the SHA-256 of the token is kept."""

    __tablename__ = "peer_invitations"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(32), nullable=True)


class SeenNonce(Base):
    """A signed request's nonce, kept for the replay window when several worker processes answer for the node
    (each process's memory would let a request replayed to another worker through)."""

    __tablename__ = "federation_nonces"

    origin: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[int] = mapped_column(BigInteger, index=True)
