"""Property test of the search index's bookkeeping on SQLite: any sequence of index, re-index and un-index of
records, over several transactions (some rolled back), leaves the FTS5 table consistent with the documents
(FTS5's own integrity check), and searches and facet counts equal those of a plain model of what was indexed.

The full-text index is kept by hand (texts inserted under ids the node gives, deletions by trigger, unchanged
texts updated in place), so this is where a missed path would show.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from node.search import index as search
from node.search import query as search_query
from node.search.documents import rows
from node.search.query import Filters, Scope
from node.storage.database import alembic_config

WORDS = ("menuisier", "graphiste", "chene", "escalier", "affiche", "atelier")
RECORDS = ("r0", "r1", "r2", "r3")
DEPARTEMENTS = ("75", "93", "94")
TRADES = ("H2206", "E1205", "K2111")

record = st.fixed_dictionaries(
    {
        "id": st.sampled_from(RECORDS),
        "words": st.lists(st.sampled_from(WORDS), min_size=1, max_size=3, unique=True),
        "public": st.booleans(),  # whether the record also has a public document (the first word only)
        "departement": st.sampled_from(DEPARTEMENTS),
        "trades": st.lists(st.sampled_from(TRADES), max_size=2, unique=True),
    }
)
operation = st.one_of(st.tuples(st.just("index"), record), st.tuples(st.just("unindex"), st.sampled_from(RECORDS)))
transactions = st.lists(
    st.tuples(st.lists(operation, min_size=1, max_size=5), st.booleans()),  # (operations, commit?)
    min_size=1,
    max_size=6,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("search-template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    engine.dispose()
    yield path


def _apply(conn: Any, op: tuple[str, Any]) -> None:
    kind, arg = op
    if kind == "unindex":
        search.unindex_record_sync(conn, "smart", arg)
        return
    body = {
        "place": {"departement": arg["departement"], "town": "x"},
        "trades": [{"rome": t} for t in arg["trades"]],
    }
    texts = {"network": " ".join(arg["words"])}
    bodies: dict[str, Any] = {"network": body}
    if arg["public"]:
        texts["public"] = arg["words"][0]
        bodies["public"] = {"trades": body["trades"]}
    search.replace_documents(conn, "smart", arg["id"], rows("profile", "smart", arg["id"], texts, bodies, ts=1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(transactions)
def test_index_stays_consistent_with_a_plain_model(template: Path, tmp_path: Path, plan: list[Any]) -> None:
    path = tmp_path / "node.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, path)
    engine = create_engine(f"sqlite:///{path}")
    model: dict[str, dict[str, Any]] = {}  # record id -> what its network document holds
    try:
        for operations, commit in plan:
            staged = dict(model)
            with engine.connect() as conn:
                conn.begin()
                for op in operations:
                    _apply(conn, op)
                    if op[0] == "unindex":
                        staged.pop(op[1], None)
                    else:
                        staged[op[1]["id"]] = op[1]
                if commit:
                    conn.commit()
                    model = staged
                else:
                    conn.rollback()
        with engine.connect() as conn:
            conn.exec_driver_sql("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)")
            member = Scope("coopaname", anonymous=False)
            for word in WORDS:
                found = search_query.find(conn, [word], member, Filters(), limit=50)
                expected = {rid for rid, r in model.items() if word in r["words"]}
                assert {h.record_id for h in found.hits} == expected, word
                assert found.total == len(expected)
                counts = dict(found.facets["departement"])
                for dep in DEPARTEMENTS:
                    n = sum(1 for rid in expected if model[rid]["departement"] == dep)
                    assert counts.get(dep, 0) == n, (word, dep)
                trades = dict(found.facets["trade"])
                for trade in TRADES:
                    n = sum(1 for rid in expected if trade in model[rid]["trades"])
                    assert trades.get(trade, 0) == n, (word, trade)
                public = search_query.find(conn, [word], Scope("coopaname", anonymous=True), Filters(), limit=50)
                expected_public = {rid for rid, r in model.items() if r["public"] and r["words"][0] == word}
                assert {h.record_id for h in public.hits} == expected_public, word
    finally:
        engine.dispose()
