"""Cross-coop event registration in a real headless Chromium: a Coopaname member registers for a SMart event,
sees SMart confirm it, and SMart's organiser sees the participant from Coopaname."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import pytest

from node.demo.run import DemoNode

from .test_pages import api_login, eventually_text, new_page, sign_in

pytestmark = pytest.mark.slow


def create_event(node: DemoNode, email: str, title: str) -> str:
    """An event with seats, created through the organiser node's API (the demo data may have none open)."""
    token = api_login(node, email)["token"]
    body = {"kind": "workshop", "title": title, "start": 1_900_000_000_000, "seats": 5, "visibility": "network"}
    request = urllib.request.Request(
        node.url + "/api/v1/events",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["id"])


def test_member_registers_for_another_coops_event(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname, smart = nodes[0], nodes[1]
    title = f"Atelier gouvernance partagée {uuid.uuid4().hex[:6]}"
    event_id = create_event(smart, smart.operator, title)

    page = new_page(browser)
    sign_in(page, coopaname, coopaname.member)
    eventually_text(page, coopaname.url + "/events", title)  # replicated from SMart
    item = page.locator(f'li.event-card[data-origin="smart"][data-id="{event_id}"]')
    item.get_by_role("button", name="S'inscrire").click()
    page.wait_for_load_state()
    assert "Demande d'inscription envoyée" in page.content()
    eventually_text(page, coopaname.url + "/events", "confirmée")  # SMart's signed answer came back
    item = page.locator(f'li.event-card[data-origin="smart"][data-id="{event_id}"]')
    assert item.locator(".registration").get_attribute("data-state") == "confirmed"
    page.goto(coopaname.url + "/inbox")
    assert "Inscription : confirmée" in page.inner_text("main") and title in page.inner_text("main")
    page.locator("li.conversation", has_text=title).locator("a").click()  # SMart's notes about its events
    page.wait_for_load_state()
    # the note is from SMart about its event: its link leads to the event, not to a member page that is not there
    note = page.locator("li.message", has_text=title)
    assert "Registration confirmed" not in note.inner_text()  # in the page's language only
    note.locator("p.notice a").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/events#event-smart-{event_id}")
    assert page.locator(f"#event-smart-{event_id}").is_visible()

    organiser = new_page(browser)
    sign_in(organiser, smart, smart.operator)
    organiser.goto(smart.url + "/events")
    listed = organiser.locator(f'li.event-card[data-origin="smart"][data-id="{event_id}"] details.participants')
    assert listed.locator('li[data-origin="coopaname"]').count() == 1
    assert "(1)" in listed.locator("summary").inner_text()
    page.context.close()
    organiser.context.close()
