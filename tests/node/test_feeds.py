"""iCalendar feeds: a resource's bookings, the events, one event and a member's private feed, read back with two
parsers (``icalendar`` and ``recurring_ical_events``): the right instants on both sides of the DST change, the
Europe/Paris VTIMEZONE, and nothing private in a feed that is not the member's."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from node.compose import Node
from node.errors import NotFound
from node.services.things import EVENTS
from node.viewer import ANONYMOUS

from .test_bookings import LASER, paris, publish
from .test_moving import login

PARIS = ZoneInfo("Europe/Paris")


def moment(event: icalendar.Event) -> dt.datetime:
    """An event's start, which here is always a time (never an all-day date)."""
    start = event.start
    assert isinstance(start, dt.datetime), start
    return start


def parse(data: bytes) -> icalendar.Calendar:
    cal = icalendar.Calendar.from_ical(data)
    assert isinstance(cal, icalendar.Calendar)
    return cal


def starts(data: bytes) -> dict[str, dt.datetime]:
    """Each VEVENT's summary and start, as the second parser expands them over 2025-2026."""
    events = recurring_ical_events.of(parse(data)).between(dt.date(2025, 1, 1), dt.date(2027, 1, 1))
    return {str(e["SUMMARY"]): e.start for e in events}


async def test_private_feed_has_bookings_across_dst(services: Node) -> None:
    laser = await publish(services, {k: v for k, v in LASER.items() if k != "qualification"})
    lea = await login(services, "lea@coopaname.example")
    summer = await services.bookings.book(lea, "coopaname", laser, paris("2025-10-24", 9), paris("2025-10-24", 10))
    winter = await services.bookings.book(lea, "coopaname", laser, paris("2025-10-28", 9), paris("2025-10-28", 10))
    assert summer["start"] - winter["start"] != 4 * 86_400_000  # the DST change lies between them
    event = await services.things.create(
        EVENTS, lea, {"kind": "workshop", "title": "Atelier découpe", "start": paris("2025-11-04", 14)}
    )
    await services.things.register(lea, str(event["id"]))

    with pytest.raises(NotFound):
        await services.feeds.private("not-a-token-of-this-node-at-all")
    token = await services.feeds.make_private_feed(lea)
    data = await services.feeds.private(token)
    cal = parse(data)
    zones = [tz.tz_name for tz in cal.timezones]
    assert zones == ["Europe/Paris"]
    events = cal.events
    assert len(events) == 3 and all(cast(Any, e["DTSTART"]).params["TZID"] == "Europe/Paris" for e in events)
    found = sorted((moment(e), str(e["SUMMARY"])) for e in events)
    # 9:00 wall time on both sides of the change: 07:00 UTC in summer, 08:00 UTC in winter
    assert [d.astimezone(dt.UTC).hour for d, _ in found] == [7, 8, 13]
    assert [d.astimezone(PARIS).hour for d, _ in found] == [9, 9, 14]
    assert [s for _, s in found] == ["Découpeuse laser", "Découpeuse laser", "Atelier découpe"]
    expanded = starts(data)
    assert expanded["Atelier découpe"] == dt.datetime(2025, 11, 4, 14, tzinfo=PARIS)
    # a new address stops the old one
    assert await services.feeds.make_private_feed(lea) != token
    with pytest.raises(NotFound):
        await services.feeds.private(token)
    # cancelled bookings leave the feed
    await services.bookings.cancel(lea, winter["booking"])
    assert len(parse(await services.feeds.private(await services.feeds.make_private_feed(lea))).events) == 2


async def test_resource_and_event_feeds_show_nothing_private(services: Node) -> None:
    laser = await publish(services, {k: v for k, v in LASER.items() if k != "qualification"})
    lea = await login(services, "lea@coopaname.example")
    await services.bookings.book(lea, "coopaname", laser, paris("2025-06-17", 10), paris("2025-06-17", 11))
    public = parse(await services.feeds.resource(ANONYMOUS, "coopaname", laser))
    (booking,) = public.events
    assert str(booking["SUMMARY"]) == "Découpeuse laser – Réservé / Booked"
    assert booking.start == dt.datetime(2025, 6, 17, 10, tzinfo=PARIS)

    await services.things.create(
        EVENTS, lea, {"kind": "meeting", "title": "Réunion réseau", "start": paris("2025-07-01", 18)}
    )
    shown = await services.things.create(
        EVENTS,
        lea,
        {"kind": "training", "title": "Formation ouverte", "start": paris("2025-07-02", 9), "visibility": "public"},
    )
    anonymous = [str(e["SUMMARY"]) for e in parse(await services.feeds.events(ANONYMOUS)).events]
    assert anonymous == ["Formation ouverte"]  # a calendar program sees the public events only
    signed_in = {str(e["SUMMARY"]) for e in parse(await services.feeds.events(lea)).events}
    assert signed_in == {"Réunion réseau", "Formation ouverte"}
    one = parse(await services.feeds.event(ANONYMOUS, "coopaname", str(shown["id"])))
    assert [moment(e).astimezone(dt.UTC).hour for e in one.events] == [7]
