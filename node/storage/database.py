"""The database: one async engine, read and write sessions, whole-transaction functions, migrations.

Two ways to use it:

- ``async with db.write() as session`` / ``db.read()``: an :class:`AsyncSession`, one ``await`` per statement.
  Convenient for code that interleaves other awaits; on SQLite each statement is a hop to aiosqlite's thread.
- ``await db.run_write(fn)`` / ``db.run_read(fn)``: ``fn(session)`` is a plain function over a *sync*
  :class:`Session` that runs a whole transaction. On SQLite it runs on a dedicated writer thread (reads on a
  small pool of reader threads) with the stdlib driver: one thread hop per transaction instead of one per
  statement, which is what makes the hot write paths fast. On PostgreSQL it runs through
  ``AsyncSession.run_sync`` on the asyncpg connection (SQLAlchemy's greenlet bridge), so the same function
  works on both backends. Each SQLite worker thread keeps one connection and one session for its life.

Inside such functions, :func:`connection` gives the session's connection and :class:`Prepared` runs a Core
statement compiled once per backend straight on the DBAPI cursor (SQLAlchemy's per-statement machinery costs
more than SQLite takes to run the small statements of a profile update).

SQLite runs in WAL mode with foreign keys, a busy timeout and ``synchronous=NORMAL``: in WAL mode that setting
syncs the WAL at checkpoints rather than at every commit, so a power loss may drop the last few commits, but it
can never corrupt the database (an application crash loses nothing). Every write transaction starts with
``BEGIN IMMEDIATE`` and, inside one process, there is one writer at a time (readers are never blocked): the
writer thread runs its queue in order, and a ``db.write()`` session holds an asyncio lock and waits for that
queue to drain before it begins (no ``run_write`` is queued while it is open). PostgreSQL
(``postgresql+asyncpg``) runs at READ COMMITTED; the code that needs a serial order (seq allocation, event
seats) takes row locks with ``SELECT ... FOR UPDATE``.

SQLAlchemy errors are translated here into :mod:`node.errors` (a unique violation is a
:class:`~node.errors.Conflict`, a locked or unreachable database :class:`~node.errors.Unavailable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import queue
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.util.exc import CommandError
from sqlalchemy import URL, Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

from node.errors import Conflict, NodeError, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_WRITE_OPTION = "bigre_write"
_MIGRATION_LOCK_ID = 0x6269677265  # "bigre": serialises migrations of workers sharing one PostgreSQL
READER_THREADS = 2
_CONNECTION_KEY = "bigre_connection"
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=15000",
    # Safe with WAL (see the module docstring): commits stop waiting for fsync, checkpoints still sync.
    "PRAGMA synchronous=NORMAL",
    # Deleted content is overwritten with zeros (an erasure must leave the file, node/storage/purge.py).
    "PRAGMA secure_delete=ON",
)


def connection(session: Session) -> Connection:
    """The connection of a transaction function's session: the worker thread's own on SQLite (without going
    through the session's machinery), else ``session.connection()``."""
    conn: Connection | None = session.info.get(_CONNECTION_KEY)
    return conn if conn is not None else session.connection()


def upsert(session: AsyncSession, model: type[Any], values: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """An INSERT ... ON CONFLICT (keys) DO UPDATE statement for the session's backend."""
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model).values(**values)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={k: stmt.excluded[k] for k in values if k not in keys}
    )


