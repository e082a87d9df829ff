"""The replication log and the storage rules, on both backends: chains, privacy, concurrency, idempotence."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

import protocol
from node.http.state import NodeServices
from node.records import log as replication_log
from node.services.things import OFFERS
from node.storage.models import LogEntry, LogHead, OutboxItem
from node.viewer import Viewer
from tests.node.conftest import PASSWORD

from .conftest import search_items

SECRET_VALUES = ("06 99 88 77 66", "Secret bio", "secret-skill", 777)


async def _member(services: NodeServices, email: str) -> Viewer:
    account, _ = await services.accounts.add_user(email=email, password=PASSWORD)
    result = await services.accounts.login(email, PASSWORD, "test")
    viewer = await services.accounts.authenticate(result.token)
    assert viewer is not None and viewer.account_id == account.id
    return viewer


async def _entries(services: NodeServices) -> list[LogEntry]:
    async with services.db.read() as session:
        return list((await session.scalars(select(LogEntry).order_by(LogEntry.origin, LogEntry.seq))).all())


def _keyring(services: NodeServices) -> protocol.Keyring:
    keyring = protocol.Keyring()
    keyring.add(services.config.name, protocol.KeyInfo(services.key.verify_key))
    return keyring


async def test_no_private_or_coop_field_ever_leaves(services: NodeServices) -> None:
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


async def test_log_is_a_verifiable_chain_with_heads(services: NodeServices) -> None:
    viewer = await _member(services, "a@example.org")
    for i in range(5):
        await services.things.create(OFFERS, viewer, {"purpose": "offer", "title": f"offre {i}"})
    rows = await _entries(services)
    entries = [replication_log.entry_from_row(r) for r in rows]
    protocol.verify_chain(entries, _keyring(services))
    for e in entries:
        protocol.verify(e, _keyring(services))
    async with services.db.read() as session:
        assert await replication_log.heads(session) == {"coopaname": 5}
        head = await session.get(LogHead, "coopaname")
        assert head is not None and head.seq == 5 and head.hash == entries[-1].hash
        blobs = await replication_log.entries_after(session, "coopaname", 2, 10)
    assert [protocol.decode_entry(b).header.seq for b in blobs] == [3, 4, 5]


async def test_concurrent_profile_updates_get_contiguous_seqs(services: NodeServices) -> None:
    viewers = [await _member(services, f"m{i}@example.org") for i in range(6)]

    async def update(viewer: Viewer, n: int) -> None:
        await services.directory.update_my_profile(
            viewer, {"fields": {"bio": f"bio {n}"}, "visibility": {"bio": "network"}}, replace=False
        )

    await asyncio.gather(*(update(v, n) for n in range(5) for v in viewers))
    rows = await _entries(services)
    assert [r.seq for r in rows] == list(range(1, 31))
    protocol.verify_chain([replication_log.entry_from_row(r) for r in rows], _keyring(services))


async def test_concurrent_registrations_never_exceed_seats(services: NodeServices) -> None:
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


async def test_store_received_is_idempotent_detects_forks_and_applies_tombstones(services: NodeServices) -> None:
    key = protocol.SigningKey.from_seed(bytes(range(32)))
    keyring = protocol.Keyring()
    keyring.add("smart", protocol.KeyInfo(key.verify_key))
    prev = None
    made = []
    cases: list[tuple[str, dict[str, Any]]] = [
        ("profile", {"display_name": "Remote", "public": ["display_name"]}),
        ("offer", {"purpose": "offer", "title": "Atelier bois", "status": "open"}),
        ("tombstone", {"target_type": "profile", "reason": "erased"}),
    ]
    for seq, (type_, body) in enumerate(cases, 1):
        rid = "remote-offer" if type_ == "offer" else "remote-profile"
        entry = protocol.sign_entry(
            key,
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
        made.append(protocol.open_record(entry.encode(), keyring))
    async with services.db.write() as session:
        # out of order: 2 before 1 leaves a gap, then 1 fills it
        assert await replication_log.store_received(session, made[1], 10) == replication_log.StoreOutcome.STORED
        assert await replication_log.heads(session) == {"smart": 0}
        assert await replication_log.store_received(session, made[0], 11) == replication_log.StoreOutcome.STORED
        assert await replication_log.store_received(session, made[0], 12) == replication_log.StoreOutcome.DUPLICATE
        assert (await replication_log.heads(session))["smart"] == 2
        assert await replication_log.head_of(session, "smart") == (2, made[1].entry.hash)
    viewer = await _member(services, "a@example.org")
    found = await search_items(services, viewer, "remote")
    assert [f["id"] for f in found] == ["remote-profile"]
    anonymous = await search_items(services, Viewer(), "atelier")
    assert anonymous == []  # remote offers are network-only
    forged = protocol.sign_entry(
        key,
        type="offer",
        type_version=(1, 0),
        origin="smart",
        id="other",
        seq=2,
        created=1,
        ts=2,
        prev=made[0].entry.hash,
        body={"purpose": "offer", "title": "Fork", "status": "open"},
    )
    async with services.db.write() as session:
        outcome = await replication_log.store_received(session, protocol.open_record(forged.encode(), keyring), 13)
        assert outcome == replication_log.StoreOutcome.FORK
        assert await replication_log.store_received(session, made[2], 14) == replication_log.StoreOutcome.STORED
    rows = [r for r in await _entries(services) if r.origin == "smart"]
    assert [r.body is None for r in rows] == [True, False, False]  # the erased profile's body is gone
    assert await search_items(services, viewer, "remote") == []


async def test_outbox_rows_for_each_peer(services: NodeServices) -> None:
    async def peers(_session: object) -> list[str]:
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
