"""Sign-in with the coop's identity provider, in Chromium: a node process configured with a real OpenID Connect
provider served on loopback (tests/oidc_provider.py); the member clicks the button, signs in at the provider,
and comes back signed in; an unverified address comes back refused, with why, in the page's language."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.compose import open_node
from node.config import create_node_dir, load_config
from tests.node.conftest import PASSWORD
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, serve_in_thread
from tests.web.browser import new_page
from tests.web.conftest import SCREENSHOTS, free_base_port, is_up, run_async, wait_for


async def _accounts(directory: Path) -> None:
    node = await open_node(load_config(directory))
    try:
        await node.accounts.add_user(email="lea@example.org", display_name="Léa", password=PASSWORD)
        await node.accounts.add_user(email="sam@example.org", display_name="Sam", password=PASSWORD)
    finally:
        await node.close()


@pytest.fixture(scope="module")
def signed_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Provider]]:
    provider = Provider()
    provider.add("lea", "lea@example.org", "nextcloud pass")
    provider.add("sam", "sam@example.org", "nextcloud pass", verified=False)
    with serve_in_thread(provider):
        port = free_base_port()
        url = f"http://127.0.0.1:{port}"
        config = create_node_dir(tmp_path_factory.mktemp("oidc") / "node", name="coopaname", url=url)
        raw = json.loads((config.directory / "node.json").read_text(encoding="utf-8"))
        raw["oidc"] = {
            "issuer": provider.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "label": "Nextcloud",
        }
        (config.directory / "node.json").write_text(json.dumps(raw), encoding="utf-8")
        provider.redirect_uris.add(f"{url}/login/oidc/callback")
        run_async(_accounts, config.directory)
        log_path = config.directory / "serve.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "serve", str(config.directory), "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "BIGRE_CHECK_RESPONSES": "1"},
                start_new_session=True,
            )
            try:
                wait_for(functools.partial(is_up, url), what="the node up")
                yield url, provider
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        assert CLIENT_SECRET not in log_path.read_text(encoding="utf-8")  # never in the node's log


def _through_provider(page: Any, url: str, login: str) -> None:
    page.goto(url + "/login")
    page.locator("#coop-sign-in").click()
    page.wait_for_url("**/authorize?**")
    page.locator("#login").fill(login)
    page.locator("#password").fill("nextcloud pass")
    page.locator("button[type=submit]").click()


def test_a_member_signs_in_with_the_coops_accounts(browser: Any, signed_node: tuple[str, Provider]) -> None:
    url, _provider = signed_node
    page = new_page(browser, "fr", 1280)
    page.goto(url + "/login")
    button = page.locator("#coop-sign-in")
    assert button.inner_text().strip() == "Se connecter avec Nextcloud"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "coop-sign-in-fr-1280.png"), full_page=True)
    _through_provider(page, url, "lea")
    page.wait_for_url(url + "/")
    page.goto(url + "/me")
    assert page.url == url + "/me"  # signed in: no redirect to the sign-in page
    assert "Léa" in page.content()
    page.context.close()


def test_an_unverified_email_is_refused_in_the_page(browser: Any, signed_node: tuple[str, Provider]) -> None:
    url, _provider = signed_node
    page = new_page(browser, "en", 390)
    _through_provider(page, url, "sam")
    page.wait_for_url("**/login/oidc/callback?**")
    alert = page.locator("[role=alert]")
    assert "no verified email address" in alert.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "coop-sign-in-refused-en-390.png"), full_page=True)
    page.goto(url + "/me")
    assert "/login" in page.url  # not signed in
    page.context.close()
