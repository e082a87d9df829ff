"""Network governance: the decision log (members), proposals and votes (operators, for their coop)."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from node.errors import InvalidInput
from node.http.routing import V1, Route, json_response, node_of, read_object


async def decisions(request: web.Request) -> web.Response:
    """The network's decision log: every proposal, its votes and its result"""
    governance = node_of(request).governance
    return json_response({"charter": governance.charter, "decisions": governance.decision_log()})


async def create_proposal(request: web.Request) -> web.Response:
    """Put a decision to the member nodes' vote (operators)"""
    data = await read_object(request)
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
    ref = await node_of(request).governance.propose(str(data.get("kind")), str(data.get("subject")), **details)
    return json_response({"proposal": ref}, status=201)


async def cast_vote(request: web.Request) -> web.Response:
    """Vote for this coop on a proposal (operators)"""
    data = await read_object(request)
    governance = node_of(request).governance
    ref = await governance.vote(str(data.get("proposal")), str(data.get("decision")), data.get("reason"))
    return json_response({"vote": ref}, status=201)


GOVERNANCE: Final = f"{V1}/governance"
ROUTES: Final = (
    Route("GET", f"{GOVERNANCE}/decisions", decisions, str(decisions.__doc__), "member", "governance"),
    Route(
        "POST",
        f"{GOVERNANCE}/proposals",
        create_proposal,
        str(create_proposal.__doc__),
        "operator",
        "governance",
        body="{kind, subject, text, days, charter, new_key}",
        status=201,
    ),
    Route(
        "POST",
        f"{GOVERNANCE}/votes",
        cast_vote,
        str(cast_vote.__doc__),
        "operator",
        "governance",
        body="{proposal, decision, reason}",
        status=201,
    ),
)
