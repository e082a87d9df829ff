"""Replication between real node processes: records, updates, deletions, crashes and downtime.

Each test builds three small seeded nodes (Coopaname, SMart, Oxalis, 10 members each), starts them as separate
``bigre serve`` processes on loopback (anti-entropy every second) and checks the real end state: the heads of
``/api/v1/health``, every origin's log entry by entry (seq and entry hash, read from each node's database), the
record states, and what members find through the search API.
"""

from __future__ import annotations

import signal

from .cluster import Cluster, Node, eventually


def test_create_update_delete_reach_the_other_nodes(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]

    # a new offer on Coopaname is found by members of the two other coops
    offer = coopaname.create_offer("Atelier de reliure quetzalcoatl", note="Reliure japonaise, papier washi")
    hit = ("offer", "coopaname", offer)
    for other in (smart, oxalis):
        other.wait_found("quetzalcoatl", hit)
        item = next(h["item"] for h in other.search("quetzalcoatl") if h["id"] == offer)
        assert item["title"] == "Atelier de reliure quetzalcoatl" and item["note"].startswith("Reliure")

    # an update follows: the new words are found, the old ones no longer
    coopaname.update_offer(offer, title="Atelier de dorure xochipilli")
    for other in (smart, oxalis):
        other.wait_found("xochipilli", hit)
        assert hit not in other.found("quetzalcoatl")

    # a profile change: a network field travels, a private one never leaves its node
    member = coopaname.member_id()
    answer = coopaname.api(
        "PATCH",
        "/api/v1/me/profile",
        {
            "fields": {"bio": "Relieuse tlaloctepec", "day_rate_eur": 98765},
            "visibility": {"bio": "network", "day_rate_eur": "private"},
        },
        token=coopaname.login(),
    )
    assert answer.status == 200, answer.body
    for other in (smart, oxalis):
        other.wait_found("tlaloctepec", ("profile", "coopaname", member))

    # a delete follows as a tombstone: gone from search, the record deleted and its bodies erased everywhere
    coopaname.delete_offer(offer)
    for other in (smart, oxalis):
        other.wait_found("xochipilli", hit, present=False)
    heads = cluster.wait_converged()
    assert heads["coopaname"] >= 4
    for n in (coopaname, smart, oxalis):
        state = n.sql(
            "SELECT deleted, COALESCE(body, 'null') FROM records WHERE origin='coopaname' AND record_id=?", [offer]
        )
        assert state == [(1, "null")], (n.name, state)
        rows = n.sql("SELECT type, body IS NULL FROM entries WHERE origin='coopaname' AND record_id=?", [offer])
        assert sorted(rows) == [("offer", 1), ("offer", 1), ("tombstone", 0)], (n.name, rows)
        assert not n.sql("SELECT 1 FROM search_documents WHERE origin='coopaname' AND record_id=?", [offer])
    # the private field never reached another node, in any table
    for other in (smart, oxalis):
        assert not other.sql("SELECT 1 FROM entries WHERE instr(body, CAST('98765' AS BLOB)) > 0")
        assert not other.sql("SELECT 1 FROM records WHERE instr(CAST(body AS TEXT), '98765') > 0")


def held(node: Node, origin: str) -> int:
    """The seq this node's database holds for ``origin`` (0 before anything), read while it runs."""
    rows = node.sql("SELECT seq FROM log_heads WHERE origin=?", [origin])
    return int(rows[0][0]) if rows else 0


def assert_stopped_node_sound(node: Node, origin: str) -> int:
    """After a crash: the log of ``origin`` is 1..n with no gap, the head says n with the right hash, and
    every record state comes from an entry held (nothing of a half-applied page is left)."""
    log = node.log_of(origin)
    n = len(log)
    assert [s for s, _ in log] == list(range(1, n + 1))
    if n:
        assert node.stored_heads()[origin] == (n, log[-1][1])
    states = node.sql("SELECT count(*), max(seq) FROM records WHERE origin=?", [origin])[0]
    ids = node.sql("SELECT count(DISTINCT record_id) FROM entries WHERE origin=?", [origin])[0][0]
    assert states[0] == ids and (states[1] or 0) <= n
    return n


