"""A node that starts before its peers holds their records as soon as they answer, not at its next scheduled
round (issue 17: "faster first sync")."""

from __future__ import annotations

import time

from .cluster import Cluster, eventually


def test_a_node_syncs_with_a_peer_as_soon_as_it_answers(cluster: Cluster) -> None:
    cluster.build(names=("coopaname", "smart"))
    coopaname, smart = cluster["coopaname"], cluster["smart"]
    for node in (coopaname, smart):
        node.anti_entropy_seconds = "600"  # no scheduled round during the test: only the first sync can do it
    coopaname.start()
    coopaname.wait_healthy()
    coopaname.wait_log("first sync from smart not yet")  # its first try found smart down
    smart.start()
    smart.wait_healthy()
    started = time.monotonic()
    smart_head = smart.heads()["smart"]
    eventually(
        lambda: coopaname.heads().get("smart") == smart_head or None,
        within=20,
        what="coopaname to hold smart's log without waiting for a scheduled round",
    )
    assert time.monotonic() - started < 20
    eventually(lambda: smart.heads().get("coopaname") == coopaname.heads()["coopaname"] or None, within=20)
