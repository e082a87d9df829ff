"""Booking Point Carré's spaces and machines (published by Coopaname in the demo) from other coops, through real
node processes: the qualification checked at booking, two coops racing for one slot, and the feeds."""

from __future__ import annotations

import datetime as dt
import threading
import urllib.request
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from .cluster import Cluster, Node, eventually

PARIS = ZoneInfo("Europe/Paris")


def moment(event: icalendar.Event) -> dt.datetime:
    """An event's start, which here is always a time (never an all-day date)."""
    start = event.start
    assert isinstance(start, dt.datetime), start
    return start


DAY = dt.timedelta(days=1)


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=PARIS)


def next_weekday(iso_day: int, hour: int, weeks_ahead: int = 1) -> int:
    """Milliseconds of ``hour``:00 Paris time on the given ISO weekday, at least ``weeks_ahead`` weeks from now."""
    today = dt.datetime.now(PARIS).date() + dt.timedelta(weeks=weeks_ahead)
    day = today + dt.timedelta(days=(iso_day - today.isoweekday()) % 7)
    return int(dt.datetime(day.year, day.month, day.day, hour, tzinfo=PARIS).timestamp() * 1000)


def resource(node: Node, title: str) -> dict[str, Any]:
    answer = node.api("GET", "/api/v1/resources")
    assert answer.status == 200, answer.body
    found = [r for r in answer.json()["items"] if r["title"] == title]
    assert len(found) == 1, [r["title"] for r in answer.json()["items"]]
    return dict(found[0])


def my_booking(node: Node, booking: str, token: str) -> dict[str, Any]:
    answer = node.api("GET", "/api/v1/me/bookings", token=token)
    assert answer.status == 200, answer.body
    return next(b for b in answer.json()["items"] if b["booking"] == booking)


def settled(node: Node, booking: str, token: str) -> dict[str, Any]:
    """The booking once the resource's node answered (anything but ``requested``)."""

    def answered() -> dict[str, Any] | None:
        b = my_booking(node, booking, token)
        return b if b["status"] != "requested" else None

    return eventually(answered, 30, what=f"an answer about booking {booking}")


