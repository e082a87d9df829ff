"""Registering for an event another coop organises.

Between the member's node A and the organiser's node B:

1. On A the member registers (:meth:`RemoteEvents.register`): A records a ``pending`` registration and queues an
   ``event_registration`` direct record for B only (event id, member id, the name the member shows; its record id
   is the request's id). Cancelling queues one with the action ``cancel``.
2. On B the request (:meth:`RemoteEvents.receive`) takes a seat under the same lock as a local registration
   (the event row, ``FOR UPDATE``; SQLite's single writer elsewhere), counting local and remote registrations,
   so neither path can overbook. B keeps the participant and queues an ``event_registration_answer``:
   ``confirmed``, ``full``, ``closed`` or ``unknown``.
3. On A the answer updates the registration and leaves a message in the member's inbox.

Each request carries a fresh id and a time strictly after the registration's previous request: B ignores
requests older than the one it holds (so a late duplicate cannot undo a cancellation), A ignores answers to any
request but the latest. Records from a node that is not a direct member peer, and answers about a registration
this node never asked for, are refused for good (the sender is told) and logged.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.errors import RecordRefusedError
from node.clock import Clock
from node.errors import Conflict, Forbidden, NotAuthenticated, NotFound
from node.records.publisher import new_record_id
from node.services.direct import DirectSender
from node.services.mail_text import N_
from node.services.notifications import Notifications
from node.services.profiles import shown_name
from node.services.things import Things
from node.storage.database import Database
from node.storage.federation_models import InboxMessage, PeerRow
from node.storage.models import Account, Event, EventRegistration, MemberProfile, RecordState
from node.storage.outbox import require_direct_peer
from node.storage.remote_event_models import RemoteEventRegistration as Reg
from node.storage.remote_event_models import remote_seats_taken
from node.viewer import Viewer
from protocol import Record

log = logging.getLogger(__name__)

#: the inbox note for each answer, in both languages (the inbox has no language of its own)
NOTES: Final = {
    "confirmed": ("Inscription confirmée", "Registration confirmed"),
    "full": ("Événement complet", "Event full"),
    "closed": ("Inscriptions fermées", "Registration closed"),
    "unknown": ("Événement introuvable", "Event not found"),
}

#: the same answers in a member's mail, in their language
MAIL_NOTES: Final = {
    "confirmed": N_("Your registration is confirmed: %(title)s (%(coop)s)"),
    "full": N_("Your registration is refused, the event is full: %(title)s (%(coop)s)"),
    "closed": N_("Your registration is refused, registrations are closed: %(title)s (%(coop)s)"),
    "unknown": N_("Your registration is refused, the event was not found: %(title)s (%(coop)s)"),
}


class RemoteEvents:
    """Registrations across coops, on one node (cheap to build: it holds references only)."""

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        clock: Clock,
        things: Things,
        direct: DirectSender,
        coop_name: str | None = None,
        notifications: Notifications | None = None,
    ) -> None:
        self.notifications = notifications  # a mail to the member when another coop answers their registration
        self.db = db
        self.name = name
        self.clock = clock
        self.things = things
        self.coop_name = coop_name or name
        self.direct = direct

    # ------------------------------------------------------------------------- member's node: the member

    async def register(self, viewer: Viewer, origin: str, event_id: str) -> dict[str, Any]:
        """Register for an event of any coop: a local one at once, a remote one by asking its node."""
        member_id = _member(viewer)
        if origin == self.name:
            event = await self.things.register(viewer, event_id)
            return {"event_origin": origin, "event_id": event_id, "status": "confirmed", "event": event}
        now = self.clock()
        async with self.db.write() as session:
            await require_direct_peer(session, origin)
            state = await session.get(RecordState, (origin, event_id))
            if state is None or state.deleted or state.type != "event":
                raise NotFound(f"no event {origin}/{event_id}")
            body = state.body or {}
            if body.get("status") == "cancelled" or body.get("registration", "open") != "open":
                raise Conflict("registration for this event is not open")
            reg = await _out(session, origin, event_id, self.name, member_id)
            if reg is not None and reg.status in ("pending", "confirmed"):
                raise Conflict("you are already registered")
            profile = await session.get(MemberProfile, viewer.account_id)
            shown = shown_name(profile.data, profile.visibility, "network") if profile is not None else None
            name = shown or f"{self.coop_name} member"  # never a name the member keeps from the network
            if reg is None:
                reg = Reg(
                    direction="out",
                    event_origin=origin,
                    event_id=event_id,
                    member_origin=self.name,
                    member_id=member_id,
                )
                session.add(reg)
            reg.account_id, reg.display_name, reg.status = viewer.account_id, name[:120], "pending"
            reg.request_id, reg.requested_at, reg.updated_at = new_record_id(), _after(reg, now), now
            await self._send_request(session, reg, "register")
            await session.flush()
            view = _view(reg)
        self.direct.wake()
        log.info("registration of %s for event %s/%s asked", member_id, origin, event_id)
        return view

    async def cancel(self, viewer: Viewer, origin: str, event_id: str) -> dict[str, Any]:
        """Give the seat back (a remote organiser is told; a refused registration is just forgotten)."""
        member_id = _member(viewer)
        if origin == self.name:
            event = await self.things.unregister(viewer, event_id)
            return {"event_origin": origin, "event_id": event_id, "status": "cancelled", "event": event}
        now = self.clock()
        async with self.db.write() as session:
            reg = await _out(session, origin, event_id, self.name, member_id)
            if reg is None or reg.status == "cancelled":
                raise NotFound("you are not registered for this event")
            held = reg.status in ("pending", "confirmed")
            reg.status, reg.updated_at = "cancelled", now
            reg.request_id, reg.requested_at = new_record_id(), _after(reg, now)
            if held:
                await self._send_request(session, reg, "cancel")
            view = _view(reg)
        self.direct.wake()
        log.info("registration of %s for event %s/%s cancelled", member_id, origin, event_id)
        return view

    async def mine(self, viewer: Viewer) -> list[dict[str, Any]]:
        """The viewer's registrations for other coops' events, newest first."""
        _member(viewer)
        async with self.db.read() as session:
            rows = await session.scalars(
                select(Reg).where(Reg.direction == "out", Reg.account_id == viewer.account_id).order_by(Reg.id.desc())
            )
            return [_view(r) for r in rows]

    async def _send_request(self, session: AsyncSession, reg: Reg, action: str) -> None:
        """Queue the registration's latest request for the organising node; its record id is the request id."""
        body = {
            "to_node": reg.event_origin,
            "action": action,
            "event": reg.event_id,
            "member": reg.member_id,
            "name": reg.display_name,
            "at": reg.requested_at,
        }
        await self.direct.queue(session, "event_registration", body, id=reg.request_id)

    # ---------------------------------------------------------------------- organiser's node: the seats

    async def participants(self, viewer: Viewer, event_id: str) -> dict[str, Any]:
        """Who comes to a local event, from this coop and others (its author and operators only)."""
        _member(viewer)
        async with self.db.read() as session:
            event = await session.scalar(select(Event).where(Event.record_id == event_id))
            if event is None:
                raise NotFound(f"no event {event_id}")
            if event.author_id != viewer.account_id and not viewer.is_operator:
                log.warning("refused: account %s may not list participants of %s", viewer.account_id, event_id)
                raise Forbidden("only the organiser or an operator sees the participants")
            local = await session.execute(
                select(MemberProfile.record_id, Account.display_name, EventRegistration.created_at)
                .join(Account, Account.id == EventRegistration.account_id)
                .outerjoin(MemberProfile, MemberProfile.account_id == EventRegistration.account_id)
                .where(EventRegistration.event_id == event.id)
                .order_by(EventRegistration.id)
            )
            remote = await session.scalars(
                select(Reg)
                .where(Reg.direction == "in", Reg.event_origin == self.name, Reg.event_id == event_id)
                .where(Reg.status == "confirmed")
                .order_by(Reg.id)
            )
            items = [{"origin": self.name, "member": mid, "display_name": name, "since": at} for mid, name, at in local]
            items += [
                {
                    "origin": r.member_origin,
                    "member": r.member_id,
                    "display_name": r.display_name,
                    "since": r.updated_at,
                }
                for r in remote
            ]
        return {"event": event_id, "seats": event.seats, "items": items}

    # --------------------------------------------------------------------------------- both: receiving

    async def receive_request(self, record: Record) -> bool:
        """Take in an ``event_registration`` for one of this node's events; True when this node's state changed."""
        async with self.db.write() as session:
            await _require_peer(session, record)
            changed = await self._take_request(session, record)
        if changed:
            self.direct.wake()
        return changed

    async def receive_answer(self, record: Record) -> bool:
        """Take in an ``event_registration_answer`` for a registration this node asked for."""
        async with self.db.write() as session:
            await _require_peer(session, record)
            return await self._take_answer(session, record)

    async def _take_request(self, session: AsyncSession, record: Record) -> bool:
        sender, body = record.origin, dict[str, Any](record.body or {})
        event_id, member_id, at, request_id = str(body["event"]), str(body["member"]), int(body["at"]), record.id
        # the event row first: the lock local registrations take too
        event = await session.scalar(select(Event).where(Event.record_id == event_id).with_for_update())
        reg = await session.scalar(
            select(Reg)
            .where(Reg.direction == "in", Reg.event_origin == self.name, Reg.event_id == event_id)
            .where(Reg.member_origin == sender, Reg.member_id == member_id)
            .with_for_update()
        )
        if reg is not None and (at, request_id) != (reg.requested_at, reg.request_id) and at <= reg.requested_at:
            log.info("event registration request %s from %s ignored: older than the one held", request_id, sender)
            return False
        now = self.clock()
        if body["action"] == "cancel":
            if reg is None or reg.status == "cancelled":
                return False
            reg.status, reg.request_id, reg.requested_at, reg.updated_at = "cancelled", request_id, at, now
            log.info("%s/%s gave back their seat at event %s", sender, member_id, event_id)
            return True
        status = await _decide(session, self.name, event, reg)
        if event is not None:
            if reg is None:
                reg = Reg(
                    direction="in", event_origin=self.name, event_id=event_id, member_origin=sender, member_id=member_id
                )
                session.add(reg)
            reg.account_id, reg.display_name, reg.status = None, str(body["name"]), status
            reg.request_id, reg.requested_at, reg.updated_at = request_id, at, now
            await session.flush()
        answer = {"to_node": sender, "event": event_id, "member": member_id, "request": request_id, "status": status}
        await self.direct.queue(session, "event_registration_answer", answer)
        log.info("registration of %s/%s for event %s: %s", sender, member_id, event_id, status)
        return True

    async def _take_answer(self, session: AsyncSession, record: Record) -> bool:
        sender, body = record.origin, dict[str, Any](record.body or {})
        status, event_id, member_id = str(body["status"]), str(body["event"]), str(body["member"])
        reg = await _out(session, sender, event_id, self.name, member_id, lock=True)
        if reg is None:
            raise RecordRefusedError(f"no registration of {member_id} for event {sender}/{event_id} was asked here")
        if reg.request_id != body["request"] or reg.status in ("cancelled", status):
            return False  # an answer to an earlier request, or the same answer again
        reg.status, reg.updated_at = status, self.clock()
        if reg.account_id is not None:
            title = await _title(session, sender, reg.event_id)
            fr, en = NOTES[reg.status]
            session.add(
                InboxMessage(
                    origin=sender,
                    message_id=record.id,
                    account_id=reg.account_id,
                    from_member=reg.event_id,
                    from_name=sender,
                    subject=f"{fr} / {en}"[:140],
                    text=f"{fr} : {title}\n{en}: {title}",
                    about=f"{sender}/{reg.event_id}",
                    kind="notice",
                    received_at=self.clock(),
                    read=False,
                )
            )
            if self.notifications is not None:
                await self.notifications.notify(
                    session,
                    reg.account_id,
                    "event_registration",
                    MAIL_NOTES[reg.status],
                    {"title": title, "coop": sender},
                    f"/inbox/notices/{sender}",
                )
        log.info("registration of %s for event %s/%s: %s", member_id, sender, event_id, status)
        return True


