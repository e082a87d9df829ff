"""The fast write path, on both backends: whole-transaction functions (``Database.run_write``/``run_read``),
prepared statements, their error translation, their exclusion with ``db.write()`` sessions, outbox peer
callbacks inside sync transactions, and the search text normalisation fast path. No timing is asserted here:
speed is measured by ``bench/node_bench.py``.
"""

from __future__ import annotations

import asyncio
import random
import unicodedata
from collections.abc import Sequence
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from node.compose import Node
from node.errors import Conflict, NodeError
from node.search import text as search_text
from node.storage.database import Prepared, connection
from node.storage.models import Account, LogEntry, LogHead, OutboxItem, RecordState
from node.viewer import Viewer
from tests.node.conftest import PASSWORD

_ACCOUNTS = cast(Table, Account.__table__)
_SET_NAME = Prepared(update(_ACCOUNTS).where(_ACCOUNTS.c.id == bindparam("a_id")))
_NAME = Prepared(select(_ACCOUNTS.c.display_name, _ACCOUNTS.c.disabled).where(_ACCOUNTS.c.id == bindparam("a_id")))
_INSERT_ENTRY = Prepared(insert(cast(Table, LogEntry.__table__)))


async def _member(services: Node, email: str) -> Viewer:
    await services.accounts.add_user(email=email, password=PASSWORD)
    result = await services.accounts.login(email, PASSWORD, "test")
    viewer = await services.accounts.authenticate(result.token)
    assert viewer is not None
    return viewer


def _entry_row(seq: int) -> dict[str, Any]:
    return {
        "origin": "elsewhere",
        "seq": seq,
        "record_id": "r",
        "type": "offer",
        "hash": bytes(32),
        "header": b"h",
        "body": None,
        "signature": bytes(64),
        "ts": 1,
        "received_at": 1,
    }


async def test_run_write_commits_or_rolls_back_as_a_whole(services: Node) -> None:
    viewer = await _member(services, "a@example.org")
    account_id = viewer.account_id

    def rename(session: Session) -> int:
        return _SET_NAME.execute(connection(session), {"a_id": account_id, "display_name": "Renamed"})

    assert await services.db.run_write(rename) == 1

    def rename_then_fail(session: Session) -> None:
        _SET_NAME.execute(connection(session), {"a_id": account_id, "display_name": "Lost"})
        raise NodeError("changed my mind")

    with pytest.raises(NodeError, match="changed my mind"):
        await services.db.run_write(rename_then_fail)
    row = await services.db.run_read(lambda s: _NAME.first(connection(s), {"a_id": account_id}))
    assert row == ("Renamed", False)  # types converted as SQLAlchemy would (a real bool, not 0)
    assert await services.db.run_read(lambda s: _NAME.first(connection(s), {"a_id": -1})) is None


async def test_orm_work_in_a_transaction_function_is_flushed_and_committed(services: Node) -> None:
    def add_head(session: Session) -> None:
        session.add(LogHead(origin="elsewhere", seq=3, hash=bytes(32)))

    await services.db.run_write(add_head)
    async with services.db.read() as session:
        head = await session.get(LogHead, "elsewhere")
    assert head is not None and head.seq == 3


async def test_a_constraint_violation_is_a_conflict_and_the_connection_recovers(services: Node) -> None:
    await services.db.run_write(lambda s: _INSERT_ENTRY.execute(connection(s), _entry_row(1)))

    def duplicate(session: Session) -> None:
        _INSERT_ENTRY.execute(connection(session), _entry_row(2))
        _INSERT_ENTRY.execute(connection(session), _entry_row(1))  # same primary key

    with pytest.raises(Conflict):
        await services.db.run_write(duplicate)
    await services.db.run_write(lambda s: _INSERT_ENTRY.executemany(connection(s), [_entry_row(3), _entry_row(4)]))
    async with services.db.read() as session:
        seqs = (await session.scalars(select(LogEntry.seq).where(LogEntry.origin == "elsewhere"))).all()
    assert sorted(seqs) == [1, 3, 4]  # seq 2 went with its transaction


def test_a_prepared_statement_needs_every_parameter() -> None:
    from sqlalchemy.dialects import sqlite

    class FakeConnection:
        dialect = sqlite.dialect()

    statement = Prepared(update(_ACCOUNTS).where(_ACCOUNTS.c.id == bindparam("a_id")).values(disabled=True))
    with pytest.raises(NodeError, match="missing: disabled"):
        statement.execute(cast(Any, FakeConnection()), {"a_id": 1})


