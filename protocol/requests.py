"""Signed node-to-node HTTP requests.

Every federation request carries a signature binding the method, the path with its query, the sending and the
receiving node, the time, a nonce and the SHA-256 of the body, so that a request cannot be replayed to another
node, moved to another path, or given another body. The signed bytes are ``REQUEST_PREFIX`` followed by the
canonical encoding of the map built by :func:`request_signing_bytes`.

This module is pure: the caller passes the time and the nonce, and keeps the replay cache (``federation``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from . import canonical
from .envelope import KID_RE, ORIGIN_RE, KeyResolver
from .errors import BodyMismatchError, MalformedError, StaleRequestError
from .keys import SIGNATURE_SIZE, SigningKey

REQUEST_PREFIX: Final = b"bigre-request-v1\x00"
NONCE_RE: Final = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")
MAX_SKEW_MS: Final = 300_000

#: The HTTP headers a signed request carries, in the order they are listed in docs/PROTOCOL.md.
HEADERS: Final = (
    "Bigre-Origin",
    "Bigre-Destination",
    "Bigre-Key",
    "Bigre-Time",
    "Bigre-Nonce",
    "Bigre-Digest",
    "Bigre-Signature",
)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The signature fields of a request, parsed from its headers."""

    origin: str
    destination: str
    kid: str
    time: int
    nonce: str
    digest: bytes
    signature: bytes


def request_signing_bytes(
    *, method: str, path: str, origin: str, destination: str, kid: str, time: int, nonce: str, digest: bytes
) -> bytes:
    return REQUEST_PREFIX + canonical.encode(
        {
            "destination": destination,
            "digest": digest,
            "kid": kid,
            "method": method.upper(),
            "nonce": nonce,
            "origin": origin,
            "path": path,
            "time": time,
        }
    )


def sign_request(
    key: SigningKey, *, method: str, path: str, origin: str, destination: str, time: int, nonce: str, body: bytes
) -> dict[str, str]:
    """The headers to add to a request. ``path`` includes the query string, exactly as sent."""
    digest = hashlib.sha256(body).digest()
    signed = request_signing_bytes(
        method=method,
        path=path,
        origin=origin,
        destination=destination,
        kid=key.kid,
        time=time,
        nonce=nonce,
        digest=digest,
    )
    return {
        "Bigre-Origin": origin,
        "Bigre-Destination": destination,
        "Bigre-Key": key.kid,
        "Bigre-Time": str(time),
        "Bigre-Nonce": nonce,
        "Bigre-Digest": "sha-256=" + digest.hex(),
        "Bigre-Signature": key.sign(signed).hex(),
    }


def parse_request_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> SignedRequest:
    """Read the signature headers (case-insensitively, as HTTP wants) or raise :class:`MalformedError`.

    Give every header line (``multidict.items()``, not a ``dict`` of them): a signature header given twice is
    refused, since two readers could otherwise pick different copies."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lowered: dict[str, str] = {}
    wanted = {name.lower() for name in HEADERS}
    for key, value in pairs:
        name = key.lower()
        if name in lowered and name in wanted:
            raise MalformedError(f"header {key} given twice")
        lowered[name] = value
    values: dict[str, str] = {}
    for name in HEADERS:
        value = lowered.get(name.lower())
        if value is None:
            raise MalformedError(f"missing header {name}")
        values[name] = value.strip()
    origin, destination, kid = values["Bigre-Origin"], values["Bigre-Destination"], values["Bigre-Key"]
    if ORIGIN_RE.match(origin) is None or ORIGIN_RE.match(destination) is None:
        raise MalformedError("Bigre-Origin and Bigre-Destination must be node names")
    if KID_RE.match(kid) is None:
        raise MalformedError("Bigre-Key must be a key id (16 hex digits)")
    time_text = values["Bigre-Time"]
    if not time_text.isascii() or not time_text.isdigit() or len(time_text) > 16:
        raise MalformedError("Bigre-Time must be milliseconds since the epoch")
    if NONCE_RE.match(values["Bigre-Nonce"]) is None:
        raise MalformedError("Bigre-Nonce must be 16 to 64 characters of [A-Za-z0-9_-]")
    digest_text = values["Bigre-Digest"]
    if not digest_text.startswith("sha-256=") or re.fullmatch(r"[0-9a-f]{64}", digest_text[8:]) is None:
        raise MalformedError("Bigre-Digest must be sha-256=<64 lowercase hex digits>")
    signature_text = values["Bigre-Signature"]
    if re.fullmatch(r"[0-9a-f]{128}", signature_text) is None:
        raise MalformedError(f"Bigre-Signature must be {SIGNATURE_SIZE} bytes in lowercase hex")
    return SignedRequest(
        origin=origin,
        destination=destination,
        kid=kid,
        time=int(time_text),
        nonce=values["Bigre-Nonce"],
        digest=bytes.fromhex(digest_text[8:]),
        signature=bytes.fromhex(signature_text),
    )


def verify_request(
    request: SignedRequest,
    *,
    method: str,
    path: str,
    body: bytes,
    destination: str,
    keys: KeyResolver,
    now: int,
    max_skew: int = MAX_SKEW_MS,
) -> None:
    """Check a request addressed to ``destination``; the caller then checks the nonce was not seen before.

    Order: destination, time window, body digest, key, signature: the cheap checks first, Ed25519 last.
    """
    if request.destination != destination:
        raise MalformedError(f"request addressed to {request.destination}, not to {destination}")
    if abs(now - request.time) > max_skew:
        raise StaleRequestError(f"request time {request.time} is more than {max_skew} ms from now ({now})")
    if hashlib.sha256(body).digest() != request.digest:
        raise BodyMismatchError("the body does not match Bigre-Digest")
    info = keys.resolve(request.origin, request.kid)
    info.check(request.time, request.origin)
    info.key.verify(
        request.signature,
        request_signing_bytes(
            method=method,
            path=path,
            origin=request.origin,
            destination=request.destination,
            kid=request.kid,
            time=request.time,
            nonce=request.nonce,
            digest=request.digest,
        ),
    )
