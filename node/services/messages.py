"""Private messages between members, of this coop or of another: writing one, receiving one, the inbox.

A message is a direct record (signed by this node, sent to the recipient's node only, never relayed): see
:mod:`node.services.direct`. A message to a member of this coop is delivered here at once; one to another coop is
queued in the outbox for that node alone, in the same transaction that checks the destination, and the
federation's delivery loops are woken after the commit.

Before protocol release 1.1, moves, shared cases and event registrations travelled as messages whose subject
started with a marker (:data:`LEGACY_MARKERS`). Such a message from a node that has not upgraded is refused with
``obsolete_message`` (logged with the reason): it is neither taken for a private message nor lost, since the
sender keeps it queued and shows the refusal in its peers' health until it upgrades (docs/PROTOCOL.md §11).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select, update

from federation.errors import RecordRefusedError
from node.errors import Forbidden, InvalidInput, NotFound
from node.services.direct import DirectSender
from node.services.mail_text import N_
from node.services.notifications import Notifications
from node.services.profiles import shown_name
from node.storage.database import Database
from node.storage.federation_models import InboxMessage
from node.storage.message_models import SentMessage
from node.storage.models import MemberProfile
from node.storage.outbox import require_direct_peer
from node.viewer import Viewer
from protocol import Entry, Record, check_body

log = logging.getLogger(__name__)

INBOX_LIMIT: Final = 200
#: subject markers of the messages that carried moves, shared cases and event registrations before release 1.1
LEGACY_MARKERS: Final = ("bigre:member-move", "bigre:onboarding-case", "bigre:event-registration")


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One received message as the inbox shows it."""

    origin: str
    message_id: str
    from_member: str
    from_name: str
    subject: str
    text: str
    about: str | None
    received_at: int
    read: bool
    kind: str = "message"

    @property
    def is_notice(self) -> bool:
        """A note this node wrote from a coop's signed answer about one of its things (an event registration
        confirmed...), never a member's message, whatever the member put in it."""
        return self.kind == "notice"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": f"{self.origin}/{self.message_id}",
            "from_node": self.origin,
            "from_member": self.from_member,
            "from_name": self.from_name,
            "subject": self.subject,
            "text": self.text,
            "about": self.about,
            "received_at": self.received_at,
            "read": self.read,
            "kind": self.kind,
        }