async def test_sync_and_session_writers_never_lose_an_update(services: Node) -> None:
    """Read-modify-write from both kinds of writers at once: each sees the previous one's commit."""
    await services.db.run_write(lambda s: s.add(LogHead(origin="counter", seq=0, hash=None)))

    def bump(session: Session) -> None:
        head = session.get(LogHead, "counter", with_for_update=True)
        assert head is not None
        head.seq += 1

    async def bump_in_session() -> None:
        async with services.db.write() as session:
            head = await session.get(LogHead, "counter", with_for_update=True)
            assert head is not None
            await asyncio.sleep(0)  # let the other writers queue up meanwhile
            head.seq += 1

    tasks = [services.db.run_write(bump) if i % 3 else bump_in_session() for i in range(30)]
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    async with services.db.read() as session:
        head = await session.get(LogHead, "counter")
    assert head is not None and head.seq == 30


async def test_a_cancelled_caller_does_not_stall_the_writers(services: Node) -> None:
    def slow(session: Session) -> None:
        _SET_NAME.execute(connection(session), {"a_id": -1, "display_name": "x"})

    task = asyncio.ensure_future(services.db.run_write(slow))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(30), services.db.write() as session:
        await session.execute(select(1))
    assert await asyncio.wait_for(services.db.run_write(lambda s: 7), 30) == 7


async def test_outbox_peer_callbacks_run_inside_the_publishing_transaction(services: Node) -> None:
    viewer = await _member(services, "a@example.org")
    await services.db.run_write(lambda s: s.add(LogHead(origin="smart", seq=0, hash=None)))

    def peers_from_the_database(session: Session) -> Sequence[str]:
        # what the node's own callback does (direct member peers), over the publishing transaction's session
        rows = session.execute(select(LogHead.origin).where(LogHead.origin != "coopaname"))
        return [origin for (origin,) in rows]

    services.publisher.outbox_peers = peers_from_the_database
    await services.directory.update_my_profile(
        viewer, {"fields": {"bio": "Menuisière"}, "visibility": {"bio": "network"}}, replace=False
    )
    services.publisher.outbox_peers = lambda session: ["oxalis"]
    await services.directory.update_my_profile(viewer, {"fields": {"bio": "Ébéniste"}}, replace=False)
    async with services.db.read() as session:
        items = (await session.execute(select(OutboxItem.peer, OutboxItem.seq).order_by(OutboxItem.seq))).all()
        state = await session.get(RecordState, ("coopaname", viewer.member_id))
    assert [tuple(i) for i in items] == [("smart", 1), ("oxalis", 2)]
    assert state is not None and state.body is not None and state.body["bio"] == "Ébéniste"


async def test_profile_update_reports_what_it_published(services: Node) -> None:
    viewer = await _member(services, "a@example.org")
    d = services.directory
    shared = await d.update_my_profile(
        viewer, {"fields": {"bio": "x"}, "visibility": {"bio": "network"}}, replace=False
    )
    assert shared["published"] is True and shared == {**await d.my_profile(viewer)}
    unchanged = await d.update_my_profile(viewer, {"fields": {"bio": "x"}}, replace=False)
    assert unchanged["published"] is True
    withdrawn = await d.update_my_profile(viewer, {"visibility": {"bio": "coop"}}, replace=False)
    assert withdrawn["published"] is False and (await d.my_profile(viewer))["published"] is False
    async with services.db.read() as session:
        types = (await session.scalars(select(LogEntry.type).order_by(LogEntry.seq))).all()
    assert types == ["profile", "tombstone"]  # nothing published for the unchanged update


def _reference_normalise(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return search_text._NON_WORD.sub(" ", stripped).strip()


def test_normalise_fast_path_matches_the_general_rule() -> None:
    rng = random.Random(1)
    alphabet = "abcXYZ019 \t\n-_.,;:!?éèêëàâäîïôöûüçÉÈÀÇœŒßæ\u0301\u034f\u0300ﬁ½Å日本"
    samples = ["Menuisière à Montreuil", "Straße ŒUVRE ﬁ ½", "e\u034f\u0301x", "", "  ", "日本語"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    samples += ["".join(chr(rng.randint(0, 0x2FFF)) for _ in range(30)) for _ in range(500)]
    for sample in samples:
        assert search_text.normalise(sample) == _reference_normalise(sample), repr(sample)
