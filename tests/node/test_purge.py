"""The purge after an erasure (node/storage/purge.py) on both backends: what it leaves in the files."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from node.compose import Node
from node.storage.purge import DiskPurge

from .conftest import PASSWORD

WORD = "xqzpurgeword"


async def test_a_purge_after_an_erasure_leaves_no_trace(services: Node) -> None:
    account, _ = await services.accounts.add_user(email="ines@example.org", role="member", password=PASSWORD)
    viewer = await services.accounts.authenticate(
        (await services.accounts.login("ines@example.org", PASSWORD, "t")).token
    )
    assert viewer is not None
    for version in range(3):
        await services.directory.update_my_profile(
            viewer,
            {"fields": {"bio": f"Relieuse {WORD} {version}"}, "visibility": {"bio": "network"}},
            replace=False,
        )
    purge = DiskPurge(services.db)
    # SQLite: a node purges once at start (an erasure may have been cut short by a stop); not PostgreSQL
    assert purge.pending is services.db.is_sqlite
    assert await purge.run_if_pending() == (1 if services.db.is_sqlite else 0)
    assert await purge.run_if_pending() == 0  # nothing asked since
    before = await filenodes(services) if not services.db.is_sqlite else {}
    await services.directory.erase_account(account.id)
    purge.request()
    assert await purge.run_if_pending() == 1 and not purge.pending
    if services.db.is_sqlite:
        database = Path(str(services.db.engine.url.database))
        wal = database.with_name(database.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # truncated
        async with services.db.read() as session:
            segments = (await session.execute(text("SELECT count(*) FROM search_fts_data"))).scalar()
        assert segments is not None
        for path in database.parent.glob(database.name + "*"):
            assert WORD[3:].encode() not in path.read_bytes().lower(), path.name
    else:  # every content table was rewritten into a new file (the old one, with the dead rows, unlinked)
        after = await filenodes(services)
        assert len(before) == 3 and all(after[name] != node for name, node in before.items())


async def filenodes(services: Node) -> dict[str, int]:
    async with services.db.read() as session:
        rows = await session.execute(
            text("SELECT relname, pg_relation_filenode(oid) FROM pg_class WHERE relname = ANY(:names)"),
            {"names": ["entries", "records", "member_profiles"]},
        )
        return {str(name): int(node) for name, node in rows}
