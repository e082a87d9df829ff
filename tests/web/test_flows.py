"""What a carpenter, an operator and an advisor do on the pages, in Chromium, each flow in French on a desktop
and in English on a phone: find a carpenter in Seine-Saint-Denis and write to them, read and answer in a
conversation, fill the profile with the pickers and preview it, get a form back with what was typed, publish an
event and find it in date order on another coop's node, register, vote on an admission with its details."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from federation import joining
from node.compose import open_node
from node.config import create_node_dir
from node.demo.run import DemoNode
from node.web.i18n import lang_for

from .browser import COMBOS, api, eventually, login, new_page, page_problems, sign_in
from .conftest import run_async

pytestmark = pytest.mark.slow


def words(lang: str) -> Any:
    """The pages' words in ``lang``, from the same catalogs (so the tests read what a person reads)."""
    return lang_for(lang, "Europe/Paris")


def share_carpenter_profile(smart: DemoNode) -> tuple[str, str]:
    """SMart's demo member is a carpenter in Montreuil (Seine-Saint-Denis), shared with the network."""
    me = login(smart, smart.member)
    status, body = api(
        smart,
        "PATCH",
        "/api/v1/me/profile",
        {
            "fields": {"trades": ["H2206"], "place": "Montreuil", "display_name": "Camille Demo (SMart)"},
            "visibility": {"trades": "network", "place": "network", "display_name": "network"},
        },
        me["token"],
    )
    assert status == 200, body
    return str(me["member_id"]), "Camille Demo (SMart)"


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_find_a_carpenter_in_seine_saint_denis_and_write(
    browser: Any, nodes: list[DemoNode], lang: str, width: int
) -> None:
    coopaname, smart = nodes
    member_id, name = share_carpenter_profile(smart)
    t = words(lang)
    page = new_page(browser, lang, width)
    sign_in(page, coopaname, coopaname.member)
    # French: the département by name among the words; English: the trade in English, the département by number
    query = "/search?q=menuisier+Seine-Saint-Denis" if lang == "fr" else "/search?q=carpenter&near=93"
    eventually(
        page,
        coopaname.url + query,
        lambda p: p.locator(f'li.result[data-origin="smart"] a[href="/members/smart/{member_id}"]').count() == 1,
        what="the SMart carpenter found",
    )
    assert "departement=93" in page.url and "near=" not in page.url
    chosen = page.locator('a[data-facet="departement"][data-value="93"]')
    assert chosen.get_attribute("aria-current") == "true" and "Seine-Saint-Denis" in (chosen.text_content() or "")
    filters = page.locator("details.filters")
    assert filters.evaluate("d => d.open") == (width > 760)  # folded under the search box on a phone
    assert "(1)" in filters.locator("summary").inner_text()  # "Filters (1)": the département
    result = page.locator('li.result[data-origin="smart"]', has=page.locator(f'a[href="/members/smart/{member_id}"]'))
    assert ("Menuisier" if lang == "fr" else "Carpenter") in result.inner_text()
    assert "SMart" in result.inner_text()
    assert page_problems(page, lang, width) == []
    result.get_by_role("link", name=name).click()
    page.wait_for_load_state()
    text = f"{'Bonjour, disponible en mars ?' if lang == 'fr' else 'Hello, free in March?'} {uuid.uuid4().hex[:6]}"
    page.locator("#f-subject").fill("Chantier à Montreuil")
    page.locator("#f-text").fill(text)
    page.locator("#contact button[type=submit]").click()
    page.wait_for_load_state()
    assert t.gettext("Message sent: it goes, signed, to the member's cooperative.") in page.inner_text("main")
    page.get_by_role("link", name=t.gettext("See the conversation")).click()
    page.wait_for_load_state()
    assert text in page.locator("li.bubble.mine").last.inner_text()  # the sent message is kept, on the sender's side
    assert page_problems(page, lang, width) == []
    page.context.close()


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_read_and_reply_in_a_conversation(browser: Any, nodes: list[DemoNode], lang: str, width: int) -> None:
    coopaname, smart = nodes
    coopaname_member = login(coopaname, coopaname.member)["member_id"]
    first = f"Une question sur ton devis {uuid.uuid4().hex[:6]}"
    smart_member, _ = share_carpenter_profile(smart)
    writer = new_page(browser, "fr", 1280)
    sign_in(writer, smart, smart.member)
    writer.goto(f"{smart.url}/members/coopaname/{coopaname_member}")
    if writer.locator("#f-text").count() == 0:  # Coopaname's member shares no profile here: write back instead
        pytest.fail("Coopaname's demo member must be reachable from SMart")
    writer.locator("#f-text").fill(first)
    writer.locator("#contact button[type=submit]").click()
    writer.wait_for_load_state()

    reader = new_page(browser, lang, width)
    sign_in(reader, coopaname, coopaname.member)
    eventually(reader, coopaname.url + "/inbox", lambda p: first in p.inner_text("main"), what="the message arrived")
    badge = reader.locator(".site-nav a[href='/inbox'] .count-badge, .menu-button .count-badge").first
    assert int(badge.inner_text()) >= 1  # the unread count in the navigation
    conversation = reader.locator("li.conversation", has_text=first)
    assert "SMart" in conversation.inner_text() and "Camille Demo (SMart)" in conversation.inner_text()
    assert "unread" in (conversation.get_attribute("class") or "")
    assert page_problems(reader, lang, width) == []
    conversation.locator("a").click()
    reader.wait_for_load_state()
    assert first in reader.locator("li.bubble.theirs").last.inner_text()
    assert reader.locator("li.bubble time").last.get_attribute("datetime")  # a relative date, with the exact one
    answer = f"{'Oui, je te l’envoie demain.' if lang == 'fr' else 'Yes, I send it tomorrow.'} {uuid.uuid4().hex[:6]}"
    reader.locator("#f-text").fill(answer)
    reader.locator("#reply button[type=submit]").click()
    reader.wait_for_load_state()
    mine = reader.locator("li.bubble.mine").last
    assert answer in mine.inner_text() and first in mine.locator("blockquote.quoted").inner_text()
    assert page_problems(reader, lang, width) == []
    reader.goto(coopaname.url + "/inbox")  # read: the conversation is no longer unread
    assert "unread" not in (reader.locator("li.conversation", has_text=answer).get_attribute("class") or "")

    # on SMart, the thread holds both messages, the answer quoting the question
    eventually(
        writer,
        f"{smart.url}/inbox/coopaname/{coopaname_member}",
        lambda p: answer in p.inner_text("main"),
        what="the answer arrived",
    )
    assert first in writer.locator("li.bubble.theirs").last.locator("blockquote.quoted").inner_text()
    del smart_member
    reader.context.close()
    writer.context.close()


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_profile_with_the_pickers_and_its_previews(browser: Any, nodes: list[DemoNode], lang: str, width: int) -> None:
    coopaname = nodes[0]
    t = words(lang)
    page = new_page(browser, lang, width)
    sign_in(page, coopaname, f"conseil@{coopaname.name}.example")  # the advisor: other tests use the rest
    page.goto(coopaname.url + "/me")
    trade_input = page.locator("#f-trades-words")
    trade_input.fill("plomb")  # French or English: the vocabulary speaks both
    option = page.locator("#f-trades-words-suggestions [role=option]").first
    option.wait_for()
    label = option.inner_text()
    assert label == ("Plombier" if lang == "fr" else "Plumber"), label
    option.click()
    assert page.locator('input[name="trades"][value="F1603"]').is_checked()  # a chip, not a code to type
    town = page.locator("#f-place")
    town.fill("")
    town.type("Montreu")
    page.locator("#f-place-suggestions [role=option]", has_text="93100").first.click()
    assert town.input_value() == "Montreuil 93100 (93)"
    page.locator("#f-stage").select_option("established")
    page.locator("#f-availability_status").select_option("partly")
    page.locator('input[name="vis.trades"][value="network"]').check()
    page.locator('input[name="vis.place"][value="network"]').check()
    page.locator('input[name="vis.stage"][value="network"]').check()
    page.locator(".profile-form button[type=submit]").click()
    page.wait_for_load_state()
    assert t.gettext("Profile saved.") in page.inner_text("main")
    assert page.locator('input[name="trades"][value="F1603"]').is_checked()
    page.goto(coopaname.url + "/me/preview?as=network")
    preview = page.inner_text("main")
    assert ("Plombier" if lang == "fr" else "Plumber") in preview and "Montreuil (93)" in preview
    assert t.label("project_stage", "established") in preview
    assert page_problems(page, lang, width) == []
    page.goto(coopaname.url + "/me/preview?as=public")  # nothing of it is public
    assert "Montreuil" not in page.inner_text("main")
    page.goto(coopaname.url + "/me/preview?as=coop")
    assert t.label("availability", "partly") in page.inner_text("main")  # the coop sees the coop-only fields
    page.context.close()


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_a_refused_form_comes_back_with_what_was_typed(
    browser: Any, nodes: list[DemoNode], lang: str, width: int
) -> None:
    coopaname = nodes[0]
    t = words(lang)
    page = new_page(browser, lang, width)
    sign_in(page, coopaname, coopaname.member)
    page.goto(coopaname.url + "/me")
    bio = f"Menuisière en Seine-Saint-Denis {uuid.uuid4().hex[:6]}"
    page.locator("#f-bio").fill(bio)
    next_year = dt.date.today().year + 1
    page.locator("#f-availability_from").fill(f"{next_year}-06-01")
    page.locator("#f-availability_until").fill(f"{next_year}-03-01")  # before "from"
    page.locator("#f-place").fill("Saint-Ouen")  # two communes bear the name
    page.locator(".profile-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#error-summary").is_visible()
    assert page.locator("#f-bio").input_value() == bio  # kept
    assert page.locator("#f-place").input_value() == "Saint-Ouen"
    assert page.locator("#err-availability_until").inner_text() == t.gettext("“Until” must come after “from”.")
    assert page.locator("#f-availability_until").get_attribute("aria-invalid") == "true"
    page.locator("#f-availability_until").fill(f"{next_year}-09-01")
    page.locator(".profile-form button[type=submit]").click()  # now the town: the service's refusal, translated
    page.wait_for_load_state()
    message = page.locator("#err-place").inner_text()
    assert "Saint-Ouen 41100 (41)" in message and ("Plusieurs communes" if lang == "fr" else "Several towns") in message
    assert page.locator("#f-bio").input_value() == bio
    assert page_problems(page, lang, width) == []

    # an event in the past: the event form comes back, filled
    page.goto(coopaname.url + "/events/new")
    title = f"Atelier tarifs {uuid.uuid4().hex[:6]}"
    page.locator("#f-title").fill(title)
    page.locator("#f-date").fill("2020-01-15")
    page.locator("#f-start_time").fill("14:00")
    page.locator("#f-online").check()
    page.locator("form.form-card button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#f-title").input_value() == title
    assert page.locator("#err-date").inner_text() == t.gettext(
        "This date is past: an event is published before it happens."
    )
    page.context.close()


