"""How pages are rendered and guarded: templates, the language, who is signed in, CSRF, friendly errors.

Every page module builds on these helpers; the pages are a thin layer over the same services as the JSON API:
each handler reads a form or a query, calls a service, and renders a template. Forms work without JavaScript.
Every POST carries a CSRF token that must equal the ``bigre_csrf`` cookie (double submit; the session cookie
is also SameSite=Lax and HttpOnly); sign-in sets the same session cookie as the API.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import jinja2
from aiohttp import web

from node.compose import Node
from node.errors import NodeError
from node.http.session import SESSION_COOKIE
from node.http.state import NODE_KEY
from node.reference.departements import departement_name
from node.reference.vocabulary import TradeVocabulary
from node.services.profiles import PROFILE_FIELDS
from node.services.rate_limits import Kind as RateKind
from node.viewer import ANONYMOUS, Viewer
from node.web.errors import N_, Explained, explain, field_message, general
from node.web.i18n import Lang, choose_language, lang_for, languages, own_name

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CSRF_COOKIE: Final = "bigre_csrf"
LANG_COOKIE: Final = "bigre_lang"
VIEWER: Final = web.RequestKey("bigre_page_viewer", Viewer)
UNREAD: Final = web.RequestKey("bigre_unread", int)
COOPS: Final = web.RequestKey("bigre_coops", list)
NOT_PAGES: Final = ("/api/", "/federation/", "/.well-known/")
#: pages posted to without a form of ours: a signed unsubscribe link, which mail clients post to (RFC 8058)
CSRF_EXEMPT: Final = ("/unsubscribe/",)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    extensions=["jinja2.ext.i18n"],
)
ENV.newstyle_gettext = True  # type: ignore[attr-defined]  # {% trans %} formats by name, escaped, like _()


@jinja2.pass_context
def _reason(context: Any, text: str) -> str:
    """A service's reason (``email: is not an e-mail address``) in the page's language (the ``reason`` filter)."""
    lang = context.get("i18n")
    if not isinstance(lang, Lang):
        return ""
    name, _, why = str(text).partition(": ")
    return field_message(why or name, lang)


ENV.filters["reason"] = _reason


def node_of(request: web.Request) -> Node:
    return request.app[NODE_KEY]


# ------------------------------------------------------------------------------------------- plumbing


def wants_html(request: web.Request) -> bool:
    """Whether a browser asked for a page (an unknown URL then gets an HTML 404, not JSON)."""
    if request.path.startswith(NOT_PAGES):
        return False
    return not request.path.startswith("/static/") or "text/html" in request.headers.get("Accept", "")


@web.middleware
async def page_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For pages only: who is signed in, the language, the CSRF check on POST, and errors as pages in the
    page's language (404, 500 and every refusal of a service, never JSON or a stack of codes)."""
    if request.path.startswith(NOT_PAGES):
        return await handler(request)
    if request.path.startswith("/static/"):
        try:
            return await handler(request)
        except web.HTTPNotFound:
            if not wants_html(request):
                raise
            return error_page(request, 404)
    viewer = ANONYMOUS
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        if cookie:
            found = await node_of(request).accounts.authenticate(cookie)
            viewer = found or ANONYMOUS
        request[VIEWER] = viewer
        if not viewer.anonymous and viewer.account_id is not None:
            request[UNREAD] = await node_of(request).messages.unread_count(viewer)
        await coops_of(request)
        if request.method == "POST" and not request.path.startswith(CSRF_EXEMPT):
            if request.content_type == "multipart/form-data":
                # an upload: its token is in the query string, so that its body is streamed by the handler (under
                # its own size limit) instead of being read whole here under the app-wide one
                sent: Any = request.query.get("csrf")
            else:
                sent = (await request.post()).get("csrf")
            expected = request.cookies.get(CSRF_COOKIE)
            if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
                log.warning("refused %s %s: missing or wrong CSRF token", request.method, request.path)
                return error_page(request, 403, lang_of(request).gettext(CSRF_EXPIRED))
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        log.info("page %s %s: %s", request.method, request.path, exc.status)
        return error_page(request, exc.status)
    except NodeError as exc:
        log.info("page %s %s refused: %s (%s)", request.method, request.path, exc.code, exc.message)
        if exc.status == 401:
            raise web.HTTPSeeOther(login_url(request)) from exc
        page = error_page(request, exc.status, explain(exc, lang_of(request)).summary)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            page.headers["Retry-After"] = str(retry_after)
        return page
    except Exception:
        log.exception("internal error on page %s %s", request.method, request.path)
        return error_page(request, 500)


CSRF_EXPIRED: Final = N_("The form expired: reload the page and try again.")


