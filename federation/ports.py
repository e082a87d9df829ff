"""What federation needs from storage, as small interfaces the node implements (and tests fake in memory).

Keeping these narrow is what lets ``federation`` be tested without a database and lets the node change its
schema freely: replication needs a log it can read and extend atomically, peers with health, a durable outbox
and an inbox, nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from protocol import Record

MEMBER, SUSPENDED, LEFT = "member", "suspended", "left"


@dataclass(slots=True)
class PeerKey:
    public_key: bytes
    not_before: int = 0
    not_after: int | None = None
    revoked_at: int | None = None


@dataclass(slots=True)
class Peer:
    """A node of the network. ``direct`` peers are the ones this node talks to; others are known origins."""

    name: str
    url: str
    status: str = MEMBER
    keys: list[PeerKey] = field(default_factory=list)
    direct: bool = True
    display_name: str = ""


@dataclass(slots=True)
class PeerHealth:
    name: str
    url: str
    status: str
    last_success: int | None
    last_error: str | None
    last_error_at: int | None
    queue_depth: int
    lag: int  # entries of any origin the peer has and we do not (at the last look), or -1 if unknown


@dataclass(slots=True)
class OutboxItem:
    id: int
    peer: str
    kind: str  # "entry": payload is canonical [origin, seq]; "direct": payload is the direct record's entry
    payload: bytes
    attempts: int


@dataclass(slots=True)
class Fork:
    origin: str
    seq: int
    ours: bytes  # both entries, encoded: the evidence
    theirs: bytes
    reported_by: str
    at: int


class LogPort(Protocol):
    async def heads(self) -> dict[str, tuple[int, bytes]]:
        """Per origin, (seq, entry hash) of the highest entry held with all earlier ones."""
        ...

    async def read(self, origin: str, after: int, limit: int) -> list[bytes]:
        """Encoded entries of ``origin`` with seq > after, in order."""
        ...

    async def entry(self, origin: str, seq: int) -> bytes | None: ...

    async def store_run(self, records: Sequence[Record], received_at: int) -> None:
        """Store a verified run that continues the origin's head exactly, atomically (all or nothing)."""
        ...

    async def note_fork(self, fork: Fork) -> None: ...

    async def drop_origin(self, origin: str) -> int:
        """Forget the content of every record of ``origin`` (the charter drops a suspended node's records):
        bodies and current states go, the signed headers stay so that the chain still links."""
        ...

    async def records_of_types(self, types: Sequence[str]) -> list[bytes]:
        """Every held entry (with its body) of these types, any origin, oldest first: to rebuild governance."""
        ...


class PeerPort(Protocol):
    async def list_peers(self) -> list[Peer]: ...

    async def save_peer(self, peer: Peer) -> None: ...

    async def record_contact(self, name: str, *, at: int, error: str | None, lag: int | None = None) -> None: ...

    async def health(self) -> list[PeerHealth]: ...


class OutboxPort(Protocol):
    async def due(self, peer: str, now: int, limit: int) -> list[OutboxItem]: ...

    async def next_due(self, peer: str) -> int | None:
        """When the earliest pending item of ``peer`` may be tried, or None when its queue is empty."""
        ...

    async def done(self, ids: Sequence[int]) -> None: ...

    async def failed(self, ids: Sequence[int], *, next_attempt_at: int, error: str) -> None: ...

    async def refused(self, ids: Sequence[int], *, error: str, at: int) -> None:
        """Set items aside that the peer refused for good: kept with the reason, never tried again."""
        ...

    async def enqueue(self, peer: str, kind: str, payload: bytes, at: int) -> None: ...


class InboxPort(Protocol):
    async def deliver(self, record: Record, received_at: int) -> bool:
        """Take in a verified direct record addressed to this node (any direct type); False when it was already
        delivered (idempotent). Raise :class:`federation.errors.RecordRefusedError` to refuse it for good
        (a :class:`LookupError` is an unknown recipient)."""
        ...


class InvitationPort(Protocol):
    async def consume(self, token_hash: bytes, now: int) -> bool:
        """Mark an invitation used; False when unknown, used or expired."""
        ...


class ProposerPort(Protocol):
    async def propose_admission(self, candidate: dict[str, object]) -> str:
        """Publish an admission proposal for a candidate this node sponsors; the proposal's origin/id."""
        ...


class NodeDocumentPort(Protocol):
    async def own_document(self) -> bytes:
        """This node's newest ``node`` entry, encoded."""
        ...
