"""A fault-injecting proxy between real nodes: drop, delay, duplicate, reorder, cut and restore.

Every node's peers reach it through its proxy (its public URL), so every federation request of the network
crosses one. Each phase switches faults on all proxies, writes on every node while they are on, and waits until
each fault has really hit traffic (the proxies count them); then all faults are lifted and the three nodes must
hold exactly the same logs, entry for entry, the same record states and the same search answers, with no fork
reported anywhere.
"""

from __future__ import annotations

import itertools

from .cluster import Cluster, Node, eventually
from .faultproxy import FaultProxy


class Phase:
    """Faults switched on every proxy, and a wait until each named fault has hit traffic since."""

    def __init__(self, proxies: list[FaultProxy], **faults: float | int | bool) -> None:
        self.proxies = proxies
        for p in proxies:
            p.set(**faults)
        self.before = [p.stats() for p in proxies]

    def wait(self, within: float = 30.0, **at_least: int) -> None:
        def hit() -> bool:
            return all(
                p.stats().get(kind, 0) - before.get(kind, 0) >= n
                for p, before in zip(self.proxies, self.before, strict=True)
                for kind, n in at_least.items()
            )

        eventually(hit, within, 0.05, what=f"faults {at_least} on every proxy")


def test_end_state_is_the_same_whatever_the_network_does(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    nodes: list[Node] = list(cluster.nodes.values())
    proxies = [n.proxy for n in nodes]
    word = (f"zorglub{i}" for i in itertools.count())
    offers: dict[str, list[str]] = {n.name: [] for n in nodes}

    def write_round() -> None:
        for n in nodes:
            offers[n.name].append(n.create_offer(f"Offre {next(word)} de {n.name}"))

    # 1. lost requests and lost answers (the change happened, the sender never heard)
    phase = Phase(proxies, drop=0.5)
    write_round()
    write_round()
    phase.wait(dropped_request=1, dropped_answer=1)

    # 2. slow and reordered: requests held in groups of three and released shuffled
    phase = Phase(proxies, delay=0.15, reorder=3, reorder_wait=0.4)
    write_round()
    for n in nodes:
        n.update_offer(offers[n.name][0], title=f"Offre modifiée {next(word)}")
    phase.wait(reordered=3, delayed=3)

    # 3. every request delivered twice (the copy is a replay: refused, and it changes nothing)
    phase = Phase(proxies, duplicate=1.0)
    for n in nodes:
        n.delete_offer(offers[n.name][1])
    write_round()
    phase.wait(duplicated=3)

    # 4. everything at once
    phase = Phase(proxies, drop=0.2, delay=0.1, duplicate=0.3, reorder=2, reorder_wait=0.2)
    write_round()
    phase.wait(forwarded=4)

    # 5. cut: a full partition, each node writes alone and nothing crosses
    phase = Phase(proxies, cut=True)
    phase.wait(cut=1)
    eventually(lambda: all(p.inflight() == 0 for p in proxies), 10, 0.02, what="nothing in flight")
    before = {n.name: n.heads() for n in nodes}
    write_round()
    phase.wait(cut=4)
    for n in nodes:
        heads = n.heads()
        assert heads[n.name] == before[n.name][n.name] + 1
        assert {o: s for o, s in heads.items() if o != n.name} == {
            o: s for o, s in before[n.name].items() if o != n.name
        }, f"{n.name} got records through a cut"

    # restored: one network again, identical everywhere
    cluster.clear_faults()
    heads = cluster.wait_converged(within=90)
    for n in nodes:
        assert heads[n.name] == nodes[0].heads()[n.name]
        assert n.forks() == []
    answers = [n.found("zorglub") for n in nodes]
    assert all(a == answers[0] for a in answers)
    expected = {("offer", name, oid) for name, ids in offers.items() for i, oid in enumerate(ids) if i != 1}
    assert answers[0] == expected