def error_page(request: web.Request, status: int, message: str | None = None) -> web.Response:
    lang = lang_of(request)
    return render(request, "error.html", {"status": status, "message": message or general(status, lang)}, status=status)


async def coops_of(request: web.Request) -> list[dict[str, Any]]:
    """The coops of the network this node knows (read once per request): pages show their names, not codes."""
    found = request.get(COOPS)
    if found is None:
        found = await node_of(request).status.coops()
        request[COOPS] = found
    return found


def coop_names(request: web.Request) -> dict[str, str]:
    node = node_of(request)
    names = {str(c["name"]): str(c["display_name"]) for c in request.get(COOPS) or []}
    names[node.config.name] = node.config.display_name
    return names


def language(request: web.Request) -> str:
    return choose_language(
        request.query.get("lang"), request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language")
    )


LANG: Final = web.RequestKey("bigre_lang", Lang)


def lang_of(request: web.Request) -> Lang:
    """The request's language and formats (in the node's time zone), built once per request."""
    found = request.get(LANG)
    if isinstance(found, Lang):
        return found
    lang = lang_for(language(request), node_of(request).config.timezone)
    request[LANG] = lang
    return lang


def language_links(request: web.Request, current: str) -> list[dict[str, str]]:
    """The language switch: each other language, on the same page with the same query (a search stays)."""
    links = []
    for code in languages():
        if code == current:
            continue
        query = [(k, v) for k, v in request.query.items() if k != "lang"] + [("lang", code)]
        links.append({"code": code, "name": own_name(code), "href": request.path + "?" + urlencode(query)})
    return links


def trade_label(trades: TradeVocabulary, lang: str, trade: object) -> str:
    """A trade (a record's ``{"rome", "label"}`` or a code) in the page's language, from the vocabulary: a record
    carries its label in its author's language only."""
    if isinstance(trade, dict):
        code, label = str(trade.get("rome") or ""), str(trade.get("label") or "")
    else:
        code, label = str(trade), str(trade)
    if code and trades.by_code(code) is not None:
        return trades.label(code, lang)
    return label or code


def _coop(names: dict[str, str], origin: object) -> str:
    return names.get(str(origin), str(origin))


def render(request: web.Request, template: str, context: Mapping[str, Any], status: int = 200) -> web.Response:
    lang = lang_of(request)
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    viewer = request.get(VIEWER, ANONYMOUS)
    s = node_of(request)
    trades = s.reference.trades
    html = ENV.get_template(template).render(
        {
            **lang.template_globals(),
            "lang": lang.code,
            "languages": language_links(request, lang.code),
            "viewer": viewer,
            "unread": request.get(UNREAD, 0),
            "csrf": csrf,
            "node_name": s.config.name,
            "node_display": s.config.display_name,
            "path": request.path,
            "now": s.clock(),
            "trade_label": functools.partial(trade_label, trades, lang.code),
            "departement": departement_name,
            "coop": functools.partial(_coop, coop_names(request)),
            "profile_field_names": tuple(PROFILE_FIELDS),
            "errors": {},
            "summary": None,
            "coop_sign_in": s.coop_sign_in is not None,
            "coop_sign_in_label": s.coop_sign_in.label if s.coop_sign_in is not None else "",
            **context,
        }
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    secure = s.config.url.startswith("https://")
    if CSRF_COOKIE not in request.cookies:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=secure, path="/")
    if request.query.get("lang") in languages():
        response.set_cookie(LANG_COOKIE, lang.code, max_age=365 * 86400, samesite="Lax", secure=secure, path="/")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Language"] = lang.code
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


def form_error(request: web.Request, exc: NodeError, fields: Mapping[str, str] | None = None) -> tuple[Explained, int]:
    """A service's refusal of a form, for the same form again: the summary, and each field's message under the
    form's own field names (``fields`` maps a service's field name to the form's, when they differ)."""
    explained = explain(exc, lang_of(request))
    mapping = fields or {}
    renamed = {mapping.get(k, k): v for k, v in explained.fields.items()}
    return Explained(explained.summary, renamed), exc.status if exc.status < 500 else 422


def rate_limit(request: web.Request, kind: RateKind) -> None:
    """Count one action of ``kind`` against the node's rate limits (a 429 page with ``Retry-After`` past one)."""
    node_of(request).rate_limits.hit(kind, viewer_of(request).account_id, request.remote)


def retry_after(response: web.Response, exc: NodeError) -> web.Response:
    """``response`` (a form shown again after ``exc``) with ``Retry-After`` when ``exc`` is a rate limit's."""
    wait = getattr(exc, "retry_after", None)
    if wait is not None:
        response.headers["Retry-After"] = str(wait)
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
