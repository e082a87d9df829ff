"""In-memory implementations of the federation ports, and a node built on them for in-process tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from federation.errors import RecordRefusedError
from federation.ports import Fork, OutboxItem, Peer, PeerHealth, PeerKey
from federation.service import FederationService
from protocol import RECORD_TYPES, Record, SigningKey, decode_entry, sign_entry, sign_handover

T0 = 1_790_000_000_000


class Clock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class MemoryLog:
    entries: dict[str, dict[int, bytes]] = field(default_factory=dict)
    forks: list[Fork] = field(default_factory=list)
    store_calls: int = 0
    replaced: list[tuple[str, int, int, int]] = field(default_factory=list)  # origin, from seq, dropped, taken
    # (origin, record id) -> seq of a tombstone applied outside the log (an origin whose records are not taken)
    deletions: dict[tuple[str, str], int] = field(default_factory=dict)

    async def heads(self) -> dict[str, tuple[int, bytes]]:
        out: dict[str, tuple[int, bytes]] = {}
        for origin, by_seq in self.entries.items():
            seq = 0
            while seq + 1 in by_seq:
                seq += 1
            if seq:
                out[origin] = (seq, decode_entry(by_seq[seq]).hash)
        return out

    async def read(self, origin: str, after: int, limit: int) -> list[bytes]:
        by_seq = self.entries.get(origin, {})
        return [by_seq[s] for s in sorted(by_seq) if s > after][:limit]

    async def entry(self, origin: str, seq: int) -> bytes | None:
        return self.entries.get(origin, {}).get(seq)

    async def store_run(self, records: Sequence[Record], received_at: int) -> None:
        self.store_calls += 1
        for r in records:
            held = self.entries.setdefault(r.origin, {}).get(r.seq)
            assert held is None, "store_run must only be given entries past the head"
            self.entries[r.origin][r.seq] = r.entry.encode()

    async def note_fork(self, fork: Fork) -> None:
        if not any((f.origin, f.seq, f.theirs) == (fork.origin, fork.seq, fork.theirs) for f in self.forks):
            self.forks.append(fork)

    async def replace_branch(self, origin: str, from_seq: int, records: Sequence[Record], received_at: int) -> int:
        held = self.entries.setdefault(origin, {})
        dropped = [seq for seq in held if seq >= from_seq]
        assert all(r.origin == origin for r in records)
        assert [r.seq for r in records] == list(range(from_seq, from_seq + len(records)))
        for seq in dropped:
            del held[seq]
        for r in records:
            held[r.seq] = r.entry.encode()
        self.replaced.append((origin, from_seq, len(dropped), len(records)))
        return len(dropped)

    def state(self, origin: str) -> dict[str, dict[str, Any] | None]:
        """Record id -> body of its newest entry (None once deleted): what a node's current states would hold."""
        out: dict[str, dict[str, Any] | None] = {}
        for seq in sorted(self.entries.get(origin, {})):
            entry = decode_entry(self.entries[origin][seq])
            out[entry.header.id] = None if entry.header.type == "tombstone" else entry.body_value()
        for (o, record_id), _ in self.deletions.items():
            if o == origin and record_id in out:
                out[record_id] = None
        return out

    async def drop_origin(self, origin: str) -> int:
        held = self.entries.get(origin, {})
        for seq, blob in held.items():
            held[seq] = decode_entry(blob).erased().encode()
        return len(held)

    async def apply_deletions(self, tombstones: Sequence[Record], received_at: int) -> int:
        for t in tombstones:
            held = self.entries.get(t.origin, {})
            for seq, blob in held.items():
                entry = decode_entry(blob)
                if entry.header.id == t.id and seq < t.seq:
                    held[seq] = entry.erased().encode()
            self.deletions[(t.origin, t.id)] = t.seq
        return len(tombstones)

    async def records_of_types(self, types: Sequence[str]) -> list[bytes]:
        found = [
            (decode_entry(blob).header.ts, origin, seq, blob)
            for origin, by_seq in self.entries.items()
            for seq, blob in by_seq.items()
            if decode_entry(blob).header.type in types
        ]
        return [blob for *_, blob in sorted(found)]


@dataclass
class MemoryPeers:
    peers: dict[str, Peer] = field(default_factory=dict)
    contacts: list[tuple[str, int, str | None]] = field(default_factory=list)
    refusals: list[tuple[str, int, str, int]] = field(default_factory=list)

    async def list_peers(self) -> list[Peer]:
        return list(self.peers.values())

    async def save_peer(self, peer: Peer) -> None:
        self.peers[peer.name] = peer

    async def record_contact(self, name: str, *, at: int, error: str | None, lag: int | None = None) -> None:
        self.contacts.append((name, at, error))

    async def record_refusal(self, name: str, *, at: int, reason: str, dropped: int) -> None:
        self.refusals.append((name, at, reason, dropped))

    async def health(self) -> list[PeerHealth]:
        return []


