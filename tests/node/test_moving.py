"""Members moving to another coop: the signed request and acceptance, the profile, offers and mentoring that
follow, the forwarding tombstones the old node keeps, and the refusals.

Node A (``coopaname``) is a real application (the moving API and the pages) on the parametrised backend (SQLite
and PostgreSQL); node B (``smart``) and node C (``oxalis``, a bystander) are services on SQLite. Move records travel
between A and B as the typed direct records the outbox would deliver (decoded from the outbox rows and handed to
the receiving node's inbox by hand); C takes in A's and B's logs as replication would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from federation.errors import RecordRefusedError
from federation.ports import Peer, PeerKey
from node.compose import Node, NodeOptions, open_node
from node.config import create_node_dir
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.federation_adapter.store import NodeFederationStore
from node.http.moves import ROUTES as MOVING_ROUTES
from node.services.moving import moved_to, unpack_envelopes
from node.services.things import KINDS
from node.storage.models import Account, LogEntry, LogHead, OutboxItem, RecordState
from node.storage.moving_models import MemberMove
from node.viewer import Viewer
from protocol import MAX_DIRECT_ENVELOPE_BYTES, Record, canonical, check_body, decode_entry, sign_direct

from .conftest import PASSWORD, Api, search_items

PROFILE: dict[str, dict[str, Any]] = {
    "fields": {
        "display_name": "Léa Moulin",
        "bio": "Relieuse d'art, ateliers de reliure japonaise.",
        "trades": ["G1602"],
        "skills": ["reliure", "ocelotl"],
        "phone": "+33 6 12 34 56 78",
    },
    "visibility": {"display_name": "public", "trades": "network", "skills": "network", "bio": "coop", "phone": "coop"},
}
OFFER = {"purpose": "offer", "title": "Reliure de carnets ocelotl", "visibility": "public"}
MENTORING = {"kind": "offer", "topics": ["reliure"], "note": "Deux heures par mois"}


# ------------------------------------------------------------------------------------------------ fixtures


async def _node(tmp_path: Path, options: NodeOptions, name: str, display: str, port: int) -> Node:
    config = create_node_dir(tmp_path / name, name=name, url=f"http://127.0.0.1:{port}", display_name=display)
    return await open_node(config, options)


@pytest.fixture
async def other(tmp_path: Path, options: NodeOptions) -> AsyncIterator[Node]:
    """Node B: SMart, the coop the member moves to, on SQLite."""
    s = await _node(tmp_path, options, "smart", "SMart", 8401)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def bystander(tmp_path: Path, options: NodeOptions) -> AsyncIterator[Node]:
    """Node C: Oxalis, which only replicates A's and B's logs."""
    s = await _node(tmp_path, options, "oxalis", "Oxalis", 8402)
    try:
        yield s
    finally:
        await s.close()


async def peer_with(s: Node, *others: Node) -> None:
    store = NodeFederationStore(s.db, s.config.name, s.clock, s.search_documents)
    for o in others:
        await store.save_peer(
            Peer(
                name=o.config.name,
                url=o.config.url,
                display_name=o.config.display_name,
                keys=[PeerKey(o.key.public_bytes)],
            )
        )


async def login(s: Node, email: str, role: str = "member") -> Viewer:
    await s.accounts.add_user(email=email, role=role, password=PASSWORD)
    viewer = await s.accounts.authenticate((await s.accounts.login(email, PASSWORD, "test")).token)
    assert viewer is not None
    return viewer


async def drain(s: Node, to: str) -> list[Record]:
    """The direct records queued for node ``to``, as that node receives them (and empties the queue)."""
    async with s.db.write() as session:
        rows = (await session.scalars(select(OutboxItem).where(OutboxItem.peer == to).order_by(OutboxItem.id))).all()
        await session.execute(delete(OutboxItem).where(OutboxItem.peer == to))
    records = []
    for row in rows:
        if row.kind != "direct":
            continue  # log entries (A's tombstones) go by replication
        assert row.payload is not None
        entry = decode_entry(row.payload, max_bytes=MAX_DIRECT_ENVELOPE_BYTES)
        assert entry.header.seq == 1 and entry.header.prev is None  # a direct record, never part of a log
        records.append(Record(entry, check_body(entry)))
    return records


async def deliver(records: list[Record], to: Node) -> list[bool]:
    """Hand records to ``to``'s inbox, which routes them by type (as the federation does once it verified them)."""
    assert all(r.type in ("member_move", "member_move_acceptance") for r in records)
    return [await to.federation.inbox.deliver(r, to.clock()) for r in records]


