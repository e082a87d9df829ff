"""A node never forks itself: before it signs anything new, it makes sure no peer holds more of its own log.

A node restored from a backup (or one whose last commits a power loss dropped) holds its own log only up to some
seq, while its peers may hold more of it. Were it to sign the next seq, it would sign a second entry for a
position the network already holds: a fork, which every peer refuses, and every later record of the coop with
it. The network is the node's backup: at start, the node asks each direct peer for its heads; where a peer holds
more of the node's own origin, the node pulls the missing tail from it, verified like any run (its own keys,
the hash chain from its own head), and stores it. Until every peer answered (or :attr:`OwnLogGate.wait_s`
passed: a peer that is down cannot be waited for forever), and while such a pull runs, the gate is closed and
the node's publisher refuses to sign (:meth:`OwnLogGate.blocked`). Every later anti-entropy round looks again:
a peer that shows more of us closes the gate until the tail is taken back.

The gate is read from the publishing thread (a bool and a string, swapped whole) and changed from the event
loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

DEFAULT_WAIT_S = 60.0


class OwnLogGate:
    """Whether this node may sign now, and why not. Open until :meth:`expect` names peers to hear from."""

    def __init__(self, name: str, wait_s: float = DEFAULT_WAIT_S, monotonic: Callable[[], float] = time.monotonic):
        self.name = name
        self.wait_s = wait_s
        self._monotonic = monotonic
        self._waiting: set[str] = set()  # peers not heard from since start
        self._deadline: float | None = None
        self._recovering: dict[str, int] = {}  # peer -> the seq of ours it holds, while we take it back
        self.recovered = 0  # own entries taken back from peers since start
        #: whether entries of ours that a peer holds and we do not may be taken back as ours: only during the
        #: start-up check of a node that did not stop cleanly (a crash, a power loss) or was restored from a backup.
        #: Otherwise we never lost anything: such entries were signed elsewhere with our key (stolen, or a second
        #: copy of the folder running) and are never adopted (the node's own log is its own).
        self.may_take_back = False
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------------------------------- the state

    def blocked(self) -> str | None:
        """Why this node must not sign now, or None when it may."""
        if self._recovering:
            peer, seq = next(iter(self._recovering.items()))
            return f"{peer} holds this node's records up to {seq}: they are being taken back from it"
        if self._waiting:
            if self._deadline is not None and self._monotonic() >= self._deadline:
                log.warning(
                    "own log: no answer from %s within %.0f s; signing again without knowing what they hold of us",
                    ", ".join(sorted(self._waiting)),
                    self.wait_s,
                )
                self._waiting = set()
                self.may_take_back = False
                return None
            return f"waiting for {', '.join(sorted(self._waiting))} to say how much of this node's log they hold"
        return None

    @property
    def ready(self) -> bool:
        return self.blocked() is None

    async def wait_ready(self) -> None:
        """Return once this node may sign (every peer answered, or the wait ran out, and no tail is being taken
        back)."""
        while self.blocked() is not None:
            self._changed.clear()
            timeout = None
            if self._waiting and self._deadline is not None:
                timeout = max(0.0, self._deadline - self._monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    # ------------------------------------------------------------------------------------------- changes

    def expect(self, peers: Iterable[str]) -> None:
        """At start: nothing is signed until each of ``peers`` said what it holds of us (or the wait ran out)."""
        self._waiting = set(peers)
        self._deadline = self._monotonic() + self.wait_s
        self._changed.set()
        if self._waiting:
            log.info("own log: checking what %s hold of it before signing", ", ".join(sorted(self._waiting)))

    def heard(self, peer: str) -> None:
        """``peer`` answered with its heads and whatever it held of us more is taken back."""
        if peer in self._waiting:
            self._waiting.discard(peer)
            if not self._waiting:
                log.info("own log: every peer answered; %d of our own entries taken back", self.recovered)
                self.may_take_back = False
            self._changed.set()

    def forget(self, peers: Iterable[str]) -> None:
        """Stop waiting for ``peers`` (they are no longer direct members)."""
        self._waiting -= set(peers)
        self._changed.set()

    def hold(self, peer: str, seq: int) -> None:
        self._recovering[peer] = seq

    def release(self, peer: str, taken: int) -> None:
        self._recovering.pop(peer, None)
        self.recovered += taken
        self._changed.set()
