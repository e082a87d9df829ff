"""The demo's mentoring and education data (issue 16): a Chillies cohort with pairs across the three coops, two
school requests and a student cooperative project.

Two steps, because a pair crosses nodes:

* :func:`seed_education`, while each node is seeded (no network yet): two more members of the coop get the demo
  password (the cohort's mentees), Coopaname receives two teachers' requests and opens a student project;
* :func:`seed_chillies`, once the three nodes run and hold each other's records: everything goes through the
  JSON API as people would do it — Coopaname's advisor starts the programme, members of each coop volunteer or
  apply on their own node, the advisor proposes pairs across coops, the members accept on their nodes, and the
  active pairs record a few meetings. It runs once (a demo folder that has the programme keeps it).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final, Protocol, TypeVar

from node.compose import Node
from node.viewer import Viewer

log = logging.getLogger(__name__)

#: the file, in each demo node's folder, naming the extra members who got the demo password
MENTEES_FILE: Final = "demo-mentees.json"
SCHOOL_REQUESTS: Final = (
    {
        "school": "Collège Jean-Jaurès",
        "town": "Montreuil",
        "class_level": "4e",
        "dates": "mars 2027, les jeudis matin",
        "topic": "Les métiers du graphisme et de l'édition",
        "contact_name": "Mme Awa Ndiaye",
        "contact_email": "awa.ndiaye@college-jaures.example",
        "message": "Deux classes de 4e travaillent sur l'orientation ; une intervention d'une heure serait idéale.",
    },
    {
        "school": "Lycée professionnel Théodore-Monod",
        "town": "Noisy-le-Sec",
        "class_level": "1re CAP menuiserie",
        "dates": "avril ou mai 2027",
        "topic": "Créer son activité en coopérative après un CAP",
        "contact_name": "M. Julien Morel",
        "contact_email": "j.morel@lp-monod.example",
        "message": "",
    },
)
STUDENT_PROJECT: Final = {
    "title": "La Coop'Étudiante de Saint-Denis (épicerie et café)",
    "description": "Huit étudiant·es de master ESS montent une épicerie-café coopérative sur le campus.",
    "origin_kind": "cae_collective",
    "target_form": "scic",
    "trades": ["D1106"],
    "group": [
        {"name": "Inès Haddad", "role": "porteuse", "associate": True},
        {"name": "Hugo Lefèvre", "role": "trésorier", "associate": True},
        {"name": "Mariam Koné", "associate": True},
    ],
    "student": {
        "university": "Université Paris 8 Vincennes-Saint-Denis",
        "tutor": "Mme Claire Benali",
        "course": "Master Économie sociale et solidaire",
        "year_start": "2026-09-14",
        "year_end": "2027-06-30",
    },
}


class DemoPlace(Protocol):
    """What the demo knows of a node (``node.demo.run.DemoNode``)."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def directory(self) -> Any: ...
    @property
    def member(self) -> str: ...
    @property
    def password(self) -> str: ...


async def seed_education(
    s: Node, place: DemoPlace, rows: Sequence[dict[str, str]], tokens: dict[str, str], advisor: Viewer | None
) -> None:
    """While seeding one node: the cohort's mentees get the demo password; Coopaname gets the schools' requests
    and the student project."""
    extra = [r["email"] for r in rows if r.get("role") == "member" and r["email"] != place.member][1:3]
    for email in extra:
        await s.accounts.accept_invitation(tokens[email], place.password)
    (place.directory / MENTEES_FILE).write_text(json.dumps(extra) + "\n", encoding="utf-8")
    if place.name != "coopaname":
        return
    for request in SCHOOL_REQUESTS:
        await s.schools.take(request, notify=False)  # the requests wait in their list, no notice
    if advisor is not None:
        await s.onboarding.create_case(advisor, STUDENT_PROJECT)


