"""Time as a parameter: every part that needs the time takes a :data:`Clock` so tests can drive it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Final

Clock = Callable[[], int]
"""A callable returning the current time in milliseconds since the Unix epoch."""


# a day short of the last datetime Python represents, so that showing it in any time zone still fits
_LATEST: Final = (dt.datetime.max - dt.timedelta(days=1)).replace(tzinfo=dt.UTC)
_LATEST_MS: Final = int(_LATEST.timestamp() * 1000)


def utc_datetime(ms: int) -> dt.datetime:
    """A time in milliseconds since the epoch as an aware UTC datetime. Records may carry times up to 2^53 ms
    (year 285 000); past the last one Python represents (9999-12-31), the answer is the day before it."""
    if ms >= _LATEST_MS:
        return _LATEST
    return dt.datetime.fromtimestamp(max(ms, 0) / 1000, dt.UTC)


def system_clock() -> int:
    return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to (for tests and simulations)."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms
