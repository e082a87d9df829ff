"""What a node's worker processes share through PostgreSQL: one leader, wake-ups, reloads, seen nonces.

With ``bigre serve --workers N`` several processes answer for one node on one port. Everything they must agree
on lives in the database already (the log, the head lock of the node's own chain, the outbox); what does not is
handled here:

* **leadership**: the loops that must run once per node (anti-entropy, one delivery loop per peer, the jobs)
  run in the worker that holds a PostgreSQL session-level advisory lock named after the node. The lock lives as
  long as the worker's connection: a worker that dies (even by SIGKILL) drops it, and another worker takes it
  within :data:`LEAD_POLL_S`. A leader whose lock connection breaks stops leading at once (its process exits
  and the supervisor starts a new one): two leaders never run together.
* **notifications** (LISTEN/NOTIFY on a channel named after the node): ``wake`` (a worker committed outbox
  rows; the leader's delivery loops must run now, not at the next round) and ``reload`` (a worker changed
  peers, keys or governance records; every other worker reads them again).
(The replay guard the workers share is :class:`node.federation_adapter.nonces.SharedNonces`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Final

import asyncpg
from sqlalchemy.engine import URL

log = logging.getLogger(__name__)

LEAD_POLL_S: Final = 1.0  # how often a follower tries to take the lead


def _digest(name: str) -> bytes:
    return hashlib.blake2b(f"bigre-node:{name}".encode(), digest_size=8).digest()


def lock_key(name: str) -> int:
    """The advisory lock's key: a signed 64-bit integer derived from the node's name."""
    return int.from_bytes(_digest(name), "big", signed=True)


def channel(name: str) -> str:
    """The LISTEN/NOTIFY channel of a node (an identifier of at most 63 characters)."""
    return f"bigre_{_digest(name).hex()}"


def asyncpg_dsn(url: URL) -> str:
    """The plain libpq URL of a ``postgresql+asyncpg`` SQLAlchemy URL (password included: never logged)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Coordinator:
    """One worker's link to its siblings: the leadership lock and the node's notification channel."""

    def __init__(
        self,
        name: str,
        dsn: str,
        *,
        on_lead: Callable[[], Awaitable[None]],
        on_wake: Callable[[], None],
        on_reload: Callable[[], Awaitable[None]],
        on_lost: Callable[[], None],
    ) -> None:
        self.name = name
        self.dsn = dsn
        self.on_lead = on_lead
        self.on_wake = on_wake
        self.on_reload = on_reload
        self.on_lost = on_lost
        self.leading = False
        self._me = str(os.getpid())
        self._conn: asyncpg.Connection | None = None
        self._query = asyncio.Lock()  # one asyncpg connection runs one query at a time
        self._task: asyncio.Task[None] | None = None
        self._reloads: set[asyncio.Task[None]] = set()
        self._closing = False

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self.dsn)
        self._conn.add_termination_listener(self._terminated)
        await self._conn.add_listener(channel(self.name), self._notified)
        self._task = asyncio.create_task(self._campaign(), name="leadership")

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._reloads):
            task.cancel()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()  # the advisory lock ends with the session

    async def _campaign(self) -> None:
        """Try the lock until this worker holds it, then lead until the process ends."""
        while not self.leading:
            try:
                async with self._query:
                    assert self._conn is not None
                    got = await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(self.name))
            except (asyncpg.PostgresError, OSError) as exc:
                log.error("leadership of %s: lock query failed (%s); this worker stops", self.name, exc)
                self.on_lost()
                return
            if got:
                self.leading = True
                log.info("worker %s leads node %s (sync, delivery and jobs run here)", self._me, self.name)
                await self.on_lead()
                return
            await asyncio.sleep(LEAD_POLL_S)

    def announce(self, what: str) -> None:
        """Tell the other workers (``wake`` or ``reload``); fire and forget, never raises."""
        task = asyncio.create_task(self._notify(what))
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def _notify(self, what: str) -> None:
        if self._conn is None or self._closing:
            return
        try:
            async with self._query:
                await self._conn.execute("SELECT pg_notify($1, $2)", channel(self.name), f"{self._me}:{what}")
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("could not tell the other workers of %s to %s: %s", self.name, what, exc)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        sender, _, what = payload.partition(":")
        if sender == self._me:
            return
        if what == "wake":
            if self.leading:
                self.on_wake()
        elif what == "reload":
            task = asyncio.create_task(self._reload())
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

    async def _reload(self) -> None:
        try:
            await self.on_reload()
        except Exception:
            log.exception("reloading the shared state of %s failed", self.name)

    def _terminated(self, _conn: object) -> None:
        if not self._closing:
            log.error("the coordination connection of %s closed; this worker stops", self.name)
            self.on_lost()
