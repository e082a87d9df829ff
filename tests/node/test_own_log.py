"""The node's publisher signs nothing while its peers may hold more of its own log (issue 12, item 10): the
federation's own-log gate, as the composition root wires it."""

from __future__ import annotations

import pytest

from node.compose import Node
from node.errors import Unavailable


async def test_nothing_is_signed_until_every_peer_said_what_it_holds_of_us(services: Node) -> None:
    name = services.config.name
    assert name not in await services.federation_store.heads()
    services.federation.own_log.expect(["smart"])  # what a start does when the node has a peer
    with pytest.raises(Unavailable, match="smart"):
        await services.identity.ensure_document()
    assert name not in await services.federation_store.heads()  # nothing signed, nothing half-written
    services.federation.own_log.heard("smart")
    await services.identity.ensure_document()
    assert (await services.federation_store.heads())[name][0] == 1
