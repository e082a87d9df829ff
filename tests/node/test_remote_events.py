"""Registering for another coop's event: the signed request, the organiser's answer, seats shared between local
and remote registrations under concurrency, duplicates, cancellation and refused senders.

Node A (``coopaname``) runs on the parametrised backend (SQLite and PostgreSQL); node B (``smart``) on SQLite.
Records travel as the outbox would carry them (decoded from the outbox rows and handed to the inbox by hand). The
concurrency test makes A the organiser, so seat counting under real row locks runs on PostgreSQL too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from federation.errors import RecordRefusedError
from node.compose import Node, NodeOptions, open_node
from node.config import create_node_dir
from node.errors import Conflict, Forbidden, NotFound
from node.http.events import ROUTES as REMOTE_EVENT_ROUTES
from node.services.things import EVENTS
from node.storage.federation_models import InboxMessage
from node.viewer import Viewer
from protocol import Record, SigningKey, check_body, sign_direct

from .test_moving import drain, login, peer_with, replicate

EVENT = {"kind": "workshop", "title": "Atelier comptabilité coopérative", "start": 1_760_000_000_000, "seats": 2}


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
    """Hand records to ``to``'s inbox, which routes them by type (as the federation does once it verified them)."""
    assert records and all(r.type in ("event_registration", "event_registration_answer") for r in records)
    return [await to.federation.inbox.deliver(r, to.clock()) for r in records]


async def refusal(record: Record, to: Node) -> str:
    with pytest.raises(RecordRefusedError) as info:
        await to.federation.inbox.deliver(record, to.clock())
    return info.value.reason


async def exchange(frm: Node, to: Node) -> list[bool]:
    """Carry every message ``frm`` queued for ``to`` and deliver it there."""
    return await deliver(await drain(frm, to.config.name), to)


async def organise(s: Node, seats: int | None = 2, organiser: Viewer | None = None, **extra: Any) -> tuple[Viewer, str]:
    organiser = organiser or await login(s, f"orga@{s.config.name}.example")
    event = await s.things.create(EVENTS, organiser, {**EVENT, "seats": seats, **extra})
    return organiser, str(event["id"])


async def inbox(s: Node, account_id: int | None) -> list[InboxMessage]:
    async with s.db.read() as session:
        return list(await session.scalars(select(InboxMessage).where(InboxMessage.account_id == account_id)))


# ------------------------------------------------------------------------------------------------- the path


async def test_register_confirm_cancel(peered: tuple[Node, Node]) -> None:
    a, b = peered
    organiser, event_id = await organise(b)
    await replicate(b, a)  # A lists SMart's events from the replicated records
    lea = await login(a, "lea@coopaname.example")
    events_a, events_b = a.remote_events, b.remote_events

    # 1. On A: pending, one signed request for SMart, nothing private in it.
    pending = await events_a.register(lea, "smart", event_id)
    assert (pending["status"], pending["event_origin"], pending["member"]) == ("pending", "smart", lea.member_id)
    with pytest.raises(Conflict):
        await events_a.register(lea, "smart", event_id)  # one registration per member and event
    requests = await drain(a, "smart")
    assert len(requests) == 1 and requests[0].type == "event_registration"
    payload = requests[0].body or {}
    assert set(payload) == {"to_node", "action", "event", "member", "name", "at"} and payload["action"] == "register"
    assert "lea@coopaname.example" not in json.dumps(payload)  # nothing private travels

    # 2. On B: a seat taken, counted in the event's view, the participant shown to the organiser.
    assert await deliver(requests, b) == [True]
    view = await b.things.get(EVENTS, organiser, event_id)
    assert (view["registered"], view["seats_left"]) == (1, 1)
    listed = await events_b.participants(organiser, event_id)
    assert [(p["origin"], p["member"]) for p in listed["items"]] == [("coopaname", lea.member_id)]
    with pytest.raises(Forbidden):
        await events_b.participants(await login(b, "autre@smart.example"), event_id)
    operator = await login(b, "ops@smart.example", "operator")
    assert len((await events_b.participants(operator, event_id))["items"]) == 1

    # 3. On A: the answer confirms and leaves a note in the member's inbox, once.
    answers = await drain(b, "coopaname")
    assert [(r.type, (r.body or {})["request"]) for r in answers] == [("event_registration_answer", requests[0].id)]
    assert await deliver(answers, a) == [True]
    assert await deliver(answers, a) == [False]
    assert [r["status"] for r in await events_a.mine(lea)] == ["confirmed"]
    notes = await inbox(a, lea.account_id)
    assert len(notes) == 1 and "Registration confirmed" in notes[0].subject and str(EVENT["title"]) in notes[0].text

    # 4. Cancelling gives the seat back on B; registering again takes it again.
    assert (await events_a.cancel(lea, "smart", event_id))["status"] == "cancelled"
    with pytest.raises(NotFound):
        await events_a.cancel(lea, "smart", event_id)
    assert await exchange(a, b) == [True]
    assert (await b.things.get(EVENTS, organiser, event_id))["registered"] == 0
    assert (await events_b.participants(organiser, event_id))["items"] == []
    assert (await events_a.register(lea, "smart", event_id))["status"] == "pending"
    assert await exchange(a, b) == [True]
    assert await exchange(b, a) == [True]
    assert [r["status"] for r in await events_a.mine(lea)] == ["confirmed"]


