"""The node's web application: ``create_app(config) -> web.Application``.

The composition root: it opens the database (and migrates it), loads the signing key and the reference data,
builds the services and keeps them under :data:`SERVICES_KEY`. Every resource is opened in a ``cleanup_ctx``
generator and closed there. Other packages (federation) plug in through ``extensions``: callables that receive
the application before it starts and may add routes, ``cleanup_ctx`` entries (background tasks) and
middlewares, and reach the services through ``app[SERVICES_KEY]``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from node.clock import Clock, system_clock
from node.config import NodeConfig
from node.http.api import ROUTES, add_routes, error_middleware, openapi_document, viewer_middleware
from node.http.forwarded import forwarded_middleware
from node.http.state import CONFIG_KEY, SERVICES_KEY, NodeServices
from node.records.publisher import OutboxPeers, Publisher, SyncOutboxPeers, no_peers
from node.reference.data import Reference, load_reference
from node.search.documents import SearchDocuments
from node.services.accounts import Accounts, PasswordHasher, ThrottlePolicy
from node.services.directory import Directory
from node.services.things import Things
from node.storage.database import Database

log = logging.getLogger(__name__)


AppExtension = Callable[[web.Application], None]


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """What tests and the federation layer may change about how a node is assembled."""

    clock: Clock = system_clock
    hasher: PasswordHasher | None = None
    throttle: ThrottlePolicy | None = None
    reference: Reference | None = None
    outbox_peers: OutboxPeers = no_peers
    outbox_peers_sync: SyncOutboxPeers | None = None


async def open_services(config: NodeConfig, options: NodeOptions = NodeOptions()) -> NodeServices:
    """Open the database (migrated), load the key, build the services. Close with :func:`close_services`."""
    key = config.signing_key()
    db = Database.open(config.database_url)
    try:
        await db.migrate()
        reference = options.reference or load_reference(config.trades_path)
        # one for the node: its own records and received ones are indexed with the same trade words
        search_documents = SearchDocuments(reference.trades)
        publisher = Publisher(
            config.name,
            key,
            options.clock,
            search_documents,
            outbox_peers=options.outbox_peers,
            outbox_peers_sync=options.outbox_peers_sync,
        )
        async with db.write() as session:
            await publisher.ensure_head(session)
        accounts = Accounts(db, options.clock, hasher=options.hasher, throttle=options.throttle)
        things = Things(db, publisher, reference, options.clock)
        directory = Directory(db, publisher, reference, options.clock, accounts, things)
    except BaseException:
        await db.close()
        raise
    return NodeServices(
        config, options.clock, key, db, publisher, accounts, things, directory, reference, search_documents
    )


async def close_services(services: NodeServices) -> None:
    await services.db.close()


def create_app(
    config: NodeConfig, *, options: NodeOptions = NodeOptions(), extensions: Sequence[AppExtension] = ()
) -> web.Application:
    middlewares = [forwarded_middleware(config.trusted_proxies), error_middleware, viewer_middleware]
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=middlewares)
    app[CONFIG_KEY] = config

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        services = await open_services(config, options)
        app[SERVICES_KEY] = services
        log.info("node %s ready (key %s, database %s)", config.name, services.key.kid, services.db.dialect)
        yield
        await close_services(services)

    app.cleanup_ctx.append(services_ctx)
    add_routes(app, ROUTES)
    for extension in extensions:
        extension(app)
    openapi = openapi_document(config, app)

    async def serve_openapi(_request: web.Request) -> web.Response:
        return web.json_response(openapi)

    app.router.add_get("/api/v1/openapi.json", serve_openapi)
    return app


def default_extensions() -> list[AppExtension]:
    """Extensions installed by ``bigre serve``: federation (node imports federation, never the reverse)."""
    from node.federation_adapter.wiring import federation_extension
    from node.http.events import remote_events_extension
    from node.http.moves import moving_extension
    from node.http.onboarding import onboarding_extension
    from node.http.saved_searches import saved_search_extension
    from node.web.pages import web_extension

    extensions = [federation_extension, onboarding_extension, moving_extension, remote_events_extension, web_extension]
    return [*extensions, saved_search_extension]


def federated_options(config: NodeConfig, clock: Clock = system_clock) -> NodeOptions:
    """Options for a node that federates: each new entry is queued for every direct member peer."""
    from node.federation_adapter.store import direct_peer_names, direct_peer_names_sync

    async def outbox_peers(session: AsyncSession) -> Sequence[str]:
        return await direct_peer_names(session, config.name)

    def outbox_peers_sync(session: Session) -> Sequence[str]:
        return direct_peer_names_sync(session, config.name)

    return NodeOptions(clock=clock, outbox_peers=outbox_peers, outbox_peers_sync=outbox_peers_sync)


def run(config: NodeConfig, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then close every resource (aiohttp's graceful shutdown)."""
    app = create_app(config, options=federated_options(config), extensions=default_extensions())
    host, port = host or config.host, port or config.port
    log.info("serving node %s on http://%s:%d", config.name, host, port)
    web.run_app(app, host=host, port=port, print=None, handle_signals=True, shutdown_timeout=10)


__all__ = ["CONFIG_KEY", "SERVICES_KEY", "AppExtension", "NodeOptions", "NodeServices", "create_app", "open_services"]
