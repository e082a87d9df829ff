"""The node's own periodic jobs: saved searches' new matches, and expired onboarding cases.

Each job is an asyncio task that lives exactly as long as the node is started (:meth:`Jobs.start` /
:meth:`Jobs.stop`, called by the composition root's node). A failed run is logged and the next one tries
again: a notification is late, never lost. (The federation's sync and delivery have their own loops, in
:class:`federation.service.FederationService`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

log = logging.getLogger(__name__)

HOUR_S: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Job:
    """A named coroutine run every ``seconds``; it returns how many things it did (logged when not zero)."""

    name: str
    seconds: float
    run: Callable[[], Awaitable[int]]


class Jobs:
    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(_forever(job), name=job.name) for job in self.jobs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


async def _forever(job: Job) -> None:
    while True:
        await asyncio.sleep(job.seconds)
        try:
            done = await job.run()
        except Exception:  # a failed run must not end the job
            log.exception("%s: run failed; retrying in %g s", job.name, job.seconds)
        else:
            if done:
                log.info("%s: %d done", job.name, done)
