"""The replication log and the storage rules, on both backends: chains, privacy, concurrency, idempotence."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

import protocol
from federation.errors import ForkError
from federation.ports import Peer, PeerKey
from federation.replication import Replicator
from federation.transport import PeerClient
from federation.trust import TrustStore
from node.compose import Node
from node.federation_adapter.store import NodeFederationStore
from node.records import log as replication_log
from node.services.things import OFFERS
from node.storage.models import LogEntry, LogHead, OutboxItem
from node.viewer import Viewer
from tests.node.conftest import PASSWORD

from .conftest import REMOTE_KEY, search_items

SECRET_VALUES = ("06 99 88 77 66", "Secret bio", "secret-skill", 777)


async def _member(services: Node, email: str) -> Viewer:
    account, _ = await services.accounts.add_user(email=email, password=PASSWORD)
    result = await services.accounts.login(email, PASSWORD, "test")
    viewer = await services.accounts.authenticate(result.token)
    assert viewer is not None and viewer.account_id == account.id
    return viewer


async def _entries(services: Node) -> list[LogEntry]:
    async with services.db.read() as session:
        return list((await session.scalars(select(LogEntry).order_by(LogEntry.origin, LogEntry.seq))).all())


def _keyring(services: Node) -> protocol.Keyring:
    keyring = protocol.Keyring()
    keyring.add(services.config.name, protocol.KeyInfo(services.key.verify_key))
    return keyring


async def test_no_private_or_coop_field_ever_leaves(services: Node) -> None:
    viewer = await _member(services, "a@example.org")
    d = services.directory
    await d.update_my_profile(
        viewer,
        {
            "fields": {
                "display_name": "Anna",
                "phone": SECRET_VALUES[0],
                "bio": SECRET_VALUES[1],
                "skills": [SECRET_VALUES[2]],
                "day_rate_eur": SECRET_VALUES[3],
                "trades": ["H2206"],
            },
            "visibility": {"display_name": "public", "trades": "network", "bio": "coop", "skills": "private"},
        },
        replace=True,
    )
    # widen then narrow again: the narrowed value must not be published afterwards
    await d.update_my_profile(viewer, {"visibility": {"bio": "network"}}, replace=False)
    await d.update_my_profile(
        viewer, {"fields": {"bio": "Public bio now"}, "visibility": {"bio": "network"}}, replace=False
    )
    await d.update_my_profile(viewer, {"visibility": {"bio": "coop"}, "fields": {"bio": "Secret again"}}, replace=False)
    entries = await _entries(services)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    for row in entries:
        entry = replication_log.entry_from_row(row)
        body = protocol.check_body(entry)  # valid against the record schema
        assert body is not None
        flat = repr(body)
        assert "phone" not in body and "day_rate_eur" not in body and "skills" not in body
        for secret in (SECRET_VALUES[0], SECRET_VALUES[2], "Secret again"):
            assert secret not in flat
        assert set(body) - {"public"} <= {"display_name", "trades", "bio"}
        assert body["public"] == ["display_name"]
    last = protocol.check_body(replication_log.entry_from_row(entries[-1]))
    assert last is not None and "bio" not in last  # narrowing withdrew it from the network view
    # private-only changes publish nothing
    before = len(entries)
    await d.update_my_profile(viewer, {"fields": {"phone": "01 00 00 00 00"}}, replace=False)
    assert len(await _entries(services)) == before


async def test_log_is_a_verifiable_chain_with_heads(services: Node) -> None:
    viewer = await _member(services, "a@example.org")
    for i in range(5):
        await services.things.create(OFFERS, viewer, {"purpose": "offer", "title": f"offre {i}"})
    rows = await _entries(services)
    entries = [replication_log.entry_from_row(r) for r in rows]
    assert [e.header.seq for e in entries] == [1, 2, 3, 4, 5]
    protocol.verify_chain(entries, _keyring(services))
    for e in entries:
        protocol.verify(e, _keyring(services))
    async with services.db.read() as session:
        assert await replication_log.stored_heads(session) == {"coopaname": 5}
        head = await session.get(LogHead, "coopaname")
        assert head is not None and head.seq == 5 and head.hash == entries[-1].hash
        blobs = await replication_log.entries_after(session, "coopaname", 2, 10)
    assert [protocol.decode_entry(b).header.seq for b in blobs] == [3, 4, 5]


async def test_concurrent_profile_updates_get_contiguous_seqs(services: Node) -> None:
    viewers = [await _member(services, f"m{i}@example.org") for i in range(6)]

    async def update(viewer: Viewer, n: int) -> None:
        await services.directory.update_my_profile(
            viewer, {"fields": {"bio": f"bio {n}"}, "visibility": {"bio": "network"}}, replace=False
        )

    await asyncio.gather(*(update(v, n) for n in range(5) for v in viewers))
    rows = await _entries(services)
    assert [r.seq for r in rows] == list(range(1, 31))
    protocol.verify_chain([replication_log.entry_from_row(r) for r in rows], _keyring(services))


async def test_concurrent_registrations_never_exceed_seats(services: Node) -> None:
    from node.services.things import EVENTS

    organiser = await _member(services, "org@example.org")
    event = await services.things.create(
        EVENTS, organiser, {"kind": "training", "title": "Compta", "start": 1, "seats": 3}
    )
    viewers = [await _member(services, f"p{i}@example.org") for i in range(12)]
    results = await asyncio.gather(*(services.things.register(v, event["id"]) for v in viewers), return_exceptions=True)
    ok = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 3 and len(refused) == 9
    assert all(getattr(e, "code", None) == "conflict" for e in refused)
    final = await services.things.get(EVENTS, organiser, event["id"])
    assert final["registered"] == 3 and final["seats_left"] == 0


async def test_replication_into_the_node_waits_for_gaps_ignores_replays_keeps_forks_out(services: Node) -> None:
    """Other coops' entries reach the node one way: federation's replicator over the node's own store (what a
    pull or a push runs). A run past the head waits, a replay changes nothing, a different entry at a held seq is
    kept out with its evidence, and a tombstone erases the record's earlier body and its search documents."""
    store = NodeFederationStore(services.db, services.config.name, services.clock, services.search_documents)
    smart = Peer(name="smart", url="http://127.0.0.1:9", keys=[PeerKey(REMOTE_KEY.public_bytes)])
    trust = TrustStore(services.config.name)
    trust.put(smart)
    prev = None
    made: list[protocol.Entry] = []
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("profile", "remote-profile", {"display_name": "Remote", "public": ["display_name"]}),
        ("offer", "remote-offer", {"purpose": "offer", "title": "Atelier bois", "status": "open"}),
        ("tombstone", "remote-profile", {"target_type": "profile", "reason": "erased"}),
    ]
    for seq, (type_, rid, body) in enumerate(cases, 1):
        entry = protocol.sign_entry(
            REMOTE_KEY,
            type=type_,
            type_version=protocol.RECORD_TYPES[type_].version,
            origin="smart",
            id=rid,
            seq=seq,
            created=1,
            ts=seq,
            prev=prev,
            body=body,
        )
        prev = entry.hash
        made.append(entry)
    async with aiohttp.ClientSession() as http:  # the client is never called: every run here is pushed
        client = PeerClient(http, lambda: services.key, services.config.name)
        replicator = Replicator(store, store, trust, client, services.clock)
        gap = await replicator.apply("smart", [made[1].encode()], smart)  # 2 before 1: nothing is stored
        assert (gap.gap, gap.applied) == (True, 0) and "smart" not in await store.heads()
        assert (await replicator.apply("smart", [made[0].encode(), made[1].encode()], smart)).applied == 2
        replay = await replicator.apply("smart", [made[0].encode(), made[1].encode()], smart)
        assert (replay.head, replay.applied) == (2, 0)
        assert (await store.heads())["smart"] == (2, made[1].hash)
        viewer = await _member(services, "a@example.org")
        assert [f["id"] for f in await search_items(services, viewer, "remote")] == ["remote-profile"]
        assert await search_items(services, Viewer(), "atelier") == []  # remote offers are network-only
        forged = protocol.sign_entry(
            REMOTE_KEY,
            type="offer",
            type_version=(1, 0),
            origin="smart",
            id="other",
            seq=2,
            created=1,
            ts=2,
            prev=made[0].hash,
            body={"purpose": "offer", "title": "Fork", "status": "open"},
        )
        with pytest.raises(ForkError):
            await replicator.apply("smart", [forged.encode()], smart)
        assert [(f["origin"], f["seq"]) for f in await store.forks()] == [("smart", 2)]
        assert (await store.heads())["smart"] == (2, made[1].hash)  # ours is kept
        assert (await replicator.apply("smart", [made[2].encode()], smart)).applied == 1
    rows = [r for r in await _entries(services) if r.origin == "smart"]
    assert [r.body is None for r in rows] == [True, False, False]  # the erased profile's body is gone
    assert await search_items(services, viewer, "remote") == []
    assert [f["id"] for f in await search_items(services, viewer, "atelier")] == ["remote-offer"]


async def test_outbox_rows_for_each_peer(services: Node) -> None:
    def peers(_session: object) -> list[str]:
        return ["smart", "oxalis"]

    services.publisher.outbox_peers = peers  # what the federation layer will configure
    viewer = await _member(services, "a@example.org")
    await services.things.create(OFFERS, viewer, {"purpose": "offer", "title": "t"})
    async with services.db.read() as session:
        items = (await session.scalars(select(OutboxItem).order_by(OutboxItem.peer))).all()
    assert [(i.peer, i.origin, i.seq, i.attempts) for i in items] == [
        ("oxalis", "coopaname", 1, 0),
        ("smart", "coopaname", 1, 0),
    ]
