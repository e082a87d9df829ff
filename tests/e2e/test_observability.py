"""What an operator's monitoring sees of real nodes: metrics after a sync, readiness going red and green."""

from __future__ import annotations

import re
import urllib.request

from .cluster import Cluster, eventually


def _metrics(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return str(response.read().decode("utf-8"))


def _value(text: str, series: str) -> float | None:
    match = re.search(rf"^{re.escape(series)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_metrics_after_a_sync_and_readiness(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart = cluster["coopaname"], cluster["smart"]
    offer = coopaname.create_offer("Atelier de reliure tlaloc")
    smart.wait_found("tlaloc", ("offer", "coopaname", offer))

    def synced() -> str | None:
        text = _metrics(smart.url)
        entries = _value(text, 'bigre_entries{origin="coopaname"}')
        reachable = _value(text, 'bigre_peer_reachable{peer="coopaname"}')
        return text if entries and entries > 1 and reachable == 1 else None

    text = eventually(synced, what="smart's metrics to show coopaname's entries and a reachable peer")
    for series in (
        'bigre_outbox_depth{peer="coopaname"}',
        'bigre_outbox_oldest_seconds{peer="coopaname"}',
        'bigre_peer_lag_entries{peer="oxalis"}',
        'bigre_peer_last_success_seconds{peer="oxalis"}',
        "bigre_forks",
        "bigre_database_bytes",
    ):
        assert _value(text, series) is not None, series
    assert re.search(r'^bigre_http_requests_total\{method="GET",route="/api/v1/health",status="200"\} \d', text, re.M)
    coopaname_member = coopaname.member_id()
    assert smart.api("GET", f"/api/v1/network/members/coopaname/{coopaname_member}").status in (200, 404)
    text = _metrics(smart.url)
    assert 'route="/api/v1/network/members/{origin}/{member_id}"' in text and coopaname_member not in text

    assert smart.api("GET", "/api/v1/health/ready").status == 200
    coopaname.stop()
    cluster["oxalis"].stop()

    def red() -> bool | None:
        answer = smart.api("GET", "/api/v1/health/ready")
        return True if answer.status == 503 and "peers" in answer.json()["problems"][0] else None

    eventually(red, what="smart's readiness to go red with every peer down")
    assert smart.api("GET", "/api/v1/health/live").status == 200
    coopaname.start()
    coopaname.wait_healthy()
    eventually(lambda: smart.api("GET", "/api/v1/health/ready").status == 200 or None, what="readiness green again")
