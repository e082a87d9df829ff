"""A coop's own node learns the decisions about it, and a coop leaves by its own notice (issue 12, item 11).

Real node processes: a suspension voted by the others reaches the suspended coop's own node (which the others
stop talking to as soon as they decide: it learns the decision from its certificate), and a leave notice signed by
the leaving coop alone takes effect on every node, with no vote.
"""

from __future__ import annotations

import functools
from typing import Any

from .cluster import Cluster, Node, call, eventually


def decisions(node: Node) -> dict[str, Any]:
    answer = node.api("GET", "/api/v1/governance/decisions", token=node.login())
    assert answer.status == 200, answer.body[:300]
    return dict(answer.json())


def governance_page(node: Node, language: str) -> str:
    """The /governance page as a signed-in member's browser gets it (the session cookie of the API's sign-in)."""
    signed = node.api("POST", "/api/v1/auth/login", {"email": node.member, "password": node.password})
    assert signed.status == 200, signed.body[:300]
    cookie = signed.headers["set-cookie"].split(";", 1)[0]
    answer = call(node.port, "GET", "/governance", headers={"Cookie": cookie, "Accept-Language": language})
    assert answer.status == 200, answer.body[:300]
    return answer.body.decode("utf-8")


def oxalis_is(node: Node, status: str) -> bool:
    return bool(node.peers()["oxalis"]["status"] == status)


def result_of(node: Node, ref: str) -> str | None:
    return next((d["result"] for d in decisions(node)["decisions"] if d["proposal"] == ref), None)


def propose(node: Node, kind: str, subject: str) -> str:
    payload = {"kind": kind, "subject": subject, "text": f"{kind} de {subject}", "days": 1}
    answer = node.api("POST", "/api/v1/governance/proposals", payload, token=node.login("operator"))
    assert answer.status == 201, answer.body[:300]
    return str(answer.json()["proposal"])


def vote(node: Node, ref: str) -> None:
    def cast() -> bool:
        answer = node.api(
            "POST", "/api/v1/governance/votes", {"proposal": ref, "decision": "yes"}, token=node.login("operator")
        )
        if answer.status == 404:  # the proposal has not reached this node yet
            return False
        assert answer.status == 201, answer.body[:300]
        return True

    eventually(cast, 30, 0.2, f"{node.name} votes on {ref}")


def test_a_suspended_coop_s_own_node_shows_it_is_suspended(cluster: Cluster) -> None:
    cluster.build(members=3)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    ref = propose(coopaname, "suspension", "oxalis")
    eventually(lambda: result_of(oxalis, ref) == "pending", 30, what="oxalis holds the proposal")
    vote(coopaname, ref)
    vote(smart, ref)
    for node in (coopaname, smart):
        eventually(functools.partial(oxalis_is, node, "suspended"), 30, what=f"{node.name} suspends")
    # the others refuse oxalis's requests now; its own node still learns the decision, checked, and says so
    eventually(lambda: decisions(oxalis)["own_status"] == "suspended", 60, 0.3, what="oxalis knows it is suspended")
    assert result_of(oxalis, ref) == "accepted"
    assert decisions(coopaname)["own_status"] == "member"
    oxalis.wait_log(f"decision {ref} (suspension): this coop is now suspended")
    assert "Le réseau a suspendu notre coopérative" in governance_page(oxalis, "fr")
    assert "The network has suspended our cooperative" in governance_page(oxalis, "en")
    assert "suspendu notre" not in governance_page(coopaname, "fr")


def test_a_coop_leaves_by_its_own_notice_and_every_node_applies_it(cluster: Cluster) -> None:
    cluster.build(members=3)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    kept = oxalis.create_offer("Atelier de céramique huitzilopochtli")
    for node in (coopaname, smart):
        node.wait_found("huitzilopochtli", ("offer", "oxalis", kept))
    ref = propose(oxalis, "leave", "oxalis")  # no vote of the others
    assert result_of(oxalis, ref) == "accepted"
    assert decisions(oxalis)["own_status"] == "left"
    assert "Notre coopérative a quitté le réseau" in governance_page(oxalis, "fr")
    for node in (coopaname, smart):
        eventually(functools.partial(oxalis_is, node, "left"), 30, what=f"{node.name} applies the leave")
        decided = next(d for d in decisions(node)["decisions"] if d["proposal"] == ref)
        assert decided["result"] == "accepted" and decided["votes"] == []
    # what the others keep of it is the charter's: kept by default, and nothing new is taken
    after = oxalis.create_offer("Atelier de vannerie tezcatlipoca")
    for node in (coopaname, smart):
        node.wait_found("huitzilopochtli", ("offer", "oxalis", kept))
        assert ("offer", "oxalis", after) not in node.found("tezcatlipoca")
    head = oxalis.heads()["oxalis"]
    coopaname.wait_log("refused", "oxalis")
    assert coopaname.heads()["oxalis"] < head


def test_a_vote_decided_by_a_node_after_its_own_rotation_is_applied_everywhere(cluster: Cluster) -> None:
    """Issue 12, item 3: the node whose vote decides has just rotated its key through its API. Its vote (signed by
    the new key) is taken everywhere, the decision is applied on every node, and no request answered 500."""
    cluster.build(members=3)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    ref = propose(smart, "suspension", "oxalis")
    eventually(lambda: result_of(coopaname, ref) == "pending", 30, what="coopaname holds the proposal")
    vote(smart, ref)
    rotated = coopaname.api("POST", "/api/v1/keys/rotate", token=coopaname.login("operator"))
    assert rotated.status == 201, rotated.body[:300]
    vote(coopaname, ref)  # the deciding vote, signed by the new key
    for node in (coopaname, smart):
        eventually(functools.partial(oxalis_is, node, "suspended"), 30, what=f"{node.name} applies the decision")
        assert result_of(node, ref) == "accepted"
    eventually(lambda: decisions(oxalis)["own_status"] == "suspended", 60, 0.3, what="oxalis knows it is suspended")
    for node in (coopaname, smart, oxalis):  # a 500 is logged with its traceback (node.http.middleware)
        assert "Traceback" not in node.log_text(), node.log_tail()
