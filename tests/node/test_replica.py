"""The bulk store of verified runs (``node.records.replica``): the same tables however a history is cut into runs
(one record per run included), with the rules of the record log (newest seq wins, tombstones erase, erased
bodies stay erased) and the search documents of the newest bodies."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, text

import protocol
from node.compose import Node, open_node
from node.config import NodeConfig, create_node_dir
from node.demo.seed import generate_members, generate_offers
from node.records import replica
from node.search.documents import received_texts
from node.search.text import flatten
from node.storage.models import LogEntry, LogHead, RecordState, SearchDocument

KEY = protocol.SigningKey.from_seed(bytes(range(32)))


def _run() -> list[protocol.Record]:
    """A history of ``smart`` with creations, updates (within a page and across pages), a tombstone, an
    erased body, a body holding bytes (the node document), and a record written again after its tombstone
    (the newest seq wins: it lives again, with its body, in both stores)."""
    cases: list[tuple[str, str, dict[str, Any] | None]] = [
        (
            "node",
            "node",
            {
                "name": "smart",
                "display_name": "SMart",
                "url": "http://127.0.0.1:1",
                "protocol_versions": [1],
                "keys": [{"kid": KEY.kid, "public_key": KEY.public_bytes, "not_before": 0}],
                "status": "member",
            },
        ),
        ("profile", "p1", {"display_name": "Zoé Martin", "bio": "Ébéniste à Montreuil", "public": ["display_name"]}),
        ("offer", "o1", {"purpose": "offer", "title": "Atelier bois œuvre", "status": "open"}),
        ("profile", "p2", {"display_name": "Karim", "skills": ["soudure", "CNC"], "day_rate_eur": 350}),
        ("profile", "p1", {"display_name": "Zoé Martin", "bio": "Menuisière", "public": ["display_name", "bio"]}),
        ("tombstone", "o1", {"target_type": "offer", "reason": "deleted"}),
        ("profile", "p3", None),  # erased before we received it
        ("profile", "p2", {"display_name": "Karim B.", "public": ["public", "display_name"]}),
        ("offer", "o2", {"purpose": "request", "title": "Cherche graphiste", "status": "open", "remote": True}),
        ("profile", "p1", {"display_name": "Zoé M.", "languages": ["fr", "en"]}),
        ("offer", "o1", {"purpose": "offer", "title": "Atelier bois, à nouveau", "status": "open"}),
    ]
    records = []
    prev = None
    for seq, (type_, rid, body) in enumerate(cases, 1):
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
            body=body or {"display_name": "erased"},
        )
        prev = entry.hash
        if body is None:
            entry = entry.erased()
        records.append(protocol.Record(entry, protocol.check_body(entry)))
    return records


async def _tables(services: Node) -> dict[str, Any]:
    async with services.db.read() as session:
        entries = (await session.execute(select(LogEntry.seq, LogEntry.body).where(LogEntry.origin == "smart"))).all()
        states = (
            await session.execute(
                select(RecordState.record_id, RecordState.type, RecordState.seq, RecordState.deleted, RecordState.body)
                .where(RecordState.origin == "smart")
                .order_by(RecordState.record_id)
            )
        ).all()
        # the text: on SQLite in the FTS5 table (the row's content is empty), on PostgreSQL in the row
        content = "f.content" if services.db.is_sqlite else "d.content"
        join = "JOIN search_fts f ON f.rowid = d.id " if services.db.is_sqlite else ""
        documents = (
            await session.execute(
                text(
                    f"SELECT d.kind, d.record_id, d.audience, {content}, d.departement, d.town, t.key "
                    f"FROM search_documents d {join}LEFT JOIN search_tagsets t ON t.id = d.tagset "
                    "WHERE d.origin = 'smart' ORDER BY d.record_id, d.audience"
                )
            )
        ).all()
        head = (await session.execute(select(LogHead.seq, LogHead.hash).where(LogHead.origin == "smart"))).one()
    return {
        "entries": sorted((seq, body is None) for seq, body in entries),
        "states": [tuple(s) for s in states],
        "documents": [tuple(d) for d in documents],
        "head": tuple(head),
    }


async def _clear(services: Node) -> None:
    """Drop what any earlier store wrote for ``smart`` (with PostgreSQL both nodes share one database)."""
    async with services.db.write() as session:
        for model in (SearchDocument, RecordState, LogEntry, LogHead):
            await session.execute(delete(model).where(model.origin == "smart"))


async def test_bulk_store_is_the_same_however_the_history_is_cut(
    services: Node, node_config: NodeConfig, tmp_path: Path
) -> None:
    records = _run()
    # the reference: one record per run
    for r in records:
        async with services.db.write() as session:
            await replica.store_run(session, [r], 1, services.search_documents)
    expected = await _tables(services)

    # in bulk, cut in several ways, with the derived rows of some records prepared ahead
    other = create_node_dir(
        tmp_path / "bulk",
        name="coopaname",
        url="http://127.0.0.1:8401",
        database_url=None if node_config.database.startswith("sqlite") else node_config.database,
    )
    bulk = await open_node(other)
    try:
        ahead = {replica.derive_key(r): replica.derive(r, bulk.search_documents) for r in records[3:8]}
        for cuts in ((0, 11), (0, 4, 11), (0, 2, 5, 6, 9, 11), (0, 6, 11)):
            await _clear(bulk)
            for start, end in itertools.pairwise(cuts):
                async with bulk.db.write() as session:
                    await replica.store_run(session, records[start:end], 1, bulk.search_documents, ahead)
            assert await _tables(bulk) == expected, cuts
    finally:
        await bulk.db.close()
    assert expected["head"] == (11, records[-1].entry.hash)
    assert expected["entries"][0] == (1, False)  # the node document keeps its body (it holds bytes)
    assert expected["entries"][2] == (3, True)  # the deleted offer's earlier body is gone
    assert expected["entries"][6] == (7, True)  # erased before it was received
    states = {state[0]: state[1:4] for state in expected["states"]}
    assert states == {
        "node": ("node", 1, False),
        "o1": ("offer", 11, False),  # written again after its tombstone: it lives again
        "o2": ("offer", 9, False),
        "p1": ("profile", 10, False),
        "p2": ("profile", 8, False),
        "p3": ("profile", 7, False),
    }
    assert next(state for state in expected["states"] if state[0] == "p3")[4] is None  # no body to keep
    # one document per audience that has words (a profile without a public list has no public document), from
    # the newest body only (no "menuisiere"), its words in the body's canonical key order
    assert [d[1:4] for d in expected["documents"]] == [
        ("o1", "network", "offer open atelier bois a nouveau"),
        ("o2", "network", "request open cherche graphiste"),
        ("p1", "network", "zoe m fr en"),
        ("p2", "network", "karim b"),
        ("p2", "public", "karim b public display name"),
    ]
    assert next(d for d in expected["documents"] if d[1] == "p1")[6] == "language:en language:fr"


def test_received_texts_are_the_reference_walk() -> None:
    """The fast walk of received bodies (:func:`node.search.text.words`) reads the words :func:`flatten` reads."""
    rng = random.Random(7)
    members = [m for m in generate_members("smart", 60, rng) if m["role"] == "member"]
    bodies: list[tuple[str, dict[str, Any]]] = [("offer", o) for o in generate_offers(members, rng, 40)]
    for m in members:
        body: dict[str, Any] = {
            "display_name": m["display_name"],
            "bio": m["bio"],
            "skills": m["skills"].split(";"),
            "place": {"town": m["town"], "postcode": m["postcode"], "lat_e6": 48_800_000},
            "availability": {"status": "partly", "days_per_week": int(m["days_per_week"])},
            "links": [],
        }
        body["public"] = rng.sample([*body, "public", "missing"], rng.randrange(0, 4))
        bodies.append(("profile", body))
    bodies.append(("profile", {"display_name": "Ünï Çödé ǅ ﬁ", "remote": True, "x": None, "b": b"\x00", "f": 1.5}))
    bodies.append(("offer", {"title": "tuple", "skills": ("a", "b"), "n": -3}))
    for record_type, body in bodies:
        assert received_texts(record_type, body) == _reference_texts(record_type, body)


def _reference_texts(record_type: str, body: dict[str, Any]) -> dict[str, str]:
    if record_type == "profile":
        public_fields = set(body.get("public") or ())
        everything = " ".join(flatten({k: v for k, v in body.items() if k != "public"}))
        public = " ".join(flatten({k: v for k, v in body.items() if k in public_fields}))
        return {"network": everything, "public": public}
    return {"network": " ".join(flatten(dict(body)))}
