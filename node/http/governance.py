"""The node's part in network governance: publishing proposals and votes, the decision log API, the charter.

Proposals and votes are ordinary signed records of this node's log (so they replicate and verify like any
other); after publishing one, the node hands it to :class:`federation.governance.Governance`, which counts and
applies decisions. Only operators propose and vote (for their coop); every member may read the decision log.
The charter the network started with comes from the network file (``charter.json`` in the node folder).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from federation.governance import DAY_MS, DEFAULT_CHARTER
from federation.service import FederationService
from node.errors import Forbidden, InvalidInput, NotFound
from node.http.api import json_response, member, read_json
from node.http.state import SERVICES_KEY, NodeServices
from node.records.publisher import new_record_id
from node.viewer import Viewer
from protocol import RECORD_TYPES, Record

log = logging.getLogger(__name__)

CHARTER_FILE = "charter.json"
KINDS = ("admission", "suspension", "expulsion", "reinstatement", "leave", "charter", "key_recovery")


def load_charter(directory: Path) -> dict[str, Any]:
    path = directory / CHARTER_FILE
    if not path.exists():
        return dict(DEFAULT_CHARTER)
    charter: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    RECORD_TYPES["proposal"].validate(
        {"kind": "charter", "subject": "x", "deadline": 0, "charter": charter}
    )  # refuse a bad file at start, not at the first vote
    return charter


def save_charter(directory: Path, charter: dict[str, Any]) -> None:
    (directory / CHARTER_FILE).write_text(json.dumps(charter, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


class NodeProposer:
    """Publishes this node's proposals and votes (the federation's ProposerPort, and the API's path)."""

    def __init__(self, services: NodeServices, federation: FederationService) -> None:
        self.s = services
        self.federation = federation

    async def publish(self, record_type: str, body: dict[str, Any]) -> str:
        record_id = new_record_id()
        async with self.s.db.write() as session:
            entry = await self.s.publisher.publish(
                session, type=record_type, record_id=record_id, body=body, created=self.s.clock()
            )
        await self.federation.governance.on_record(Record(entry, dict(entry.body_value() or {})))
        self.federation.notify()
        return f"{self.s.config.name}/{record_id}"

    async def propose(self, kind: str, subject: str, **details: Any) -> str:
        if kind not in KINDS:
            raise InvalidInput.field("kind", f"must be one of {', '.join(KINDS)}")
        days = self.federation.governance.charter.get("voting_days", 14)
        body: dict[str, Any] = {
            "kind": kind,
            "subject": subject,
            "deadline": self.s.clock() + int(details.pop("days", days)) * DAY_MS,
        }
        body.update({k: v for k, v in details.items() if v not in (None, "", {})})
        try:
            RECORD_TYPES["proposal"].validate(body)
        except Exception as exc:
            raise InvalidInput(str(exc)) from exc
        ref = await self.publish("proposal", body)
        log.info("proposed %s of %s: %s", kind, subject, ref)
        return ref

    async def propose_admission(self, candidate: dict[str, object]) -> str:
        subject = str(candidate["subject"])
        return await self.propose("admission", subject, candidate=candidate["candidate"])

    async def vote(self, proposal: str, decision: str, reason: str | None = None) -> str:
        case = self.federation.governance.cases.get(proposal)
        if case is None:
            raise NotFound(f"no proposal {proposal}")
        if case.result != "pending":
            raise InvalidInput.field("proposal", f"the proposal is already {case.result}")
        body = {"proposal": proposal, "decision": decision}
        if reason:
            body["reason"] = reason[:1000]
        try:
            RECORD_TYPES["admission_vote"].validate(body)
        except Exception as exc:
            raise InvalidInput(str(exc)) from exc
        return await self.publish("admission_vote", body)


# ----------------------------------------------------------------------------------------------------- API

PROPOSER_KEY = web.AppKey("bigre_proposer", NodeProposer)


def operator(request: web.Request) -> Viewer:
    v = member(request)
    if not v.is_operator:
        raise Forbidden("only operators act for their coop in network decisions")
    return v


async def decisions(request: web.Request) -> web.Response:
    """The network's decision log: every proposal, its votes and its result (members)."""
    member(request)
    from node.federation_adapter.wiring import FEDERATION_KEY

    governance = request.app[FEDERATION_KEY].governance
    return json_response({"charter": governance.charter, "decisions": governance.decision_log()})


async def create_proposal(request: web.Request) -> web.Response:
    """Put a decision to the member nodes' vote (operators)."""
    operator(request)
    data = await read_json(request)
    if not isinstance(data, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    details: dict[str, Any] = {"text": data.get("text")}
    if data.get("kind") == "charter":
        details["charter"] = data.get("charter")
    if data.get("kind") == "key_recovery" and isinstance(data.get("new_key"), str):
        try:
            details["new_key"] = bytes.fromhex(data["new_key"])
        except ValueError as exc:
            raise InvalidInput.field("new_key", "must be hexadecimal") from exc
    if isinstance(data.get("days"), int):
        details["days"] = data["days"]
    ref = await request.app[PROPOSER_KEY].propose(str(data.get("kind")), str(data.get("subject")), **details)
    return json_response({"proposal": ref}, status=201)


async def cast_vote(request: web.Request) -> web.Response:
    """Vote for this coop on a proposal (operators)."""
    operator(request)
    data = await read_json(request)
    if not isinstance(data, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    ref = await request.app[PROPOSER_KEY].vote(str(data.get("proposal")), str(data.get("decision")), data.get("reason"))
    return json_response({"vote": ref}, status=201)


def install(app: web.Application, services_key: web.AppKey[NodeServices] = SERVICES_KEY) -> None:
    app.router.add_get("/api/v1/governance/decisions", decisions)
    app.router.add_post("/api/v1/governance/proposals", create_proposal)
    app.router.add_post("/api/v1/governance/votes", cast_vote)