def test_a_member_of_another_coop_books_a_machine_only_once_qualified(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart = cluster["coopaname"], cluster["smart"]
    laser = resource(smart, "Découpeuse laser 60 W")  # Coopaname's record, replicated to SMart
    assert (laser["origin"], laser["run_by"], laser["qualification"]) == (
        "coopaname",
        "Scic Point Carré",
        "laser-cutter",
    )
    token = smart.login()
    slot = {"start": next_weekday(2, 10), "end": next_weekday(2, 11), "note": "Découpe de contreplaqué 3 mm"}
    path = f"/api/v1/resources/coopaname/{laser['id']}/bookings"

    # not qualified: Coopaname refuses it, and says why
    asked = smart.api("POST", path, slot, token=token)
    assert asked.status == 202, asked.body
    refused = settled(smart, asked.json()["booking"], token)
    assert (refused["status"], refused["reason"]) == ("refused", "not_qualified")
    coopaname.wait_log("not_qualified")

    # Coopaname's staff record the induction for this SMart member; the same booking is then confirmed
    given = coopaname.api(
        "POST",
        "/api/v1/qualifications",
        {"qualification": "laser-cutter", "member_origin": "smart", "member": smart.member_id()},
        token=coopaname.login("operator"),
    )
    assert given.status == 201, given.body
    asked = smart.api("POST", path, slot, token=token)
    assert asked.status == 202, asked.body
    confirmed = settled(smart, asked.json()["booking"], token)
    assert confirmed["status"] == "confirmed", confirmed
    # the place sees the booking (with who booked) on its calendar; the member's e-mail never left SMart
    calendar = coopaname.api(
        "GET",
        f"/api/v1/resources/coopaname/{laser['id']}/bookings?start={slot['start']}&end={slot['end']}",
        token=coopaname.login("operator"),
    ).json()
    assert [(i["member_origin"], i["status"]) for i in calendar["items"]] == [("smart", "confirmed")]
    assert not coopaname.sql("SELECT 1 FROM bookings WHERE display_name LIKE '%@%'")
    # the booking never enters a log
    for node in (coopaname, smart, cluster["oxalis"]):
        assert not node.sql("SELECT 1 FROM entries WHERE type IN ('booking_request', 'booking_answer')")
    assert not cluster["oxalis"].sql("SELECT 1 FROM bookings")

    # a member of Coopaname itself: refused without the induction, then refused because the slot is taken
    clash = coopaname.api("POST", path, slot, token=coopaname.login())
    assert clash.status == 409 and "qualification" in clash.error_message(), clash.body
    given = coopaname.api(
        "POST",
        "/api/v1/qualifications",
        {"qualification": "laser-cutter", "member_origin": "coopaname", "member": coopaname.member_id()},
        token=coopaname.login("operator"),
    )
    assert given.status == 201, given.body
    clash = coopaname.api("POST", path, slot, token=coopaname.login())
    assert clash.status == 409 and "already booked" in clash.error_message(), clash.body


def test_two_coops_book_the_same_slot_at_once_and_one_wins(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    desk = resource(smart, "Poste de coworking 1")
    path = f"/api/v1/resources/coopaname/{desk['id']}/bookings"
    slot = {"start": next_weekday(3, 9), "end": next_weekday(3, 12)}
    racers = [(smart, smart.login()), (oxalis, oxalis.login()), (coopaname, coopaname.login())]
    barrier = threading.Barrier(len(racers))
    answers: dict[str, Any] = {}

    def race(node: Node, token: str) -> None:
        barrier.wait(10)
        answers[node.name] = node.api("POST", path, slot, token=token)

    threads = [threading.Thread(target=race, args=r) for r in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {name: a.status for name, a in answers.items() if name != "coopaname"} == {"smart": 202, "oxalis": 202}
    outcomes = {"coopaname": "confirmed" if answers["coopaname"].status == 201 else "refused"}
    assert answers["coopaname"].status in (201, 409), answers["coopaname"].body
    for node, token in racers[:2]:
        b = settled(node, answers[node.name].json()["booking"], token)
        outcomes[node.name] = b["status"]
        assert b["status"] == "confirmed" or b["reason"] == "conflict", b
    assert sorted(outcomes.values()) == ["confirmed", "refused", "refused"], outcomes
    # Coopaname's database holds one live booking of the slot, and its 12 quarter-hours once
    assert coopaname.sql("SELECT count(*) FROM bookings WHERE status = 'confirmed'") == [(1,)]
    assert coopaname.sql("SELECT count(*) FROM booking_slots") == [(12,)]


def test_feeds_import_with_paris_times_across_the_dst_change(cluster: Cluster) -> None:
    """A SMart member's private feed, fetched over HTTP from SMart's real process, holds their bookings of
    Coopaname's desk on both sides of the next DST change at the wall times booked; two parsers agree."""
    cluster.build(names=("coopaname", "smart"))
    cluster.start()
    cluster.wait_converged()
    smart = cluster["smart"]
    desk = resource(smart, "Poste de coworking 3")
    token = smart.login()
    now = dt.datetime.now(PARIS)
    change = next(  # the next day whose noon is at another UTC offset than the day before's
        d
        for d in (now.date() + dt.timedelta(days=i) for i in range(9, 400))
        if noon(d).utcoffset() != noon(d - DAY).utcoffset()
    )
    days = []
    for delta in (-7, 7):  # a weekday a week before and a week after the change
        d = change + dt.timedelta(days=delta)
        while d.isoweekday() > 5:
            d += dt.timedelta(days=1)
        days.append(d)
    booked = []
    for d in days:
        start = dt.datetime(d.year, d.month, d.day, 9, 30, tzinfo=PARIS)
        slot = {"start": int(start.timestamp() * 1000), "end": int((start + dt.timedelta(hours=2)).timestamp() * 1000)}
        asked = smart.api("POST", f"/api/v1/resources/coopaname/{desk['id']}/bookings", slot, token=token)
        assert asked.status == 202, asked.body
        assert settled(smart, asked.json()["booking"], token)["status"] == "confirmed"
        booked.append(start)
    assert booked[0].utcoffset() != booked[1].utcoffset()  # one in winter time, one in summer time (or back)

    made = smart.api("POST", "/api/v1/me/calendar-feed", token=token)
    assert made.status == 201, made.body
    url = made.json()["url"]
    assert url.startswith(smart.url + "/feeds/me/")
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/calendar")
        data = answer.read()
    cal = icalendar.Calendar.from_ical(data)
    assert [z.tz_name for z in cal.timezones] == ["Europe/Paris"]
    starts = sorted(moment(e) for e in cal.events)
    assert starts == booked
    assert [s.astimezone(PARIS).strftime("%H:%M") for s in starts] == ["09:30", "09:30"]
    assert len({s.astimezone(dt.UTC).hour for s in starts}) == 2  # the same wall time, two UTC hours
    expanded = recurring_ical_events.of(cal).between(days[0], days[1] + dt.timedelta(days=1))
    assert sorted(e.start for e in expanded) == booked
    # without the token, nothing; Coopaname's public feed of the desk says "booked", never who
    bad = smart.api("GET", "/feeds/me/" + "x" * 43 + ".ics")
    assert bad.status == 404
    with urllib.request.urlopen(cluster["coopaname"].url + f"/feeds/resources/coopaname/{desk['id']}.ics") as answer:
        public = icalendar.Calendar.from_ical(answer.read())
    assert {str(e["SUMMARY"]) for e in public.events} == {"Poste de coworking 3 – Réservé / Booked"}