async def refusal(record: Record, to: Node) -> str:
    """The reason ``to`` refuses ``record`` for good (the sender would be told, and stop retrying)."""
    with pytest.raises(RecordRefusedError) as info:
        await to.federation.inbox.deliver(record, to.clock())
    return info.value.reason


async def replicate(origin: Node, into: Node) -> None:
    """Copy ``origin``'s whole log into ``into`` (what pull replication does, minus the network)."""
    store = NodeFederationStore(origin.db, origin.config.name, origin.clock, origin.search_documents)
    blobs = await store.read(origin.config.name, 0, 100_000)
    records = [Record(e, check_body(e)) for e in map(decode_entry, blobs)]
    await NodeFederationStore(into.db, into.config.name, into.clock, into.search_documents).store_run(
        records, into.clock()
    )


async def tombstone(s: Node, origin: str, record_id: str) -> dict[str, Any]:
    async with s.db.read() as session:
        state = await session.get(RecordState, (origin, record_id))
        assert state is not None and state.deleted, (origin, record_id)
        raw = await session.scalar(select(LogEntry.body).where(LogEntry.origin == origin, LogEntry.seq == state.seq))
    assert raw is not None
    body = canonical.decode(raw)
    assert isinstance(body, dict)
    return body


async def head(s: Node) -> int:
    async with s.db.read() as session:
        return int(await session.scalar(select(LogHead.seq).where(LogHead.origin == s.config.name)) or 0)


async def member_with_things(api: Api) -> dict[str, str]:
    """A member of A with a profile, an offer, a mentoring offer and an event (which does not move)."""
    member_id = await api.user("lea@coopaname.example")
    who = "lea@coopaname.example"
    await api.call("PUT", "/api/v1/me/profile", who, json=PROFILE, expect=200)
    offer = await api.call("POST", "/api/v1/offers", who, json=OFFER, expect=201)
    mentoring = await api.call("POST", "/api/v1/mentoring", who, json=MENTORING, expect=201)
    event = await api.call(
        "POST", "/api/v1/events", who, json={"kind": "workshop", "title": "Atelier", "start": 1_760_000_000_000}
    )
    return {"member": member_id, "offer": offer["id"], "mentoring": mentoring["id"], "event": event["id"]}


# ------------------------------------------------------------------------------------------------- the path


