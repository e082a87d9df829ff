"""How a case snapshot travels to one other coop while the protocol has no ``onboarding_case`` record type.

A snapshot is JSON carried in the ``text`` of ordinary ``message`` entries (seq 1, prev nil, delivered to one
node only, never relayed), marked by a ``subject`` starting with :data:`SUBJECT`. A message's text holds at
most 4000 characters, so a larger snapshot is split: the subject says ``<SUBJECT> <part>/<total> <digest>``,
where ``digest`` names the whole snapshot; the receiver keeps parts until it has them all.

Only this module knows the wire form, so replacing it by a proper record type changes nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from node.services.direct import PART_CHARS, sign_parts
from node.services.direct import digest_of as digest_of  # re-exported: onboarding checks reassembled parts
from protocol import Entry, Record, SigningKey

SUBJECT: Final = "bigre:onboarding-case"
TO_MEMBER: Final = "advisors"  # the message type needs a recipient: the receiving coop's advisors as a whole
CHUNK: Final = PART_CHARS
MAX_PARTS: Final = 64  # ~250 000 characters: far above any real case; a bound on what a peer can make us keep
_SUBJECT_RE: Final = re.compile(re.escape(SUBJECT) + r" (\d{1,3})/(\d{1,3}) ([0-9a-f]{32})\Z")


def is_shared_case(record: Record) -> bool:
    """Whether a received ``message`` record carries (part of) an onboarding case snapshot."""
    body = record.body or {}
    return record.type == "message" and str(body.get("subject", "")).startswith(SUBJECT)


def parse_subject(subject: object) -> tuple[int, int, str] | None:
    """``(part, total, digest)`` from a snapshot message's subject, or None when it is not one of ours."""
    match = _SUBJECT_RE.match(subject) if isinstance(subject, str) else None
    if match is None:
        return None
    part, total = int(match.group(1)), int(match.group(2))
    if not 1 <= part <= total <= MAX_PARTS:
        return None
    return part, total, match.group(3)


def signed_messages(
    key: SigningKey, *, origin: str, to_node: str, from_member: str, snapshot: Mapping[str, Any], now: int
) -> list[Entry]:
    """The signed ``message`` entries that carry ``snapshot`` to ``to_node`` (one per part)."""
    return sign_parts(
        key,
        origin=origin,
        to_node=to_node,
        to_member=TO_MEMBER,
        from_member=from_member,
        marker=SUBJECT,
        payload=snapshot,
        max_parts=MAX_PARTS,
        now=now,
        what="case snapshot",
    )
