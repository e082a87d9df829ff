"""Every page each role reaches by following links, on a phone, in French and in English: no link answers an
error, no page is wider than the screen, no raw code or untranslated sentence shows, and no link meant for a
person answers JSON. Unknown addresses answer a page in the page's language (JSON stays for /api/)."""

from __future__ import annotations

import re
import urllib.request
from typing import Any, Final
from urllib.parse import urlsplit

import pytest

from node.demo.run import DemoNode
from node.web.i18n import lang_for

from .browser import new_page, page_problems, sign_in

pytestmark = pytest.mark.slow

WIDTH: Final = 390
ROLES: Final = ("anonymous", "member", "advisor", "operator")
_ID: Final = re.compile(r"/[A-Za-z0-9_-]{12,}")
SKIPPED: Final = ("/static/", "/me/export", "/favicon.ico")


def pattern(path: str) -> str:
    """One page per route: ids replaced, the query's keys kept (a search with a facet, a preview as...)."""
    parts = urlsplit(path)
    keys = sorted({k.split("=")[0] for k in parts.query.split("&") if k})
    return _ID.sub("/ID", parts.path) + ("?" + "&".join(keys) if keys else "")


def walk(browser: Any, node: DemoNode, role: str, lang: str) -> tuple[list[str], int]:
    page = new_page(browser, lang, WIDTH)
    if role != "anonymous":
        email = {"member": node.member, "operator": node.operator, "advisor": f"conseil@{node.name}.example"}[role]
        sign_in(page, node, email)
    todo = ["/", "/search?q=menuisier", "/search?q=graphiste&near=Montreuil"]
    seen: set[str] = set()
    problems: list[str] = []
    while todo and len(seen) < 80:
        path = todo.pop(0)
        key = pattern(path)
        if key in seen:
            continue
        seen.add(key)
        response = page.goto(node.url + path)
        status = response.status if response is not None else 0
        if status >= 400:
            problems.append(f"{role}/{lang}: {path} answers {status}")
            continue
        problems += [f"{role}/{lang}: {p}" for p in page_problems(page, lang, WIDTH)]
        links = page.locator("a[href]:not([download])").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        for href in links:
            if not href.startswith("/") or href.startswith(SKIPPED) or "lang=" in href:
                continue
            todo.append(href.split("#")[0] or "/")
    page.context.close()
    return problems, len(seen)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_reaches(browser: Any, nodes: list[DemoNode], role: str) -> None:
    coopaname = nodes[0]
    problems: list[str] = []
    counts = []
    for lang in ("fr", "en"):
        found, count = walk(browser, coopaname, role, lang)
        problems += found
        counts.append(count)
    assert problems == [], "\n".join(problems)
    assert min(counts) >= (3 if role == "anonymous" else 12), counts  # the walk reached the role's pages


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_unknown_addresses_answer_a_page_in_its_language(browser: Any, nodes: list[DemoNode], lang: str) -> None:
    coopaname = nodes[0]
    t = lang_for(lang, "Europe/Paris")
    page = new_page(browser, lang, WIDTH)
    for path in ("/nowhere", "/members/coopaname/nobody-at-all-here", "/static/missing.css"):
        response = page.goto(coopaname.url + path)
        assert response is not None and response.status == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert page.locator("h1").inner_text() == t.gettext("Page not found"), path
        assert page.evaluate("document.documentElement.lang") == lang
    with urllib.request.urlopen(coopaname.url + "/favicon.ico", timeout=10) as icon:
        assert icon.status == 200 and icon.read(4) == b"\x00\x00\x01\x00"  # an icon, not a 404
    request = urllib.request.Request(coopaname.url + "/api/v1/nowhere", headers={"Accept": "text/html"})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("an unknown API address answered 200")
    except urllib.error.HTTPError as exc:  # the API keeps answering JSON
        assert exc.code == 404 and exc.headers["Content-Type"].startswith("application/json")
    page.context.close()


def test_the_language_switch_keeps_the_search(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname = nodes[0]
    page = new_page(browser, "fr", 1280)
    page.goto(coopaname.url + "/search?q=graphiste&type=profile")
    page.locator("a.lang-link[hreflang=en]").click()
    page.wait_for_load_state()
    assert "q=graphiste" in page.url and "type=profile" in page.url and "lang=en" in page.url
    assert page.locator("#q").input_value() == "graphiste"
    assert page.evaluate("document.documentElement.lang") == "en"
    page.goto(coopaname.url + "/search?q=graphiste")  # the choice is remembered
    assert page.evaluate("document.documentElement.lang") == "en"
    page.context.close()
