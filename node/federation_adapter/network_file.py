"""The network file (``network.json``: the network's nodes with their URL and public key, and its charter): what
``bigre peers load``, ``bigre init --bundle`` and the demo use to make every node of the network a direct peer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from federation.ports import Peer, PeerKey
from node.federation_adapter.store import NodeFederationStore
from node.services.governance import save_charter


async def load_network(store: NodeFederationStore, directory: Path, network: dict[str, Any]) -> int:
    """Save the charter (if the file has one) and every other node of ``network`` as a direct peer; how many."""
    if isinstance(network.get("charter"), dict):
        save_charter(directory, network["charter"])
    count = 0
    for item in network["nodes"]:
        if item["name"] == store.name:
            continue
        await store.save_peer(
            Peer(
                name=item["name"],
                url=str(item["url"]).rstrip("/"),
                display_name=item.get("display_name", item["name"]),
                keys=[PeerKey(bytes.fromhex(item["public_key"]))],
            )
        )
        count += 1
    return count
