"""Network governance: the decision log (members), proposals and votes (operators, for their coop)."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, Field

from node.http.record_models import map_model, record_input
from node.http.routing import V1, Route, json_response, node_of
from node.http.types import Ms, Origin, integer
from protocol import RECORD_TYPES
from protocol.records import CHARTER

PROPOSAL: Final = RECORD_TYPES["proposal"]
ProposalInput: Final = record_input(
    PROPOSAL,
    "ProposalInput",
    names=["kind", "subject", "text", "charter"],
    required=["kind", "subject"],
    extra={
        "days": (integer(1, 365) | None, Field(None, description="time to vote (the charter's voting_days)")),
        "new_key": (
            str | None,
            Field(None, pattern="^[0-9a-fA-F]{64}$", description="key_recovery: the subject's new public key, hex"),
        ),
    },
)
VoteInput: Final = record_input(
    RECORD_TYPES["admission_vote"],
    "VoteInput",
    names=["proposal", "decision", "reason"],
    required=["proposal", "decision"],
)
Charter: Final = map_model(CHARTER, "view")


class Vote(BaseModel):
    voter: Origin
    decision: str | None
    reason: str | None
    at: Ms


class Decision(BaseModel):
    proposal: str = Field(description="origin/id of the proposal")
    kind: str | None
    subject: str | None
    proposed_by: Origin
    proposed_at: Ms
    deadline: Ms | None
    text: str | None
    result: str = Field(description="pending, accepted, rejected...")
    decided_at: Ms | None
    votes: list[Vote]
    refused: list[str] = Field(description="votes refused, with why")


class DecisionLog(BaseModel):
    charter: Charter  # type: ignore[valid-type]
    decisions: list[Decision]
    own_status: str = Field(description="where the network's decisions leave this coop: member, suspended or left")


class Proposed(BaseModel):
    proposal: str = Field(description="origin/id of the new proposal")


class Voted(BaseModel):
    vote: str = Field(description="origin/id of the vote")


async def decisions(request: web.Request) -> web.Response:
    """The network's decision log: every proposal, its votes and its result"""
    governance = node_of(request).governance
    return json_response(
        {"charter": governance.charter, "decisions": governance.decision_log(), "own_status": governance.own_status}
    )


async def create_proposal(request: web.Request, body: BaseModel) -> web.Response:
    """Put a decision to the member nodes' vote (operators)"""
    data: dict[str, Any] = body.model_dump(exclude_none=True)
    details: dict[str, Any] = {"text": data.get("text")}
    if data["kind"] == "charter":
        details["charter"] = data.get("charter")
    if data["kind"] == "key_recovery" and "new_key" in data:
        details["new_key"] = bytes.fromhex(data["new_key"])
    if "days" in data:
        details["days"] = data["days"]
    ref = await node_of(request).governance.propose(data["kind"], data["subject"], **details)
    return json_response({"proposal": ref}, status=201)


async def cast_vote(request: web.Request, body: BaseModel) -> web.Response:
    """Vote for this coop on a proposal (operators)"""
    data: dict[str, Any] = body.model_dump(exclude_none=True)
    ref = await node_of(request).governance.vote(data["proposal"], data["decision"], data.get("reason"))
    return json_response({"vote": ref}, status=201)


GOVERNANCE: Final = f"{V1}/governance"
ROUTES: Final = (
    Route(
        "GET",
        f"{GOVERNANCE}/decisions",
        decisions,
        str(decisions.__doc__),
        "member",
        "governance",
        response=DecisionLog,
        operation_id="decision_log",
    ),
    Route(
        "POST",
        f"{GOVERNANCE}/proposals",
        create_proposal,
        str(create_proposal.__doc__),
        "operator",
        "governance",
        body=ProposalInput,
        response=Proposed,
        status=201,
        operation_id="propose",
    ),
    Route(
        "POST",
        f"{GOVERNANCE}/votes",
        cast_vote,
        str(cast_vote.__doc__),
        "operator",
        "governance",
        body=VoteInput,
        response=Voted,
        status=201,
        errors=(404,),
        operation_id="vote",
    ),
)
