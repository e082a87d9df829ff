"""Typed keys under which the application keeps its shared state (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from node.clock import Clock
from node.config import NodeConfig
from node.records.publisher import Publisher
from node.reference.data import Reference
from node.search.documents import SearchDocuments
from node.services.accounts import Accounts
from node.services.directory import Directory
from node.services.things import Things
from node.storage.database import Database
from node.viewer import Viewer
from protocol import SigningKey


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
    search_documents: SearchDocuments  # how records become search documents, with this node's trade vocabulary


SERVICES_KEY = web.AppKey("bigre_services", NodeServices)
CONFIG_KEY = web.AppKey("bigre_config", NodeConfig)
VIEWER_KEY = web.RequestKey("bigre_viewer", Viewer)
TOKEN_KEY = web.RequestKey("bigre_token", str)
