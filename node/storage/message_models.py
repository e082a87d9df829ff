"""The messages a member sent, kept on the sender's node so that the inbox shows conversations, both sides.

A message leaves as a signed direct record for the recipient's node only (:mod:`node.services.messages`); the
copy kept here is the sender's own: never published, erased with the account. Kept apart from
:mod:`node.storage.models` (its own feature and migration); same ``Base``. ``account_id`` is not a foreign key,
like the inbox's rows: :meth:`node.services.directory.Directory.erase_account` deletes them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from node.storage.models import Base


class SentMessage(Base):
    """One message a local member sent, to a member of this coop or of another."""

    __tablename__ = "sent_messages"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_sent_messages_message_id"),
        Index("ix_sent_messages_account", "account_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64))  # the signed record's id (origin: this node)
    account_id: Mapped[int] = mapped_column(Integer)
    to_node: Mapped[str] = mapped_column(String(32))
    to_member: Mapped[str] = mapped_column(String(64))
    to_name: Mapped[str] = mapped_column(String(120), default="")
    subject: Mapped[str] = mapped_column(String(140), default="")
    text: Mapped[str] = mapped_column(Text)
    about: Mapped[str | None] = mapped_column(String(97), nullable=True)
    sent_at: Mapped[int] = mapped_column(BigInteger)
