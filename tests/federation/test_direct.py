"""Direct records over real HTTP on loopback: the one endpoint for every direct type, what it refuses, that a
direct record is never stored in a log nor relayed, and how the sender treats a refusal for good."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from protocol import sign_direct

from .conftest import Network, eventually
from .fakes import MemoryNode
from .test_replication import holds, post_signed

MESSAGE = {"to_node": "smart", "to_member": "m-karim", "from_member": "m-amelie", "text": "Bonjour !"}
SHARE_WITHDRAWN = {"to_node": "smart", "case_id": "c-1"}


def direct(node: MemoryNode, type_: str, body: dict[str, Any], id_: str = "d-1") -> bytes:
    return sign_direct(node.key, type=type_, origin=node.name, id=id_, now=node.clock(), body=body).encode()


async def three(network: Network) -> tuple[MemoryNode, MemoryNode, MemoryNode]:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    c = await network.add("oxalis", 3)
    await network.connect_all()
    return a, b, c


async def test_any_direct_type_reaches_its_node_only(network: Network) -> None:
    a, b, c = await three(network)
    for i, (type_, body) in enumerate((("message", MESSAGE), ("case_withdrawal", SHARE_WITHDRAWN))):
        await a.outbox.enqueue("smart", "direct", direct(a, type_, body, f"d-{i}"), network.clock())
    a.service.notify()
    await eventually(lambda: len(b.inbox.messages) == 2)
    assert {r.type for r in b.inbox.messages.values()} == {"message", "case_withdrawal"}
    await eventually(lambda: not a.outbox.items)
    assert not c.inbox.messages
    # the 1.0 path is an alias for one release: the same handler, idempotent
    status, text = await post_signed(network, a, b, "/federation/v1/messages", direct(a, "message", MESSAGE, "d-0"))
    assert (status, text) == (200, text) and len(b.inbox.messages) == 2


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("addressed elsewhere", 400, "malformed"),
        ("another origin", 400, "malformed"),
        ("a log type", 422, "schema"),
        ("seq 2", 422, "schema"),
        ("erased", 400, "malformed"),
        ("not an entry", 400, "malformed"),
    ],
)
async def test_the_direct_endpoint_refuses(
    network: Network, case: str, status: int, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    a, b, c = await three(network)
    payload: object
    if case == "addressed elsewhere":
        payload = direct(a, "message", {**MESSAGE, "to_node": "oxalis"})
    elif case == "another origin":  # oxalis forwards a record coopaname signed: only the origin may send it
        payload = direct(a, "message", MESSAGE)
    elif case == "a log type":
        payload = a.sign("offer", "o-1", {"purpose": "offer", "title": "Atelier", "status": "open"}, 1, None)
    elif case == "seq 2":
        payload = a.sign("message", "m-2", MESSAGE, 2, bytes(32))
    elif case == "erased":
        from protocol import decode_entry

        payload = decode_entry(direct(a, "message", MESSAGE)).erased().encode()
    else:
        payload = {"not": "an entry"}
    sender = c if case == "another origin" else a
    caplog.set_level(logging.WARNING)
    got, text = await post_signed(network, sender, b, "/federation/v1/direct", payload)
    assert (got, f'"code": "{code}"' in text) == (status, True), text
    assert not b.inbox.messages
    assert "refused POST /federation/v1/direct" in caplog.text


async def test_a_direct_record_is_never_stored_in_a_log_nor_relayed(network: Network) -> None:
    a, b, c = await three(network)
    await a.publish("profile", "m-1", {"display_name": "Amélie"})
    await eventually(lambda: holds(b, "coopaname", 2))
    heads = await a.log.heads()
    seq, prev = heads["coopaname"]
    # a direct type slipped into a push is refused whole: nothing of the run is stored
    smuggled = a.sign("message", "m-9", MESSAGE, seq + 1, prev)
    status, text = await post_signed(network, a, b, "/federation/v1/push", [smuggled])
    assert status == 422 and "never part of a log" in text
    assert not await holds(b, "coopaname", seq + 1)
    # one a peer's log holds (a faulty or hostile node) is not taken by pull either
    a.log.entries["coopaname"][seq + 1] = smuggled
    peer = b.service.trust.peer("coopaname")
    assert peer is not None
    await b.service.anti_entropy()
    assert not await holds(b, "coopaname", seq + 1)
    # a direct record delivered to smart stays there: not in smart's log, so oxalis never gets it from smart
    del a.log.entries["coopaname"][seq + 1]
    blob = direct(a, "message", MESSAGE, "d-7")
    status, _ = await post_signed(network, a, b, "/federation/v1/direct", blob, nonce="n" * 20)
    assert status == 200 and ("coopaname", "d-7") in b.inbox.messages
    assert all(b"d-7" not in blob for log in b.log.entries.values() for blob in log.values())
    await c.service.anti_entropy()
    assert not c.inbox.messages
    assert all(b"d-7" not in blob for log in c.log.entries.values() for blob in log.values())


async def test_a_refusal_for_good_is_set_aside_not_retried(network: Network, caplog: pytest.LogCaptureFixture) -> None:
    a, b, _ = await three(network)
    caplog.set_level(logging.ERROR)
    refused = direct(a, "message", {**MESSAGE, "text": "refuse me"}, "d-1")
    nobody = direct(a, "message", {**MESSAGE, "to_member": "nobody"}, "d-2")
    fine = direct(a, "message", MESSAGE, "d-3")
    for blob in (refused, nobody, fine):
        await a.outbox.enqueue("smart", "direct", blob, network.clock())
    a.service.notify()
    await eventually(lambda: len(a.outbox.refusals) == 2 and not a.outbox.items)
    reasons = sorted(reason for _, reason in a.outbox.refusals.values())
    assert "refused_record" in reasons[1] and "unknown_recipient" in reasons[0]
    assert list(b.inbox.messages) == [("coopaname", "d-3")]  # the one after the refused ones went through
    assert "refused direct record" in caplog.text
    # a failure worth retrying (the peer is down) keeps the record queued
    await network.servers["smart"].close()
    await a.outbox.enqueue("smart", "direct", direct(a, "message", MESSAGE, "d-4"), network.clock())
    a.service.notify()
    await eventually(lambda: any(i.attempts >= 1 for i in a.outbox.items.values()))
    assert len(a.outbox.items) == 1 and len(a.outbox.refusals) == 2


async def test_a_message_to_a_node_of_release_1_0_takes_the_old_route(network: Network) -> None:
    """A node that has no /federation/v1/direct yet still gets private messages (on the 1.0 route); any other
    direct type waits in the queue until it upgrades."""
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2, without=("/federation/v1/direct",))
    await network.connect_all()
    await a.outbox.enqueue("smart", "direct", direct(a, "message", MESSAGE, "d-1"), network.clock())
    await a.outbox.enqueue("smart", "direct", direct(a, "case_withdrawal", SHARE_WITHDRAWN, "d-2"), network.clock())
    a.service.notify()
    await eventually(lambda: ("coopaname", "d-1") in b.inbox.messages)
    await eventually(lambda: any(i.attempts >= 1 for i in a.outbox.items.values()))
    assert [i.kind for i in a.outbox.items.values()] == ["direct"] and not a.outbox.refusals
    assert ("coopaname", "d-2") not in b.inbox.messages
