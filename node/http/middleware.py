"""The JSON API's middlewares: who is asking (bearer token or session cookie), and errors as JSON.

Errors are always ``{"error": {"code", "message"[, "fields"]}}`` with the status of the :class:`NodeError`.
Authentication: ``Authorization: Bearer <token>`` (API clients) or the ``bigre_session`` cookie (pages); a
cookie alone does not authorise a state-changing request unless it carries ``X-Requested-With`` (which a
cross-site form cannot send), so cookies cannot be used for cross-site request forgery.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Final

from aiohttp import web

from node.errors import Forbidden, NodeError, NotAuthenticated
from node.http.routing import Handler, json_response, node_of, viewer
from node.http.session import SESSION_COOKIE
from node.http.state import TOKEN_KEY, VIEWER_KEY
from node.logs import REQUEST_ID, new_request_id

log = logging.getLogger(__name__)

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_COOKIE_EXEMPT: Final = frozenset({"/api/v1/auth/login", "/api/v1/auth/accept"})  # act as nobody in particular
_BEARER: Final = re.compile(r"Bearer ([A-Za-z0-9_-]{20,100})\Z")


_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{8,64}\Z")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request gets an id: the caller's ``X-Request-Id`` when it is a sane token (a proxy's, to follow one
    request across both logs), else a fresh one; every log line written for the request names it, and so does
    the response (also an error's)."""
    sent = request.headers.get("X-Request-Id", "")
    request_id = sent if _REQUEST_ID.match(sent) else new_request_id()
    token = REQUEST_ID.set(request_id)
    try:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers["X-Request-Id"] = request_id
            raise
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        REQUEST_ID.reset(token)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NodeError as exc:
        level = logging.ERROR if exc.status >= 500 else logging.INFO
        log.log(
            level,
            "refused %s %s: %s (%s) [account %s]",
            request.method,
            request.path,
            exc.code,
            exc.message,
            viewer(request).account_id,
        )
        response = json_response(exc.to_json(), exc.status)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "http_error")
        log.info("refused %s %s: %s", request.method, request.path, exc.status)
        message = exc.reason if exc.status != 413 else "the request body is too large"
        response = json_response({"error": {"code": code, "message": message}}, exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except ConnectionResetError:
        # the client went away mid-request (closed tab, lost network): normal, and there is no one to answer
        log.info("client %s went away during %s %s", request.remote, request.method, request.path)
        return web.Response(status=400)  # never sent: the connection is gone
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return json_response({"error": {"code": "internal", "message": "internal error"}}, 500)


@web.middleware
async def viewer_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve who is asking. A bad bearer token is refused; a stale cookie only makes the viewer anonymous."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    accounts = node_of(request).accounts
    header = request.headers.get("Authorization")
    if header is not None:
        match = _BEARER.match(header)
        found = await accounts.authenticate(match.group(1)) if match else None
        if found is None:
            raise NotAuthenticated("the bearer token is invalid or expired")
        request[VIEWER_KEY] = found
        request[TOKEN_KEY] = match.group(1) if match else ""
    elif (cookie := request.cookies.get(SESSION_COOKIE)) is not None and request.path not in _COOKIE_EXEMPT:
        found = await accounts.authenticate(cookie)
        if found is not None:
            if request.method not in SAFE_METHODS and request.headers.get("X-Requested-With") is None:
                raise Forbidden("a session cookie needs the X-Requested-With header on this request")
            request[VIEWER_KEY] = found
            request[TOKEN_KEY] = cookie
    return await handler(request)


@web.middleware
async def wake_after_writes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After a request that may have published entries (their outbox rows commit before the response is sent),
    wake the delivery loops so peers get them in milliseconds, not at the next anti-entropy round."""
    response = await handler(request)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not request.path.startswith("/federation/"):
        node_of(request).wake()
    return response


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response (``on_response_prepare``, so redirects and errors too): never framed by another site,
    no content sniffing, no full URL in referrers; and a response to a signed-in request is never stored by a
    browser or a proxy cache (a shared computer's back button must not show someone's inbox)."""
    headers = response.headers
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if "Content-Security-Policy" not in headers and not request.path.startswith("/federation/"):
        headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    if "Authorization" in request.headers or SESSION_COOKIE in request.cookies:
        headers["Cache-Control"] = "no-store"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every answer and time it, by route template (``/api/v1/members/{member_id}``, never the id)."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        node_of(request).metrics.observe_request(route, request.method, status, time.perf_counter() - started)
