"""Erasure receipts on one node (issue 12.7): the member's node keeps what an erasure withdrew and the signed
receipts that come back; a node that applies another origin's ``erased`` tombstones queues a receipt for it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import protocol
from federation.ports import Peer, PeerKey
from node.compose import Node
from node.errors import NotFound
from node.services.things import KINDS
from node.storage.models import OutboxItem
from protocol import MAX_DIRECT_ENVELOPE_BYTES, decode_entry, sign_direct

from .conftest import PASSWORD, REMOTE_KEY


async def test_receipts_confirm_an_erasure_node_by_node(services: Node) -> None:
    await services.federation_store.save_peer(
        Peer(name="smart", url="http://127.0.0.1:9", display_name="SMart", keys=[PeerKey(REMOTE_KEY.public_bytes)])
    )
    await services.accounts.add_user(email="ines@example.org", role="member", password=PASSWORD)
    viewer = await services.accounts.authenticate(
        (await services.accounts.login("ines@example.org", PASSWORD, "t")).token
    )
    assert viewer is not None
    profile = await services.directory.update_my_profile(
        viewer, {"fields": {"bio": "Tapissière"}, "visibility": {"bio": "network"}}, replace=False
    )
    offer = await services.things.create(
        next(k for k in KINDS.values() if k.record_type == "offer"),
        viewer,
        {"purpose": "offer", "title": "Fauteuils", "visibility": "network"},
    )
    done = await services.directory.erase(viewer, PASSWORD)
    assert done.withdrawn == 2
    status = await services.erasures.status(done.token)
    assert (status["records"], status["confirmed"], status["pending"]) == (2, 0, 1)
    assert status["nodes"] == [{"node": "smart", "status": "pending", "confirmed_at": None, "records_confirmed": 0}]

    def receipt(record_id: str, records: list[str]) -> protocol.Record:
        entry = sign_direct(
            REMOTE_KEY,
            type="erasure_receipt",
            origin="smart",
            id=record_id,
            now=services.clock(),
            body={"to_node": services.config.name, "records": records, "erased_at": services.clock()},
        )
        return protocol.Record(entry, protocol.check_body(entry))

    first = receipt("r-1", [profile["id"]])
    assert await services.erasures.receive(first, services.clock()) is True
    assert await services.erasures.receive(first, services.clock()) is False  # the same receipt again
    status = await services.erasures.status(done.token)
    assert status["nodes"][0]["status"] == "pending" and status["nodes"][0]["records_confirmed"] == 1
    assert await services.erasures.receive(receipt("r-2", [offer["id"], "unrelated"]), services.clock()) is True
    exported = await services.erasures.export(done.token)
    assert exported["confirmed"] == 1 and exported["pending"] == 0
    assert sorted(exported["record_ids"]) == sorted([profile["id"], offer["id"]])
    signed = [decode_entry(bytes.fromhex(r["signed_hex"])) for r in exported["nodes"][0]["receipts"]]
    assert [e.header.id for e in signed] == ["r-1", "r-2"] and all(e.header.origin == "smart" for e in signed)
    # a receipt for records no erasure remembers keeps nothing; an unknown token shows nothing
    assert await services.erasures.receive(receipt("r-3", ["someone-else"]), services.clock()) is False
    with pytest.raises(NotFound):
        await services.erasures.status("NoSuchErasureToken000")


async def test_applying_an_erased_tombstone_queues_a_receipt_for_its_origin(services: Node) -> None:
    store = services.federation_store

    def signed(type_: str, record_id: str, body: dict[str, object], seq: int, prev: bytes | None) -> protocol.Record:
        entry = protocol.sign_entry(
            REMOTE_KEY,
            type=type_,
            type_version=protocol.RECORD_TYPES[type_].version,
            origin="oxalis",
            id=record_id,
            seq=seq,
            created=services.clock(),
            ts=services.clock(),
            prev=prev,
            body=body,
        )
        return protocol.Record(entry, protocol.check_body(entry))

    profile = signed("profile", "m-lea", {"display_name": "Léa"}, 1, None)
    deleted = signed("tombstone", "o-other", {"target_type": "offer", "reason": "deleted"}, 2, profile.entry.hash)
    await store.store_run([profile, deleted], services.clock())
    erased = signed("tombstone", "m-lea", {"target_type": "profile", "reason": "erased"}, 3, deleted.entry.hash)
    await store.store_run([erased], services.clock())
    async with services.db.read() as session:
        rows = (await session.scalars(select(OutboxItem).where(OutboxItem.kind == "direct"))).all()
    assert [r.peer for r in rows] == ["oxalis"]  # one receipt, for the erasure only (not the plain deletion)
    assert rows[0].payload is not None
    entry = decode_entry(rows[0].payload, max_bytes=MAX_DIRECT_ENVELOPE_BYTES)
    assert entry.header.type == "erasure_receipt" and entry.header.origin == services.config.name
    assert entry.body_value() == {"to_node": "oxalis", "records": ["m-lea"], "erased_at": services.clock()}
