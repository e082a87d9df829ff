"""The decision log page: an operator proposes, votes, and both coops' pages show the same signed history."""

from __future__ import annotations

from typing import Any

import pytest

from node.demo.run import DemoNode

from .test_pages import eventually_text, new_page, sign_in

pytestmark = pytest.mark.slow


def test_propose_vote_and_read_the_decision_log(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname, smart = nodes
    page = new_page(browser)
    sign_in(page, coopaname, coopaname.operator)
    page.goto(coopaname.url + "/governance")
    page.locator("summary", has_text="Proposer une décision").click()
    page.get_by_label("Décision").select_option("reinstatement")
    page.get_by_label("Coopérative concernée").select_option("smart")
    page.get_by_label("Motivation").fill("Confirmer SMart après la vérification annuelle.")
    page.get_by_role("button", name="Soumettre au vote").click()
    assert "Enregistré et signé" in page.content()
    decision = page.locator("li.decisions, li[data-proposal]").first
    assert decision.get_attribute("data-result") == "pending"
    decision.get_by_label("Pour").check()
    decision.get_by_role("button", name="Voter").click()
    # SMart is the subject, so only Coopaname votes here: one yes of one decides
    eventually_text(page, coopaname.url + "/governance", 'data-result="accepted"')
    assert page.locator('li[data-proposal] tr[data-voter="coopaname"]').first.is_visible()

    member = new_page(browser)
    sign_in(member, smart, smart.member)
    eventually_text(member, smart.url + "/governance", "Confirmer SMart après la vérification annuelle.")
    eventually_text(member, smart.url + "/governance", 'data-result="accepted"')
    assert "Voter" not in member.locator("main").inner_text()  # members read; operators vote
    page.context.close()
    member.context.close()
