"""The staff pages: the advisors' list of members starting out, and the operator's dashboard (peers' health,
keys, the last day's replication, pending admissions, accounts, invitations and the members CSV import)."""

from __future__ import annotations

from typing import Final

import aiohttp
from aiohttp import web

from node.errors import InvalidInput
from node.services.members_csv import import_members
from node.web.render import form_of, node_of, render, signed_in


async def advisor_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    if not v.is_staff:
        return render(request, "error.html", {"message_key": "error.forbidden"}, status=403)
    members, _ = await node_of(request).directory.list_members(v, after=0, limit=500)
    starting = [
        m for m in members if m["fields"].get("stage") == "starting" or m["fields"].get("coop_status") == "cape"
    ]
    return render(request, "advisor.html", {"members": starting[:200]})


async def operator_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    if not v.is_operator:
        return render(request, "error.html", {"message_key": "error.forbidden"}, status=403)
    node = node_of(request)
    store = node.federation_store
    activity = await node.status.received_per_hour(node.clock())
    accounts = await node.accounts.list_accounts(v, after=0, limit=200)
    report = request.get("import_report")
    return render(
        request,
        "operator.html",
        {
            "peers": await store.health(),
            "heads": await store.heads(),
            "forks": await store.forks(),
            "key_id": node.key.kid,
            "public_key": node.key.public_bytes.hex(),
            "activity": activity,
            "activity_max": max(activity) or 1,
            "accounts": accounts,
            "report": report,
            "import_links": request.get("import_links") or [],
            "invitation": request.get("invitation"),
            "known_nodes": len(node.federation.trust.peers()),
            "admissions": node.governance.pending_admissions(),
        },
    )


MAX_IMPORT_BYTES: Final = 8 * 1024 * 1024  # a 5,000-member CSV is about 1 MiB; the app-wide body limit is 256 KiB


async def _uploaded_file(request: web.Request, field: str, limit: int) -> bytes:
    """The bytes of one file field of a multipart form, read as a stream (the app-wide ``client_max_size`` is for
    JSON and forms, far below what a members file needs), refused past ``limit``."""
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name != field:
            continue
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            data += chunk
            if len(data) > limit:
                raise InvalidInput(f"the file is larger than {limit // (1024 * 1024)} MiB")
        return bytes(data)
    return b""


async def operator_import(request: web.Request) -> web.Response:
    v = signed_in(request)
    if not v.is_operator:
        return render(request, "error.html", {"message_key": "error.forbidden"}, status=403)
    data = await _uploaded_file(request, "file", MAX_IMPORT_BYTES)
    report = await import_members(node_of(request), data)
    request["import_report"] = report
    base = node_of(request).config.url
    # each token is shown once, here: only its hash is stored
    request["import_links"] = [(email, f"{base}/invitation/{token}") for email, token in report.invitations]
    return await operator_page(request)


async def operator_invite(request: web.Request) -> web.Response:
    v = signed_in(request)
    form = await form_of(request)
    account, token = await node_of(request).accounts.invite(
        v, email=form.get("email"), display_name=form.get("display_name") or None, role=form.get("role", "member")
    )
    request["invitation"] = (account.email, f"{node_of(request).config.url}/invitation/{token}")
    return await operator_page(request)


def staff_routes() -> list[web.RouteDef]:
    return [
        web.get("/advisor", advisor_page),
        web.get("/operator", operator_page),
        web.post("/operator/import", operator_import),
        web.post("/operator/invite", operator_invite),
    ]
