"""Plugging federation into the node's application: routes, start-up, the push trigger, and member messaging.

``node`` is the composition root: it builds a :class:`federation.service.FederationService` from its own stores
(:class:`node.federation_adapter.store.NodeFederationStore`) and the node's key and clock, serves its routes, and wakes
its delivery loops after every request that may have written outbox rows (the rows commit before the response
is sent, so the loops find them at once).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from federation.ports import MEMBER, PeerKey
from federation.service import FederationService
from node.errors import Forbidden, InvalidInput, NotFound
from node.federation_adapter.direct import sign_message
from node.federation_adapter.store import NodeFederationStore
from node.http.api import json_response, member, read_json, services
from node.http.governance import PROPOSER_KEY, NodeProposer, load_charter
from node.http.governance import install as install_governance
from node.http.keys import document_keys
from node.http.keys import install as install_keys
from node.http.state import SERVICES_KEY, NodeServices
from node.records.log import jsonable
from node.storage.federation_models import InboxMessage
from node.viewer import Viewer
from protocol import Record, SchemaError, check_body

log = logging.getLogger(__name__)

FEDERATION_KEY = web.AppKey("bigre_federation", FederationService)
STORE_KEY = web.AppKey("bigre_federation_store", NodeFederationStore)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def node_document_body(s: NodeServices) -> dict[str, Any]:
    return {
        "name": s.config.name,
        "display_name": s.config.display_name,
        "url": s.config.url,
        "protocol_versions": [1],
        "keys": document_keys(s),
        "status": "member",
    }


async def ensure_node_document(s: NodeServices) -> None:
    """Publish this node's document when it is missing or no longer says what the configuration says."""
    wanted = node_document_body(s)
    async with s.db.write() as session:
        current = await s.publisher.published_body(session, "node")
        if current == jsonable(wanted):
            return
        await s.publisher.publish(session, type="node", record_id="node", body=wanted, created=s.clock())
    log.info("published the node document of %s (key %s)", s.config.name, s.key.kid)


def federation_extension(app: web.Application) -> None:
    """Install federation on a node application (see :func:`node.http.app.create_app`'s ``extensions``)."""

    async def federation_ctx(app: web.Application) -> AsyncIterator[None]:
        s = app[SERVICES_KEY]
        store = NodeFederationStore(s.db, s.config.name, s.clock, s.search_documents)
        await ensure_node_document(s)
        service = FederationService(
            name=s.config.name,
            key=lambda: s.key,
            log_store=store,
            peers=store,
            outbox=store,
            inbox=store,
            invitations=store,
            documents=store,
            clock=s.clock,
            anti_entropy_seconds=float(os.environ.get("BIGRE_ANTI_ENTROPY_SECONDS", "30")),
            charter=load_charter(s.config.directory),
            own_keys=lambda: [
                PeerKey(k["public_key"], k.get("not_before", 0), k.get("not_after"), k.get("revoked_at"))
                for k in document_keys(s)
            ],
        )
        proposer = NodeProposer(s, service)
        service.proposer = proposer
        app[FEDERATION_KEY] = service
        app[STORE_KEY] = store
        app[PROPOSER_KEY] = proposer
        await service.start()
        yield
        await service.stop()

    app.cleanup_ctx.append(federation_ctx)
    for method, path, name in FederationService.ROUTE_TABLE:
        app.router.add_route(method, path, _late(name))
    app.router.add_get("/api/v1/federation/peers", peers_health)
    app.router.add_get("/api/v1/federation/forks", forks)
    app.router.add_post("/api/v1/messages", send_message)
    app.router.add_get("/api/v1/inbox", inbox)
    install_governance(app)
    install_keys(app)
    app.middlewares.append(notify_after_writes)