async def test_duplicates_and_stale_messages_change_nothing(peered: tuple[Node, Node]) -> None:
    a, b = peered
    organiser, event_id = await organise(b)
    await replicate(b, a)
    lea = await login(a, "lea@coopaname.example")
    events_a = a.remote_events
    await events_a.register(lea, "smart", event_id)
    request = await drain(a, "smart")
    assert await deliver(request, b) == [True]
    assert await deliver(request, b) == [True]  # answered again (the first answer may be lost): same seat
    assert (await b.things.get(EVENTS, organiser, event_id))["registered"] == 1
    first, again = await drain(b, "coopaname")
    assert await deliver([first], a) == [True] and await deliver([again], a) == [False]
    assert len(await inbox(a, lea.account_id)) == 1

    # a late copy of the old request after a cancellation does not take the seat back
    await events_a.cancel(lea, "smart", event_id)
    assert await exchange(a, b) == [True]
    assert await deliver(request, b) == [False]
    assert (await b.things.get(EVENTS, organiser, event_id))["registered"] == 0
    # and an answer to an earlier request does not undo the cancellation on A
    assert await deliver([first], a) == [False]
    assert [r["status"] for r in await events_a.mine(lea)] == ["cancelled"]


async def test_refusals_full_closed_unknown(peered: tuple[Node, Node]) -> None:
    a, b = peered
    organiser, event_id = await organise(b, seats=1)
    _, closed_id = await organise(b, organiser=organiser, registration="closed")
    await replicate(b, a)
    lea, tom = await login(a, "lea@coopaname.example"), await login(a, "tom@coopaname.example")
    events_a = a.remote_events
    await b.things.register(await login(b, "local@smart.example"), event_id)  # the only seat goes locally
    await events_a.register(lea, "smart", event_id)
    with pytest.raises(Conflict):
        await events_a.register(lea, "smart", closed_id)  # A knows it is closed from the replicated record
    with pytest.raises(NotFound):
        await events_a.register(tom, "smart", "01JUNKNOWNEVENT0000000000")
    assert await exchange(a, b) == [True]
    assert await exchange(b, a) == [True]
    assert [r["status"] for r in await events_a.mine(lea)] == ["full"]
    assert "Event full" in (await inbox(a, lea.account_id))[0].subject
    assert (await b.things.get(EVENTS, organiser, event_id))["registered"] == 1

    # B decides, whatever A believed: an event closed or deleted since A replicated it
    await events_a.register(tom, "smart", event_id)
    await b.things.update(EVENTS, organiser, event_id, {"registration": "closed"})
    assert await exchange(a, b) == [True] and await exchange(b, a) == [True]
    assert [r["status"] for r in await events_a.mine(tom)] == ["closed"]
    await b.things.update(EVENTS, organiser, event_id, {"registration": "open"})
    await b.things.delete(EVENTS, organiser, event_id)
    await events_a.register(tom, "smart", event_id)  # A has not replicated the deletion yet
    assert await exchange(a, b) == [True] and await exchange(b, a) == [True]
    assert [r["status"] for r in await events_a.mine(tom)] == ["unknown"]


