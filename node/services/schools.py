"""Schools ask for discovery sessions (issue 16): a public form, no account, that lands with the coop's education
coordinators (its advisors and operators), who find volunteers among the members and turn the request into an
event for the audience ``school``.

The form is open to anyone, so it is guarded without any outside service:

* a **honeypot** field (hidden from people, filled by naive robots): a form that fills it is refused;
* a **signed time token** (:meth:`SchoolRequests.challenge`): an HMAC of the time the form was served, with a
  secret this node draws at start. A form sent sooner than :data:`MIN_FILL_MS` after it was served (a robot), or
  later than :data:`MAX_FILL_MS` (a stale page), or with a token this node did not sign, is refused;
* a **rate limit** per client address (:data:`PER_ADDRESS`) and for the whole form (:data:`PER_HOUR`) over a
  sliding hour, kept on the service object (a node is one process).

A request stays on the node: the teacher's contact is never published; the event made from it carries the
school's town, class level and topic only.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import select

from node.clock import Clock
from node.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound, TooManyAttempts
from node.records.publisher import new_record_id
from node.services.things import EVENTS, Things
from node.storage.database import Database
from node.storage.federation_models import InboxMessage
from node.storage.mentoring_models import SchoolRequest
from node.storage.models import Account, MemberProfile
from node.viewer import Viewer

log = logging.getLogger(__name__)

MIN_FILL_MS: Final = 3_000
MAX_FILL_MS: Final = 2 * 3_600_000
PER_ADDRESS: Final = 5
PER_HOUR: Final = 60
HOUR_MS: Final = 3_600_000
HONEYPOT: Final = "website"
_EMAIL: Final = re.compile(r"[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s]{2,}")
#: the form's fields and their limits
FIELDS: Final = {
    "school": 200,
    "town": 80,
    "class_level": 80,
    "dates": 200,
    "topic": 200,
    "contact_name": 120,
    "contact_email": 254,
    "message": 2000,
}
REQUIRED: Final = ("school", "town", "class_level", "dates", "topic", "contact_name", "contact_email")


class SchoolRequests:
    """The public form's guard, and the coordinators' work on the requests."""

    def __init__(self, db: Database, *, name: str, clock: Clock, things: Things, secret: bytes) -> None:
        self.db = db
        self.name = name
        self.clock = clock
        self.things = things
        self._secret = secret
        self._recent: collections.deque[tuple[int, str]] = collections.deque()

    # -------------------------------------------------------------------------------------- the public form

    def challenge(self) -> str:
        """A token to put in the form: the time it was served, signed."""
        issued = str(self.clock())
        return f"{issued}.{self._mac(issued)}"

    async def submit(self, form: Mapping[str, Any], token: str, client: str) -> int:
        """Take a teacher's request (after the guards); the coordinators find it in their list and their inbox.
        Returns the request's number."""
        now = self.clock()
        if str(form.get(HONEYPOT) or "").strip():
            log.warning("school request refused: the hidden field was filled (a robot), from %s", client)
            raise InvalidInput("this form could not be accepted; please try again", {"form": "refused"})
        self._check_token(token, now, client)
        values, errors = {}, {}
        for name, limit in FIELDS.items():
            value = str(form.get(name) or "").strip()
            if name in REQUIRED and not value:
                errors[name] = "is required"
            elif len(value) > limit:
                errors[name] = f"at most {limit} characters"
            values[name] = value
        if values["contact_email"] and "contact_email" not in errors and not _EMAIL.fullmatch(values["contact_email"]):
            errors["contact_email"] = "is not an e-mail address"
        if errors:
            log.info("school request refused: %s", ", ".join(sorted(errors)))
            raise InvalidInput("invalid input: " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())), errors)
        self._throttle(now, client)
        return await self.take(values)

    async def take(self, values: Mapping[str, str], *, notify: bool = True) -> int:
        """Store a checked request and (``notify``) tell the coordinators in their inbox: the form's last step,
        and the demo's seeding, which leaves the inboxes as they were."""
        now = self.clock()
        async with self.db.write() as session:
            row = SchoolRequest(**values, status="new", volunteers=[], created_at=now, updated_at=now)
            session.add(row)
            await session.flush()
            coordinators: list[int] = []
            if notify:
                coordinators = list(
                    await session.scalars(
                        select(Account.id).where(Account.role.in_(("advisor", "operator")), Account.disabled.is_(False))
                    )
                )
            for account_id in coordinators:
                session.add(
                    InboxMessage(
                        origin=self.name,
                        message_id=new_record_id(),
                        account_id=account_id,
                        from_member=f"school-{row.id}",
                        from_name=values["school"][:120],
                        subject=f"Demande d'une école / A school asks: {values['school']}"[:140],
                        text=f"{values['school']} ({values['town']}), {values['class_level']} : {values['topic']}",
                        about=None,
                        kind="notice",
                        received_at=now,
                        read=False,
                    )
                )
            number = row.id
        log.info("school request %d received", number)
        return int(number)

    def _mac(self, issued: str) -> str:
        return hmac.new(self._secret, b"school-form\0" + issued.encode(), hashlib.sha256).hexdigest()[:32]

    def _check_token(self, token: str, now: int, client: str) -> None:
        issued, _, mac = (token or "").partition(".")
        if not issued.isdigit() or not hmac.compare_digest(mac, self._mac(issued)):
            log.warning("school request refused: a token this node did not sign, from %s", client)
            raise InvalidInput("this form has expired; please fill it in again", {"form": "expired"})
        age = now - int(issued)
        if age < MIN_FILL_MS:
            log.warning("school request refused: sent %d ms after the form was served (a robot), from %s", age, client)
            raise InvalidInput("this form was sent too quickly; please check it and send it again", {"form": "quick"})
        if age > MAX_FILL_MS:
            log.info("school request refused: a form served %d min ago", age // 60_000)
            raise InvalidInput("this form has expired; please fill it in again", {"form": "expired"})

    def _throttle(self, now: int, client: str) -> None:
        while self._recent and self._recent[0][0] <= now - HOUR_MS:
            self._recent.popleft()
        mine = [t for t, who in self._recent if who == client]
        if len(mine) >= PER_ADDRESS or len(self._recent) >= PER_HOUR:
            oldest = mine[0] if len(mine) >= PER_ADDRESS else self._recent[0][0]
            retry = max(1, (oldest + HOUR_MS - now) // 1000)
            log.warning("school request refused: too many from %s in the last hour", client)
            raise TooManyAttempts("too many requests from here; please try again later", int(retry))
        self._recent.append((now, client))

    # ------------------------------------------------------------------------------------ the coordinators

    async def requests(self, viewer: Viewer, status: str | None = None) -> list[dict[str, Any]]:
        """The requests, newest first (the coop's education coordinators: advisors and operators)."""
        _staff(viewer)
        async with self.db.read() as session:
            query = select(SchoolRequest).order_by(SchoolRequest.created_at.desc(), SchoolRequest.id.desc())
            if status:
                query = query.where(SchoolRequest.status == status)
            return [_view(r) for r in await session.scalars(query)]

    async def get(self, viewer: Viewer, number: int) -> dict[str, Any]:
        _staff(viewer)
        async with self.db.read() as session:
            return _view(await _row(session, number))

    async def set_volunteers(
        self, viewer: Viewer, number: int, volunteers: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """The members who will go (found with the search, by trade and place): ``[{origin, member, name}]``."""
        _staff(viewer)
        cleaned = []
        for v in volunteers[:20]:
            origin, member, name = str(v.get("origin") or ""), str(v.get("member") or ""), str(v.get("name") or "")
            if not origin or not member:
                raise InvalidInput.field("volunteers", "each volunteer is {origin, member, name}")
            cleaned.append({"origin": origin[:32], "member": member[:64], "name": (name or member)[:120]})
        async with self.db.write() as session:
            row = await _row(session, number)
            row.volunteers, row.updated_at = cleaned, self.clock()
            return _view(row)

    async def decline(self, viewer: Viewer, number: int) -> dict[str, Any]:
        _staff(viewer)
        async with self.db.write() as session:
            row = await _row(session, number)
            if row.status == "planned":
                raise Conflict("this request is already an event")
            row.status, row.updated_at = "declined", self.clock()
            return _view(row)

    async def make_event(self, viewer: Viewer, number: int, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Turn a request into an event for the audience ``school`` (the school's town, class and topic, never the
        teacher's contact); the volunteers of this coop find a notice in their inbox."""
        _staff(viewer)
        async with self.db.read() as session:
            row = await _row(session, number)
            if row.status != "new":
                raise Conflict(f"this request is {row.status}")
            snapshot = _view(row)
        title = str(payload.get("title") or f"Découverte : {snapshot['topic']}")[:140]
        description = (
            f"{snapshot['school']} — {snapshot['class_level']}\n{snapshot['topic']}\n"
            + ", ".join(v["name"] for v in snapshot["volunteers"])
        ).strip()
        body: dict[str, Any] = {
            "kind": "workshop",
            "title": title,
            "description": str(payload.get("description") or description)[:4000],
            "start": payload.get("start"),
            "audience": "school",
            "registration": "closed",
            "visibility": "network",
        }
        if payload.get("end"):
            body["end"] = payload["end"]
        if snapshot["town"]:
            try:
                body["place"] = self.things.reference.place(snapshot["town"])
            except InvalidInput:
                log.info("school request %d: town %r not in the gazetteer; the event has no place", number, row.town)
        event = await self.things.create(EVENTS, viewer, body)
        now = self.clock()
        async with self.db.write() as session:
            row = await _row(session, number)
            row.status, row.event_id, row.updated_at = "planned", str(event["id"]), now
            for v in row.volunteers:
                account_id = await session.scalar(
                    select(MemberProfile.account_id).where(MemberProfile.record_id == v["member"])
                )
                if account_id is None:
                    continue
                session.add(
                    InboxMessage(
                        origin=self.name,
                        message_id=new_record_id(),
                        account_id=account_id,
                        from_member=str(event["id"]),
                        from_name=row.school[:120],
                        subject=f"Intervention en classe / School session: {title}"[:140],
                        text=f"{title}\n{row.school} ({row.town}), {row.class_level}",
                        about=None,
                        kind="notice",
                        received_at=now,
                        read=False,
                    )
                )
            view = _view(row)
        log.info("school request %d became event %s", number, event["id"])
        return {**view, "event": event}


def _staff(viewer: Viewer) -> None:
    if viewer.anonymous:
        raise NotAuthenticated("log in to see the schools' requests")
    if not viewer.is_staff:
        log.warning("refused: account %s is not staff (school requests)", viewer.account_id)
        raise Forbidden("only the coop's education coordinators (advisors, operators) see the schools' requests")


async def _row(session: Any, number: int) -> SchoolRequest:
    row: SchoolRequest | None = await session.get(SchoolRequest, number)
    if row is None:
        raise NotFound(f"no school request {number}")
    return row


def _view(row: SchoolRequest) -> dict[str, Any]:
    return {
        "id": row.id,
        **{name: getattr(row, name) for name in FIELDS},
        "status": row.status,
        "volunteers": list(row.volunteers or []),
        "event_id": row.event_id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
