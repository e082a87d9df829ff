"""Booking Point Carré's spaces and machines in a real headless Chromium: a SMart member finds Coopaname's
coworking desk, types a slot outside the opening hours (refused on the same form, with what was typed), books a
valid one and sees Coopaname confirm it; the laser cutter is refused for want of the induction until Coopaname's
staff record it on their page. French on a desktop, English on a phone."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from node.demo.run import DemoNode

from .browser import COMBOS, api, axe_violations, eventually, login, new_page, page_problems, sign_in

pytestmark = pytest.mark.slow
PARIS = ZoneInfo("Europe/Paris")
WORDS = {
    "fr": {
        "book": "Réserver",
        "sent": "Demande de réservation envoyée à Coopaname",
        "confirmed": "confirmée",
        "refused": "La réservation est refusée",
        "hours": "en dehors des horaires d'ouverture",
        "qualification": "habilitation",
        "record": "Enregistrer l'habilitation",
        "recorded": "Habilitation enregistrée",
    },
    "en": {
        "book": "Book",
        "sent": "Booking request sent to Coopaname",
        "confirmed": "confirmed",
        "refused": "The booking was refused",
        "hours": "outside the opening hours",
        "qualification": "qualification",
        "record": "Record the qualification",
        "recorded": "Qualification recorded",
    },
}


def weekday_ahead(iso_day: int, weeks: int) -> str:
    day = dt.datetime.now(PARIS).date() + dt.timedelta(weeks=weeks)
    return (day + dt.timedelta(days=(iso_day - day.isoweekday()) % 7)).isoformat()


def resource_id(node: DemoNode, title: str) -> str:
    status, body = api(node, "GET", "/api/v1/resources")
    assert status == 200, body
    return str(next(r["id"] for r in body["items"] if r["title"] == title))


def fill_slot(page: Any, day: str, start: str, end: str) -> None:
    page.locator("#f-date").fill(day)
    page.locator("#f-start_time").fill(start)
    page.locator("#f-end_time").fill(end)


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_member_of_another_coop_books_a_desk_and_a_machine(
    browser: Any, nodes: list[DemoNode], lang: str, width: int
) -> None:
    smart = nodes[1]
    words = WORDS[lang]
    weeks = 3 if lang == "fr" else 4  # each combination its own week: the session's nodes are shared
    desk = resource_id(smart, "Poste de coworking 2")
    page = new_page(browser, lang, width)
    sign_in(page, smart, smart.member)
    page.goto(smart.url + "/resources?kind=space")
    page.locator(f'li.resource-card[data-id="{desk}"] a').click()
    page.wait_for_load_state()
    assert page_problems(page, lang, width) == []
    assert axe_violations(page) == []

    # outside the opening hours: Coopaname refuses, the form comes back with what was typed and the reason
    day = weekday_ahead(3, weeks)
    fill_slot(page, day, "20:00", "21:00")
    page.get_by_role("button", name=words["book"], exact=True).click()
    page.wait_for_load_state()
    assert words["refused"] in page.inner_text("#error-summary") and words["hours"] in page.inner_text("main")
    assert page.locator("#f-start_time").input_value() == "20:00"
    assert page.locator("#f-date").input_value() == day
    assert page_problems(page, lang, width) == []

    # a slot inside the hours: sent to Coopaname, confirmed, shown on the week's calendar as mine
    fill_slot(page, day, "09:00", "12:00")
    page.get_by_role("button", name=words["book"], exact=True).click()
    page.wait_for_load_state()
    assert words["sent"] in page.inner_text("main")
    eventually(
        page,
        smart.url + "/bookings",
        lambda p: p.locator(".booking[data-status='confirmed']").count() >= 1,
        what="Coopaname's confirmation",
    )
    assert words["confirmed"] in page.inner_text("main")
    assert page_problems(page, lang, width) == []
    assert axe_violations(page) == []
    page.goto(smart.url + f"/resources/coopaname/{desk}?day={day}")
    assert page.locator("td.slot-mine").count() == 3  # 09:00, 10:00 and 11:00

    # the laser cutter needs the induction
    laser = resource_id(smart, "Découpeuse laser 60 W")
    page.goto(smart.url + f"/resources/coopaname/{laser}")
    assert words["qualification"] in page.inner_text("main").lower()
    fill_slot(page, weekday_ahead(2, weeks), "10:00", "11:00")
    page.get_by_role("button", name=words["book"], exact=True).click()
    page.wait_for_load_state()
    eventually(
        page,
        smart.url + "/bookings",
        lambda p: p.locator(".booking[data-status='refused']").count() >= 1,
        what="Coopaname's refusal",
    )
    assert words["qualification"] in page.locator(".booking[data-status='refused']").first.inner_text()


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_the_place_staff_record_a_qualification(browser: Any, nodes: list[DemoNode], lang: str, width: int) -> None:
    coopaname, smart = nodes[0], nodes[1]
    words = WORDS[lang]
    smart_member = login(smart, smart.member)
    status, me = api(smart, "GET", "/api/v1/me", token=smart_member["token"])
    assert status == 200, me
    staff = new_page(browser, lang, width)
    sign_in(staff, coopaname, coopaname.operator)
    staff.goto(coopaname.url + "/bookings")
    staff.locator("#f-qualification").select_option("laser-cutter")
    staff.locator("#f-member").fill("smart")  # no member id: refused, what was typed kept
    staff.get_by_role("button", name=words["record"]).click()
    staff.wait_for_load_state()
    assert staff.locator("#f-member").input_value() == "smart"
    assert staff.locator("#err-member").is_visible()
    staff.locator("#f-member").fill(f"{smart.url}/members/smart/{me['member_id']}")  # a member page's address
    staff.get_by_role("button", name=words["record"]).click()
    staff.wait_for_load_state()
    assert words["recorded"] in staff.inner_text("main")
    assert page_problems(staff, lang, width) == []
    assert axe_violations(staff) == []


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_the_staff_publish_and_close_a_machine(browser: Any, nodes: list[DemoNode], lang: str, width: int) -> None:
    coopaname, smart = nodes[0], nodes[1]
    title = f"Brodeuse numérique {lang}"
    staff = new_page(browser, lang, width)
    sign_in(staff, coopaname, coopaname.operator)
    staff.goto(coopaname.url + "/resources")
    staff.locator("a[href='/resources/new']").click()
    staff.wait_for_load_state()
    staff.locator("input[name=kind][value=machine]").check()
    staff.locator("#f-title").fill(title)
    staff.locator("#f-town").fill("Saint-Denis")
    staff.locator("#f-o2").fill("10:00")
    staff.locator("#f-c2").fill("18:00")
    staff.locator("#f-access_network").select_option("paid")
    staff.locator("#f-amt_network").fill("douze")  # not an amount: the form comes back as typed
    staff.locator("#f-qualification").fill("embroidery")
    staff.locator("form.form-card button[type=submit]").click()
    staff.wait_for_load_state()
    assert staff.locator("#err-amount_network").is_visible()
    assert staff.locator("#f-title").input_value() == title and staff.locator("#f-o2").input_value() == "10:00"
    assert page_problems(staff, lang, width) == []
    assert axe_violations(staff) == []
    staff.locator("#f-amt_network").fill("7,50")
    staff.locator("form.form-card button[type=submit]").click()
    staff.wait_for_load_state()
    assert "done=published" in staff.url and title in staff.inner_text("h1")
    assert "7,50" in staff.inner_text("main") or "7.50" in staff.inner_text("main")
    record_id = staff.url.split("/resources/coopaname/", 1)[1].split("?", 1)[0]

    # it reaches SMart, then closing it there stops bookings
    eventually(
        staff, smart.url + "/resources", lambda p: title in p.inner_text("main"), what="the new machine at SMart"
    )
    staff.goto(coopaname.url + f"/resources/edit/{record_id}")
    assert staff.locator("#f-title").input_value() == title
    staff.locator("#f-status").select_option("closed")
    staff.locator("form.form-card button[type=submit]").click()
    staff.wait_for_load_state()
    status, body = api(coopaname, "GET", f"/api/v1/resources/coopaname/{record_id}")
    assert status == 200 and body["status"] == "closed" and body["hours"] == [{"day": 2, "opens": 600, "closes": 1080}]

    member = new_page(browser, lang, width)  # a member sees no form to publish
    sign_in(member, coopaname, coopaname.member)
    assert member.goto(coopaname.url + "/resources/new").status == 403