class Database:
    """The node's database. Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, engine: AsyncEngine, sync_engine: Engine | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._read = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._write = async_sessionmaker(
            engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False, autoflush=False
        )
        self._writer_lock = asyncio.Lock() if self.is_sqlite else None
        # SQLite files: a sync engine for whole-transaction functions, one writer thread, a few reader threads.
        self.sync_engine = sync_engine
        self._writer: _Workers | None = None
        self._readers: _Workers | None = None
        self._sync_writes = 0  # submitted to the writer thread and not finished yet
        self._sync_idle = asyncio.Event()
        self._sync_idle.set()
        if sync_engine is not None:
            self._writer = _Workers("bigre-sqlite-writer", 1, sync_engine)
            self._readers = _Workers("bigre-sqlite-reader", READER_THREADS, sync_engine)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @classmethod
    def open(cls, url: str, **engine_options: Any) -> Database:
        if url.startswith("sqlite"):
            engine = create_async_engine(url, **engine_options)
            _configure_sqlite(engine.sync_engine)
            return cls(engine, _sqlite_sync_engine(engine))
        if url.startswith("postgresql"):
            engine = create_async_engine(url, pool_pre_ping=True, **engine_options)
            return cls(engine)
        raise NodeError(f"unsupported database URL scheme in {url.split(':', 1)[0]!r}: use sqlite or postgresql")

    async def close(self) -> None:
        for workers in (self._writer, self._readers):
            if workers is not None:
                await asyncio.to_thread(workers.close)
        if self.sync_engine is not None:
            self.sync_engine.dispose()
        await self.engine.dispose()

    async def migrate(self) -> list[str]:
        """Bring the schema to the newest Alembic revision (idempotent; safe with several workers); the
        migrations applied, as ``"0009 search text in fts"`` lines, oldest first (none when up to date).

        This is the node's first connection: whatever keeps it from the database becomes one
        :class:`Unavailable` line that says what to fix (see :func:`explain_connection_error`)."""
        applied: list[str] = []
        try:
            async with self.engine.connect() as conn:
                await conn.run_sync(lambda sync: _upgrade(sync, applied))
                await conn.commit()
        except (DBAPIError, OSError) as exc:
            raise Unavailable(explain_connection_error(exc, self.engine.url)) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("asyncpg"):  # refused at connection, before SQLAlchemy wraps it
                raise Unavailable(explain_connection_error(exc, self.engine.url)) from exc
            if not isinstance(exc, CommandError):
                raise
            if "Can't locate revision" not in str(exc):
                raise
            raise Unavailable(
                "the database was migrated by a newer release of Bigre than this one "
                f"({str(exc).rsplit(' ', 1)[-1]}): install that release again, or restore a backup made with this one"
            ) from exc
        return applied

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
            if self._sync_writes:  # let the writer thread finish what was queued before us
                await self._sync_idle.wait()
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

    async def run_write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` as one write transaction: committed if it returns, rolled back if it raises.

        ``fn`` is synchronous and must not touch the event loop (on SQLite it runs on the writer thread). What it
        returns must not need the session afterwards (objects are detached, their loaded attributes kept).
        """
        if self._writer is None:
            async with self.write() as session:
                return await session.run_sync(fn)
        assert self._writer_lock is not None
        # One writer at a time in this process: the writer thread runs its queue in order, and a write() session
        # holds the lock while it is open and waits for the queue to drain before it begins. Transactions are
        # queued without waiting for the previous one to finish, so the writer thread never idles between them.
        while self._writer_lock.locked():
            async with self._writer_lock:
                pass
        self._sync_writes += 1
        self._sync_idle.clear()
        return await self._writer.submit(self._sync_write_done, fn, True)

    def _sync_write_done(self) -> None:
        """On the event loop, when the writer thread has finished a transaction (even for a cancelled caller)."""
        self._sync_writes -= 1
        if not self._sync_writes:
            self._sync_idle.set()

    async def run_read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in a read transaction (rolled back at the end), like :meth:`run_write`."""
        if self._readers is None:
            async with self.read() as session:
                return await session.run_sync(fn)
        return await self._readers.submit(None, fn, False)


class _Workers:
    """Threads running transaction functions for the event loop, each on its own long-lived connection.

    A lighter hop than ``run_in_executor`` (no concurrent.futures machinery), a ``done`` callback run on the loop
    once a transaction has finished, and no pool checkout, session set-up or reset per transaction.
    """

    def __init__(self, name: str, count: int, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, done: Callable[[], None] | None, fn: Callable[[Session], T], write: bool) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, future, done, fn, write))
        return future

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        conn: Connection | None = None
        session: Session | None = None
        try:
            while (item := self._queue.get()) is not None:
                loop, future, done, fn, write = item
                outcome: tuple[Any, BaseException | None]
                try:
                    if conn is None or session is None or conn.closed or conn.invalidated:
                        if conn is not None:
                            conn.close()
                        conn = self._engine.connect()
                        session = Session(bind=conn, autoflush=False, expire_on_commit=False)
                        session.info[_CONNECTION_KEY] = conn
                    outcome = (_transaction(conn, session, fn, write), None)
                except BaseException as exc:  # delivered to the awaiting coroutine
                    outcome = (None, exc)
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                    loop.call_soon_threadsafe(_deliver, future, done, *outcome)
        finally:
            if conn is not None:
                conn.close()


def _deliver(
    future: asyncio.Future[Any], done: Callable[[], None] | None, result: Any, exc: BaseException | None
) -> None:
    if done is not None:
        done()
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class Prepared:
    """A Core statement compiled once per backend and run straight on the DBAPI cursor of a sync connection.

    For the hot paths inside :meth:`Database.run_write` / :meth:`Database.run_read`: the same SQL, parameter
    order and type conversions (SQLAlchemy's own bind and result processors) as ``conn.execute(statement)``,
    without its per-statement machinery (cache key, execution context, events, result objects), which costs
    several times what SQLite spends running these small statements. Errors are wrapped as SQLAlchemy's
    (``IntegrityError``...), so the translation into :mod:`node.errors` is unchanged. Works on any dialect with a
    positional paramstyle (pysqlite and aiosqlite: qmark; asyncpg: numeric_dollar, inside ``run_sync``).
    Every parameter must be given (no column defaults are applied); expanding parameters are not supported.
    """

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def _for(self, conn: Connection, keys: tuple[str, ...]) -> _Compiled:
        dialect = conn.dialect
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            found = _Compiled(self.statement, dialect, keys)
            self._compiled[(dialect.name, keys)] = found
        return found

    def execute(self, conn: Connection, params: dict[str, Any]) -> int:
        """Run with one set of parameters; returns the row count."""
        compiled = self._for(conn, tuple(params))
        cursor = compiled.run(conn, compiled.args(params), many=False)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def executemany(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            compiled = self._for(conn, tuple(rows[0]))
            compiled.run(conn, [compiled.args(row) for row in rows], many=True).close()

    def first(self, conn: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a SELECT (converted as SQLAlchemy would), or None."""
        rows = self._select(conn, params, one=True)
        return rows[0] if rows else None

    def all(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of a SELECT (converted as SQLAlchemy would)."""
        return self._select(conn, params, one=False)

    def _select(self, conn: Connection, params: dict[str, Any], *, one: bool) -> list[tuple[Any, ...]]:
        compiled = self._for(conn, tuple(params))
        cursor = compiled.run(conn, compiled.args(params), many=False)
        try:
            row = cursor.fetchone() if one else None
            rows = ([row] if row is not None else []) if one else cursor.fetchall()
        finally:
            cursor.close()
        processors = compiled.results
        if not processors:  # a text() statement: no column types, the driver's values as they are
            return [tuple(r) for r in rows]
        return [tuple(v if p is None else p(v) for p, v in zip(processors, r, strict=True)) for r in rows]


class _Compiled:
    __slots__ = ("_get", "_processed", "dialect", "names", "results", "sql")

    def __init__(self, statement: Any, dialect: Any, keys: tuple[str, ...]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.positiontup is None:  # pragma: no cover - every backend we run is positional
            raise NodeError(f"Prepared needs a positional paramstyle, not {dialect.paramstyle}")
        self.dialect = dialect
        self.sql: str = compiled.string
        self.names: list[str] = list(compiled.positiontup)
        missing = [n for n in self.names if n not in keys]
        if missing:  # a literal or a column default in the statement: pass it as a parameter instead
            raise NodeError(f"Prepared statement parameters missing: {', '.join(sorted(set(missing)))}")
        processors = [compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in self.names]
        self._processed = [(i, p) for i, p in enumerate(processors) if p is not None]
        self._get: Callable[[dict[str, Any]], tuple[Any, ...]]
        if len(self.names) > 1:
            self._get = operator.itemgetter(*self.names)
        elif self.names:
            name = self.names[0]
            self._get = lambda params: (params[name],)
        else:
            self._get = lambda params: ()
        columns = getattr(statement, "selected_columns", None)
        self.results = (
            [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
            if columns is not None and statement.is_select
            else []
        )

    def args(self, params: dict[str, Any]) -> Sequence[Any]:
        values = self._get(params)
        if not self._processed:
            return values
        converted = list(values)
        for i, process in self._processed:
            converted[i] = process(converted[i])
        return converted

    def run(self, conn: Connection, args: Any, *, many: bool) -> Any:
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        try:
            if many:
                cursor.executemany(self.sql, args)
            else:
                cursor.execute(self.sql, args)
        except self.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            invalidated = self.dialect.is_disconnect(exc, dbapi_connection, cursor)
            if invalidated:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                self.sql, args, exc, self.dialect.loaded_dbapi.Error, connection_invalidated=invalidated
            ) from exc
        return cursor


def _transaction(conn: Connection, session: Session, fn: Callable[[Session], T], write: bool) -> T:
    """Runs on a worker thread: one transaction on the thread's connection, ``fn`` given the thread's session
    (bound to that connection, emptied after every transaction); committed (write) or rolled back (read) at the
    end, rolled back if ``fn`` raises; errors translated as :meth:`Database.write` does.

    BEGIN is sent straight to the driver (pysqlite's own BEGIN is off, SQLAlchemy sends none): a ``begin`` event
    listener would also make SQLAlchemy dispatch its per-statement events, a measurable cost per statement.
    """
    with _translated(write):
        transaction = conn.begin()
        try:
            driver_connection = conn.connection.driver_connection
            assert driver_connection is not None
            driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = fn(session)
                if write:
                    session.flush()  # what fn left pending in the session is part of the transaction
            finally:
                session.close()  # forget the objects of this transaction (they stay usable, detached)
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
        if write:
            transaction.commit()
        else:
            transaction.rollback()
        return result


@contextlib.contextmanager
def _translated(write: bool) -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        log.info("write refused by a constraint: %s", exc.orig)
        raise Conflict("the request conflicts with existing data") from exc
    except DBAPIError as exc:
        raise _translate(exc) from exc


def _translate(exc: DBAPIError) -> NodeError:
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        log.warning("database unavailable: %s", exc.orig)
        return Unavailable("the database is busy or unreachable; try again")
    log.error("database error: %s", exc.orig)
    return NodeError("database error")


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let us issue BEGIN ourselves (pysqlite's implicit transactions would defeat BEGIN IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _configure_sqlite(sync_engine: Engine) -> None:
    """The aiosqlite engine: pragmas on connect, and BEGIN [IMMEDIATE] from a ``begin`` listener."""
    event.listen(sync_engine, "connect", _on_sqlite_connect)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _sqlite_sync_engine(engine: AsyncEngine) -> Engine | None:
    """A stdlib ``sqlite3`` engine on the same file, for whole-transaction functions (None for in-memory)."""
    url = engine.url
    database = url.database or ""
    if not database or database == ":memory:" or "mode=memory" in database or url.query.get("mode") == "memory":
        return None
    sync_engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        pool_size=READER_THREADS + 1,
        max_overflow=READER_THREADS + 1,
        connect_args={"check_same_thread": False},
    )
    event.listen(sync_engine.pool, "connect", _on_sqlite_connect)  # a pool event: no per-statement dispatch
    return sync_engine


def explain_connection_error(exc: BaseException, url: URL) -> str:
    """One line an operator can act on, for what kept the node from its database."""
    cause: BaseException = getattr(exc, "orig", None) or exc
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "postgresql":
        server = f"{url.host or 'the local socket'}:{url.port or 5432}"
        name = type(cause).__name__
        if isinstance(cause, ConnectionRefusedError) or "Connect call failed" in str(cause):
            return (
                f"cannot reach PostgreSQL at {server} (connection refused): is the server running and listening "
                "there? check database_url in node.json"
            )
        if isinstance(cause, socket.gaierror):
            return f"cannot find the PostgreSQL host {url.host!r}: check database_url in node.json"
        if name in ("InvalidAuthorizationSpecificationError", "InvalidPasswordError"):
            return (
                f"PostgreSQL at {server} refused user {url.username!r}: {cause}; create the role "
                "(createuser) or fix the user and password in database_url"
            )
        if name == "InvalidCatalogNameError":
            return f"PostgreSQL at {server} has no database {url.database!r}: create it (createdb) or fix database_url"
        return f"cannot use the PostgreSQL database {where}: {cause}"
    return f"cannot open the SQLite database {url.database}: {cause} (is the node folder writable by this user?)"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection, applied: list[str]) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    cfg = alembic_config(connection)

    def note(*, step: Any, **_: Any) -> None:
        applied.append(f"{step.up_revision_id} {step.up_revision.doc}".strip())

    cfg.attributes["on_version_apply"] = note
    command.upgrade(cfg, "head")