async def test_forged_and_unknown_senders_are_refused(
    peered: tuple[Node, Node], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = peered
    organiser, event_id = await organise(b)
    await replicate(b, a)
    lea = await login(a, "lea@coopaname.example")
    await a.remote_events.register(lea, "smart", event_id)
    payload = {"action": "register", "event": event_id, "member": lea.member_id, "name": "X", "at": 1}

    def signed(origin: str, type_: str, body: dict[str, Any]) -> Record:
        entry = sign_direct(SigningKey.generate(), type=type_, origin=origin, id="01JFORGED0", now=1, body=body)
        return Record(entry, check_body(entry))

    # a node that is no peer of SMart's asks for a seat: refused, no seat
    request = signed("intrus", "event_registration", {**payload, "to_node": "smart"})
    assert "intrus is not a direct member peer" in await refusal(request, b)
    assert (await b.things.get(EVENTS, organiser, event_id))["registered"] == 0
    # a node that does not organise the event answers for it (no peer, or this node itself): refused
    forged = {"to_node": "coopaname", "event": event_id, "member": lea.member_id, "request": "x", "status": "confirmed"}
    assert "intrus is not a direct member peer" in await refusal(
        signed("intrus", "event_registration_answer", forged), a
    )
    assert "not a direct member peer" in await refusal(signed("coopaname", "event_registration_answer", forged), a)
    other_event = {**forged, "event": "e-never-asked"}
    assert "no registration" in await refusal(signed("smart", "event_registration_answer", other_event), a)
    assert [r["status"] for r in await a.remote_events.mine(lea)] == ["pending"]
    # SMart answers a request it was never sent (another request id): ignored, the registration stays pending
    assert await deliver([signed("smart", "event_registration_answer", forged)], a) == [False]
    assert [r["status"] for r in await a.remote_events.mine(lea)] == ["pending"]


async def test_seats_hold_across_local_and_remote_under_concurrency(
    peered: tuple[Node, Node],
) -> None:
    """The organiser is A (the parametrised backend): local members and SMart's members race for 3 seats."""
    a, b = peered
    organiser, event_id = await organise(a, seats=3)
    await replicate(a, b)
    events_b = b.remote_events
    remote = [await login(b, f"r{i}@smart.example") for i in range(4)]
    for viewer in remote:
        await events_b.register(viewer, "coopaname", event_id)
    requests = await drain(b, "coopaname")
    local = [await login(a, f"l{i}@coopaname.example") for i in range(4)]

    async def local_register(viewer: Viewer) -> bool:
        try:
            await a.things.register(viewer, event_id)
        except Conflict:
            return False
        return True

    await asyncio.gather(*(a.remote_events.receive_request(r) for r in requests), *(local_register(v) for v in local))
    view = await a.things.get(EVENTS, organiser, event_id)
    listed = await a.remote_events.participants(organiser, event_id)
    assert view["registered"] == len(listed["items"]) == 3 and view["seats_left"] == 0
    assert await exchange(a, b) == [True] * 4
    statuses = sorted([r["status"] for v in remote for r in await events_b.mine(v)])
    confirmed_remote = sum(1 for p in listed["items"] if p["origin"] == "smart")
    assert statuses.count("confirmed") == confirmed_remote and statuses.count("full") == 4 - confirmed_remote


def test_routes_are_documented() -> None:
    assert {r.path for r in REMOTE_EVENT_ROUTES} >= {"/api/v1/events/{origin}/{id}/register"}
    assert all(r.summary and r.summary != "None" for r in REMOTE_EVENT_ROUTES)


async def test_a_registration_sends_only_the_name_the_member_shows_the_network(peered: tuple[Node, Node]) -> None:
    """Issue 13.3: a coop-only name stays home; the organiser sees the coop's member, nothing more."""
    a, b = peered
    organiser, event_id = await organise(b)
    await replicate(b, a)
    lea = await login(a, "lea@coopaname.example")
    await a.directory.update_my_profile(
        lea, {"fields": {"display_name": "Léa Moulin-Secret"}, "visibility": {"display_name": "coop"}}, replace=False
    )
    await a.remote_events.register(lea, "smart", event_id)
    [request] = await drain(a, "smart")
    assert (request.body or {})["name"] == "Coopaname member"
    assert "Moulin-Secret" not in json.dumps(request.body)
    await deliver([request], b)
    [participant] = (await b.remote_events.participants(organiser, event_id))["items"]
    assert "Moulin-Secret" not in json.dumps(participant)

    await a.remote_events.cancel(lea, "smart", event_id)
    await exchange(a, b)
    await a.directory.update_my_profile(lea, {"visibility": {"display_name": "network"}}, replace=False)
    await a.remote_events.register(lea, "smart", event_id)
    [again] = await drain(a, "smart")
    assert (again.body or {})["name"] == "Léa Moulin-Secret"  # shown to the network: the organiser may read it
