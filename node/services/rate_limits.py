"""Rate limits on what can be abused in bulk: messages, invitations, searches and API writes.

Each kind of action has a limit per account and one per client address (the address as
:mod:`node.http.forwarded` resolved it: ``X-Forwarded-For`` counts only from the operator's trusted proxies, so
a client cannot pick a fresh address per request). Limits are moving windows (the ``limits`` library, in this
process's memory: a restart forgets them, which is fine for abuse limits), written in its notation
(``"20/minute"``, ``"20/minute;200/day"``) in the ``rate_limit_*`` settings. Past a limit the action is refused
with :class:`node.errors.TooManyAttempts` (429 with ``Retry-After``) and nothing is counted for it; a refusal is
logged with the kind and the key (an account number or an address, never an e-mail).

Sign-in and invitation tokens have their own, stored throttling (:mod:`node.services.accounts`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Final, Literal

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from node.errors import TooManyAttempts

log = logging.getLogger(__name__)

Kind = Literal["messages", "invitations", "searches", "writes"]
KINDS: Final[tuple[Kind, ...]] = ("messages", "invitations", "searches", "writes")


class RateLimits:
    """The node's limits, counted in this process's memory."""

    def __init__(self, limits: Mapping[str, Mapping[str, str]]) -> None:
        """``limits``: for each kind, ``{"account": "20/minute", "address": "120/minute"}`` (the settings; a scope
        left out is not limited)."""
        self._items: dict[tuple[str, str], list[RateLimitItem]] = {
            (kind, scope): parse_many(limits[kind][scope])
            for kind in KINDS
            for scope in ("account", "address")
            if scope in limits.get(kind, {})
        }
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, kind: Kind, account_id: int | None, address: str | None) -> None:
        """Count one action of ``kind`` by ``account_id`` (None: anonymous) from ``address``, or refuse it when
        one of its limits is reached (then nothing is counted)."""
        keys = []
        if account_id is not None:
            keys.append(("account", str(account_id)))
        if address:
            keys.append(("address", address))
        checks = [(item, scope, key) for scope, key in keys for item in self._items.get((kind, scope), ())]
        for item, scope, key in checks:
            if not self._limiter.test(item, kind, scope, key):
                reset = self._limiter.get_window_stats(item, kind, scope, key).reset_time
                retry = max(1, math.ceil(reset - time.time()))
                log.warning("rate limit: %s by %s %s over %s (retry in %d s)", kind, scope, key, item, retry)
                raise TooManyAttempts(f"too many {kind} in a short time; try again in {retry} seconds", retry)
        for item, scope, key in checks:
            self._limiter.hit(item, kind, scope, key)
