"""Key rotation, revocation and fork repair against real node processes (issue 12, items 1, 2 and 4).

The thief holds Coopaname's old signing key, read from Coopaname's folder before the rotation. It signs entries
with it at any position and date, and reaches a node either as Coopaname (a request signed with the stolen key)
or through an honest node that relays them (a request signed by that node's own key, as SMart or Oxalis would
relay what they were given).
"""

from __future__ import annotations

import functools

from protocol import SigningKey, canonical, decode_entry

from .cluster import Answer, Cluster, Node, eventually, hand_over, next_entry, now_ms

PUSH = "/federation/v1/push"
FAKE = {"display_name": "Faux Escroqueur", "bio": "Arnaque aux devis", "public": []}


def refused(answer: Answer, code: str = "key_not_valid") -> bool:
    assert (answer.status, answer.error_code()) == (401, code), (answer.status, answer.body[:300])
    return True


def holds(node: Node, seq: int) -> bool:
    return node.heads().get("coopaname", 0) >= seq


def found_fake(node: Node) -> bool:
    return any(hit[1] == "coopaname" and hit[2].startswith("fake") for hit in node.found("Escroqueur"))


def test_rotate_then_push_with_the_old_key_is_refused_everywhere_without_a_fork(cluster: Cluster) -> None:
    cluster.build(members=4)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    first = smart.federation_heads("oxalis")["coopaname"]
    before_rotation = now_ms()
    # the operator rotates and revokes at once; the node pushes the hand-over signed with its NEW key as soon as
    # it starts, and its peers take it on arrival (they check it with the old key they trust)
    coopaname.stop()
    old, new, rotation = hand_over(coopaname, revoke=True)
    coopaname.start()
    coopaname.wait_healthy()
    # what it published at start (the hand-over, the revocation, and its document as its key files now say it,
    # published once it checked its own log with its peers) reaches both
    own = max(rotation + 1, coopaname.heads()["coopaname"])
    for node in (smart, oxalis):
        eventually(functools.partial(holds, node, own), 30, what=f"the hand-over on {node.name}")
    head = smart.federation_heads("oxalis")["coopaname"]
    assert oxalis.federation_heads("smart")["coopaname"] == head
    for node in (smart, oxalis):  # the push signed with the new key was understood, not refused
        assert "refused POST /federation/v1/push from coopaname" not in node.log_text()
    # at once, the thief
    stolen_next = next_entry(old, origin="coopaname", after=head, record_id="fake-1", body=FAKE, ts=before_rotation)
    held = smart.log_of("coopaname")
    at_rotation = next_entry(
        old,
        origin="coopaname",
        after=(rotation - 1, held[rotation - 2][1]),
        record_id="fake-2",
        body=FAKE,
        ts=before_rotation,
    )
    history = next_entry(
        old,
        origin="coopaname",
        after=(first[0] - 1, held[first[0] - 2][1]),
        record_id="fake-3",
        body=FAKE,
        ts=before_rotation - 60_000,
    )
    for receiver, relay in ((smart, oxalis), (oxalis, smart)):
        # as Coopaname, with the stolen key: the request is refused
        assert refused(receiver.signed("coopaname", "POST", PUSH, [stolen_next], key=old))
        # relayed by an honest node: refused, after the hand-over, at its seq, and at an earlier seq (backdated)
        for blob in (stolen_next, at_rotation, history):
            assert refused(receiver.signed(relay.name, "POST", PUSH, [blob]))
        receiver.wait_log("refused POST /federation/v1/push from", "signs nothing after seq")
    # nothing taken, no fork anywhere, and Coopaname's own records (new key) still reach everyone
    assert smart.federation_heads("oxalis")["coopaname"] == head
    assert all(n.forks() == [] for n in (coopaname, smart, oxalis))
    offer = coopaname.create_offer("Charpente bois, clé neuve")
    for node in (smart, oxalis):
        node.wait_found("Charpente", ("offer", "coopaname", offer))
    cluster.wait_converged()
    assert all(n.forks() == [] for n in (coopaname, smart, oxalis))
    assert not any(found_fake(n) for n in (coopaname, smart, oxalis))
    for node in (smart, oxalis):
        key = node.sql("SELECT keys FROM peers WHERE name='coopaname'")[0][0]
        assert new.public_bytes.hex() in key and old.public_bytes.hex() in key


def test_a_fork_repair_converges_every_node(cluster: Cluster) -> None:
    cluster.build(members=4)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    # Coopaname is away; the thief, with its stolen key, gets a fake profile into SMart as Coopaname, and
    # Oxalis takes it from SMart: the fake member shows in both nodes' searches
    coopaname.stop()
    old = coopaname.key()
    head = smart.federation_heads("oxalis")["coopaname"]
    fake = next_entry(old, origin="coopaname", after=head, record_id="fake-1", body=FAKE)
    answer = smart.signed("coopaname", "POST", PUSH, [fake], key=old)
    assert answer.status == 200 and canonical.decode(answer.body) == {"head": head[0] + 1}, answer.body
    for node in (smart, oxalis):
        eventually(functools.partial(found_fake, node), 30, what=f"the fake profile on {node.name}")
    # Coopaname comes back: it rotates, revokes the stolen key and names its branch (its hand-over took the
    # seq the thief used); it pushes them, and its peers fetch its branch and switch
    _, new, rotation = hand_over(coopaname, revoke=True, repair=True)
    assert rotation == head[0] + 1
    coopaname.start()
    coopaname.wait_healthy()
    cluster.wait_converged(within=90)
    for node in (smart, oxalis):
        assert not found_fake(node)
        assert [(f["origin"], f["seq"]) for f in node.forks()] == [("coopaname", rotation)]  # the evidence stays
        node.wait_log("FORK REPAIRED: coopaname stands by its branch from seq", str(rotation))
        assert node.log_of("coopaname")[rotation - 1][1] == coopaname.log_of("coopaname")[rotation - 1][1]
    assert coopaname.forks() == []
    # the thief tries again through an honest node: its key is revoked now, and it is not a fork
    assert refused(smart.signed("oxalis", "POST", PUSH, [fake]))
    assert [(f["origin"], f["seq"]) for f in smart.forks()] == [("coopaname", rotation)]
    # and nothing blocks Coopaname's real records
    offer = coopaname.create_offer("Menuiserie après réparation")
    for node in (smart, oxalis):
        node.wait_found("Menuiserie", ("offer", "coopaname", offer))
    assert decode_entry(fake).header.kid == old.kid != new.kid
    assert isinstance(new, SigningKey)


