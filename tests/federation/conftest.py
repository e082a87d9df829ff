from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from .fakes import Clock, MemoryNode


async def eventually(check: Callable[[], Awaitable[bool]] | Callable[[], bool], within: float = 15.0) -> None:
    """Wait until ``check`` is true, polling, with a deadline (never a fixed sleep)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.02)


class Network:
    def __init__(self) -> None:
        self.clock = Clock()
        self.nodes: dict[str, MemoryNode] = {}
        self.servers: dict[str, TestServer] = {}

    async def add(self, name: str, seed: int, *, without: tuple[str, ...] = ()) -> MemoryNode:
        """A node on its own HTTP server; ``without``: paths it does not serve (a node of an older release)."""
        node = MemoryNode(name, seed, self.clock)
        app = web.Application()
        app.add_routes([r for r in node.service.routes() if getattr(r, "path", None) not in without])
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        node.url = str(server.make_url("")).rstrip("/")
        await node.publish_document()
        self.nodes[name] = node
        self.servers[name] = server
        return node

    async def connect_all(self) -> None:
        for node in self.nodes.values():
            for other in self.nodes.values():
                await node.peer_store.save_peer(other.as_peer())
        for node in self.nodes.values():
            await node.service.start()

    async def close(self) -> None:
        for node in self.nodes.values():
            if hasattr(node.service, "deliverer"):
                await node.service.stop()
        for server in self.servers.values():
            await server.close()


@pytest.fixture
async def network() -> AsyncIterator[Network]:
    net = Network()
    yield net
    await net.close()
