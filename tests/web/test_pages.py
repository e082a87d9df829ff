"""The pages in a real headless Chromium against two real node processes (Coopaname and SMart)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from node.demo.run import DemoNode

pytestmark = pytest.mark.slow


def api_login(node: DemoNode, email: str) -> dict[str, Any]:
    request = urllib.request.Request(
        node.url + "/api/v1/auth/login",
        data=json.dumps({"email": email, "password": node.password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def new_page(browser: Any, lang: str = "fr") -> Any:
    context = browser.new_context(locale="fr-FR" if lang == "fr" else "en-GB", viewport={"width": 1200, "height": 900})
    return context.new_page()


def sign_in(page: Any, node: DemoNode, email: str) -> None:
    page.goto(node.url + "/login")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(node.password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(node.url + "/")


def eventually_text(page: Any, url: str, text: str, present: bool = True, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        page.goto(url)
        found = text in page.content()
        if found == present:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} {'never appeared' if present else 'never went away'} on {url}")
        page.wait_for_timeout(300)  # between reloads of a page whose content arrives by replication


def test_sign_in_and_language_switch(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname = nodes[0]
    page = new_page(browser)
    page.goto(coopaname.url + "/")
    page.goto(coopaname.url + "/login")
    page.get_by_label("Adresse électronique").fill(coopaname.member)
    page.get_by_label("Mot de passe").fill("wrong password!")
    page.get_by_role("button", name="Se connecter").click()
    assert "Adresse ou mot de passe incorrect" in page.content()
    sign_in(page, coopaname, coopaname.member)
    assert page.get_by_role("link", name="Mon profil").is_visible()
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("link", name="My profile").is_visible()
    page.context.close()


def test_search_with_a_facet(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname, smart = nodes
    smart_me = api_login(smart, smart.member)
    profile = urllib.request.Request(
        smart.url + "/api/v1/me/profile", headers={"Authorization": f"Bearer {smart_me['token']}"}
    )
    with urllib.request.urlopen(profile, timeout=10) as response:
        fields = json.loads(response.read())["fields"]
    word = fields["trades"][0]["label"].split()[0]
    page = new_page(browser)
    sign_in(page, coopaname, coopaname.member)
    page.goto(f"{coopaname.url}/search?q={word}")
    origins = {r.get_attribute("data-origin") for r in page.locator("li.result").all()}
    assert "smart" in origins, origins
    page.locator('a[data-facet="origin"][data-value="smart"]').click()
    page.wait_for_load_state()
    filtered = {r.get_attribute("data-origin") for r in page.locator("li.result").all()}
    assert filtered == {"smart"}
    assert page.locator('a[data-facet="origin"][data-value="smart"]').get_attribute("aria-current") == "true"
    # coded facet values read as words in the page's language (the demo's members all speak French)
    assert page.locator('a[data-facet="language"][data-value="fr"]').inner_text().startswith("Français")
    page.goto(page.url + "&lang=en")
    assert page.locator('a[data-facet="language"][data-value="fr"]').inner_text().startswith("French")
    assert page.locator('a[data-facet="kind"][data-value="profile"]').inner_text().startswith("Member")
    page.context.close()


def test_cross_coop_contact_reaches_the_other_inbox(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname, smart = nodes
    smart_member = api_login(smart, smart.member)["member_id"]
    text = f"Bonjour ! Disponible pour un chantier en mars ? {uuid.uuid4().hex[:8]}"
    page = new_page(browser)
    sign_in(page, coopaname, coopaname.member)
    page.goto(f"{coopaname.url}/members/smart/{smart_member}")
    assert "Membre de SMart" in page.locator("article.profile .meta").first.inner_text()
    page.locator("#f-subject").fill("Chantier à Montreuil")
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Envoyer").click()
    assert "Message envoyé" in page.content()
    page.context.close()

    reader = new_page(browser)
    sign_in(reader, smart, smart.member)
    eventually_text(reader, smart.url + "/inbox", text)
    message = reader.locator("li.conversation", has_text=text)
    assert message.get_attribute("data-from-node") == "coopaname"
    # the reply goes back across coops from the conversation, its subject kept
    message.locator("a").click()
    reader.wait_for_load_state()
    assert reader.locator('input[name="subject"]').input_value() == "Re: Chantier à Montreuil"
    answer = f"Oui, à partir du 10 mars. {uuid.uuid4().hex[:8]}"
    reader.locator("#f-text").fill(answer)
    reader.get_by_role("button", name="Envoyer").click()
    assert "Message envoyé" in reader.content()
    reader.context.close()
    writer = new_page(browser)
    sign_in(writer, coopaname, coopaname.member)
    eventually_text(writer, coopaname.url + "/inbox", answer)
    writer.context.close()


def test_visibility_decides_what_another_coop_sees(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname, smart = nodes
    member_id = api_login(coopaname, coopaname.member)["member_id"]
    bio = f"Menuisière, j'aime les projets collectifs {uuid.uuid4().hex[:8]}"
    owner = new_page(browser)
    sign_in(owner, coopaname, coopaname.member)
    owner.goto(coopaname.url + "/me")
    owner.locator("#f-bio").fill(bio)
    owner.locator('input[name="vis.bio"][value="network"]').check()
    owner.get_by_role("button", name="Enregistrer").click()
    assert "Profil enregistré" in owner.content()

    other = new_page(browser)
    sign_in(other, smart, smart.member)
    eventually_text(other, f"{smart.url}/members/coopaname/{member_id}", bio)

    owner.goto(coopaname.url + "/me")
    owner.locator('input[name="vis.bio"][value="coop"]').check()
    owner.get_by_role("button", name="Enregistrer").click()
    eventually_text(other, f"{smart.url}/members/coopaname/{member_id}", bio, present=False)
    # still visible inside the member's own coop
    colleague = new_page(browser)
    sign_in(colleague, coopaname, coopaname.operator)
    colleague.goto(f"{coopaname.url}/members/coopaname/{member_id}")
    assert bio in colleague.content()
    for p in (owner, other, colleague):
        p.context.close()


def test_operator_dashboard(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname = nodes[0]
    page = new_page(browser)
    sign_in(page, coopaname, coopaname.operator)
    page.goto(coopaname.url + "/operator")
    row = page.locator('li[data-peer="smart"]')
    assert row.is_visible()
    assert page.locator("svg.chart rect").count() == 24
    assert "Clés du nœud" in page.content()
    # the last successful exchange with the peer reads as a date, not as milliseconds
    deadline = time.monotonic() + 30
    while not row.locator("time").count() and time.monotonic() < deadline:
        page.wait_for_timeout(300)
        page.goto(coopaname.url + "/operator")
    assert row.locator("time").inner_text().startswith("il y a"), row.inner_text()  # a relative time, not ms
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0[12]:00", row.locator("time").get_attribute("datetime"))
    member_page = new_page(browser)
    sign_in(member_page, coopaname, coopaname.member)
    member_page.goto(coopaname.url + "/operator")
    assert "Cette page ou cette action est réservée" in member_page.content()
    page.context.close()
    member_page.context.close()


def test_help_request_answered_by_a_colleague(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname = nodes[0]
    topic = f"Qui connaît un bon comptable ? {uuid.uuid4().hex[:6]}"
    asker = new_page(browser)
    sign_in(asker, coopaname, coopaname.member)
    asker.goto(coopaname.url + "/help")
    asker.locator("details.card > summary").click()  # « Poser une question »: folded once there are requests
    asker.get_by_label("Sujet").fill(topic)
    asker.get_by_role("button", name="Publier").click()
    asker.wait_for_load_state()
    colleague = new_page(browser)
    sign_in(colleague, coopaname, coopaname.operator)
    colleague.goto(coopaname.url + "/help")
    request = colleague.locator("li.result", has_text=topic)
    request.locator("textarea").fill("Essaie la coopérative d'à côté, ils sont très bien.")
    request.get_by_role("button", name="Répondre").click()
    colleague.wait_for_load_state()
    asker.goto(coopaname.url + "/help")
    answers = asker.locator("li.result", has_text=topic).locator("li.answer")
    assert answers.count() == 1
    assert "très bien" in answers.first.inner_text()
    for p in (asker, colleague):
        p.context.close()


def test_operator_imports_a_large_members_file(browser: Any, nodes: list[DemoNode], tmp_path: Any) -> None:
    """A file above the app-wide 256 KiB body limit is streamed; each imported member's invitation link is shown."""
    coopaname = nodes[0]
    tag = uuid.uuid4().hex[:6]
    bio = "Accompagnement de projets collectifs, animation d'ateliers et formation d'adultes. " * 3
    lines = ["email,display_name,trades,bio"]
    lines += [f'import-{tag}-{i}@example.org,Membre {i},K2111,"{bio}"' for i in range(1200)]
    lines.append(f"not-an-address-{tag},Sans adresse,,")  # one bad row: reported with its line, the rest imported
    csv_file = tmp_path / "members.csv"
    csv_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert csv_file.stat().st_size > 256 * 1024
    page = new_page(browser)
    sign_in(page, coopaname, coopaname.operator)
    page.goto(coopaname.url + "/operator")
    page.set_input_files("#csv", str(csv_file))
    page.get_by_role("button", name="Importer").click()
    page.wait_for_load_state()
    report = page.locator("div.report")
    assert "1200 lignes importées sur 1201" in report.inner_text()
    assert "Ligne 1202" in report.inner_text() and "Ce n'est pas une adresse électronique" in report.inner_text()
    links = page.locator("textarea.invitation-links").input_value().splitlines()
    assert links[0] == "email,link" and len(links) == 1201
    email, link = links[1].split(",")
    assert email == f"import-{tag}-0@example.org" and link.startswith(f"{coopaname.url}/invitation/")
    page.goto(link)  # the link works: the invitation page asks the member to choose a password
    assert page.locator('input[type="password"]').count() >= 1
    page.context.close()
    # the same upload without the page's token is refused (the token of an upload travels in the query string)
    body = (
        '--b\r\nContent-Disposition: form-data; name="file"; filename="m.csv"\r\n\r\nemail,display_name\r\n'
        f"forged-{tag}@example.org,Forged\r\n--b--\r\n"
    ).encode()
    forged = urllib.request.Request(
        coopaname.url + "/operator/import",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        method="POST",
    )
    try:
        urllib.request.urlopen(forged, timeout=10)
        raise AssertionError("a forged upload was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403


def test_reply_to_someone_whose_profile_does_not_reach_this_node(browser: Any, nodes: list[DemoNode]) -> None:
    coopaname, smart = nodes
    operator_id = api_login(coopaname, coopaname.operator)["member_id"]
    smart_member = api_login(smart, smart.member)["member_id"]
    reader = new_page(browser)
    sign_in(reader, smart, smart.member)
    missing = reader.goto(f"{smart.url}/members/coopaname/{operator_id}")
    assert missing is not None and missing.status == 404  # the operator shares no profile with the network
    writer = new_page(browser)
    sign_in(writer, coopaname, coopaname.operator)
    writer.goto(f"{coopaname.url}/members/smart/{smart_member}")
    text = f"Une question sur la facturation {uuid.uuid4().hex[:8]}"
    writer.get_by_label("Message", exact=True).fill(text)
    writer.get_by_role("button", name="Envoyer").click()
    assert "Message envoyé" in writer.content()
    eventually_text(reader, smart.url + "/inbox", text)
    reader.locator("li.conversation", has_text=text).locator("a").click()
    reader.wait_for_load_state()
    assert reader.get_by_role("button", name="Envoyer").is_visible()  # the sender of a message can be answered
    for p in (reader, writer):
        p.context.close()
