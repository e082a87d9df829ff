"""Erasure through real node processes (issue 12, points 5 to 7): what a member erased leaves every node, also
when their coop is suspended, and every node that held their records answers with a signed receipt."""

from __future__ import annotations

import functools
import time
from typing import Any

from protocol import MAX_DIRECT_ENVELOPE_BYTES, KeyInfo, Keyring, decode_entry, open_direct

from .cluster import Cluster, Node, eventually

WORD = "ocelotlerase"


def share_profile(node: Node, bio: str) -> str:
    """The node's demo member shares a bio with the network; their member id."""
    token = node.login()
    changed = node.api(
        "PATCH", "/api/v1/me/profile", {"fields": {"bio": bio}, "visibility": {"bio": "network"}}, token=token
    )
    assert changed.status == 200, changed.body
    return node.member_id()


def erase(node: Node) -> dict[str, Any]:
    answer = node.api("POST", "/api/v1/me/erase", {"password": node.password}, token=node.login())
    assert answer.status == 200, answer.body
    return dict(answer.json())


def suspended(node: Node, subject: str) -> bool:
    return bool(node.peers()[subject]["status"] == "suspended")


def suspend(cluster: Cluster, subject: str, voters: tuple[str, ...]) -> None:
    """The other coops' operators suspend ``subject`` by vote; waits until every voter applied it."""
    first = cluster[voters[0]]
    proposed = first.api(
        "POST",
        "/api/v1/governance/proposals",
        {"kind": "suspension", "subject": subject, "text": "Cotisation impayée"},
        token=first.login("operator"),
    )
    assert proposed.status == 201, proposed.body
    ref = proposed.json()["proposal"]

    def known(node: Node) -> bool:
        answer = node.api("GET", "/api/v1/governance/decisions", token=node.login())
        return answer.status == 200 and any(d["proposal"] == ref for d in answer.json()["decisions"])

    for name in voters:
        node = cluster[name]
        eventually(functools.partial(known, node), 30, what=f"{ref} on {node.name}")
        vote = node.api(
            "POST", "/api/v1/governance/votes", {"proposal": ref, "decision": "yes"}, token=node.login("operator")
        )
        assert vote.status == 201, vote.body
    for name in voters:
        node = cluster[name]
        eventually(functools.partial(suspended, node, subject), 30, what=f"{subject} suspended on {node.name}")


def test_a_member_of_a_suspended_coop_is_erased_everywhere(cluster: Cluster) -> None:
    cluster.build(members=4)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    member = share_profile(oxalis, f"Tapissière, {WORD}")
    for node in (coopaname, smart):
        node.wait_found(WORD, ("profile", "oxalis", member))

    suspend(cluster, "oxalis", ("coopaname", "smart"))
    frozen = {node.name: node.stored_heads()["oxalis"] for node in (coopaname, smart)}
    erased = erase(oxalis)
    assert erased["withdrawn_records"] >= 1

    for node in (coopaname, smart):
        node.wait_found(WORD, ("profile", "oxalis", member), present=False, within=30)
        [(deleted, body)] = node.sql(
            "SELECT deleted, body FROM records WHERE origin='oxalis' AND record_id=?", [member]
        )
        assert deleted == 1 and body in (None, "null")  # SQL NULL or JSON null: no content either way
        bodies = node.sql(
            "SELECT count(*) FROM entries WHERE origin='oxalis' AND record_id=? AND body IS NOT NULL", [member]
        )
        assert bodies == [(0,)]
        assert node.stored_heads()["oxalis"] == frozen[node.name]  # its log stays frozen: nothing else was taken
        node.wait_log("oxalis is not a member", "deletion(s) pushed by oxalis applied")
    # and both nodes that suspended oxalis confirm the erasure to it, signed (erasure outranks governance)

    def confirmed() -> dict[str, Any] | None:
        doc = receipts(oxalis, erased["receipts_export"])
        return doc if doc["confirmed"] == 2 and doc["pending"] == 0 else None

    doc = eventually(confirmed, 30, 0.2, "receipts from coopaname and smart on the suspended oxalis")
    assert [n["node"] for n in doc["nodes"]] == ["coopaname", "smart"]


#: how long after an erasure its text may still be in a node's files (docs/operators.md, "Erasure")
PURGE_BOUND_S = 30.0
SECRET = "xqzvoltaerase"  # a word no demo profile holds; searched in the files without its first letters (FTS5
# stores a term after the prefix it shares with the previous one on its page)


