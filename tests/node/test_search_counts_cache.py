"""The counts of a matched set kept between searches (SQLite): the same answers as without them, and forgotten as
soon as the index changes. On PostgreSQL nothing is kept; the same assertions hold."""

from __future__ import annotations

from typing import Any

from node.compose import Node
from node.search import query as search_query

from .test_search_facets import CORPUS, _finder, _member
from .test_search_facets import _receive as _receive_at


async def test_kept_counts_answer_as_a_fresh_search_and_follow_writes(services: Node, monkeypatch: Any) -> None:
    await _receive_at(services, CORPUS[:2], ts0=2_000)
    member = await _member(services)
    finder = _finder(services)
    request = finder.parse({"q": "graphiste", "limit": "1"})
    first = await finder.search(member, request)
    assert first["total"] == 1
    again = await finder.search(member, request)  # from the kept counts on SQLite
    assert again == first
    monkeypatch.setattr(search_query, "CACHE_SIZE", 0)
    assert await finder.search(member, request) == first
    monkeypatch.undo()

    await _receive_at(services, [e for e in CORPUS if e[1] == "graphiste-aubervilliers"], ts0=2_000)
    after = await finder.search(member, request)
    assert after["total"] == 2
    assert {f["value"]: f["count"] for f in after["facets"]["origin"]} == {"smart": 1, "oxalis": 1}
    second_page = await finder.search(member, finder.parse({"q": "graphiste", "limit": "1", "page": "2"}))
    monkeypatch.setattr(search_query, "CACHE_SIZE", 0)
    assert await finder.search(member, request) == after
    assert await finder.search(member, finder.parse({"q": "graphiste", "limit": "1", "page": "2"})) == second_page
    assert second_page["results"][0]["id"] != after["results"][0]["id"]


async def test_kept_counts_outlive_writes_outside_the_index(services: Node) -> None:
    """A login, a session or a delivery writes to the database but not to the index: the kept counts stay."""
    if services.db.dialect != "sqlite":
        return
    await _receive_at(services, CORPUS[:2], ts0=2_000)
    member = await _member(services)
    finder = _finder(services)
    request = finder.parse({"q": "graphiste", "limit": "1"})
    first = await finder.search(member, request)

    engine = services.db.sync_engine
    assert engine is not None

    def generation() -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT n FROM search_generation").scalar() or 0)

    before = generation()
    await services.accounts.add_user(email="other@example.org", display_name="Other", password="a long password 12")
    assert generation() == before  # an account without a profile: no search document changed
    assert await finder.search(member, request) == first
    await _receive_at(services, [e for e in CORPUS if e[1] == "graphiste-aubervilliers"], ts0=2_000)
    assert generation() > before
    assert (await finder.search(member, request))["total"] == 2
