"""Typed keys under which the application keeps its shared state (no module globals)."""

from __future__ import annotations

from aiohttp import web

from node.compose import Node
from node.viewer import Viewer

NODE_KEY = web.AppKey("bigre_node", Node)
VIEWER_KEY = web.RequestKey("bigre_viewer", Viewer)
TOKEN_KEY = web.RequestKey("bigre_token", str)
