"""Shared spaces and machines: publishing resources, booking them from this coop and from another, conflicts
(also under concurrent requests), qualifications, approval, cancellation and opening hours across the DST change.

Node A (``coopaname``, the place) runs on the parametrised backend (SQLite and PostgreSQL); node B (``smart``) on
SQLite. Direct records travel as the outbox would carry them (decoded from the outbox rows, handed to the inbox).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from node.cli import main
from node.compose import Node, NodeOptions, open_node
from node.config import create_node_dir
from node.demo.spaces import point_carre_resources
from node.errors import Conflict, Forbidden, InvalidInput
from node.services.bookings import BookingRefused
from node.storage.booking_models import Booking, BookingSlot
from protocol import Record
from protocol.records import RESOURCE

from .test_moving import drain, login, peer_with, replicate

PARIS = ZoneInfo("Europe/Paris")
LASER = {
    "kind": "machine",
    "title": "Découpeuse laser",
    "venue": "Point Carré",
    "place": {"town": "Saint-Denis", "postcode": "93200"},
    "hours": [{"day": d, "opens": 9 * 60, "closes": 18 * 60} for d in range(1, 6)],
    "slot_minutes": 30,
    "max_minutes": 240,
    "qualification": "laser-cutter",
    "qualification_label": "Formation découpe laser",
    "prices": [{"audience": "network", "access": "paid", "amount_cents": 1500, "unit": "hour"}],
}
ROOM = {"kind": "space", "title": "Salle de réunion", "capacity": 12, "hours": LASER["hours"], "approval": True}


def paris(day: str, hour: int, minute: int = 0) -> int:
    """Milliseconds of a wall time in Paris (``day`` YYYY-MM-DD)."""
    d = dt.date.fromisoformat(day)
    return int(dt.datetime(d.year, d.month, d.day, hour, minute, tzinfo=PARIS).timestamp() * 1000)


@pytest.fixture
async def smart(tmp_path: Path, options: NodeOptions) -> AsyncIterator[Node]:
    config = create_node_dir(tmp_path / "smart", name="smart", url="http://127.0.0.1:8401", display_name="SMart")
    s = await open_node(config, options)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def peered(services: Node, smart: Node) -> tuple[Node, Node]:
    await peer_with(services, smart)
    await peer_with(smart, services)
    return services, smart


async def deliver(records: list[Record], to: Node) -> list[bool]:
    assert records and all(r.type in ("booking_request", "booking_answer") for r in records)
    return [await to.federation.inbox.deliver(r, to.clock()) for r in records]


async def exchange(frm: Node, to: Node) -> list[bool]:
    return await deliver(await drain(frm, to.config.name), to)


async def publish(s: Node, body: dict[str, Any]) -> str:
    staff = await login(s, f"staff-{len(body)}-{body['title'][:4]}@{s.config.name}.example".lower(), "operator")
    return str((await s.bookings.publish(staff, body))["id"])


async def live_slots(s: Node, resource_id: str) -> int:
    async with s.db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(BookingSlot).where(BookingSlot.resource_id == resource_id)
            )
            or 0
        )


# ------------------------------------------------------------------------------------------- publishing


async def test_publish_checks_the_resource(services: Node) -> None:
    staff = await login(services, "staff@coopaname.example", "advisor")
    member = await login(services, "m@coopaname.example")
    with pytest.raises(Forbidden):
        await services.bookings.publish(member, LASER)
    with pytest.raises(InvalidInput) as bad:
        await services.bookings.publish(staff, {**LASER, "hours": [{"day": 1, "opens": 600, "closes": 540}]})
    assert "hours[0]" in bad.value.fields
    with pytest.raises(InvalidInput) as bad:
        await services.bookings.publish(staff, {**LASER, "colour": "red"})
    assert bad.value.fields == {"colour": "unknown field"}
    with pytest.raises(InvalidInput) as bad:
        await services.bookings.publish(staff, {**LASER, "timezone": "Europe/Atlantis"})
    assert "timezone" in bad.value.fields
    published = await services.bookings.publish(staff, LASER)
    assert published["place"]["departement"] == "93"  # the gazetteer's town, never an address
    listed = await services.bookings.resources()
    assert [(r["origin"], r["title"], r["status"]) for r in listed] == [("coopaname", "Découpeuse laser", "open")]


# ------------------------------------------------------------------------------------- booking locally


async def test_local_booking_rules(services: Node) -> None:
    laser = await publish(services, {k: v for k, v in LASER.items() if k != "qualification"})
    lea, sam = await login(services, "lea@coopaname.example"), await login(services, "sam@coopaname.example")
    book = services.bookings.book
    first = await book(lea, "coopaname", laser, paris("2025-06-17", 10), paris("2025-06-17", 12))
    assert first["status"] == "confirmed" and await live_slots(services, laser) == 8
    with pytest.raises(BookingRefused) as refused:
        await book(sam, "coopaname", laser, paris("2025-06-17", 11, 30), paris("2025-06-17", 13))
    assert refused.value.reason == "conflict" and "already booked" in refused.value.message
    assert (await book(sam, "coopaname", laser, paris("2025-06-17", 12), paris("2025-06-17", 13)))["status"] == (
        "confirmed"  # one may start when the other ends
    )
    for start, end, reason in (
        (paris("2025-06-17", 8), paris("2025-06-17", 9), "outside_hours"),
        (paris("2025-06-17", 17), paris("2025-06-17", 19), "outside_hours"),
        (paris("2025-06-21", 10), paris("2025-06-21", 11), "outside_hours"),  # a Saturday
        (paris("2025-06-18", 10, 15), paris("2025-06-18", 11), "invalid"),  # off the 30-minute grid
        (paris("2025-06-18", 9), paris("2025-06-18", 14), "invalid"),  # longer than 4 hours
        (paris("2025-06-13", 10), paris("2025-06-13", 11), "invalid"),  # in the past
    ):
        with pytest.raises(BookingRefused) as refused:
            await book(sam, "coopaname", laser, start, end)
        assert refused.value.reason == reason, (start, reason)
    # cancelling gives the slot back
    assert (await services.bookings.cancel(lea, first["booking"]))["status"] == "cancelled"
    assert await live_slots(services, laser) == 4
    again = await book(sam, "coopaname", laser, paris("2025-06-17", 11, 30), paris("2025-06-17", 12))
    assert again["status"] == "confirmed"
    mine = await services.bookings.mine(sam)
    assert [b["status"] for b in mine] == ["confirmed", "confirmed"]
    assert mine[0]["resource_title"] == "Découpeuse laser"
    calendar = await services.bookings.calendar(lea, "coopaname", laser, paris("2025-06-16", 0), paris("2025-06-23", 0))
    assert [i.get("display_name") for i in calendar["items"]] == [None, None]  # others' names stay hidden


async def test_opening_hours_follow_paris_time_across_dst(services: Node) -> None:
    laser = await publish(services, {k: v for k, v in LASER.items() if k != "qualification"})
    lea = await login(services, "lea@coopaname.example")
    # 9:00 in Paris is 08:00 UTC in winter (after 2025-10-26) and 07:00 UTC in summer
    winter = await services.bookings.book(lea, "coopaname", laser, paris("2025-10-27", 9), paris("2025-10-27", 10))
    summer = await services.bookings.book(lea, "coopaname", laser, paris("2025-10-24", 9), paris("2025-10-24", 10))
    assert dt.datetime.fromtimestamp(winter["start"] / 1000, dt.UTC).hour == 8
    assert dt.datetime.fromtimestamp(summer["start"] / 1000, dt.UTC).hour == 7
    with pytest.raises(BookingRefused) as refused:  # 08:00 UTC on a summer day is 10:00 Paris: fine; 7:00 is not
        await services.bookings.book(lea, "coopaname", laser, paris("2025-10-24", 8), paris("2025-10-24", 9))
    assert refused.value.reason == "outside_hours"


async def test_qualification_and_approval(services: Node) -> None:
    laser, room = await publish(services, LASER), await publish(services, ROOM)
    staff = await login(services, "fabmanager@coopaname.example", "advisor")
    lea = await login(services, "lea@coopaname.example")
    slot = (paris("2025-06-17", 10), paris("2025-06-17", 11))
    with pytest.raises(BookingRefused) as refused:
        await services.bookings.book(lea, "coopaname", laser, *slot)
    assert refused.value.reason == "not_qualified"
    with pytest.raises(Forbidden):
        await services.bookings.qualify(lea, "laser-cutter", "coopaname", str(lea.member_id), "Léa")
    await services.bookings.qualify(staff, "laser-cutter", "coopaname", str(lea.member_id), "Léa")
    assert [q["display_name"] for q in await services.bookings.qualifications(staff)] == ["Léa"]
    assert (await services.bookings.book(lea, "coopaname", laser, *slot))["status"] == "confirmed"

    pending = await services.bookings.book(lea, "coopaname", room, *slot)
    assert pending["status"] == "pending" and await live_slots(services, room) == 4  # the slot is held
    assert [p["booking"] for p in await services.bookings.pending(staff)] == [pending["booking"]]
    approved = await services.bookings.decide(staff, "coopaname", pending["booking"], "approve")
    assert approved["status"] == "confirmed"
    with pytest.raises(Conflict):
        await services.bookings.decide(staff, "coopaname", pending["booking"], "decline")
    cancelled = await services.bookings.decide(staff, "coopaname", pending["booking"], "cancel")
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "by_staff")
    assert await live_slots(services, room) == 0


# ------------------------------------------------------------------------------------ across two coops


async def test_member_of_another_coop_books(peered: tuple[Node, Node]) -> None:
    a, b = peered
    laser = await publish(a, LASER)
    await replicate(a, b)  # SMart lists Coopaname's resources from the replicated records
    assert [r["title"] for r in await b.bookings.resources()] == ["Découpeuse laser"]
    zoe = await login(b, "zoe@smart.example")
    slot = (paris("2025-06-17", 10), paris("2025-06-17", 11))

    # not qualified: refused there, with the reason
    asked = await b.bookings.book(zoe, "coopaname", laser, *slot, note="découpe de contreplaqué")
    assert asked["status"] == "requested"
    requests = await drain(b, "coopaname")
    assert [r.type for r in requests] == ["booking_request"]
    assert "zoe@smart.example" not in json.dumps(requests[0].body)
    assert await deliver(requests, a) == [True]
    assert await exchange(a, b) == [True]
    mine = await b.bookings.mine(zoe)
    assert [(m["status"], m["reason"]) for m in mine] == [("refused", "not_qualified")]

    # qualified by Coopaname's staff: confirmed
    staff = await login(a, "fab@coopaname.example", "advisor")
    await a.bookings.qualify(staff, "laser-cutter", "smart", str(zoe.member_id), "Zoé")
    asked = await b.bookings.book(zoe, "coopaname", laser, *slot)
    assert await exchange(b, a) == [True]
    answers = await drain(a, "smart")
    assert await deliver(answers, b) == [True]
    assert await deliver(answers, b) == [False]  # the same answer again changes nothing
    statuses = {m["booking"]: m["status"] for m in await b.bookings.mine(zoe)}
    assert statuses[asked["booking"]] == "confirmed"
    calendar = await a.bookings.calendar(staff, "coopaname", laser, slot[0], slot[1])
    # no network-visible name in the profile: the coop's name stands in
    assert [(i["member_origin"], i["display_name"]) for i in calendar["items"]] == [("smart", "SMart member")]

    # cancelling frees the slot on Coopaname's node
    await b.bookings.cancel(zoe, asked["booking"])
    assert await exchange(b, a) == [True]
    assert await live_slots(a, laser) == 0
    assert await exchange(a, b) == [True]
    statuses = {m["booking"]: m["status"] for m in await b.bookings.mine(zoe)}
    assert statuses[asked["booking"]] == "cancelled"


async def test_concurrent_requests_for_one_slot_one_wins(peered: tuple[Node, Node]) -> None:
    a, b = peered
    laser = await publish(a, {k: v for k, v in LASER.items() if k != "qualification"})
    await replicate(a, b)
    slot = (paris("2025-06-17", 10), paris("2025-06-17", 11))
    remote = [await login(b, f"r{i}@smart.example") for i in range(4)]
    for viewer in remote:
        await b.bookings.book(viewer, "coopaname", laser, *slot)
    requests = await drain(b, "coopaname")
    local = [await login(a, f"l{i}@coopaname.example") for i in range(4)]

    async def local_book(viewer: Any) -> str:
        try:
            return str((await a.bookings.book(viewer, "coopaname", laser, *slot))["status"])
        except BookingRefused as exc:
            return exc.reason

    results = await asyncio.gather(
        *(a.federation.inbox.deliver(r, a.clock()) for r in requests), *(local_book(v) for v in local)
    )
    async with a.db.read() as session:
        held = list(await session.scalars(select(Booking).where(Booking.status.in_(("pending", "confirmed")))))
    assert len(held) == 1, results
    assert await live_slots(a, laser) == 4


async def test_the_database_refuses_overlapping_slots(services: Node) -> None:
    """The slot key holds even for a writer that skipped the service's check."""
    laser = await publish(services, {k: v for k, v in LASER.items() if k != "qualification"})
    lea = await login(services, "lea@coopaname.example")
    booked = await services.bookings.book(lea, "coopaname", laser, paris("2025-06-17", 10), paris("2025-06-17", 11))
    async with services.db.read() as session:
        booking_row = await session.scalar(select(Booking.id).where(Booking.booking_id == booked["booking"]))
    assert booking_row is not None
    with pytest.raises(Conflict):
        async with services.db.write() as session:
            session.add(BookingSlot(resource_id=laser, slot_start=paris("2025-06-17", 10, 30), booking=booking_row))


