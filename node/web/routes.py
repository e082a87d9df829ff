"""Every page route, in one table, and how the pages are installed on the node's application."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.web.account_pages import account_routes
from node.web.booking_pages import booking_routes
from node.web.coop_sign_in_pages import coop_sign_in_routes
from node.web.event_pages import event_routes
from node.web.governance_pages import governance_routes
from node.web.mail_pages import mail_routes
from node.web.member_pages import member_routes
from node.web.mentoring_pages import mentoring_routes
from node.web.onboarding_pages import onboarding_routes
from node.web.render import HERE, page_middleware, render
from node.web.school_pages import school_routes
from node.web.search_pages import search_routes
from node.web.staff_pages import staff_routes
from node.web.thing_pages import thing_routes
from node.web.users_pages import users_routes


async def home(request: web.Request) -> web.Response:
    return render(request, "home.html", {"erased": request.query.get("erased") == "1"})


STATIC: Final = (HERE / "static").resolve()


async def static_file(request: web.Request) -> web.FileResponse:
    """A file of ``static/`` (a flat folder); anything else is a 404 (an HTML page when a browser asked)."""
    path = (STATIC / request.match_info["name"]).resolve()
    if path.parent != STATIC or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


async def favicon(_request: web.Request) -> web.FileResponse:
    """Browsers ask for /favicon.ico whatever the page says: the icon, not a 404."""
    return web.FileResponse(HERE / "static" / "favicon.ico", headers={"Cache-Control": "public, max-age=86400"})


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/", home),
        web.get("/favicon.ico", favicon),
        *account_routes(),  # sign-in, invitation, my profile, export, erasure
        *search_routes(),  # GET /search, POST /search/save, GET /notifications and its forms
        *member_routes(),  # a member's page, writing to them, the inbox
        *thing_routes(),  # offers, mentoring, help requests
        *event_routes(),  # GET /events, POST /events/{origin}/{id}/register and .../cancel
        *booking_routes(),  # spaces and machines, my bookings, the iCalendar feeds
        *staff_routes(),  # the advisor's list, the operator's dashboard
        *coop_sign_in_routes(),  # sign-in with the coop's identity provider (OpenID Connect), when configured
        *users_routes(),  # the operator's accounts page: search, pages, role, disable, reset link, erase
        *onboarding_routes(),
        *governance_routes(),
        *mail_routes(),  # password reset and change, mail settings, unsubscribe, the operator's mail queue
        *mentoring_routes(),  # mentoring programmes, pairs, check-ins (issue 16)
        *school_routes(),  # the schools' public form and the education coordinators' pages
        web.get("/static/{name:[A-Za-z0-9][A-Za-z0-9._-]*}", static_file),
    ]


def install_pages(app: web.Application) -> None:
    """Install the pages and their middleware (sign-in from the session cookie, language, CSRF, errors)."""
    app.add_routes(routes())
    app.middlewares.append(page_middleware)
