"""A member moves from one coop to another, through real node processes: the signed request and acceptance go
between the two nodes only; the forwarding tombstones reach the third, which then sends readers on."""

from __future__ import annotations

from typing import Any

from .cluster import Cluster, call, eventually


def test_a_member_of_coopaname_moves_to_smart_and_oxalis_follows(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    token = coopaname.login()
    old_member = coopaname.member_id()
    changed = coopaname.api(
        "PATCH",
        "/api/v1/me/profile",
        {"fields": {"skills": ["reliure", "ocelotl"]}, "visibility": {"skills": "network"}},
        token=token,
    )
    assert changed.status == 200, changed.body
    old_offer = coopaname.create_offer("Reliure de carnets ocelotl")
    oxalis.wait_found("ocelotl", ("profile", "coopaname", old_member))
    oxalis.wait_found("ocelotl", ("offer", "coopaname", old_offer))

    # the member asks on Coopaname; SMart's operator sees the request and accepts it
    asked = coopaname.api("POST", "/api/v1/me/move", {"to_node": "smart"}, token=token)
    assert asked.status == 202, asked.body
    move_id = asked.json()["id"]
    operator = smart.login("operator")

    def pending() -> list[dict[str, Any]]:
        answer = smart.api("GET", "/api/v1/moves", token=operator)
        assert answer.status == 200, answer.body
        return [m for m in answer.json()["items"] if m["id"] == move_id]

    [move] = eventually(pending, 20, what="the move request on smart")
    assert (move["origin"], move["email"]) == ("coopaname", coopaname.member)
    accepted = smart.api("POST", f"/api/v1/moves/coopaname/{move_id}/accept", token=operator)
    assert accepted.status == 200, accepted.body
    records = accepted.json()["records"]
    new_member, new_offer = records[old_member], records[old_offer]
    assert accepted.json()["invitation_token"]

    # Coopaname publishes the forwards and erases the member; every node converges on it
    def done() -> bool:
        rows = coopaname.sql("SELECT status FROM member_moves WHERE move_id = ?", [move_id])
        return rows == [("done",)]

    eventually(done, 30, what="the move done on coopaname")
    cluster.wait_converged()

    # Oxalis shows the forward, for the page and the JSON API
    page = call(oxalis.port, "GET", f"/members/coopaname/{old_member}")
    assert page.status == 303, page.body[:300]
    assert page.headers["location"] == f"/members/smart/{new_member}"
    assert call(oxalis.port, "GET", f"/members/smart/{new_member}").status == 200
    api = call(oxalis.port, "GET", f"/api/v1/network/members/coopaname/{old_member}")
    assert api.status == 308 and api.headers["location"] == f"/api/v1/network/members/smart/{new_member}"
    assert oxalis.api("GET", f"/api/v1/network/members/smart/{new_member}").status == 200

    # and its search finds the member (and the offer) under SMart only
    found = {hit for hit in oxalis.found("ocelotl") if hit[0] in ("profile", "offer")}
    assert found == {("profile", "smart", new_member), ("offer", "smart", new_offer)}

    # the member's old account is gone; the move records never reached Oxalis
    login = coopaname.api("POST", "/api/v1/auth/login", {"email": coopaname.member, "password": coopaname.password})
    assert login.status == 401, login.body
    assert oxalis.sql("SELECT count(*) FROM member_moves") == [(0,)]
    assert "path /federation/v1/direct" not in oxalis.proxy.stats()
    assert smart.proxy.stats().get("path /federation/v1/direct", 0) >= 1  # the request, as one typed record
    assert coopaname.proxy.stats().get("path /federation/v1/direct", 0) >= 1  # the acceptance
    assert smart.sql("SELECT status FROM member_moves WHERE move_id = ?", [move_id]) == [("accepted",)]
