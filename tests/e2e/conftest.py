"""Fixtures for the multi-process federation tests: a cluster of real nodes, always torn down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .cluster import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Nodes are built and started by the test (``cluster.build(...)``, ``cluster.start()``); whatever runs
    at the end is killed (process groups, SIGKILL) and every proxy is stopped, also after a failure. The
    nodes' logs are printed at teardown (pytest shows them when the test failed)."""
    net = Cluster(tmp_path)
    try:
        yield net
    finally:
        net.close()
        for node in net.nodes.values():
            print(f"===== {node.name} ({node.log_path}) =====\n{node.log_tail(60)}")
