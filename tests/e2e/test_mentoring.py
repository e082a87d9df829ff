"""A mentoring programme across coops (issue 16), through real node processes: Coopaname runs the programme, its
member mentors a member of SMart; the pair is accepted on both nodes, check-ins reach the pair's nodes only and
are read by the pair and the coordinator only. Oxalis, outside the pair, holds nothing of it."""

from __future__ import annotations

import json
from typing import Any

from node.demo.mentoring import seed_chillies

from .cluster import Cluster, Node, eventually


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status == status, (answer.status, answer.body[:400])
    return answer.json()


def _plain_member(node: Node, email: str) -> str:
    """Another member of ``node``, signed in (the operator invites, the member accepts)."""
    invited = _ok(
        node.api(
            "POST", "/api/v1/accounts", {"email": email, "display_name": "Autre Membre"}, token=node.login("operator")
        ),
        201,
    )
    _ok(node.api("POST", "/api/v1/auth/accept", {"token": invited["invitation_token"], "password": node.password}))
    return node.login(email)


def test_a_pair_across_coops_is_accepted_on_both_nodes_and_its_checkins_stay_with_the_pair(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    coordinator = coopaname.login("operator")

    programme = _ok(
        coopaname.api(
            "POST",
            "/api/v1/mentoring-programmes",
            {"name": "Chillies 2027", "cohort_start": "2027-01-04", "cohort_end": "2027-06-30", "mentees": ["any"]},
            token=coordinator,
        ),
        201,
    )
    path = f"/api/v1/mentoring-programmes/coopaname/{programme['id']}"
    # the programme is a log record: SMart sees it, and its member applies as a mentee there
    eventually(lambda: smart.api("GET", path, token=smart.login()).status == 200, 30, what="the programme on SMart")
    mentee = _ok(smart.api("POST", path + "/join", {"role": "mentee", "topics": ["devis"]}, token=smart.login()), 201)
    mentor = _ok(
        coopaname.api(
            "POST", path + "/join", {"role": "mentor", "capacity": 2, "topics": ["devis"]}, token=coopaname.login()
        ),
        201,
    )
    # a second application as mentee is refused
    again = smart.api("POST", path + "/join", {"role": "mentee"}, token=smart.login())
    assert again.status == 409, again.body

    def suggested() -> dict[str, Any] | None:
        items = _ok(
            coopaname.api("GET", f"/api/v1/coordination/programmes/{programme['id']}/suggestions", token=coordinator)
        )["items"]
        return next((s for s in items if s["mentee"]["id"] == mentee["id"] and s["mentor"]["id"] == mentor["id"]), None)

    suggestion = eventually(suggested, 30, what="the pair among the coordinator's suggestions")
    assert "across_coops" in suggestion["reasons"]
    # a member may not propose pairs
    refused = coopaname.api("POST", "/api/v1/coordination/pairs", {}, token=coopaname.login())
    assert refused.status == 403
    pair = _ok(
        coopaname.api(
            "POST",
            "/api/v1/coordination/pairs",
            {
                "programme": programme["id"],
                "mentor": {"origin": "coopaname", "id": mentor["id"]},
                "mentee": {"origin": "smart", "id": mentee["id"]},
                "note": "Premier rendez-vous en janvier ?",
            },
            token=coordinator,
        ),
        201,
    )
    assert pair["status"] == "proposed"

    def status_on(node: Node, token: str) -> str | None:
        items = _ok(node.api("GET", "/api/v1/me/mentoring-pairs", token=token))["items"]
        return next((str(p["status"]) for p in items if p["id"] == pair["id"]), None)

    assert eventually(lambda: status_on(smart, smart.login()), 30, what="the pair on SMart") == "proposed"
    notices = _ok(smart.api("GET", "/api/v1/inbox", token=smart.login()))["messages"]
    assert any("Mentoring pair proposed" in m["subject"] for m in notices), notices
    # each accepts on their own node; the pair becomes active on both
    _ok(
        coopaname.api(
            "POST", f"/api/v1/mentoring-pairs/{pair['id']}/answer", {"action": "accept"}, token=coopaname.login()
        )
    )
    _ok(smart.api("POST", f"/api/v1/mentoring-pairs/{pair['id']}/answer", {"action": "accept"}, token=smart.login()))
    eventually(lambda: status_on(coopaname, coopaname.login()) == "active", 30, what="active on Coopaname")
    eventually(lambda: status_on(smart, smart.login()) == "active", 30, what="active on SMart")

    # a check-in written on SMart reaches Coopaname (the mentor's and the programme's node)
    note = "Devis relu ensemble (code quetzal-41)"
    _ok(
        smart.api(
            "POST",
            f"/api/v1/mentoring-pairs/{pair['id']}/checkins",
            {"date": "2026-12-01", "note": note},
            token=smart.login(),
        ),
        201,
    )

    def notes(node: Node, token: str) -> list[str] | None:
        got = node.api("GET", f"/api/v1/mentoring-pairs/{pair['id']}", token=token)
        return [c["note"] for c in got.json()["checkins"]] if got.status == 200 else None

    assert eventually(lambda: notes(coopaname, coopaname.login()) or None, 30, what="the check-in on Coopaname") == [
        note
    ]
    assert notes(coopaname, coordinator) == [note]  # the coordinator reads it
    assert notes(smart, smart.login()) == [note]
    # ... and nobody else: not SMart's advisor, not another member, not Oxalis
    assert (
        smart.api("GET", f"/api/v1/mentoring-pairs/{pair['id']}", token=smart.login("conseil@smart.example")).status
        == 404
    )
    other = _plain_member(coopaname, "autre@coopaname.example")
    assert coopaname.api("GET", f"/api/v1/mentoring-pairs/{pair['id']}", token=other).status == 404
    assert (
        coopaname.api(
            "POST", f"/api/v1/mentoring-pairs/{pair['id']}/checkins", {"date": "2026-12-01"}, token=other
        ).status
        == 404
    )
    assert oxalis.api("GET", f"/api/v1/mentoring-pairs/{pair['id']}", token=oxalis.login("operator")).status == 404
    for node in (coopaname, smart, oxalis):
        assert not node.sql("SELECT 1 FROM entries WHERE instr(body, CAST('quetzal' AS BLOB)) > 0")
    assert oxalis.sql("SELECT count(*) FROM mentoring_pairs") == [(0,)]
    assert oxalis.sql("SELECT count(*) FROM mentoring_checkins") == [(0,)]
    assert "path /federation/v1/direct" not in oxalis.proxy.stats()

    # the mentee closes with a word for the coordinator: closed everywhere, feedback on the programme's node only
    _ok(
        smart.api(
            "POST",
            f"/api/v1/mentoring-pairs/{pair['id']}/answer",
            {"action": "close", "feedback": "Très utile"},
            token=smart.login(),
        )
    )
    eventually(lambda: status_on(smart, smart.login()) == "closed", 30, what="closed on SMart")
    pairs = _ok(coopaname.api("GET", f"/api/v1/coordination/programmes/{programme['id']}/pairs", token=coordinator))
    assert pairs["items"][0]["feedback"] == {"mentee": "Très utile"}
    assert pairs["items"][0]["meetings"] == 1
    assert smart.sql("SELECT feedback FROM mentoring_pairs") == [("{}",)]
    figures = _ok(coopaname.api("GET", path, token=coordinator))["figures"]
    assert (figures["pairs_closed"], figures["meetings"]) == (1, 1)


def test_a_school_request_becomes_an_event_for_the_school_audience(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart = cluster["coopaname"], cluster["smart"]
    coordinator = coopaname.login("operator")
    form = {
        "school": "Collège Louise-Michel",
        "town": "Montreuil",
        "class_level": "4e",
        "dates": "mars 2027, les jeudis",
        "topic": "le métier de graphiste",
        "contact_name": "Mme Ndiaye",
        "contact_email": "prof.ndiaye@ecole.example",
    }
    token = _ok(coopaname.api("GET", "/api/v1/school-requests/form"))["token"]
    # robots are refused: the hidden field filled, a forged token
    robot = coopaname.api("POST", "/api/v1/school-requests", {**form, "token": token, "website": "http://spam.example"})
    assert robot.status == 422, robot.body
    forged = coopaname.api("POST", "/api/v1/school-requests", {**form, "token": "1790000000000.00ff"})
    assert forged.status == 422 and "expired" in forged.error_message()

    def sent() -> bool:  # the form may be sent a few seconds after it was served, not sooner
        answer = coopaname.api("POST", "/api/v1/school-requests", {**form, "token": token})
        assert answer.status in (202, 422), answer.body
        return answer.status == 202

    eventually(sent, 20, every=0.5, what="the school request accepted")
    # the anonymous and members do not see the requests; the coordinators do
    assert coopaname.api("GET", "/api/v1/school-requests").status == 401
    assert coopaname.api("GET", "/api/v1/school-requests", token=coopaname.login()).status == 403
    items = _ok(coopaname.api("GET", "/api/v1/school-requests", token=coordinator))["items"]
    ours = [r for r in items if r["school"] == "Collège Louise-Michel"]  # the demo's two are there too
    assert [r["status"] for r in ours] == ["new"] and len(items) == 3
    number = ours[0]["id"]
    notices = _ok(coopaname.api("GET", "/api/v1/inbox", token=coordinator))["messages"]
    assert any("Collège Louise-Michel" in m["subject"] for m in notices)

    volunteers = [
        {"origin": "coopaname", "member": coopaname.member_id(), "name": "Camille"},
        {"origin": "smart", "member": smart.member_id(), "name": "Jeanne"},
    ]
    _ok(
        coopaname.api(
            "PUT", f"/api/v1/school-requests/{number}/volunteers", {"volunteers": volunteers}, token=coordinator
        )
    )
    start = 1_805_000_000_000
    made = _ok(
        coopaname.api("POST", f"/api/v1/school-requests/{number}/event", {"start": start}, token=coordinator), 201
    )
    assert made["status"] == "planned" and made["event"]["audience"] == "school"
    event_id = made["event"]["id"]
    again = coopaname.api("POST", f"/api/v1/school-requests/{number}/event", {"start": start}, token=coordinator)
    assert again.status == 409
    # the volunteer of this coop is told; the event reaches the other coops, without the teacher's contact
    notices = _ok(coopaname.api("GET", "/api/v1/inbox", token=coopaname.login()))["messages"]
    assert any("School session" in m["subject"] for m in notices)

    def on_smart() -> tuple[Any, ...] | None:
        rows = smart.sql("SELECT body FROM records WHERE origin='coopaname' AND record_id=?", [event_id])
        return rows[0] if rows else None

    body = eventually(on_smart, 30, what="the school event on SMart")[0]
    assert json.loads(body)["audience"] == "school"
    for node in (coopaname, smart):
        assert not node.sql("SELECT 1 FROM entries WHERE instr(body, CAST('ndiaye' AS BLOB)) > 0")
    assert smart.sql("SELECT count(*) FROM school_requests") == [(0,)]


def test_the_demo_prepares_a_chillies_cohort_across_the_three_coops(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    places = [n.demo() for n in (coopaname, smart, oxalis)]
    assert seed_chillies(places) is True
    # the programme's node holds the three pairs; each other coop holds the pairs its members are in
    assert coopaname.sql("SELECT status FROM mentoring_pairs ORDER BY status") == [
        ("active",),
        ("active",),
        ("proposed",),
    ]

    def settled(node: Node, count: int) -> bool:
        return node.sql("SELECT count(*) FROM mentoring_pairs WHERE status <> 'proposed'") == [(count,)]

    eventually(lambda: settled(smart, 2) and settled(oxalis, 1), 30, what="the pairs active on their nodes")
    eventually(lambda: coopaname.sql("SELECT count(*) FROM mentoring_checkins") == [(3,)], 30, what="meetings")
    assert oxalis.sql("SELECT count(*) FROM mentoring_pairs") == [(2,)]
    # the schools' requests and the student project are Coopaname's own
    assert coopaname.sql("SELECT count(*) FROM school_requests") == [(2,)]
    assert smart.sql("SELECT count(*) FROM school_requests") == [(0,)]
    assert coopaname.sql("SELECT count(*) FROM onboarding_cases WHERE data LIKE '%university%'") == [(1,)]
    assert seed_chillies(places) is False  # once only