async def test_a_member_moves_with_profile_offers_and_mentoring(api: Api, other: Node, bystander: Node) -> None:
    a = api.services
    await peer_with(a, other, bystander)
    await peer_with(other, a)
    ids = await member_with_things(api)
    who = "lea@coopaname.example"

    # 1. On A the member asks; the signed request goes to SMart only.
    move = await api.call("POST", "/api/v1/me/move", who, json={"to_node": "smart"}, expect=202)
    assert (move["status"], move["to_node"], move["member"]) == ("requested", "smart", ids["member"])
    await api.call("POST", "/api/v1/me/move", who, json={"to_node": "smart"}, expect=409)  # one at a time
    assert await drain(a, "oxalis") == []
    requests = await drain(a, "smart")
    assert len(requests) == 1 and requests[0].origin == "coopaname" and requests[0].type == "member_move"
    body: dict[str, Any] = dict(requests[0].body or {})
    assert (body["to_node"], body["member"], body["email"]) == ("smart", ids["member"], who)
    assert "phone" not in body["profile"] and body["visibility"]["display_name"] == "public"

    # 2. On B it waits for an operator.
    assert await deliver(requests, other) == [True]
    assert await deliver(requests, other) == [False]  # the same request again changes nothing
    operator_b = await login(other, "operateur@smart.example", "operator")
    member_b = await login(other, "membre@smart.example")
    moving_b = other.moving
    pending = await moving_b.incoming(operator_b)
    assert [(m["origin"], m["id"], m["email"]) for m in pending] == [("coopaname", move["id"], "lea@coopaname.example")]
    assert pending[0]["offers"] == [OFFER["title"]] and pending[0]["mentoring"] == 1
    assert pending[0]["signed"]["request"][0]["origin"] == "coopaname"
    with pytest.raises(Forbidden):
        await moving_b.incoming(member_b)
    with pytest.raises(Forbidden):
        await moving_b.accept(member_b, "coopaname", move["id"])
    with pytest.raises(NotFound):
        await moving_b.accept(operator_b, "coopaname", "nosuchmove")

    accepted = await moving_b.accept(operator_b, "coopaname", move["id"])
    assert accepted["status"] == "accepted" and accepted["invitation_token"]
    new = accepted["records"]
    assert set(new) == {ids["member"], ids["offer"], ids["mentoring"]}  # the event stays (and goes)
    assert accepted["new_member"] == new[ids["member"]]
    with pytest.raises(Conflict):
        await moving_b.accept(operator_b, "coopaname", move["id"])

    # the member is on B now, with the same visibilities, published under B's origin
    login_b = await other.accounts.accept_invitation(accepted["invitation_token"], PASSWORD)
    lea_b = await other.accounts.authenticate(login_b.token)
    assert lea_b is not None and lea_b.member_id == new[ids["member"]]
    mine = await other.directory.my_profile(lea_b)
    moved = {k: v for k, v in PROFILE["fields"].items() if k != "phone"}  # the phone never leaves its node
    assert mine["fields"] == {**moved, "trades": mine["fields"]["trades"]}
    assert mine["fields"]["trades"][0]["rome"] == "G1602"
    assert {k: mine["visibility"][k] for k in PROFILE["visibility"] if k != "phone"} == {
        k: v for k, v in PROFILE["visibility"].items() if k != "phone"
    }
    async with other.db.read() as session:
        profile = await session.get(RecordState, ("smart", new[ids["member"]]))
        offer = await session.get(RecordState, ("smart", new[ids["offer"]]))
        mentoring = await session.get(RecordState, ("smart", new[ids["mentoring"]]))
    assert profile is not None and profile.body is not None
    assert profile.body["public"] == ["display_name"] and "phone" not in profile.body and "bio" not in profile.body
    assert offer is not None and offer.body is not None and offer.body["title"] == OFFER["title"]
    assert offer.body["author"] == new[ids["member"]]
    assert mentoring is not None and mentoring.body is not None and mentoring.body["member"] == new[ids["member"]]
    offer_b = await other.things.get(KINDS["offers"], lea_b, new[ids["offer"]])
    assert offer_b["visibility"] == "public" and offer_b["mine"]

    # 3. The acceptance goes back to A: forwarding tombstones, then the member's data erased there.
    acceptances = await drain(other, "coopaname")
    assert len(acceptances) == 1 and acceptances[0].type == "member_move_acceptance"
    accepted_body: dict[str, Any] = dict(acceptances[0].body or {})
    assert accepted_body["records"][0] == {"old": ids["member"], "new": new[ids["member"]]}
    assert await deliver(acceptances, a) == [True]
    for old, record_type in ((ids["member"], "profile"), (ids["offer"], "offer"), (ids["mentoring"], "mentoring")):
        assert await tombstone(a, "coopaname", old) == {
            "forward": f"smart/{new[old]}",
            "reason": "moved",
            "target_type": record_type,
        }
        assert await moved_to(a.db, "coopaname", old) == f"smart/{new[old]}"
    assert (await tombstone(a, "coopaname", ids["event"]))["reason"] == "erased"
    assert await moved_to(a.db, "coopaname", ids["event"]) is None
    async with a.db.read() as session:
        assert await session.scalar(select(Account.id).where(Account.email == "lea@coopaname.example")) is None
        row = await session.scalar(select(MemberMove).where(MemberMove.move_id == move["id"]))
    assert row is not None and row.status == "done" and row.account_id is None
    # both signed records kept on A: the request without its bodies (the data is gone), the acceptance whole
    assert [e.body for e in unpack_envelopes(row.request)] == [None]
    assert [(e.header.origin, e.header.type) for e in unpack_envelopes(row.acceptance)] == [
        ("smart", "member_move_acceptance")
    ]

    # a duplicated acceptance changes nothing
    seq = await head(a)
    assert await deliver(acceptances, a) == [False]
    assert await head(a) == seq

    # 4. Every node follows the forward: A itself, and Oxalis once it replicated both logs.
    await replicate(a, bystander)
    await replicate(other, bystander)
    assert await moved_to(bystander.db, "coopaname", ids["member"]) == f"smart/{new[ids['member']]}"
    reader = await login(bystander, "lecteur@oxalis.example")
    hits = await search_items(bystander, reader, "ocelotl")
    assert {(h["kind"], h["origin"], h["id"]) for h in hits} == {
        ("profile", "smart", new[ids["member"]]),
        ("offer", "smart", new[ids["offer"]]),
    }
    page = await api.client.get(f"/members/coopaname/{ids['member']}", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == f"/members/smart/{new[ids['member']]}"
    answer = await api.client.get(f"/api/v1/network/members/coopaname/{ids['member']}", allow_redirects=False)
    assert answer.status == 308
    assert answer.headers["Location"] == f"/api/v1/network/members/smart/{new[ids['member']]}"
    assert (await answer.json())["moved_to"] == f"smart/{new[ids['member']]}"


async def test_requests_are_refused_when_they_cannot_go(api: Api, other: Node) -> None:
    a = api.services
    await peer_with(a, other)
    await api.user("lea@coopaname.example")
    who = "lea@coopaname.example"
    await api.call("POST", "/api/v1/me/move", None, json={"to_node": "smart"}, expect=401)
    await api.call("POST", "/api/v1/me/move", who, json={"to_node": "coopaname"}, expect=422)
    await api.call("POST", "/api/v1/me/move", who, json={"to_node": "Not A Node"}, expect=422)
    await api.call("POST", "/api/v1/me/move", who, json={"to_node": "oxalis"}, expect=404)  # not a peer
    await api.call("GET", "/api/v1/moves", who, expect=403)
    await api.call("POST", "/api/v1/moves/smart/abc/accept", who, expect=403)
    async with a.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxItem)) == 0
        assert await session.scalar(select(func.count()).select_from(MemberMove)) == 0


