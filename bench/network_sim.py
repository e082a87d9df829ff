"""Network simulation bench: what the federation costs at 3, 10, 50 and 200 coops, and what fan-out does to it.

    python -m bench.network_sim [--sizes 3,10,50,200] [--fanout 3] [--updates 10] [--loss 0.1] [--rules ...]

Each run builds a network of N nodes of the real ``federation`` code in one process (``tests/sim``: in-memory
transport, virtual clock; every node a direct peer of every other, as the network file makes them), starts it
converged, then, on the virtual clock:

1. **updates**: ``--updates`` profile changes, one every 0.5 s, each by a node drawn at random; the network runs
   until every node holds all of them. Messages and bytes per update count the pushes and log pages (requests
   and answers, headers included) they caused; convergence is, per update, the virtual time from its publication
   until the last node stored it (median and worst).
2. **idle**: ``--idle-seconds`` (a minute, two anti-entropy periods) with nothing published: the requests and bytes
   anti-entropy costs the whole network, per minute.
3. **loss**: ``--updates`` more changes while each message (request or answer) is lost with chance ``--loss``;
   convergence as above (a lost push waits for a retry or for a pull).

Rules (``--rules``): ``full`` pushes every new entry to every peer and pulls from every peer each round (the
default of release 1.1); ``pull-K`` pushes to every peer and pulls from K peers drawn at random each round;
``relay-K`` pushes to K peers drawn at random, each node relays what a push brought it to K others, and pulls
from K peers each round (gossip). Wall time is printed per run (this machine is shared: compare rows of the same
run, never absolute times); the virtual figures do not depend on the machine.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from dataclasses import dataclass

from tests.sim.loop import run
from tests.sim.network import FULL, Faults, Rule, SimNetwork

PROFILE = {"display_name": "Amélie Durand", "skills": ["menuiserie"], "bio": "Menuisière en coopérative."}
UPDATE_KINDS = ("push", "log")
SPACING_S = 0.5


@dataclass(slots=True)
class Figures:
    n: int
    rule: str
    msgs_per_update: float
    bytes_per_update: float
    converge_median: float
    converge_max: float
    idle_msgs_per_min: float
    idle_bytes_per_min: float
    loss_msgs_per_update: float
    loss_converge_median: float
    loss_converge_max: float
    wall_s: float


def rule_named(name: str) -> Rule:
    if name == "full":
        return FULL
    kind, _, k = name.partition("-")
    if kind == "pull":
        return Rule(name, pull_fanout=int(k))
    if kind == "relay":
        return Rule(name, pull_fanout=int(k), relay_fanout=int(k))
    raise SystemExit(f"unknown rule {name!r}: full, pull-K or relay-K")


async def _updates(net: SimNetwork, count: int, tag: str, within: float) -> tuple[float, float, float, float]:
    """Publish ``count`` updates; run until converged. (messages/update, bytes/update, median, max convergence)."""
    before = net.traffic.copy()
    published: list[tuple[str, int]] = []
    names = sorted(net.nodes)
    for i in range(count):
        origin = net.nodes[net.rng.choice(names)]
        seq = await origin.publish("profile", f"m-{tag}-{i}", PROFILE)
        published.append((origin.name, seq))
        await net.run_for(SPACING_S)
    await net.run_until(net.converged, within)
    spent = net.traffic.since(before)
    spreads = [net.spread(origin, seq) for origin, seq in published]
    times = [s for s in spreads if s is not None]
    assert len(times) == count, "an update did not reach every node"
    return (
        spent.total_requests(UPDATE_KINDS) / count,
        spent.total_bytes(UPDATE_KINDS) / count,
        statistics.median(times),
        max(times),
    )


def measure(n: int, rule: Rule, *, updates: int, loss: float, seed: int, idle_s: float) -> Figures:
    started = time.perf_counter()

    async def main() -> Figures:
        net = SimNetwork(n, rule=rule, faults=Faults(), seed=seed)
        await net.start()
        await net.run_for(1.0)
        msgs, size, median, worst = await _updates(net, updates, "a", within=120.0)
        before = net.traffic.copy()
        await net.run_for(idle_s)
        idle = net.traffic.since(before)
        net.faults.loss = loss
        lmsgs, _, lmedian, lworst = await _updates(net, updates, "b", within=1800.0)
        await net.close()
        per_min = 60.0 / idle_s
        return Figures(
            n,
            rule.name,
            msgs,
            size,
            median,
            worst,
            idle.total_requests() * per_min,
            idle.total_bytes() * per_min,
            lmsgs,
            lmedian,
            lworst,
            0.0,
        )

    figures = run(main)
    figures.wall_s = time.perf_counter() - started
    return figures


HEADER = (
    "| N | rule | msgs/update | KiB/update | converge p50 / max (s) | idle msgs/min (per node) | idle KiB/min "
    "| with loss: msgs/update | with loss: converge p50 / max (s) | wall (s) |"
)


def row(f: Figures) -> str:
    return (
        f"| {f.n} | {f.rule} | {f.msgs_per_update:.1f} | {f.bytes_per_update / 1024:.1f} "
        f"| {f.converge_median:.2f} / {f.converge_max:.2f} "
        f"| {f.idle_msgs_per_min:.0f} ({f.idle_msgs_per_min / f.n:.1f}) | {f.idle_bytes_per_min / 1024:.0f} "
        f"| {f.loss_msgs_per_update:.1f} | {f.loss_converge_median:.2f} / {f.loss_converge_max:.2f} "
        f"| {f.wall_s:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="3,10,50,200")
    parser.add_argument("--fanout", type=int, default=3, help="K of the pull-K and relay-K rules")
    parser.add_argument("--rules", default="", help="comma-separated (default: full,pull-K,relay-K)")
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--loss", type=float, default=0.1)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the simulated faults make every node log its failed syncs
    k = args.fanout
    rules = [rule_named(r) for r in (args.rules or f"full,pull-{k},relay-{k}").split(",")]
    print(
        f"network simulation: {args.updates} updates, idle {args.idle_seconds:.0f} s, loss {args.loss:.0%}, "
        f"anti-entropy every 30 s, one-way delay 5-40 ms, timeout 20 s, seed {args.seed}"
    )
    print(HEADER)
    print("|" + "---|" * HEADER.count(" |"))
    for n in (int(s) for s in args.sizes.split(",")):
        for rule in rules:
            print(row(measure(n, rule, updates=args.updates, loss=args.loss, seed=args.seed, idle_s=args.idle_seconds)))


if __name__ == "__main__":
    main()
