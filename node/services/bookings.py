"""Shared spaces and machines: the resources a coop publishes, and bookings of them by members of any coop.

The resource's node alone decides (docs/PROTOCOL.md, "Resources and bookings"):

1. Its staff publish a resource (:meth:`Bookings.publish`): a ``resource`` log record, every field of it public.
2. A member books a slot (:meth:`Bookings.book`). For a resource of this node the decision is taken at once; for
   another coop's, this node keeps an ``out`` booking (``requested``) and queues a ``booking_request`` direct
   record for the resource's node only.
3. The resource's node decides (:meth:`Bookings._decide`) under a lock on the resource's row (``FOR UPDATE`` on
   PostgreSQL, SQLite's single writer elsewhere): the resource is open, the slot lies on its grid inside one
   opening, the member holds the qualification the machine needs, and no live booking overlaps. A booking it
   accepts takes one ``booking_slots`` row per 15-minute slot under a primary key, so two overlapping bookings
   can never both commit whatever the backend or the number of processes. It answers with a ``booking_answer``.
4. The member's node keeps the newest answer to its latest request and leaves a note in the member's inbox.

Staff approve or decline pending bookings, cancel any booking, and give qualifications (to members of any coop,
by origin and profile id). Names of who booked are shown to the place's staff and to the member, never to other
viewers (the calendar shows them "booked").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from federation.errors import RecordRefusedError
from node.clock import Clock
from node.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from node.records.publisher import Publisher, canonical_order, new_record_id
from node.reference.data import Reference
from node.services.direct import DirectSender
from node.services.profiles import shown_name
from node.storage.booking_models import LIVE, SLOT_MS, Booking, BookingSlot, Qualification, Resource
from node.storage.database import Database
from node.storage.federation_models import InboxMessage, PeerRow
from node.storage.models import MemberProfile, RecordState
from node.storage.outbox import require_direct_peer
from node.viewer import Viewer
from protocol import Record, SchemaError
from protocol.records import RESOURCE

log = logging.getLogger(__name__)

DEFAULT_ZONE: Final = "Europe/Paris"
#: the fields a resource's author may set (every field of the record)
RESOURCE_INPUTS: Final = frozenset(f.name for f in RESOURCE.fields)
#: why a booking was refused or cancelled, in English (the pages translate them)
REASONS: Final = {
    "conflict": "this slot is already booked",
    "not_qualified": "this machine needs a qualification you do not hold yet",
    "closed": "this resource is closed to bookings",
    "outside_hours": "this slot is outside the opening hours",
    "invalid": "this slot is not on the resource's grid or is too long",
    "unknown": "no such resource",
    "declined": "the place's staff declined the booking",
    "by_staff": "the place's staff cancelled the booking",
}
#: the inbox note for each answer, in both languages (the inbox has no language of its own)
NOTES: Final = {
    "confirmed": ("Réservation confirmée", "Booking confirmed"),
    "pending": ("Réservation en attente de validation", "Booking waiting for approval"),
    "refused": ("Réservation refusée", "Booking refused"),
    "cancelled": ("Réservation annulée", "Booking cancelled"),
}


class BookingRefused(Conflict):
    """A booking the resource's node refused, with its reason code (``REASONS``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(REASONS.get(reason, reason))
        self.reason = reason


