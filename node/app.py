"""The node's web application: ``create_app(config) -> web.Application``.

The application serves the JSON API (each area's routes from its module, guarded by their declared access),
the federation's node-to-node routes and the pages. The node itself (:func:`node.compose.open_node`) is opened
and started in a ``cleanup_ctx`` and closed there, so every resource lives exactly as long as the application.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Iterable
from typing import Final

from aiohttp import web
from aiohttp.web_log import AccessLogger

from node.compose import NodeOptions, join_workers, open_node
from node.config import NodeConfig
from node.errors import ConfigError
from node.http import (
    accounts,
    auth,
    bookings,
    events,
    federation,
    governance,
    keys,
    mail,
    me,
    members,
    mentoring,
    messages,
    moves,
    onboarding,
    saved_searches,
    schools,
    system,
    things,
)
from node.http.forwarded import forwarded_middleware
from node.http.middleware import (
    error_middleware,
    metrics_middleware,
    request_id_middleware,
    security_headers,
    viewer_middleware,
    wake_after_writes,
)
from node.http.openapi import openapi_json
from node.http.routing import V1, Route, add_routes
from node.http.state import NODE_KEY
from node.storage.coordination import Coordinator
from node.web.routes import install_pages

log = logging.getLogger(__name__)

API_ROUTES: Final[tuple[Route, ...]] = (
    *system.ROUTES,
    *auth.ROUTES,
    *me.ROUTES,
    *members.ROUTES,
    *accounts.ROUTES,
    *things.ROUTES,
    *events.ROUTES,
    *bookings.ROUTES,  # shared spaces and machines
    *messages.ROUTES,
    *saved_searches.ROUTES,
    *moves.ROUTES,
    *onboarding.ROUTES,
    *mentoring.ROUTES,
    *schools.ROUTES,
    *governance.ROUTES,
    *keys.ROUTES,
    *mail.ROUTES,
    *federation.ROUTES,
)


DEFAULT_OPTIONS: Final = NodeOptions()


def create_app(
    config: NodeConfig,
    *,
    options: NodeOptions = DEFAULT_OPTIONS,
    api_routes: Iterable[Route] = API_ROUTES,
    check_responses: bool | None = None,
    worker: bool = False,
) -> web.Application:
    """The application. ``check_responses`` (default: the node's ``check_responses`` setting) checks every JSON
    API answer against its route's declaration, turning a mismatch into a logged 500: the tests run with it; a
    production node does not pay for it."""
    if check_responses is None:
        check_responses = config.check_responses
    api_routes = tuple(api_routes)
    middlewares = [
        forwarded_middleware(config.trusted_proxies),
        request_id_middleware,
        metrics_middleware,
        error_middleware,
        viewer_middleware,
    ]
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=middlewares)

    async def node_ctx(app: web.Application) -> AsyncIterator[None]:
        node = await open_node(config, options)
        app[NODE_KEY] = node
        coordinator: Coordinator | None = None
        try:
            if worker:
                await node.start(lead=False)
                coordinator = await join_workers(node, _worker_lost)
            else:
                await node.start()
            log.info("node %s ready (key %s, database %s)", config.name, node.key.kid, node.db.dialect)
            yield
        finally:
            if coordinator is not None:
                await coordinator.close()
            await node.close()

    app.cleanup_ctx.append(node_ctx)
    app.on_response_prepare.append(security_headers)
    add_routes(app, api_routes, check_responses=check_responses)
    app.add_routes(federation.wire_routes())
    app.router.add_get("/metrics", system.metrics)
    install_pages(app)
    app.middlewares.append(wake_after_writes)
    openapi = openapi_json(config, api_routes)

    async def serve_openapi(_request: web.Request) -> web.Response:
        return web.Response(text=openapi, content_type="application/json")

    app.router.add_get(f"{V1}/openapi.json", serve_openapi)
    return app


def _worker_lost() -> None:
    """A worker lost its link to its siblings (its leadership lock may be gone): end the process at once, so two
    leaders never run together; the supervisor starts a new worker."""
    log.critical("worker %d lost its coordination connection; exiting (the supervisor restarts it)", os.getpid())
    logging.shutdown()
    os._exit(WORKER_LOST_EXIT)


WORKER_LOST_EXIT: Final = 75  # EX_TEMPFAIL


def run(config: NodeConfig, host: str | None = None, port: int | None = None, *, worker: bool = False) -> None:
    """Serve until SIGINT or SIGTERM, then close every resource. The node is opened (database reached and
    migrated) before the port is bound, and "serving" is logged only once the port is open; a failure of either
    is one :class:`NodeError` line naming the fix."""
    asyncio.run(serve(config, host or config.host, port or config.port, worker=worker))


async def serve(config: NodeConfig, host: str, port: int, *, worker: bool = False) -> None:
    runner = web.AppRunner(create_app(config, worker=worker), handle_signals=False, access_log_class=AccessLogger)
    await runner.setup()  # the application's start-up: the node opens here
    try:
        # workers share the port: the kernel spreads the connections between them (SO_REUSEPORT)
        site = web.TCPSite(runner, host, port, shutdown_timeout=10, reuse_port=worker or None)
        try:
            await site.start()
        except socket.gaierror as exc:
            raise ConfigError(f"cannot listen on {host!r}: unknown host name; check host in node.json") from exc
        except OSError as exc:
            why = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
            raise ConfigError(
                f"cannot listen on {host}:{port}: {why}; another program (or node) holds it? "
                "change port in node.json, or give --port"
            ) from exc
        if worker:
            log.info("worker %d serving node %s on http://%s:%d", os.getpid(), config.name, host, port)
        else:
            log.info("serving node %s on http://%s:%d", config.name, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping node %s", config.name)
    finally:
        await runner.cleanup()
