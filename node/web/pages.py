"""Server-rendered pages for members, advisors and operators, in French and English.

The pages are a thin layer over the same services as the JSON API: each handler reads a form or a query,
calls a service, and renders a template. Forms work without JavaScript. Every POST carries a CSRF token that
must equal the ``bigre_csrf`` cookie (double submit; the session cookie is also SameSite=Lax and HttpOnly);
sign-in sets the same session cookie as the API.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final

import aiohttp
import jinja2
from aiohttp import web
from sqlalchemy import func, or_, select

from node.errors import InvalidInput, NodeError
from node.federation_adapter.wiring import FEDERATION_KEY, STORE_KEY, send_private_message
from node.http.api import SESSION_COOKIE, _set_session_cookie
from node.http.state import SERVICES_KEY, NodeServices
from node.services.members_csv import import_members
from node.services.moving import moved_to
from node.services.profiles import PROFILE_FIELDS
from node.services.things import KINDS
from node.storage.federation_models import InboxMessage
from node.storage.models import LogEntry, RecordState
from node.viewer import ANONYMOUS, LEVELS, Viewer
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
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso_time(ms: int) -> str:
    """The same for the ``datetime`` attribute of ``<time>``."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


ENV.filters["utc_time"] = utc_time
ENV.filters["iso_time"] = iso_time


def s_of(request: web.Request) -> NodeServices:
    return request.app[SERVICES_KEY]


# ------------------------------------------------------------------------------------------- plumbing


