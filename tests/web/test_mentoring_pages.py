"""Mentoring programmes and the schools' form in a real headless Chromium against two real nodes (issue 16).

Pairing: Coopaname's advisor starts a programme on the page, Coopaname's member volunteers as a mentor on the
page, SMart's member applies as a mentee; the advisor proposes the suggested pair; each member accepts on their
own node's page; SMart's member records a meeting. The schools' form: a teacher (no account) asks for a session,
a form with a mistake comes back with what was typed, and the coordinator turns the request into an event.
Each flow runs in French at 1280 px and in English at 390 px, and every page passes the page checks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from node.demo.run import DemoNode

from .browser import COMBOS, api, axe_violations, eventually, login, new_page, page_problems, sign_in
from .conftest import SCREENSHOTS

pytestmark = pytest.mark.slow


def check(page: Any, lang: str, width: int, shot: str) -> None:
    assert page_problems(page, lang, width) == []
    assert axe_violations(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{shot}-{lang}-{width}.png"), full_page=True)


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_a_pair_across_two_coops_in_the_pages(browser: Any, nodes: list[DemoNode], lang: str, width: int) -> None:
    coopaname, smart = nodes
    name = f"Chillies {uuid.uuid4().hex[:6]}"
    advisor = new_page(browser, lang, width)
    sign_in(advisor, coopaname, f"conseil@{coopaname.name}.example")
    advisor.goto(coopaname.url + "/mentoring/programmes")
    check(advisor, lang, width, "mentoring-programmes")
    advisor.locator("#new-programme summary").click()
    # a mistake first: the form comes back with what was typed
    advisor.locator("#f-name").fill(name)
    advisor.locator("#f-cohort_start").fill("2027-01-04")
    advisor.locator("#f-cohort_end").fill("2026-06-30")
    advisor.locator("#new-programme button[type=submit]").click()
    assert advisor.locator("#error-summary").is_visible()
    assert advisor.locator("#f-name").input_value() == name
    advisor.locator("#f-cohort_end").fill("2027-06-30")
    advisor.locator("#new-programme input[value=any]").check()
    advisor.locator("#new-programme button[type=submit]").click()
    advisor.wait_for_url("**/mentoring/programmes/coopaname/*?done=created")
    programme_url = advisor.url.split("?")[0]
    programme_id = programme_url.rsplit("/", 1)[1]

    mentor = new_page(browser, lang, width)
    sign_in(mentor, coopaname, coopaname.member)
    mentor.goto(programme_url)
    mentor.locator("#m-topics").fill("devis, premiers clients")
    mentor.locator("#join-mentor button[type=submit]").click()
    mentor.wait_for_url("**?done=joined")
    assert mentor.locator("#joined").is_visible()
    check(mentor, lang, width, "mentoring-programme")

    token = login(smart, smart.member)["token"]
    path = f"/api/v1/mentoring-programmes/coopaname/{programme_id}"

    def applied() -> bool:
        status, _ = api(smart, "POST", path + "/join", {"role": "mentee", "topics": ["devis"]}, token)
        return status == 201

    mentee_page = new_page(browser, lang, width)
    eventually(mentee_page, smart.url + "/mentoring/programmes", lambda p: applied(), what="the programme on SMart")

    def suggested(page: Any) -> bool:
        return bool(page.locator("#suggestions li[data-mentee^='smart/']").count())

    eventually(advisor, programme_url, suggested, what="the suggested pair")
    check(advisor, lang, width, "mentoring-suggestions")
    advisor.locator("#suggestions li[data-mentee^='smart/']").first.locator("button").click()
    advisor.wait_for_url("**?done=proposed")
    assert advisor.locator("#programme-pairs tbody tr").count() == 1

    # each member accepts on their own node's page
    sign_in(mentee_page, smart, smart.member)

    def pair_listed(page: Any) -> bool:
        return bool(page.locator("#pairs a", has_text=name).count())

    eventually(mentee_page, smart.url + "/mentoring/programmes", pair_listed, what="the pair on SMart")
    mentee_page.locator("#pairs a", has_text=name).click()
    check(mentee_page, lang, width, "mentoring-pair-proposed")
    mentee_page.locator("#answer-form button[value=accept]").click()
    mentee_page.wait_for_url("**?done=accept")
    mentor.goto(coopaname.url + "/mentoring/programmes")
    mentor.locator("#pairs a", has_text=name).click()
    mentor.locator("#answer-form button[value=accept]").click()
    mentor.wait_for_url("**?done=accept")
    assert mentor.locator("#pair-status").get_attribute("data-status") == "active"

    pair_url = mentee_page.url.split("?")[0]
    eventually(
        mentee_page,
        pair_url,
        lambda p: p.locator("#pair-status").get_attribute("data-status") == "active",
        what="the pair active on SMart",
    )
    mentee_page.locator("#f-note").fill("Premier devis relu ensemble")
    mentee_page.locator("#checkin-form button[type=submit]").click()
    mentee_page.wait_for_url("**?done=checkin")
    assert "Premier devis relu ensemble" in mentee_page.locator("#checkins").inner_text()
    check(mentee_page, lang, width, "mentoring-pair")
    # the coordinator reads it on the programme's node
    eventually(
        mentor,
        coopaname.url + "/mentoring/pairs/" + pair_url.rsplit("/", 1)[1],
        lambda p: p.locator("#checkins").count() == 1,
        what="the check-in on Coopaname",
    )


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_a_teacher_asks_and_the_request_becomes_an_event(
    browser: Any, nodes: list[DemoNode], lang: str, width: int
) -> None:
    coopaname, _smart = nodes
    school = f"Collège {uuid.uuid4().hex[:6]}"
    teacher = new_page(browser, lang, width)
    teacher.goto(coopaname.url + "/")
    teacher.locator(".schools-link a").click()
    teacher.wait_for_url("**/schools")
    check(teacher, lang, width, "school-form")
    fields = {
        "school": school,
        "town": "Montreuil",
        "class_level": "4e",
        "dates": "mars 2027",
        "topic": "le métier de graphiste",
        "contact_name": "Mme Ndiaye",
        "contact_email": "pas-une-adresse",
    }
    for field, value in fields.items():
        teacher.locator(f"#f-{field}").fill(value)
    wait_token(teacher)
    teacher.locator("#school-form button[type=submit]").click()
    # the mistake comes back next to its field, with everything typed kept
    assert teacher.locator("#err-contact_email").is_visible()
    assert teacher.locator("#f-school").input_value() == school
    check(teacher, lang, width, "school-form-error")
    teacher.locator("#f-contact_email").fill("prof.ndiaye@ecole.example")
    wait_token(teacher)
    teacher.locator("#school-form button[type=submit]").click()
    assert teacher.locator("#school-sent").is_visible()

    coordinator = new_page(browser, lang, width)
    sign_in(coordinator, coopaname, f"conseil@{coopaname.name}.example")
    coordinator.goto(coopaname.url + "/coordination/schools")
    check(coordinator, lang, width, "school-requests")
    coordinator.locator("li.result a", has_text=school).click()
    coordinator.locator("#f-q").fill("graphiste")
    coordinator.locator("#find-volunteers button[type=submit]").click()
    coordinator.wait_for_url("**find=1**")
    if coordinator.locator("#found input").count():
        coordinator.locator("#found input").first.check()
        coordinator.locator("form[action$='/volunteers'] button[type=submit]").click()
        coordinator.wait_for_url("**?done=volunteers")
        assert coordinator.locator("#volunteers li").count() == 1
    check(coordinator, lang, width, "school-request")
    coordinator.locator("#f-date").fill("2027-03-11")
    coordinator.locator("#make-event button[type=submit]").click()
    coordinator.wait_for_url("**?done=event")
    assert coordinator.locator("#event-link").is_visible()
    token = login(coopaname, f"conseil@{coopaname.name}.example")["token"]
    status, items = api(coopaname, "GET", "/api/v1/school-requests", token=token)
    assert status == 200
    planned = [r for r in items["items"] if r["school"] == school]
    assert planned[0]["status"] == "planned" and planned[0]["event_id"]


def wait_token(page: Any) -> None:
    """The form may be sent a few seconds after it was served (robots send it at once): wait until then."""
    page.wait_for_function(
        "Number(document.querySelector('input[name=token]').value.split('.')[0]) + 3200 < Date.now()",
        timeout=15_000,
    )


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_a_student_project_on_the_board_graduates_into_a_creation_case(
    browser: Any, nodes: list[DemoNode], lang: str, width: int
) -> None:
    coopaname = nodes[0]
    title = f"Coop étudiante {uuid.uuid4().hex[:6]}"
    page = new_page(browser, lang, width)
    sign_in(page, coopaname, f"conseil@{coopaname.name}.example")
    page.goto(coopaname.url + "/advisor/cases")
    page.locator("#case-title").fill(title)
    page.locator("#case-university").fill("Université Paris 8")
    page.locator("#case-tutor").fill("Mme Benali")
    page.locator("#case-year_start").fill("2026-09-14")
    page.locator("#case-year_end").fill("2027-06-30")
    page.locator("form[action='/advisor/cases'] button[type=submit]").click()
    page.wait_for_url("**/advisor/cases/coopaname/*")
    assert page.locator("#milestones li").count() == 5
    check(page, lang, width, "student-project")
    student_url = page.url
    page.locator("#graduate-form button").click()
    page.wait_for_url(lambda url: url != student_url and "/advisor/cases/coopaname/" in url)
    assert page.locator("#student").count() == 0  # the creation case is a case like the others
    page.goto(student_url)
    assert page.locator("#graduated a").is_visible()
    page.goto(coopaname.url + "/advisor/cases")
    cards = page.locator("article.case-card", has_text=title)
    assert cards.count() == 2  # the student project and the creation case it became
    assert cards.locator(".badge.student").count() == 1