def add_event_by_page(page: Any, node: DemoNode, title: str, day: dt.date, time: str) -> None:
    page.goto(node.url + "/events/new")
    page.locator("#f-kind").select_option("training")
    page.locator("#f-title").fill(title)
    page.locator("#f-description").fill("Deux heures pour fixer son prix de journée.")
    page.locator("#f-date").fill(day.isoformat())
    page.locator("#f-start_time").fill(time)
    page.locator("#f-end_time").fill("17:00")
    page.locator("#f-place").fill("Montreuil")
    page.locator("#f-seats").fill("12")
    page.locator("form.form-card button[type=submit]").click()
    page.wait_for_load_state()


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_publish_an_event_and_find_it_by_date_on_another_node(
    browser: Any, nodes: list[DemoNode], lang: str, width: int
) -> None:
    coopaname, smart = nodes
    t = words(lang)
    organiser = new_page(browser, lang, width)
    sign_in(organiser, smart, smart.member)
    day = dt.date.today() + dt.timedelta(days=40)
    title = f"Formation devis {uuid.uuid4().hex[:6]}"
    add_event_by_page(organiser, smart, title, day, "14:30")
    assert t.gettext("Event published: the other cooperatives receive it.") in organiser.inner_text("main")
    card = organiser.locator("li.event-card", has_text=title)
    assert t.label("event_kind", "training") in card.inner_text()
    assert (
        t.ngettext("%(num)s seat left of %(total)s", "%(num)s seats left of %(total)s", 12)
        % {
            "num": 12,
            "total": 12,
        }
        in card.inner_text()
    )
    event_id = card.get_attribute("data-id")
    # edit from the page: a later start
    card.get_by_role("link", name=t.gettext("Edit")).click()
    organiser.wait_for_load_state()
    organiser.locator("#f-start_time").fill("15:00")
    organiser.locator("form.form-card button[type=submit]").click()
    organiser.wait_for_load_state()
    assert "15:00" in organiser.locator(f'li.event-card[data-id="{event_id}"]').inner_text()

    reader = new_page(browser, lang, width)
    sign_in(reader, coopaname, coopaname.member)
    eventually(
        reader,
        coopaname.url + "/events",
        lambda p: (
            p.locator(f'li.event-card[data-id="{event_id}"]').count() == 1
            and "15:00" in p.locator(f'li.event-card[data-id="{event_id}"]').inner_text()
        ),
        what="the event on Coopaname's node",
    )
    remote = reader.locator(f'li.event-card[data-id="{event_id}"]')
    block = remote.locator(".date-block")
    assert block.locator(".day").inner_text() == str(day.day)
    assert (
        block.locator(".month")
        .inner_text()
        .lower()
        .startswith(t.day_month(int(remote.get_attribute("data-start")))[1].lower()[:3])
    )
    assert "Montreuil (93)" in remote.inner_text() and "SMart" in remote.inner_text()
    coming = reader.locator("main > ol.event-list > li.event-card")  # the past ones are apart, folded below
    starts = [int(s) for s in coming.evaluate_all("cards => cards.map(c => c.dataset.start)")]
    assert starts == sorted(starts)  # soonest first
    assert page_problems(reader, lang, width) == []
    # the filters: this kind and this month keep it, another kind hides it
    reader.goto(f"{coopaname.url}/events?kind=training&month={day.strftime('%Y-%m')}&coop=smart")
    assert reader.locator(f'li.event-card[data-id="{event_id}"]').count() == 1
    reader.goto(f"{coopaname.url}/events?kind=meeting")
    assert reader.locator(f'li.event-card[data-id="{event_id}"]').count() == 0

    # cancelled by its organiser: still listed, marked cancelled, on both nodes
    organiser.goto(smart.url + "/events")
    organiser.locator(f'li.event-card[data-id="{event_id}"]').get_by_role(
        "button", name=t.gettext("Cancel the event")
    ).click()
    organiser.wait_for_load_state()
    eventually(
        reader,
        coopaname.url + "/events",
        lambda p: "cancelled" in (p.locator(f'li.event-card[data-id="{event_id}"]').get_attribute("class") or ""),
        what="the cancellation on Coopaname's node",
    )
    organiser.context.close()
    reader.context.close()


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_register_for_another_coops_event(browser: Any, nodes: list[DemoNode], lang: str, width: int) -> None:
    coopaname, smart = nodes
    t = words(lang)
    organiser = new_page(browser, "fr", 1280)
    sign_in(organiser, smart, smart.operator)
    title = f"Atelier gouvernance {uuid.uuid4().hex[:6]}"
    add_event_by_page(organiser, smart, title, dt.date.today() + dt.timedelta(days=20), "09:30")
    event_id = organiser.locator("li.event-card", has_text=title).get_attribute("data-id")

    page = new_page(browser, lang, width)
    sign_in(page, coopaname, coopaname.member)
    eventually(page, coopaname.url + "/events", lambda p: title in p.inner_text("main"), what="the event replicated")
    card = page.locator(f'li.event-card[data-id="{event_id}"]')
    card.get_by_role("button", name=t.gettext("Register")).click()
    page.wait_for_load_state()
    assert t.gettext("Registration request sent to the organising cooperative.") in page.inner_text("main")
    eventually(
        page,
        coopaname.url + "/events",
        lambda p: (
            p.locator(f'li.event-card[data-id="{event_id}"] .registration').get_attribute("data-state") == "confirmed"
        ),
        what="SMart's confirmation",
    )
    assert (
        t.label("registration_state", "confirmed")
        in page.locator(f'li.event-card[data-id="{event_id}"] .registration').inner_text()
    )
    assert page_problems(page, lang, width) == []
    organiser.goto(smart.url + "/events")
    listed = organiser.locator(f'li.event-card[data-id="{event_id}"] details.participants')
    assert listed.locator('li[data-origin="coopaname"]').count() == 1
    page.context.close()
    organiser.context.close()