class Bookings:
    """Resources and bookings on one node (cheap to build: it holds references only)."""

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        clock: Clock,
        publisher: Publisher,
        reference: Reference,
        direct: DirectSender,
        coop_name: str | None = None,
    ) -> None:
        self.db = db
        self.name = name
        self.clock = clock
        self.publisher = publisher
        self.reference = reference
        self.direct = direct
        self.coop_name = coop_name or name

    # ----------------------------------------------------------------------------------------- resources

    async def publish(self, viewer: Viewer, payload: object, record_id: str | None = None) -> dict[str, Any]:
        """Publish a new resource, or replace one of this coop's (staff only)."""
        _staff(viewer, "publish a resource")
        view = await self.publish_for_node(payload, record_id, author_id=viewer.account_id)
        log.info("resource %s published by account %s", view["id"], viewer.account_id)
        return view

    async def publish_for_node(
        self, payload: object, record_id: str | None = None, *, author_id: int | None = None
    ) -> dict[str, Any]:
        """Publish (or replace) a resource in the node's own name: what :meth:`publish` does once it checked the
        viewer, and what the operator's ``bigre resources publish`` does from a file on the node's machine."""
        data = self._check_resource(payload)
        now = self.clock()
        async with self.db.write() as session:
            if record_id is None:
                row = Resource(record_id=new_record_id(), author_id=author_id, created_at=now)
                session.add(row)
            else:
                found = await session.scalar(select(Resource).where(Resource.record_id == record_id).with_for_update())
                if found is None:
                    raise NotFound(f"no resource {record_id}")
                row = found
            row.data, row.status, row.updated_at = data, str(data["status"]), now
            await session.flush()
            body = dict(data)
            await self.publisher.publish(
                session,
                type="resource",
                record_id=row.record_id,
                body=body,
                created=row.created_at,
                search_bodies=None,  # listed on their own page, not in the search (no node indexes them)
            )
        return {"origin": self.name, "id": row.record_id, **data}

    def _check_resource(self, payload: object) -> dict[str, Any]:
        if not isinstance(payload, Mapping):
            raise InvalidInput.field("body", "must be a JSON object")
        errors: dict[str, str] = {}
        data: dict[str, Any] = {}
        for key, value in payload.items():
            if key not in RESOURCE_INPUTS:
                errors[str(key)] = "unknown field"
            elif value is None or value == "" or value == []:
                continue
            elif key == "place":
                try:
                    data[key] = self.reference.place(value)
                except InvalidInput as exc:
                    errors.update(exc.fields or {"place": str(exc)})
            else:
                data[key] = value
        data.setdefault("status", "open")
        if errors:
            raise InvalidInput("invalid input: " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())), errors)
        try:
            RESOURCE.validate(data)
        except SchemaError as exc:
            where = exc.reason.split(":", 1)[0].removeprefix("resource.").split(".", 1)[0].split("[", 1)[0]
            raise InvalidInput(f"invalid resource: {exc.reason}", {where or "body": exc.reason}) from exc
        if "timezone" in data:
            try:
                ZoneInfo(str(data["timezone"]))
            except (ZoneInfoNotFoundError, ValueError):
                raise InvalidInput.field("timezone", "is not a known time zone") from None
        for i, opening in enumerate(data.get("hours", [])):
            if opening["closes"] <= opening["opens"]:
                raise InvalidInput.field(f"hours[{i}]", "closes before it opens")
        ordered: dict[str, Any] = canonical_order(data)
        return ordered

    async def resources(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every coop's resources this node holds (this coop's first, then by title)."""
        async with self.db.read() as session:
            rows = await session.scalars(
                select(RecordState).where(RecordState.type == "resource", RecordState.deleted.is_(False))
            )
            items = [_resource_view(r.origin, r.record_id, r.body or {}) for r in rows]
        if kind:
            items = [i for i in items if i["kind"] == kind]
        return sorted(items, key=lambda i: (i["origin"] != self.name, i["origin"], i["title"].lower()))

    async def resource(self, origin: str, record_id: str) -> dict[str, Any]:
        async with self.db.read() as session:
            state = await session.get(RecordState, (origin, record_id))
            if state is None or state.deleted or state.type != "resource":
                raise NotFound(f"no resource {origin}/{record_id}")
            return _resource_view(origin, record_id, state.body or {})

    # ------------------------------------------------------------------------------ the member's side

    async def book(
        self, viewer: Viewer, origin: str, resource_id: str, start: int, end: int, note: str | None = None
    ) -> dict[str, Any]:
        """Book a slot of any coop's resource: this coop's is decided at once (a refusal is a
        :class:`BookingRefused` naming why); another coop's is ``requested`` until its node answers."""
        member_id = _member(viewer)
        if end <= start:
            raise InvalidInput.field("end", "must be after the start")
        if note is not None and len(note) > 500:
            raise InvalidInput.field("note", "longer than 500 characters")
        now = self.clock()
        async with self.db.write() as session:
            name = await self._shown_name(session, viewer)
            booking = Booking(
                booking_id=new_record_id(),
                resource_origin=origin,
                resource_id=resource_id,
                member_origin=self.name,
                member_id=member_id,
                account_id=viewer.account_id,
                display_name=name,
                start=start,
                end=end,
                note=note or None,
                request_id=new_record_id(),
                requested_at=now,
                answered_at=0,
                updated_at=now,
            )
            if origin == self.name:
                booking.direction = "in"
                status, reason = await self._decide(session, booking)
                if status == "refused":
                    log.info("booking of %s by %s refused: %s", resource_id, member_id, reason)
                    raise BookingRefused(str(reason))
                view = _booking_view(booking)
            else:
                await require_direct_peer(session, origin)
                state = await session.get(RecordState, (origin, resource_id))
                if state is None or state.deleted or state.type != "resource":
                    raise NotFound(f"no resource {origin}/{resource_id}")
                refusal = slot_refusal(state.body or {}, start, end, now)
                if refusal is not None:
                    log.info("booking of %s/%s by %s refused here: %s", origin, resource_id, member_id, refusal)
                    raise BookingRefused(refusal)
                booking.direction, booking.status = "out", "requested"
                session.add(booking)
                await session.flush()
                await self._send_request(session, booking, "book")
                view = _booking_view(booking)
        self.direct.wake()
        log.info("booking %s of %s/%s by %s: %s", view["booking"], origin, resource_id, member_id, view["status"])
        return view

    async def cancel(self, viewer: Viewer, booking_id: str) -> dict[str, Any]:
        """Cancel one of my bookings (the resource's node is told when it is another coop's)."""
        _member(viewer)
        now = self.clock()
        async with self.db.write() as session:
            booking = await session.scalar(
                select(Booking)
                .where(Booking.member_origin == self.name, Booking.booking_id == booking_id)
                .where(Booking.account_id == viewer.account_id)
                .with_for_update()
            )
            if booking is None or booking.status in ("cancelled", "refused"):
                raise NotFound("you hold no such booking")
            booking.updated_at = now
            if booking.direction == "in":
                await self._release(session, booking, "cancelled", None)
            else:
                booking.status, booking.reason = "cancelled", None
                booking.request_id, booking.requested_at = new_record_id(), max(now, booking.requested_at + 1)
                await self._send_request(session, booking, "cancel")
            view = _booking_view(booking)
        self.direct.wake()
        log.info("booking %s cancelled by account %s", booking_id, viewer.account_id)
        return view

    async def mine(self, viewer: Viewer, *, since: int | None = None) -> list[dict[str, Any]]:
        """My bookings of any coop's resources, soonest first (from ``since`` when given)."""
        _member(viewer)
        async with self.db.read() as session:
            query = (
                select(Booking)
                .where(Booking.account_id == viewer.account_id, Booking.member_origin == self.name)
                .order_by(Booking.start)
            )
            if since is not None:
                query = query.where(Booking.end > since)
            rows = list(await session.scalars(query))
            titles = await _titles(session, {(b.resource_origin, b.resource_id) for b in rows})
        return [_booking_view(b, titles.get((b.resource_origin, b.resource_id))) for b in rows]

    async def calendar(self, viewer: Viewer, origin: str, resource_id: str, start: int, end: int) -> dict[str, Any]:
        """What this node knows of a resource's bookings between ``start`` and ``end``: every live booking of
        this coop's resources (names for the staff and for one's own), one's own bookings of another coop's."""
        resource = await self.resource(origin, resource_id)
        async with self.db.read() as session:
            query = (
                select(Booking)
                .where(Booking.resource_origin == origin, Booking.resource_id == resource_id)
                .where(Booking.start < end, Booking.end > start)
                .order_by(Booking.start)
            )
            if origin == self.name:
                query = query.where(Booking.direction == "in", Booking.status.in_(LIVE))
            else:
                query = query.where(Booking.direction == "out", Booking.account_id == viewer.account_id)
                query = query.where(Booking.status.in_(("requested", *LIVE)))
            rows = list(await session.scalars(query)) if not viewer.anonymous or origin == self.name else []
        items = []
        for b in rows:
            own = viewer.account_id is not None and b.account_id == viewer.account_id and b.member_origin == self.name
            item = {"start": b.start, "end": b.end, "status": b.status, "mine": own}
            if own or (viewer.is_staff and origin == self.name):
                item |= {"booking": b.booking_id, "member_origin": b.member_origin, "display_name": b.display_name}
            items.append(item)
        return {"resource": resource, "complete": origin == self.name, "items": items}

    async def _send_request(self, session: AsyncSession, booking: Booking, action: str) -> None:
        body: dict[str, Any] = {
            "to_node": booking.resource_origin,
            "action": action,
            "booking": booking.booking_id,
            "resource": booking.resource_id,
            "member": booking.member_id,
            "name": booking.display_name,
            "start": booking.start,
            "end": booking.end,
            "at": booking.requested_at,
        }
        if booking.note:
            body["note"] = booking.note
        await self.direct.queue(session, "booking_request", body, id=booking.request_id)

    async def _shown_name(self, session: AsyncSession, viewer: Viewer) -> str:
        profile = await session.get(MemberProfile, viewer.account_id)
        shown = shown_name(profile.data, profile.visibility, "network") if profile is not None else None
        return (shown or f"{self.coop_name} member")[:120]  # never a name the member keeps from the network

    # ----------------------------------------------------------------------------- the resource's side

    async def _decide(self, session: AsyncSession, booking: Booking) -> tuple[str, str | None]:
        """Take or refuse an ``in`` booking (added to the session either way), under the resource's row lock."""
        resource = await session.scalar(
            select(Resource).where(Resource.record_id == booking.resource_id).with_for_update()
        )
        reason = _refusal(resource, booking, self.clock())
        if reason is None and resource is not None:
            qualification = resource.data.get("qualification")
            if qualification and not await _qualified(session, str(qualification), booking):
                reason = "not_qualified"
        if reason is None and await _overlaps(session, booking):
            reason = "conflict"
        approval = bool(resource is not None and resource.data.get("approval"))
        booking.status, booking.reason = (
            ("refused", reason) if reason else ("pending" if approval else "confirmed", None)
        )
        booking.answered_at = max(self.clock(), booking.answered_at + 1)
        session.add(booking)
        await session.flush()
        if reason is None:
            try:
                async with session.begin_nested():  # the database's own no-overlap guarantee
                    session.add_all(
                        BookingSlot(resource_id=booking.resource_id, slot_start=s, booking=booking.id)
                        for s in range(booking.start, booking.end, SLOT_MS)
                    )
            except IntegrityError:
                log.warning("booking %s of %s lost a slot race", booking.booking_id, booking.resource_id)
                booking.status, booking.reason = "refused", "conflict"
                await session.flush()
        return booking.status, booking.reason

    async def _release(self, session: AsyncSession, booking: Booking, status: str, reason: str | None) -> None:
        """End a live ``in`` booking: give its slots back."""
        await session.execute(delete(BookingSlot).where(BookingSlot.booking == booking.id))
        booking.status, booking.reason = status, reason
        booking.answered_at = max(self.clock(), booking.answered_at + 1)
        booking.updated_at = self.clock()

    async def receive_request(self, record: Record) -> bool:
        """Take in a ``booking_request`` for one of this node's resources; answer it."""
        async with self.db.write() as session:
            await _require_peer(session, record)
            changed = await self._take_request(session, record)
        if changed:
            self.direct.wake()
        return changed

    async def _take_request(self, session: AsyncSession, record: Record) -> bool:
        sender, body = record.origin, dict[str, Any](record.body or {})
        booking_id, at = str(body["booking"]), int(body["at"])
        held = await session.scalar(
            select(Booking)
            .where(Booking.direction == "in", Booking.member_origin == sender, Booking.booking_id == booking_id)
            .with_for_update()
        )
        if held is not None and record.id == held.request_id:
            await self._answer(session, held)  # the same request again: the same answer, nothing decided anew
            return True
        if held is not None and at <= held.requested_at:
            log.info("booking request %s from %s ignored: older than the one held", record.id, sender)
            return False
        now = self.clock()
        if body["action"] == "cancel":
            if held is None or held.status not in LIVE:
                if held is not None:
                    held.request_id, held.requested_at = record.id, at
                return False
            held.request_id, held.requested_at = record.id, at
            await self._release(session, held, "cancelled", None)
            await self._answer(session, held)
            log.info("%s/%s cancelled booking %s of %s", sender, held.member_id, booking_id, held.resource_id)
            return True
        if held is not None:
            if held.status in LIVE:  # the same booking asked again: answer what stands
                held.request_id, held.requested_at = record.id, at
                await self._answer(session, held)
                return True
            await session.delete(held)  # asked again after a refusal or a cancellation: decide afresh
            await session.flush()
        booking = Booking(
            direction="in",
            booking_id=booking_id,
            resource_origin=self.name,
            resource_id=str(body["resource"]),
            member_origin=sender,
            member_id=str(body["member"]),
            account_id=None,
            display_name=str(body["name"]),
            start=int(body["start"]),
            end=int(body["end"]),
            note=str(body["note"]) if "note" in body else None,
            request_id=record.id,
            requested_at=at,
            answered_at=0,
            updated_at=now,
        )
        status, reason = await self._decide(session, booking)
        await self._answer(session, booking)
        log.info(
            "booking %s of %s by %s/%s: %s %s",
            booking_id,
            booking.resource_id,
            sender,
            booking.member_id,
            status,
            reason or "",
        )
        return True

    async def _answer(self, session: AsyncSession, booking: Booking) -> None:
        """Tell a member's node where its booking stands (nothing to send for this coop's own members)."""
        if booking.member_origin == self.name:
            return
        body: dict[str, Any] = {
            "to_node": booking.member_origin,
            "booking": booking.booking_id,
            "resource": booking.resource_id,
            "request": booking.request_id,
            "status": booking.status,
            "at": booking.answered_at,
        }
        if booking.reason:
            body["reason"] = booking.reason
        await self.direct.queue(session, "booking_answer", body)

    async def receive_answer(self, record: Record) -> bool:
        """Take in a ``booking_answer`` about a booking this node asked for."""
        async with self.db.write() as session:
            await _require_peer(session, record)
            body = dict[str, Any](record.body or {})
            booking = await session.scalar(
                select(Booking)
                .where(Booking.direction == "out", Booking.member_origin == self.name)
                .where(Booking.booking_id == str(body["booking"]), Booking.resource_origin == record.origin)
                .with_for_update()
            )
            if booking is None:
                raise RecordRefusedError(f"no booking {body['booking']} of {record.origin} was asked here")
            at, status = int(body["at"]), str(body["status"])
            if booking.request_id != body["request"] or at <= booking.answered_at:
                return False  # an answer to an earlier request, or older than the one held
            if booking.status == "cancelled" and status != "cancelled":
                return False  # the member cancelled; the cancellation's own answer is on its way
            changed = (booking.status, booking.reason) != (status, body.get("reason"))
            booking.status, booking.reason, booking.answered_at = status, body.get("reason"), at
            booking.updated_at = self.clock()
            if changed and (status != "cancelled" or body.get("reason") == "by_staff"):
                await self._notify(session, record, booking)  # not for the member's own cancellation
        log.info("booking %s of %s/%s: %s", booking.booking_id, record.origin, booking.resource_id, status)
        return True

    async def _notify(self, session: AsyncSession, record: Record, booking: Booking) -> None:
        if booking.account_id is None:
            return
        title = (await _titles(session, {(record.origin, booking.resource_id)})).get(
            (record.origin, booking.resource_id), f"{record.origin}/{booking.resource_id}"
        )
        fr, en = NOTES[booking.status]
        session.add(
            InboxMessage(
                origin=record.origin,
                message_id=record.id,
                account_id=booking.account_id,
                from_member=booking.resource_id,
                from_name=record.origin,
                subject=f"{fr} / {en}"[:140],
                text=f"{fr} : {title}\n{en}: {title}",
                about=f"{record.origin}/{booking.resource_id}",
                kind="notice",
                received_at=self.clock(),
                read=False,
            )
        )

    # --------------------------------------------------------------------------------------- the staff

    async def pending(self, viewer: Viewer) -> list[dict[str, Any]]:
        """Bookings of this coop's resources that wait for the staff, soonest first."""
        _staff(viewer, "see the bookings to approve")
        async with self.db.read() as session:
            rows = list(
                await session.scalars(
                    select(Booking)
                    .where(Booking.direction == "in", Booking.status == "pending")
                    .order_by(Booking.start)
                )
            )
            titles = await _titles(session, {(self.name, b.resource_id) for b in rows})
        return [_booking_view(b, titles.get((self.name, b.resource_id))) for b in rows]

    async def decide(self, viewer: Viewer, member_origin: str, booking_id: str, decision: str) -> dict[str, Any]:
        """The staff's decision on a booking of this coop's resource: ``approve``, ``decline`` or ``cancel``."""
        _staff(viewer, "decide on a booking")
        if decision not in ("approve", "decline", "cancel"):
            raise InvalidInput.field("decision", "must be approve, decline or cancel")
        async with self.db.write() as session:
            booking = await session.scalar(
                select(Booking)
                .where(Booking.direction == "in", Booking.member_origin == member_origin)
                .where(Booking.booking_id == booking_id)
                .with_for_update()
            )
            if booking is None:
                raise NotFound(f"no booking {member_origin}/{booking_id}")
            if decision == "approve":
                if booking.status != "pending":
                    raise Conflict("only a booking waiting for approval can be approved")
                booking.status, booking.answered_at = "confirmed", max(self.clock(), booking.answered_at + 1)
            elif booking.status not in LIVE or (decision == "decline" and booking.status != "pending"):
                raise Conflict("this booking is not waiting for approval" if decision == "decline" else "not live")
            else:
                await self._release(
                    session,
                    booking,
                    "refused" if decision == "decline" else "cancelled",
                    "declined" if decision == "decline" else "by_staff",
                )
            await self._answer(session, booking)
            view = _booking_view(booking)
        self.direct.wake()
        log.info("booking %s/%s: %s by account %s", member_origin, booking_id, decision, viewer.account_id)
        return view

    async def qualify(
        self, viewer: Viewer, qualification: str, member_origin: str, member_id: str, display_name: str = ""
    ) -> dict[str, Any]:
        """Record that a member (of any coop) holds a qualification this coop's machines ask for."""
        _staff(viewer, "give a qualification")
        if not qualification or len(qualification) > 40:
            raise InvalidInput.field("qualification", "must be 1 to 40 characters")
        now = self.clock()
        async with self.db.write() as session:
            if not display_name:
                state = await session.get(RecordState, (member_origin, member_id))
                if state is None or state.deleted or state.type != "profile":
                    raise NotFound(f"no member {member_origin}/{member_id}")
                display_name = str((state.body or {}).get("display_name") or f"{member_origin}/{member_id}")
            held = await session.scalar(
                select(Qualification).where(
                    Qualification.qualification == qualification,
                    Qualification.member_origin == member_origin,
                    Qualification.member_id == member_id,
                )
            )
            if held is None:
                held = Qualification(
                    qualification=qualification,
                    member_origin=member_origin,
                    member_id=member_id,
                    display_name=display_name[:120],
                    given_by=viewer.account_id,
                    given_at=now,
                )
                session.add(held)
                await session.flush()
            view = _qualification_view(held)
        log.info(
            "qualification %s given to %s/%s by account %s", qualification, member_origin, member_id, viewer.account_id
        )
        return view

    async def unqualify(self, viewer: Viewer, qualification: str, member_origin: str, member_id: str) -> None:
        _staff(viewer, "withdraw a qualification")
        async with self.db.write() as session:
            result = await session.execute(
                delete(Qualification).where(
                    Qualification.qualification == qualification,
                    Qualification.member_origin == member_origin,
                    Qualification.member_id == member_id,
                )
            )
            if not getattr(result, "rowcount", 0):
                raise NotFound("this member does not hold this qualification")
        log.info(
            "qualification %s withdrawn from %s/%s by account %s",
            qualification,
            member_origin,
            member_id,
            viewer.account_id,
        )

    async def qualifications(self, viewer: Viewer) -> list[dict[str, Any]]:
        _staff(viewer, "list the qualifications")
        async with self.db.read() as session:
            rows = await session.scalars(
                select(Qualification).order_by(Qualification.qualification, Qualification.display_name)
            )
            return [_qualification_view(q) for q in rows]


