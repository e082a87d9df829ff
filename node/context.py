"""Typed keys under which the application keeps its shared state (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from protocol import SigningKey

from .clock import Clock
from .config import NodeConfig
from .publisher import Publisher
from .services.accounts import Accounts
from .services.directory import Directory
from .services.reference import Reference
from .services.things import Things
from .storage.database import Database
from .viewer import Viewer


@dataclass(slots=True)
class NodeServices:
    """Everything a request handler or an extension needs; built once per application."""

    config: NodeConfig
    clock: Clock
    key: SigningKey
    db: Database
    publisher: Publisher
    accounts: Accounts
    things: Things
    directory: Directory
    reference: Reference


SERVICES_KEY = web.AppKey("bigre_services", NodeServices)
CONFIG_KEY = web.AppKey("bigre_config", NodeConfig)
VIEWER_KEY = web.RequestKey("bigre_viewer", Viewer)
TOKEN_KEY = web.RequestKey("bigre_token", str)
