"""Node documents: how a peer (its name, URL and keys) is read from a self-signed ``node`` entry."""

from __future__ import annotations

from protocol import KeyInfo, Keyring, MalformedError, VerifyKey, check_body, decode_entry, key_id, verify

from .ports import Peer, PeerKey


def peer_from_document(blob: object) -> Peer:
    """A peer from a self-signed ``node`` entry: verified with a key its own body lists. Its keys, with the windows
    the document gives (chain positions included, release 1.1), are out-of-band keys of that peer."""
    if not isinstance(blob, bytes):
        raise MalformedError("expected a node document entry")
    entry = decode_entry(blob)
    body = check_body(entry)
    if entry.header.type != "node" or body is None:
        raise MalformedError("not a node document")
    if body.get("name") != entry.header.origin:
        raise MalformedError("a node document's name must be its origin")
    keys: list[PeerKey] = []
    ring = Keyring()
    for item in body.get("keys") or []:  # type: ignore[union-attr]
        assert isinstance(item, dict)
        public = item["public_key"]
        assert isinstance(public, bytes)
        if key_id(public) != item.get("kid"):
            raise MalformedError("a key's kid does not match its public key")
        k = PeerKey(
            public,
            int(item.get("not_before") or 0),  # type: ignore[arg-type]
            item.get("not_after"),  # type: ignore[arg-type]
            item.get("revoked_at"),  # type: ignore[arg-type]
            first_seq=int(item.get("first_seq") or 1),  # type: ignore[arg-type]
            last_seq=item.get("last_seq"),  # type: ignore[arg-type]
        )
        keys.append(k)
        info = KeyInfo(VerifyKey.from_bytes(public), k.not_before, k.not_after, k.revoked_at, k.first_seq, k.last_seq)
        ring.add(entry.header.origin, info)
    verify(entry, ring)
    url, display = body.get("url"), body.get("display_name")
    assert isinstance(url, str) and isinstance(display, str)
    return Peer(name=entry.header.origin, url=url.rstrip("/"), keys=keys, display_name=display)
