"""Sign-in with the coop's identity provider, for the pages: ``/login/oidc`` sends the browser to the provider,
``/login/oidc/callback`` takes it back, signed in (see :mod:`node.services.coop_sign_in`). A refusal shows the
sign-in page again with why, in the page's language."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.errors import NodeError, NotAuthenticated
from node.http.session import set_session_cookie
from node.services.coop_sign_in import PENDING_SECONDS, CoopSignIn
from node.web.errors import explain
from node.web.render import lang_of, node_of, render, same_site_path

STATE_COOKIE: Final = "bigre_oidc_state"
STATE_PATH: Final = "/login/oidc"


def _configured(request: web.Request) -> CoopSignIn:
    found = node_of(request).coop_sign_in
    if found is None:
        raise web.HTTPNotFound()
    return found


async def start(request: web.Request) -> web.StreamResponse:
    coop = _configured(request)
    url, state = await coop.start(same_site_path(request.query.get("next")))
    response = web.HTTPSeeOther(url)
    # SameSite=Lax: the provider's redirect back is a top-level GET, which carries it
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=PENDING_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=node_of(request).config.url.startswith("https://"),
        path=STATE_PATH,
    )
    raise response


async def callback(request: web.Request) -> web.StreamResponse:
    coop = _configured(request)
    query = request.query
    try:
        if "error" in query or not query.get("code"):
            raise NotAuthenticated("the coop's identity provider did not sign you in")
        result, target = await coop.finish(
            state=query.get("state", ""),
            cookie_state=request.cookies.get(STATE_COOKIE),
            code=query["code"],
            client=request.remote or "?",
        )
    except NodeError as exc:
        context = {"next": "/", "failed": explain(exc, lang_of(request)).summary, "email": ""}
        page = render(request, "login.html", context, status=exc.status if exc.status != 401 else 403)
        page.del_cookie(STATE_COOKIE, path=STATE_PATH)
        return page
    response = web.HTTPSeeOther(target)
    set_session_cookie(node_of(request), response, result.token, result.expires_at)
    response.del_cookie(STATE_COOKIE, path=STATE_PATH)
    raise response


def coop_sign_in_routes() -> list[web.RouteDef]:
    return [web.get("/login/oidc", start), web.get("/login/oidc/callback", callback)]