def test_sigkill_mid_sync_then_restart_loses_and_duplicates_nothing(cluster: Cluster) -> None:
    cluster.build(names=("coopaname", "oxalis"))
    total = cluster.add_bulk_entries("coopaname", 4000)
    coopaname, oxalis = cluster["coopaname"], cluster["oxalis"]
    # Pages of 500 through a slow link: the fresh node's first pull lasts seconds, long enough to kill it mid-way.
    coopaname.proxy.set(delay=0.3)
    cluster.start("coopaname")
    oxalis.start()
    crashes = []
    for kill_after in (600, 2100):
        oxalis.wait_healthy()

        def past(k: int = kill_after) -> bool:
            return held(oxalis, "coopaname") >= k

        eventually(past, 60, 0.02, what=f"oxalis past seq {kill_after}")
        oxalis.kill(signal.SIGKILL)
        n = assert_stopped_node_sound(oxalis, "coopaname")
        assert kill_after <= n < total, f"the kill was not mid-sync: {n} of {total}"
        crashes.append(n)
        oxalis.start()
    oxalis.wait_healthy()
    coopaname.proxy.clear()
    heads = cluster.wait_converged(within=90)
    assert heads["coopaname"] == total and crashes[0] < crashes[1] < total
    # entry for entry the origin's log, once each; every record once, at the origin's seq
    assert oxalis.log_of("coopaname") == coopaname.log_of("coopaname")
    bulk = "SELECT record_id, seq, deleted FROM records WHERE origin='coopaname' AND record_id LIKE 'bulk-%' ORDER BY 1"
    assert oxalis.sql(bulk) == coopaname.sql(bulk) and len(oxalis.sql(bulk)) == 4000
    docs = oxalis.sql(
        "SELECT count(*), count(DISTINCT record_id) FROM search_documents"
        " WHERE origin='coopaname' AND record_id LIKE 'bulk-%' AND audience='network'"
    )
    assert docs == [(4000, 4000)]
    assert len(oxalis.search("bulkskill3")) == 50  # a page full: the index answers for relayed records
    assert oxalis.forks() == [] and coopaname.forks() == []


def test_a_node_down_for_a_while_catches_up_from_any_peer_also_with_the_origin_down(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]

    oxalis.kill(signal.SIGKILL)
    # While Oxalis is down, Coopaname and SMart keep working: new records, an update, a delete.
    first = coopaname.create_offer("Chantier participatif tepoztlan")
    second = coopaname.create_offer("Formation compta ixtapaluca")
    coopaname.update_offer(first, title="Chantier participatif tepoztlan (complet)")
    coopaname.delete_offer(second)
    from_smart = smart.create_offer("Studio son chalchiuhtlicue")
    eventually(lambda: smart.heads().get("coopaname") == coopaname.heads()["coopaname"], 20, what="smart has all")
    cluster.wait_converged([coopaname, smart])

    # Coopaname's durable outbox keeps what Oxalis has not confirmed, and says the peer is failing.
    def queues() -> bool:
        peers = coopaname.peers()
        return (
            peers["oxalis"]["queue_depth"] >= 4
            and bool(peers["oxalis"]["last_error"])
            and (peers["smart"]["queue_depth"] == 0)
        )

    eventually(queues, 20, what="coopaname's queue: kept for oxalis, empty for smart")

    # The origin crashes too; Oxalis comes back and catches up from SMart alone (relay, checked against
    # Coopaname's key).
    coopaname.kill(signal.SIGKILL)
    oxalis.start()
    oxalis.wait_healthy()
    cluster.wait_converged([smart, oxalis])
    assert oxalis.log_of("coopaname") == coopaname.log_of("coopaname")  # the stopped origin's own database
    assert ("offer", "coopaname", first) in oxalis.found("tepoztlan")
    assert not oxalis.found("ixtapaluca")
    assert ("offer", "smart", from_smart) in oxalis.found("chalchiuhtlicue")

    # The origin comes back: everyone agrees, and its queue for Oxalis, which survived the crash, drains (Oxalis
    # confirms it holds it all).
    assert coopaname.sql("SELECT count(*) FROM outbox WHERE peer='oxalis'")[0][0] >= 4
    coopaname.start()
    coopaname.wait_healthy()
    cluster.wait_converged()
    eventually(lambda: coopaname.peers()["oxalis"]["queue_depth"] == 0, 60, 0.5, what="outbox drained")
