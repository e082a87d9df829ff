"""``bigre serve --workers N``: N processes answer for one node on one port, on its PostgreSQL database.

This process (the supervisor) migrates the database once, then starts N ``bigre serve DIR --as-worker``
processes. Each opens the node and binds the same port with ``SO_REUSEPORT`` (the kernel spreads connections
between them); what must run once per node (sync, delivery, jobs) runs in the one worker that holds the node's
leadership lock (:mod:`node.storage.coordination`). The supervisor restarts a worker that dies, after a growing
pause, and stops them all on SIGINT/SIGTERM. If every worker fails at start-up, it stops with their error: a
node that cannot start must not loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from node.compose import open_node
from node.config import NodeConfig
from node.errors import ConfigError

log = logging.getLogger(__name__)

MAX_WORKERS: Final = 64
STARTUP_S: Final = 30.0  # a worker that exits sooner than this after its start failed to start
RESTART_MIN_S: Final = 1.0
RESTART_MAX_S: Final = 30.0
STOP_GRACE_S: Final = 15.0


@dataclass(slots=True)
class _Worker:
    index: int
    process: subprocess.Popen[bytes]
    started_at: float
    exited_at: float | None = None
    failed_start: bool = False
    delay: float = RESTART_MIN_S


def run_workers(config: NodeConfig, directory: Path, count: int, host: str | None, port: int | None) -> int:
    """Serve the node with ``count`` workers until SIGINT/SIGTERM; the exit status."""
    if not 1 <= count <= MAX_WORKERS:
        raise ConfigError(f"--workers must be between 1 and {MAX_WORKERS}, not {count}")
    if not config.database.startswith("postgresql"):
        raise ConfigError(
            "several workers need a PostgreSQL database (SQLite has one writer): "
            "set database in node.json to a postgresql:// URL, or serve without --workers"
        )
    asyncio.run(_migrate(config))  # once, here: N workers migrating at once would race
    return asyncio.run(_Supervisor(directory, count, host or config.host, port or config.port).run())


async def _migrate(config: NodeConfig) -> None:
    node = await open_node(config)  # opening migrates; the node is not started
    await node.close()


class _Supervisor:
    def __init__(self, directory: Path, count: int, host: str, port: int) -> None:
        self.directory = directory
        self.count = count
        self.host = host
        self.port = port
        self.workers: list[_Worker] = []
        self.stopping = asyncio.Event()
        self.ever_up = False  # some worker ran past its start-up

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "node.cli", "serve", str(self.directory), "--as-worker"]
        argv += ["--host", self.host, "--port", str(self.port)]
        # our own interpreter and node folder; the worker's logs go where ours go
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL)  # noqa: S603

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        now = time.monotonic()
        self.workers = [_Worker(i, self._spawn(i), now) for i in range(self.count)]
        log.info(
            "supervising %d workers of the node in %s on %s:%d (pids %s)",
            self.count,
            self.directory,
            self.host,
            self.port,
            ", ".join(str(w.process.pid) for w in self.workers),
        )
        status = 0
        try:
            while not self.stopping.is_set():
                failed = self._check()
                if failed is not None:
                    status = failed
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), 0.5)
        finally:
            await self._stop_all()
        return status

    def _check(self) -> int | None:
        """Restart the workers that ended (each after a pause that doubles while it keeps failing at start-up);
        the exit status to stop with when no worker ever started."""
        now = time.monotonic()
        for w in self.workers:
            code = w.process.poll()
            if code is None:
                if now - w.started_at > STARTUP_S:
                    self.ever_up = True
                    w.delay = RESTART_MIN_S  # it ran long enough: its next restart is quick again
                continue
            if w.exited_at is None:
                w.exited_at = now
                w.failed_start = now - w.started_at < STARTUP_S
                log.warning("worker %d (pid %d) ended with status %s", w.index, w.process.pid, code)
            if not self.ever_up and all(x.exited_at is not None and x.failed_start for x in self.workers):
                log.error("no worker could start (last exit status %s); stopping", code)
                return code or 1
            if now - w.exited_at < w.delay:
                continue  # a crash loop must not spin
            w.process = self._spawn(w.index)
            log.info("worker %d restarted (pid %d)", w.index, w.process.pid)
            w.started_at, w.exited_at = now, None
            w.delay = min(w.delay * 2, RESTART_MAX_S)
        return None

    async def _stop_all(self) -> None:
        for w in self.workers:
            if w.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    w.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for w in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(w.process.wait, max(0.0, deadline - time.monotonic()))
            if w.process.poll() is None:
                log.warning("worker %d (pid %d) did not stop in %g s; killing it", w.index, w.process.pid, STOP_GRACE_S)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.process.pid, signal.SIGKILL)
                w.process.wait()
        log.info("all workers stopped")
