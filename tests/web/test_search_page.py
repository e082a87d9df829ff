"""The search page with a place and radius, saving the search, and its notification arriving from another coop.

Two real nodes (see conftest.py); the saved-search job runs every 2 s there (``BIGRE_SAVED_SEARCH_SECONDS``).
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import pytest

from node.demo.run import DemoNode

from .test_pages import api_login, eventually_text, new_page, sign_in

pytestmark = pytest.mark.slow


def api_call(node: DemoNode, token: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        node.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


def test_search_near_a_town_and_save_it(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname, smart = nodes
    smart_token = api_login(smart, smart.member)["token"]
    fields = api_call(smart, smart_token, "GET", "/api/v1/me/profile")["fields"]
    trade = fields["trades"][0]
    town = fields["place"]["town"]
    word = trade["label"].split()[0]

    page = new_page(browser)
    sign_in(page, coopaname, coopaname.member)
    page.goto(coopaname.url + "/search")
    page.get_by_label("Mots à chercher").fill(word)
    page.get_by_label("Près de").fill(town)
    page.get_by_label("Rayon (km)").select_option("10")
    page.get_by_role("button", name="Chercher").click()
    page.wait_for_load_state()
    assert "near=" in page.url and "radius_km=10" in page.url
    results = page.locator("li.result")
    assert results.count() >= 1
    assert page.locator('li.result[data-origin="smart"]').count() >= 1
    distances = [
        float(d.inner_text().removeprefix("à ").removesuffix(" km").replace(",", "."))
        for d in page.locator("li.result .distance").all()
    ]
    assert distances and all(d <= 10 for d in distances), distances
    assert page.get_by_label("Rayon (km)").input_value() == "10"  # the form keeps the search

    page.locator('a[data-facet="origin"][data-value="smart"]').click()
    page.wait_for_load_state()
    assert {r.get_attribute("data-origin") for r in page.locator("li.result").all()} == {"smart"}
    assert "near=" in page.url  # a facet keeps the place

    name = f"Près de {town} {uuid.uuid4().hex[:6]}"
    page.get_by_label("Nom (facultatif)").fill(name)
    page.get_by_role("button", name="Enregistrer cette recherche").click()
    page.wait_for_load_state()
    assert "Recherche enregistrée" in page.content()

    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Alertes").click()
    page.wait_for_load_state()
    assert page.locator("li.saved-search", has_text=name).count() == 1

    # a new matching offer published by the other coop arrives by replication and is notified
    title = f"Renfort {word} {uuid.uuid4().hex[:6]}"
    api_call(
        smart,
        smart_token,
        "POST",
        "/api/v1/offers",
        {"purpose": "request", "title": title, "trades": [trade["rome"]], "place": town, "visibility": "network"},
    )
    eventually_text(page, coopaname.url + "/notifications", title, within=60)
    assert page.locator("li.notification.unread", has_text=title).get_attribute("data-origin") == "smart"
    page.get_by_role("button", name="Tout marquer comme lu").click()
    page.wait_for_load_state()
    assert page.locator("li.notification.unread").count() == 0

    # the search is refused politely for a place that does not exist
    page.goto(coopaname.url + "/search?q=graphiste&near=Atlantis")
    assert page.get_by_role("alert").is_visible()
    page.context.close()
