"""The delivery loops' shared bookkeeping in the node's store (issue 18): every peer's due items in one read,
confirmations and last successes in one write, on SQLite and PostgreSQL."""

from __future__ import annotations

from federation.outbox import entry_payload
from federation.ports import Peer, PeerKey
from node.compose import Node


async def test_due_items_of_many_peers_and_their_confirmation(services: Node) -> None:
    store = services.federation_store
    for name in ("smart", "oxalis", "grenoble"):
        await store.save_peer(Peer(name, f"http://{name}.example", keys=[PeerKey(bytes(32))]))
    await store.enqueue("smart", "direct", b"one", 100)
    await store.enqueue("smart", "direct", b"two", 100)
    await store.enqueue("oxalis", "direct", b"later", 5_000)
    await store.enqueue("oxalis", "direct", b"now", 100)
    await store.failed([3], next_attempt_at=5_000, error="unreachable")

    due = await store.due_many(["smart", "oxalis", "grenoble"], 1_000, 10)
    assert [i.payload for i in due["smart"][0]] == [b"one", b"two"]
    assert due["oxalis"] == ([due["oxalis"][0][0]], 5_000)  # the failed one waits for its next attempt
    assert [i.payload for i in due["oxalis"][0]] == [b"now"]
    assert due["smart"][1] is None  # nothing else queued
    assert due["grenoble"] == ([], None)  # nothing queued
    limited = (await store.due_many(["smart"], 1_000, 1))["smart"]
    assert [i.payload for i in limited[0]] == [b"one"] and limited[1] == 1_000  # the limit, per peer: more due

    delivered = [i.id for i in due["smart"][0]] + [i.id for i in due["oxalis"][0]]
    await store.delivered(delivered, [("smart", 1_500), ("oxalis", 1_400), ("oxalis", 1_600)])
    after = await store.due_many(["smart", "oxalis"], 1_000, 10)
    assert after == {"smart": ([], None), "oxalis": ([], 5_000)}  # oxalis: its next attempt
    health = {h.name: h for h in await store.health()}
    assert health["smart"].last_success == 1_500 and health["oxalis"].last_success == 1_600
    assert health["grenoble"].last_success is None
    assert health["oxalis"].queue_depth == 1


async def test_entry_items_carry_their_origin_and_seq(services: Node) -> None:
    store = services.federation_store
    await store.save_peer(Peer("smart", "http://smart.example", keys=[PeerKey(bytes(32))]))
    async with services.db.write() as session:
        from node.storage.models import OutboxItem

        session.add(
            OutboxItem(
                peer="smart", kind="entry", origin="coopaname", seq=7, attempts=0, next_attempt_at=1, created_at=1
            )
        )
    ((item,), next_due) = (await store.due_many(["smart"], 10, 5))["smart"]
    assert (item.kind, item.payload, next_due) == ("entry", entry_payload("coopaname", 7), None)
