"""A member's export holds everything the node keeps about them, messages, moves and path included; the erasure
counts every record it withdrew from the network, the profile included (issue 12, points 7 and 8)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from federation.ports import Peer, PeerKey
from node.compose import Node, NodeOptions, open_node
from node.config import create_node_dir
from node.federation_adapter.store import NodeFederationStore
from node.storage.models import LogEntry

from .conftest import PASSWORD, Api

PROFILE = {
    "fields": {"display_name": "Inès Vidal", "bio": "Tapissière d'ameublement", "phone": "06 00 00 00 00"},
    "visibility": {"display_name": "public", "bio": "network", "phone": "private"},
}


@pytest.fixture
async def smart(tmp_path: Path, options: NodeOptions) -> AsyncIterator[Node]:
    config = create_node_dir(tmp_path / "smart", name="smart", url="http://127.0.0.1:8411", display_name="SMart")
    node = await open_node(config, options)
    try:
        yield node
    finally:
        await node.close()


async def test_export_holds_messages_moves_and_path(api: Api, smart: Node) -> None:
    a = api.services
    await NodeFederationStore(a.db, a.config.name, a.clock, a.search_documents).save_peer(
        Peer(name="smart", url=smart.config.url, display_name="SMart", keys=[PeerKey(smart.key.public_bytes)])
    )
    ines = await api.user("ines@example.org", display_name="Inès")
    karim = await api.user("karim@example.org", display_name="Karim")
    await api.user("conseil@example.org", role="advisor")
    await api.call("PUT", "/api/v1/me/profile", "ines@example.org", PROFILE, expect=200)
    await api.call(
        "POST", "/api/v1/messages", "ines@example.org", {"to_member": karim, "text": "Bonjour Karim"}, expect=202
    )
    await api.call(
        "POST", "/api/v1/messages", "karim@example.org", {"to_member": ines, "text": "Bonjour Inès"}, expect=202
    )
    await api.call(
        "POST",
        f"/api/v1/members/{ines}/path",
        "conseil@example.org",
        {"status": "cape", "since": "2025-01-06", "note": "contrat signé"},
        expect=201,
    )
    move = await api.call("POST", "/api/v1/me/move", "ines@example.org", {"to_node": "smart"}, expect=202)

    export = await api.call("GET", "/api/v1/me/export", "ines@example.org", expect=200)
    assert [m["text"] for m in export["messages_sent"]] == ["Bonjour Karim"]
    assert export["messages_sent"][0]["to"] == f"{a.config.name}/{karim}"
    assert [m["text"] for m in export["messages_received"]] == ["Bonjour Inès"]
    assert export["messages_received"][0]["from"] == f"{a.config.name}/{karim}"
    assert [(m["id"], m["to_node"], m["status"]) for m in export["moves"]] == [
        (f"{a.config.name}/{move['id']}", "smart", "requested")
    ]
    assert [(p["status"], p["since"], p["note"]) for p in export["path"]] == [("cape", "2025-01-06", "contrat signé")]
    # Karim's export has his side of the same conversation, and nothing of Inès's move or path
    other = await api.call("GET", "/api/v1/me/export", "karim@example.org", expect=200)
    assert [m["text"] for m in other["messages_sent"]] == ["Bonjour Inès"]
    assert [m["text"] for m in other["messages_received"]] == ["Bonjour Karim"]
    assert other["moves"] == [] and other["path"] == []


async def test_erasure_counts_every_withdrawn_record(api: Api) -> None:
    a = api.services
    await api.user("ines@example.org")
    await api.user("karim@example.org")
    who = "ines@example.org"
    await api.call("PUT", "/api/v1/me/profile", who, PROFILE, expect=200)
    await api.call("POST", "/api/v1/offers", who, {"purpose": "offer", "title": "Réfection de fauteuils"}, expect=201)
    help_request = await api.call("POST", "/api/v1/help-requests", who, {"topic": "Tissus ignifugés"}, expect=201)
    await api.call(  # an answer by someone else to her request: withdrawn with the request
        "POST", f"/api/v1/help-requests/{help_request['id']}/answers", "karim@example.org", {"text": "M1"}, expect=201
    )

    async def tombstones() -> int:
        async with a.db.read() as session:
            return int(await session.scalar(select(func.count()).where(LogEntry.type == "tombstone")) or 0)

    before = await tombstones()
    erased = await api.call("POST", "/api/v1/me/erase", who, {"password": PASSWORD}, expect=200)
    written = await tombstones() - before
    assert written == 4  # profile, offer, help request, the answer to it
    assert erased["withdrawn_records"] == written


async def test_erasure_of_a_member_who_shared_nothing_withdraws_nothing(api: Api) -> None:
    await api.user("ines@example.org")
    private = {"fields": {"display_name": "Inès"}, "visibility": {"display_name": "coop"}}
    await api.call("PUT", "/api/v1/me/profile", "ines@example.org", private, expect=200)
    erased = await api.call("POST", "/api/v1/me/erase", "ines@example.org", {"password": PASSWORD}, expect=200)
    assert erased["withdrawn_records"] == 0
