"""Helpers of the page tests: a browser page at a width and in a language, signing in, the API for setting up,
and the checks every page must pass (no sideways scroll, no raw code, no untranslated words, axe-core)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel.messages.pofile import read_po

from node.demo.run import DemoNode
from node.web.labels import LABELS
from protocol import RECORD_TYPES

HERE: Final = Path(__file__).resolve().parent
AXE: Final = HERE / "node_modules" / "axe-core" / "axe.min.js"
LOCALES: Final = HERE.parents[1] / "node" / "web" / "locales"
#: the two ways each flow runs: French on a desktop, English on a phone (so each flow meets both widths and both
#: languages across the suite without running four times)
COMBOS: Final = (("fr", 1280), ("en", 390))


def new_page(browser: Any, lang: str = "fr", width: int = 1280) -> Any:
    context = browser.new_context(
        locale="fr-FR" if lang == "fr" else "en-GB",
        viewport={"width": width, "height": 900 if width > 600 else 844},
        extra_http_headers={"Accept-Language": "fr-FR,fr;q=0.9" if lang == "fr" else "en-GB,en;q=0.9"},
        bypass_csp=True,  # axe-core is injected as a script tag; the pages' own CSP allows only their files
    )
    return context.new_page()


def sign_in(page: Any, node: DemoNode, email: str) -> None:
    """Sign in through the login form (by its fields' ids, whatever the page's language)."""
    page.goto(node.url + "/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(node.password)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(node.url + "/")


def api(node: DemoNode, method: str, path: str, body: object = None, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        node.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def login(node: DemoNode, email: str) -> dict[str, Any]:
    status, body = api(node, "POST", "/api/v1/auth/login", {"email": email, "password": node.password})
    assert status == 200, body
    result: dict[str, Any] = body
    return result


def eventually(page: Any, url: str, check: Any, within: float = 40.0, what: str = "condition") -> None:
    """Reload ``url`` until ``check(page)`` holds (content that arrives by replication), within a deadline."""
    deadline = time.monotonic() + within
    while True:
        page.goto(url)
        if check(page):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached on {url} within {within} s")
        page.wait_for_timeout(300)


# ------------------------------------------------------------------------------------------------ checks


@cache
def enum_codes() -> frozenset[str]:
    """Codes that must never show as they are: those of every record enum and label group with an underscore
    or that are English words no French page uses (``workshop``, ``pending``...)."""
    codes: set[str] = set()
    for record in RECORD_TYPES.values():
        for field in record.fields:
            codes.update(field.choices)
    for group in LABELS.values():
        codes.update(group)
    return frozenset(c for c in codes if "_" in c or "." in c)


#: English code words that a French page shows only if a code leaked (French words like "public" left out)
ENGLISH_CODES: Final = frozenset(
    {"pending", "confirmed", "cancelled", "scheduled", "starting", "intermittent", "established", "available",
     "partly", "busy", "unavailable", "workshop", "training", "meeting", "advisor", "operator", "accepted",
     "rejected", "abstain", "fulfilled", "paired", "answered", "requested", "approval", "offer", "request"}
)  # fmt: skip


@cache
def untranslated_sentences(lang: str) -> frozenset[str]:
    """English message ids that a page in ``lang`` must not show: those whose translation differs (long enough
    not to be a word of the data)."""
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    found = set()
    for message in catalog:
        if not message.id or isinstance(message.id, tuple | list):
            continue
        if len(message.id) >= 18 and "%(" not in message.id and message.string and message.string != message.id:
            found.add(message.id)
    return frozenset(found)


def page_problems(page: Any, lang: str, width: int) -> list[str]:
    """What is wrong with the page shown: wider than the screen, a raw code, an untranslated sentence, JSON."""
    problems: list[str] = []
    content_type = page.evaluate("document.contentType")
    if content_type != "text/html":
        return [f"{page.url}: {content_type}, not a page"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        wide = page.evaluate(
            """(w) => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1)
                .slice(0, 3).map(e => e.tagName + '.' + e.className)""",
            width,
        )
        problems.append(f"{page.url}: {scroll} px wide at {width} px ({wide})")
    text = page.evaluate("document.body.innerText")
    words = set(re.findall(r"[a-z0-9]+(?:[_.][a-z0-9]+)+", text))
    leaked = sorted(words & enum_codes())
    if leaked:
        problems.append(f"{page.url}: raw codes {leaked}")
    if lang == "fr":
        english = sorted(w for w in set(re.findall(r"\b[a-z]+\b", text)) & ENGLISH_CODES)
        if english:
            problems.append(f"{page.url}: English code words {english}")
    shown = [s for s in untranslated_sentences(lang) if s in text]
    if shown:
        problems.append(f"{page.url}: untranslated {shown[:3]}")
    if re.search(r'\{"error"|Traceback', text):
        problems.append(f"{page.url}: raw error")
    return problems


def axe_violations(page: Any) -> list[str]:
    """axe-core's critical, serious and moderate violations on the page shown."""
    assert AXE.exists(), f"{AXE} is missing: run `npm ci --prefix tests/web` (make test does)"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => ['critical', 'serious', 'moderate'].includes(v.impact))
            .map(v => v.impact + ' ' + v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"""
    )
    return [f"{page.url}: {v}" for v in result]