def gone(node: Node, q: str, member: str) -> bool:
    return all(hit["id"] != member for hit in node.search(q, who="operator"))


def files_holding(node: Node, needle: bytes) -> list[str]:
    """The node's database files (main, -wal, -shm) whose bytes hold ``needle``, case folded."""
    found = []
    for path in sorted(node.directory.glob(node.database.name + "*")):
        if needle in path.read_bytes().lower():
            found.append(path.name)
    return found


def test_erased_text_leaves_every_file_of_every_node(cluster: Cluster) -> None:
    cluster.build(members=4)
    cluster.start()
    cluster.wait_converged()
    nodes = [cluster["coopaname"], cluster["smart"], cluster["oxalis"]]
    coopaname = nodes[0]
    member = ""
    for version in range(6):  # several versions: many copies of the page in each node's WAL
        member = share_profile(coopaname, f"Ébéniste {SECRET.capitalize()}, version {version} de ma présentation")
    for node in nodes:
        node.wait_found(SECRET, ("profile", "coopaname", member))
    needle = SECRET[3:].encode()
    for node in nodes:  # the test can fail: the text is on disk before the erasure
        assert files_holding(node, needle), node.name

    erase(coopaname)
    erased_at = time.monotonic()
    for node in nodes:  # the erased member's own token is gone: an operator searches
        eventually(functools.partial(gone, node, SECRET, member), PURGE_BOUND_S, what=f"profile gone on {node.name}")

    def clean() -> bool:
        return not any(files_holding(node, needle) for node in nodes)

    eventually(clean, PURGE_BOUND_S, 0.5, "the erased text gone from every file of every node")
    elapsed = time.monotonic() - erased_at
    print(f"erased text gone from the files of {len(nodes)} nodes {elapsed:.1f} s after the erasure")
    for node in nodes:
        node.wait_log("erasure purge: full-text index merged, WAL checkpointed and truncated")
    # and it stays gone after a clean stop (the node checkpoints on close)
    for node in nodes:
        node.stop()
    assert not any(files_holding(node, needle) for node in nodes)


def receipts(node: Node, path: str) -> dict[str, Any]:
    answer = node.api("GET", path)
    assert answer.status == 200, answer.body
    return dict(answer.json())


def test_every_node_that_held_the_records_sends_a_signed_receipt(cluster: Cluster) -> None:
    cluster.build(members=4)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    member = share_profile(coopaname, "Couvreuse, zinguerie")
    offer = coopaname.create_offer("Réparation de gouttières en zinc")
    for node in (smart, oxalis):
        node.wait_found("gouttieres", ("offer", "coopaname", offer))

    tombstones = "SELECT record_id FROM entries WHERE origin = 'coopaname' AND type = 'tombstone'"
    before = {r for (r,) in coopaname.sql(tombstones)}
    erased = erase(coopaname)
    withdrawn = {r for (r,) in coopaname.sql(tombstones)} - before
    assert {member, offer} <= withdrawn and erased["withdrawn_records"] == len(withdrawn)
    export_path = erased["receipts_export"]

    def all_confirmed() -> dict[str, Any] | None:
        doc = receipts(coopaname, export_path)
        return doc if doc["confirmed"] == 2 and doc["pending"] == 0 else None

    doc = eventually(all_confirmed, 30, 0.2, "receipts from smart and oxalis")
    assert doc["format"] == "bigre-erasure-receipts/1" and doc["node"] == "coopaname"
    assert set(doc["record_ids"]) == withdrawn
    assert [n["node"] for n in doc["nodes"]] == ["oxalis", "smart"]
    keys = {"smart": smart.key(), "oxalis": oxalis.key()}
    for item in doc["nodes"]:  # each receipt is the node's own signature over the ids it erased
        assert item["status"] == "confirmed" and item["records_confirmed"] == len(withdrawn)
        confirmed: set[str] = set()
        for receipt in item["receipts"]:
            entry = decode_entry(bytes.fromhex(receipt["signed_hex"]), max_bytes=MAX_DIRECT_ENVELOPE_BYTES)
            ring = Keyring()
            ring.add(item["node"], KeyInfo(keys[item["node"]].verify_key))
            record = open_direct(entry.encode(), ring, to_node="coopaname")
            assert record.type == "erasure_receipt" and record.origin == item["node"]
            confirmed |= set(record.body["records"])  # type: ignore[index, arg-type]
        assert confirmed == withdrawn
    # a wrong address shows nothing
    assert coopaname.api("GET", "/api/v1/erasures/NoSuchErasureToken000").status == 404