@dataclass
class MemoryOutbox:
    items: dict[int, OutboxItem] = field(default_factory=dict)
    due_at: dict[int, int] = field(default_factory=dict)
    refusals: dict[int, tuple[OutboxItem, str]] = field(default_factory=dict)  # set aside: item, reason
    next_id: int = 1

    async def enqueue(self, peer: str, kind: str, payload: bytes, at: int) -> None:
        self.items[self.next_id] = OutboxItem(self.next_id, peer, kind, payload, 0)
        self.due_at[self.next_id] = at
        self.next_id += 1

    async def due(self, peer: str, now: int, limit: int) -> list[OutboxItem]:
        ids = sorted(i for i, item in self.items.items() if item.peer == peer and self.due_at[i] <= now)
        return [self.items[i] for i in ids[:limit]]

    async def next_due(self, peer: str) -> int | None:
        times = [self.due_at[i] for i, item in self.items.items() if item.peer == peer]
        return min(times) if times else None

    async def done(self, ids: Sequence[int]) -> None:
        for i in ids:
            self.items.pop(i, None)

    # ---- several peers at once (the delivery loops' shared bookkeeping)
    batches: list[tuple[str, int]] = field(default_factory=list)  # (due_many | delivered, peers in the call)
    peers: MemoryPeers | None = None  # where delivered() records contacts (set by MemoryNode)

    async def due_many(
        self, peers: Sequence[str], now: int, limit: int
    ) -> dict[str, tuple[list[OutboxItem], int | None]]:
        self.batches.append(("due_many", len(peers)))
        out: dict[str, tuple[list[OutboxItem], int | None]] = {}
        for peer in peers:
            items = await self.due(peer, now, limit)
            later = [self.due_at[i] for i, item in self.items.items() if item.peer == peer and self.due_at[i] > now]
            if len(items) >= limit:
                out[peer] = (items, now)
            elif items:
                out[peer] = (items, min(later) if later else None)
            else:
                out[peer] = (items, await self.next_due(peer))
        return out

    async def delivered(self, ids: Sequence[int], contacts: Sequence[tuple[str, int]]) -> None:
        self.batches.append(("delivered", len(contacts)))
        await self.done(ids)
        if self.peers is not None:
            for peer, at in contacts:
                await self.peers.record_contact(peer, at=at, error=None)

    async def failed(self, ids: Sequence[int], *, next_attempt_at: int, error: str) -> None:
        for i in ids:
            self.items[i].attempts += 1
            self.due_at[i] = next_attempt_at

    async def refused(self, ids: Sequence[int], *, error: str, at: int) -> None:
        for i in ids:
            item = self.items.pop(i, None)
            if item is not None:
                self.refusals[i] = (item, error)
            self.due_at.pop(i, None)


@dataclass
class MemoryInbox:
    messages: dict[tuple[str, str], Record] = field(default_factory=dict)

    async def deliver(self, record: Record, received_at: int) -> bool:
        assert record.body is not None
        if record.body.get("to_member") == "nobody":
            raise LookupError("no member nobody here")
        if record.body.get("text") == "refuse me":
            raise RecordRefusedError("this inbox refuses it for good")
        key = (record.origin, record.id)
        fresh = key not in self.messages
        self.messages[key] = record
        return fresh


@dataclass
class MemoryInvitations:
    tokens: dict[bytes, bool] = field(default_factory=dict)

    def create(self, token: str) -> None:
        self.tokens[hashlib.sha256(token.encode()).digest()] = False

    async def consume(self, token_hash: bytes, now: int) -> bool:
        if self.tokens.get(token_hash) is False:
            self.tokens[token_hash] = True
            return True
        return False


