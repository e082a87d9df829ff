"""A fork repair in the node's tables (``node.storage.branches``): the same tables as if the dropped branch had
never been received, and nothing changed when it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import protocol
from node.compose import Node, open_node
from node.config import NodeConfig, create_node_dir
from node.errors import Conflict
from node.records import replica
from node.records.branches import replace_branch_sync

from .test_replica import KEY, _clear, _run, _tables


def _continue(after: protocol.Record, cases: list[tuple[str, str, dict[str, Any]]]) -> list[protocol.Record]:
    """Entries of ``smart`` that continue ``after``."""
    records, prev, seq = [], after.entry.hash, after.seq
    for type_, rid, body in cases:
        seq += 1
        entry = protocol.sign_entry(
            KEY,
            type=type_,
            type_version=protocol.RECORD_TYPES[type_].version,
            origin="smart",
            id=rid,
            seq=seq,
            created=1,
            ts=100 + seq,
            prev=prev,
            body=body,
        )
        prev = entry.hash
        records.append(protocol.Record(entry, protocol.check_body(entry)))
    return records


PREFIX = _run()[:5]  # the node document, p1 (twice), o1, p2
THIEF = _continue(
    PREFIX[-1],
    [
        ("profile", "p2", {"display_name": "Karim (faux)", "bio": "Escroquerie", "public": ["bio"]}),
        ("profile", "fake", {"display_name": "Faux profil", "skills": ["arnaque"]}),
        ("offer", "o9", {"purpose": "offer", "title": "Fausse offre", "status": "open"}),
    ],
)
ORIGIN = _continue(
    PREFIX[-1],
    [
        ("offer", "o1", {"purpose": "offer", "title": "Atelier bois, suite", "status": "closed"}),
        ("profile", "p3", {"display_name": "Awa", "languages": ["fr"]}),
    ],
)


async def _store(services: Node, records: list[protocol.Record]) -> None:
    async with services.db.write() as session:
        await replica.store_run(session, records, 1, services.search_documents)


async def test_a_replaced_branch_leaves_the_tables_of_the_origin_s_branch_alone(
    services: Node, node_config: NodeConfig, tmp_path: Path
) -> None:
    # the reference: a node that only ever received the common prefix and the origin's branch
    await _store(services, [*PREFIX, *ORIGIN])
    expected = await _tables(services)
    other = create_node_dir(
        tmp_path / "other",
        name="coopaname",
        url="http://127.0.0.1:8401",
        database_url=None if node_config.database.startswith("sqlite") else node_config.database,
    )
    repaired = await open_node(other)
    try:
        await _clear(repaired)
        await _store(repaired, [*PREFIX, *THIEF])
        assert ("fake", "profile") in {(s[0], s[1]) for s in (await _tables(repaired))["states"]}
        dropped = await repaired.db.run_write(
            lambda session: replace_branch_sync(session.connection(), "smart", 6, ORIGIN, 2, repaired.search_documents)
        )
        assert dropped == len(THIEF)
        assert await _tables(repaired) == expected
        # a failure leaves everything as it was: the branch to store collides with a kept entry
        before = await _tables(repaired)
        with pytest.raises(Conflict):
            await repaired.db.run_write(
                lambda session: replace_branch_sync(
                    session.connection(), "smart", 7, [PREFIX[-1], *ORIGIN], 3, repaired.search_documents
                )
            )
        assert await _tables(repaired) == before
    finally:
        await repaired.close()
    assert not any(d[1] == "fake" for d in expected["documents"])
