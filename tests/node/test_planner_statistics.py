"""PostgreSQL's planner statistics kept fresh by the node (``node.storage.statistics``), and the lookup of a run's
current record states planned as key lookups whatever the statistics (``replica._current_seqs``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from node.compose import Node
from node.records import replica
from node.storage.statistics import PlannerStatistics
from tests.node.test_replica import _run


async def _reltuples(services: Node, table: str) -> float:
    async with services.db.read() as session:
        return float(await session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}))


async def test_replicated_runs_analyse_the_tables_once_they_have_grown(services: Node) -> None:
    store = services.federation_store
    store.statistics = statistics = PlannerStatistics(services.db, min_rows=8)
    records = _run()  # 11 entries of smart, 6 records
    await store.store_run(records[:5], 1)
    assert statistics.runs == 0  # 5 rows: not yet
    await store.store_run(records[5:], 1)
    if services.db.is_sqlite:
        assert statistics.runs == 0  # SQLite gathers no statistics here
        return
    assert statistics.runs == 1
    # ANALYZE ran: the catalogue knows the sizes (a table never analysed says -1)
    assert await _reltuples(services, "records") == 6
    assert await _reltuples(services, "entries") >= 11
    await store.store_run([], 1)
    assert statistics.runs == 1  # nothing new since


async def test_current_states_are_looked_up_by_key_without_statistics(services: Node) -> None:
    if services.db.is_sqlite:
        return  # the PostgreSQL statement only
    rows = [
        {"origin": "smart", "record_id": f"p{i:05d}", "type": "profile", "seq": i, "deleted": False, "ts": i}
        for i in range(1, 3001)
    ]
    async with services.db.write() as session:
        await session.execute(
            text(
                "INSERT INTO records (origin, record_id, type, seq, deleted, body, ts) "
                "VALUES (:origin, :record_id, :type, :seq, :deleted, NULL, :ts)"
            ),
            rows,
        )
    wanted = [f"p{i:05d}" for i in range(1000, 1400)] + ["absent"]

    async def plan_and_result() -> tuple[Any, dict[str, tuple[int, bool]]]:
        async with services.db.read() as session:
            conn = await session.connection()
            compiled = replica._CURRENT_SEQS_PG
            plan = await session.scalar(
                text(f"EXPLAIN (FORMAT JSON) {compiled.text}"), {"origin": "smart", "ids": wanted}
            )
            found = await conn.run_sync(lambda sync: replica._current_seqs(sync, "smart", wanted))
        return plan, found

    for stage in ("without statistics", "after ANALYZE"):
        plan, found = await plan_and_result()
        assert found == {f"p{i:05d}": (i, False) for i in range(1000, 1400)}, stage
        nodes = json.dumps(plan)
        # every row of records is reached through its primary key, never by a scan of the origin's rows
        assert '"Index Scan"' in nodes or '"Index Only Scan"' in nodes, (stage, nodes)
        assert "Seq Scan" not in nodes, (stage, nodes)
        assert "Bitmap Heap Scan" not in nodes and "Hash Join" not in nodes, (stage, nodes)
        assert "record_id" in json.dumps([n for n in _walk(plan) if n.get("Relation Name") == "records"]), stage
        async with services.db.write() as session:
            await session.execute(text("ANALYZE records"))


def _walk(plan: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stack = list(plan) if isinstance(plan, list) else [plan]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            out.append(node)
            stack.extend(node.get("Plan", {}) and [node["Plan"]])
            stack.extend(node.get("Plans", []))
    return out
