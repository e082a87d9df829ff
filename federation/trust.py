"""Who is in the network and with which keys: the resolver every verification goes through.

The trust store is an in-memory view of the peers table, kept current as node documents and key revocations
arrive in the logs. Keys come from three places, in the order trust is built: the network file or an invitation
(the anchor, *out-of-band*), then each origin's own chain, applied in seq order by
:class:`protocol.keystate.OriginKeys` (a hand-over moves the origin to a new key and stops the old one before
its seq; a document may add a key or narrow one; a revocation revokes a key and stops it before its seq), and
the network's own key recovery decisions. Key windows are bounded by chain position as well as by time, so a
stolen key cannot place anything after the point where it was replaced or revoked, whatever date it signs.

Each peer's keys are persisted (:class:`federation.ports.PeerKey`) with the seq of every change, so the state
as of any earlier position can be rebuilt exactly (:meth:`TrustStore.keys`, then ``rollback``): that is what a
fork repair verifies the other branch with.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from protocol import (
    Entry,
    InvalidInputError,
    KeyInfo,
    KeyRecord,
    OriginKeys,
    Record,
    UnknownKeyError,
    VerifyKey,
    verify,
)
from protocol.canonical import Value
from protocol.keystate import KEY_TYPES

from .errors import SuspendedPeerError, UnknownPeerError
from .ports import LEFT, MEMBER, SUSPENDED, Peer, PeerKey

log = logging.getLogger(__name__)

#: Types that change trust: keys (node, key_revocation) and fork repairs (which lift fork blocks).
TRUST_TYPES = KEY_TYPES | {"fork_repair"}


def record_of(k: PeerKey) -> KeyRecord:
    return KeyRecord(
        VerifyKey.from_bytes(k.public_key),
        not_before=k.not_before,
        not_after=k.not_after,
        revoked_at=k.revoked_at,
        first_seq=k.first_seq,
        last_seq=k.last_seq,
        since=k.since,
        parent=k.parent,
        recovered_at=k.recovered_at,
        events=list(k.events),
    )


def peer_key_of(r: KeyRecord) -> PeerKey:
    return PeerKey(
        public_key=r.key.public_bytes,
        not_before=r.not_before,
        not_after=r.not_after,
        revoked_at=r.revoked_at,
        first_seq=r.first_seq,
        last_seq=r.last_seq,
        since=r.since,
        parent=r.parent,
        recovered_at=r.recovered_at,
        events=list(r.events),
    )


class TrustStore:
    """Implements :class:`protocol.KeyResolver` over the known nodes."""

    def __init__(self, self_name: str) -> None:
        self.self_name = self_name
        self._peers: dict[str, Peer] = {}
        self._keys: dict[str, OriginKeys] = {}
        self._generation: dict[str, int] = {}  # bumped at every change of an origin's keys

    # ---------------------------------------------------------------------------------------------- loading

    def load(self, peers: Iterable[Peer]) -> None:
        for peer in peers:
            self.put(peer)

    def put(self, peer: Peer) -> None:
        self._peers[peer.name] = peer
        self._set(peer.name, OriginKeys(peer.name, [record_of(k) for k in peer.keys]))

    def _set(self, origin: str, keys: OriginKeys) -> None:
        self._keys[origin] = keys
        self._generation[origin] = self._generation.get(origin, 0) + 1

    def peer(self, name: str) -> Peer | None:
        return self._peers.get(name)

    def peers(self) -> list[Peer]:
        return list(self._peers.values())

    def direct_members(self) -> list[Peer]:
        return [p for p in self._peers.values() if p.direct and p.status == MEMBER and p.name != self.self_name]

    def direct_departed(self) -> list[Peer]:
        """Direct peers that are suspended or have left: only what erasure needs still goes to them."""
        return [
            p for p in self._peers.values() if p.direct and p.status in (SUSPENDED, LEFT) and p.name != self.self_name
        ]

    # -------------------------------------------------------------------------------------------- resolving

    def resolve(self, origin: str, kid: str) -> KeyInfo:
        keys = self._keys.get(origin)
        if keys is None:
            raise UnknownKeyError(f"no key {kid} known for origin {origin}")
        return keys.resolve(origin, kid)

    def keys(self, origin: str) -> OriginKeys:
        """A copy of ``origin``'s key state, to verify a run with (and :meth:`commit` once it is stored)."""
        keys = self._keys.get(origin)
        return keys.copy() if keys is not None else OriginKeys(origin)

    def generation(self, origin: str) -> int:
        """Changes whenever ``origin``'s keys change: what a state from :meth:`keys` was based on."""
        return self._generation.get(origin, 0)

    def require_member(self, origin: str) -> Peer:
        """The peer named ``origin`` if it may talk to us now; else the precise refusal."""
        peer = self._peers.get(origin)
        if peer is None:
            raise UnknownPeerError(f"{origin} is not a node of this network")
        if peer.status != MEMBER:
            raise SuspendedPeerError(f"{origin} is {peer.status}")
        return peer

    def require_known(self, origin: str) -> Peer:
        """The peer named ``origin``, whatever its status (a suspended or departed node may still push the
        deletions of its records, which are always taken: docs/PROTOCOL.md §6.2); else the refusal."""
        peer = self._peers.get(origin)
        if peer is None:
            raise UnknownPeerError(f"{origin} is not a node of this network")
        return peer

    def takes_deletions_only(self, origin: str) -> bool:
        """True for an origin whose records are no longer taken (suspended, or left) but whose deletions are."""
        peer = self._peers.get(origin)
        return peer is not None and peer.status in (SUSPENDED, LEFT) and origin != self.self_name

    def accepts_records_from(self, origin: str) -> bool:
        peer = self._peers.get(origin)
        return peer is not None and peer.status == MEMBER

    # ------------------------------------------------------------------------------------- learning from logs

    def commit(
        self,
        origin: str,
        keys: OriginKeys,
        *,
        basis: int | None = None,
        records: Iterable[Record] = (),
        rollback_to: int | None = None,
    ) -> Peer | None:
        """Make ``keys`` (a state computed from a stored run) the origin's; the peer to persist if it changed.

        ``basis`` is :meth:`generation` when the state was copied. If the origin's keys changed since (a key
        recovery decided meanwhile), ``keys`` is not taken as is: the effects of ``records`` (the stored run) are
        applied to the state as it is now, rolled back to ``rollback_to`` first for a branch switch.
        """
        peer = self._peers.get(origin)
        if peer is None:
            return None
        current = self._keys.get(origin, OriginKeys(origin))
        if basis is not None and basis != self.generation(origin):
            keys = current.rollback(rollback_to) if rollback_to is not None else current.copy()
            for record in records:
                if record.type in KEY_TYPES:
                    keys.apply(record.entry, record.body)
        before = [peer_key_of(r) for r in current.records()]
        after = [peer_key_of(r) for r in keys.records()]
        if before == after:
            self._keys[origin] = keys
            return None
        self._set(origin, keys)
        peer.keys = after
        log.info("keys of %s: %s", origin, _describe(keys))
        return peer

    def apply(self, record: Record) -> Peer | None:
        """Apply a verified, stored trust record of its origin (a replay at start-up, in seq order); the changed
        peer, to persist. A node document also updates the peer's URL and display name."""
        peer = self._peers.get(record.origin)
        if peer is None or record.body is None or record.type not in KEY_TYPES:
            return None
        keys = self.keys(record.origin)
        keys.apply(record.entry, record.body)
        changed = self.commit(record.origin, keys)
        if record.type == "node" and self.describe_from_document(peer, record.body):
            changed = peer
        return changed

    def describe_from_document(self, peer: Peer, body: Mapping[str, Value]) -> bool:
        """Take the URL and display name a verified node document gives; True if they changed."""
        url, name = body.get("url"), body.get("display_name")
        changed = False
        if isinstance(url, str) and url.rstrip("/") != peer.url:
            peer.url = url.rstrip("/")
            changed = True
        if isinstance(name, str) and name != peer.display_name:
            peer.display_name = name
            changed = True
        return changed

    def introduced_key(self, origin: str, kid: str, entries: Iterable[Entry]) -> KeyInfo | None:
        """The key ``kid`` of ``origin`` as ``entries`` introduce it: node documents of that origin (a hand-over,
        or a document signed by a key we hold that lists it), each verified with the keys we hold and applied in
        turn. Only to check a request signed with a key its own body brings; nothing here is stored."""
        keys = self.keys(origin)
        for entry in entries:
            if entry.header.origin != origin or entry.header.type != "node":
                continue
            try:
                verify(entry, keys)
                keys.apply(entry, entry.body_value())
            except InvalidInputError:
                continue
            if kid in keys:
                return keys.resolve(origin, kid)
        return None

    def recover(self, origin: str, public_key: bytes, at: int) -> Peer | None:
        """A key recovery the network decided: ``public_key`` is the origin's key, every other one revoked."""
        keys = self.keys(origin)
        keys.recover(public_key, at)
        return self.commit(origin, keys)


def _describe(keys: OriginKeys) -> str:
    parts = []
    for r in keys.records():
        info = r.info()
        window = f"seq {info.first_seq}..{info.last_seq if info.last_seq is not None else ''}"
        parts.append(f"{r.kid} ({window}{', revoked' if info.revoked else ''})")
    return ", ".join(sorted(parts))