def _late(name: str) -> Handler:
    """A handler that calls the started service's method ``name`` (the service exists only once started)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        result: web.StreamResponse = await getattr(request.app[FEDERATION_KEY], name)(request)
        return result

    handler.__doc__ = getattr(FederationService, name).__doc__ or f"Federation: {name.removeprefix('handle_')}"
    return handler


@web.middleware
async def notify_after_writes(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not request.path.startswith("/federation/"):
        service = request.app.get(FEDERATION_KEY)
        if service is not None:
            service.notify()
    return response


async def peers_health(request: web.Request) -> web.Response:
    """Peers with their health: last success, last error, lag and outbox depth (operators)."""
    v = member(request)
    if not v.is_operator:
        raise Forbidden("operators only")
    store = request.app[STORE_KEY]
    heads = await store.heads()
    return json_response(
        {
            "name": request.app[SERVICES_KEY].config.name,
            "heads": {origin: seq for origin, (seq, _) in heads.items()},
            "peers": [
                {
                    "name": h.name,
                    "url": h.url,
                    "status": h.status,
                    "last_success": h.last_success,
                    "last_error": h.last_error,
                    "last_error_at": h.last_error_at,
                    "queue_depth": h.queue_depth,
                    "lag": h.lag,
                }
                for h in await store.health()
            ],
        }
    )


async def forks(request: web.Request) -> web.Response:
    """Forks detected: origins that signed two entries for one seq (operators)."""
    v = member(request)
    if not v.is_operator:
        raise Forbidden("operators only")
    return json_response({"forks": await request.app[STORE_KEY].forks()})


async def send_message(request: web.Request) -> web.Response:
    """Send a private message to a member of this or another coop; it goes signed to that node only."""
    data = await read_json(request)
    result = await send_private_message(request.app, member(request), data)
    return json_response(result, status=202)


async def send_private_message(app: web.Application, v: Viewer, data: object) -> dict[str, Any]:
    """Sign a message from ``v`` and deliver it locally or queue it for the destination node (one path for the
    API and the pages)."""
    if v.member_id is None:
        raise Forbidden("only members with a profile can send messages")
    if not isinstance(data, dict):
        raise InvalidInput("expected a JSON object")
    s = app[SERVICES_KEY]
    to_node = data.get("to_node") or s.config.name
    body = {
        "to_node": to_node,
        "to_member": data.get("to_member"),
        "from_member": v.member_id,
        "from_name": str(data.get("from_name") or "")[:120] or None,
        "subject": data.get("subject") or None,
        "text": data.get("text"),
        "about": data.get("about") or None,
    }
    body = {k: val for k, val in body.items() if val is not None}
    try:
        entry = sign_message(s.key, origin=s.config.name, body=body, now=s.clock())
    except SchemaError as exc:
        raise InvalidInput(str(exc)) from exc
    store = app[STORE_KEY]
    if to_node == s.config.name:
        try:
            await store.deliver(Record(entry, check_body(entry)), s.clock())
        except LookupError as exc:
            raise NotFound(str(exc)) from exc
    else:
        federation = app[FEDERATION_KEY]
        peer = federation.trust.peer(str(to_node))
        if peer is None or peer.status != MEMBER or not peer.direct:
            raise NotFound(f"{to_node} is not a node this coop exchanges with")
        await store.enqueue(str(to_node), "message", entry.encode(), s.clock())
        federation.notify()
    log.info("message %s from %s queued for %s", entry.header.id, v.member_id, to_node)
    return {"id": entry.header.id, "to_node": to_node}


async def inbox(request: web.Request) -> web.Response:
    """The viewer's private messages, newest first; ``?mark_read=1`` marks them read."""
    v = member(request)
    s = services(request)
    async with s.db.write() as session:
        rows = (
            (
                await session.execute(
                    select(InboxMessage)
                    .where(InboxMessage.account_id == v.account_id)
                    .order_by(InboxMessage.received_at.desc(), InboxMessage.id.desc())
                    .limit(200)
                )
            )
            .scalars()
            .all()
        )
        result = [
            {
                "id": f"{r.origin}/{r.message_id}",
                "from_node": r.origin,
                "from_member": r.from_member,
                "from_name": r.from_name,
                "subject": r.subject,
                "text": r.text,
                "about": r.about,
                "received_at": r.received_at,
                "read": r.read,
            }
            for r in rows
        ]
        if request.query.get("mark_read") == "1":
            await session.execute(update(InboxMessage).where(InboxMessage.account_id == v.account_id).values(read=True))
    return json_response({"messages": result})