def seed_chillies(places: Sequence[DemoPlace], within: float = 90.0) -> bool:
    """Once the nodes run: the Chillies cohort through the API. False when the demo already has it."""
    by_name = {p.name: p for p in places}
    if not {"coopaname", "smart", "oxalis"} <= set(by_name):
        return False
    coopaname, smart, oxalis = by_name["coopaname"], by_name["smart"], by_name["oxalis"]
    coordinator = _login(coopaname, f"conseil@{coopaname.name}.example")
    if _call(coopaname, "GET", "/api/v1/mentoring-programmes", token=coordinator)["items"]:
        return False
    programme = _call(
        coopaname,
        "POST",
        "/api/v1/mentoring-programmes",
        {
            "name": "Chillies 2027",
            "description": (
                "Un binôme pour la première année : un·e membre expérimenté·e d'une autre coopérative accompagne "
                "une personne qui démarre, une rencontre par mois."
            ),
            "cohort_start": "2027-01-04",
            "cohort_end": "2027-06-30",
            "mentees": ["first_year", "under_30"],
            "topics": ["premiers clients", "devis et tarifs", "vie coopérative"],
            "languages": ["fr"],
        },
        token=coordinator,
    )
    path = f"/api/v1/mentoring-programmes/coopaname/{programme['id']}"
    mentees = {p.name: json.loads((p.directory / MENTEES_FILE).read_text(encoding="utf-8")) for p in places}
    # who volunteers and who applies, each on their own node (once the programme reached it)
    plan = (  # (mentor's coop, mentee's coop, status the pair reaches, meetings)
        (smart, coopaname, "active", 2),
        (oxalis, smart, "active", 1),
        (coopaname, oxalis, "proposed", 0),
    )
    offers, requests = {}, {}
    for mentor_place, mentee_place, _status, _meetings in plan:
        token = _login(mentor_place, mentor_place.member)
        _until(partial(_answers, mentor_place, "GET", path, token, None, 200), within, "the programme")
        offers[mentor_place.name] = _call(
            mentor_place,
            "POST",
            path + "/join",
            {"role": "mentor", "capacity": 2, "topics": ["devis et tarifs", "premiers clients"]},
            token=token,
        )
        mentee_token = _login(mentee_place, mentees[mentee_place.name][0])
        _until(partial(_answers, mentee_place, "GET", path, mentee_token, None, 200), within, "the programme")
        requests[mentee_place.name] = _call(
            mentee_place, "POST", path + "/join", {"role": "mentee", "topics": ["premiers clients"]}, token=mentee_token
        )
    pairs = []
    for mentor_place, mentee_place, status, meetings in plan:
        offer, request = offers[mentor_place.name], requests[mentee_place.name]

        def answered(o: dict[str, Any] = offer, r: dict[str, Any] = request) -> bool:
            items = _call(
                coopaname, "GET", f"/api/v1/coordination/programmes/{programme['id']}/suggestions", token=coordinator
            )["items"]
            return any(s["mentor"]["id"] == o["id"] and s["mentee"]["id"] == r["id"] for s in items)

        _until(answered, within, "the pair among the suggestions")
        pair = _call(
            coopaname,
            "POST",
            "/api/v1/coordination/pairs",
            {
                "programme": programme["id"],
                "mentor": {"origin": mentor_place.name, "id": offer["id"]},
                "mentee": {"origin": mentee_place.name, "id": request["id"]},
                "note": "Premier rendez-vous en janvier, puis une fois par mois.",
            },
            token=coordinator,
        )
        pairs.append((pair, mentor_place, mentee_place, status, meetings))
    today = dt.date.today()
    for pair, mentor_place, mentee_place, status, meetings in pairs:
        if status != "active":
            continue
        for place, email in ((mentor_place, mentor_place.member), (mentee_place, mentees[mentee_place.name][0])):
            token = _login(place, email)
            answer = f"/api/v1/mentoring-pairs/{pair['id']}/answer"
            _until(partial(_answers, place, "POST", answer, token, {"action": "accept"}, 200), within, "the pair")
        mentee_token = _login(mentee_place, mentees[mentee_place.name][0])
        for n in range(meetings):
            checkins = f"/api/v1/mentoring-pairs/{pair['id']}/checkins"
            body = {
                "date": (today - dt.timedelta(days=30 * (meetings - n))).isoformat(),
                "note": ("Premier devis relu ensemble." if n == 0 else "Point sur les premiers clients."),
            }
            _until(partial(_answers, mentee_place, "POST", checkins, mentee_token, body, 201), within, "the pair")
    log.info("demo: the Chillies cohort has %d pairs across the coops", len(pairs))
    return True


# ------------------------------------------------------------------------------------------------ HTTP


def _login(place: DemoPlace, email: str) -> str:
    return str(_call(place, "POST", "/api/v1/auth/login", {"email": email, "password": place.password})["token"])


def _request(place: DemoPlace, method: str, path: str, body: Any, token: str | None) -> urllib.request.Request:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode("utf-8")
    return urllib.request.Request(place.url + path, data=data, method=method, headers=headers)  # noqa: S310 - loopback


def _call(place: DemoPlace, method: str, path: str, body: Any = None, *, token: str | None = None) -> Any:
    with urllib.request.urlopen(_request(place, method, path, body, token), timeout=30) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def _answers(place: DemoPlace, method: str, path: str, token: str, body: Any, status: int) -> bool:
    """Whether the call answers ``status`` now (a refusal meanwhile: what replication has not brought yet)."""
    try:
        with urllib.request.urlopen(_request(place, method, path, body, token), timeout=30) as response:  # noqa: S310
            return int(response.status) == status
    except urllib.error.HTTPError as exc:
        return int(exc.code) == status


T = TypeVar("T")


def _until(check: Callable[[], T], within: float, what: str) -> T:
    """Wait until ``check()`` holds (what replication brings), within a deadline."""
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"demo: {what} did not arrive within {within:.0f} s")
        time.sleep(0.3)