# ------------------------------------------------------------------------------------------------ helpers


async def _decide(session: AsyncSession, name: str, event: Event | None, reg: Reg | None) -> str:
    """The answer to a registration request, the event row being locked."""
    if event is None:
        return "unknown"
    if reg is not None and reg.status == "confirmed":
        return "confirmed"  # the same request again: the seat is held already
    if event.data.get("status") == "cancelled" or event.data.get("registration", "open") != "open":
        return "closed"
    if event.seats is not None:
        local = await session.scalar(
            select(func.count()).select_from(EventRegistration).where(EventRegistration.event_id == event.id)
        )
        if int(local or 0) + await remote_seats_taken(session, name, event.record_id) >= event.seats:
            return "full"
    return "confirmed"


def _after(reg: Reg, now: int) -> int:
    """The time of a new request: strictly after the previous one of this registration, so the organiser's node
    can tell the latest request from a late copy of an earlier one even if the clock stood still or went back."""
    held: int | None = reg.requested_at
    return now if held is None else max(now, held + 1)


async def _out(
    session: AsyncSession, origin: str, event_id: str, member_origin: str, member_id: str, *, lock: bool = False
) -> Reg | None:
    query = (
        select(Reg)
        .where(Reg.direction == "out", Reg.event_origin == origin, Reg.event_id == event_id)
        .where(Reg.member_origin == member_origin, Reg.member_id == member_id)
    )
    reg: Reg | None = await session.scalar(query.with_for_update() if lock else query)
    return reg


async def _title(session: AsyncSession, origin: str, event_id: str) -> str:
    state = await session.get(RecordState, (origin, event_id))
    title = (state.body or {}).get("title") if state is not None else None
    return str(title or f"{origin}/{event_id}")


def _member(viewer: Viewer) -> str:
    if viewer.anonymous:
        raise NotAuthenticated("log in to register")
    if viewer.member_id is None:
        raise Forbidden("only members with a profile can register")
    return viewer.member_id


async def _require_peer(session: AsyncSession, record: Record) -> None:
    peer = await session.get(PeerRow, record.origin)
    if peer is None or peer.status != "member" or not peer.direct:
        raise RecordRefusedError(f"{record.origin} is not a direct member peer of this node")


def _view(reg: Reg) -> dict[str, Any]:
    return {
        "event_origin": reg.event_origin,
        "event_id": reg.event_id,
        "member": reg.member_id,
        "display_name": reg.display_name,
        "status": reg.status,
        "requested_at": reg.requested_at,
        "updated_at": reg.updated_at,
    }
