"""The node's outgoing e-mail: the durable queue, password resets, each member's mail settings and the items
waiting for their daily digest, and the node's own secrets (the key that signs unsubscribe links).

Kept apart from :mod:`node.storage.models` (its own feature and migration, ``0014_mail``); same ``Base``.
``account_id`` is not a foreign key, like the inbox's rows: the account's erasure deletes them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, LargeBinary, String, Text, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from node.storage.models import Base


class OutgoingMail(Base):
    """One e-mail to send: the whole message as it will leave (its Message-ID fixed when queued), and where its
    delivery stands. ``sending`` is set in its own committed transaction before the SMTP conversation starts,
    so a restart never sends a mail twice: a row found ``sending`` at start is set aside as failed (it may have
    left), for the operator to retry."""

    __tablename__ = "mail_queue"
    __table_args__ = (Index("ix_mail_queue_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))
    message: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class PasswordReset(Base):
    """A password reset link: only the SHA-256 of its token is stored; single use, short-lived."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class MailSettings(Base):
    """A member's mail language and, per kind of notification, ``off``, ``immediate`` or ``daily``."""

    __tablename__ = "mail_settings"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    language: Mapped[str] = mapped_column(String(8), default="fr")
    modes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_digest_at: Mapped[int] = mapped_column(BigInteger, default=0)


class DigestItem(Base):
    """A notification waiting for the member's daily digest (``mailed_at`` set when the digest is queued)."""

    __tablename__ = "mail_digest_items"
    __table_args__ = (Index("ix_mail_digest_items_account", "account_id", "mailed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(400))
    link: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[int] = mapped_column(BigInteger)
    mailed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class NodeSecret(Base):
    """A random secret the node keeps for itself (e.g. ``unsubscribe``: the HMAC key of unsubscribe links)."""

    __tablename__ = "node_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class MailNotice(Base):
    """A notice mailed (or kept for the digest) once for an account: for notices that the node may see again
    (a proposal replayed at every start), so that it is mailed only the first time."""

    __tablename__ = "mail_notices"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


async def erase_account_mail(session: AsyncSession, account_id: int) -> None:
    """Every mail row of an erased account (its mails, queued or sent, hold its address and words)."""
    for model in (OutgoingMail, PasswordReset, MailSettings, DigestItem, MailNotice):
        await session.execute(delete(model).where(model.account_id == account_id))