@web.middleware
async def page_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For pages only: who is signed in, the language, the CSRF check on POST, and friendly errors."""
    if request.path.startswith(("/api/", "/federation/", "/.well-known/", "/static/")):
        return await handler(request)
    viewer = ANONYMOUS
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = await s_of(request).accounts.authenticate(cookie)
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
            raise web.HTTPSeeOther(f"/login?next={request.path}") from exc
        return render(request, "error.html", {"message": exc.message}, status=exc.status)


def language(request: web.Request) -> str:
    return choose_language(
        request.query.get("lang"), request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language")
    )


def render(request: web.Request, template: str, context: Mapping[str, Any], status: int = 200) -> web.Response:
    lang = language(request)
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    viewer = request.get(VIEWER, ANONYMOUS)
    s = s_of(request)
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
    response.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self'; img-src 'self' data:"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def viewer_of(request: web.Request) -> Viewer:
    found = request.get(VIEWER)
    return found if isinstance(found, Viewer) else ANONYMOUS


def signed_in(request: web.Request) -> Viewer:
    v = viewer_of(request)
    if v.anonymous:
        raise web.HTTPSeeOther(f"/login?next={request.path}")
    return v


async def form_of(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


# --------------------------------------------------------------------------------------------- pages


async def home(request: web.Request) -> web.Response:
    return render(request, "home.html", {})


async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", {"next": request.query.get("next", "/"), "failed": False})


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    target = form.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    try:
        result = await s_of(request).accounts.login(form.get("email"), form.get("password"), request.remote or "?")
    except NodeError as exc:
        if exc.status == 429:
            raise
        return render(request, "login.html", {"next": target, "failed": True}, status=401)
    response = web.HTTPSeeOther(target)
    _set_session_cookie(request, response, result.token, result.expires_at)
    raise response


async def logout_submit(request: web.Request) -> web.StreamResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await s_of(request).accounts.logout(cookie)
    response = web.HTTPSeeOther("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def invitation_page(request: web.Request) -> web.Response:
    return render(request, "invitation.html", {"token": request.match_info["token"]})


async def invitation_submit(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    result = await s_of(request).accounts.accept_invitation(request.match_info["token"], form.get("password"))
    response = web.HTTPSeeOther("/me")
    _set_session_cookie(request, response, result.token, result.expires_at)
    raise response


# ------------------------------------------------------------------------------------------------ search
# The search page, saved searches and notifications are in node/web/search_pages.py (search_routes in routes()).


# ---------------------------------------------------------------------------------------------- profiles


async def member_page(request: web.Request) -> web.Response:
    v = viewer_of(request)
    s = s_of(request)
    origin, member_id = request.match_info["origin"], request.match_info["id"]
    if (forward := await moved_to(s, origin, member_id)) is not None:  # the member moved to another coop
        raise redirect(f"/members/{forward}")
    if origin == s.config.name:
        view = await s.directory.get_member(v, member_id)
        fields = view["fields"]
    else:
        async with s.db.read() as session:
            state = await session.get(RecordState, (origin, member_id))
            wrote_to_viewer = None
            if v.account_id is not None and (state is None or state.deleted or state.body is None):
                # someone whose profile does not reach this node, who wrote to the viewer: enough to answer them
                wrote_to_viewer = await session.scalar(
                    select(InboxMessage.from_name)
                    .where(
                        InboxMessage.origin == origin,
                        InboxMessage.from_member == member_id,
                        InboxMessage.account_id == v.account_id,
                        # not a coop's note about one of its things (see InboxMessage.is_notice)
                        or_(InboxMessage.about.is_(None), InboxMessage.about != f"{origin}/{member_id}"),
                    )
                    .limit(1)
                )
        if wrote_to_viewer is not None:
            fields = {"display_name": wrote_to_viewer} if wrote_to_viewer else {}
        elif state is None or state.deleted or state.body is None or state.type != "profile":
            raise web.HTTPNotFound()
        else:
            body = dict(state.body)
            public = set(body.pop("public", []) or [])
            fields = body if not v.anonymous else {k: val for k, val in body.items() if k in public}
    return render(
        request,
        "member.html",
        {
            "origin": origin,
            "member_id": member_id,
            "fields": fields,
            "sent": request.query.get("sent") == "1",
            "reply_subject": request.query.get("subject", "")[:140],  # from the inbox's reply link
            "can_write": not v.anonymous and v.member_id is not None and member_id != v.member_id,
            **await _path_context(request, member_id if origin == s.config.name else None),
        },
    )


async def contact_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    origin, member_id = request.match_info["origin"], request.match_info["id"]
    await send_private_message(
        request.app,
        v,
        {
            "to_node": origin,
            "to_member": member_id,
            "from_name": v.email.split("@")[0] if v.email else None,
            "subject": form.get("subject") or None,
            "text": form.get("text", ""),
            "about": form.get("about") or None,
        },
    )
    raise redirect(f"/members/{origin}/{member_id}?sent=1")


async def inbox_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    async with s_of(request).db.read() as session:
        rows = (
            (
                await session.execute(
                    select(InboxMessage)
                    .where(InboxMessage.account_id == v.account_id)
                    .order_by(InboxMessage.received_at.desc(), InboxMessage.id.desc())
                    .limit(100)
                )
            )
            .scalars()
            .all()
        )
    return render(request, "inbox.html", {"messages": rows})


async def me_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    profile = await s_of(request).directory.my_profile(v)
    return render(
        request,
        "me.html",
        {
            "profile": profile,
            "field_names": list(PROFILE_FIELDS),
            "levels": LEVELS,
            "widest": {name: f.widest for name, f in PROFILE_FIELDS.items()},
            "as_text": _as_text,
            "saved": request.query.get("saved") == "1",
            **await _path_context(request, v.member_id),
        },
    )


async def _path_context(request: web.Request, member_id: str | None) -> dict[str, Any]:
    """The member's individual path (see :mod:`node.web.onboarding_pages`)."""
    from node.web.onboarding_pages import path_context

    return await path_context(request, member_id)


def _as_text(name: str, value: Any) -> str:
    """A stored field as a form shows it (lists comma-separated, trades as ROME codes, a place as its town)."""
    if value is None:
        return ""
    if name == "trades":
        return ", ".join(t.get("rome", "") for t in value if isinstance(t, dict))
    if name == "place":
        return str(value.get("town", "")) if isinstance(value, dict) else str(value)
    if name == "availability":
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return ", ".join(str(x) for x in value)
    return str(value)