class MemoryNode:
    """A node whose storage is in memory: enough to exercise federation over real HTTP, in one process."""

    def __init__(self, name: str, seed: int, clock: Clock) -> None:
        self.name = name
        self.key = SigningKey.from_seed(bytes([seed]) * 32)
        self.clock = clock
        self.log = MemoryLog()
        self.peer_store = MemoryPeers()
        self.outbox = MemoryOutbox()
        self.outbox.peers = self.peer_store
        self.inbox = MemoryInbox()
        self.invitations = MemoryInvitations()
        self.url = ""
        self.proposals: list[str] = []
        self.service = FederationService(
            name=name,
            key=lambda: self.key,
            log_store=self.log,
            peers=self.peer_store,
            outbox=self.outbox,
            inbox=self.inbox,
            invitations=self.invitations,
            documents=self,
            clock=clock,
            anti_entropy_seconds=3600,
            proposer=self,
        )

    def as_peer(self) -> Peer:
        return Peer(self.name, self.url, keys=[PeerKey(self.key.public_bytes)])

    async def own_document(self) -> bytes:
        for blob in reversed(list(self.log.entries.get(self.name, {}).values())):
            if decode_entry(blob).header.type == "node":
                return blob
        raise LookupError("no node document")

    def sign(self, type_: str, record_id: str, body: dict[str, Any], seq: int, prev: bytes | None) -> bytes:
        return sign_entry(
            self.key,
            type=type_,
            type_version=RECORD_TYPES[type_].version,
            origin=self.name,
            id=record_id,
            seq=seq,
            created=self.clock(),
            ts=self.clock(),
            prev=prev,
            body=body,
        ).encode()

    async def publish(self, type_: str, record_id: str, body: dict[str, Any], notify: bool = True) -> int:
        heads = await self.log.heads()
        seq, prev = heads.get(self.name, (0, None))
        blob = self.sign(type_, record_id, body, seq + 1, prev)
        self.log.entries.setdefault(self.name, {})[seq + 1] = blob
        for peer in self.peer_store.peers.values():
            if peer.name != self.name:
                await self.outbox.enqueue(peer.name, "entry", _payload(self.name, seq + 1), self.clock())
        if type_ in ("proposal", "admission_vote"):
            entry = decode_entry(blob)
            await self.service.governance.on_record(Record(entry, entry.body_value()))
        if notify:
            self.service.notify()
        return seq + 1

    async def propose_admission(self, candidate: dict[str, object]) -> str:
        record_id = f"p-{len(self.proposals) + 1}"
        body = {"kind": "admission", "subject": candidate["subject"], "deadline": self.clock() + 14 * 86_400_000}
        body["candidate"] = candidate["candidate"]
        await self.publish("proposal", record_id, body)
        self.proposals.append(record_id)
        return f"{self.name}/{record_id}"

    def document(self, keys: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.name.title(),
            "url": self.url or "http://127.0.0.1:1",
            "protocol_versions": [1],
            "keys": keys,
            **extra,
        }

    def handover_body(self, old: SigningKey, new: SigningKey, seq: int, prev: bytes | None) -> dict[str, Any]:
        """The body of a hand-over from ``old`` to ``new`` placed at (seq, prev): signed by ``new``, with the old
        key's signature over the position and the new key (docs/PROTOCOL.md §7)."""
        now = self.clock()
        return self.document(
            [
                {
                    "kid": old.kid,
                    "public_key": old.public_bytes,
                    "not_before": 0,
                    "not_after": now,
                    "last_seq": seq - 1,
                },
                {"kid": new.kid, "public_key": new.public_bytes, "not_before": now, "first_seq": seq},
            ],
            handover=sign_handover(old, origin=self.name, seq=seq, prev=prev, new_key=new.public_bytes),
        )

    async def hand_over(self, new: SigningKey, *, revoke: bool = True, notify: bool = True) -> int:
        """Rotate to ``new`` the safe way: the hand-over, then (``revoke``) the old key's revocation, signed by
        the new key. Returns the hand-over's seq."""
        old = self.key
        seq, prev = (await self.log.heads()).get(self.name, (0, None))
        self.key = new
        body = self.handover_body(old, new, seq + 1, prev)
        at = await self.publish("node", "node", body, notify=notify and not revoke)
        if revoke:
            await self.publish(
                "key_revocation",
                f"revocation-{old.kid}",
                {"kid": old.kid, "revoked_at": self.clock(), "reason": "compromised", "replacement": new.kid},
                notify=notify,
            )
        return at

    def forge(
        self,
        key: SigningKey,
        type_: str,
        record_id: str,
        body: dict[str, Any],
        seq: int,
        prev: bytes | None,
        *,
        ts: int | None = None,
    ) -> bytes:
        """An entry of this origin signed with ``key`` (a thief's), at any position and date."""
        when = self.clock() if ts is None else ts
        return sign_entry(
            key,
            type=type_,
            type_version=RECORD_TYPES[type_].version,
            origin=self.name,
            id=record_id,
            seq=seq,
            created=when,
            ts=when,
            prev=prev,
            body=body,
        ).encode()

    async def publish_document(self) -> None:
        await self.publish(
            "node",
            "node",
            {
                "name": self.name,
                "display_name": self.name.title(),
                "url": self.url or "http://127.0.0.1:1",
                "protocol_versions": [1],
                "keys": [{"kid": self.key.kid, "public_key": self.key.public_bytes, "not_before": 0}],
            },
            notify=False,
        )


def _payload(origin: str, seq: int) -> bytes:
    from federation.outbox import entry_payload

    return entry_payload(origin, seq)
