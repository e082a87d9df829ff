"""The simulated network (tests/sim): N real federation services over an in-memory transport on a virtual clock.

Small networks here (3 to 10 nodes); ``bench/network_sim.py`` runs the large ones. Each test is a plain function
that runs its own virtual-time loop: minutes of a network's life take a fraction of a second.
"""

from __future__ import annotations

import asyncio

import pytest

from protocol import decode_entry
from tests.federation.fakes import T0
from tests.sim.loop import DeadlockError, run
from tests.sim.network import FULL, Faults, Rule, SimNetwork

PROFILE = {"display_name": "Amélie Durand", "skills": ["menuiserie"]}
PULL_3 = Rule("pull-3", pull_fanout=3)
RELAY_3 = Rule("relay-3", pull_fanout=3, relay_fanout=3)


def assert_every_record_everywhere_once(net: SimNetwork, published: list[tuple[str, int]]) -> None:
    """Every node holds every origin's log exactly as the origin does: the same entries, byte for byte, each
    stored once, and every published update among them."""
    own = {name: node.log.entries[name] for name, node in net.nodes.items()}
    for node in net.nodes.values():
        assert node.log.stored_twice == [], node.name
        for origin, entries in own.items():
            assert node.log.entries[origin] == entries, (node.name, origin)
            assert sorted(entries) == list(range(1, len(entries) + 1))
            ids = [decode_entry(blob).header.id for blob in entries.values()]
            assert len(ids) == len(set(ids)), (origin, ids)  # each published record once (one entry per id here)
        for origin, seq in published:
            assert seq in node.log.entries[origin], (node.name, origin, seq)


@pytest.mark.parametrize(("n", "rule"), [(3, FULL), (10, FULL), (10, PULL_3), (10, RELAY_3)], ids=str)
def test_converges_through_loss_a_partition_and_a_node_away(n: int, rule: Rule) -> None:
    async def main() -> None:
        net = SimNetwork(n, rule=rule, faults=Faults(loss=0.2), seed=7)
        await net.start()
        names = sorted(net.nodes)
        published: list[tuple[str, int]] = []

        async def update(origin: str) -> int:
            seq = await net.nodes[origin].publish("profile", f"m-{len(published)}", PROFILE)
            published.append((origin, seq))
            return seq

        for name in names:  # every node publishes, one in five messages lost
            await update(name)
            await net.run_for(0.3)

        left, right = names[: n // 2], names[n // 2 :]
        net.split(left, right)
        seq_left, seq_right = await update(left[0]), await update(right[-1])
        await net.run_for(90)  # three anti-entropy rounds: nothing crosses a partition
        assert net.holders(left[0], seq_left) <= len(left)
        assert net.holders(right[-1], seq_right) <= len(right)
        assert not net.converged()
        net.heal()

        away = right[0]
        await net.take_down(away)
        seq_left, seq_right = await update(left[0]), await update(right[-1])
        await net.run_for(120)
        assert seq_left not in net.nodes[away].log.entries[left[0]]
        assert net.traffic.refused > 0  # its peers kept trying it
        await net.bring_back(away)

        await net.run_until(lambda: net.converged(net.nodes.values()), within=900)
        assert net.traffic.lost > 0
        assert_every_record_everywhere_once(net, published)
        await net.close()

    run(main)


def test_the_virtual_clock_dates_entries_and_runs_the_schedule() -> None:
    async def main() -> None:
        net = SimNetwork(3, seed=3)
        await net.start()
        await net.run_for(3600)  # an hour: ~120 anti-entropy rounds per node, in virtual time
        origin = net.nodes["coop-000"]
        seq = await origin.publish("profile", "m-1", PROFILE)
        assert decode_entry(origin.log.entries[origin.name][seq]).header.ts == T0 + 3_600_000
        heads = net.traffic.requests["heads"]
        assert 3 * 2 * 110 <= heads <= 3 * 2 * 130, heads  # every node pulls from its 2 peers every 30 +- 6 s
        await net.run_until(net.converged, within=5)
        assert net.spread(origin.name, seq) == pytest.approx(0.0225, abs=0.0175)  # one push: 5 to 40 ms
        await net.close()

    run(main)


@pytest.mark.parametrize(("rule", "per_round"), [(FULL, 9), (PULL_3, 3)], ids=str)
def test_pull_fanout_sets_the_idle_traffic(rule: Rule, per_round: int) -> None:
    async def main() -> None:
        net = SimNetwork(10, rule=rule, seed=5)
        await net.start()
        await net.run_for(60)
        before = net.traffic.copy()
        await net.run_for(600)  # 20 rounds
        idle = net.traffic.since(before)
        assert set(idle.requests) == {"heads"}  # no update: nothing but the comparison of heads
        expected = 10 * per_round * 20
        assert 0.85 * expected <= idle.requests["heads"] <= 1.15 * expected, idle.requests
        await net.close()

    run(main)


def test_relay_fanout_pushes_to_k_peers_and_they_relay() -> None:
    async def main() -> None:
        net = SimNetwork(10, rule=RELAY_3, seed=11)
        await net.start()
        await net.run_for(1)
        origin = net.nodes["coop-004"]
        before = net.traffic.copy()
        seq = await origin.publish("profile", "m-1", PROFILE)
        await net.run_for(1)  # long before any anti-entropy round: only pushes and relays have moved it
        spent = net.traffic.since(before)
        assert spent.sent[(origin.name, "push")] == 3
        assert net.holders(origin.name, seq) > 4  # the origin and its three, and more: they relayed
        await net.run_until(net.converged, within=60)  # whoever the relays missed pulls it
        assert_every_record_everywhere_once(net, [(origin.name, seq)])
        await net.close()

    run(main)


def test_a_wait_that_nothing_can_end_is_reported() -> None:
    async def main() -> None:
        await asyncio.Event().wait()

    with pytest.raises(DeadlockError):
        run(main)
