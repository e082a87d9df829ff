"""How pages are rendered and guarded: templates, the language, who is signed in, CSRF, friendly errors.

Every page module builds on these helpers; the pages are a thin layer over the same services as the JSON API:
each handler reads a form or a query, calls a service, and renders a template. Forms work without JavaScript.
Every POST carries a CSRF token that must equal the ``bigre_csrf`` cookie (double submit; the session cookie
is also SameSite=Lax and HttpOnly); sign-in sets the same session cookie as the API.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import jinja2
from aiohttp import web

from node.clock import utc_datetime
from node.compose import Node
from node.errors import NodeError
from node.http.session import SESSION_COOKIE
from node.http.state import NODE_KEY
from node.viewer import ANONYMOUS, Viewer
from node.web.i18n import choose_language, translator

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CSRF_COOKIE: Final = "bigre_csrf"
LANG_COOKIE: Final = "bigre_lang"
VIEWER: Final = web.RequestKey("bigre_page_viewer", Viewer)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def utc_time(ms: int) -> str:
    """A node time (milliseconds since the epoch) as a person reads it: ``2026-11-28 23:30 UTC``."""
    return utc_datetime(ms).strftime("%Y-%m-%d %H:%M UTC")


def iso_time(ms: int) -> str:
    """The same for the ``datetime`` attribute of ``<time>``."""
    return utc_datetime(ms).isoformat(timespec="seconds")


ENV.filters["utc_time"] = utc_time
ENV.filters["iso_time"] = iso_time


def node_of(request: web.Request) -> Node:
    return request.app[NODE_KEY]


# ------------------------------------------------------------------------------------------- plumbing


@web.middleware
async def page_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For pages only: who is signed in, the language, the CSRF check on POST, and friendly errors."""
    if request.path.startswith(("/api/", "/federation/", "/.well-known/", "/static/")):
        return await handler(request)
    viewer = ANONYMOUS
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = await node_of(request).accounts.authenticate(cookie)
        viewer = found or ANONYMOUS
    request[VIEWER] = viewer
    if request.method == "POST":
        if request.content_type == "multipart/form-data":
            # an upload: its token is in the query string, so that its body is streamed by the handler (under its
            # own size limit) instead of being read whole here under the app-wide one
            sent: Any = request.query.get("csrf")
        else:
            sent = (await request.post()).get("csrf")
        expected = request.cookies.get(CSRF_COOKIE)
        if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
            log.warning("refused %s %s: missing or wrong CSRF token", request.method, request.path)
            return render(request, "error.html", {"message_key": "error.csrf"}, status=403)
    try:
        return await handler(request)
    except NodeError as exc:
        log.info("page %s %s refused: %s (%s)", request.method, request.path, exc.code, exc.message)
        if exc.status == 401:
            raise web.HTTPSeeOther(login_url(request)) from exc
        return render(request, "error.html", {"message": exc.message}, status=exc.status)


def language(request: web.Request) -> str:
    return choose_language(
        request.query.get("lang"), request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language")
    )


def render(request: web.Request, template: str, context: Mapping[str, Any], status: int = 200) -> web.Response:
    lang = language(request)
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    viewer = request.get(VIEWER, ANONYMOUS)
    s = node_of(request)
    html = ENV.get_template(template).render(
        {
            "t": translator(lang),
            "lang": lang,
            "other_lang": "en" if lang == "fr" else "fr",
            "viewer": viewer,
            "csrf": csrf,
            "node_name": s.config.name,
            "node_display": s.config.display_name,
            "path": request.path,
            "message": None,
            "message_key": None,
            **context,
        }
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    secure = s.config.url.startswith("https://")
    if CSRF_COOKIE not in request.cookies:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=secure, path="/")
    if request.query.get("lang") in ("fr", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax", secure=secure, path="/")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def viewer_of(request: web.Request) -> Viewer:
    found = request.get(VIEWER)
    return found if isinstance(found, Viewer) else ANONYMOUS


def signed_in(request: web.Request) -> Viewer:
    v = viewer_of(request)
    if v.anonymous:
        raise web.HTTPSeeOther(login_url(request))
    return v


async def form_of(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def same_site_path(target: object, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default``: the only place a sign-in may send people back.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so ``/\t/evil.example`` or
    ``/\\evil.example`` would leave the site: any control character, whitespace or backslash refuses the
    target, and what remains must be a path (one leading slash, no scheme, no host)."""
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2000:
        return default
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return default
    return target


def login_url(request: web.Request) -> str:
    """The sign-in page, coming back to the page asked for."""
    return "/login?" + urlencode({"next": request.path_qs})


def redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)
