"""The advisor's case board in a real headless Chromium against two real nodes (Coopaname and SMart): an
advisor opens a case, moves it across the stages on the board and shares it; SMart's advisor then sees it."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import pytest

from node.demo.run import DemoNode

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.slow


def advisor(node: DemoNode) -> str:
    return f"conseil@{node.name}.example"


def api(node: DemoNode, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    request = urllib.request.Request(
        node.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def sign_in(browser: Any, node: DemoNode, email: str) -> Any:
    page = browser.new_context(locale="fr-FR", viewport={"width": 1600, "height": 860}).new_page()
    page.goto(node.url + "/login")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(node.password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(node.url + "/")
    return page


def card(page: Any, title: str) -> Any:
    return page.locator("article.case-card", has_text=title)


def test_advisor_moves_a_case_on_the_board_and_shares_it(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname, smart = nodes
    token = api(
        coopaname, "POST", "/api/v1/auth/login", body={"email": advisor(coopaname), "password": coopaname.password}
    )["token"]
    # A few other cases so the board looks like an advisor's week.
    for title, origin, form, stage in (
        ("Garage solidaire de Bondy", "company_takeover", "scop", "feasibility"),
        ("Cantine des Lilas", "association_conversion", "scic", "co_accompaniment"),
        ("Collectif graphistes", "cae_collective", "cae_activity", "emergence"),
    ):
        group = [{"name": f"Personne {i}", "associate": True, "employee": True} for i in range(len(title) % 5 + 2)]
        body = {"title": title, "origin_kind": origin, "target_form": form, "group": group}
        case = api(coopaname, "POST", "/api/v1/onboarding/cases", token, body)
        if stage != "emergence":
            api(coopaname, "POST", f"/api/v1/onboarding/cases/coopaname/{case['id']}/stage", token, {"stage": stage})

    title = f"Fournil coopératif {uuid.uuid4().hex[:6]}"
    page = sign_in(browser, coopaname, advisor(coopaname))
    page.goto(coopaname.url + "/advisor")
    page.get_by_role("link", name="Tableau des projets collectifs accompagnés").click()
    page.get_by_label("Nom du projet").fill(title)
    page.get_by_label("Forme visée").select_option("cae_activity")
    page.locator("#f-trades-words").fill("boulanger")
    page.get_by_role("button", name="Ouvrir", exact=True).click()
    assert page.locator("h1", has_text=title).is_visible()

    page.goto(coopaname.url + "/advisor/cases")
    assert card(page, title).locator("xpath=ancestor::section").get_attribute("data-stage") == "emergence"
    for stage in ("co_accompaniment", "feasibility", "legal_form"):
        card(page, title).get_by_role("button", name="Étape suivante").click()
        page.wait_for_url(coopaname.url + "/advisor/cases")
        assert page.locator(f'section[data-stage="{stage}"] article.case-card', has_text=title).count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    card(page, title).get_by_role("link", name=title).click()
    assert page.locator("[data-current-stage]").get_attribute("data-current-stage") == "legal_form"
    page.get_by_label("Coopérative", exact=True).select_option("smart")
    page.get_by_role("button", name="Partager", exact=True).click()
    assert page.locator("[data-shared-with]").get_attribute("data-shared-with") == "smart"
    page.context.close()

    other = sign_in(browser, smart, advisor(smart))
    deadline_reloads = 100
    for _ in range(deadline_reloads):  # the snapshot travels by the outbox: usually at once
        other.goto(smart.url + "/advisor/cases")
        if card(other, title).count():
            break
        other.wait_for_timeout(300)
    shared = card(other, title)
    assert shared.count() == 1 and "de Coopaname" in shared.inner_text()
    assert shared.locator("xpath=ancestor::section").get_attribute("data-stage") == "legal_form"
    shared.get_by_role("link", name=title).click()
    assert "Garage solidaire" not in other.content()  # only the shared case travelled
    other.context.close()
