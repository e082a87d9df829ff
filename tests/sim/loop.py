"""An asyncio event loop on virtual time: whenever nothing is ready to run, the clock jumps to the next timer.

Everything scheduled on the loop (``asyncio.sleep``, ``wait_for`` timeouts, ``call_later``) then happens in
virtual time, in the order real time would give it, with no waiting: an hour of a network's life runs in the
time its CPU work takes. The loop has no real I/O to wait for (the simulated network is in memory); a wait with
no timer at all can never end, and is reported as a deadlock rather than hanging the run.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class DeadlockError(RuntimeError):
    """Every task waits and no timer is set: nothing can ever happen again."""


class _VirtualSelector(selectors.DefaultSelector):
    """The loop's selector: polls the real descriptors (the loop's own wake-up pipe) without blocking, and
    instead of sleeping for ``timeout`` moves the virtual clock forward by it."""

    def __init__(self, advance: Callable[[float], None]) -> None:
        super().__init__()
        self._advance = advance

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise DeadlockError("every task is waiting and no timer is set")
        self._advance(timeout)
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose :meth:`time` is virtual (seconds since the loop was made)."""

    def __init__(self) -> None:
        self._now = 0.0
        super().__init__(selector=_VirtualSelector(self._advance))
        self._clock_resolution = 1e-9

    def _advance(self, seconds: float) -> None:
        self._now += seconds

    def time(self) -> float:
        return self._now


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` to its end on a fresh virtual-time loop."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main())