class Messages:
    """Writing, receiving and reading private messages on one node."""

    def __init__(
        self, db: Database, *, name: str, direct: DirectSender, notifications: Notifications | None = None
    ) -> None:
        self.db = db
        self.name = name
        self.direct = direct
        self.notifications = notifications  # a mail to the recipient, as they chose (node/services/notifications)

    async def send(self, viewer: Viewer, data: object) -> dict[str, Any]:
        """Sign a message from ``viewer``; deliver it here or queue it for the destination node only."""
        if viewer.member_id is None:
            raise Forbidden("only members with a profile can send messages")
        if not isinstance(data, dict):
            raise InvalidInput("expected a JSON object")
        to_node = data.get("to_node") or self.name
        to_name = str(data.get("to_name") or "")[:120]
        body = {
            "to_node": to_node,
            "to_member": data.get("to_member"),
            "from_member": viewer.member_id,
            # the name this node vouches for: the sender's own, as far as they show it to the reader's coop
            "from_name": await self._sender_name(viewer, "coop" if to_node == self.name else "network"),
            "subject": data.get("subject") or None,
            "text": data.get("text"),
            "about": data.get("about") or None,
        }
        body = {k: val for k, val in body.items() if val is not None}
        if str(body.get("subject", "")).startswith(LEGACY_MARKERS):
            raise InvalidInput.field("subject", "this beginning is reserved (it marked coop-to-coop notices)")

        def sent_copy(entry: Entry) -> SentMessage:
            """The sender's copy, written in the same transaction as the delivery or the queueing."""
            return SentMessage(
                message_id=entry.header.id,
                account_id=viewer.account_id,
                to_node=str(to_node),
                to_member=str(body.get("to_member", "")),
                to_name=to_name,
                subject=str(body.get("subject", "")),
                text=str(body.get("text", "")),
                about=str(body["about"]) if isinstance(body.get("about"), str) else None,
                sent_at=entry.header.ts,
            )

        if to_node == self.name:
            entry = self.direct.sign("message", body)
            try:
                await self.receive(Record(entry, check_body(entry)), entry.header.ts, sent=sent_copy(entry))
            except LookupError as exc:
                raise NotFound(str(exc)) from exc
        else:
            async with self.db.write() as session:
                await require_direct_peer(session, str(to_node))
                entry = await self.direct.queue(session, "message", body)
                session.add(sent_copy(entry))
            self.direct.wake()
        log.info("message %s from %s queued for %s", entry.header.id, viewer.member_id, to_node)
        return {"id": entry.header.id, "to_node": to_node}

    async def _sender_name(self, viewer: Viewer, audience: str) -> str | None:
        async with self.db.read() as session:
            profile = await session.get(MemberProfile, viewer.account_id)
        return shown_name(profile.data, profile.visibility, audience) if profile is not None else None

    async def receive(self, record: Record, received_at: int, *, sent: SentMessage | None = None) -> bool:
        """Store a message for its recipient; False when it was already delivered (idempotent). An unknown
        recipient is a :class:`LookupError` (the sending node is told, and nothing is kept). ``sent``: the
        sender's copy of a message between two members of this coop, kept in the same transaction."""
        body = record.body or {}
        subject = str(body.get("subject", ""))
        if record.origin != self.name and subject.startswith(LEGACY_MARKERS):
            raise RecordRefusedError(
                f"an old-style {subject.split(' ')[0]} message: this node takes moves, shared cases and event "
                "registrations as typed direct records only (protocol release 1.1); upgrade the sending node",
                code="obsolete_message",
            )
        async with self.db.write() as session:
            if sent is not None:
                session.add(sent)
            account_id = await session.scalar(
                select(MemberProfile.account_id).where(MemberProfile.record_id == body.get("to_member"))
            )
            if account_id is None:
                raise LookupError(f"no member {body.get('to_member')!r} on {self.name}")
            held = await session.scalar(
                select(InboxMessage.id).where(
                    InboxMessage.origin == record.origin, InboxMessage.message_id == record.id
                )
            )
            if held is not None:
                return False
            session.add(
                InboxMessage(
                    origin=record.origin,
                    message_id=record.id,
                    account_id=account_id,
                    from_member=str(body.get("from_member", "")),
                    from_name=str(body.get("from_name", "")),
                    subject=str(body.get("subject", "")),
                    text=str(body.get("text", "")),
                    about=str(body["about"]) if isinstance(body.get("about"), str) else None,
                    received_at=received_at,
                    read=False,
                )
            )
            if self.notifications is not None:
                await self.notifications.notify(
                    session,
                    account_id,
                    "message",
                    N_("%(name)s wrote to you: “%(subject)s”"),
                    {"name": str(body.get("from_name") or record.origin), "subject": str(body.get("subject", ""))},
                    f"/inbox/{record.origin}/{body.get('from_member', '')!s}",
                )
            return True

    async def inbox(self, viewer: Viewer, *, limit: int = INBOX_LIMIT, mark_read: bool = False) -> list[InboxEntry]:
        """The viewer's messages, newest first; ``mark_read`` marks all of them read (after reading them)."""
        async with self.db.write() if mark_read else self.db.read() as session:
            rows = (
                await session.execute(
                    select(InboxMessage)
                    .where(InboxMessage.account_id == viewer.account_id)
                    .order_by(InboxMessage.received_at.desc(), InboxMessage.id.desc())
                    .limit(limit)
                )
            ).scalars()
            found = [
                InboxEntry(
                    r.origin,
                    r.message_id,
                    r.from_member,
                    r.from_name,
                    r.subject,
                    r.text,
                    r.about,
                    r.received_at,
                    r.read,
                    r.kind,
                )
                for r in rows
            ]
            if mark_read:
                await session.execute(
                    update(InboxMessage).where(InboxMessage.account_id == viewer.account_id).values(read=True)
                )
        return found

    async def sender_name(self, viewer: Viewer, origin: str, member_id: str) -> str | None:
        """The name under which a member of ``origin`` wrote to the viewer, or None if they never did: enough to
        answer someone whose profile does not reach this node (a coop's notes about its things excluded)."""
        if viewer.account_id is None:
            return None
        async with self.db.read() as session:
            name: str | None = await session.scalar(
                select(InboxMessage.from_name)
                .where(
                    InboxMessage.origin == origin,
                    InboxMessage.from_member == member_id,
                    InboxMessage.account_id == viewer.account_id,
                    InboxMessage.kind == "message",
                )
                .limit(1)
            )
        return name

    # ------------------------------------------------------------------------------------- conversations

    async def unread_count(self, viewer: Viewer) -> int:
        """How many received messages the viewer has not read yet (the navigation shows it on every page)."""
        if viewer.account_id is None:
            return 0
        async with self.db.read() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(InboxMessage)
                .where(InboxMessage.account_id == viewer.account_id, InboxMessage.read.is_(False))
            )
        return int(count or 0)

    async def conversations(self, viewer: Viewer, *, limit: int = INBOX_LIMIT) -> list[Conversation]:
        """The viewer's conversations, the latest first: one per member written with (either way), and one per
        coop that sent notes about its things (event registrations answered)."""
        if viewer.account_id is None:
            return []
        messages = await self._messages(viewer, None, limit * 5)
        threads: dict[tuple[str, str], Conversation] = {}
        for m in messages:  # newest first
            key = (m.other_node, "" if m.is_notice else m.other_member)
            found = threads.get(key)
            if found is None:
                threads[key] = found = Conversation(m.other_node, key[1], m.other_name, m, 0, m.is_notice)
            if not found.name and m.other_name:
                found.name = m.other_name
            if not m.sent and not m.read:
                found.unread += 1
        return list(threads.values())[:limit]

    async def thread(self, viewer: Viewer, origin: str, member_id: str) -> list[ThreadMessage]:
        """Every message between the viewer and one member (of this coop or another), oldest first; the received
        ones are marked read. Empty when they never wrote to each other."""
        if viewer.account_id is None:
            return []
        found = await self._messages(viewer, (origin, member_id), INBOX_LIMIT)
        if any(not m.sent and not m.read for m in found):
            async with self.db.write() as session:
                await session.execute(
                    update(InboxMessage)
                    .where(
                        InboxMessage.account_id == viewer.account_id,
                        InboxMessage.origin == origin,
                        InboxMessage.from_member == member_id,
                    )
                    .values(read=True)
                )
        return list(reversed(found))

    async def notices(self, viewer: Viewer, origin: str) -> list[ThreadMessage]:
        """The notes a coop sent the viewer about its things, oldest first (marked read)."""
        if viewer.account_id is None:
            return []
        found = [
            m for m in await self._messages(viewer, None, INBOX_LIMIT * 5) if m.is_notice and m.other_node == origin
        ]
        async with self.db.write() as session:
            for m in found:
                if not m.read:
                    await session.execute(
                        update(InboxMessage)
                        .where(InboxMessage.origin == origin, InboxMessage.message_id == m.message_id)
                        .values(read=True)
                    )
        return list(reversed(found))

    async def _messages(self, viewer: Viewer, other: tuple[str, str] | None, limit: int) -> list[ThreadMessage]:
        """Received and sent messages of the viewer (with one member only, when ``other`` is given), newest first."""
        received_query = select(InboxMessage).where(InboxMessage.account_id == viewer.account_id)
        sent_query = select(SentMessage).where(SentMessage.account_id == viewer.account_id)
        if other is not None:
            received_query = received_query.where(InboxMessage.origin == other[0], InboxMessage.from_member == other[1])
            sent_query = sent_query.where(SentMessage.to_node == other[0], SentMessage.to_member == other[1])
        async with self.db.read() as session:
            received = (
                await session.scalars(received_query.order_by(InboxMessage.received_at.desc()).limit(limit))
            ).all()
            sent = (await session.scalars(sent_query.order_by(SentMessage.sent_at.desc()).limit(limit))).all()
            names = {(r.origin, r.from_member): r.from_name for r in received if r.from_name}
        out = [
            ThreadMessage(
                r.message_id,
                False,
                r.origin,
                r.from_member,
                r.from_name,
                r.subject,
                r.text,
                r.about,
                r.received_at,
                r.read,
                r.kind == "notice",
            )
            for r in received
        ]
        out += [
            ThreadMessage(
                s.message_id,
                True,
                s.to_node,
                s.to_member,
                s.to_name or names.get((s.to_node, s.to_member), ""),
                s.subject,
                s.text,
                s.about,
                s.sent_at,
                True,
                False,
            )
            for s in sent
        ]
        out.sort(key=lambda m: m.at, reverse=True)
        return out[:limit]


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """One message of a conversation, either way: ``other_*`` is the member on the other side."""

    message_id: str
    sent: bool
    other_node: str
    other_member: str
    other_name: str
    subject: str
    text: str
    about: str | None
    at: int
    read: bool
    is_notice: bool


@dataclass(slots=True)
class Conversation:
    """The viewer's exchange with one member (or a coop's notes): who, the latest message, how many unread."""

    other_node: str
    other_member: str
    name: str
    last: ThreadMessage
    unread: int
    is_notice: bool