async def test_forged_and_unknown_acceptances_are_refused(
    api: Api, other: Node, bystander: Node, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a = api.services
    await peer_with(a, other, bystander)
    await peer_with(other, a)
    ids = await member_with_things(api)
    move = await api.call("POST", "/api/v1/me/move", "lea@coopaname.example", json={"to_node": "smart"}, expect=202)
    await drain(a, "smart")

    def acceptance(sender: Node, body: dict[str, Any]) -> Record:
        entry = sign_direct(
            sender.key,
            type="member_move_acceptance",
            origin=sender.config.name,
            id="acc-1",
            now=sender.clock(),
            body=body,
        )
        return Record(entry, check_body(entry))

    good = {
        "to_node": "coopaname",
        "move": move["id"],
        "member": "NewMember1",
        "records": [{"old": ids["member"], "new": "NewMember1"}],
    }
    seq = await head(a)
    # a move A never requested
    assert "no move 'NeverAsked' was requested here" in await refusal(
        acceptance(other, {**good, "move": "NeverAsked"}), a
    )
    # the right move, accepted by a node it was not asked of (a peer, with a valid signature)
    assert "was asked of smart, not of oxalis" in await refusal(acceptance(bystander, good), a)
    # records A never sent, or the profile not mapped
    bad_records = {**good, "records": [*good["records"], {"old": "SomebodyElse", "new": "X1"}]}
    assert "maps records that were not sent" in await refusal(acceptance(other, bad_records), a)
    assert "profile is not mapped" in await refusal(acceptance(other, {**good, "records": []}), a)
    # not a peer of A at all
    stranger = await _node(tmp_path, NodeOptions(clock=a.clock), "stranger", "Stranger", 8409)
    try:
        assert "not a direct member peer" in await refusal(acceptance(stranger, good), a)
    finally:
        await stranger.db.close()
    assert await head(a) == seq  # nothing was published
    async with a.db.read() as session:
        row = await session.scalar(select(MemberMove).where(MemberMove.move_id == move["id"]))
        assert row is not None and row.status == "requested" and row.account_id is not None
    # the genuine acceptance still goes through
    assert await deliver([acceptance(other, good)], a) == [True]
    assert await moved_to(a.db, "coopaname", ids["member"]) == "smart/NewMember1"


async def test_a_large_move_travels_as_one_record(api: Api, other: Node) -> None:
    """Eight offers of ~1,900 characters: larger than a log envelope may be, one direct record all the same."""
    a = api.services
    await peer_with(a, other)
    await peer_with(other, a)
    await api.user("lea@coopaname.example")
    who = "lea@coopaname.example"
    note = "Carnets cousus main, papier recyclé, couvertures en toile. " * 30
    titles = [f"Reliure numéro {i}" for i in range(8)]
    for title in titles:
        await api.call("POST", "/api/v1/offers", who, json={**OFFER, "title": title, "note": note[:1900]}, expect=201)
    move = await api.call("POST", "/api/v1/me/move", who, json={"to_node": "smart"}, expect=202)
    [request] = await drain(a, "smart")
    offers: Any = (request.body or {})["offers"]
    assert len(request.entry.encode()) > 15_000 and len(offers) == 8
    assert await deliver([request], other) == [True]
    operator_b = await login(other, "operateur@smart.example", "operator")
    [pending] = await other.moving.incoming(operator_b)
    assert pending["id"] == move["id"] and sorted(pending["offers"]) == sorted(titles)
    assert len(pending["signed"]["request"]) == 1
    accepted = await other.moving.accept(operator_b, "coopaname", move["id"])
    assert len(accepted["records"]) == 1 + len(titles) and accepted["skipped"] == []


async def test_moves_signed_before_the_upgrade_are_sent_again_typed(api: Api, other: Node) -> None:
    """A move whose request was carried by 1.0 ``message`` parts (refused by upgraded nodes) is re-sent once as a
    ``member_move`` at start; the other node takes it; a later start has nothing to do."""
    a = api.services
    await peer_with(a, other)
    await peer_with(other, a)
    await api.user("lea@coopaname.example")
    move = await api.call("POST", "/api/v1/me/move", "lea@coopaname.example", json={"to_node": "smart"}, expect=202)
    await drain(a, "smart")
    old = sign_direct(
        a.key,
        type="message",
        origin="coopaname",
        id="old-part-1",
        now=a.clock(),
        body={
            "to_node": "smart",
            "to_member": "moves",
            "from_member": "x",
            "subject": "bigre:member-move",
            "text": "{",
        },
    )
    async with a.db.write() as session:
        row = await session.scalar(select(MemberMove).where(MemberMove.move_id == move["id"]))
        assert row is not None
        row.request = canonical.encode([old.encode()])
    assert await a.moving.resend_legacy() == 1
    assert await a.moving.resend_legacy() == 0
    [request] = await drain(a, "smart")
    assert request.type == "member_move" and (request.body or {})["move"] == move["id"]
    assert await deliver([request], other) == [True]
    async with a.db.read() as session:
        row = await session.scalar(select(MemberMove).where(MemberMove.move_id == move["id"]))
        assert row is not None and [e.header.type for e in unpack_envelopes(row.request)] == ["member_move"]


def test_the_routes_are_documented() -> None:
    assert {r.path for r in MOVING_ROUTES} >= {
        "/api/v1/me/move",
        "/api/v1/moves",
        "/api/v1/moves/{origin}/{move_id}/accept",
    }
    assert all(r.summary and r.summary != "None" for r in MOVING_ROUTES)


async def test_invalid_profile_fields_are_dropped_not_fatal(api: Api, other: Node) -> None:
    """A field B does not accept (a trade code it does not know) is dropped; the rest of the move goes on."""
    a = api.services
    await peer_with(a, other)
    await peer_with(other, a)
    await api.user("lea@coopaname.example")
    move = await api.call("POST", "/api/v1/me/move", "lea@coopaname.example", json={"to_node": "smart"}, expect=202)
    [request] = await drain(a, "smart")
    assert await deliver([request], other) == [True]
    async with other.db.write() as session:
        row = await session.scalar(select(MemberMove).where(MemberMove.move_id == move["id"]))
        assert row is not None
        data = dict(row.data)
        data["profile"] = {
            "fields": {**data["profile"]["fields"], "trades": [{"rome": "Z9999"}], "skills": ["reliure"]},
            "visibility": data["profile"]["visibility"],
        }
        row.data = data
    operator_b = await login(other, "operateur@smart.example", "operator")
    accepted = await other.moving.accept(operator_b, "coopaname", move["id"])
    assert accepted["dropped_fields"] == ["trades"]
    with pytest.raises(InvalidInput):
        await api.services.moving.request(Viewer(account_id=1, member_id="x", role="member"), "a b")
