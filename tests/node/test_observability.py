"""Metrics access and readiness, in process (tests/e2e/test_observability.py watches real nodes sync)."""

from __future__ import annotations

import dataclasses
from typing import Any

from node.app import create_app
from node.compose import NodeOptions
from node.config import NodeConfig
from node.storage.federation_models import PeerRow

from .conftest import Api


async def test_metrics_are_for_this_machine_or_the_token(
    aiohttp_client: Any, node_config: NodeConfig, options: NodeOptions
) -> None:
    config = dataclasses.replace(node_config, metrics_from=(), metrics_token="s3cret-scraper-token")
    client = await aiohttp_client(create_app(config, options=options))
    assert (await client.get("/metrics")).status == 403  # the test client comes from 127.0.0.1, not allowed here
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 403
    resp = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scraper-token"})
    text = await resp.text()
    assert resp.status == 200 and 'bigre_node_info{name="coopaname"} 1.0' in text
    assert 'route="/metrics",status="403"' in text


async def test_readiness_follows_the_peers(api: Api) -> None:
    node = api.services
    assert (await api.call("GET", "/api/v1/health/ready", expect=200))["ready"] is True  # no peers yet
    async with node.db.write() as session:
        session.add(PeerRow(name="smart", url="http://127.0.0.1:9", keys=[], last_error="down", last_error_at=5))
        session.add(PeerRow(name="oxalis", url="http://127.0.0.1:8", keys=[], last_success_at=1, last_error_at=7))
    body = await api.call("GET", "/api/v1/health/ready", expect=503)
    assert body["ready"] is False and "none of the 2 peers" in body["problems"][0]
    async with node.db.write() as session:
        peer = await session.get(PeerRow, "oxalis")
        assert peer is not None
        peer.last_success_at = 9
    assert (await api.call("GET", "/api/v1/health/ready", expect=200))["problems"] == []
    assert (await api.call("GET", "/api/v1/health/live", expect=200))["live"] is True
