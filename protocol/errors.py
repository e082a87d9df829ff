"""The exceptions of the Bigre protocol.

Errors say whose fault it was (as h11 does): a local misuse of the library and a remote peer's bad input are
different branches, and the remote branch carries the HTTP status a node should answer with and a stable
``code`` that ``docs/PROTOCOL.md`` and the test vectors use, so that another implementation can name the same
failure the same way.

    ProtocolError                      root of everything this package raises
    +-- LocalProtocolError             our own caller misused the API (e.g. encoding a float NaN, a set)
    +-- InvalidInputError              bytes or values that came from elsewhere are not acceptable (code, status)
        +-- MalformedError             "malformed": not msgpack, truncated, wrong structure       400
        |   +-- NonCanonicalError      "non_canonical": valid msgpack, but not the one canonical form 400
        +-- TooLargeError              "too_large": over a protocol limit (bytes, length, depth)   413
        +-- UnsupportedVersionError    "unsupported_version": envelope or record major version     400
        +-- SchemaError                "schema": a record body breaks its type's schema            422
        +-- BodyMismatchError          "body_mismatch": body bytes do not hash to the header's bh  400
        +-- BadSignatureError          "bad_signature": Ed25519 verification failed                401
        +-- UnknownKeyError            "unknown_key": no key with that id for that origin          401
        +-- KeyNotValidError           "key_not_valid": key revoked or outside its window at ts    401
        +-- BrokenLinkError            "broken_link": prev hash or seq does not follow             409
        +-- StaleRequestError          "stale": a signed request's time is too far from now         401
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Root of every exception raised by ``protocol``."""


class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol cannot express: a bug on this side, not the peer's."""


class InvalidInputError(ProtocolError):
    """Input from outside (a peer, a file, a user) was refused.

    ``code`` is the stable name used in the test vectors; ``status`` is the HTTP status to answer with.
    """

    code = "invalid"
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


class MalformedError(InvalidInputError):
    code = "malformed"


class NonCanonicalError(MalformedError):
    code = "non_canonical"


class TooLargeError(InvalidInputError):
    code = "too_large"
    status = 413


class UnsupportedVersionError(InvalidInputError):
    code = "unsupported_version"


class SchemaError(InvalidInputError):
    code = "schema"
    status = 422


class BodyMismatchError(InvalidInputError):
    code = "body_mismatch"


class BadSignatureError(InvalidInputError):
    code = "bad_signature"
    status = 401


class UnknownKeyError(InvalidInputError):
    code = "unknown_key"
    status = 401


class KeyNotValidError(InvalidInputError):
    code = "key_not_valid"
    status = 401


class BrokenLinkError(InvalidInputError):
    code = "broken_link"
    status = 409


class StaleRequestError(InvalidInputError):
    code = "stale"
    status = 401


ERROR_CODES: dict[str, type[InvalidInputError]] = {
    cls.code: cls
    for cls in (
        MalformedError,
        NonCanonicalError,
        TooLargeError,
        UnsupportedVersionError,
        SchemaError,
        BodyMismatchError,
        BadSignatureError,
        UnknownKeyError,
        KeyNotValidError,
        BrokenLinkError,
        StaleRequestError,
    )
}
