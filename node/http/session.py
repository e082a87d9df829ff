"""The session cookie, shared by the JSON API's sign-in and the pages' (one way to set and clear it)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.compose import Node

SESSION_COOKIE: Final = "bigre_session"


def set_session_cookie(node: Node, response: web.StreamResponse, token: str, expires_at: int) -> None:
    """HttpOnly, SameSite=Lax, Secure when the node is served over https, for as long as the session lasts."""
    secure = node.config.url.startswith("https://")
    max_age = max(0, (expires_at - node.clock()) // 1000)
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="Lax", secure=secure, path="/")


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")
