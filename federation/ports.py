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
    """One key of a peer as stored: its base window, where it came from and the narrowings since (see
    :class:`protocol.keystate.KeyRecord`, which this persists). Built with only the first four fields, it is an
    out-of-band key (network file, invitation, decision) valid from seq 1."""

    public_key: bytes
    not_before: int = 0
    not_after: int | None = None
    revoked_at: int | None = None
    first_seq: int = 1
    last_seq: int | None = None
    since: int = 0
    parent: str = ""
    recovered_at: int | None = None
    events: list[tuple[int, str, int]] = field(default_factory=list)


_NARROWED = ("not_after", "revoked_at", "last_seq")


def peer_key_to_json(k: PeerKey) -> dict[str, object]:
    """A key as the node stores it (JSON): the EFFECTIVE window at the top level, so that a reader that knows
    nothing of chain events sees what counts now; the base window and the events beside it, to rebuild the key
    state exactly (a fork repair rolls events back)."""
    effective: dict[str, int | None] = {name: getattr(k, name) for name in _NARROWED}
    for _, name, value in k.events:
        current = effective.get(name)
        effective[name] = value if current is None else min(current, value)
    out: dict[str, object] = {
        "public_key": k.public_key.hex(),
        "not_before": k.not_before,
        "not_after": effective["not_after"],
        "revoked_at": effective["revoked_at"],
        "first_seq": k.first_seq,
        "last_seq": effective["last_seq"],
    }
    if k.since:
        out["since"] = k.since
    if k.parent:
        out["parent"] = k.parent
    if k.recovered_at is not None:
        out["recovered_at"] = k.recovered_at
    if k.events:
        out["events"] = [[seq, name, value] for seq, name, value in k.events]
        out["base"] = {name: getattr(k, name) for name in _NARROWED}
    return out


def peer_key_from_json(item: dict[str, object]) -> PeerKey:
    """The inverse of :func:`peer_key_to_json`; also reads the rows written before chain positions existed."""
    base = item.get("base") if isinstance(item.get("base"), dict) else item
    assert isinstance(base, dict)
    events = item.get("events")
    return PeerKey(
        public_key=bytes.fromhex(str(item["public_key"])),
        not_before=_int(item.get("not_before")) or 0,
        not_after=_int(base.get("not_after")),
        revoked_at=_int(base.get("revoked_at")),
        first_seq=_int(item.get("first_seq")) or 1,
        last_seq=_int(base.get("last_seq")),
        since=_int(item.get("since")) or 0,
        parent=str(item.get("parent") or ""),
        recovered_at=_int(item.get("recovered_at")),
        events=[(int(e[0]), str(e[1]), int(e[2])) for e in events] if isinstance(events, list) else [],
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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

    async def replace_branch(self, origin: str, from_seq: int, records: Sequence[Record], received_at: int) -> int:
        """Drop the entries of ``origin`` from ``from_seq`` on and store ``records`` (verified, continuing seq
        ``from_seq`` - 1) in their place, atomically: a fork repair (docs/PROTOCOL.md §6.1). The records of the
        dropped entries leave the current states and the search index, or go back to their newest state before
        ``from_seq``. Returns the number of entries dropped."""
        ...

    async def drop_origin(self, origin: str) -> int:
        """Forget the content of every record of ``origin`` (the charter drops a suspended node's records):
        bodies and current states go, the signed headers stay so that the chain still links."""
        ...

    async def apply_deletions(self, tombstones: Sequence[Record], received_at: int) -> int:
        """Apply verified tombstones of an origin whose log is no longer taken (suspended or left), without
        storing them in its log: each deleted record's state and search documents go, and the bodies of its
        entries held. A tombstone of a record held at a newer seq changes nothing. Returns how many records were
        deleted (or were already). Atomic."""
        ...

    async def records_of_types(self, types: Sequence[str]) -> list[bytes]:
        """Every held entry (with its body) of these types, any origin, oldest first: to rebuild governance."""
        ...


class PeerPort(Protocol):
    async def list_peers(self) -> list[Peer]: ...

    async def save_peer(self, peer: Peer) -> None: ...

    async def record_contact(self, name: str, *, at: int, error: str | None, lag: int | None = None) -> None: ...

    async def record_refusal(self, name: str, *, at: int, reason: str, dropped: int) -> None:
        """The peer refused a delivery for good (a 4xx other than 408 and 429): ``dropped`` outbox items were
        removed. Kept where operators see the peer's health."""
        ...

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

    # The delivery loops' bookkeeping, several peers at once (one transaction whatever their number): the cost of
    # an update for its author must not grow with the number of peers it is pushed to.

    async def due_many(
        self, peers: Sequence[str], now: int, limit: int
    ) -> dict[str, tuple[list[OutboxItem], int | None]]:
        """Per peer: its items due at ``now`` (at most ``limit``, oldest first) and when the earliest pending item
        not among them may be tried (None: there is none), read in one transaction."""
        ...

    async def delivered(self, ids: Sequence[int], contacts: Sequence[tuple[str, int]]) -> None:
        """Remove confirmed items and record each (peer, at) as that peer's last successful contact, in one
        transaction."""
        ...


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
