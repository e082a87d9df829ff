"""iCalendar (RFC 5545) feeds, written with the ``icalendar`` library: a coop's events, one event, a resource's
bookings, and each member's private feed of their bookings and the events they registered for.

Times are written in the node's time zone (Europe/Paris by default) with its VTIMEZONE, so calendar programs show
the right wall time on both sides of a DST change. A member's feed is reached by a secret token in its URL (a
calendar program cannot sign in); only the token's SHA-256 is stored, so the address is shown once, when it is
made, and making a new one revokes the old one.

What a feed shows follows the same rules as the pages: a calendar program is anonymous, so the coop's feed of
events and an event's ``.ics`` hold only this coop's public events unless the viewer signed in; a resource's feed
says "booked" without names; a member's feed holds only their own bookings and registrations.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import select

from node.clock import Clock, utc_datetime
from node.errors import NotAuthenticated, NotFound
from node.services.bookings import Bookings
from node.services.things import Things
from node.storage.booking_models import LIVE, Booking, CalendarFeed
from node.storage.database import Database
from node.storage.models import Event, EventRegistration, RecordState
from node.storage.remote_event_models import RemoteEventRegistration
from node.viewer import Viewer

PRODID: Final = "-//Bigre//Bigre node//FR"
MEDIA_TYPE: Final = "text/calendar; charset=utf-8"
#: how far back a feed reaches (calendar programs keep what they saw already)
PAST_MS: Final = 31 * 86_400_000
#: the words a feed carries itself (calendar programs have no language of ours), French then English
BOOKED: Final = "Réservé / Booked"
BOOKING_STATUS: Final = {"pending": "TENTATIVE", "requested": "TENTATIVE", "confirmed": "CONFIRMED"}


@dataclass(frozen=True, slots=True)
class Item:
    """One VEVENT."""

    uid: str
    start: int
    end: int | None
    summary: str
    description: str = ""
    location: str = ""
    url: str = ""
    status: str = "CONFIRMED"
    updated: int | None = None


def ical(name: str, items: Iterable[Item], *, tz: ZoneInfo, now: int) -> bytes:
    """A whole VCALENDAR of ``items``, times in ``tz`` with its VTIMEZONE."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", tz.key)
    stamp = utc_datetime(now)
    for item in items:
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", utc_datetime(item.start).astimezone(tz))
        end = item.end if item.end is not None and item.end > item.start else item.start + 3_600_000
        event.add("dtend", utc_datetime(end).astimezone(tz))
        event.add("summary", item.summary)
        if item.description:
            event.add("description", item.description)
        if item.location:
            event.add("location", item.location)
        if item.url:
            event.add("url", item.url)
        event.add("status", item.status)
        if item.updated is not None:
            event.add("last-modified", utc_datetime(item.updated))
        cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Feeds:
    """The node's iCalendar feeds (built once, in :mod:`node.compose`)."""

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        url: str,
        clock: Clock,
        tz: ZoneInfo,
        things: Things,
        bookings: Bookings,
        coop_name: str,
    ) -> None:
        self.db = db
        self.name = name
        self.url = url.rstrip("/")
        self.clock = clock
        self.tz = tz
        self.things = things
        self.bookings = bookings
        self.coop_name = coop_name

    # -------------------------------------------------------------------------------------------- events

    async def events(self, viewer: Viewer) -> bytes:
        """The coming events (and the last month's): every coop's to a signed-in member, this coop's public
        ones to anyone else (a calendar program subscribing)."""
        now = self.clock()
        items = [self._event_item(o, i, b) for o, i, b in await self._events(viewer, now - PAST_MS)]
        return ical(f"{self.coop_name} – événements / events", items, tz=self.tz, now=now)

    async def event(self, viewer: Viewer, origin: str, record_id: str) -> bytes:
        """One event, as a file to add to a calendar."""
        async with self.db.read() as session:
            state = await session.get(RecordState, (origin, record_id))
            if state is None or state.deleted or state.type != "event" or not state.body:
                raise NotFound(f"no event {origin}/{record_id}")
            if viewer.anonymous:
                own = await session.scalar(select(Event).where(Event.record_id == record_id))
                if origin != self.name or own is None or own.visibility != "public":
                    raise NotFound(f"no event {origin}/{record_id}")
            body = dict(state.body)
        item = self._event_item(origin, record_id, body)
        return ical(str(body.get("title", "")), [item], tz=self.tz, now=self.clock())

    async def _events(self, viewer: Viewer, since: int) -> list[tuple[str, str, dict[str, Any]]]:
        if viewer.anonymous:
            async with self.db.read() as session:
                rows = await session.scalars(
                    select(Event).where(Event.visibility == "public", Event.start >= since).order_by(Event.start)
                )
                return [(self.name, r.record_id, dict(r.data)) for r in rows]
        coming, past = await self.things.calendar(viewer, now=self.clock(), tz=self.tz)
        return [(i["origin"], i["id"], dict(i["body"])) for i in [*past, *coming] if i["start"] >= since]

    def _event_item(self, origin: str, record_id: str, body: Mapping[str, Any]) -> Item:
        place = body.get("place") or {}
        location = ", ".join(str(place[k]) for k in ("town", "postcode") if place.get(k))
        if body.get("online") and not location:
            location = str(body.get("url") or "en ligne / online")
        organiser = body.get("organiser")
        description = str(body.get("description") or "")
        if organiser:
            description = f"{organiser} ({origin})\n\n{description}".strip()
        return Item(
            uid=f"event-{origin}-{record_id}@bigre",
            start=int(body["start"]),
            end=int(body["end"]) if isinstance(body.get("end"), int) else None,
            summary=str(body.get("title", "")),
            description=description,
            location=location,
            url=f"{self.url}/events#event-{origin}-{record_id}",
            status="CANCELLED" if body.get("status") == "cancelled" else "CONFIRMED",
        )

    # ------------------------------------------------------------------------------------------ resources

    async def resource(self, viewer: Viewer, origin: str, record_id: str) -> bytes:
        """A resource's live bookings as this node knows them: every one of this coop's resources ("booked",
        names only to the staff and to the member), one's own of another coop's."""
        resource = await self.bookings.resource(origin, record_id)
        now = self.clock()
        calendar = await self.bookings.calendar(viewer, origin, record_id, now - PAST_MS, now + 400 * 86_400_000)
        title = str(resource.get("title", ""))
        location = ", ".join(str(x) for x in (resource.get("venue"), (resource.get("place") or {}).get("town")) if x)
        items = [
            Item(
                uid=f"booking-{origin}-{record_id}-{i['start']}@bigre",
                start=i["start"],
                end=i["end"],
                summary=f"{title} – {i['display_name']}" if i.get("display_name") else f"{title} – {BOOKED}",
                location=location,
                url=f"{self.url}/resources/{origin}/{record_id}",
                status=BOOKING_STATUS.get(i["status"], "CONFIRMED"),
            )
            for i in calendar["items"]
        ]
        return ical(title, items, tz=self.tz, now=now)

    # ---------------------------------------------------------------------------------- a member's feed

    async def make_private_feed(self, viewer: Viewer) -> str:
        """A new secret address for the viewer's own feed (the old one stops working); returns the token."""
        if viewer.anonymous or viewer.account_id is None:
            raise NotAuthenticated("log in to make your calendar feed")
        token = secrets.token_urlsafe(32)
        async with self.db.write() as session:
            row = await session.get(CalendarFeed, viewer.account_id)
            if row is None:
                session.add(
                    CalendarFeed(account_id=viewer.account_id, token_hash=token_hash(token), created_at=self.clock())
                )
            else:
                row.token_hash, row.created_at = token_hash(token), self.clock()
        return token

    async def has_private_feed(self, viewer: Viewer) -> int | None:
        """When the viewer's feed address was made (None: never)."""
        if viewer.account_id is None:
            return None
        async with self.db.read() as session:
            row = await session.get(CalendarFeed, viewer.account_id)
            return row.created_at if row is not None else None

    async def private(self, token: str) -> bytes:
        """A member's bookings (live and waiting) and the events they registered for, by their feed's token."""
        if not token or len(token) > 100:
            raise NotFound("no such calendar feed")
        async with self.db.read() as session:
            feed = await session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == token_hash(token)))
            if feed is None:
                raise NotFound("no such calendar feed")
            account_id = feed.account_id
            now = self.clock()
            bookings = list(
                await session.scalars(
                    select(Booking)
                    .where(Booking.account_id == account_id, Booking.member_origin == self.name)
                    .where(Booking.status.in_(("requested", *LIVE)), Booking.end >= now - PAST_MS)
                    .order_by(Booking.start)
                )
            )
            resources = {
                (b.resource_origin, b.resource_id): await session.get(RecordState, (b.resource_origin, b.resource_id))
                for b in bookings
            }
            local = await session.scalars(
                select(Event)
                .join(EventRegistration, EventRegistration.event_id == Event.id)
                .where(EventRegistration.account_id == account_id, Event.start >= now - PAST_MS)
            )
            events = [(self.name, e.record_id, dict(e.data)) for e in local]
            remote = await session.scalars(
                select(RemoteEventRegistration).where(
                    RemoteEventRegistration.direction == "out",
                    RemoteEventRegistration.account_id == account_id,
                    RemoteEventRegistration.status.in_(("pending", "confirmed")),
                )
            )
            for reg in remote:
                state = await session.get(RecordState, (reg.event_origin, reg.event_id))
                if state is not None and not state.deleted and state.body:
                    events.append((reg.event_origin, reg.event_id, dict(state.body)))
        items = []
        for b in bookings:
            state = resources[(b.resource_origin, b.resource_id)]
            body = (state.body or {}) if state is not None and not state.deleted else {}
            place = body.get("place") or {}
            items.append(
                Item(
                    uid=f"booking-{b.member_origin}-{b.booking_id}@bigre",
                    start=b.start,
                    end=b.end,
                    summary=str(body.get("title") or f"{b.resource_origin}/{b.resource_id}"),
                    description=b.note or "",
                    location=", ".join(str(x) for x in (body.get("venue"), place.get("town")) if x),
                    url=f"{self.url}/bookings",
                    status=BOOKING_STATUS.get(b.status, "CONFIRMED"),
                    updated=b.updated_at,
                )
            )
        items += [self._event_item(o, i, body) for o, i, body in events if isinstance(body.get("start"), int)]
        return ical(f"{self.coop_name} – mon agenda / my calendar", items, tz=self.tz, now=now)
