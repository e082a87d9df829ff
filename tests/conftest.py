"""Marks shared by the whole suite: every test that starts real node processes or a browser is ``slow``.

``pytest -m "not slow"`` runs the fast part (protocol, federation with in-memory fakes, one node in process);
``pytest -m slow`` runs the multi-process and Chromium tests apart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SLOW_FOLDERS = ("e2e", "web")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.path)).parent.name in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)