# ---------------------------------------------------------------------------------------------- the CLI


def test_publish_resources_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node_dir = str(create_node_dir(tmp_path / "n", name="pointcarre", url="http://127.0.0.1:8499").directory)
    items = point_carre_resources()
    items[0]["hours"] = [{"day": 1, "opens": 600, "closes": 540}]
    path = tmp_path / "resources.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    assert main(["resources", "publish", node_dir, str(path)]) == 3  # one refused, the others published
    out, err = capsys.readouterr()
    assert "item 1: refused: hours[0]: closes before it opens" in err
    assert out.count("published") == len(items) - 1
    path.write_text("{not json", encoding="utf-8")
    assert main(["resources", "publish", node_dir, str(path)]) == 1
    assert main(["resources", "list", node_dir]) == 0
    listed = capsys.readouterr().out
    assert "Découpeuse laser 60 W (needs laser-cutter)" in listed and "Poste de coworking 1" not in listed


def test_demo_publishes_point_carre() -> None:
    """Desks, a meeting room, the laser cutter, two 3D printers and the CNC router, each fitting the schema."""
    items = point_carre_resources()
    for item in items:
        RESOURCE.validate(item)
    titles = " ".join(i["title"] for i in items)
    for word in ("coworking", "réunion", "laser", "Imprimante 3D", "Fraiseuse"):
        assert word in titles
    assert {i["qualification"] for i in items if i["kind"] == "machine"} == {"laser-cutter", "3d-printer", "cnc-router"}


