"""The password pages in a real headless Chromium, with the node's mails received by a real SMTP server: an
invitation activated from its mail, "forgot my password" by the mailed link (the other session ends), and
"change my password" (a wrong current password refused next to its field)."""

from __future__ import annotations

import re
import uuid
from email.message import EmailMessage
from typing import Any

import pytest

from node.demo.mail_catcher import CatcherThread, text_of
from node.demo.run import DemoNode

from .browser import COMBOS, axe_violations, login, new_page, page_problems
from .browser import api as call
from .conftest import SCREENSHOTS, wait_for

pytestmark = pytest.mark.slow
PASSWORD = "un mot de passe solide"


def mail_link(catcher: CatcherThread, address: str, count: int, path: str) -> tuple[EmailMessage, str]:
    """The ``count``-th mail to ``address`` (waiting for it) and its first link under ``path``."""
    wait_for(lambda: len(catcher.mails_to(address)) >= count, within=30, what=f"mail {count} to {address}")
    mail = catcher.mails_to(address)[count - 1]
    found = re.search(r"(https?://\S+" + re.escape(path) + r"\S*)", text_of(mail))
    assert found, text_of(mail)
    return mail, found.group(1)


def invite(node: DemoNode, catcher: CatcherThread, page: Any) -> str:
    """A fresh account, invited by the operator and activated from the mailed link in ``page``."""
    email = f"pw-{uuid.uuid4().hex[:8]}@example.org"
    token = login(node, node.operator)["token"]
    status, body = call(node, "POST", "/api/v1/accounts", {"email": email, "language": "fr"}, token)
    assert status == 201, body
    mail, link = mail_link(catcher, email, 1, "/invitation/")
    assert mail["Subject"] == f"Votre invitation à {node.display_name} sur Bigre"
    page.goto(link)
    page.locator("#f-password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/me\?welcome=1$"))
    return email


