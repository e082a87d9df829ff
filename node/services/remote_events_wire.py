"""How event registrations travel between coops while the protocol has no record type for them.

A registration **request** (register or cancel, from the member's node) and the organiser's **answer** are compact
JSON in the ``text`` of ordinary ``message`` entries: signed by the sending node, seq 1, prev nil, delivered to one
node only through the durable outbox, never relayed. The ``subject`` is exactly :data:`REQUEST` or :data:`ANSWER`.
Nothing private travels: the event id, the member's profile id, the name the member shows, a request id and time.

Only this module knows the wire form, so replacing it by a proper record type changes nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal

from node.services.direct import compact_json, sign_message
from protocol import Entry, Record, SigningKey

MARKER: Final = "bigre:event-registration"
REQUEST: Final = MARKER
ANSWER: Final = MARKER + "-answer"
REQUEST_TO: Final = "events"  # a message needs a recipient: the organising coop's events as a whole
FORMAT: Final = 1
#: what an answer may say
ANSWERS: Final = ("confirmed", "full", "closed", "unknown")

Kind = Literal["request", "answer"]


def is_event_registration_message(record: Record) -> bool:
    """Whether a received ``message`` carries a registration request or answer, well formed or not: either way it
    is for the remote events service, never for a member's inbox."""
    body = record.body or {}
    return record.type == "message" and str(body.get("subject", "")).startswith(MARKER)


def kind_of(record: Record) -> Kind | None:
    subject = (record.body or {}).get("subject")
    return "request" if subject == REQUEST else "answer" if subject == ANSWER else None


def payload_of(record: Record) -> dict[str, Any] | None:
    """The JSON object a registration message carries, or None when it is not one of version :data:`FORMAT`."""
    try:
        value = json.loads(str((record.body or {}).get("text", "")))
    except ValueError:
        return None
    return value if isinstance(value, dict) and value.get("v") == FORMAT else None


def signed_message(
    key: SigningKey,
    *,
    kind: Kind,
    origin: str,
    to_node: str,
    to_member: str,
    from_member: str,
    payload: Mapping[str, Any],
    now: int,
) -> Entry:
    """The signed ``message`` entry carrying one request or answer to ``to_node``."""
    body = {
        "to_node": to_node,
        "to_member": to_member,
        "from_member": from_member,
        "subject": REQUEST if kind == "request" else ANSWER,
        "text": compact_json({"v": FORMAT, **payload}),
    }
    return sign_message(key, origin=origin, body=body, now=now)
