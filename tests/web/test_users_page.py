"""The operator's accounts page in Chromium: search, pages, and acting on one account (French on a desktop,
English on a phone)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from node.demo.run import DemoNode
from tests.web.browser import COMBOS, new_page, page_problems, sign_in
from tests.web.conftest import SCREENSHOTS


def _import(node: DemoNode, tmp_path: Path, tag: str, count: int) -> None:
    """Members imported by the operator's command, into the running node's database."""
    lines = ["email,display_name"] + [f"users-{tag}-{i:03d}@example.org,Compte {tag} {i:03d}" for i in range(count)]
    csv_file = tmp_path / "accounts.csv"
    csv_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", "members", "import", str(node.directory), str(csv_file),
         "--invitations", str(tmp_path / "links.csv")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_the_accounts_page(browser: Any, nodes: list[DemoNode], tmp_path: Path, lang: str, width: int) -> None:
    coopaname = nodes[0]
    tag = uuid.uuid4().hex[:6]
    _import(coopaname, tmp_path, tag, 120)
    page = new_page(browser, lang, width)
    sign_in(page, coopaname, coopaname.operator)
    page.goto(coopaname.url + "/operator")
    page.locator("#accounts-link").click()
    page.wait_for_url("**/operator/users")
    page.locator("#u-q").fill(f"users-{tag}")
    page.locator("form[role=search] button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-account]").count() == 50
    assert "120" in page.locator("#account-count").inner_text()
    assert page_problems(page, lang, width) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"accounts-{lang}-{width}.png"), full_page=False)
    page.locator("a[rel=next]").click()
    page.wait_for_load_state()
    page.locator("a[rel=next]").click()
    page.wait_for_load_state()
    rows = page.locator("tr[data-account]")
    assert rows.count() == 20 and f"users-{tag}-119@example.org" in rows.last.inner_text()
    assert page.locator("a[rel=next]").count() == 0
    # disable the last one: the page says so, and the search (kept) shows it disabled
    last = rows.last
    last.locator("form[action$='/disable'] button").click()
    page.wait_for_load_state()
    status = page.locator("[role=status]").inner_text()
    assert f"users-{tag}-119@example.org" in status
    assert ("désactivé" in status) if lang == "fr" else ("disabled" in status)
    assert page_problems(page, lang, width) == []
    assert page.locator("#u-q").input_value() == f"users-{tag}"
    page.context.close()
