"""Signed node-to-node HTTP: the client side (:class:`PeerClient`) and the server side (:func:`authenticate`).

Bodies are canonical msgpack (``application/x-bigre+msgpack``). Every request is signed (see
``protocol.requests``); the receiver checks the signature, the clock window, the nonce (:class:`ReplayGuard`) and
that the sender is a member in good standing, and logs every refusal with its reason.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from protocol import (
    MAX_DIRECT_ENVELOPE_BYTES,
    InvalidInputError,
    KeyResolver,
    SigningKey,
    canonical,
    decode_entry,
    parse_request_headers,
    sign_request,
    verify_request,
)
from protocol.canonical import Value

from .errors import RETRYABLE_4XX, PeerRefusedError, PeerUnavailableError, RefusedByPeerError, ReplayedRequestError
from .ports import Peer
from .trust import TrustStore

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-bigre+msgpack"
DIRECT_PATH = "/federation/v1/direct"
#: the route of release 1.0, which took private messages only: used for a ``message`` to a node that has no
#: DIRECT_PATH yet (it answers 404 without a JSON error), for as long as the network upgrades
MESSAGES_PATH = "/federation/v1/messages"
MAX_BODY = 8 * 1024 * 1024
REPLAY_WINDOW_MS = 600_000

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class ReplayCheck(Protocol):
    """Where a node remembers the nonces it has seen: in its process (:class:`ReplayGuard`), or, when several
    worker processes answer for one node, in their shared database (so a request replayed to another worker is
    still refused)."""

    async def check(self, origin: str, nonce: str, now: int) -> None:
        """Raise :class:`ReplayedRequestError` if (origin, nonce) was seen within the replay window."""


class ReplayGuard:
    """Remembers (origin, nonce) pairs for the replay window, in this process; bounded so a flood cannot exhaust
    memory."""

    def __init__(self, window_ms: int = REPLAY_WINDOW_MS, capacity: int = 200_000) -> None:
        self.window_ms = window_ms
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], int] = OrderedDict()

    async def check(self, origin: str, nonce: str, now: int) -> None:
        while self._seen:
            seen_at = next(iter(self._seen.values()))
            if now - seen_at <= self.window_ms and len(self._seen) < self.capacity:
                break
            self._seen.popitem(last=False)
        if (origin, nonce) in self._seen:
            raise ReplayedRequestError(f"nonce {nonce} from {origin} was already used")
        self._seen[(origin, nonce)] = now


async def authenticate(
    request: web.Request,
    body: bytes,
    *,
    trust: TrustStore,
    replay: ReplayCheck,
    now: int,
    keys: KeyResolver | None = None,
    departed: bool = False,
) -> Peer:
    """The sending peer of a signed request, or raise (protocol error or :class:`PeerRefusedError`).

    ``keys``: where the request's key is looked up, when not only in ``trust`` (a push that brings its key).
    ``departed``: a suspended or departed peer is let through too (a push, which may carry its deletions; what
    else it carries is refused after the signature check).
    """
    signed = parse_request_headers(request.headers.items())
    if departed:
        trust.require_known(signed.origin)
    else:
        trust.require_member(signed.origin)
    verify_request(
        signed,
        method=request.method,
        path=request.path_qs,
        body=body,
        destination=trust.self_name,
        keys=keys or trust,
        now=now,
    )
    await replay.check(signed.origin, signed.nonce, now)
    peer = trust.peer(signed.origin)
    assert peer is not None
    return peer


def refusal(exc: InvalidInputError | PeerRefusedError, request: web.Request) -> web.Response:
    """The JSON error answer to a refused federation request, logged with its reason."""
    origin = request.headers.get("Bigre-Origin", "?")
    log.warning("refused %s %s from %s (%s): %s", request.method, request.path, origin, request.remote, exc.reason)
    return web.json_response({"error": {"code": exc.code, "message": exc.reason}}, status=exc.status)


class Exchange(Protocol):
    """The transport port: carry one signed request to a peer and bring back its answer.

    :class:`PeerClient` signs, encodes and interprets; an exchange only moves bytes. Over HTTP it is
    :class:`HttpExchange`; the network simulation (``tests/sim``) carries them in memory, on a virtual clock.
    A network failure (no answer, a broken connection, a timeout) raises :class:`PeerUnavailableError`.
    """

    async def __call__(self, peer: Peer, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        """(HTTP status, body of the answer, its ETag if any): the body is cut after ``MAX_BODY`` + 1 bytes."""
        ...


Answer = tuple[int, bytes, str | None]


class HttpExchange:
    """:class:`Exchange` over HTTP, with one aiohttp session for every peer."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float = 20.0) -> None:
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def __call__(self, peer: Peer, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        url = peer.url.rstrip("/") + path
        try:
            async with self.session.request(
                method, url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            ) as response:
                etag = response.headers.get("ETag")
                if response.status == 304:
                    return 304, b"", etag
                return response.status, await read_limited(response.content, MAX_BODY), etag
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise PeerUnavailableError(f"{peer.name} unreachable ({type(exc).__name__}: {exc})") from exc


class PeerClient:
    """Signed requests to peers. Network failures and bad answers become :class:`PeerUnavailableError`.

    The requests travel through ``exchange`` (HTTP over ``session`` when none is given)."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        key: Callable[[], SigningKey],
        origin: str,
        clock: Clock = wall_clock_ms,
        timeout: float = 20.0,
        *,
        exchange: Exchange | None = None,
    ) -> None:
        if exchange is None:
            if session is None:
                raise ValueError("a PeerClient needs an HTTP session or an exchange")
            exchange = HttpExchange(session, timeout)
        self.exchange = exchange
        self.key = key
        self.origin = origin
        self.clock = clock

    async def call(self, peer: Peer, method: str, path: str, payload: Value = None) -> Value:
        _, value, _ = await self._exchange(peer, method, path, payload)
        return value

    async def _exchange(
        self, peer: Peer, method: str, path: str, payload: Value = None, if_none_match: str | None = None
    ) -> tuple[int, Value, str | None]:
        """A signed request: (status, decoded answer, its ETag). A 304 (only asked for with ``if_none_match``)
        answers (304, None, the ETag)."""
        body = canonical.encode(payload) if payload is not None else b""
        headers = sign_request(
            self.key(),
            method=method,
            path=path,
            origin=self.origin,
            destination=peer.name,
            time=self.clock(),
            nonce=secrets.token_urlsafe(18),
            body=body,
        )
        headers["Content-Type"] = CONTENT_TYPE
        if if_none_match is not None:
            headers["If-None-Match"] = if_none_match
        status, raw, etag = await self.exchange(peer, method, path, body, headers)
        if status == 304 and if_none_match is not None:
            return 304, None, etag
        if status != 200:
            reason = raw[:300].decode("utf-8", "replace")
            if 400 <= status < 500 and status not in RETRYABLE_4XX:
                code, message = _error_of(raw)
                raise RefusedByPeerError(peer.name, status, code, f"{method} {path}: {message}")
            raise PeerUnavailableError(f"{peer.name} answered {status} to {method} {path}: {reason}")
        if len(raw) > MAX_BODY:
            raise PeerUnavailableError(f"{peer.name} sent an answer larger than {MAX_BODY} bytes")
        try:
            return 200, canonical.decode(raw, canonical.Limits(max_array=100_000, max_bin=MAX_BODY)), etag
        except InvalidInputError as exc:
            raise PeerUnavailableError(f"{peer.name} sent an undecodable answer: {exc}") from exc

    async def heads_if_changed(
        self, peer: Peer, etag: str | None
    ) -> tuple[dict[str, tuple[int, bytes]] | None, str | None]:
        """The peer's heads and their ETag; (None, etag) when they are still those of ``etag`` (a 304: nothing to
        decode or compare, docs/PROTOCOL.md "Conditional heads")."""
        status, value, new_etag = await self._exchange(peer, "GET", "/federation/v1/heads", None, etag)
        if status == 304:
            return None, new_etag or etag
        return parse_heads(value, peer.name), new_etag

    async def heads(self, peer: Peer) -> dict[str, tuple[int, bytes]]:
        value = await self.call(peer, "GET", "/federation/v1/heads")
        return parse_heads(value, peer.name)

    async def log(self, peer: Peer, origin: str, after: int, limit: int) -> list[bytes]:
        value = await self.call(peer, "GET", f"/federation/v1/log/{origin}?after={after}&limit={limit}")
        if not isinstance(value, list) or not all(isinstance(b, bytes) for b in value):
            raise PeerUnavailableError(f"{peer.name} sent a log page that is not an array of entries")
        return value  # type: ignore[return-value]

    async def push(self, peer: Peer, entries: list[bytes]) -> int:
        value = await self.call(peer, "POST", "/federation/v1/push", list(entries))
        if not isinstance(value, dict) or not isinstance(value.get("head"), int):
            raise PeerUnavailableError(f"{peer.name} answered a push without its head")
        head = value["head"]
        assert isinstance(head, int)
        return head

    async def direct(self, peer: Peer, entry: bytes) -> bool:
        """Deliver one direct record; whether it was new to the peer. A refusal is a :class:`RefusedByPeerError`
        (its ``code`` tells whether the record itself is wrong), anything else that fails a
        :class:`PeerUnavailableError`. A node of release 1.0 has no direct route: a message goes by its old one."""
        try:
            value = await self.call(peer, "POST", DIRECT_PATH, entry)
        except PeerUnavailableError as exc:
            if exc.status != 404 or decode_entry(entry, max_bytes=MAX_DIRECT_ENVELOPE_BYTES).header.type != "message":
                raise
            log.info("%s has no %s yet (release 1.0): message sent to %s", peer.name, DIRECT_PATH, MESSAGES_PATH)
            value = await self.call(peer, "POST", MESSAGES_PATH, entry)
        return isinstance(value, dict) and value.get("delivered") is True


def _error_of(raw: bytes) -> tuple[str, str]:
    """The (code, message) of a JSON error answer (docs/PROTOCOL.md §13), or a best effort from the raw text."""
    try:
        value = json.loads(raw[:65_536].decode("utf-8"))
        error = value["error"]
        return str(error["code"])[:64], str(error.get("message", ""))[:500]
    except (ValueError, KeyError, TypeError, AttributeError):
        return "refused", raw[:300].decode("utf-8", "replace")


async def read_limited(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """Read a whole body, but never more than ``limit`` + 1 bytes (the caller refuses anything over)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await stream.read(min(65_536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def parse_heads(value: Any, source: str) -> dict[str, tuple[int, bytes]]:
    if not isinstance(value, dict):
        raise PeerUnavailableError(f"{source} sent heads that are not a map")
    heads: dict[str, tuple[int, bytes]] = {}
    for origin, pair in value.items():
        if (
            isinstance(pair, list)
            and len(pair) == 2
            and isinstance(pair[0], int)
            and not isinstance(pair[0], bool)
            and isinstance(pair[1], bytes)
        ):
            heads[origin] = (pair[0], pair[1])
        else:
            raise PeerUnavailableError(f"{source} sent a malformed head for {origin}")
    return heads
