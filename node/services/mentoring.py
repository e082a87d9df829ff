"""Mentoring programmes (the Chillies network): a cohort run by a coop, mentees and mentors from any coop, pairs
across coops, their check-ins and the programme's figures.

Who holds what:

* the **programme** is a ``mentoring_programme`` log record of the coop that runs it (every coop sees it);
  its coordinators are that coop's staff (advisors and operators);
* mentees **apply** and mentors **volunteer** with ordinary ``mentoring`` records (request / offer) naming the
  programme (``programme`` = ``origin/id``), written on their own node, so the vocabulary stays the one members
  know (topics, trades, languages; a mentor adds a ``capacity``);
* a **pair** is proposed by the programme's node, which sends its snapshot (a ``mentoring_pair`` direct record) to
  the mentor's and the mentee's nodes; each member accepts or declines on their own node, which answers the
  programme's node (``mentoring_pair_answer``); once both accepted the pair is ``active`` and the new snapshot
  goes out again. The programme's node is the pair's authority; the others keep its newest snapshot;
* **check-ins** (a date and a short note) are written on any of the pair's nodes and sent to the pair's other
  nodes only (``mentoring_checkin``): never in a log, never to a coop outside the pair. Only the pair's two
  members and the programme's coordinators may read them;
* **reminders**: a periodic job leaves an inbox notice (``inbox_messages.kind`` = ``notice``) to a member of an
  active pair that has not met for :data:`REMIND_AFTER_DAYS` days.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.errors import RecordRefusedError
from node.clock import Clock, utc_datetime
from node.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from node.records.publisher import Publisher, new_record_id
from node.services.direct import DirectSender
from node.services.profiles import PROFILE_FIELDS, SHARED_LEVELS
from node.services.things import MENTORING, Things
from node.storage.database import Database
from node.storage.federation_models import InboxMessage, PeerRow
from node.storage.mentoring_models import MentoringCheckin, MentoringPair
from node.storage.models import Account, MemberProfile, RecordState
from node.storage.outbox import require_direct_peer
from node.viewer import Viewer
from protocol import Record

log = logging.getLogger(__name__)

DAY_MS: Final = 86_400_000
YEAR_MS: Final = 365 * DAY_MS
REMIND_AFTER_DAYS: Final = 30
MENTEE_RULES: Final = ("first_year", "under_30", "any")
PROGRAMME_INPUTS: Final = frozenset(
    {"name", "description", "cohort_start", "cohort_end", "mentees", "topics", "languages", "status"}
)

#: the inbox notices, in both languages (the inbox has no language of its own)
NOTICES: Final = {
    "proposed": ("Binôme de mentorat proposé", "Mentoring pair proposed"),
    "active": ("Binôme de mentorat confirmé", "Mentoring pair confirmed"),
    "declined": ("Binôme de mentorat déclin\u00e9", "Mentoring pair declined"),
    "closed": ("Binôme de mentorat terminé", "Mentoring pair closed"),
    "remind": ("Rappel : votre binôme de mentorat", "Reminder: your mentoring pair"),
}


class Mentorships:
    """Programmes, pairs and check-ins on one node (cheap to build: it holds references only)."""

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        clock: Clock,
        publisher: Publisher,
        things: Things,
        direct: DirectSender,
    ) -> None:
        self.db = db
        self.name = name
        self.clock = clock
        self.publisher = publisher
        self.things = things
        self.direct = direct

    # ------------------------------------------------------------------------------------------ programmes

    async def create_programme(self, viewer: Viewer, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Publish a programme of this coop (its staff coordinate it)."""
        _staff(viewer)
        body = _programme_body(payload)
        record_id = new_record_id()
        async with self.db.write() as session:
            account = await session.get(Account, viewer.account_id)
            body["coordinator"] = (account.display_name if account else "")[:120] or self.name
            await self.publisher.publish(
                session, type="mentoring_programme", record_id=record_id, body=body, created=self.clock()
            )
        log.info("mentoring programme %s published by account %s", record_id, viewer.account_id)
        return {"origin": self.name, "id": record_id, **body}

    async def set_programme_status(self, viewer: Viewer, record_id: str, status: str) -> dict[str, Any]:
        """Open, run or close one of this coop's programmes (a new entry of the same record)."""
        _staff(viewer)
        if status not in ("open", "running", "closed"):
            raise InvalidInput.field("status", "must be one of open, running, closed")
        async with self.db.write() as session:
            body = await self.publisher.published_body(session, record_id)
            state = await session.get(RecordState, (self.name, record_id))
            if body is None or state is None or state.type != "mentoring_programme":
                raise NotFound(f"no programme {record_id} on this node")
            body = {**body, "status": status}
            await self.publisher.publish(
                session, type="mentoring_programme", record_id=record_id, body=body, created=self.clock()
            )
        return {"origin": self.name, "id": record_id, **body}

    async def programmes(self, viewer: Viewer) -> list[dict[str, Any]]:
        """Every coop's programmes, the newest cohorts first."""
        _member(viewer)
        async with self.db.read() as session:
            rows = await session.scalars(
                select(RecordState).where(RecordState.type == "mentoring_programme", RecordState.deleted.is_(False))
            )
            items = [{"origin": r.origin, "id": r.record_id, **(r.body or {})} for r in rows]
        items.sort(key=lambda p: (str(p.get("cohort_start", "")), p["origin"], p["id"]), reverse=True)
        return items

    async def programme(self, viewer: Viewer, origin: str, record_id: str) -> dict[str, Any]:
        """One programme, who answered it (mentors and mentees, from every coop), and for its coordinators its
        pairs and figures."""
        _member(viewer)
        async with self.db.read() as session:
            view = await _programme(session, origin, record_id)
            ref = f"{origin}/{record_id}"
            answers = await _answers(session, ref)
            # who answered the programme (``mentees`` stays the programme's rule of who may apply)
            view["volunteers"] = [a for a in answers if a["kind"] == "offer"]
            view["applicants"] = [a for a in answers if a["kind"] == "request"]
            view["coordinator_here"] = origin == self.name and viewer.is_staff
            mine = [a for a in answers if a["origin"] == self.name and a["member"] == viewer.member_id]
            view["joined_as"] = sorted({"mentor" if a["kind"] == "offer" else "mentee" for a in mine})
            if view["coordinator_here"]:
                view["figures"] = await self._figures(session, ref)
        return view

    async def join(self, viewer: Viewer, origin: str, record_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A member volunteers as a mentor or applies as a mentee: a ``mentoring`` record naming the programme,
        with the trades of their profile. A mentee must fit one of the programme's rules."""
        member_id = _member(viewer)
        role = payload.get("role")
        if role not in ("mentor", "mentee"):
            raise InvalidInput.field("role", "must be mentor or mentee")
        unknown = sorted(set(payload) - {"role", "topics", "languages", "note", "capacity", "under_30", "cadence"})
        if unknown:
            raise InvalidInput("invalid input: " + ", ".join(unknown), {k: "unknown field" for k in unknown})
        ref = f"{origin}/{record_id}"
        kind = "offer" if role == "mentor" else "request"
        async with self.db.read() as session:
            programme = await _programme(session, origin, record_id)
            if programme.get("status") == "closed":
                raise Conflict("this programme is closed")
            if any(
                a["kind"] == kind and a["origin"] == self.name and a["member"] == member_id
                for a in await _answers(session, ref)
            ):
                raise Conflict(f"you already joined this programme as {role}")
            if role == "mentee":
                account = await session.get(Account, viewer.account_id)
                since = account.created_at if account is not None else 0
                rules = list(programme.get("mentees") or ["any"])
                fits = {
                    "any": True,
                    "first_year": self.clock() - since < YEAR_MS,
                    "under_30": payload.get("under_30") is True,
                }
                if not any(fits.get(r, False) for r in rules):
                    log.info("account %s may not be a mentee of %s (rules %s)", viewer.account_id, ref, rules)
                    raise Forbidden("this programme's mentees are " + " or ".join(_rule_words(rules)))
            profile = await session.get(MemberProfile, viewer.account_id)
        data: dict[str, Any] = {"kind": kind, "programme": ref}
        # the record goes to the whole network: only the profile fields the member shares that far go in it
        shared = _shared_fields(profile)
        trades = [t["rome"] for t in (shared.get("trades") or []) if t.get("rome")]
        if trades:
            data["trades"] = trades
        for name in ("topics", "languages", "note", "cadence"):
            if payload.get(name):
                data[name] = payload[name]
        if not data.get("languages") and shared.get("languages"):
            data["languages"] = shared["languages"]
        if role == "mentor" and payload.get("capacity") is not None:
            data["capacity"] = payload["capacity"]
        created = await self.things.create(MENTORING, viewer, data)
        log.info("account %s joined programme %s as %s", viewer.account_id, ref, role)
        return {"origin": self.name, **created}

    # ------------------------------------------------------------------------------- suggestions, proposals

    async def suggestions(self, viewer: Viewer, record_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """Ranked mentor-mentee pairs for one of this coop's programmes: shared trade, place, languages, the
        mentor's availability and load. Mentees already paired and mentors at capacity are left out."""
        _staff(viewer)
        ref = f"{self.name}/{record_id}"
        async with self.db.read() as session:
            await _programme(session, self.name, record_id)
            answers = [a for a in await _answers(session, ref) if a.get("status") == "open"]
            pairs = list(
                await session.scalars(
                    select(MentoringPair).where(
                        MentoringPair.programme == ref, MentoringPair.status.in_(("proposed", "active"))
                    )
                )
            )
            profiles = {(a["origin"], a["member"]): await _profile(session, a["origin"], a["member"]) for a in answers}
        paired = {(p.mentee["node"], p.mentee["member"]) for p in pairs}
        load: dict[tuple[str, str], int] = {}
        for p in pairs:
            key = (p.mentor["node"], p.mentor["member"])
            load[key] = load.get(key, 0) + 1
        out: list[dict[str, Any]] = []
        for mentee in (a for a in answers if a["kind"] == "request"):
            if (mentee["origin"], mentee["member"]) in paired:
                continue
            for mentor in (a for a in answers if a["kind"] == "offer"):
                key = (mentor["origin"], mentor["member"])
                if key == (mentee["origin"], mentee["member"]):
                    continue
                capacity = int(mentor.get("capacity") or 1)
                if load.get(key, 0) >= capacity:
                    continue
                score, reasons = _score(
                    mentee,
                    mentor,
                    profiles[(mentee["origin"], mentee["member"])],
                    profiles[key],
                    load.get(key, 0),
                    capacity,
                )
                out.append(
                    {
                        "score": score,
                        "reasons": reasons,
                        "mentee": _person(mentee, profiles[(mentee["origin"], mentee["member"])]),
                        "mentor": {**_person(mentor, profiles[key]), "load": load.get(key, 0), "capacity": capacity},
                    }
                )
        out.sort(key=lambda s: (-s["score"], s["mentee"]["name"], s["mentor"]["name"]))
        return out[:limit]

    async def propose(self, viewer: Viewer, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The coordinator proposes a pair; the mentor's and the mentee's nodes are sent the pair, and each member
        is told in their inbox."""
        _staff(viewer)
        programme_id = str(payload.get("programme") or "")
        mentor_ref, mentee_ref = payload.get("mentor"), payload.get("mentee")
        if not isinstance(mentor_ref, Mapping) or not isinstance(mentee_ref, Mapping):
            raise InvalidInput("mentor and mentee are each {origin, id} of a mentoring record", {"mentor": "required"})
        note = str(payload.get("note") or "")[:2000]
        ref = f"{self.name}/{programme_id}"
        now = self.clock()
        async with self.db.write() as session:
            programme = await _programme(session, self.name, programme_id)
            mentor = await _answer(session, mentor_ref, "offer", ref)
            mentee = await _answer(session, mentee_ref, "request", ref)
            if (mentor["origin"], mentor["member"]) == (mentee["origin"], mentee["member"]):
                raise InvalidInput.field("mentee", "a member cannot mentor themselves")
            held = list(
                await session.scalars(
                    select(MentoringPair).where(
                        MentoringPair.programme == ref, MentoringPair.status.in_(("proposed", "active"))
                    )
                )
            )
            if any((p.mentee["node"], p.mentee["member"]) == (mentee["origin"], mentee["member"]) for p in held):
                raise Conflict("this mentee already has a pair in this programme")
            load = sum((p.mentor["node"], p.mentor["member"]) == (mentor["origin"], mentor["member"]) for p in held)
            if load >= int(mentor.get("capacity") or 1):
                raise Conflict("this mentor has no room left")
            for node in {mentor["origin"], mentee["origin"]} - {self.name}:
                await require_direct_peer(session, node)
            names = {}
            for who in (mentor, mentee):
                profile = await _profile(session, who["origin"], who["member"])
                names[who["id"]] = str(profile.get("display_name") or who["member"])[:120]
            pair = MentoringPair(
                pair_id=new_record_id(),
                coordinator_node=self.name,
                programme=ref,
                programme_name=str(programme["name"])[:120],
                mentor=_side(mentor, names[mentor["id"]]),
                mentee=_side(mentee, names[mentee["id"]]),
                status="proposed",
                note=note,
                feedback={},
                proposed_at=now,
                updated_at=now,
            )
            session.add(pair)
            await session.flush()
            await self._send_pair(session, pair)
            await self._notify(session, pair, "proposed")
            view = _pair_view(pair, self.name, coordinator=True)
        self.direct.wake()
        log.info("mentoring pair %s proposed in %s", pair.pair_id, ref)
        return view

    # --------------------------------------------------------------------------------------- the pairs

    async def my_pairs(self, viewer: Viewer) -> list[dict[str, Any]]:
        """The pairs the viewer is in (as mentor or mentee), newest first."""
        member_id = _member(viewer)
        async with self.db.read() as session:
            rows = await session.scalars(select(MentoringPair).order_by(MentoringPair.proposed_at.desc()))
            return [
                _pair_view(p, self.name, coordinator=False)
                for p in rows
                if _role_of(p, self.name, member_id) is not None
            ]

    async def programme_pairs(self, viewer: Viewer, record_id: str) -> list[dict[str, Any]]:
        """Every pair of one of this coop's programmes, with the check-ins' count (its coordinators only)."""
        _staff(viewer)
        ref = f"{self.name}/{record_id}"
        async with self.db.read() as session:
            await _programme(session, self.name, record_id)
            rows = list(
                await session.scalars(
                    select(MentoringPair)
                    .where(MentoringPair.programme == ref)
                    .order_by(MentoringPair.proposed_at.desc())
                )
            )
            views = []
            for p in rows:
                meetings = await session.scalar(
                    select(func.count()).select_from(MentoringCheckin).where(MentoringCheckin.pair_id == p.pair_id)
                )
                views.append({**_pair_view(p, self.name, coordinator=True), "meetings": int(meetings or 0)})
            return views

    async def pair(self, viewer: Viewer, pair_id: str) -> dict[str, Any]:
        """One pair and its check-ins: for its two members and the programme's coordinators only."""
        async with self.db.read() as session:
            pair = await self._visible_pair(session, viewer, pair_id)
            checkins = await session.scalars(
                select(MentoringCheckin)
                .where(MentoringCheckin.pair_id == pair_id)
                .order_by(MentoringCheckin.date.desc(), MentoringCheckin.id.desc())
            )
            coordinator = pair.coordinator_node == self.name and viewer.is_staff
            return {
                **_pair_view(pair, self.name, coordinator=coordinator),
                "my_role": _role_of(pair, self.name, viewer.member_id),
                "checkins": [
                    {"id": f"{c.origin}/{c.checkin_id}", "date": c.date, "note": c.note, "by_name": c.by_name}
                    for c in checkins
                ],
            }

    async def answer(self, viewer: Viewer, pair_id: str, action: str, feedback: str = "") -> dict[str, Any]:
        """The viewer accepts or declines a proposed pair, or closes an active one (with a short feedback for the
        coordinator). Answered on the member's node; the programme's node decides the pair's status."""
        member_id = _member(viewer)
        if action not in ("accept", "decline", "close"):
            raise InvalidInput.field("action", "must be accept, decline or close")
        feedback = feedback.strip()[:2000]
        now = self.clock()
        async with self.db.write() as session:
            pair = await _pair_row(session, pair_id, lock=True)
            role = _role_of(pair, self.name, member_id) if pair is not None else None
            if pair is None or role is None:
                raise NotFound(f"no mentoring pair {pair_id} of yours")
            if action in ("accept", "decline") and pair.status != "proposed":
                raise Conflict("this pair is no longer waiting for an answer")
            if action == "close" and pair.status != "active":
                raise Conflict("only an active pair can be closed")
            if pair.coordinator_node == self.name:
                changed = self._apply_answer(pair, role, action, feedback, now)
                if changed:
                    await self._send_pair(session, pair)
                    await self._notify(session, pair, pair.status, skip=member_id)
            else:
                side = dict(getattr(pair, role))
                if action != "close":
                    side["answer"] = "accepted" if action == "accept" else "declined"
                    setattr(pair, role, side)
                body = {
                    "to_node": pair.coordinator_node,
                    "pair": pair.pair_id,
                    "role": role,
                    "member": member_id,
                    "action": action,
                    "at": now,
                }
                if feedback and action == "close":
                    body["feedback"] = feedback
                await self.direct.queue(session, "mentoring_pair_answer", body)
            view = _pair_view(pair, self.name, coordinator=False)
        self.direct.wake()
        log.info("mentoring pair %s: %s %s", pair_id, role, action)
        return view

    async def checkin(self, viewer: Viewer, pair_id: str, date: str, note: str = "") -> dict[str, Any]:
        """Record a meeting of an active pair (one of its members or the coordinator); the pair's other nodes get
        it, and no other node."""
        _member(viewer)
        try:
            day = dt.date.fromisoformat(date)
        except (TypeError, ValueError):
            raise InvalidInput.field("date", "must be a date YYYY-MM-DD") from None
        if day > utc_datetime(self.clock()).date() + dt.timedelta(days=1):
            raise InvalidInput.field("date", "a meeting cannot be in the future")
        note = note.strip()
        if len(note) > 1000:
            raise InvalidInput.field("note", "at most 1000 characters")
        async with self.db.write() as session:
            pair = await self._visible_pair(session, viewer, pair_id)
            if pair.status != "active":
                raise Conflict("check-ins are for active pairs")
            role = _role_of(pair, self.name, viewer.member_id)
            if role is not None:  # the name the pair already carries, never one the member keeps to their coop
                by_name = str(getattr(pair, role)["name"])[:120]
            else:  # the coordinator, staff of the programme's coop
                account = await session.get(Account, viewer.account_id)
                by_name = (account.display_name if account else "")[:120] or self.name
            row = MentoringCheckin(
                origin=self.name,
                checkin_id=new_record_id(),
                pair_id=pair_id,
                date=day.isoformat(),
                note=note,
                by_node=self.name,
                by_name=by_name,
                created_at=self.clock(),
            )
            session.add(row)
            for node in sorted(_nodes(pair) - {self.name}):
                body: dict[str, Any] = {
                    "to_node": node,
                    "pair": pair_id,
                    "date": row.date,
                    "by_node": self.name,
                    "by_name": by_name,
                }
                if note:
                    body["note"] = note
                await self.direct.queue(session, "mentoring_checkin", body, id=row.checkin_id)
            view = {"id": f"{row.origin}/{row.checkin_id}", "date": row.date, "note": row.note, "by_name": by_name}
        self.direct.wake()
        log.info("check-in of mentoring pair %s recorded", pair_id)
        return view

    async def _visible_pair(self, session: AsyncSession, viewer: Viewer, pair_id: str) -> MentoringPair:
        if viewer.anonymous:
            raise NotAuthenticated("log in to see mentoring pairs")
        pair = await _pair_row(session, pair_id)
        if pair is not None and (
            _role_of(pair, self.name, viewer.member_id) is not None
            or (pair.coordinator_node == self.name and viewer.is_staff)
        ):
            return pair
        if pair is not None:
            log.warning("refused: account %s is outside mentoring pair %s", viewer.account_id, pair_id)
        raise NotFound(f"no mentoring pair {pair_id} of yours")

    # --------------------------------------------------------------------------------------- receiving

    async def receive_pair(self, record: Record) -> bool:
        """A ``mentoring_pair`` snapshot from the programme's node: kept when newer than the one held."""
        body = dict[str, Any](record.body or {})
        async with self.db.write() as session:
            await _require_peer(session, record)
            sides = [s for s in ("mentor", "mentee") if body[s]["node"] == self.name]
            if not sides:
                raise RecordRefusedError("neither the mentor nor the mentee of this pair is a member of this node")
            for side in sides:
                if (
                    await session.scalar(
                        select(MemberProfile.account_id).where(MemberProfile.record_id == body[side]["member"])
                    )
                    is None
                ):
                    raise RecordRefusedError(f"no member {body[side]['member']} on this node")
            if not str(body["programme"]).startswith(f"{record.origin}/"):
                raise RecordRefusedError(f"{record.origin} sends a pair of another coop's programme")
            pair = await _pair_row(session, str(body["pair"]), lock=True)
            if pair is not None and pair.coordinator_node != record.origin:
                raise RecordRefusedError(f"pair {body['pair']} is coordinated by {pair.coordinator_node}")
            if pair is not None and int(body["updated_at"]) <= pair.updated_at:
                return False
            before = pair.status if pair is not None else None
            if pair is None:
                pair = MentoringPair(
                    pair_id=str(body["pair"]),
                    coordinator_node=record.origin,
                    feedback={},
                    proposed_at=int(body["updated_at"]),
                )
                session.add(pair)
            pair.programme, pair.programme_name = str(body["programme"]), str(body["programme_name"])
            pair.mentor, pair.mentee = dict(body["mentor"]), dict(body["mentee"])
            pair.status, pair.note, pair.updated_at = (
                str(body["status"]),
                str(body.get("note") or ""),
                int(body["updated_at"]),
            )
            if pair.status == "active" and pair.started_at is None:
                pair.started_at = pair.updated_at
            if pair.status in ("closed", "declined") and pair.closed_at is None:
                pair.closed_at = pair.updated_at
            await session.flush()
            if before != pair.status:
                await self._notify(session, pair, pair.status)
        log.info("mentoring pair %s from %s: %s", body["pair"], record.origin, body["status"])
        return True

    async def receive_answer(self, record: Record) -> bool:
        """A member's answer, from their node, to a pair this node coordinates."""
        body = dict[str, Any](record.body or {})
        async with self.db.write() as session:
            await _require_peer(session, record)
            pair = await _pair_row(session, str(body["pair"]), lock=True)
            if pair is None or pair.coordinator_node != self.name:
                raise RecordRefusedError(f"this node coordinates no pair {body['pair']}")
            side = getattr(pair, str(body["role"]))
            if side["node"] != record.origin or side["member"] != body["member"]:
                raise RecordRefusedError(f"{record.origin}/{body['member']} is not this pair's {body['role']}")
            changed = self._apply_answer(
                pair, str(body["role"]), str(body["action"]), str(body.get("feedback") or ""), self.clock()
            )
            if changed:
                await self._send_pair(session, pair)
                await self._notify(session, pair, pair.status)
        if changed:
            self.direct.wake()
        return changed

    async def receive_checkin(self, record: Record) -> bool:
        """A check-in written on another of the pair's nodes."""
        body = dict[str, Any](record.body or {})
        async with self.db.write() as session:
            await _require_peer(session, record)
            pair = await _pair_row(session, str(body["pair"]))
            if pair is None or record.origin not in _nodes(pair) or body["by_node"] != record.origin:
                raise RecordRefusedError(f"{record.origin} is not a node of a pair {body['pair']} held here")
            held = await session.scalar(
                select(MentoringCheckin.id).where(
                    MentoringCheckin.origin == record.origin, MentoringCheckin.checkin_id == record.id
                )
            )
            if held is not None:
                return False
            session.add(
                MentoringCheckin(
                    origin=record.origin,
                    checkin_id=record.id,
                    pair_id=pair.pair_id,
                    date=str(body["date"]),
                    note=str(body.get("note") or ""),
                    by_node=record.origin,
                    by_name=str(body["by_name"]),
                    created_at=self.clock(),
                )
            )
        return True

    # ----------------------------------------------------------------------------------- reminders, figures

    async def remind_due(self) -> int:
        """Leave a reminder in the inbox of each member of an active pair that has not met for a while (at most
        one per period). Returns how many were left."""
        now = self.clock()
        due = now - REMIND_AFTER_DAYS * DAY_MS
        left = 0
        async with self.db.write() as session:
            pairs = list(await session.scalars(select(MentoringPair).where(MentoringPair.status == "active")))
            for pair in pairs:
                last = await session.scalar(
                    select(func.max(MentoringCheckin.date)).where(MentoringCheckin.pair_id == pair.pair_id)
                )
                last_ms = _date_ms(last) if last else (pair.started_at or pair.updated_at)
                if last_ms > due or (pair.reminded_at is not None and pair.reminded_at > due):
                    continue
                left += await self._notify(session, pair, "remind")
                pair.reminded_at = now
        if left:
            log.info("%d mentoring reminders left in inboxes", left)
        return left

    async def _figures(self, session: AsyncSession, ref: str) -> dict[str, int]:
        pairs = list(await session.scalars(select(MentoringPair).where(MentoringPair.programme == ref)))
        ids = [p.pair_id for p in pairs]
        meetings = (
            await session.scalar(
                select(func.count()).select_from(MentoringCheckin).where(MentoringCheckin.pair_id.in_(ids))
            )
            if ids
            else 0
        )
        now, stayed, followed = self.clock(), 0, 0
        for p in pairs:
            if p.started_at is None or now - p.started_at < YEAR_MS:
                continue
            followed += 1
            if p.mentee["node"] == self.name:  # our member: still an account here
                held = await session.scalar(
                    select(MemberProfile.account_id).where(MemberProfile.record_id == p.mentee["member"])
                )
                stayed += held is not None
            else:  # another coop's: gone only if that coop deleted the profile (erased, moved, left)
                state = await session.get(RecordState, (p.mentee["node"], p.mentee["member"]))
                stayed += state is None or not state.deleted
        return {
            "pairs_proposed": sum(p.status == "proposed" for p in pairs),
            "pairs_active": sum(p.status == "active" for p in pairs),
            "pairs_closed": sum(p.status == "closed" for p in pairs),
            "meetings": int(meetings or 0),
            "mentees_a_year_on": followed,
            "mentees_stayed_a_year": stayed,
        }

    # ------------------------------------------------------------------------------------------ helpers

    def _apply_answer(self, pair: MentoringPair, role: str, action: str, feedback: str, now: int) -> bool:
        """The programme's node takes a member's answer; True when the pair changed."""
        side = dict(getattr(pair, role))
        if action in ("accept", "decline"):
            if pair.status != "proposed":
                return False
            answer = "accepted" if action == "accept" else "declined"
            if side.get("answer") == answer:
                return False
            side["answer"] = answer
            setattr(pair, role, side)
            if answer == "declined":
                pair.status, pair.closed_at = "declined", now
            elif pair.mentor.get("answer") == "accepted" and pair.mentee.get("answer") == "accepted":
                pair.status, pair.started_at = "active", now
        else:
            if pair.status != "active":
                return False
            pair.status, pair.closed_at = "closed", now
            if feedback:
                pair.feedback = {**(pair.feedback or {}), role: feedback}
        pair.updated_at = max(now, pair.updated_at + 1)
        return True

    async def _send_pair(self, session: AsyncSession, pair: MentoringPair) -> None:
        """Queue the pair's snapshot for the mentor's and the mentee's nodes (this node keeps its own row)."""
        for node in sorted({pair.mentor["node"], pair.mentee["node"]} - {self.name}):
            body: dict[str, Any] = {
                "to_node": node,
                "pair": pair.pair_id,
                "programme": pair.programme,
                "programme_name": pair.programme_name,
                "mentor": _wire_side(pair.mentor),
                "mentee": _wire_side(pair.mentee),
                "status": pair.status,
                "updated_at": pair.updated_at,
            }
            if pair.note:
                body["note"] = pair.note
            await self.direct.queue(session, "mentoring_pair", body)

    async def _notify(self, session: AsyncSession, pair: MentoringPair, what: str, skip: str | None = None) -> int:
        """An inbox notice to each member of the pair who belongs to this node (``skip``: the one who acted)."""
        left = 0
        fr, en = NOTICES.get(what, NOTICES["proposed"])
        for role in ("mentor", "mentee"):
            side = getattr(pair, role)
            if side["node"] != self.name or side["member"] == skip:
                continue
            account_id = await session.scalar(
                select(MemberProfile.account_id).where(MemberProfile.record_id == side["member"])
            )
            if account_id is None:
                continue
            other = pair.mentee if role == "mentor" else pair.mentor
            about = f"{pair.programme_name} — {other['name']}"
            session.add(
                InboxMessage(
                    origin=pair.coordinator_node,
                    message_id=new_record_id(),
                    account_id=account_id,
                    from_member=pair.pair_id,
                    from_name=pair.programme_name[:120],
                    subject=f"{fr} / {en}"[:140],
                    text=f"{fr} : {about}\n{en}: {about}",
                    about=None,
                    kind="notice",
                    received_at=self.clock(),
                    read=False,
                )
            )
            left += 1
        return left


# ------------------------------------------------------------------------------------------------ helpers


def _member(viewer: Viewer) -> str:
    if viewer.anonymous:
        raise NotAuthenticated("log in to take part in mentoring")
    if viewer.member_id is None:
        raise Forbidden("only members with a profile take part in mentoring")
    return viewer.member_id


def _staff(viewer: Viewer) -> None:
    if viewer.anonymous:
        raise NotAuthenticated("log in to coordinate a programme")
    if not viewer.is_staff:
        log.warning("refused: account %s is not staff (mentoring programmes)", viewer.account_id)
        raise Forbidden("only the coop's advisors and operators coordinate programmes")


def _shared_fields(profile: MemberProfile | None) -> dict[str, Any]:
    """The profile fields the member shows to the network (never a field kept to the coop or private)."""
    if profile is None:
        return {}
    return {
        name: value
        for name, value in profile.data.items()
        if name in PROFILE_FIELDS and profile.visibility.get(name, PROFILE_FIELDS[name].default) in SHARED_LEVELS
    }


def _rule_words(rules: list[str]) -> list[str]:
    words = {"first_year": "members in their first year", "under_30": "under 30", "any": "any member"}
    return [words.get(r, r) for r in rules]


def _programme_body(payload: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    unknown = sorted(set(payload) - PROGRAMME_INPUTS)
    errors.update({k: "unknown field" for k in unknown})
    name = str(payload.get("name") or "").strip()
    if not name:
        errors["name"] = "is required"
    elif len(name) > 120:
        errors["name"] = "at most 120 characters"
    dates: dict[str, dt.date] = {}
    for key in ("cohort_start", "cohort_end"):
        try:
            dates[key] = dt.date.fromisoformat(str(payload.get(key) or ""))
        except ValueError:
            errors[key] = "must be a date YYYY-MM-DD"
    if len(dates) == 2 and dates["cohort_end"] < dates["cohort_start"]:
        errors["cohort_end"] = "must not be before the start"
    mentees = payload.get("mentees") or ["any"]
    if not isinstance(mentees, list) or not mentees or any(m not in MENTEE_RULES for m in mentees):
        errors["mentees"] = "a list of first_year, under_30, any"
    status = payload.get("status") or "open"
    if status not in ("open", "running", "closed"):
        errors["status"] = "must be one of open, running, closed"
    if errors:
        raise InvalidInput("invalid input: " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())), errors)
    body: dict[str, Any] = {
        "name": name,
        "cohort_start": dates["cohort_start"].isoformat(),
        "cohort_end": dates["cohort_end"].isoformat(),
        "mentees": sorted(set(mentees), key=MENTEE_RULES.index),
        "status": status,
    }
    for key in ("description", "topics", "languages"):
        if payload.get(key):
            body[key] = payload[key]
    return body


async def _programme(session: AsyncSession, origin: str, record_id: str) -> dict[str, Any]:
    state = await session.get(RecordState, (origin, record_id))
    if state is None or state.deleted or state.type != "mentoring_programme":
        raise NotFound(f"no programme {origin}/{record_id}")
    return {"origin": origin, "id": record_id, **(state.body or {})}


async def _answers(session: AsyncSession, ref: str) -> list[dict[str, Any]]:
    """The mentoring records (of every coop) that name the programme ``ref``."""
    rows = await session.scalars(
        select(RecordState).where(RecordState.type == "mentoring", RecordState.deleted.is_(False))
    )
    return [
        {"origin": r.origin, "id": r.record_id, **(r.body or {})}
        for r in rows
        if (r.body or {}).get("programme") == ref
    ]


async def _answer(session: AsyncSession, ref: Mapping[str, Any], kind: str, programme: str) -> dict[str, Any]:
    state = await session.get(RecordState, (str(ref.get("origin")), str(ref.get("id"))))
    body = (state.body or {}) if state is not None and not state.deleted else {}
    if state is None or state.type != "mentoring" or body.get("kind") != kind or body.get("programme") != programme:
        who = "mentor" if kind == "offer" else "mentee"
        raise InvalidInput.field(who, f"not a {who} of this programme")
    if body.get("status") != "open":
        raise Conflict("this mentoring record is no longer open")
    return {"origin": state.origin, "id": state.record_id, **body}


async def _profile(session: AsyncSession, origin: str, member_id: str) -> dict[str, Any]:
    """What this node holds of a member's profile (the network-visible fields of another coop's)."""
    state = await session.get(RecordState, (origin, member_id))
    if state is not None and not state.deleted and state.type == "profile":
        return dict(state.body or {})
    return {}


async def _pair_row(session: AsyncSession, pair_id: str, *, lock: bool = False) -> MentoringPair | None:
    query = select(MentoringPair).where(MentoringPair.pair_id == pair_id)
    pair: MentoringPair | None = await session.scalar(query.with_for_update() if lock else query)
    return pair


async def _require_peer(session: AsyncSession, record: Record) -> None:
    peer = await session.get(PeerRow, record.origin)
    if peer is None or peer.status != "member" or not peer.direct:
        raise RecordRefusedError(f"{record.origin} is not a direct member peer of this node")


def _side(answer: Mapping[str, Any], name: str) -> dict[str, Any]:
    return {
        "node": answer["origin"],
        "member": answer["member"],
        "mentoring": answer["id"],
        "name": name,
        "answer": "pending",
    }


def _wire_side(side: Mapping[str, Any]) -> dict[str, Any]:
    return {k: side[k] for k in ("node", "member", "mentoring", "name", "answer") if side.get(k) is not None}


def _role_of(pair: MentoringPair, name: str, member_id: str | None) -> str | None:
    if member_id is None:
        return None
    for role in ("mentor", "mentee"):
        side = getattr(pair, role)
        if side["node"] == name and side["member"] == member_id:
            return role
    return None


def _nodes(pair: MentoringPair) -> set[str]:
    return {pair.coordinator_node, pair.mentor["node"], pair.mentee["node"]}


def _pair_view(pair: MentoringPair, name: str, *, coordinator: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": pair.pair_id,
        "coordinator_node": pair.coordinator_node,
        "programme": pair.programme,
        "programme_name": pair.programme_name,
        "mentor": dict(pair.mentor),
        "mentee": dict(pair.mentee),
        "status": pair.status,
        "note": pair.note,
        "proposed_at": pair.proposed_at,
        "started_at": pair.started_at,
        "closed_at": pair.closed_at,
        "updated_at": pair.updated_at,
    }
    if coordinator and pair.coordinator_node == name:
        view["feedback"] = dict(pair.feedback or {})
    return view


def _person(answer: Mapping[str, Any], profile: Mapping[str, Any]) -> dict[str, Any]:
    place = profile.get("place") or {}
    return {
        "origin": answer["origin"],
        "id": answer["id"],
        "member": answer["member"],
        "name": str(profile.get("display_name") or answer["member"]),
        "trades": [t.get("label") for t in (answer.get("trades") or profile.get("trades") or [])],
        "town": place.get("town"),
        "languages": list(answer.get("languages") or profile.get("languages") or []),
        "topics": list(answer.get("topics") or []),
    }


def _score(
    mentee: Mapping[str, Any],
    mentor: Mapping[str, Any],
    mentee_profile: Mapping[str, Any],
    mentor_profile: Mapping[str, Any],
    load: int,
    capacity: int,
) -> tuple[int, list[str]]:
    """How well a mentor fits a mentee, and why (reason codes the pages translate)."""
    score = 0
    reasons: list[str] = []

    def romes(a: Mapping[str, Any], p: Mapping[str, Any]) -> set[str]:
        return {str(t.get("rome")) for t in (a.get("trades") or p.get("trades") or []) if t.get("rome")}

    a, b = romes(mentee, mentee_profile), romes(mentor, mentor_profile)
    if a & b:
        score, reasons = score + 4, [*reasons, "same_trade"]
    elif {r[:3] for r in a} & {r[:3] for r in b}:
        score, reasons = score + 2, [*reasons, "near_trade"]
    pa, pb = mentee_profile.get("place") or {}, mentor_profile.get("place") or {}
    if pa.get("departement") and pa.get("departement") == pb.get("departement"):
        score, reasons = score + 3, [*reasons, "same_departement"]
    elif pa.get("region") and pa.get("region") == pb.get("region"):
        score, reasons = score + 1, [*reasons, "same_region"]
    la = set(mentee.get("languages") or mentee_profile.get("languages") or [])
    lb = set(mentor.get("languages") or mentor_profile.get("languages") or [])
    if la and lb:
        if la & lb:
            score, reasons = score + 2, [*reasons, "shared_language"]
        else:
            score, reasons = score - 5, [*reasons, "no_shared_language"]
    ta, tb = set(mentee.get("topics") or []), set(mentor.get("topics") or [])
    if ta & tb:
        score, reasons = score + 2, [*reasons, "shared_topic"]
    status = (mentor_profile.get("availability") or {}).get("status")
    if status == "available":
        score, reasons = score + 1, [*reasons, "available"]
    elif status in ("busy", "unavailable"):
        score, reasons = score - 2, [*reasons, "busy"]
    if load == 0:
        score, reasons = score + 1, [*reasons, "free_mentor"]
    elif capacity - load == 1:
        reasons = [*reasons, "last_place"]
    if mentee.get("origin") != mentor.get("origin"):
        reasons = [*reasons, "across_coops"]
    return score, reasons


def _date_ms(day: str) -> int:
    d = dt.date.fromisoformat(day)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp() * 1000)