async def test_a_request_received_twice_is_not_decided_twice(peered: tuple[Node, Node]) -> None:
    a, b = peered
    laser = await publish(a, LASER)
    await replicate(a, b)
    zoe = await login(b, "zoe@smart.example")
    await b.bookings.book(zoe, "coopaname", laser, paris("2025-06-17", 10), paris("2025-06-17", 11))
    requests = await drain(b, "coopaname")
    assert await deliver(requests, a) == [True]
    first = await drain(a, "smart")
    staff = await login(a, "fab@coopaname.example", "advisor")
    await a.bookings.qualify(staff, "laser-cutter", "smart", str(zoe.member_id), "Zoé")
    # the very same request again (a retry): the refusal stands, the qualification given since changes nothing
    assert await deliver(requests, a) == [True]
    again = await drain(a, "smart")
    assert [(r.body or {})["status"] for r in first + again] == ["refused", "refused"]
    assert await live_slots(a, laser) == 0


async def test_erasing_an_account_erases_its_bookings(peered: tuple[Node, Node]) -> None:
    """A booking names its member's account without a foreign key: erasing the account must take it (and its
    slots) along, or a later account given the same id would find the erased member's bookings and feed."""
    a, b = peered
    laser = await publish(a, {k: v for k, v in LASER.items() if k != "qualification"})
    await replicate(a, b)
    lea = await login(a, "lea@coopaname.example")
    await a.bookings.book(lea, "coopaname", laser, paris("2025-06-17", 10), paris("2025-06-17", 11))
    zoe = await login(b, "zoe@smart.example")
    await b.bookings.book(zoe, "coopaname", laser, paris("2025-06-18", 10), paris("2025-06-18", 11))
    await a.directory.erase_account(int(str(lea.account_id)))
    await b.directory.erase_account(int(str(zoe.account_id)))
    for node in (a, b):
        async with node.db.read() as session:
            assert list(await session.scalars(select(Booking).where(Booking.member_origin == node.config.name))) == []
    assert await live_slots(a, laser) == 0
