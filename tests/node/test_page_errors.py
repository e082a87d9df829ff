"""Pages answer errors as pages in their language (never JSON or a stack), the API keeps JSON; the messages a
member sends are kept for their conversations and erased with their account."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from node.storage.message_models import SentMessage

from .conftest import Api


async def test_an_internal_error_is_a_page_in_its_language(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api.services.finder, "search", broken)
    for lang, title in (("fr", "Un problème est survenu"), ("en", "Something went wrong")):
        resp = await api.client.get("/search?q=menuisier", headers={"Accept-Language": lang, "Accept": "text/html"})
        text = await resp.text()
        assert resp.status == 500 and resp.content_type == "text/html"
        assert title in text and "RuntimeError" not in text and "a bug" not in text
        assert f'<html lang="{lang}">' in text


async def test_unknown_addresses_pages_and_api(api: Api) -> None:
    page = await api.client.get("/nulle-part", headers={"Accept-Language": "en-GB,en;q=0.9", "Accept": "text/html"})
    assert page.status == 404 and page.content_type == "text/html" and "Page not found" in await page.text()
    gone = await api.client.get("/logout", headers={"Accept-Language": "fr"})  # POST only
    assert gone.status == 405 and gone.content_type == "text/html" and "utilise pas ainsi" in await gone.text()
    json_404 = await api.client.get("/api/v1/nulle-part", headers={"Accept": "text/html"})
    assert json_404.status == 404 and json_404.content_type == "application/json"
    places = await api.client.get("/api/v1/places?q=montreu")
    labels = [p["label"] for p in (await places.json())["items"]]
    assert "Montreuil 93100 (93)" in labels


async def test_sent_messages_make_conversations_and_go_with_the_account(api: Api) -> None:
    ines = await api.user("ines@example.org", display_name="Inès")
    karim = await api.user("karim@example.org", display_name="Karim")
    node = api.services
    viewers = await node.accounts.viewers_with_profiles()
    await node.messages.send(
        viewers["ines@example.org"], {"to_member": karim, "to_name": "Karim", "from_name": "Inès", "text": "Bonjour"}
    )
    await node.messages.send(viewers["karim@example.org"], {"to_member": ines, "from_name": "Karim", "text": "Salut"})
    [conversation] = await node.messages.conversations(viewers["ines@example.org"])
    assert (conversation.other_member, conversation.name, conversation.unread) == (karim, "Karim", 1)
    assert await node.messages.unread_count(viewers["ines@example.org"]) == 1
    thread = await node.messages.thread(viewers["ines@example.org"], node.config.name, karim)
    assert [(m.sent, m.text) for m in thread] == [(True, "Bonjour"), (False, "Salut")]
    assert await node.messages.unread_count(viewers["ines@example.org"]) == 0  # read by opening the thread
    account_id = viewers["ines@example.org"].account_id
    assert account_id is not None
    await node.directory.erase_account(account_id)
    async with node.db.read() as session:
        left = await session.scalar(
            select(func.count()).select_from(SentMessage).where(SentMessage.account_id == account_id)
        )
    assert left == 0
