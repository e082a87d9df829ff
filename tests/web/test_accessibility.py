"""axe-core (pinned in tests/web/package.json) on the main pages of each role: no critical, serious or moderate
violation, on a desktop in French and on a phone in English."""

from __future__ import annotations

from typing import Any, Final

import pytest

from node.demo.run import DemoNode

from .browser import COMBOS, axe_violations, login, new_page, sign_in

pytestmark = pytest.mark.slow

PAGES: Final = {
    "anonymous": ("/", "/login", "/search?q=graphiste", "/nowhere"),
    "member": ("/", "/search?q=graphiste", "/events", "/events/new", "/offers", "/mentoring", "/help", "/inbox",
               "/me", "/me/preview?as=network", "/notifications", "/governance"),
    "advisor": ("/advisor", "/advisor/cases"),
    "operator": ("/operator", "/governance", "/operator/users", "/operator/users?q=example&page=2"),
}  # fmt: skip


@pytest.mark.parametrize(("lang", "width"), COMBOS)
@pytest.mark.parametrize("role", list(PAGES))
def test_main_pages_pass_axe(browser: Any, nodes: list[DemoNode], role: str, lang: str, width: int) -> None:
    coopaname, smart = nodes
    page = new_page(browser, lang, width)
    if role != "anonymous":
        email = {"member": coopaname.member, "operator": coopaname.operator, "advisor": "conseil@coopaname.example"}
        sign_in(page, coopaname, email[role])
    paths = list(PAGES[role])
    if role == "member":
        smart_member = login(smart, smart.member)["member_id"]
        paths.append(f"/members/smart/{smart_member}")
    violations: list[str] = []
    for path in paths:
        page.goto(coopaname.url + path)
        violations += axe_violations(page)
    assert violations == [], "\n".join(violations)
    page.context.close()
