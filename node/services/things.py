"""What members share with each other: collaboration offers and requests, mentoring, events, help requests and
their answers. One generic service, parametrised by a :class:`ThingKind` per kind, so the rules are written once:

* anyone logged in may create; only the author may edit; the author or an operator may delete;
* offers and events have a record-level visibility (``network`` or ``public``): anonymous viewers see only the
  public ones; mentoring and help are for logged-in members only;
* every create, edit and delete publishes one signed entry (a tombstone for a delete) in the same transaction.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Final

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.clock import Clock, utc_datetime
from node.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from node.records.publisher import Publisher, canonical_order, new_record_id
from node.reference.data import Reference
from node.services.mail_text import N_
from node.services.notifications import Notifications
from node.services.profiles import PROFILE_FIELDS, SHARED_LEVELS
from node.storage.database import Database
from node.storage.models import (
    Event,
    EventRegistration,
    HelpAnswer,
    HelpRequest,
    MemberProfile,
    Mentoring,
    Offer,
    RecordState,
)
from node.storage.remote_event_models import remote_seats_taken  # other coops' members hold seats too
from node.viewer import Viewer, visible
from protocol import Record

log = logging.getLogger(__name__)

ThingModel = type[Offer] | type[Mentoring] | type[Event] | type[HelpRequest] | type[HelpAnswer]
THING_VISIBILITIES: Final = ("network", "public")


@dataclass(frozen=True, slots=True)
class ThingKind:
    name: str  # as in URLs: offers, mentoring, events, help-requests
    record_type: str
    model: Any
    inputs: frozenset[str]
    author_field: str  # the body field naming the author's profile id
    defaults: Mapping[str, Any] = field(default_factory=dict)
    members_only: bool = False  # anonymous viewers may not see these at all
    has_visibility: bool = False
    indexed: bool = False
    filters: tuple[str, ...] = ("status",)


OFFERS: Final = ThingKind(
    "offers",
    "offer",
    Offer,
    frozenset(
        {
            "purpose",
            "title",
            "note",
            "trades",
            "skills",
            "place",
            "remote",
            "from",
            "until",
            "effort_days",
            "reciprocity",
            "expires",
            "status",
        }
    ),
    "author",
    {"status": "open"},
    has_visibility=True,
    indexed=True,
    filters=("status", "purpose"),
)
MENTORING: Final = ThingKind(
    "mentoring",
    "mentoring",
    Mentoring,
    frozenset({"kind", "topics", "trades", "languages", "cadence", "programme", "note", "status", "capacity"}),
    "member",
    {"status": "open"},
    members_only=True,
    indexed=True,
    filters=("status", "kind"),
)
EVENTS: Final = ThingKind(
    "events",
    "event",
    Event,
    frozenset(
        {
            "kind",
            "title",
            "description",
            "start",
            "end",
            "place",
            "online",
            "url",
            "seats",
            "registration",
            "organiser",
            "languages",
            "status",
            "audience",
        }
    ),
    "",
    {"status": "scheduled", "registration": "open"},
    has_visibility=True,
    indexed=True,
    filters=("status", "kind"),
)
HELP_REQUESTS: Final = ThingKind(
    "help-requests",
    "help_request",
    HelpRequest,
    frozenset({"topic", "text", "urgency", "needed_by", "trades", "status"}),
    "author",
    {"status": "open", "urgency": "normal"},
    members_only=True,
)
KINDS: Final = {k.name: k for k in (OFFERS, MENTORING, EVENTS, HELP_REQUESTS)}


class Things:
    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        reference: Reference,
        clock: Clock,
        coop_name: str | None = None,
        notifications: Notifications | None = None,
    ) -> None:
        self.notifications = notifications  # an answer to a help request is mailed to its author, as they chose
        self.db = db
        self.publisher = publisher
        self.reference = reference
        self.coop_name = coop_name or publisher.origin
        self.clock = clock

    # ------------------------------------------------------------------------------------------ reading

    async def list_things(
        self, kind: ThingKind, viewer: Viewer, *, before: int | None, limit: int, filters: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], int | None]:
        self._may_see_kind(kind, viewer)
        model = kind.model
        query = select(model).order_by(model.id.desc()).limit(limit + 1)
        if before is not None:
            query = query.where(model.id < before)
        if kind.has_visibility and viewer.anonymous:
            query = query.where(model.visibility == "public")
        for name, value in filters.items():
            if name not in kind.filters:
                raise InvalidInput.field(name, "is not a filter of this list")
            if name == "status" and hasattr(model, "status"):
                query = query.where(model.status == value)
            else:
                query = query.where(model.data[name].as_string() == value)
        async with self.db.read() as session:
            rows = list((await session.scalars(query)).all())
            views = [await self._view(session, kind, row, viewer) for row in rows[:limit]]
        next_before = rows[limit - 1].id if len(rows) > limit else None
        return views, next_before

    async def network_records(self, record_type: str, limit: int = 100) -> list[dict[str, Any]]:
        """Records of one type from every coop of the network (this one included), newest first: what this node
        holds of them, which is what the network may see."""
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(RecordState)
                    .where(RecordState.type == record_type, RecordState.deleted.is_(False))
                    .order_by(RecordState.ts.desc())
                    .limit(limit)
                )
            ).scalars()
            return [{"origin": r.origin, "id": r.record_id, "body": r.body or {}} for r in rows]

    async def calendar(
        self,
        viewer: Viewer,
        *,
        now: int,
        tz: tzinfo,
        origin: str | None = None,
        kind: str | None = None,
        month: str | None = None,
        near: tuple[int, int, float] | None = None,
        limit: int = 2000,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every coop's events this node holds, as ``(coming, past)``: coming ones soonest first, past ones latest
        first (an event is past once it ended, or two hours after its start when it gives no end). Filters: the
        organising coop, the kind, a month ``YYYY-MM`` (in ``tz``), and ``near`` = (lat_e6, lon_e6, radius km),
        which keeps events within the radius and every online one. This coop's events carry their seats left;
        other coops' only their seats (their node counts the registrations)."""
        self._must_be_member(viewer, "see events")
        async with self.db.read() as session:
            rows = (
                await session.scalars(
                    select(RecordState)
                    .where(RecordState.type == "event", RecordState.deleted.is_(False))
                    .order_by(RecordState.ts.desc())
                    .limit(limit)
                )
            ).all()
            own = {row.record_id: row for row in (await session.scalars(select(Event))).all()}
            items: list[dict[str, Any]] = []
            for state in rows:
                body = state.body or {}
                start = body.get("start")
                if not isinstance(start, int):
                    continue
                if (origin and state.origin != origin) or (kind and body.get("kind") != kind):
                    continue
                moment = utc_datetime(start).astimezone(tz)
                if month and moment.strftime("%Y-%m") != month:
                    continue
                distance = _distance(body, near)
                if near is not None and distance is None and not body.get("online"):
                    continue
                item: dict[str, Any] = {
                    "origin": state.origin,
                    "id": state.record_id,
                    "body": body,
                    "start": start,
                    "month": moment.strftime("%Y-%m"),
                    "distance_km": distance,
                    "seats_left": None,
                    "mine": False,
                }
                row = own.get(state.record_id) if state.origin == self.publisher.origin else None
                if row is not None:
                    item["mine"] = row.author_id == viewer.account_id
                    if row.seats is not None:
                        taken = await session.scalar(
                            select(func.count())
                            .select_from(EventRegistration)
                            .where(EventRegistration.event_id == row.id)
                        )
                        taken = int(taken or 0) + await remote_seats_taken(session, state.origin, state.record_id)
                        item["seats_left"] = max(0, row.seats - taken)
                items.append(item)
        coming: list[dict[str, Any]] = []
        past: list[dict[str, Any]] = []
        for item in items:
            end = item["body"].get("end")
            over = end if isinstance(end, int) and end > item["start"] else item["start"] + 2 * 3_600_000
            (past if over < now else coming).append(item)
        coming.sort(key=lambda i: (i["start"], i["origin"], i["id"]))
        past.sort(key=lambda i: (-i["start"], i["origin"], i["id"]))
        return coming, past

    async def record_author(self, origin: str, record_id: str) -> tuple[str | None, str]:
        """Who authored a shared offer, mentoring or help request this node holds (their profile id, or None),
        and its title: enough to answer its author even when their profile does not reach this node."""
        async with self.db.read() as session:
            state = await session.get(RecordState, (origin, record_id))
        if state is None or state.deleted or not state.body or state.type not in ("offer", "mentoring", "help_request"):
            return None, ""
        body = state.body
        author = body.get("author") or body.get("member")
        title = body.get("title") or body.get("topic") or ", ".join(str(t) for t in body.get("topics") or [])
        return (str(author) if author else None), str(title)[:140]

    async def event_roles(self, viewer: Viewer, record_ids: list[str]) -> tuple[set[str], set[str]]:
        """Of these events of this coop: those the viewer holds a seat at, and those they organise (operators
        organise every one)."""
        async with self.db.read() as session:
            seated = set(
                await session.scalars(
                    select(Event.record_id)
                    .join(EventRegistration, EventRegistration.event_id == Event.id)
                    .where(Event.record_id.in_(record_ids), EventRegistration.account_id == viewer.account_id)
                )
            )
            organised = set(
                await session.scalars(
                    select(Event.record_id).where(
                        Event.record_id.in_(record_ids),
                        *(() if viewer.is_operator else (Event.author_id == viewer.account_id,)),
                    )
                )
            )
        return seated, organised

    async def get(self, kind: ThingKind, viewer: Viewer, record_id: str) -> dict[str, Any]:
        self._may_see_kind(kind, viewer)
        async with self.db.read() as session:
            row = await self._find(session, kind, record_id, viewer)
            return await self._view(session, kind, row, viewer)

    # ------------------------------------------------------------------------------------------ writing

    async def create(self, kind: ThingKind, viewer: Viewer, payload: object) -> dict[str, Any]:
        self._must_be_member(viewer, f"create {kind.name}")
        data, visibility = self._check(kind, payload, base={**kind.defaults}, replace=True)
        if kind.author_field:
            data[kind.author_field] = viewer.member_id
        now = self.clock()
        async with self.db.write() as session:
            if kind is EVENTS and "organiser" not in data:
                data["organiser"] = await self._organiser(session, viewer, visibility or "network")
            row = kind.model(
                record_id=new_record_id(), author_id=viewer.account_id, data={}, created_at=now, updated_at=now
            )
            self._assign(kind, row, data, visibility or "network")
            session.add(row)
            await session.flush()
            await self._publish(session, kind, row)
            view = await self._view(session, kind, row, viewer)
        log.info("%s %s created by account %s", kind.record_type, row.record_id, viewer.account_id)
        return view

    async def _organiser(self, session: AsyncSession, viewer: Viewer, audience: str) -> str:
        """Who an event is organised by when its author does not say: their name only if they share it with
        everyone who will read the event, else the coop's name. Nothing of the account (e-mail) ever goes."""
        profile = await session.get(MemberProfile, viewer.account_id) if viewer.account_id is not None else None
        if profile is not None:
            name = profile.data.get("display_name")
            level = profile.visibility.get("display_name", PROFILE_FIELDS["display_name"].default)
            if isinstance(name, str) and name and level in SHARED_LEVELS and visible(level, audience):
                return name[:120]
        return self.coop_name[:120]

    async def update(self, kind: ThingKind, viewer: Viewer, record_id: str, payload: object) -> dict[str, Any]:
        self._must_be_member(viewer, f"edit {kind.name}")
        async with self.db.write() as session:
            row = await self._find(session, kind, record_id, viewer, for_update=True)
            if row.author_id != viewer.account_id:
                log.warning(
                    "refused edit of %s %s by account %s: not the author",
                    kind.record_type,
                    record_id,
                    viewer.account_id,
                )
                raise Forbidden("only the author may edit this")
            data, visibility = self._check(kind, payload, base=dict(row.data), replace=False)
            self._assign(kind, row, data, str(visibility or getattr(row, "visibility", "network")))
            row.updated_at = self.clock()
            await self._publish(session, kind, row)
            return await self._view(session, kind, row, viewer)

    async def delete(self, kind: ThingKind, viewer: Viewer, record_id: str) -> None:
        self._must_be_member(viewer, f"delete {kind.name}")
        async with self.db.write() as session:
            row = await self._find(session, kind, record_id, viewer, for_update=True)
            if row.author_id != viewer.account_id and not viewer.is_operator:
                log.warning("refused deletion of %s %s by account %s", kind.record_type, record_id, viewer.account_id)
                raise Forbidden("only the author or an operator may delete this")
            await self.delete_row(session, kind, row, "deleted")
        log.info("%s %s deleted by account %s", kind.record_type, record_id, viewer.account_id)

    async def delete_row(self, session: AsyncSession, kind: ThingKind, row: Any, reason: str) -> list[str]:
        """Delete one thing (and a help request's answers), publishing tombstones; the ids of the records withdrawn
        from the network (one per tombstone: a thing never published withdraws nothing)."""
        withdrawn: list[str] = []
        if kind is HELP_REQUESTS:
            answers = (await session.scalars(select(HelpAnswer).where(HelpAnswer.request_id == row.id))).all()
            for answer in answers:
                if await self.publisher.tombstone(
                    session, target_type="help_answer", record_id=answer.record_id, reason=reason
                ):
                    withdrawn.append(answer.record_id)
        if await self.publisher.tombstone(
            session, target_type=kind.record_type, record_id=row.record_id, reason=reason
        ):
            withdrawn.append(row.record_id)
        await session.delete(row)
        await session.flush()
        return withdrawn

    async def erase_author(self, session: AsyncSession, account_id: int) -> list[str]:
        """Delete everything an account authored, publishing ``erased`` tombstones. Returns the ids of the records
        withdrawn from the network (one per tombstone written, answers of the member's help requests included)."""
        withdrawn: list[str] = []
        answers = (await session.scalars(select(HelpAnswer).where(HelpAnswer.author_id == account_id))).all()
        for answer in answers:
            if await self.publisher.tombstone(
                session, target_type="help_answer", record_id=answer.record_id, reason="erased"
            ):
                withdrawn.append(answer.record_id)
            await session.delete(answer)
        await session.flush()
        for kind in KINDS.values():
            rows = (await session.scalars(select(kind.model).where(kind.model.author_id == account_id))).all()
            for row in rows:
                withdrawn += await self.delete_row(session, kind, row, "erased")
        return withdrawn

    # ------------------------------------------------------------------------------------------- events

    async def register(self, viewer: Viewer, record_id: str) -> dict[str, Any]:
        """Take a seat at an event; never more registrations than seats, whatever the concurrency."""
        self._must_be_member(viewer, "register")
        async with self.db.write() as session:
            event = await self._find(session, EVENTS, record_id, viewer, for_update=True)  # locks the event row
            if event.data.get("status") == "cancelled" or event.data.get("registration") != "open":
                raise Conflict("registration for this event is not open")
            already = await session.scalar(
                select(EventRegistration.id).where(
                    EventRegistration.event_id == event.id, EventRegistration.account_id == viewer.account_id
                )
            )
            if already is not None:
                raise Conflict("you are already registered")
            if event.seats is not None:
                taken = await session.scalar(
                    select(func.count()).select_from(EventRegistration).where(EventRegistration.event_id == event.id)
                )
                taken = int(taken or 0) + await remote_seats_taken(session, self.publisher.origin, record_id)
                if taken >= event.seats:
                    log.info("registration to event %s refused: full (%d seats)", record_id, event.seats)
                    raise Conflict("this event is full")
            session.add(EventRegistration(event_id=event.id, account_id=viewer.account_id, created_at=self.clock()))
            await session.flush()
            return await self._view(session, EVENTS, event, viewer)

    async def unregister(self, viewer: Viewer, record_id: str) -> dict[str, Any]:
        self._must_be_member(viewer, "unregister")
        async with self.db.write() as session:
            event = await self._find(session, EVENTS, record_id, viewer, for_update=True)
            result = await session.execute(
                delete(EventRegistration).where(
                    EventRegistration.event_id == event.id, EventRegistration.account_id == viewer.account_id
                )
            )
            if not getattr(result, "rowcount", 0):
                raise NotFound("you are not registered for this event")
            return await self._view(session, EVENTS, event, viewer)

    # --------------------------------------------------------------------------------------------- help

    async def answer(self, viewer: Viewer, request_id: str, payload: object) -> dict[str, Any]:
        self._must_be_member(viewer, "answer a help request")
        if not isinstance(payload, dict) or set(payload) - {"text"}:
            raise InvalidInput.field("body", 'expected {"text": ...}')
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput.field("text", "is required")
        now = self.clock()
        async with self.db.write() as session:
            request = await self._find(session, HELP_REQUESTS, request_id, viewer)
            if request.status == "closed":
                raise Conflict("this help request is closed")
            body = {
                "request": f"{self.publisher.origin}/{request.record_id}",
                "text": text.strip(),
                "author": viewer.member_id,
            }
            answer = HelpAnswer(
                record_id=new_record_id(),
                author_id=viewer.account_id,
                request_id=request.id,
                data=body,
                created_at=now,
                updated_at=now,
            )
            session.add(answer)
            await session.flush()
            await self.publisher.publish(
                session, type="help_answer", record_id=answer.record_id, body=body, created=now
            )
            if self.notifications is not None and request.author_id != viewer.account_id:
                await self.notifications.notify(
                    session,
                    request.author_id,
                    "help_answer",
                    N_("An answer to your help request “%(title)s”: %(text)s"),
                    {
                        "title": str(request.data.get("topic") or request.data.get("title") or ""),
                        "text": text.strip()[:200],
                    },
                    "/help",
                )
            return _answer_view(answer)

    async def notice_received_answers(self, records: Sequence[Record]) -> int:
        """Answers written by members of other coops to this node's help requests arrive by replication: their
        authors get the same notice as for a local answer (once per answer, however often it arrives). The
        number of answers to this node's requests among ``records``."""
        mine = f"{self.publisher.origin}/"
        wanted = [
            r
            for r in records
            if r.type == "help_answer"
            and r.body is not None
            and r.origin != self.publisher.origin
            and str(r.body.get("request", "")).startswith(mine)
        ]
        if not wanted or self.notifications is None:
            return 0
        done = 0
        async with self.db.write() as session:
            for record in wanted:
                assert record.body is not None
                request_id = str(record.body["request"])[len(mine) :]
                request = await session.scalar(select(HelpRequest).where(HelpRequest.record_id == request_id))
                if request is None:
                    continue
                text = str(record.body.get("text", ""))
                await self.notifications.notify(
                    session,
                    request.author_id,
                    "help_answer",
                    N_("An answer to your help request “%(title)s”: %(text)s"),
                    {"title": str(request.data.get("topic") or request.data.get("title") or ""), "text": text[:200]},
                    "/help",
                    once=f"help_answer:{record.origin}/{record.id}",
                )
                done += 1
        return done

    async def answers(self, viewer: Viewer, request_id: str) -> list[dict[str, Any]]:
        self._may_see_kind(HELP_REQUESTS, viewer)
        async with self.db.read() as session:
            request = await self._find(session, HELP_REQUESTS, request_id, viewer)
            rows = (
                await session.scalars(
                    select(HelpAnswer).where(HelpAnswer.request_id == request.id).order_by(HelpAnswer.id)
                )
            ).all()
        return [_answer_view(a) for a in rows]

    async def answers_for(self, viewer: Viewer, request_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """:meth:`answers` of several of this coop's help requests at once (one query: the help page lists up to
        a hundred); a request without answers, or no longer here, is absent."""
        self._may_see_kind(HELP_REQUESTS, viewer)
        if not request_ids:
            return {}
        async with self.db.read() as session:
            rows = await session.execute(
                select(HelpRequest.record_id, HelpAnswer)
                .join(HelpRequest, HelpAnswer.request_id == HelpRequest.id)
                .where(HelpRequest.record_id.in_(request_ids))
                .order_by(HelpAnswer.id)
            )
            out: dict[str, list[dict[str, Any]]] = {}
            for request_id, answer in rows:
                out.setdefault(request_id, []).append(_answer_view(answer))
        return out

    async def delete_answer(self, viewer: Viewer, request_id: str, answer_id: str) -> None:
        self._must_be_member(viewer, "delete an answer")
        async with self.db.write() as session:
            request = await self._find(session, HELP_REQUESTS, request_id, viewer)
            answer = await session.scalar(
                select(HelpAnswer).where(HelpAnswer.record_id == answer_id, HelpAnswer.request_id == request.id)
            )
            if answer is None:
                raise NotFound(f"no answer {answer_id}")
            if answer.author_id != viewer.account_id and not viewer.is_operator:
                log.warning("refused deletion of answer %s by account %s", answer_id, viewer.account_id)
                raise Forbidden("only the author or an operator may delete this")
            await self.publisher.tombstone(session, target_type="help_answer", record_id=answer.record_id)
            await session.delete(answer)

    # ----------------------------------------------------------------------------------------- helpers

    def _may_see_kind(self, kind: ThingKind, viewer: Viewer) -> None:
        if kind.members_only and viewer.anonymous:
            log.info("refused anonymous read of %s", kind.name)
            raise NotAuthenticated(f"log in to see {kind.name}")

    def _must_be_member(self, viewer: Viewer, action: str) -> None:
        if viewer.anonymous:
            log.info("refused anonymous attempt to %s", action)
            raise NotAuthenticated(f"log in to {action}")

    async def _find(
        self, session: AsyncSession, kind: ThingKind, record_id: str, viewer: Viewer, for_update: bool = False
    ) -> Any:
        query = select(kind.model).where(kind.model.record_id == record_id)
        if for_update:
            query = query.with_for_update()
        row = await session.scalar(query)
        if row is None or (kind.has_visibility and viewer.anonymous and row.visibility != "public"):
            raise NotFound(f"no {kind.record_type} {record_id}")
        return row

    def _check(
        self, kind: ThingKind, payload: object, *, base: dict[str, Any], replace: bool
    ) -> tuple[dict[str, Any], str | None]:
        if not isinstance(payload, dict):
            raise InvalidInput.field("body", "must be a JSON object")
        errors: dict[str, str] = {}
        visibility = payload.get("visibility")
        if visibility is not None and (not kind.has_visibility or visibility not in THING_VISIBILITIES):
            errors["visibility"] = (
                f"must be one of {', '.join(THING_VISIBILITIES)}" if kind.has_visibility else "unknown field"
            )
        data = dict(base)
        for name, value in payload.items():
            if name == "visibility":
                continue
            if name not in kind.inputs:
                errors[name] = "unknown field"
                continue
            try:
                if value is None or value == [] or value == "":
                    data.pop(name, None)
                elif name == "trades":
                    values = value if isinstance(value, list) else [value]
                    data[name] = list({t["rome"]: t for t in (self.reference.trade(v) for v in values)}.values())
                elif name == "place":
                    data[name] = self.reference.place(value)
                else:
                    data[name] = value
            except InvalidInput as exc:
                errors.update(exc.fields)
        if errors:
            raise InvalidInput("invalid input: " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())), errors)
        return canonical_order(data), visibility

    def _assign(self, kind: ThingKind, row: Any, data: dict[str, Any], visibility: str) -> None:
        row.data = data
        if kind.has_visibility:
            row.visibility = visibility
        if hasattr(row, "status") and "status" in data:
            row.status = data["status"]
        if kind is EVENTS:
            row.seats = data.get("seats")
            start = data.get("start")
            row.start = start if isinstance(start, int) else 0

    async def _publish(self, session: AsyncSession, kind: ThingKind, row: Any) -> None:
        body = dict(row.data)
        bodies: dict[str, Mapping[str, Any]] | None = None
        if kind.indexed:  # the coop and the network read the whole body; anyone, only what is public
            bodies = {"network": body, "coop": body}
            if kind.has_visibility and row.visibility == "public" and not kind.members_only:
                bodies["public"] = body
        await self.publisher.publish(
            session,
            type=kind.record_type,
            record_id=row.record_id,
            body=body,
            created=row.created_at,
            search_bodies=bodies,
        )

    async def _view(self, session: AsyncSession, kind: ThingKind, row: Any, viewer: Viewer) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": row.record_id,
            **row.data,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "mine": row.author_id == viewer.account_id,
        }
        if kind.has_visibility:
            view["visibility"] = row.visibility
        if kind is EVENTS:
            taken = await session.scalar(
                select(func.count()).select_from(EventRegistration).where(EventRegistration.event_id == row.id)
            )
            taken = int(taken or 0) + await remote_seats_taken(session, self.publisher.origin, row.record_id)
            view["registered"] = taken
            view["seats_left"] = None if row.seats is None else max(0, row.seats - taken)
            if not viewer.anonymous:
                view["me_registered"] = (
                    await session.scalar(
                        select(EventRegistration.id).where(
                            EventRegistration.event_id == row.id, EventRegistration.account_id == viewer.account_id
                        )
                    )
                ) is not None
        return view


def _distance(body: Mapping[str, Any], near: tuple[int, int, float] | None) -> float | None:
    """Kilometres from ``near``'s centre to an event's town, if it has one within the radius."""
    if near is None:
        return None
    place = body.get("place")
    if (
        not isinstance(place, dict)
        or not isinstance(place.get("lat_e6"), int)
        or not isinstance(place.get("lon_e6"), int)
    ):
        return None
    lat1, lon1, lat2, lon2 = (math.radians(v / 1e6) for v in (near[0], near[1], place["lat_e6"], place["lon_e6"]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    km = 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))
    return round(km, 1) if km <= near[2] else None


def _answer_view(answer: HelpAnswer) -> dict[str, Any]:
    return {"id": answer.record_id, **answer.data, "created_at": answer.created_at}
