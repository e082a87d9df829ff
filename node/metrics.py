"""The node's metrics, in Prometheus' text format (the maintained ``prometheus_client``).

One registry per node (no process-wide state: two nodes in one test process keep their figures apart). Two kinds
of figures: counters and histograms that code updates as things happen (requests per route, their latency), and
gauges read from the database at scrape time (outbox depth and age per peer, peer lag and last contact, forks,
entries held per origin, the database's size), so a scrape always says how things are now, not how they were
when something last changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS: Final = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class PeerFigures:
    """What the database says about one peer at scrape time."""

    name: str
    outbox_depth: int
    outbox_oldest_age_s: float  # 0 when the queue is empty
    outbox_refused: int
    lag: int  # entries the peer holds that we lack (-1: unknown)
    last_success_age_s: float | None
    reachable: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    peers: list[PeerFigures]
    forks: int
    entries_per_origin: Mapping[str, int]
    database_bytes: int | None


class NodeMetrics:
    def __init__(self, node_name: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "bigre_http_requests_total",
            "HTTP requests answered, by route, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "bigre_http_request_seconds",
            "Time to answer an HTTP request, by route and method",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.outbox_depth = Gauge("bigre_outbox_depth", "Items waiting for a peer", ["peer"], registry=r)
        self.outbox_age = Gauge(
            "bigre_outbox_oldest_seconds", "Age of the oldest item waiting for a peer (0: none)", ["peer"], registry=r
        )
        self.outbox_refused = Gauge(
            "bigre_outbox_refused", "Items a peer refused for good, set aside for operators", ["peer"], registry=r
        )
        self.peer_lag = Gauge(
            "bigre_peer_lag_entries",
            "Entries a peer holds that this node lacks, at the last look (-1: unknown)",
            ["peer"],
            registry=r,
        )
        self.peer_last_success = Gauge(
            "bigre_peer_last_success_seconds",
            "Seconds since the last successful exchange with a peer (-1: never)",
            ["peer"],
            registry=r,
        )
        self.peer_reachable = Gauge(
            "bigre_peer_reachable", "1 when the last exchange with a peer succeeded", ["peer"], registry=r
        )
        self.forks = Gauge("bigre_forks", "Forks detected (an origin signed two entries for one seq)", registry=r)
        self.entries = Gauge("bigre_entries", "Entries held, by origin", ["origin"], registry=r)
        self.database_bytes = Gauge("bigre_database_bytes", "Size of the database on disk", registry=r)
        self.info = Gauge("bigre_node_info", "This node", ["name"], registry=r)
        self.info.labels(name=node_name).set(1)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.latency.labels(route=route, method=method).observe(seconds)

    def render(self, snapshot: Snapshot) -> bytes:
        """The text exposition, with the database's figures of ``snapshot`` set just now."""
        for gauge in (self.outbox_depth, self.outbox_age, self.outbox_refused, self.peer_lag, self.peer_last_success):
            gauge.clear()
        self.peer_reachable.clear()
        for p in snapshot.peers:
            self.outbox_depth.labels(peer=p.name).set(p.outbox_depth)
            self.outbox_age.labels(peer=p.name).set(p.outbox_oldest_age_s)
            self.outbox_refused.labels(peer=p.name).set(p.outbox_refused)
            self.peer_lag.labels(peer=p.name).set(p.lag)
            self.peer_last_success.labels(peer=p.name).set(-1 if p.last_success_age_s is None else p.last_success_age_s)
            self.peer_reachable.labels(peer=p.name).set(1 if p.reachable else 0)
        self.forks.set(snapshot.forks)
        self.entries.clear()
        for origin, count in snapshot.entries_per_origin.items():
            self.entries.labels(origin=origin).set(count)
        if snapshot.database_bytes is not None:
            self.database_bytes.set(snapshot.database_bytes)
        return generate_latest(self.registry)
