"""Federation errors. Each carries the HTTP status a node answers with and a stable ``code``.

FederationError                 root
+-- PeerRefusedError            a request from another node was refused (status, code)
|   +-- UnknownPeerError        "unknown_peer": the origin is not a node we know       403
|   +-- SuspendedPeerError      "suspended_peer": the origin is suspended or has left   403
|   +-- ReplayedRequestError    "replayed": the nonce was seen before                   409
+-- PeerUnavailableError        talking to a peer failed (network, status, bad answer); retry later
|   +-- RefusedByPeerError      the peer refused the request for good (4xx but 408 and 429): do not retry it
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
    """The peer did not answer usefully: the caller backs off and retries."""


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
