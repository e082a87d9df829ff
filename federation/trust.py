"""Who is in the network and with which keys: the resolver every verification goes through.

The trust store is an in-memory view of the peers table, kept current as node documents and key revocations
arrive in the logs. Keys come from three places, in the order trust is built: the network file or an invitation
(the anchor), then each origin's own ``node`` documents (rotation: a document signed by a valid key may add a
key and close the old one's window), then ``key_revocation`` records (a compromised key stops counting from its
revocation time, for every node that has applied the revocation).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from protocol import KeyInfo, Record, UnknownKeyError, VerifyKey, key_id
from protocol.canonical import Value

from .errors import SuspendedPeerError, UnknownPeerError
from .ports import MEMBER, Peer, PeerKey

log = logging.getLogger(__name__)

TRUST_TYPES = frozenset({"node", "key_revocation"})


class TrustStore:
    """Implements :class:`protocol.KeyResolver` over the known nodes."""

    def __init__(self, self_name: str) -> None:
        self.self_name = self_name
        self._peers: dict[str, Peer] = {}
        self._keys: dict[tuple[str, str], KeyInfo] = {}

    # ---------------------------------------------------------------------------------------------- loading

    def load(self, peers: Iterable[Peer]) -> None:
        for peer in peers:
            self.put(peer)

    def put(self, peer: Peer) -> None:
        self._peers[peer.name] = peer
        for kid in [k for (origin, k) in self._keys if origin == peer.name]:
            del self._keys[(peer.name, kid)]
        for k in peer.keys:
            info = KeyInfo(VerifyKey.from_bytes(k.public_key), k.not_before, k.not_after, k.revoked_at)
            self._keys[(peer.name, info.key.kid)] = info

    def peer(self, name: str) -> Peer | None:
        return self._peers.get(name)

    def peers(self) -> list[Peer]:
        return list(self._peers.values())

    def direct_members(self) -> list[Peer]:
        return [p for p in self._peers.values() if p.direct and p.status == MEMBER and p.name != self.self_name]

    # -------------------------------------------------------------------------------------------- resolving

    def resolve(self, origin: str, kid: str) -> KeyInfo:
        try:
            return self._keys[(origin, kid)]
        except KeyError:
            raise UnknownKeyError(f"no key {kid} known for origin {origin}") from None

    def require_member(self, origin: str) -> Peer:
        """The peer named ``origin`` if it may talk to us now; else the precise refusal."""
        peer = self._peers.get(origin)
        if peer is None:
            raise UnknownPeerError(f"{origin} is not a node of this network")
        if peer.status != MEMBER:
            raise SuspendedPeerError(f"{origin} is {peer.status}")
        return peer

    def accepts_records_from(self, origin: str) -> bool:
        peer = self._peers.get(origin)
        return peer is not None and peer.status == MEMBER

    # ------------------------------------------------------------------------------------- learning from logs

    def apply(self, record: Record) -> Peer | None:
        """Update keys from a verified ``node`` or ``key_revocation`` record; the changed peer, to persist."""
        peer = self._peers.get(record.origin)
        if peer is None or record.body is None:
            return None
        if record.type == "node":
            changed = self._apply_node_document(peer, record.body)
        elif record.type == "key_revocation":
            changed = self._apply_revocation(peer, record.body)
        else:
            return None
        if changed:
            self.put(peer)
            return peer
        return None

    def _apply_node_document(self, peer: Peer, body: dict[str, Value]) -> bool:
        keys = body.get("keys")
        if not isinstance(keys, list) or not keys:
            return False
        known = {key_id(k.public_key): k for k in peer.keys}
        for item in keys:
            if not isinstance(item, dict) or not isinstance(item.get("public_key"), bytes):
                continue
            public = item["public_key"]
            assert isinstance(public, bytes)
            new = PeerKey(
                public_key=public,
                not_before=_int(item.get("not_before")) or 0,
                not_after=_int(item.get("not_after")),
                revoked_at=_int(item.get("revoked_at")),
            )
            old = known.get(key_id(public))
            if old is not None and old.revoked_at is not None:
                # A revocation is never undone by a later document (it may have been signed with that key).
                new.revoked_at = old.revoked_at if new.revoked_at is None else min(old.revoked_at, new.revoked_at)
            known[key_id(public)] = new
        url, name = body.get("url"), body.get("display_name")
        if isinstance(url, str):
            peer.url = url.rstrip("/")
        if isinstance(name, str):
            peer.display_name = name
        peer.keys = list(known.values())
        log.info("keys of %s updated from its node document: %s", peer.name, sorted(known))
        return True

    def _apply_revocation(self, peer: Peer, body: dict[str, Value]) -> bool:
        kid, revoked_at = body.get("kid"), _int(body.get("revoked_at"))
        for k in peer.keys:
            if key_id(k.public_key) == kid and revoked_at is not None:
                k.revoked_at = revoked_at if k.revoked_at is None else min(k.revoked_at, revoked_at)
                log.warning("key %s of %s revoked from %d (%s)", kid, peer.name, revoked_at, body.get("reason"))
                return True
        log.warning("revocation of unknown key %s of %s ignored", kid, peer.name)
        return False


def _int(value: Value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
