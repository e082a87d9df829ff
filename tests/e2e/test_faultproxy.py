"""The fault proxy itself, against a tiny threaded HTTP server: each fault does what it says."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .cluster import eventually
from .faultproxy import FaultProxy


class Backend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[str] = []
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: Backend

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.seen.append(body.decode())
        answer = b"got " + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[Backend]:
    server = Backend()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(backend: Backend) -> Iterator[FaultProxy]:
    p = FaultProxy(backend.server_address[1], seed=3).start()
    yield p
    p.close()


def post(proxy: FaultProxy, text: str) -> str | None:
    """The answer's body, or None when the connection was closed without one."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        conn.request("POST", "/x", body=text.encode(), headers={"Connection": "keep-alive"})
        return conn.getresponse().read().decode()
    except (http.client.HTTPException, OSError):
        return None
    finally:
        conn.close()


def test_passes_through_and_each_fault_acts(proxy: FaultProxy, backend: Backend) -> None:
    assert post(proxy, "a") == "got a"

    proxy.set(duplicate=1.0)
    assert post(proxy, "b") == "got b"
    assert backend.seen.count("b") == 2

    proxy.set(cut=True)
    assert post(proxy, "c") is None and "c" not in backend.seen

    proxy.set(drop=1.0)
    outcomes = [post(proxy, f"d{i}") for i in range(12)]
    assert outcomes == [None] * 12
    stats = proxy.stats()
    assert stats["dropped_request"] > 0 and stats["dropped_answer"] > 0
    assert len([s for s in backend.seen if s.startswith("d")]) == stats["dropped_answer"]  # answer lost, change made

    proxy.set(delay=0.4)
    started = time.monotonic()
    assert post(proxy, "e") == "got e"
    assert time.monotonic() - started >= 0.2

    proxy.set(reorder=3, reorder_wait=5.0)
    answers: dict[str, str | None] = {}
    threads = []
    base = proxy.stats()["requests"]

    def send(text: str) -> None:
        answers[text] = post(proxy, text)

    for i, text in enumerate(("r1", "r2", "r3")):
        thread = threading.Thread(target=send, args=(text,))
        thread.start()
        threads.append(thread)

        def came(i: int = i) -> bool:
            return proxy.stats()["requests"] > base + i

        eventually(came, 5, 0.01, what="request arrived")
    for thread in threads:
        thread.join(10)
    assert answers == {"r1": "got r1", "r2": "got r2", "r3": "got r3"}
    arrived = [s for s in backend.seen if s.startswith("r")]
    assert sorted(arrived) == ["r1", "r2", "r3"] and arrived != ["r1", "r2", "r3"]

    proxy.clear()
    assert post(proxy, "f") == "got f"
