"""Governance between in-memory nodes over real HTTP: admission by vote, refusals, suspension."""

from __future__ import annotations

import functools
import logging

import aiohttp
import pytest

from federation.errors import SuspendedPeerError
from federation.governance import DEFAULT_CHARTER
from protocol import SigningKey, canonical, decode_entry, sign_direct
from protocol.governance import check_certificate

from .conftest import Network, eventually
from .fakes import MemoryNode

DAY = 86_400_000


async def founders(network: Network) -> tuple[MemoryNode, MemoryNode, MemoryNode, MemoryNode]:
    a = await network.add("coopaname", 1)
    b = await network.add("smart", 2)
    c = await network.add("oxalis", 3)
    await network.connect_all()
    d = await network.add("scop-ti", 4)  # the candidate: knows the network, is known by nobody
    for node in (a, b, c):
        await d.peer_store.save_peer(node.as_peer())
    await d.service.start()
    return a, b, c, d


async def apply(network: Network, candidate: MemoryNode, sponsor: MemoryNode) -> str:
    request = {"node": await candidate.own_document(), "sponsor": sponsor.name, "legal_name": "SCOP-TI SA"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(sponsor.url + "/federation/v1/apply", data=canonical.encode(request)) as response,
    ):
        assert response.status == 200, await response.read()
        answer = canonical.decode(await response.read())
    assert isinstance(answer, dict)
    return str(answer["proposal"])


async def vote(node: MemoryNode, ref: str, decision: str = "yes", record_id: str | None = None) -> None:
    await node.publish(
        "admission_vote", record_id or f"v-{ref.replace('/', '-')}", {"proposal": ref, "decision": decision}
    )


def key_count_is(node: MemoryNode, name: str, count: int) -> bool:
    peer = node.service.trust.peer(name)
    return peer is not None and len(peer.keys) == count


def status(node: MemoryNode, name: str) -> str | None:
    peer = node.service.trust.peer(name)
    return peer.status if peer else None


async def test_a_coop_is_admitted_by_a_majority_and_everybody_can_check_it(network: Network) -> None:
    a, b, c, d = await founders(network)
    ref = await apply(network, d, a)
    await eventually(lambda: ref in b.service.governance.cases and ref in c.service.governance.cases)
    assert status(a, "scop-ti") is None
    await vote(a, ref)
    await vote(b, ref)
    for node in (a, b, c):
        await eventually(lambda node=node: status(node, "scop-ti") == "member")
    async with aiohttp.ClientSession() as session, session.get(f"{c.url}/federation/v1/certificates/{ref}") as response:
        assert response.status == 200
        certificate = await response.read()
    decision = check_certificate(
        certificate,
        keys=d.service.trust,
        members=["coopaname", "smart", "oxalis"],
        charter=d.service.governance.charter,
        now=network.clock(),
    )
    assert decision.tally.count("yes") == 2
    # the newcomer now federates: its records reach the founders, the founders' history reaches it
    seq = await d.publish("profile", "m-1", {"display_name": "Awa"})
    await eventually(lambda: a.log.entries.get("scop-ti", {}).get(seq) is not None)
    await d.service.anti_entropy()
    assert (await d.log.heads())["coopaname"] == (await a.log.heads())["coopaname"]


async def test_refused_votes_are_logged_and_not_counted(network: Network, caplog: pytest.LogCaptureFixture) -> None:
    a, b, c, d = await founders(network)
    ref = await apply(network, d, a)
    await eventually(lambda: ref in b.service.governance.cases)
    caplog.set_level(logging.WARNING)
    await vote(b, ref, record_id="v1")
    await vote(b, ref, decision="no", record_id="v2")  # a duplicated vote
    network.clock.now += 15 * DAY
    await vote(c, ref, record_id="v3")  # after the deadline
    await eventually(lambda: "already voted" in caplog.text)
    await eventually(lambda: "after the deadline" in caplog.text)
    await a.service.governance.tick()
    case = a.service.governance.cases[ref]
    assert case.result == "rejected"
    assert status(a, "scop-ti") is None
    # a vote from a non-member is not even accepted as a record
    d_vote = d.sign("admission_vote", "v-self", {"proposal": ref, "decision": "yes"}, 1, None)
    peer = a.service.trust.peer("coopaname")
    assert peer is not None
    with pytest.raises(Exception, match="not accepted"):
        await a.service.replicator.apply("scop-ti", [d_vote], source=peer)


async def test_a_suspended_node_s_new_records_are_refused(network: Network) -> None:
    a, b, c, _ = await founders(network)
    await a.publish(
        "proposal", "p-suspend", {"kind": "suspension", "subject": "oxalis", "deadline": network.clock() + DAY}
    )
    ref = "coopaname/p-suspend"
    await eventually(lambda: ref in b.service.governance.cases)
    await vote(a, ref)
    await vote(b, ref)
    for node in (a, b):
        await eventually(lambda node=node: status(node, "oxalis") == "suspended")
    before = (await a.log.heads()).get("oxalis")
    await c.publish("profile", "m-late", {"display_name": "Après la suspension"})
    await c.service.deliverer.stop()  # its pushes are refused; make sure nothing sneaks in by pull either
    await a.service.anti_entropy()
    assert (await a.log.heads()).get("oxalis") == before
    log_page = a.service.governance.decision_log()
    assert log_page[-1]["result"] == "accepted" and {v["voter"] for v in log_page[-1]["votes"]} == {
        "coopaname",
        "smart",
    }


