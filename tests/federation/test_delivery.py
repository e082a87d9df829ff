"""Delivery from the outbox (issue 12, item 12): a permanent refusal is final and reported, a transient one is
retried, and a peer's loop survives anything."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from federation.ports import Peer, PeerKey

from .conftest import Network, eventually
from .test_replication import PROFILE, holds


@pytest.fixture
async def answering() -> AsyncIterator[dict[str, int]]:
    """A stand-in peer answering every federation request with the status in ``answer['status']``."""
    answer = {"status": 429, "calls": 0}

    async def handler(request: web.Request) -> web.Response:
        answer["calls"] += 1
        body = {"error": {"code": "busy" if answer["status"] == 429 else "nope", "message": "not now"}}
        return web.json_response(body, status=answer["status"])

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    answer["port"] = server.port  # type: ignore[assignment]
    yield answer
    await server.close()


async def test_a_permanent_refusal_is_final_and_reported(network: Network, caplog: pytest.LogCaptureFixture) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    await network.connect_all()
    await eventually(lambda: holds(b, "coopaname", 1))
    b.service.trust.peer("coopaname").status = "suspended"  # type: ignore[union-attr]
    caplog.set_level(logging.WARNING)
    await a.publish("profile", "m-1", PROFILE)
    await eventually(lambda: not a.outbox.items)  # given up, not retried forever
    ((name, _, reason, dropped),) = a.peer_store.refusals
    assert (name, dropped) == ("smart", 1) and "403 suspended_peer" in reason
    assert "delivery to smart refused for good, 1 item(s) given up" in caplog.text
    # a message to a member the peer does not have: final too, the other message of the batch goes through
    b.service.trust.peer("coopaname").status = "member"  # type: ignore[union-attr]
    body = {"to_node": "smart", "to_member": "nobody", "from_member": "m-amelie", "text": "Bonjour"}
    await a.outbox.enqueue("smart", "direct", a.sign("message", "msg-1", body, 1, None), network.clock())
    good = {**body, "to_member": "m-karim"}
    await a.outbox.enqueue("smart", "direct", a.sign("message", "msg-2", good, 1, None), network.clock())
    a.service.notify()
    await eventually(lambda: not a.outbox.items)
    assert ("coopaname", "msg-2") in b.inbox.messages
    assert "404 unknown_recipient" in a.peer_store.refusals[-1][2]
    [(_, kept_reason)] = a.outbox.refusals.values()  # the refused message is kept, set aside, for the operator
    assert "unknown_recipient" in kept_reason


@pytest.mark.parametrize("status", [429, 408, 503])
async def test_a_transient_refusal_is_retried(network: Network, answering: dict[str, int], status: int) -> None:
    a = await network.add("coopaname", 1)
    await network.connect_all()
    answering["status"] = status
    await a.peer_store.save_peer(Peer("busy", f"http://127.0.0.1:{answering['port']}", keys=[PeerKey(b"\x01" * 32)]))
    await a.service.reload_peers()
    await a.publish("profile", "m-1", PROFILE)
    await eventually(lambda: any(i.attempts >= 1 for i in a.outbox.items.values() if i.peer == "busy"))
    assert [i.peer for i in a.outbox.items.values()] == ["busy"]
    assert a.peer_store.refusals == []
    assert any(name == "busy" and err and str(status) in err for name, _, err in a.peer_store.contacts)


async def test_a_delivery_loop_survives_an_unexpected_error(network: Network, caplog: pytest.LogCaptureFixture) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    await network.connect_all()
    await eventually(lambda: holds(b, "coopaname", 1))
    caplog.set_level(logging.WARNING)
    failures = {"read": 1, "due": 1}
    read, due = a.log.read, a.outbox.due

    async def flaky_read(origin: str, after: int, limit: int) -> list[bytes]:
        if failures["read"]:
            failures["read"] -= 1
            raise RuntimeError("disk hiccup")
        return await read(origin, after, limit)

    async def flaky_due(peer: str, now: int, limit: int) -> list:  # type: ignore[type-arg]
        if peer == "smart" and failures["due"]:
            failures["due"] -= 1
            raise ValueError("database went away")
        return await due(peer, now, limit)

    a.log.read = flaky_read  # type: ignore[method-assign]
    a.outbox.due = flaky_due  # type: ignore[method-assign]
    seq = await a.publish("profile", "m-1", PROFILE)
    # the batch failed inside the send (rescheduled with a backoff), then the loop itself hit an error: both
    # logged with the peer named, and the item still arrives
    await eventually(lambda: "delivery to smart failed (attempt 1" in caplog.text)
    network.clock.now += 10_000  # the rescheduled item is due again
    a.service.notify()
    await eventually(functools.partial(holds, b, "coopaname", seq))
    assert "delivery to smart failed unexpectedly" in caplog.text
    assert "delivery loop for smart: unexpected error" in caplog.text
    task = a.service.deliverer._tasks["smart"]
    assert not task.done()
    assert any(err and "internal: RuntimeError" in err for name, _, err in a.peer_store.contacts if name == "smart")
    await asyncio.sleep(0)


async def test_the_peers_loops_share_their_bookkeeping(network: Network) -> None:
    """An update pushed to many peers: their loops ask for their due items together (one read for all of them)
    and confirm together, so the author's store work does not grow with the number of peers (issue 18)."""
    a = await network.add("coopaname", 1)
    others = [await network.add(f"coop{i}", 2 + i) for i in range(6)]
    await network.connect_all()

    async def everyone_holds(seq: int) -> bool:
        return all([await holds(o, "coopaname", seq) for o in others]) and not a.outbox.items

    await eventually(lambda: everyone_holds(1))
    a.outbox.batches.clear()
    contacts = len(a.peer_store.contacts)
    await a.publish("profile", "m-1", PROFILE)
    await eventually(lambda: everyone_holds(2))
    due = [n for kind, n in a.outbox.batches if kind == "due_many"]
    delivered = [n for kind, n in a.outbox.batches if kind == "delivered"]
    assert due and due[0] == 6  # the six loops woken by the update asked in one call
    assert sum(delivered) == 6  # every peer's confirmation recorded...
    assert len(delivered) < 6  # ...in fewer writes than peers
    assert {name for name, _, err in a.peer_store.contacts[contacts:] if err is None} >= {o.name for o in others}
