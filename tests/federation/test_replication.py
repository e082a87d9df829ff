"""Federation between in-memory nodes over real HTTP on loopback: push, pull, relay, gaps, forks, refusals."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from federation.errors import PeerUnavailableError
from federation.outbox import backoff_ms
from federation.ports import Peer
from federation.replication import Replicator
from federation.transport import PeerClient
from protocol import SigningKey, canonical, sign_request

from .conftest import Network, eventually
from .fakes import MemoryNode

PROFILE = {"display_name": "Amélie Durand", "skills": ["menuiserie"]}


async def holds(node: MemoryNode, origin: str, seq: int) -> bool:
    return (await node.log.heads()).get(origin, (0, b""))[0] >= seq


async def test_push_reaches_every_peer(network: Network) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    c = await network.add("oxalis", 3)
    await network.connect_all()
    seq = await a.publish("profile", "m-1", PROFILE)
    await eventually(lambda: holds(b, "coopaname", seq))
    await eventually(lambda: holds(c, "coopaname", seq))
    assert await b.log.read("coopaname", 0, 10) == await a.log.read("coopaname", 0, 10)
    await eventually(lambda: not a.outbox.items)


async def test_pull_repairs_what_push_missed_and_relays_other_origins(network: Network) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    c = await network.add("oxalis", 3)
    await network.connect_all()
    for i in range(7):
        await a.publish("profile", f"m-{i}", {"display_name": f"M {i}"}, notify=False)
    a.outbox.items.clear()  # push lost entirely
    await b.service.anti_entropy()
    assert await holds(b, "coopaname", 8)
    # the origin goes away; oxalis still gets its records, from smart, verified against coopaname's key
    await network.servers["coopaname"].close()
    await c.service.replicator.sync_from(c.service.trust.peer("smart"))  # type: ignore[arg-type]
    assert await c.log.read("coopaname", 0, 100) == await a.log.read("coopaname", 0, 100)


async def test_paging_and_idempotence(network: Network) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    await network.connect_all()
    await eventually(lambda: holds(b, "coopaname", 1))
    b.service.replicator.page = 3
    for i in range(10):
        await a.publish("profile", f"m-{i}", {"display_name": f"M {i}"}, notify=False)
    a.outbox.items.clear()
    peer = b.service.trust.peer("coopaname")
    assert peer is not None
    calls = b.log.store_calls
    assert await b.service.replicator.sync_from(peer) == 10
    assert b.log.store_calls - calls == 4  # pages of 3, 3, 3, 1, each stored atomically
    assert await b.service.replicator.sync_from(peer) == 0  # nothing new, nothing stored twice
    blobs = await a.log.read("coopaname", 0, 100)
    result = await b.service.replicator.apply("coopaname", blobs[2:6], source=peer)  # a replayed delivery
    assert result.applied == 0 and result.head == 11


async def test_a_pipelined_pull_stops_at_the_page_with_a_bad_body(network: Network) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    await network.connect_all()
    await eventually(lambda: holds(b, "coopaname", 1))
    b.service.replicator.page = 3
    for i in range(10):
        seq, prev = (await a.log.heads())["coopaname"]
        body = {"display_name": 5} if seq + 1 == 9 else {"display_name": f"M {i}"}  # 9: signed, not a profile
        a.log.entries["coopaname"][seq + 1] = a.sign("profile", f"m-{i}", body, seq + 1, prev)
    peer = b.service.trust.peer("coopaname")
    assert peer is not None
    with pytest.raises(PeerUnavailableError, match="schema"):
        await b.service.replicator.sync_from(peer)
    # pages 2-4 and 5-7 are stored; the page holding 9 is refused whole, and nothing after it was stored
    assert (await b.log.heads())["coopaname"][0] == 7
    assert sorted(b.log.entries["coopaname"]) == list(range(1, 8))


async def test_a_gap_is_filled_not_skipped(network: Network) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    await network.connect_all()
    for i in range(5):
        await a.publish("profile", f"m-{i}", {"display_name": f"M {i}"}, notify=False)
    a.outbox.items.clear()
    peer = b.service.trust.peer("coopaname")
    assert peer is not None
    blobs = await a.log.read("coopaname", 0, 100)
    result = await b.service.replicator.apply("coopaname", blobs[3:], source=peer)
    assert result.gap and result.head == 0 and not b.log.entries.get("coopaname")
    # a push of only the newest entry: the deliverer sees the peer is behind and fills from its head
    await a.publish("profile", "m-new", {"display_name": "New"})
    await eventually(lambda: holds(b, "coopaname", 7))


async def test_forged_entries_are_refused_and_change_nothing(
    network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    await network.connect_all()
    await eventually(lambda: holds(b, "coopaname", 1))
    intruder = SigningKey.from_seed(b"\x66" * 32)
    heads = await b.log.heads()
    seq, prev = heads["coopaname"]
    forged = MemoryNode("coopaname", 0x66, network.clock)
    forged.key = intruder
    blob = forged.sign("profile", "m-evil", PROFILE, seq + 1, prev)
    caplog.set_level(logging.WARNING)
    status, _ = await post_signed(network, a, b, "/federation/v1/push", [blob])
    assert status == 401
    assert (
        "refused POST /federation/v1/push from coopaname" in caplog.text and "unknown_key" in caplog.text.lower()
    ) or ("no key" in caplog.text)
    assert (await b.log.heads())["coopaname"][0] == seq
    # a record claiming another origin, sent by coopaname
    c_blob = MemoryNode("oxalis", 9, network.clock).sign("profile", "x", PROFILE, 1, None)
    status, _ = await post_signed(network, a, b, "/federation/v1/push", [c_blob], nonce="another-nonce-0123456")
    assert status in (401, 400)
    assert "oxalis" not in b.log.entries


async def post_signed(
    network: Network,
    sender: MemoryNode,
    receiver: MemoryNode,
    path: str,
    payload: object,
    *,
    time: int | None = None,
    nonce: str = "abcdefghijklmnopqrstuvwx",
    key: SigningKey | None = None,
    destination: str | None = None,
    tamper: bytes | None = None,
) -> tuple[int, str]:
    body = canonical.encode(payload)
    headers = sign_request(
        key or sender.key,
        method="POST",
        path=path,
        origin=sender.name,
        destination=destination or receiver.name,
        time=network.clock() if time is None else time,
        nonce=nonce,
        body=body,
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(receiver.url + path, data=tamper if tamper is not None else body, headers=headers) as response,
    ):
        return response.status, (await response.read()).decode("utf-8", "replace")


async def test_request_signature_refusals(network: Network, caplog: pytest.LogCaptureFixture) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    await network.connect_all()
    stranger = MemoryNode("intrus", 7, network.clock)
    entry = await a.log.read("coopaname", 0, 1)
    caplog.set_level(logging.WARNING)
    cases = [
        (dict(nonce="n" * 20), 200, None),
        (dict(nonce="n" * 20), 409, "replayed"),
        (dict(nonce="o" * 20, time=network.clock() - 400_000), 401, "stale"),
        (dict(nonce="p" * 20, tamper=canonical.encode([])), 400, "body_mismatch"),
        (dict(nonce="q" * 20, destination="oxalis"), 400, "malformed"),
        (dict(nonce="r" * 20, key=SigningKey.from_seed(b"\x55" * 32)), 401, "unknown_key"),
    ]
    for kwargs, status, code in cases:
        got, text = await post_signed(network, a, b, "/federation/v1/push", entry, **kwargs)  # type: ignore[arg-type]
        assert got == status, (kwargs, text)
        if code:
            assert code in text
    got, text = await post_signed(network, stranger, b, "/federation/v1/push", entry, nonce="s" * 20)
    assert got == 403 and "unknown_peer" in text
    b.service.trust.peer("coopaname").status = "suspended"  # type: ignore[union-attr]
    got, text = await post_signed(network, a, b, "/federation/v1/push", entry, nonce="t" * 20)
    assert got == 403 and "suspended_peer" in text
    async with aiohttp.ClientSession() as session, session.get(b.url + "/federation/v1/heads") as response:
        assert response.status == 400  # unsigned
    assert caplog.text.count("refused") >= 8


async def test_fork_is_detected_kept_out_and_reported(network: Network, caplog: pytest.LogCaptureFixture) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    c = await network.add("oxalis", 3)
    await network.connect_all()
    await eventually(lambda: holds(b, "coopaname", 1))
    await eventually(lambda: holds(c, "coopaname", 1))
    _, prev = (await a.log.heads())["coopaname"]
    one = a.sign("profile", "m-1", {"display_name": "Version A"}, 2, prev)
    two = a.sign("profile", "m-1", {"display_name": "Version B"}, 2, prev)
    pa, pc = b.service.trust.peer("coopaname"), c.service.trust.peer("coopaname")
    assert pa is not None and pc is not None
    await b.service.replicator.apply("coopaname", [one], source=pa)
    await c.service.replicator.apply("coopaname", [two], source=pc)
    caplog.set_level(logging.ERROR)
    await b.service.replicator.sync_from(b.service.trust.peer("oxalis"))  # type: ignore[arg-type]
    assert len(b.log.forks) == 1
    fork = b.log.forks[0]
    assert (fork.origin, fork.seq, fork.reported_by) == ("coopaname", 2, "oxalis")
    assert fork.ours == one and fork.theirs == two
    assert b.log.entries["coopaname"][2] == one
    assert "FORK" in caplog.text


async def test_private_message_goes_to_its_node_only(network: Network) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    c = await network.add("oxalis", 3)
    await network.connect_all()
    body = {"to_node": "smart", "to_member": "m-karim", "from_member": "m-amelie", "text": "Bonjour !"}
    blob = a.sign("message", "msg-1", body, 1, None)
    await a.outbox.enqueue("smart", "direct", blob, network.clock())
    a.service.notify()
    await eventually(lambda: ("coopaname", "msg-1") in b.inbox.messages)
    assert not c.inbox.messages and "msg-1" not in str(c.log.entries)
    # delivered twice: stored once
    status, text = await post_signed(network, a, b, "/federation/v1/messages", blob, nonce="m" * 20)
    assert status == 200 and not c.inbox.messages and len(b.inbox.messages) == 1
    # addressed elsewhere, or to nobody
    status, _ = await post_signed(network, a, c, "/federation/v1/messages", blob, nonce="n" * 20)
    assert status == 400
    nobody = a.sign("message", "msg-2", {**body, "to_member": "nobody"}, 1, None)
    status, text = await post_signed(network, a, b, "/federation/v1/messages", nobody, nonce="o" * 20)
    assert status == 404 and "unknown_recipient" in text


async def test_outbox_survives_a_dead_peer_and_backs_off(network: Network) -> None:
    a = await network.add("coopaname", 1)
    await network.add("smart", 2)
    await network.connect_all()
    await network.servers["smart"].close()
    await a.publish("profile", "m-1", PROFILE)
    await eventually(lambda: any(item.attempts >= 1 for item in a.outbox.items.values()))
    assert a.outbox.items, "nothing is dropped while the peer is a member"
    assert any(err for (name, _, err) in a.peer_store.contacts if name == "smart")
    import random

    rng = random.Random(1)
    delays = [backoff_ms(n, rng) for n in range(12)]
    assert all(250 <= delays[0] <= 500 for _ in [0])
    assert delays[10] >= 150_000 and max(delays) <= 300_000
    assert len({backoff_ms(3, random.Random(s)) for s in range(20)}) > 5  # jitter


async def test_join_with_an_invitation(network: Network) -> None:
    a = await network.add("coopaname", 1)
    d = await network.add("scop-ti", 4)
    await network.connect_all()
    a.invitations.create("secret-token-123")
    peer = await d.service.join(a.url, "secret-token-123")
    assert peer.name == "coopaname"
    assert "scop-ti" in a.peer_store.peers and a.service.trust.peer("scop-ti") is not None
    with pytest.raises(Exception, match="expired"):
        await d.service.join(a.url, "secret-token-123")  # used
    seq = await d.publish("profile", "m-1", PROFILE)
    await eventually(lambda: holds(a, "scop-ti", seq))


async def test_revoked_key_entries_are_refused(network: Network) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    await network.connect_all()
    await eventually(lambda: holds(b, "coopaname", 1))
    new_key = SigningKey.from_seed(b"\x11" * 32)
    old = a.key
    # rotation: a document signed by the old key adds the new one
    await a.publish(
        "node",
        "node",
        {
            "name": "coopaname",
            "display_name": "Coopaname",
            "url": a.url,
            "keys": [
                {"kid": old.kid, "public_key": old.public_bytes, "not_before": 0},
                {"kid": new_key.kid, "public_key": new_key.public_bytes, "not_before": 0},
            ],
        },
    )
    await eventually(lambda: holds(b, "coopaname", 2))
    a.key = new_key
    revoked_at = network.clock()
    await a.publish("key_revocation", "rev-1", {"kid": old.kid, "revoked_at": revoked_at, "reason": "compromised"})
    await eventually(lambda: holds(b, "coopaname", 3))
    # the thief signs with the old key after the revocation: refused everywhere that applied the revocation
    heads = await b.log.heads()
    seq, prev = heads["coopaname"]
    network.clock.now += 10
    a.key = old
    stolen = a.sign("profile", "m-evil", PROFILE, seq + 1, prev)
    peer = b.service.trust.peer("coopaname")
    assert peer is not None
    with pytest.raises(Exception, match="revoked"):
        await b.service.replicator.apply("coopaname", [stolen], source=peer)
    assert (await b.log.heads())["coopaname"][0] == seq


# ------------------------------------------------------------------ conditional heads (issue 18, idle pulls)


async def test_an_idle_pull_is_a_304_and_a_change_is_pulled(network: Network) -> None:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    await network.connect_all()
    await a.publish("profile", "m-1", {"display_name": "M 1"})

    async def quiet() -> bool:  # the background pushes and first syncs done: the heads stay as they are
        return await holds(a, "smart", 1) and await holds(b, "coopaname", 2) and not a.outbox.items | b.outbox.items

    await eventually(quiet)
    answers: list[bool] = []  # True: the heads came back (200); False: unchanged (304)
    shared = b.service.replicator.client
    # b's own client, for this replicator only
    client = PeerClient(None, shared.key, shared.origin, shared.clock, exchange=shared.exchange)
    original = client.heads_if_changed

    async def spy(peer: Peer, etag: str | None) -> tuple[dict[str, tuple[int, bytes]] | None, str | None]:
        heads, new_etag = await original(peer, etag)
        answers.append(heads is not None)
        return heads, new_etag

    client.heads_if_changed = spy  # type: ignore[method-assign]
    replicator = Replicator(b.log, b.peer_store, b.service.trust, client, network.clock)
    source = b.service.trust.peer("coopaname")
    assert source is not None
    await replicator.sync_from(source)  # the first round: the heads, then the pull (unless a push was first)
    assert await holds(b, "coopaname", 2)
    assert await replicator.sync_from(source) == 0
    assert answers == [True, False]  # nothing changed: a 304, nothing compared or pulled
    await a.publish("profile", "m-2", {"display_name": "M 2"}, notify=False)
    await replicator.sync_from(source)
    assert answers[-1] is True and await holds(b, "coopaname", 3)  # the heads moved: a 200 (and the pull)
    # an origin the peer holds that we did not take (not a member for us) is taken once it is one
    c = await network.add("oxalis", 3)
    await network.connect_all()
    await c.publish("profile", "o-1", {"display_name": "O 1"}, notify=False)
    await eventually(lambda: holds(a, "oxalis", 2))
    oxalis = b.service.trust.peer("oxalis")
    assert oxalis is not None
    oxalis.status = "suspended"
    held_before = await holds(b, "oxalis", 2)
    await replicator.sync_from(source)  # a's heads now show oxalis, which b skips
    assert await replicator.sync_from(source) == 0 and answers[-1] is False  # idle
    oxalis.status = "member"
    await replicator.sync_from(source)
    assert answers[-1] is True  # the whole round again, for oxalis's records
    assert held_before or await holds(b, "oxalis", 2)


async def _head(node: MemoryNode) -> int:
    return (await node.log.heads())["coopaname"][0]


def test_the_heads_etag_vectors_of_the_protocol() -> None:
    from federation.service import heads_etag

    assert heads_etag(canonical.encode({})) == '"76be8b528d0075f7aae98d6fa57a6d3c"'
    two = canonical.encode({"coopaname": [2, b"\x11" * 32], "smart": [7, b"\x22" * 32]})
    assert two.hex() == "82a9636f6f70616e616d659202c420" + "11" * 32 + "a5736d6172749207c420" + "22" * 32
    assert heads_etag(two) == '"f3a533d1c470b242b7a8006c6227372d"'
