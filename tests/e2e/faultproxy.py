"""A fault-injecting HTTP proxy on 127.0.0.1, for multi-process tests (these kernels have no netem).

One :class:`FaultProxy` stands in front of one node: the node's public URL (the one its peers call) is the
proxy's address, and the proxy forwards to the node's real port. It works at the level of HTTP/1.1 requests:
it reads one whole request from the client (``Content-Length`` or chunked body), sends it to the backend on a
fresh connection with ``Connection: close``, reads the whole answer until the backend closes, writes it back and
closes the client connection. One request per connection keeps every fault simple and exact.

The faults are switched at run time from any thread with :meth:`FaultProxy.set` (it swaps one immutable
:class:`Faults`), and each one is counted in :meth:`FaultProxy.stats` so a test can wait until a fault really
happened instead of sleeping:

* ``drop`` (probability): the request is lost, either before the backend sees it (``dropped_request``) or after
  the backend answered (``dropped_answer``: the change happened but the sender never learns it);
* ``delay`` (seconds): each request waits between half and all of it before it is forwarded;
* ``duplicate`` (probability): the request is sent to the backend twice, the client gets the first answer;
* ``reorder`` (group size): requests are held until ``reorder`` of them are waiting (or ``reorder_wait``
  seconds passed) and then forwarded one after the other in a shuffled order, never the arrival order;
* ``cut``: every connection is closed at once, and nothing more reaches the backend (also not what was being
  held or delayed), until the cut is lifted.

Requests are also counted by path (``stats()["path /federation/v1/push"]``), so a test can tell where a kind
of request went.

The proxy runs its own event loop in a daemon thread, so synchronous tests can use it; :meth:`close` stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections import Counter
from dataclasses import dataclass, replace

LOOPBACK = "127.0.0.1"
MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
IO_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Faults:
    drop: float = 0.0
    delay: float = 0.0
    duplicate: float = 0.0
    reorder: int = 0
    reorder_wait: float = 0.3
    cut: bool = False


class BadRequest(Exception):
    """The client sent something the proxy does not forward."""


class FaultProxy:
    def __init__(self, target_port: int, *, port: int = 0, seed: int = 0, name: str = "proxy") -> None:
        self.target_port = target_port
        self.port = port
        self.name = name
        self.faults = Faults()
        self._rng = random.Random(seed)
        self._stats: Counter[str] = Counter()
        self._inflight = 0
        self._lock = threading.Lock()
        self._recorded: dict[str, list[bytes]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._held: list[tuple[bytes, bool, asyncio.Future[bytes | None]]] = []
        self._release_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------------------------ control (any thread)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def set(self, **faults: float | int | bool) -> None:
        """Replace the faults in force (unnamed ones go back to none)."""
        self.faults = Faults(**faults)  # type: ignore[arg-type]

    def update(self, **faults: float | int | bool) -> None:
        """Change some faults, keep the others."""
        self.faults = replace(self.faults, **faults)  # type: ignore[arg-type]

    def clear(self) -> None:
        self.faults = Faults()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)

    def inflight(self) -> int:
        """Requests being exchanged with the backend right now (sent, answer not yet read)."""
        with self._lock:
            return self._inflight

    def record(self, path: str) -> None:
        """Keep the body of every request to ``path`` that is forwarded to the node (see :meth:`recorded`)."""
        with self._lock:
            self._recorded.setdefault(path, [])

    def recorded(self, path: str) -> list[bytes]:
        with self._lock:
            return list(self._recorded.get(path, []))

    def _count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self._stats[what] += n

    def start(self) -> FaultProxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, LOOPBACK, self.port, limit=MAX_HEAD)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"faultproxy-{self.name}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"fault proxy {self.name} did not start")
        if failure:
            raise failure[0]
        return self

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for _, _, future in self._held:
            if not future.done():
                future.set_result(None)
        self._held.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    # ---------------------------------------------------------------------------------------- the proxy itself

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        answered = False
        try:
            answered = await self._serve_one(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, BadRequest):
            self._count("errors")
        finally:
            self._tasks.discard(task)
            if answered:  # a graceful close, so the answer is not cut short
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), IO_TIMEOUT)
            else:  # lost: the client sees the connection reset without an answer
                writer.transport.abort()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; whether an answer was written."""
        faults = self.faults
        if faults.cut:
            self._count("cut")
            return False
        request = await asyncio.wait_for(read_request(reader), IO_TIMEOUT)
        if request is None:
            return False  # the client closed an idle connection
        self._count("requests")
        path = request.split(b" ", 2)[1].split(b"?")[0].decode("ascii", "replace")
        self._count("path " + path)
        faults = self.faults
        if faults.cut:
            self._count("cut")
            return False
        with self._lock:
            if path in self._recorded:
                self._recorded[path].append(request.split(b"\r\n\r\n", 1)[1])
        lose_answer = False
        if faults.drop and self._rng.random() < faults.drop:
            if self._rng.random() < 0.5:
                self._count("dropped_request")
                return False
            lose_answer = True
        if faults.delay:
            self._count("delayed")
            await asyncio.sleep(faults.delay * (0.5 + 0.5 * self._rng.random()))
        twice = bool(faults.duplicate) and self._rng.random() < faults.duplicate
        if faults.reorder > 1:
            answer = await self._through_reorder(request, faults, twice)
        else:
            answer = await self._forward(request, twice)
        if answer is None:
            return False
        if lose_answer:
            self._count("dropped_answer")
            return False
        writer.write(answer)
        await asyncio.wait_for(writer.drain(), IO_TIMEOUT)
        self._count("answered")
        return True

    async def _forward(self, request: bytes, twice: bool = False) -> bytes | None:
        answer = await self._exchange(request)
        if twice:
            self._count("duplicated")
            with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError):
                await self._exchange(request)
        return answer

    async def _exchange(self, request: bytes) -> bytes | None:
        if self.faults.cut:  # cut while the request was held or delayed: it never arrives
            self._count("cut")
            return None
        with self._lock:
            self._inflight += 1
        try:
            return await self._send_and_read(request)
        finally:
            with self._lock:
                self._inflight -= 1

    async def _send_and_read(self, request: bytes) -> bytes | None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(LOOPBACK, self.target_port, limit=MAX_HEAD), IO_TIMEOUT
            )
        except (OSError, TimeoutError):
            self._count("backend_down")
            return None
        try:
            writer.write(request)
            await asyncio.wait_for(writer.drain(), IO_TIMEOUT)
            answer = await asyncio.wait_for(reader.read(-1), IO_TIMEOUT)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        self._count("forwarded")
        return answer or None

    async def _through_reorder(self, request: bytes, faults: Faults, twice: bool) -> bytes | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes | None] = loop.create_future()
        self._held.append((request, twice, future))
        if len(self._held) >= faults.reorder:
            self._release()
        elif self._release_timer is None:
            self._release_timer = loop.call_later(faults.reorder_wait, self._release)
        return await future

    def _release(self) -> None:
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        group, self._held = self._held, []
        if not group:
            return
        order = list(group)
        if len(order) > 1:
            while order == group:
                self._rng.shuffle(order)
            self._count("reordered", len(order))
        task = asyncio.get_running_loop().create_task(self._forward_in_order(order))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward_in_order(self, group: list[tuple[bytes, bool, asyncio.Future[bytes | None]]]) -> None:
        for request, twice, future in group:
            try:
                answer = await self._forward(request, twice)
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                answer = None
            if not future.done():
                future.set_result(answer)


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One whole HTTP/1.1 request as bytes, rewritten to ``Connection: close``; None on a clean EOF first."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]]
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key in (b"connection", b"keep-alive", b"proxy-connection"):
            continue
        if key == b"content-length":
            if not value.strip().isdigit():
                raise BadRequest("bad Content-Length")
            length = int(value.strip())
            if length > MAX_BODY:
                raise BadRequest("body too large for the proxy")
        if key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        kept.append(line)
    kept.append(b"Connection: close")
    body = await (read_chunked(reader) if chunked else reader.readexactly(length))
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """The raw bytes of a chunked body, trailer included (forwarded as received)."""
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        parts.append(size_line)
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError as exc:
            raise BadRequest("bad chunk size") from exc
        total += size
        if total > MAX_BODY:
            raise BadRequest("body too large for the proxy")
        if size == 0:
            while True:
                trailer = await reader.readuntil(b"\r\n")
                parts.append(trailer)
                if trailer == b"\r\n":
                    return b"".join(parts)
        parts.append(await reader.readexactly(size + 2))