def file_join_request(tmp: Path, sponsor: DemoNode, name: str) -> str:
    """A candidate coop's node files its join request with Coopaname, its sponsor: an admission proposal."""

    async def apply() -> str:
        config = create_node_dir(tmp / name, name=name, url=f"https://{name}.example", display_name="Scop TI")
        node = await open_node(config)
        try:
            await node.identity.ensure_document()
            request = {
                "node": await node.federation_store.own_document(),
                "sponsor": sponsor.name,
                "legal_name": "SCOP-TI SA coopérative ouvrière",
                "registry_number": "123456789",
                "contact": "contact@scop-ti.example",
            }
            async with aiohttp.ClientSession() as http:
                answer = await joining.apply(http, sponsor.url, request)
            return str(answer["proposal"])
        finally:
            await node.close()

    return str(run_async(apply))


def test_vote_on_an_admission_with_its_details(browser: Any, nodes: list[DemoNode], tmp_path: Path) -> None:
    coopaname, smart = nodes
    ref = file_join_request(tmp_path, coopaname, f"scop-ti-{uuid.uuid4().hex[:4]}")
    anchor = ref.replace("/", "-")
    for lang, width in COMBOS:
        t = words(lang)
        page = new_page(browser, lang, width)
        sign_in(page, smart, smart.operator)
        eventually(page, smart.url + "/governance", lambda p: p.locator(f"#{anchor}").count() == 1, what="the proposal")
        decision = page.locator(f"#{anchor}")
        details = decision.inner_text()
        for shown in (
            "Scop TI",
            "SCOP-TI SA coopérative ouvrière",
            "123456789",
            "contact@scop-ti.example",
            "Coopaname",
        ):
            assert shown in details, shown
        assert decision.locator(".deadline").is_visible()  # the vote's deadline
        assert t.label("proposal_kind", "admission") in details
        assert page_problems(page, lang, width) == []
        if lang == "fr":
            decision.locator('input[name="decision"][value="yes"]').check()
            decision.locator("#" + decision.locator("input[name=reason]").get_attribute("id")).fill("Dossier complet.")
            decision.locator(".vote-form button[type=submit]").click()
            page.wait_for_load_state()
            assert t.gettext("Recorded and signed; the other cooperatives receive it.") in page.inner_text("main")
            assert page.locator(f'#{anchor} tr[data-voter="smart"]').count() == 1
        else:
            assert page.locator(f'#{anchor} tr[data-voter="smart"]').count() == 1  # the vote cast in French
        page.context.close()


