"""The key hand-over: how an origin moves to a new signing key so that every peer can check it on arrival.

A hand-over is a ``node`` entry (version 1.1) signed by the NEW key, whose body carries ``handover``: the kid of
the OLD key and the old key's signature over a statement naming the origin, the entry's chain position (seq and
prev) and the new public key. A receiver that does not know the new key yet finds it in the body's ``keys``,
checks the statement with the old key it already trusts, then the entry's signature with the new key. From that
seq on the new key signs; the old key may sign nothing at that seq or after (docs/PROTOCOL.md §7).

This module is pure: it builds and reads the statement. :func:`protocol.envelope.entry_key` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from . import canonical
from .errors import InvalidInputError
from .keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, SigningKey, key_id

HANDOVER_PREFIX: Final = b"bigre-handover-v1\x00"


def handover_bytes(*, origin: str, seq: int, prev: bytes | None, new_key: bytes) -> bytes:
    """What the old key signs: the prefix, then the canonical map {new_key, origin, prev, seq}."""
    return HANDOVER_PREFIX + canonical.encode({"new_key": new_key, "origin": origin, "prev": prev, "seq": seq})


def sign_handover(old: SigningKey, *, origin: str, seq: int, prev: bytes | None, new_key: bytes) -> dict[str, object]:
    """The ``handover`` field of a hand-over document placed at (seq, prev), old key to ``new_key``."""
    statement = handover_bytes(origin=origin, seq=seq, prev=prev, new_key=new_key)
    return {"kid": old.kid, "signature": old.sign(statement)}


@dataclass(frozen=True, slots=True)
class HandoverClaim:
    """What a hand-over entry claims: the old key's kid and signature, and the new key with its listed window."""

    old_kid: str
    signature: bytes
    new_key: bytes
    not_before: int
    not_after: int | None
    revoked_at: int | None
    last_seq: int | None


def read_claim(body: bytes | None, signer_kid: str) -> HandoverClaim | None:
    """The hand-over a ``node`` body claims for the key ``signer_kid``, or None when it claims none.

    Recognised only when the body decodes canonically to a map whose ``handover`` is a map with a kid string
    ``kid`` and 64 bytes ``signature``, and whose ``keys`` hold a map with 32 bytes ``public_key`` deriving
    ``signer_kid``. Anything else is no claim (the entry's key then stays unknown), never a crash.
    """
    if body is None:
        return None
    try:
        value = canonical.decode(body)
    except InvalidInputError:
        return None
    if not isinstance(value, dict):
        return None
    handover, keys = value.get("handover"), value.get("keys")
    if not isinstance(handover, dict) or not isinstance(keys, list):
        return None
    old_kid, signature = handover.get("kid"), handover.get("signature")
    if not isinstance(old_kid, str) or not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        return None
    for item in keys:
        if not isinstance(item, dict):
            continue
        public = item.get("public_key")
        if isinstance(public, bytes) and len(public) == PUBLIC_KEY_SIZE and key_id(public) == signer_kid:
            return HandoverClaim(
                old_kid=old_kid,
                signature=signature,
                new_key=public,
                not_before=_time(item.get("not_before")) or 0,
                not_after=_time(item.get("not_after")),
                revoked_at=_time(item.get("revoked_at")),
                last_seq=_time(item.get("last_seq")),
            )
    return None


def _time(value: object) -> int | None:
    return value if type(value) is int and value >= 0 else None