# ------------------------------------------------------------------------------------------------ helpers


def zone_of(resource: Mapping[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(str(resource.get("timezone") or DEFAULT_ZONE))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def _refusal(resource: Resource | None, booking: Booking, now: int) -> str | None:
    """Why the slot itself cannot be booked (None: it can), from the resource alone."""
    if resource is None:
        return "unknown"
    return slot_refusal(resource.data, booking.start, booking.end, now)


def slot_refusal(data: Mapping[str, Any], start_ms: int, end_ms: int, now: int) -> str | None:
    """Why a slot of a resource (its record's body) cannot be booked, whatever the other bookings; None: it can.
    The member's node checks this too before asking another coop, so a slot outside the hours is refused at
    once; the resource's node decides."""
    if data.get("status") != "open":
        return "closed"
    slot_ms = int(data.get("slot_minutes") or 15) * 60_000
    max_ms = int(data["max_minutes"]) * 60_000 if data.get("max_minutes") else None
    if end_ms <= start_ms or (max_ms is not None and end_ms - start_ms > max_ms):
        return "invalid"
    if end_ms <= now:
        return "invalid"
    zone = zone_of(data)
    start = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC).astimezone(zone)
    end = dt.datetime.fromtimestamp(end_ms / 1000, dt.UTC).astimezone(zone)
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    start_min = (start - midnight).total_seconds() / 60
    if start.second or start.microsecond or end.second or end.microsecond:
        return "invalid"
    if start_min % (slot_ms // 60_000) or ((end_ms - start_ms) % slot_ms):
        return "invalid"
    hours = data.get("hours") or []
    if not hours:
        return None  # open at all times
    same_day = end.date() == start.date() or (
        end.date() == start.date() + dt.timedelta(days=1) and end.time() == dt.time()
    )
    end_min = start_min + (end_ms - start_ms) / 60_000
    for opening in hours:
        if (
            opening["day"] == start.isoweekday()
            and same_day
            and opening["opens"] <= start_min
            and end_min <= opening["closes"]
        ):
            return None
    return "outside_hours"


async def _qualified(session: AsyncSession, qualification: str, booking: Booking) -> bool:
    found = await session.scalar(
        select(Qualification.id).where(
            Qualification.qualification == qualification,
            Qualification.member_origin == booking.member_origin,
            Qualification.member_id == booking.member_id,
        )
    )
    return found is not None


async def _overlaps(session: AsyncSession, booking: Booking) -> bool:
    query = (
        select(Booking.id)
        .where(Booking.direction == "in", Booking.resource_origin == booking.resource_origin)
        .where(Booking.resource_id == booking.resource_id, Booking.status.in_(LIVE))
        .where(Booking.start < booking.end, Booking.end > booking.start)
        .limit(1)
    )
    if booking.id is not None:
        query = query.where(Booking.id != booking.id)
    return (await session.scalar(query)) is not None


async def _titles(session: AsyncSession, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    titles: dict[tuple[str, str], str] = {}
    for origin, record_id in keys:
        state = await session.get(RecordState, (origin, record_id))
        if state is not None and not state.deleted and state.body:
            titles[(origin, record_id)] = str(state.body.get("title") or record_id)
    return titles


def _resource_view(origin: str, record_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "origin": origin,
        "id": record_id,
        "kind": body.get("kind", "space"),
        "title": body.get("title", ""),
        **body,
    }


def _booking_view(b: Booking, title: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "booking": b.booking_id,
        "resource_origin": b.resource_origin,
        "resource_id": b.resource_id,
        "member_origin": b.member_origin,
        "member": b.member_id,
        "display_name": b.display_name,
        "start": b.start,
        "end": b.end,
        "status": b.status,
        "reason": b.reason,
        "note": b.note,
        "updated_at": b.updated_at,
    }
    if title is not None:
        view["resource_title"] = title
    return view


def _qualification_view(q: Qualification) -> dict[str, Any]:
    return {
        "qualification": q.qualification,
        "member_origin": q.member_origin,
        "member": q.member_id,
        "display_name": q.display_name,
        "given_at": q.given_at,
    }


def _member(viewer: Viewer) -> str:
    if viewer.anonymous:
        raise NotAuthenticated("log in to book")
    if viewer.member_id is None:
        raise Forbidden("only members with a profile can book")
    return viewer.member_id


def _staff(viewer: Viewer, action: str) -> None:
    if viewer.anonymous:
        raise NotAuthenticated(f"log in to {action}")
    if not viewer.is_staff:
        log.warning("refused: account %s may not %s", viewer.account_id, action)
        raise Forbidden(f"only the coop's staff may {action}")


async def _require_peer(session: AsyncSession, record: Record) -> None:
    peer = await session.get(PeerRow, record.origin)
    if peer is None or peer.status != "member" or not peer.direct:
        raise RecordRefusedError(f"{record.origin} is not a direct member peer of this node")
