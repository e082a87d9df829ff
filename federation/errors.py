"""Federation errors. Each carries the HTTP status a node answers with and a stable ``code``.

FederationError                 root
+-- PeerRefusedError            a request from another node was refused (status, code)
|   +-- UnknownPeerError        "unknown_peer": the origin is not a node we know       403
|   +-- SuspendedPeerError      "suspended_peer": the origin is suspended or has left   403
|   +-- ReplayedRequestError    "replayed": the nonce was seen before                   409
+-- PeerUnavailableError        talking to a peer failed (network, status, bad answer); retry later
|   +-- RefusedByPeerError      the peer refused the request (4xx but 408 and 429): sending it again is refused again
+-- RecordRefusedError          this node refuses a received direct record for good (raised by the inbox)
+-- ForkError                   an origin signed two different entries for one seq
+-- InvitationError             an invitation token is unknown, used or expired
"""

from __future__ import annotations


class FederationError(Exception):
    """Root of this package's exceptions."""


class PeerRefusedError(FederationError):
    code = "refused"
    status = 403

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownPeerError(PeerRefusedError):
    code = "unknown_peer"


class SuspendedPeerError(PeerRefusedError):
    code = "suspended_peer"


class ReplayedRequestError(PeerRefusedError):
    code = "replayed"
    status = 409


class PeerUnavailableError(FederationError):
    """The peer did not answer usefully: the caller backs off and retries. ``status`` is the HTTP status the peer
    answered with, when it answered at all."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class RecordRefusedError(FederationError):
    """A received direct record this node refuses for good: answered with ``status`` and ``code``, so the sender
    stops retrying and reports it (docs/PROTOCOL.md §13). Raised by the inbox port's handlers."""

    def __init__(self, reason: str, *, code: str = "refused_record", status: int = 422) -> None:
        super().__init__(reason)
        self.reason, self.code, self.status = reason, code, status


#: answers to a direct record that retrying cannot change: the record itself is refused. Key errors, a stale
#: clock, a replay, an unknown or suspended sender, an unsupported version and any answer without a JSON error
#: code (a node of an older release has no such route) are worth retrying.
PERMANENT_CODES: frozenset[str] = frozenset(
    {
        "malformed",
        "non_canonical",
        "too_large",
        "schema",
        "body_mismatch",
        "unknown_recipient",
        "refused_record",
        "obsolete_message",
    }
)


class RefusedByPeerError(PeerUnavailableError):
    """A peer answered a 4xx other than 408 (timeout) and 429 (slow down): sending the same request again would
    be refused again. A pull may still try later (the peer's view can change); a delivery gives the item up."""

    def __init__(self, peer: str, status: int, code: str, reason: str) -> None:
        super().__init__(f"{peer} refused ({status} {code}): {reason}")
        self.peer, self.status, self.code, self.reason = peer, status, code, reason


#: statuses of a 4xx answer that say "later", not "never"
RETRYABLE_4XX = frozenset({408, 429})


class ForkError(FederationError):
    def __init__(self, origin: str, seq: int, ours: bytes, theirs: bytes) -> None:
        super().__init__(f"origin {origin} forked at seq {seq}: {ours.hex()[:16]} vs {theirs.hex()[:16]}")
        self.origin, self.seq, self.ours, self.theirs = origin, seq, ours, theirs


class InvitationError(FederationError):
    status = 403
    code = "invitation"