def _from_text(name: str, text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    if name in ("trades", "skills", "languages", "links"):
        return [part.strip() for part in text.split(",") if part.strip()]
    if name == "availability":
        try:
            return json.loads(text)
        except ValueError:
            return {"status": text}
    if name == "day_rate_eur":
        return int(text) if text.isdigit() else text
    return text


async def me_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    fields = {name: _from_text(name, form.get(f"field.{name}", "")) for name in PROFILE_FIELDS}
    visibility = {name: form[f"vis.{name}"] for name in PROFILE_FIELDS if form.get(f"vis.{name}") in LEVELS}
    await s_of(request).directory.update_my_profile(v, {"fields": fields, "visibility": visibility}, replace=False)
    raise redirect("/me?saved=1")


async def export_me(request: web.Request) -> web.Response:
    v = signed_in(request)
    data = await s_of(request).directory.export(v)
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, indent=2),
        content_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="bigre-export.json"'},
    )


async def erase_me(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    await s_of(request).directory.erase(v, form.get("password"))
    response = web.HTTPSeeOther("/?erased=1")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


# ------------------------------------------------------------------------------------ offers, support


async def network_records(request: web.Request, record_type: str, limit: int = 100) -> list[dict[str, Any]]:
    """Records of one type from every coop of the network, newest first (what the network may see)."""
    async with s_of(request).db.read() as session:
        rows = (
            await session.execute(
                select(RecordState)
                .where(RecordState.type == record_type, RecordState.deleted.is_(False))
                .order_by(RecordState.ts.desc())
                .limit(limit)
            )
        ).scalars()
        return [{"origin": r.origin, "id": r.record_id, "body": r.body or {}} for r in rows]


def thing_page(record_type: str, kind_name: str, template: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        v = signed_in(request)
        items = await network_records(request, record_type)
        return render(
            request,
            template,
            {
                "items": items,
                "own_member_id": v.member_id,
                "done": request.query.get("done"),
                "kind_name": kind_name,
            },
        )

    return handler


def thing_submit(kind_name: str, page: str, build: Callable[[dict[str, str]], dict[str, Any]]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        v = signed_in(request)
        form = await form_of(request)
        await s_of(request).things.create(KINDS[kind_name], v, build(form))
        raise redirect(f"{page}?done=1")

    return handler


def _offer_payload(form: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "purpose": form.get("purpose", "offer"),
        "title": form.get("title", ""),
        "visibility": form.get("visibility", "network"),
    }
    if form.get("note"):
        payload["note"] = form["note"]
    if form.get("town"):
        payload["place"] = form["town"]
    if form.get("trades"):
        payload["trades"] = [t.strip() for t in form["trades"].split(",") if t.strip()]
    return payload


def _mentoring_payload(form: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {"kind": form.get("kind", "offer")}
    topics = [t.strip() for t in form.get("topics", "").split(",") if t.strip()]
    if topics:
        payload["topics"] = topics
    if form.get("note"):
        payload["note"] = form["note"]
    return payload


def _help_payload(form: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {"topic": form.get("topic", "")}
    if form.get("text"):
        payload["text"] = form["text"]
    return payload


async def close_offer(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    await s_of(request).things.update(KINDS["offers"], v, request.match_info["id"], {"status": "closed"})
    raise redirect("/offers?done=1")


async def help_page(request: web.Request) -> web.Response:
    """Help requests across the network; under this coop's own requests, the answers its members gave."""
    v = signed_in(request)
    items = await network_records(request, "help_request")
    own = [item["id"] for item in items if item["origin"] == s_of(request).config.name]
    answers = await s_of(request).things.answers_for(v, own)
    return render(
        request,
        "help.html",
        {
            "items": items,
            "answers": answers,
            "own_member_id": v.member_id,
            "done": request.query.get("done"),
            "kind_name": "help-requests",
        },
    )


async def answer_help(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    await s_of(request).things.answer(v, request.match_info["id"], {"text": form.get("text", "")})
    raise redirect("/help?done=1")


# ------------------------------------------------------------------------------------------- staff pages


async def advisor_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    if not v.is_staff:
        return render(request, "error.html", {"message_key": "error.forbidden"}, status=403)
    members, _ = await s_of(request).directory.list_members(v, after=0, limit=500)
    starting = [
        m for m in members if m["fields"].get("stage") == "starting" or m["fields"].get("coop_status") == "cape"
    ]
    return render(request, "advisor.html", {"members": starting[:200]})


async def operator_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    if not v.is_operator:
        return render(request, "error.html", {"message_key": "error.forbidden"}, status=403)
    s = s_of(request)
    store = request.app[STORE_KEY]
    federation = request.app[FEDERATION_KEY]
    now = s.clock()
    hour = 3_600_000
    async with s.db.read() as session:
        rows = (
            await session.execute(
                select((LogEntry.received_at / hour).label("h"), func.count())
                .where(LogEntry.origin != s.config.name, LogEntry.received_at >= now - 24 * hour)
                .group_by("h")
            )
        ).all()
    per_hour = {int(h): int(n) for h, n in rows}
    first = now // hour - 23
    activity = [per_hour.get(first + i, 0) for i in range(24)]
    accounts = await s.accounts.list_accounts(v, after=0, limit=200)
    report = request.get("import_report")
    return render(
        request,
        "operator.html",
        {
            "peers": await store.health(),
            "heads": await store.heads(),
            "forks": await store.forks(),
            "key_id": s.key.kid,
            "public_key": s.key.public_bytes.hex(),
            "activity": activity,
            "activity_max": max(activity) or 1,
            "accounts": accounts,
            "report": report,
            "import_links": request.get("import_links") or [],
            "invitation": request.get("invitation"),
            "known_nodes": len(federation.trust.peers()),
            "admissions": [
                d for d in federation.governance.decision_log() if d["kind"] == "admission" and d["result"] == "pending"
            ],
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
    report = await import_members(s_of(request), data)
    request["import_report"] = report
    base = s_of(request).config.url
    # each token is shown once, here: only its hash is stored
    request["import_links"] = [(email, f"{base}/invitation/{token}") for email, token in report.invitations]
    return await operator_page(request)


async def operator_invite(request: web.Request) -> web.Response:
    v = signed_in(request)
    form = await form_of(request)
    account, token = await s_of(request).accounts.invite(
        v, email=form.get("email"), display_name=form.get("display_name") or None, role=form.get("role", "member")
    )
    request["invitation"] = (account.email, f"{s_of(request).config.url}/invitation/{token}")
    return await operator_page(request)


def routes() -> list[web.AbstractRouteDef]:
    from node.web.governance_pages import governance_routes  # imported here: these modules use this one's render
    from node.web.onboarding_pages import onboarding_routes
    from node.web.remote_event_pages import remote_event_routes
    from node.web.search_pages import search_routes

    return [
        web.get("/", home),
        web.get("/login", login_page),
        web.post("/login", login_submit),
        web.post("/logout", logout_submit),
        web.get("/invitation/{token}", invitation_page),
        web.post("/invitation/{token}", invitation_submit),
        *search_routes(),  # GET /search, POST /search/save, GET /notifications and its forms
        web.get("/members/{origin}/{id}", member_page),
        web.post("/members/{origin}/{id}/contact", contact_submit),
        web.get("/inbox", inbox_page),
        web.get("/me", me_page),
        web.post("/me", me_submit),
        web.get("/me/export", export_me),
        web.post("/me/erase", erase_me),
        web.get("/offers", thing_page("offer", "offers", "offers.html")),
        web.post("/offers", thing_submit("offers", "/offers", _offer_payload)),
        web.post("/offers/{id}/close", close_offer),
        *remote_event_routes(),  # GET /events, POST /events/{origin}/{id}/register and .../cancel
        web.get("/mentoring", thing_page("mentoring", "mentoring", "mentoring.html")),
        web.post("/mentoring", thing_submit("mentoring", "/mentoring", _mentoring_payload)),
        web.get("/help", help_page),
        web.post("/help", thing_submit("help-requests", "/help", _help_payload)),
        web.post("/help/{id}/answer", answer_help),
        web.get("/advisor", advisor_page),
        web.get("/operator", operator_page),
        web.post("/operator/import", operator_import),
        web.post("/operator/invite", operator_invite),
        *onboarding_routes(),
        *governance_routes(),
        web.static("/static", HERE / "static"),
    ]


def web_extension(app: web.Application) -> None:
    """Install the pages on a node application (after federation, whose keys they use)."""
    app.add_routes(routes())
    app.middlewares.append(page_middleware)
