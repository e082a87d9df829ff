"""Key rotation, revocation and fork repair between in-memory nodes over real HTTP (issue 12, items 1, 2 and 4).

The thief of these tests holds Coopaname's old key and signs whatever it likes with it, at any position and any
date; it reaches the other nodes either as Coopaname itself (a request signed with the stolen key) or through an
honest node that relays what it was given (a request signed by that node's own key).
"""

from __future__ import annotations

import functools
import logging

import pytest

from federation.ports import PeerKey, peer_key_from_json, peer_key_to_json
from protocol import Record, SigningKey, UnknownKeyError, decode_entry

from .conftest import Network, eventually
from .fakes import MemoryNode
from .test_replication import holds, post_signed

PUSH = "/federation/v1/push"
FAKE = {"display_name": "Faux profil", "bio": "Escroquerie"}
DAY = 86_400_000


async def three(network: Network) -> tuple[MemoryNode, MemoryNode, MemoryNode]:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    c = await network.add("oxalis", 3)
    await network.connect_all()
    await a.publish("profile", "m-amelie", {"display_name": "Amélie Durand"})
    for node in (b, c):
        await eventually(functools.partial(holds, node, "coopaname", 2))
    return a, b, c


async def converged(origin: str, *nodes: MemoryNode) -> bool:
    logs = [await n.log.read(origin, 0, 10_000) for n in nodes]
    return all(log == logs[0] for log in logs[1:])


def forks_of(*nodes: MemoryNode) -> list[tuple[str, str, int]]:
    return [(n.name, f.origin, f.seq) for n in nodes for f in n.log.forks]


# ------------------------------------------------------------------------------------ rotation (item 1)


