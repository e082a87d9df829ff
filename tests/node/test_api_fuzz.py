"""The JSON API under an OpenAPI-driven fuzzer (schemathesis): for every operation, data that fits the document
and data that does not, as a signed-in member and anonymously, against a running node (real HTTP on 127.0.0.1)
that checks its own answers (``check_responses``). No 5xx, no status the document does not declare, every
answer fits its declared schema, and data the document calls invalid is refused.

A second run fixes the path parameters to records that exist (an offer, an event, a mentoring offer, a help
request and its answer, the member), so bodies reach the services' checks and writes, not only the 404.

Bounded: a few examples per operation and mode (``FUZZ_EXAMPLES``, 6; ``BIGRE_FUZZ_EXAMPLES=30`` for a deeper
run, about 6 minutes), so the whole file takes one to two minutes on a busy two-core machine; marked ``slow``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from node.app import create_app
from node.compose import Node, NodeOptions
from node.config import create_node_dir
from node.http.state import NODE_KEY
from node.services.accounts import ThrottlePolicy
from node.services.things import KINDS
from node.viewer import Viewer
from tests.node.conftest import FAST_HASHER, PASSWORD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),  # schemathesis' own
]
FUZZ_EXAMPLES = int(os.environ.get("BIGRE_FUZZ_EXAMPLES", "6"))  # 30 for a deeper run (about 6 minutes)
OFFER = {"purpose": "offer", "title": "Menuiserie", "trades": ["H2206"], "place": "Montreuil", "visibility": "public"}
EVENT = {"kind": "workshop", "title": "Atelier compta", "start": 1_760_000_000_000, "seats": 2, "visibility": "public"}
MENTORING = {"kind": "offer", "topics": ["compta"], "note": "Le jeudi"}
HELP = {"topic": "Statuts de Scop", "text": "Qui a un modèle ?"}


@dataclass
class LiveNode:
    url: str
    token: str
    document: dict[str, Any]
    ids: dict[str, Any]  # values of path parameters that name records which exist

    def document_operations(self) -> list[tuple[str, str]]:
        return [(method, path) for path, ops in self.document["paths"].items() for method in ops]


def _serve(tmp: Path, started: threading.Event, box: dict[str, Any]) -> None:
    """The node in its own thread and event loop (the fuzzer's requests are synchronous)."""
    config = create_node_dir(tmp / "node", name="coopaname", url="http://127.0.0.1:8400", display_name="Coopaname")
    options = NodeOptions(hasher=FAST_HASHER, throttle=ThrottlePolicy())

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        box["stop"] = lambda: loop.call_soon_threadsafe(stop.set)
        app = create_app(config, options=options, check_responses=True)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            node: Node = app[NODE_KEY]
            await node.accounts.add_user(email="membre@example.org", password=PASSWORD, display_name="Membre")
            login = await node.accounts.login("membre@example.org", PASSWORD, "127.0.0.1")
            viewer = Viewer(account_id=login.account.id, role="member", member_id=login.member_id)
            made = {
                kind: (await node.things.create(KINDS[kind], viewer, body))["id"]
                for kind, body in (
                    ("offers", OFFER),
                    ("events", EVENT),
                    ("mentoring", MENTORING),
                    ("help-requests", HELP),
                )
            }
            answer = await node.things.answer(viewer, made["help-requests"], {"text": "Voici"})
            saved = await node.saved_searches.save(viewer, {"q": "menuiserie"})
            host, port = runner.addresses[0][:2]
            box.update(url=f"http://{host}:{port}", token=login.token)
            box["ids"] = {
                "id": made,  # by the path's first segment
                "answer_id": answer["id"],
                "member_id": login.member_id,
                "offer_id": made["offers"],
                "origin": "coopaname",
                "search_id": saved["id"],
            }
            started.set()
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except BaseException as exc:  # the test reports it rather than hanging on ``started``
        box["error"] = exc
        started.set()


@pytest.fixture(scope="module")
def live_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    started, box = threading.Event(), dict[str, Any]()
    thread = threading.Thread(target=_serve, args=(tmp_path_factory.mktemp("fuzz"), started, box))
    thread.start()
    try:
        assert started.wait(60), "the node did not start within 60 s"
        if "error" in box:
            raise box["error"]
        import requests

        document = requests.get(box["url"] + "/api/v1/openapi.json", timeout=30).json()
        yield LiveNode(box["url"], box["token"], document, box["ids"])
    finally:
        if "stop" in box:
            box["stop"]()
        thread.join(60)
        assert not thread.is_alive(), "the node did not stop"


BOUNDED = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
# A body can fit the document and still be refused (422): the node checks ROME codes and towns against its
# reference data, and a cursor against those it issued, which no schema can list. Every other check runs:
# no server error, only documented statuses and content types, answers fitting their schemas, invalid data
# refused.
NOT_CHECKED: list[Any] = [positive_data_acceptance]
SKIPPED = frozenset({"logout"})  # it would end the member's session for the rest of the run


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", ["member", "anonymous"])
def test_the_api_keeps_to_its_document(live_node: LiveNode, who: str, mode: GenerationMode) -> None:
    headers = {"Authorization": f"Bearer {live_node.token}"} if who == "member" else {}
    schema = schemathesis.openapi.from_dict(live_node.document)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        raw = operation.definition.raw
        operations += 1
        if raw.get("operationId") in SKIPPED:
            continue
        if mode is GenerationMode.NEGATIVE and not raw.get("parameters") and "requestBody" not in raw:
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @BOUNDED
        def fuzz(case: Any) -> None:
            case.call_and_validate(base_url=live_node.url, headers=headers, excluded_checks=NOT_CHECKED)

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, not only the first one's
            failures.append(f"{operation.label}: {exc}")
    assert operations == len(live_node.document_operations())
    assert not failures, "\n\n".join(failures)


def _existing(ids: dict[str, Any], path: str, names: list[str]) -> dict[str, Any] | None:
    """Path parameters naming records that exist, or None when the path names something not seeded."""
    values: dict[str, Any] = {}
    for name in names:
        value = ids.get(name)
        if isinstance(value, dict):  # {id}: the record of the path's kind
            value = value.get(path.removeprefix("/api/v1/").split("/")[0])
        if value is None:
            return None
        values[name] = value
    return values


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_to_its_document_on_records_that_exist(live_node: LiveNode, mode: GenerationMode) -> None:
    """The same, with the path naming records that exist (so bodies reach the services' checks and writes);
    deletions are left out, so every operation finds its record."""
    headers = {"Authorization": f"Bearer {live_node.token}"}
    schema = schemathesis.openapi.from_dict(live_node.document)
    failures: list[str] = []
    seeded = 0
    answered: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        names = [p["name"] for p in operation.definition.raw.get("parameters", ()) if p["in"] == "path"]
        values = _existing(live_node.ids, operation.path, names) if names else None
        if values is None or operation.method.upper() == "DELETE":
            continue
        seeded += 1
        others = [p for p in operation.definition.raw.get("parameters", ()) if p["in"] != "path"]
        if mode is GenerationMode.NEGATIVE and not others and "requestBody" not in operation.definition.raw:
            continue  # the path is fixed: nothing left to make invalid

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=values))
        @BOUNDED
        def fuzz(case: Any) -> None:
            response = case.call_and_validate(base_url=live_node.url, headers=headers, excluded_checks=NOT_CHECKED)
            answered[response.status_code // 100] += 1

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    assert seeded >= 15
    assert answered[2] > 0 if mode is GenerationMode.POSITIVE else answered[4] > 0, answered  # records were reached
    assert not failures, "\n\n".join(failures)
