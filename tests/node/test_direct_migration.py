"""Migration 0010 (typed direct records), up and down on SQLite and PostgreSQL: the part tables go (and come back),
queued direct records change kind, refused items gain their column, and the proofs kept in ``member_moves`` are
untouched."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, create_engine, inspect, text

from node.storage.database import alembic_config

PROOF = b"\x91\xc4\x03abc"  # a canonical list of one envelope's bytes (content does not matter to the migration)


def _scenario(conn: Connection) -> None:
    command.upgrade(alembic_config(conn), "0009")
    conn.commit()
    conn.execute(
        text(
            "INSERT INTO outbox (peer, kind, origin, seq, payload, attempts, next_attempt_at, created_at) VALUES "
            "('smart', 'message', NULL, NULL, :blob, 0, 1, 1), ('smart', 'entry', 'coopaname', 4, NULL, 0, 1, 1)"
        ),
        {"blob": b"queued"},
    )
    conn.execute(
        text(
            "INSERT INTO member_moves (direction, origin, move_id, to_node, status, member_id, display_name, data, "
            "mapping, request, requested_at) VALUES ('out', 'coopaname', 'mv1', 'smart', 'requested', 'm1', 'Léa', "
            "'{}', '{}', :proof, 1)"
        ),
        {"proof": PROOF},
    )
    conn.execute(
        text(
            "INSERT INTO member_move_parts (sender, digest, part, total, text, envelope, received_at) "
            "VALUES ('smart', 'd', 1, 2, 'x', :e, 1)"
        ),
        {"e": b"e"},
    )
    conn.commit()

    command.upgrade(alembic_config(conn), "head")
    conn.commit()
    tables = set(inspect(conn).get_table_names())
    assert not {"member_move_parts", "onboarding_share_parts"} & tables
    assert "refused_at" in {c["name"] for c in inspect(conn).get_columns("outbox")}
    kinds = conn.execute(text("SELECT kind, payload, refused_at FROM outbox ORDER BY id")).all()
    assert [(k, bytes(p) if p is not None else None, r) for k, p, r in kinds] == [
        ("direct", b"queued", None),
        ("entry", None, None),
    ]
    assert bytes(conn.execute(text("SELECT request FROM member_moves")).scalar_one()) == PROOF
    conn.execute(text("UPDATE outbox SET refused_at = 5 WHERE kind = 'direct'"))
    conn.commit()

    command.downgrade(alembic_config(conn), "0009")
    conn.commit()
    tables = set(inspect(conn).get_table_names())
    assert {"member_move_parts", "onboarding_share_parts"} <= tables
    assert "refused_at" not in {c["name"] for c in inspect(conn).get_columns("outbox")}
    assert conn.execute(text("SELECT kind FROM outbox ORDER BY id")).scalars().all() == ["message", "entry"]
    assert bytes(conn.execute(text("SELECT request FROM member_moves")).scalar_one()) == PROOF

    command.upgrade(alembic_config(conn), "head")  # and up again
    conn.commit()


def test_migration_0010_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    try:
        with engine.connect() as conn:
            _scenario(conn)
    finally:
        engine.dispose()


async def test_migration_0010_on_postgresql(pg_url: str | None) -> None:
    if pg_url is None:
        pytest.skip("PostgreSQL is not reachable")
    from sqlalchemy.ext.asyncio import create_async_engine

    from .conftest import PG_HOST, _pg

    name = f"bigre_migration_{secrets.token_hex(4)}"
    await _pg(f'CREATE DATABASE "{name}"')
    engine = create_async_engine(f"postgresql+asyncpg://{PG_HOST}/{name}")
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_scenario)
    finally:
        await engine.dispose()
        await _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
