"""How the two move records travel while the protocol has no ``member_move`` record type.

A move record (the origin's **request**, the destination's **acceptance**) is compact JSON carried in the ``text``
of ordinary ``message`` entries: signed by the sending node, seq 1, prev nil, delivered to one node only through
the durable outbox, never relayed. The ``subject`` marks them: ``<marker> <part>/<total> <digest>`` where the
marker is :data:`REQUEST` or :data:`ACCEPTANCE` and ``digest`` names the whole text. A message's text holds at
most 4000 characters, so a member with many offers travels in several parts; the receiver keeps parts until it
has them all.

Only this module knows the wire form, so replacing it by a proper record type changes nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from node.services.direct import digest_of as digest_of  # re-exported: moving checks reassembled parts
from node.services.direct import sign_parts
from protocol import Entry, Record, SigningKey, canonical, decode_entry

REQUEST: Final = "bigre:member-move"
ACCEPTANCE: Final = "bigre:member-moved"
REQUEST_TO: Final = "moves"  # the message type needs a recipient: the receiving coop's operators as a whole
MAX_PARTS: Final = 32  # ~125 000 characters: far above a real member's data; bounds what a peer makes us keep
_SUBJECT_RE: Final = re.compile(r"bigre:member-(move|moved) (\d{1,3})/(\d{1,3}) ([0-9a-f]{32})\Z")

Kind = Literal["request", "acceptance"]


def is_move_message(record: Record) -> bool:
    """Whether a received ``message`` record carries (part of) a move record, well formed or not: either way it
    is for the moving service, never for a member's inbox."""
    body = record.body or {}
    return record.type == "message" and str(body.get("subject", "")).startswith(REQUEST)


def parse_subject(subject: object) -> tuple[Kind, int, int, str] | None:
    """``(kind, part, total, digest)`` from a move message's subject, or None when it is not well formed."""
    match = _SUBJECT_RE.match(subject) if isinstance(subject, str) else None
    if match is None:
        return None
    part, total = int(match.group(2)), int(match.group(3))
    if not 1 <= part <= total <= MAX_PARTS:
        return None
    kind: Kind = "request" if match.group(1) == "move" else "acceptance"
    return kind, part, total, match.group(4)


def signed_messages(
    key: SigningKey,
    *,
    kind: Kind,
    origin: str,
    to_node: str,
    to_member: str,
    from_member: str,
    payload: Mapping[str, Any],
    now: int,
) -> list[Entry]:
    """The signed ``message`` entries that carry a move record to ``to_node`` (one per part)."""
    return sign_parts(
        key,
        origin=origin,
        to_node=to_node,
        to_member=to_member,
        from_member=from_member,
        marker=REQUEST if kind == "request" else ACCEPTANCE,
        payload=payload,
        max_parts=MAX_PARTS,
        now=now,
        what="move record",
    )


def pack_envelopes(envelopes: Sequence[bytes]) -> bytes:
    """The signed envelopes of one move record, as one column value (canonical msgpack list)."""
    return canonical.encode(list(envelopes))


def unpack_envelopes(packed: bytes | None) -> list[Entry]:
    if not packed:
        return []
    value = canonical.decode(packed)
    assert isinstance(value, list)
    return [decode_entry(blob) for blob in value if isinstance(blob, bytes)]


def erase_bodies(packed: bytes) -> bytes:
    """The same envelopes without their bodies: the signed headers (which hold the bodies' hashes) still prove
    what was sent, while the member's data no longer lies in this table (the pattern of the design's erasure)."""
    return pack_envelopes([e.erased().encode() for e in unpack_envelopes(packed)])