def test_forgot_password_by_mail_ends_the_other_session(
    browser: Any, nodes: list[DemoNode], mail_catcher: CatcherThread
) -> None:
    node = nodes[0]
    first = new_page(browser)
    email = invite(node, mail_catcher, first)  # signed in there

    page = new_page(browser)
    page.goto(node.url + "/login")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    page.wait_for_url(node.url + "/password/forgot")
    page.locator("#f-email").fill(email)
    page.locator("form[action='/password/forgot'] button[type=submit]").click()
    assert "un lien pour choisir un nouveau mot de passe vient d’y être envoyé" in page.inner_text("main")
    mail, link = mail_link(mail_catcher, email, 2, "/password/reset/")
    assert mail["Subject"] == f"Réinitialiser votre mot de passe sur {node.display_name}"

    page.goto(link)
    page.locator("#f-password").fill("un nouveau mot de passe")
    page.locator("#f-password2").fill("un autre mot de passe")
    page.locator("form button[type=submit]").click()
    assert "Les deux mots de passe ne sont pas les mêmes." in page.inner_text("main")
    assert page.locator("#f-password2").get_attribute("aria-invalid") == "true"
    page.locator("#f-password").fill("un nouveau mot de passe")
    page.locator("#f-password2").fill("un nouveau mot de passe")
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/me\?password=1$"))
    assert "Votre nouveau mot de passe est enregistré" in page.inner_text("main")

    first.goto(node.url + "/me")  # the session opened before the reset is over
    assert "/login" in first.url
    page.goto(link)  # single use
    assert "Ce lien a déjà servi, a expiré ou est inconnu." in page.inner_text("main")
    status, _ = call(node, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 401


def test_change_password_page(browser: Any, nodes: list[DemoNode], mail_catcher: CatcherThread) -> None:
    node = nodes[0]
    page = new_page(browser)
    email = invite(node, mail_catcher, page)
    page.goto(node.url + "/me")
    page.get_by_role("link", name="Changer mon mot de passe").first.click()
    page.wait_for_url(node.url + "/me/password")
    page.locator("#f-current_password").fill("pas le bon mot de passe")
    page.locator("#f-new_password").fill("encore un autre mot de passe")
    page.locator("#f-new_password2").fill("encore un autre mot de passe")
    page.locator("form[action='/me/password'] button[type=submit]").click()
    assert "Ce n’est pas votre mot de passe actuel." in page.inner_text("main")
    assert page.locator("#f-current_password").get_attribute("aria-invalid") == "true"
    page.locator("#f-current_password").fill(PASSWORD)
    page.locator("#f-new_password").fill("encore un autre mot de passe")
    page.locator("#f-new_password2").fill("encore un autre mot de passe")
    page.locator("form[action='/me/password'] button[type=submit]").click()
    page.wait_for_url(node.url + "/me/password?done=1")
    assert "Votre mot de passe est changé." in page.inner_text("main")
    page.goto(node.url + "/me")  # this session stays
    assert page.url == node.url + "/me"
    mail, _ = mail_link(mail_catcher, email, 2, "/password/forgot")
    assert mail["Subject"] == f"Votre mot de passe sur {node.display_name} a été changé"
    status, _ = call(node, "POST", "/api/v1/auth/login", {"email": email, "password": "encore un autre mot de passe"})
    assert status == 200


@pytest.mark.parametrize(("lang", "width"), COMBOS)
def test_mail_pages_read_well(
    browser: Any, nodes: list[DemoNode], mail_catcher: CatcherThread, lang: str, width: int
) -> None:
    node = nodes[0]
    page = new_page(browser, lang, width)
    invite(node, mail_catcher, page)
    problems: list[str] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for path in ("/me/password", "/me/mail", "/password/forgot"):
        page.goto(node.url + path)
        problems += page_problems(page, lang, width) + axe_violations(page)
        page.screenshot(path=str(SCREENSHOTS / f"mail{path.replace('/', '-')}-{lang}-{width}.png"), full_page=True)
    assert not problems, problems


def test_unsubscribe_link_works_without_signing_in(
    browser: Any, nodes: list[DemoNode], mail_catcher: CatcherThread
) -> None:
    node = nodes[0]
    email = invite(node, mail_catcher, new_page(browser))
    status, signed = call(node, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200
    sender = login(node, node.member)["token"]
    body = {"to_member": signed["member_id"], "subject": "Chantier", "text": "Bonjour"}
    status, _ = call(node, "POST", "/api/v1/messages", body, sender)
    assert status == 202
    mail, link = mail_link(mail_catcher, email, 2, "/unsubscribe/")
    assert str(mail["List-Unsubscribe"]).strip() == f"<{link}>"
    page = new_page(browser)  # never signed in
    page.goto(link)
    assert "Arrêter ces messages : Nouveaux messages ?" in page.inner_text("main")
    page.get_by_role("button", name="Ne plus recevoir ces messages").click()
    page.wait_for_load_state()
    assert "C’est fait : vous ne recevrez plus ces messages : Nouveaux messages." in page.inner_text("main")
    status, settings = call(node, "GET", "/api/v1/me/mail-settings", None, signed["token"])
    assert status == 200 and settings["modes"]["message"] == "off"
    page.goto(link[:-2] + ("AA" if not link.endswith("AA") else "BB"))  # an altered link does nothing
    assert "Ce lien de désinscription n’est pas valable." in page.inner_text("main")


def test_operator_mail_queue_page(browser: Any, nodes: list[DemoNode]) -> None:
    node = nodes[0]
    for lang, width in COMBOS:
        page = new_page(browser, lang, width)
        page.goto(node.url + "/login")
        page.locator("#email").fill(node.operator)
        page.locator("#password").fill(node.password)
        page.locator("form[action='/login'] button[type=submit]").click()
        page.wait_for_url(node.url + "/")
        page.goto(node.url + "/operator")
        page.locator("a[href='/operator/mail']").click()
        page.wait_for_url(node.url + "/operator/mail")
        heading = {"fr": "Messages sortants", "en": "Outgoing mail"}[lang]
        assert page.locator("h1").inner_text() == heading
        assert page_problems(page, lang, width) == [] and axe_violations(page) == []
        page.screenshot(path=str(SCREENSHOTS / f"mail-operator-{lang}-{width}.png"), full_page=True)


def test_notification_settings_form(browser: Any, nodes: list[DemoNode], mail_catcher: CatcherThread) -> None:
    node = nodes[0]
    page = new_page(browser)
    email = invite(node, mail_catcher, page)
    page.goto(node.url + "/me")
    page.get_by_role("link", name="Notifications par e-mail").click()
    page.wait_for_url(node.url + "/me/mail")
    page.locator("input[name='mode.message'][value='off']").check()
    page.locator("input[name='mode.saved_search'][value='immediate']").check()
    page.locator("#f-language").select_option("en")
    page.locator("form[action='/me/mail'] button[type=submit]").click()
    page.wait_for_url(node.url + "/me/mail?saved=1")
    assert "Vos réglages sont enregistrés." in page.inner_text("main")
    assert page.locator("input[name='mode.message'][value='off']").is_checked()
    assert page.locator("input[name='mode.saved_search'][value='immediate']").is_checked()
    assert page.locator("input[name='mode.help_answer'][value='immediate']").is_checked()  # untouched
    status, signed = call(node, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    status, settings = call(node, "GET", "/api/v1/me/mail-settings", None, signed["token"])
    assert status == 200 and settings["language"] == "en" and settings["modes"]["message"] == "off"