def test_the_nodes_own_rotation_is_a_hand_over_its_peers_check_on_arrival(cluster: Cluster) -> None:
    """The operator's "rotate and revoke at once" through the API of the running node (docs/operators.md, If a key
    leaks): the hand-over is verified by the peers as it arrives (no refusal, no waiting for a round), and what
    the stolen key signs after it is refused everywhere, whatever date it carries, with no fork."""
    cluster.build(members=4)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    old = coopaname.key()
    before_rotation = now_ms()
    operator = coopaname.login("operator")
    rotated = coopaname.api("POST", "/api/v1/keys/rotate", token=operator)
    assert rotated.status == 201, rotated.body
    revoked = coopaname.api("POST", "/api/v1/keys/revoke", {"kid": old.kid, "reason": "compromised"}, token=operator)
    assert revoked.status == 201, revoked.body
    new_kid = rotated.json()["kid"]
    [(header, body, signature)] = coopaname.sql(
        "SELECT header, body, signature FROM entries WHERE origin = 'coopaname' AND type = 'node' ORDER BY seq DESC"
        " LIMIT 1"
    )
    hand_over_entry = decode_entry(canonical.encode({"b": body, "h": header, "s": signature}))
    rotation = hand_over_entry.header.seq
    assert hand_over_entry.header.kid == new_kid  # signed by the new key, with the old key's signature inside
    assert canonical.decode(body)["handover"]["kid"] == old.kid  # type: ignore[index,call-overload]
    head = coopaname.heads()["coopaname"]
    for node in (smart, oxalis):
        eventually(functools.partial(holds, node, head), 30, what=f"the hand-over and the revocation on {node.name}")
        assert "refused POST /federation/v1/push from coopaname" not in node.log_text()
    last = smart.log_of("coopaname")[-1]
    stolen = next_entry(old, origin="coopaname", after=last, record_id="fake-1", body=FAKE, ts=before_rotation)
    for receiver, relay in ((smart, oxalis), (oxalis, smart)):
        assert refused(receiver.signed("coopaname", "POST", PUSH, [stolen], key=old))
        assert refused(receiver.signed(relay.name, "POST", PUSH, [stolen]))
    assert all(n.forks() == [] for n in (coopaname, smart, oxalis))
    offer = coopaname.create_offer("Charpente bois, clé tournée en marche")
    for node in (smart, oxalis):
        node.wait_found("Charpente", ("offer", "coopaname", offer))
    assert all(n.forks() == [] for n in (coopaname, smart, oxalis))
    assert not any(found_fake(n) for n in (coopaname, smart, oxalis))
    assert rotation <= head


def test_an_operator_repairs_a_fork_through_the_api(cluster: Cluster) -> None:
    """The key-leak procedure of docs/operators.md on a running node: the thief's entry got in while Coopaname was
    away; its operator rotates, revokes the stolen key and names its branch (POST /api/v1/keys/repair-fork), and
    every node switches to it."""
    cluster.build(members=4)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    coopaname.stop()
    old = coopaname.key()
    head = smart.federation_heads("oxalis")["coopaname"]
    fake = next_entry(old, origin="coopaname", after=head, record_id="fake-1", body=FAKE)
    answer = smart.signed("coopaname", "POST", PUSH, [fake], key=old)
    assert answer.status == 200, answer.body
    for node in (smart, oxalis):
        eventually(functools.partial(found_fake, node), 30, what=f"the fake profile on {node.name}")
    coopaname.start()
    coopaname.wait_healthy()
    operator = coopaname.login("operator")
    assert coopaname.api("POST", "/api/v1/keys/rotate", token=operator).status == 201
    revoked = coopaname.api("POST", "/api/v1/keys/revoke", {"kid": old.kid, "reason": "compromised"}, token=operator)
    assert revoked.status == 201, revoked.body
    [(rotation,)] = coopaname.sql("SELECT max(seq) FROM entries WHERE origin = 'coopaname' AND type = 'node'")
    assert rotation == head[0] + 1  # the hand-over took the position the thief used: a fork
    unknown = coopaname.api("POST", "/api/v1/keys/repair-fork", {"seq": 10**6, "reason": "compromised"}, token=operator)
    assert unknown.status == 422, unknown.body
    repair = {"seq": rotation, "reason": "compromised", "text": "clé volée"}
    repaired = coopaname.api("POST", "/api/v1/keys/repair-fork", repair, token=operator)
    assert repaired.status == 201, repaired.body
    member = coopaname.api("POST", "/api/v1/keys/repair-fork", repair, token=coopaname.login())
    assert member.status == 403
    cluster.wait_converged(within=90)
    for node in (smart, oxalis):
        node.wait_log("FORK REPAIRED: coopaname stands by its branch from seq", str(rotation))
        assert not found_fake(node)
        assert node.log_of("coopaname")[rotation - 1][1] == coopaname.log_of("coopaname")[rotation - 1][1]
