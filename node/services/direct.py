"""Signed direct messages: the one way this node writes a ``message`` entry, whole or cut into parts.

Private messages between members, shared onboarding cases, member moves and registrations to another coop's
events all travel as ``message`` entries sent to ONE node (seq 1, prev nil, never in a log, never relayed).
Features whose payload can exceed one message's 4,000 characters cut a compact JSON text into numbered parts
with a digest in the subject (``<marker> i/n <digest>``), and the receiver reassembles them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from node.records.publisher import new_record_id
from protocol import RECORD_TYPES, Entry, SigningKey, sign_entry

PART_CHARS: Final = 3900  # under the message text limit (4000), leaving room for nothing else to grow into


def sign_message(key: SigningKey, *, origin: str, body: Mapping[str, Any], now: int) -> Entry:
    """Validate a message body and sign it as a direct entry of ``origin``."""
    RECORD_TYPES["message"].validate(dict(body))
    return sign_entry(
        key,
        type="message",
        type_version=RECORD_TYPES["message"].version,
        origin=origin,
        id=new_record_id(),
        seq=1,
        created=now,
        ts=now,
        prev=None,
        body=body,
    )


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def compact_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def split_payload(payload: Mapping[str, Any], *, max_parts: int, what: str) -> tuple[str, list[str]]:
    """(digest, parts): the payload as compact JSON cut into message-sized pieces, at most ``max_parts``."""
    text = compact_json(payload)
    parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
    if len(parts) > max_parts:
        raise ValueError(f"{what} too large to send ({len(text)} characters)")
    return digest_of(text), parts


def sign_parts(
    key: SigningKey,
    *,
    origin: str,
    to_node: str,
    to_member: str,
    from_member: str,
    marker: str,
    payload: Mapping[str, Any],
    max_parts: int,
    now: int,
    what: str,
) -> list[Entry]:
    """The signed messages carrying ``payload`` to ``to_node``, one per part, subjects ``marker i/n digest``."""
    digest, parts = split_payload(payload, max_parts=max_parts, what=what)
    return [
        sign_message(
            key,
            origin=origin,
            body={
                "to_node": to_node,
                "to_member": to_member,
                "from_member": from_member,
                "subject": f"{marker} {index}/{len(parts)} {digest}",
                "text": part,
            },
            now=now,
        )
        for index, part in enumerate(parts, start=1)
    ]
