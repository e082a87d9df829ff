"""The network's decision log as a page, with the operators' voting and proposing forms."""

from __future__ import annotations

from aiohttp import web

from node.web.render import coops_of, form_of, node_of, redirect, render, signed_in


async def governance_page(request: web.Request) -> web.Response:
    """Every proposal of the network with who voted what, when, and the result; the charter in force."""
    signed_in(request)
    governance = node_of(request).governance
    return render(
        request,
        "governance.html",
        {
            "decisions": governance.decisions(),
            "charter": governance.charter,
            "own_status": governance.own_status,
            "done": request.query.get("done"),
            "coops": [c for c in await coops_of(request) if c["direct"]],
        },
    )


async def vote_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    if not v.is_operator:
        raise web.HTTPForbidden()
    form = await form_of(request)
    await node_of(request).governance.vote(form.get("proposal", ""), form.get("decision", ""), form.get("reason"))
    raise redirect("/governance?done=vote")


async def propose_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    if not v.is_operator:
        raise web.HTTPForbidden()
    form = await form_of(request)
    await node_of(request).governance.propose(
        form.get("kind", ""), form.get("subject", ""), text=form.get("text") or None
    )
    raise redirect("/governance?done=proposal")


def governance_routes() -> list[web.RouteDef]:
    return [
        web.get("/governance", governance_page),
        web.post("/governance/votes", vote_submit),
        web.post("/governance/proposals", propose_submit),
    ]
