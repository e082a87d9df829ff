"""The database: one async engine, read and write sessions, migrations.

SQLite (``sqlite+aiosqlite``) runs in WAL mode with foreign keys and a busy timeout; every write transaction
starts with ``BEGIN IMMEDIATE`` and, inside one process, writes queue on one asyncio lock (one writer, readers
never blocked). PostgreSQL (``postgresql+asyncpg``) runs at READ COMMITTED; the code that needs a serial order
(seq allocation, event seats) takes row locks with ``SELECT ... FOR UPDATE``.

SQLAlchemy errors are translated here into :mod:`node.errors` (a unique violation is a
:class:`~node.errors.Conflict`, a locked or unreachable database :class:`~node.errors.Unavailable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from ..errors import Conflict, NodeError, Unavailable

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_WRITE_OPTION = "bigre_write"
_MIGRATION_LOCK_ID = 0x6269677265  # "bigre": serialises migrations of workers sharing one PostgreSQL


class Database:
    """The node's database. Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._read = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._write = async_sessionmaker(
            engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False, autoflush=False
        )
        self._writer_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @classmethod
    def open(cls, url: str, **engine_options: Any) -> Database:
        if url.startswith("sqlite"):
            engine = create_async_engine(url, **engine_options)
            _configure_sqlite(engine)
        elif url.startswith("postgresql"):
            engine = create_async_engine(url, pool_pre_ping=True, **engine_options)
        else:
            raise NodeError(f"unsupported database URL scheme in {url.split(':', 1)[0]!r}: use sqlite or postgresql")
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent; safe with several workers)."""
        try:
            async with self.engine.connect() as conn:
                await conn.run_sync(_upgrade)
                await conn.commit()
        except DBAPIError as exc:
            raise Unavailable(f"cannot migrate the database: {exc.orig}") from exc

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading (a transaction is begun on first use and rolled back at the end)."""
        try:
            async with self._read() as session:
                yield session
        except IntegrityError as exc:  # pragma: no cover - reads do not violate constraints
            raise Conflict("the request conflicts with existing data") from exc
        except DBAPIError as exc:
            raise _translate(exc) from exc

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits when the block ends and rolls back if it raises."""
        lock = self._writer_lock
        if lock is not None:
            await lock.acquire()
        try:
            async with self._write() as session, session.begin():
                yield session
        except IntegrityError as exc:
            log.info("write refused by a constraint: %s", exc.orig)
            raise Conflict("the request conflicts with existing data") from exc
        except DBAPIError as exc:
            raise _translate(exc) from exc
        finally:
            if lock is not None:
                lock.release()


def _translate(exc: DBAPIError) -> NodeError:
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        log.warning("database unavailable: %s", exc.orig)
        return Unavailable("the database is busy or unreachable; try again")
    log.error("database error: %s", exc.orig)
    return NodeError("database error")


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions would defeat BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=15000",
            "PRAGMA synchronous=NORMAL",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    command.upgrade(alembic_config(connection), "head")
