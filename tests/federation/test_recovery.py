"""The own-log gate: a node signs nothing while a peer may hold more of its own log (issue 12, item 10)."""

from __future__ import annotations

import asyncio

import pytest

from federation.recovery import OwnLogGate


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_closed_until_every_peer_answered_then_while_a_tail_is_taken_back() -> None:
    clock = Clock()
    gate = OwnLogGate("coopaname", wait_s=60, monotonic=clock)
    assert gate.ready and not gate.may_take_back  # not started: a one-shot command signs as before
    gate.may_take_back = True  # the node did not stop cleanly
    gate.expect(["smart", "oxalis"])
    assert "waiting for oxalis, smart" in (gate.blocked() or "")
    gate.heard("smart")
    assert not gate.ready
    gate.hold("oxalis", 57)
    assert "oxalis holds this node's records up to 57" in (gate.blocked() or "")
    gate.release("oxalis", 5)
    gate.heard("oxalis")
    assert gate.ready and gate.recovered == 5
    assert not gate.may_take_back  # the start-up check is over: a node that runs has lost nothing
    gate.hold("smart", 60)  # a later round sees more of us: closed again until it is taken back
    assert not gate.ready
    gate.release("smart", 3)
    assert gate.ready and gate.recovered == 8


def test_a_silent_peer_is_not_waited_for_past_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    gate = OwnLogGate("coopaname", wait_s=60, monotonic=clock)
    gate.expect(["smart"])
    clock.t += 59
    assert not gate.ready
    clock.t += 2
    assert gate.ready
    assert "no answer from smart within 60 s" in caplog.text
    gate.expect([])
    assert gate.ready  # no peer at all: nothing to wait for


async def test_wait_ready_returns_when_the_last_peer_answers() -> None:
    gate = OwnLogGate("coopaname", wait_s=60)
    gate.expect(["smart"])
    waiter = asyncio.ensure_future(gate.wait_ready())
    await asyncio.sleep(0)
    assert not waiter.done()
    gate.forget(["oxalis"])  # another peer leaving changes nothing
    await asyncio.sleep(0)
    assert not waiter.done()
    gate.heard("smart")
    await asyncio.wait_for(waiter, 5)
