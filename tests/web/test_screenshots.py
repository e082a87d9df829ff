"""Fresh screenshots for the README and the guides (docs/screenshots), on a desktop and on a phone, in French:
the pages as the demo's members, advisors and operators see them. Each page is also checked as the walk does."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final

import pytest

from node.demo.run import DemoNode

from .browser import api, eventually, login, new_page, page_problems, sign_in
from .conftest import SCREENSHOTS

pytestmark = pytest.mark.slow

#: name -> (who, path); ``{smart_member}`` and ``{event}`` are filled in by the test
SHOTS: Final = {
    "home": ("anonymous", "/"),
    "search": ("member", "/search?q=graphiste"),
    "events": ("member", "/events"),
    "profile": ("member", "/members/smart/{smart_member}"),
    "my-profile": ("member", "/me"),
    "inbox": ("member", "/inbox"),
    "conversation": ("member", "/inbox/smart/{smart_member}"),
    "governance": ("operator", "/governance"),
    "operator": ("operator", "/operator"),
    "advisor-board": ("advisor", "/advisor/cases"),
}


def test_screenshots_for_the_guides(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname, smart = nodes
    smart_login = login(smart, smart.member)
    coopaname_member = login(coopaname, coopaname.member)["member_id"]
    # something to show: a message each way, and an event of SMart's in a month
    status, _ = api(
        smart,
        "POST",
        "/api/v1/messages",
        {"to_node": "coopaname", "to_member": coopaname_member, "subject": "Chantier à Montreuil",
         "text": "Bonjour ! Seriez-vous disponible pour un escalier en chêne en mars ?"},
        smart_login["token"],
    )  # fmt: skip
    assert status in (200, 201, 202), status
    start = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(hour=8, minute=30).timestamp() * 1000)
    api(
        smart,
        "POST",
        "/api/v1/events",
        {"kind": "workshop", "title": f"Atelier : fixer son prix de journée {uuid.uuid4().hex[:4]}", "start": start,
         "end": start + 2 * 3_600_000, "online": True, "url": "https://visio.smart.example/prix", "seats": 20,
         "organiser": "Camille Demo", "visibility": "network"},
        smart_login["token"],
    )  # fmt: skip
    pages = {}
    for who in ("anonymous", "member", "operator", "advisor"):
        for width in (1280, 390):
            page = new_page(browser, "fr", width)
            if who != "anonymous":
                email = {"member": coopaname.member, "operator": coopaname.operator}.get(who)
                sign_in(page, coopaname, email or "conseil@coopaname.example")
            pages[(who, width)] = page
    eventually(
        pages[("member", 1280)],
        coopaname.url + "/inbox",
        lambda p: "escalier en chêne" in p.inner_text("main"),
        what="SMart's message in the inbox",
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for name, (who, path) in SHOTS.items():
        for width in (1280, 390):
            page = pages[(who, width)]
            page.goto(coopaname.url + path.format(smart_member=smart_login["member_id"]))
            problems += page_problems(page, "fr", width)
            suffix = "" if width > 600 else "-phone"
            page.screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"), full_page=False)
    for page in pages.values():
        page.context.close()
    assert problems == [], problems