def test_a_member_moves_to_another_coop_from_the_pages(browser: Any, nodes: list[DemoNode]) -> None:
    """Ask on « Mon profil », accept on the other coop's dashboard, follow the old address to the new profile."""
    coopaname, smart = nodes
    t = words("fr")
    email = f"nadia-{uuid.uuid4().hex[:6]}@coopaname.example"
    operator = login(coopaname, coopaname.operator)["token"]
    status, invited = api(coopaname, "POST", "/api/v1/accounts", {"email": email, "role": "member"}, operator)
    assert status == 201, invited
    status, signed = api(
        coopaname, "POST", "/api/v1/auth/accept", {"token": invited["invitation_token"], "password": coopaname.password}
    )
    assert status == 200, signed
    name = f"Nadia Menuisière {uuid.uuid4().hex[:4]}"
    status, _ = api(
        coopaname,
        "PATCH",
        "/api/v1/me/profile",
        {"fields": {"display_name": name, "trades": ["H2206"]}, "visibility": {"display_name": "network"}},
        signed["token"],
    )
    assert status == 200
    old_id = signed["member_id"]

    member = new_page(browser, "fr", 1280)
    sign_in(member, coopaname, email)
    member.goto(coopaname.url + "/me#move")
    member.locator("#move summary").click()
    assert t.gettext(
        "Links to your old profile lead to the new one, on every node of the network."
    ) in member.inner_text("#move")
    member.locator("#f-to_node").select_option("smart")
    member.locator("#move button[type=submit]").click()
    member.wait_for_load_state()
    assert member.locator('#move .move-status[data-status="requested"]').count() == 1
    assert page_problems(member, "fr", 1280) == []

    staff = new_page(browser, "en", 390)
    sign_in(staff, smart, smart.operator)
    eventually(staff, smart.url + "/operator", lambda p: name in p.inner_text("#moves"), what="the move on SMart")
    card = staff.locator("#moves li", has_text=name)
    assert email in card.inner_text()
    card.get_by_role("button", name="Accept").click()
    staff.wait_for_load_state()
    link = staff.locator("#moves .ok-box a").inner_text()
    assert link.startswith(f"{smart.url}/invitation/")
    assert page_problems(staff, "en", 390) == []
    staff.reload()  # the link was shown once; reloading shows the dashboard, it does not accept again
    assert staff.locator("#moves .ok-box").count() == 0

    reader = new_page(browser, "fr", 1280)
    sign_in(reader, coopaname, coopaname.member)
    eventually(
        reader,
        f"{coopaname.url}/members/coopaname/{old_id}",
        lambda p: "/members/smart/" in p.url and name in p.inner_text("main"),
        what="the old address leading to the new profile",
    )
    for p in (member, staff, reader):
        p.context.close()
