"""Two real node processes (Coopaname and SMart), seeded and peered, and a headless Chromium to drive them."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from node.demo.mail_catcher import CatcherThread
from node.demo.run import DemoNode, load_network, network_file, plan, seed_node

#: the harness's nodes answer scripts that poll and walk every link far faster than people do: generous rate limits
#: (the limits themselves are tested in tests/node/test_rate_limits.py, normal use there under the defaults)
HARNESS_RATE_LIMITS: Final = {
    f"BIGRE_RATE_LIMIT_{kind.upper()}": '{"account": "100000/minute", "address": "100000/minute"}'
    for kind in ("messages", "invitations", "searches", "writes")
}

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The guides' screenshots are written only when asked (`make screenshots`): a test run must not change the tree.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("BIGRE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "bigre-screenshots"
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_base_port() -> int:
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base > 65_000:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", base))
                b.bind(("127.0.0.1", base + 1))
            return base
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


def health(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as response:
            data: dict[str, object] = json.loads(response.read())
            return data
    except OSError:
        return None


def is_up(url: str) -> bool:
    return health(url) is not None


def wait_for(check: Callable[[], bool], within: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {within} s")


def run_async(fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
    """Run a coroutine function to completion on a fresh loop in another thread (a loop may be running here)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(fn(*args))).result()


@pytest.fixture(scope="session")
def mail_catcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatcherThread]:
    """A real SMTP server on loopback receiving the nodes' mails (.eml files in a folder), for the page tests."""
    catcher = CatcherThread(tmp_path_factory.mktemp("web-mail")).start()
    try:
        yield catcher
    finally:
        catcher.stop()


@pytest.fixture(scope="session")
def nodes(tmp_path_factory: pytest.TempPathFactory, mail_catcher: CatcherThread) -> Iterator[list[DemoNode]]:
    data = tmp_path_factory.mktemp("web-network")
    two = plan(data, free_base_port())[:2]
    for node in two:
        run_async(seed_node, node, 12, 7)
    network = network_file(two)
    for node in two:
        run_async(load_network, node.directory, network)
    env = {
        **os.environ,
        "BIGRE_ANTI_ENTROPY_SECONDS": "2",
        "BIGRE_SAVED_SEARCH_SECONDS": "2",
        "BIGRE_CHECK_RESPONSES": "1",
        # the nodes' mails (invitations, password resets, notifications) go to the session's mail catcher
        "BIGRE_SMTP_HOST": "127.0.0.1",
        "BIGRE_SMTP_PORT": str(mail_catcher.port),
        "BIGRE_SMTP_SECURITY": "none",
        "BIGRE_MAIL_SECONDS": "0.3",
        **HARNESS_RATE_LIMITS,
    }
    logs = [open(data / f"{n.name}.log", "wb") for n in two]  # noqa: SIM115 - closed below
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "node.cli", "serve", str(n.directory), "--port", str(n.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        for n, log in zip(two, logs, strict=True)
    ]
    try:
        for n in two:
            wait_for(functools.partial(is_up, n.url), what=f"{n.name} up")

        def converged() -> bool:
            heads = [health(n.url) for n in two]
            return heads[0] is not None and heads[1] is not None and heads[0]["heads"] == heads[1]["heads"]

        wait_for(converged, what="both nodes converged")
        yield two
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (bash .ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