async def test_a_suspended_node_s_deletions_are_still_applied(network: Network) -> None:
    """Erasure outranks governance: a member of a suspended coop who erases their account vanishes from the
    other nodes (the tombstone is verified and applied), while the coop's new records are still refused."""
    a, b, c, _ = await founders(network)
    await c.publish("profile", "m-erased", {"display_name": "Effacée bientôt"})
    await c.publish("profile", "m-kept", {"display_name": "Reste"})
    for node in (a, b):
        await eventually(lambda node=node: node.log.state("oxalis").get("m-kept") is not None)
    await a.publish(
        "proposal", "p-suspend", {"kind": "suspension", "subject": "oxalis", "deadline": network.clock() + DAY}
    )
    ref = "coopaname/p-suspend"
    await eventually(lambda: ref in b.service.governance.cases)
    await vote(a, ref)
    await vote(b, ref)
    for node in (a, b):
        await eventually(lambda node=node: status(node, "oxalis") == "suspended")
    before = (await a.log.heads())["oxalis"]
    await c.publish("profile", "m-new", {"display_name": "Après la suspension"})
    await c.publish("tombstone", "m-erased", {"target_type": "profile", "reason": "erased"})
    for node in (a, b):
        await eventually(lambda node=node: node.log.state("oxalis").get("m-erased", "x") is None)
        state = node.log.state("oxalis")
        assert state["m-kept"] is not None and "m-new" not in state
        assert (await node.log.heads())["oxalis"] == before  # the log itself stays frozen
        held = [decode_entry(blob) for blob in node.log.entries["oxalis"].values()]
        assert all(e.body is None for e in held if e.header.id == "m-erased")  # the erased body is gone
    # the pushes were answered with a refusal: the suspended node's queue does not fill up with retries
    await eventually(lambda: not [i for i in c.outbox.items.values() if i.kind == "entry"])
    # erasure receipts still reach the suspended node; anything else for it waits in the queue
    receipt = sign_direct(
        a.key,
        type="erasure_receipt",
        origin="coopaname",
        id="r-1",
        now=network.clock(),
        body={"to_node": "oxalis", "records": ["m-erased"], "erased_at": network.clock()},
    )
    message = sign_direct(
        a.key,
        type="message",
        origin="coopaname",
        id="msg-1",
        now=network.clock(),
        body={"to_node": "oxalis", "to_member": "m-kept", "from_member": "m-a", "text": "Bonjour"},
    )
    await a.outbox.enqueue("oxalis", "direct", message.encode(), network.clock())
    await a.outbox.enqueue("oxalis", "direct", receipt.encode(), network.clock())
    a.service.notify()
    await eventually(lambda: ("coopaname", "r-1") in c.inbox.messages)
    assert ("coopaname", "msg-1") not in c.inbox.messages
    assert [i.payload for i in a.outbox.items.values() if i.peer == "oxalis"] == [message.encode()]
    # a forged deletion (signed by a key oxalis never had) is not applied; the run is refused all the same
    forged = SigningKey.from_seed(b"\x77" * 32)
    c.key, real = forged, c.key
    blob = c.sign("tombstone", "m-kept", {"target_type": "profile", "reason": "erased"}, before[0] + 9, b"\x01" * 32)
    c.key = real
    peer = a.service.trust.peer("oxalis")
    assert peer is not None
    with pytest.raises(SuspendedPeerError):
        await a.service.replicator.apply("oxalis", [blob], source=peer)
    assert a.log.state("oxalis")["m-kept"] is not None


async def test_a_lost_key_is_recovered_by_vote(network: Network) -> None:
    a, b, c, _ = await founders(network)
    new_key = SigningKey.from_seed(b"\x5a" * 32)
    await b.publish(
        "proposal",
        "p-recover",
        {
            "kind": "key_recovery",
            "subject": "coopaname",
            "deadline": network.clock() + DAY,
            "new_key": new_key.public_bytes,
            "text": "Coopaname a perdu sa clé.",
        },
    )
    ref = "smart/p-recover"
    await eventually(lambda: ref in c.service.governance.cases)
    await vote(b, ref)
    await vote(c, ref)  # coopaname does not vote on its own recovery: two of two
    for node in (b, c):
        await eventually(functools.partial(key_count_is, node, "coopaname", 2))
    network.clock.now += 10
    a.key = new_key  # the recovered node signs with its new key from now on
    seq = await a.publish("profile", "m-after", {"display_name": "Après la récupération"})
    await eventually(lambda: b.log.entries.get("coopaname", {}).get(seq) is not None)


async def test_a_charter_change_then_a_suspension_that_drops_records(network: Network) -> None:
    a, b, c, _ = await founders(network)
    await c.publish("profile", "m-1", {"display_name": "Awa"})
    await eventually(lambda: "m-1" in str(b.log.entries.get("oxalis", {})) or bool(b.log.entries.get("oxalis")))
    charter = {**DEFAULT_CHARTER, "suspended_records": "drop", "suspension_rule": "majority"}
    await a.publish(
        "proposal",
        "p-charter",
        {"kind": "charter", "subject": "coopaname", "deadline": network.clock() + DAY, "charter": charter},
    )
    ref = "coopaname/p-charter"
    await eventually(lambda: ref in b.service.governance.cases)
    await vote(a, ref)
    await vote(b, ref)  # two thirds of three
    await eventually(lambda: b.service.governance.charter.get("suspended_records") == "drop")
    await a.publish(
        "proposal", "p-drop", {"kind": "suspension", "subject": "oxalis", "deadline": network.clock() + DAY}
    )
    ref = "coopaname/p-drop"
    await eventually(lambda: ref in b.service.governance.cases)
    await vote(a, ref)
    await vote(b, ref)
    await eventually(lambda: status(b, "oxalis") == "suspended")
    held = b.log.entries["oxalis"]
    assert held and all(decode_entry(blob).body is None for blob in held.values())
