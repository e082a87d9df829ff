"""A member erases their account from their page and lands on the receipts page: the other coop's node confirms,
signed, that it erased their records (issue 12.7), in French on a desktop and in English on a phone."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from node.demo.run import DemoNode

from .browser import COMBOS, api, axe_violations, eventually, login, new_page, page_problems
from .conftest import SCREENSHOTS

pytestmark = pytest.mark.slow
PASSWORD = "un mot de passe assez long"


def new_member(node: DemoNode, word: str) -> str:
    """A fresh member (invited by the operator, who accepts) sharing a bio with the network; their email."""
    email = f"efface-{uuid.uuid4().hex[:8]}@{node.name}.example"
    operator = login(node, node.operator)["token"]
    status, invited = api(node, "POST", "/api/v1/accounts", {"email": email, "role": "member"}, operator)
    assert status == 201, invited
    status, accepted = api(
        node, "POST", "/api/v1/auth/accept", {"token": invited["invitation_token"], "password": PASSWORD}
    )
    assert status == 200, accepted
    status, changed = api(
        node,
        "PATCH",
        "/api/v1/me/profile",
        {"fields": {"display_name": "Effacée", "bio": f"Doreuse {word}"}, "visibility": {"bio": "network"}},
        accepted["token"],
    )
    assert status == 200, changed
    return email


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_erasure_leads_to_its_receipts(browser: Any, nodes: list[DemoNode], lang: str, width: int) -> None:
    coopaname, smart = nodes[0], nodes[1]
    word = f"dorure{uuid.uuid4().hex[:6]}"
    email = new_member(coopaname, word)
    smart_operator = login(smart, smart.operator)["token"]

    def found_on_smart() -> bool:
        status, body = api(smart, "GET", f"/api/v1/search?q={word}", None, smart_operator)
        return status == 200 and bool(body["items"])

    reader = new_page(browser, lang, width)
    eventually(reader, smart.url + "/", lambda _p: found_on_smart(), what="the profile on smart")

    page = new_page(browser, lang, width)
    page.goto(coopaname.url + "/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(coopaname.url + "/")
    page.goto(coopaname.url + "/me")
    page.locator("section.danger details summary").click()
    page.locator("#erase-password").fill(PASSWORD)
    page.locator("form[action='/me/erase'] button[type=submit]").click()
    page.wait_for_url("**/erasures/*")
    address = page.url

    def confirmed(p: Any) -> bool:
        return bool(p.locator('li[data-node="smart"][data-status="confirmed"]').count() == 1)

    eventually(page, address, confirmed, what="smart's receipt on the erasure page")
    text = page.inner_text("main")
    assert ("Confirmé" if lang == "fr" else "Confirmed") in text and "SMart" in text
    assert page_problems(page, lang, width) == []
    assert axe_violations(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SCREENSHOTS) / f"erasure-{lang}-{width}.png"), full_page=True)
    # the receipts as JSON: the link on the page, for the member to keep
    href = page.locator("a[download]").get_attribute("href")
    assert href is not None and href.startswith("/api/v1/erasures/")
    status, doc = api(coopaname, "GET", href)
    assert status == 200 and doc["nodes"][0]["receipts"][0]["signed_hex"]
    assert not found_on_smart()
    page.context.close()
    reader.context.close()