async def test_rotate_then_push_with_the_old_key_is_refused_everywhere_without_a_fork(
    network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    a, b, c = await three(network)
    old, new = a.key, SigningKey.from_seed(b"\x21" * 32)
    before = network.clock()
    network.clock.now += 1000
    # rotate and revoke at once (the operators' guide advice after a leak); the push is signed with the NEW key,
    # which the peers learn from the hand-over inside that very push, checked with the old key they trust
    caplog.set_level(logging.WARNING)
    rotation = await a.hand_over(new)
    for node in (b, c):
        await eventually(functools.partial(holds, node, "coopaname", rotation + 1))
    await eventually(lambda: not a.outbox.items)  # confirmed by the peers: taken on arrival
    assert a.peer_store.refusals == [] and "refused POST /federation/v1/push from coopaname" not in caplog.text
    heads = {n.name: (await n.log.heads())["coopaname"] for n in (b, c)}
    seq, prev = heads["smart"]
    network.clock.now += 10
    # 1. the thief pushes as Coopaname, with the stolen key: the request itself is refused
    stolen = a.forge(old, "profile", "m-fake", FAKE, seq + 1, prev, ts=before)
    status, text = await post_signed(network, a, b, PUSH, [stolen], key=old, nonce="thief-1-abcdefghijkl")
    assert status == 401 and "key_not_valid" in text and "revoked" in text, text
    # 2. an honest node relays the same entry, dated before the rotation: refused (the chain position decides)
    for n, (receiver, relay) in enumerate(((b, c), (c, b))):
        status, text = await post_signed(network, relay, receiver, PUSH, [stolen], nonce=f"relay-{n}-abcdefghijklm")
        assert status == 401 and "key_not_valid" in text and "signs nothing after seq" in text, text
    # 3. a competing entry at the hand-over's own seq, and 4. at an earlier seq (a fork of history), backdated:
    # refused as entries of a revoked key, not taken for forks
    first = await b.log.entry("coopaname", 1)
    assert first is not None
    at_rotation = a.forge(old, "profile", "m-fake", FAKE, rotation, decode_entry(first).hash, ts=before)
    history = a.forge(old, "profile", "m-fake", FAKE, 2, decode_entry(first).hash, ts=before)
    thief = SigningKey.from_seed(b"\x66" * 32)
    counter = a.forge(thief, "node", "node", a.handover_body(old, thief, rotation, prev), rotation, prev, ts=before)
    for n, blob in enumerate((at_rotation, history, counter)):
        status, text = await post_signed(network, c, b, PUSH, [blob], nonce=f"fork-{n}-abcdefghijklmn")
        assert status == 401 and "key_not_valid" in text, (n, text)
    # nothing changed, no fork anywhere, and Coopaname's real records still flow
    assert {n.name: (await n.log.heads())["coopaname"] for n in (b, c)} == heads
    assert forks_of(a, b, c) == []
    after = await a.publish("profile", "m-new", {"display_name": "Nouvelle clé"})
    for node in (b, c):
        await eventually(functools.partial(holds, node, "coopaname", after))
    assert await converged("coopaname", a, b, c)
    assert "FORK" not in caplog.text


async def test_a_hand_over_is_checked_on_arrival(network: Network) -> None:
    a, b, _ = await three(network)
    new = SigningKey.from_seed(b"\x21" * 32)
    seq, prev = (await a.log.heads())["coopaname"]
    peer = b.service.trust.peer("coopaname")
    assert peer is not None
    # cross-signed for another position: the old key's statement does not cover it
    wrong = a.handover_body(a.key, new, seq + 2, prev)
    blob = a.forge(new, "node", "node", wrong, seq + 1, prev)
    with pytest.raises(Exception, match="bad_signature"):
        await b.service.replicator.apply("coopaname", [blob], source=peer)
    # cross-signed by a key that is not Coopaname's
    other = SigningKey.from_seed(b"\x33" * 32)
    blob = a.forge(new, "node", "node", a.handover_body(other, new, seq + 1, prev), seq + 1, prev)
    with pytest.raises(Exception, match="unknown_key"):
        await b.service.replicator.apply("coopaname", [blob], source=peer)
    # the real one
    blob = a.forge(new, "node", "node", a.handover_body(a.key, new, seq + 1, prev), seq + 1, prev)
    result = await b.service.replicator.apply("coopaname", [blob], source=peer)
    assert result.head == seq + 1
    old_window = b.service.trust.resolve("coopaname", a.key.kid)
    new_window = b.service.trust.resolve("coopaname", new.kid)
    assert (old_window.last_seq, new_window.first_seq) == (seq, seq + 1)
    saved = b.peer_store.peers["coopaname"].keys
    assert {k.public_key for k in saved} == {a.key.public_bytes, new.public_bytes}


# --------------------------------------------------------------------------------- backdating (item 2)


async def test_a_backdated_record_of_a_revoked_key_relayed_by_an_honest_node_is_refused(network: Network) -> None:
    """The rotation of the nodes of today (a version 1.0 document signed by the old key that adds the new one,
    then a revocation signed by the new key): the revoked key stops at the revocation's seq, whatever it dates."""
    a, b, c = await three(network)
    old, new = a.key, SigningKey.from_seed(b"\x21" * 32)
    keys = [
        {"kid": old.kid, "public_key": old.public_bytes, "not_before": 0},
        {"kid": new.kid, "public_key": new.public_bytes, "not_before": 0},
    ]
    await a.publish("node", "node", a.document(keys))
    a.key = new
    network.clock.now += 1000
    revoked_at = network.clock()
    seq = await a.publish(
        "key_revocation", "rev-1", {"kid": old.kid, "revoked_at": revoked_at, "reason": "compromised"}
    )
    for node in (b, c):
        await eventually(functools.partial(holds, node, "coopaname", seq))
    head, prev = (await c.log.heads())["coopaname"]
    backdated = a.forge(old, "profile", "m-fake", FAKE, head + 1, prev, ts=revoked_at - 1)
    status, text = await post_signed(network, c, b, PUSH, [backdated])  # oxalis relays it
    assert status == 401 and "key_not_valid" in text, text
    assert (await b.log.heads())["coopaname"][0] == head
    assert "m-fake" not in b.log.state("coopaname")


# --------------------------------------------------------------------------------- fork repair (item 4)


async def theft_before_the_rotation(
    network: Network,
) -> tuple[MemoryNode, MemoryNode, MemoryNode, bytes, int]:
    """The thief gets a fake profile into SMart (as Coopaname, with the stolen key) before Coopaname notices;
    Oxalis takes it from SMart by anti-entropy. Coopaname, which never saw it, then rotates and revokes: its
    hand-over takes the same seq as the fake profile. Returns the nodes, the thief's entry, the hand-over's seq."""
    a, b, c = await three(network)
    old = a.key
    seq, prev = (await a.log.heads())["coopaname"]
    fake = a.forge(old, "profile", "m-fake", FAKE, seq + 1, prev)
    status, _ = await post_signed(network, a, b, PUSH, [fake], key=old, nonce="thief-abcdefghijklmnop")
    assert status == 200
    await c.service.anti_entropy()
    assert "m-fake" in b.log.state("coopaname") and "m-fake" in c.log.state("coopaname")
    new = SigningKey.from_seed(b"\x21" * 32)
    network.clock.now += 1000
    rotation = await a.hand_over(new, notify=False)
    return a, b, c, fake, rotation


async def repair(a: MemoryNode, seq: int, *, notify: bool = True) -> int:
    entry = await a.log.entry("coopaname", seq)
    assert entry is not None
    body = {"seq": seq, "hash": decode_entry(entry).hash, "reason": "compromised", "text": "clé volée"}
    return await a.publish("fork_repair", f"repair-{seq}", body, notify=notify)


async def test_a_fork_repair_converges_every_node_by_pull(network: Network, caplog: pytest.LogCaptureFixture) -> None:
    a, b, c, fake, rotation = await theft_before_the_rotation(network)
    caplog.set_level(logging.WARNING)
    # without a repair, Coopaname's real branch is a fork: kept out, reported, the fake profile stays
    a.outbox.items.clear()
    await b.service.anti_entropy()
    assert ("smart", "coopaname", rotation) in forks_of(b)
    assert "m-fake" in b.log.state("coopaname")
    # Coopaname names its branch, signed by its new key (whose hand-over its old key signed, before the theft
    # was known anywhere): every node drops the thief's entry and takes Coopaname's branch
    head = await repair(a, rotation, notify=False)
    a.outbox.items.clear()
    for node in (b, c):
        await node.service.anti_entropy()
        assert (await node.log.heads())["coopaname"][0] == head, node.name
        assert "m-fake" not in node.log.state("coopaname")
    assert await converged("coopaname", a, b, c)
    assert "FORK REPAIRED: coopaname stands by its branch from seq" in caplog.text
    # the old key is revoked everywhere now: the thief's entry, relayed again, is refused (no new fork)
    forks = forks_of(b, c)
    status, text = await post_signed(network, c, b, PUSH, [fake], nonce="again-abcdefghijklmnop")
    assert status == 401 and "key_not_valid" in text, text
    assert forks_of(b, c) == forks
    # and nothing blocks Coopaname any more
    later = await a.publish("profile", "m-later", {"display_name": "Après"})
    for node in (b, c):
        await eventually(functools.partial(holds, node, "coopaname", later))


async def test_a_fork_repair_converges_a_node_that_hears_it_by_push(network: Network) -> None:
    a, b, c, _, rotation = await theft_before_the_rotation(network)
    await repair(a, rotation)  # pushed: each peer refuses the push (a fork), then fetches the branch itself
    for node in (b, c):
        await eventually(lambda node=node: converged("coopaname", a, node))
        assert "m-fake" not in node.log.state("coopaname")
        assert node.log.replaced == [("coopaname", rotation, 1, 3)]
    # the refused push was final for Coopaname's outbox (the peers fetched the branch themselves)
    assert sorted((name, "409 fork" in reason) for name, _, reason, _ in a.peer_store.refusals) == [
        ("oxalis", True),
        ("smart", True),
    ]
    assert not a.outbox.items


async def test_a_repair_signed_by_a_key_the_receiver_holds_revoked_does_not_win(network: Network) -> None:
    """The thief rotated and revoked in its own branch too: for SMart, which holds that branch, Coopaname's old
    key is revoked, so Coopaname's repair (authorised through it) weighs nothing there. The network's key
    recovery decision gives Coopaname's new key the network's authority, and SMart converges."""
    a, b, c = await three(network)
    old = a.key
    seq, prev = (await a.log.heads())["coopaname"]
    thief = SigningKey.from_seed(b"\x66" * 32)
    takeover = a.forge(thief, "node", "node", a.handover_body(old, thief, seq + 1, prev), seq + 1, prev)
    revocation = a.forge(
        thief,
        "key_revocation",
        "revocation-old",
        {"kid": old.kid, "revoked_at": network.clock(), "reason": "compromised"},
        seq + 2,
        decode_entry(takeover).hash,
    )
    peer = b.service.trust.peer("coopaname")
    assert peer is not None
    await b.service.replicator.apply("coopaname", [takeover, revocation], source=peer)
    new = SigningKey.from_seed(b"\x21" * 32)
    rotation = await a.hand_over(new, notify=False)
    a.outbox.items.clear()
    await repair(a, rotation, notify=False)
    a.outbox.items.clear()
    await b.service.anti_entropy()
    assert decode_entry(b.log.entries["coopaname"][seq + 1]).header.kid == thief.kid, "no authority: kept"
    # the network votes Coopaname's new key in
    await c.publish(
        "proposal",
        "p-recover",
        {
            "kind": "key_recovery",
            "subject": "coopaname",
            "deadline": network.clock() + DAY,
            "new_key": new.public_bytes,
        },
    )
    ref = "oxalis/p-recover"
    await eventually(lambda: ref in b.service.governance.cases)
    await b.publish("admission_vote", "v-recover", {"proposal": ref, "decision": "yes"})
    await c.publish("admission_vote", "v-recover", {"proposal": ref, "decision": "yes"})
    await eventually(lambda: converged("coopaname", a, b))
    with pytest.raises(UnknownKeyError):  # the thief's key came with the dropped branch and left with it
        b.service.trust.resolve("coopaname", thief.kid)
    assert b.service.trust.resolve("coopaname", old.kid).revoked
    assert not b.service.trust.resolve("coopaname", new.kid).revoked


async def test_a_restored_backup_is_repaired_with_the_same_key(network: Network) -> None:
    """No theft: Coopaname restored an old backup and published other entries at seqs the network held. Its
    repair is signed by its unrevoked key, valid before the fork: that is enough."""
    a, b, c = await three(network)
    lost = await a.publish("offer", "o-lost", {"purpose": "offer", "title": "Perdue", "status": "open"})
    for node in (b, c):
        await eventually(functools.partial(holds, node, "coopaname", lost))
    del a.log.entries["coopaname"][lost]  # the restore
    a.outbox.items.clear()
    network.clock.now += 1000
    await a.publish("offer", "o-new", {"purpose": "offer", "title": "Refaite", "status": "open"}, notify=False)
    await repair(a, lost)
    for node in (b, c):
        await eventually(lambda node=node: converged("coopaname", a, node))
        assert "o-lost" not in node.log.state("coopaname") and "o-new" in node.log.state("coopaname")


async def test_a_repair_that_names_another_chain_is_refused(network: Network) -> None:
    a, b, _ = await three(network)
    seq, _ = (await a.log.heads())["coopaname"]
    body = {"seq": seq, "hash": b"\x00" * 32, "reason": "restored"}
    await a.publish("fork_repair", "repair-bad", body, notify=False)
    peer = b.service.trust.peer("coopaname")
    assert peer is not None
    with pytest.raises(Exception, match="names entry"):
        await b.service.replicator.apply("coopaname", await a.log.read("coopaname", seq, 10), source=peer)
    assert (await b.log.heads())["coopaname"][0] == seq


async def test_entries_of_a_revoked_key_need_a_valid_key_to_vouch_for_them(network: Network) -> None:
    """After a key recovery the old key is revoked with no chain position to stop it at: what it signed is
    taken only in a run that an entry of a valid key closes (through the hash chain it proves them)."""
    a, b, _ = await three(network)
    old, new = a.key, SigningKey.from_seed(b"\x21" * 32)
    seq, prev = (await a.log.heads())["coopaname"]
    # Coopaname's own entries, signed with its old key before it lost it, that SMart has not received yet
    history = []
    for i in range(5):
        blob = a.forge(old, "profile", f"m-{i}", {"display_name": f"Membre {i}"}, seq + 1 + i, prev)
        history.append(blob)
        prev = decode_entry(blob).hash
    network.clock.now += 1000
    b.service.trust.recover("coopaname", new.public_bytes, network.clock())  # the network's decision
    peer = b.service.trust.peer("coopaname")
    assert peer is not None
    result = await b.service.replicator.apply("coopaname", history, source=peer)
    assert (result.head, result.applied, result.unproven) == (seq, 0, 5)
    # the same run closed by an entry of the recovered key: all taken
    closing = a.forge(new, "profile", "m-new", {"display_name": "Nouvelle clé"}, seq + 6, prev)
    result = await b.service.replicator.apply("coopaname", [*history, closing], source=peer)
    assert (result.head, result.applied, result.unproven) == (seq + 6, 6, 0)
    # a pull carries the unproven entries over pages until the vouching entry comes
    c = await network.add("scop-ti", 4)
    await b.peer_store.save_peer(c.as_peer())
    await b.service.reload_peers()
    await c.peer_store.save_peer(a.as_peer())
    await c.peer_store.save_peer(b.as_peer())
    c.peer_store.peers["coopaname"].direct = False  # scop-ti pulls from SMart only
    await c.service.start()
    c.service.trust.recover("coopaname", new.public_bytes, network.clock())
    c.service.replicator.page = 2
    smart = c.service.trust.peer("smart")
    assert smart is not None
    await c.service.replicator.sync_from(smart)
    assert (await c.log.heads())["coopaname"][0] == seq + 6


async def test_a_run_stored_while_a_key_recovery_was_decided_keeps_the_recovery(network: Network) -> None:
    """The key state a run was verified on is a copy; if the network recovers a key meanwhile, committing the
    run's state must not undo the recovery (the run's effects go onto the state as it is now)."""
    a, b, _ = await three(network)
    trust = b.service.trust
    basis, keys = trust.generation("coopaname"), trust.keys("coopaname")
    new = SigningKey.from_seed(b"\x21" * 32)
    seq, prev = (await a.log.heads())["coopaname"]
    document = a.forge(
        a.key,
        "node",
        "node",
        a.document(
            [{"kid": a.key.kid, "public_key": a.key.public_bytes, "not_before": 0, "not_after": network.clock() + 5}]
        ),
        seq + 1,
        prev,
    )
    entry = decode_entry(document)
    keys.apply(entry, entry.body_value())
    trust.recover("coopaname", new.public_bytes, network.clock())  # decided while the run was being stored
    trust.commit("coopaname", keys, basis=basis, records=[Record(entry, entry.body_value())])
    assert trust.resolve("coopaname", new.kid).first_seq == 1  # the recovery stays
    assert trust.resolve("coopaname", a.key.kid).last_seq == seq + 1  # and the run's effect is there too


def test_peer_keys_persist_with_their_history_and_rows_of_release_1_0_still_load() -> None:
    legacy = {"public_key": "ab" * 32, "not_before": 5, "not_after": 10, "revoked_at": None}
    key = peer_key_from_json(legacy)
    assert (key.not_before, key.not_after, key.first_seq, key.last_seq, key.since, key.events) == (
        5,
        10,
        1,
        None,
        0,
        [],
    )
    narrowed = PeerKey(b"\xab" * 32, 0, None, None, 1, None, 4, "0123456789abcdef", None, [(7, "last_seq", 6)])
    stored = peer_key_to_json(narrowed)
    assert stored["last_seq"] == 6 and stored["base"] == {"not_after": None, "revoked_at": None, "last_seq": None}
    assert peer_key_from_json(stored) == narrowed
