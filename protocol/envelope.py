"""Signed, hash-chained entries: the unit of replication.

An entry travels as a canonical msgpack map of three fields::

    {"b": <canonical body bytes> | nil,  "h": <canonical header bytes>,  "s": <64-byte Ed25519 signature>}

The signature covers ``SIGNING_PREFIX + h``. The header commits to the body by its SHA-256 (``bh``) and to the
previous entry of the same origin by that entry's hash (``prev``), where an entry's hash is
``SHA-256(h || s)``. Three consequences shape the API:

* a run of entries is proven by checking every link and hash, and one signature, at the end of the run
  (:func:`verify_chain`): SHA-256 costs about a microsecond for a header, Ed25519 about a hundred;
* a body can be erased (``b`` set to nil) and the entry still verifies, so a member's erasure does not break
  anybody's chain;
* the header is kept as the exact bytes that were signed, so verification never re-encodes anything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from . import canonical
from .errors import (
    BodyMismatchError,
    BrokenLinkError,
    KeyNotValidError,
    LocalProtocolError,
    MalformedError,
    TooLargeError,
    UnknownKeyError,
    UnsupportedVersionError,
)
from .handover import handover_bytes, read_claim
from .keys import SIGNATURE_SIZE, SigningKey, VerifyKey

ENVELOPE_VERSION: Final = 1
SIGNING_PREFIX: Final = b"bigre-entry-v1\x00"
MAX_ENVELOPE_BYTES: Final = 65_536
#: a direct record (sent to one node, never in a log; ``protocol.records``) may be larger: docs/PROTOCOL.md §3
MAX_DIRECT_ENVELOPE_BYTES: Final = 1_048_576
MAX_HEADER_BYTES: Final = 1_024
MAX_SEQ: Final = 2**53 - 1
MAX_TIME_MS: Final = 2**53 - 1
HASH_SIZE: Final = 32

ORIGIN_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?\Z")
RECORD_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
TYPE_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
KID_RE: Final = re.compile(r"[0-9a-f]{16}\Z")

HEADER_FIELDS: Final = frozenset({"bh", "created", "id", "kid", "origin", "prev", "seq", "ts", "tv", "type", "v"})


@dataclass(slots=True)
class Header:
    """What the origin signs about an entry. Validates itself: a Header that exists is well-formed.

    Treat as immutable. It is not ``frozen`` because frozen dataclasses pay for every field assignment, and
    decoding a header is on the hot path of replication (measured: 1 µs of a 6 µs parse).
    """

    type: str
    type_version: tuple[int, int]
    origin: str
    id: str
    seq: int
    created: int
    ts: int
    kid: str
    prev: bytes | None
    body_hash: bytes

    def __post_init__(self) -> None:
        # One fast conjunction for honest headers; the slow, precise explanation only when it fails.
        tv, prev = self.type_version, self.prev
        if not (
            (self.type, self.origin, self.kid) in _VALID_NAMES or _remember_names(self.type, self.origin, self.kid)
        ) or not (
            type(tv) is tuple
            and len(tv) == 2
            and type(tv[0]) is int
            and type(tv[1]) is int
            and 0 <= tv[0] < 65_536
            and 0 <= tv[1] < 65_536
            and type(self.id) is str
            and RECORD_ID_RE.match(self.id) is not None
            and type(self.seq) is int
            and 1 <= self.seq <= MAX_SEQ
            and type(self.created) is int
            and 0 <= self.created <= MAX_TIME_MS
            and type(self.ts) is int
            and 0 <= self.ts <= MAX_TIME_MS
            and type(self.body_hash) is bytes
            and len(self.body_hash) == HASH_SIZE
            and ((prev is None) if self.seq == 1 else (type(prev) is bytes and len(prev) == HASH_SIZE))
        ):
            self._explain()

    def _explain(self) -> None:
        tv = self.type_version
        _check(isinstance(self.type, str) and TYPE_RE.match(self.type) is not None, "type", self.type)
        _check(
            isinstance(tv, tuple) and len(tv) == 2 and all(_is_uint(x) and x < 2**16 for x in tv),
            "tv",
            tv,
        )
        _check(isinstance(self.origin, str) and ORIGIN_RE.match(self.origin) is not None, "origin", self.origin)
        _check(isinstance(self.id, str) and RECORD_ID_RE.match(self.id) is not None, "id", self.id)
        _check(_is_uint(self.seq) and 1 <= self.seq <= MAX_SEQ, "seq", self.seq)
        _check(_is_uint(self.created) and self.created <= MAX_TIME_MS, "created", self.created)
        _check(_is_uint(self.ts) and self.ts <= MAX_TIME_MS, "ts", self.ts)
        _check(isinstance(self.kid, str) and KID_RE.match(self.kid) is not None, "kid", self.kid)
        _check(isinstance(self.body_hash, bytes) and len(self.body_hash) == HASH_SIZE, "bh", self.body_hash)
        if self.seq == 1:
            _check(self.prev is None, "prev", "must be nil when seq is 1")
        else:
            _check(isinstance(self.prev, bytes) and len(self.prev) == HASH_SIZE, "prev", self.prev)
        raise MalformedError("header is invalid")

    def to_value(self) -> dict[str, canonical.Value]:
        return {
            "bh": self.body_hash,
            "created": self.created,
            "id": self.id,
            "kid": self.kid,
            "origin": self.origin,
            "prev": self.prev,
            "seq": self.seq,
            "ts": self.ts,
            "tv": list(self.type_version),
            "type": self.type,
            "v": ENVELOPE_VERSION,
        }

    @classmethod
    def from_value(cls, value: canonical.Value) -> Header:
        if not isinstance(value, dict):
            raise MalformedError("the header is not a map")
        version = value.get("v")
        if not _is_uint(version):
            raise MalformedError("the header has no integer 'v' (envelope version)")
        if version != ENVELOPE_VERSION:
            raise UnsupportedVersionError(f"envelope version {version!r}; this node speaks {ENVELOPE_VERSION}")
        if value.keys() != HEADER_FIELDS:
            missing = sorted(HEADER_FIELDS - value.keys())
            extra = sorted(value.keys() - HEADER_FIELDS)
            raise MalformedError(f"header fields wrong: missing {missing}, unexpected {extra}")
        tv = value["tv"]
        if not isinstance(tv, list):
            raise MalformedError("header field 'tv' must be an array [major, minor]")
        return cls(
            type=value["type"],  # type: ignore[arg-type]
            type_version=tuple(tv),  # type: ignore[arg-type]
            origin=value["origin"],  # type: ignore[arg-type]
            id=value["id"],  # type: ignore[arg-type]
            seq=value["seq"],  # type: ignore[arg-type]
            created=value["created"],  # type: ignore[arg-type]
            ts=value["ts"],  # type: ignore[arg-type]
            kid=value["kid"],  # type: ignore[arg-type]
            prev=value["prev"],  # type: ignore[arg-type]
            body_hash=value["bh"],  # type: ignore[arg-type]
        )


_VALID_NAMES: set[tuple[object, object, object]] = set()


def _remember_names(type_: object, origin: object, kid: object) -> bool:
    """Validate (type, origin, kid) once and remember it: a node sees few distinct triples, millions of times."""
    ok = (
        type(type_) is str
        and TYPE_RE.match(type_) is not None
        and type(origin) is str
        and ORIGIN_RE.match(origin) is not None
        and type(kid) is str
        and KID_RE.match(kid) is not None
    )
    if ok:
        if len(_VALID_NAMES) > 4096:
            _VALID_NAMES.clear()
        _VALID_NAMES.add((type_, origin, kid))
    return ok


def _is_uint(x: object) -> bool:
    return type(x) is int and x >= 0


def _check(ok: bool, name: str, value: object) -> None:
    if not ok:
        raise MalformedError(f"header field {name!r} is invalid: {value!r}"[:200])


@dataclass(slots=True)
class Entry:
    """One signed entry of an origin's log, as it travels; ``body`` is None once erased. Treat as immutable."""

    header: Header
    header_bytes: bytes
    body: bytes | None
    signature: bytes
    hash: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.signature) != SIGNATURE_SIZE:
            raise MalformedError(f"signature has {len(self.signature)} bytes, not {SIGNATURE_SIZE}")
        if self.body is not None and hashlib.sha256(self.body).digest() != self.header.body_hash:
            raise BodyMismatchError(f"body of {self.header.origin}/{self.header.seq} does not hash to the header's bh")
        self.hash = hashlib.sha256(self.header_bytes + self.signature).digest()

    @property
    def signed_bytes(self) -> bytes:
        return SIGNING_PREFIX + self.header_bytes

    def encode(self) -> bytes:
        return canonical.encode({"b": self.body, "h": self.header_bytes, "s": self.signature}, _ENCODE_LIMITS)

    def erased(self) -> Entry:
        """The same entry without its body: still verifies, and still links."""
        return Entry(self.header, self.header_bytes, None, self.signature)

    def body_value(self) -> dict[str, canonical.Value] | None:
        if self.body is None:
            return None
        value = canonical.decode(self.body)
        if not isinstance(value, dict):
            raise MalformedError("a record body must be a map")
        return value


def sign_entry(
    key: SigningKey,
    *,
    type: str,
    type_version: tuple[int, int],
    origin: str,
    id: str,
    seq: int,
    created: int,
    ts: int,
    prev: bytes | None,
    body: Mapping[str, Any],
    max_bytes: int = MAX_ENVELOPE_BYTES,
) -> Entry:
    """Build and sign an entry. ``body`` is encoded canonically here, so callers pass plain values.

    ``max_bytes`` is the envelope limit the entry must fit (a direct record's is larger: ``records.sign_direct``).
    """
    body_bytes = canonical.encode(dict(body))
    if len(body_bytes) > max_bytes - MAX_HEADER_BYTES - 100:
        raise LocalProtocolError("body too large for one envelope")
    try:
        header = Header(
            type=type,
            type_version=type_version,
            origin=origin,
            id=id,
            seq=seq,
            created=created,
            ts=ts,
            kid=key.kid,
            prev=prev,
            body_hash=hashlib.sha256(body_bytes).digest(),
        )
    except MalformedError as exc:
        raise LocalProtocolError(str(exc)) from exc
    header_bytes = canonical.encode(header.to_value())
    return Entry(header, header_bytes, body_bytes, key.sign(SIGNING_PREFIX + header_bytes))


def decode_entry(data: bytes | bytearray | memoryview, *, max_bytes: int = MAX_ENVELOPE_BYTES) -> Entry:
    """Parse an envelope: structure, canonical form, header fields and body hash. No signature check yet.

    ``max_bytes`` is the envelope limit: only the direct path (``records.open_direct``) raises it, since the
    type, which decides whether the larger limit applies, is known only once the header is decoded.
    """
    if len(data) > max_bytes:
        raise TooLargeError(f"envelope of {len(data)} bytes (limit {max_bytes})")
    limits = canonical.DEFAULT_LIMITS if max_bytes <= MAX_ENVELOPE_BYTES else canonical.Limits(max_bin=max_bytes)
    outer = canonical.decode_fixed_map(data, _ENVELOPE_KEYS, limits)
    header_bytes, body, signature = outer["h"], outer["b"], outer["s"]
    if type(header_bytes) is not bytes or type(signature) is not bytes:
        raise MalformedError("envelope fields 'h' and 's' must be byte strings")
    if body is not None and type(body) is not bytes:
        raise MalformedError("envelope field 'b' must be a byte string or nil")
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise TooLargeError(f"header of {len(header_bytes)} bytes (limit {MAX_HEADER_BYTES})")
    return Entry(_parse_header(header_bytes), header_bytes, body, signature)


_ENVELOPE_KEYS: Final = ("b", "h", "s")
_ENCODE_LIMITS: Final = canonical.Limits(max_bin=MAX_DIRECT_ENVELOPE_BYTES)
_HEADER_KEYS: Final = tuple(sorted(HEADER_FIELDS))


def _parse_header(header_bytes: bytes) -> Header:
    try:
        value = canonical.decode_fixed_map(header_bytes, _HEADER_KEYS)
    except MalformedError:
        # Not the expected shape: decode generically so that a version or field error is named precisely.
        return Header.from_value(canonical.decode(header_bytes))
    if value["v"] != ENVELOPE_VERSION:
        return Header.from_value(value)
    tv = value["tv"]
    if type(tv) is not list or len(tv) != 2:
        raise MalformedError("header field 'tv' must be an array [major, minor]")
    return Header(
        value["type"],  # type: ignore[arg-type]
        (tv[0], tv[1]),  # type: ignore[arg-type]
        value["origin"],  # type: ignore[arg-type]
        value["id"],  # type: ignore[arg-type]
        value["seq"],  # type: ignore[arg-type]
        value["created"],  # type: ignore[arg-type]
        value["ts"],  # type: ignore[arg-type]
        value["kid"],  # type: ignore[arg-type]
        value["prev"],  # type: ignore[arg-type]
        value["bh"],  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------------------------- key resolution


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A published key and where its signatures count: a window of chain positions and a window of time.

    ``first_seq`` .. ``last_seq`` are the positions of its origin's chain the key may sign (docs/PROTOCOL.md §7):
    a hand-over or a revocation at seq n stops the key at n - 1, whatever time a later signature claims.
    ``not_after`` is when the key stopped signing (rotation); ``revoked_at`` is when it was revoked. An entry
    whose ``ts`` falls at or after either is refused. Entries before stay valid, so history survives a rotation
    and a revocation alike. A key with ``revoked_at`` is *revoked*: replication gives its signature less weight
    (an entry it signed that contradicts one already held is refused, not taken for a fork).
    """

    key: VerifyKey
    not_before: int = 0
    not_after: int | None = None
    revoked_at: int | None = None
    first_seq: int = 1
    last_seq: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def check(self, ts: int, origin: str) -> None:
        """The time window alone (signed requests have no chain position)."""
        if ts < self.not_before:
            raise KeyNotValidError(f"key {self.key.kid} of {origin} was not yet valid at {ts}")
        if self.revoked_at is not None and ts >= self.revoked_at:
            raise KeyNotValidError(f"key {self.key.kid} of {origin} is revoked since {self.revoked_at}")
        if self.not_after is not None and ts >= self.not_after:
            raise KeyNotValidError(f"key {self.key.kid} of {origin} stopped signing at {self.not_after}")

    def check_entry(self, seq: int, ts: int, origin: str) -> None:
        """The chain position first (it cannot be backdated), then the time window."""
        if seq < self.first_seq:
            raise KeyNotValidError(f"key {self.key.kid} of {origin} signs from seq {self.first_seq}, not {seq}")
        if self.last_seq is not None and seq > self.last_seq:
            raise KeyNotValidError(
                f"key {self.key.kid} of {origin} signs nothing after seq {self.last_seq} (it was replaced or "
                f"revoked there), not seq {seq}"
            )
        self.check(ts, origin)


class KeyResolver(Protocol):
    """Where verification finds an origin's keys: ``federation`` backs it with storage, tests with a dict."""

    def resolve(self, origin: str, kid: str) -> KeyInfo: ...


class Keyring:
    """An in-memory :class:`KeyResolver`."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], KeyInfo] = {}

    def add(self, origin: str, info: KeyInfo) -> None:
        self._keys[(origin, info.key.kid)] = info

    def resolve(self, origin: str, kid: str) -> KeyInfo:
        try:
            return self._keys[(origin, kid)]
        except KeyError:
            raise UnknownKeyError(f"no key {kid} known for origin {origin}") from None


# ------------------------------------------------------------------------------------------------ verification


def entry_key(entry: Entry, keys: KeyResolver) -> KeyInfo:
    """The key an entry names, from ``keys`` or, for a hand-over, from the entry itself (docs/PROTOCOL.md §5.2).

    A hand-over names a key the receiver does not know yet: the new key is taken from the body's ``keys`` and
    accepted only if the old key the body names is known, not revoked, valid at this seq and time, and signed
    the hand-over statement for exactly this origin, seq, prev and new key. Its window starts at this seq.
    Only the key is resolved here; its window and the entry's own signature are the caller's to check.
    """
    h = entry.header
    try:
        return keys.resolve(h.origin, h.kid)
    except UnknownKeyError:
        claim = read_claim(entry.body, h.kid) if h.type == "node" and h.type_version[0] == 1 else None
        if claim is None:
            raise
    old = keys.resolve(h.origin, claim.old_kid)
    if old.revoked:
        raise KeyNotValidError(f"hand-over of {h.origin}/{h.seq} from revoked key {claim.old_kid}")
    old.check_entry(h.seq, h.ts, h.origin)
    old.key.verify(claim.signature, handover_bytes(origin=h.origin, seq=h.seq, prev=h.prev, new_key=claim.new_key))
    return KeyInfo(
        VerifyKey.from_bytes(claim.new_key),
        not_before=claim.not_before,
        not_after=claim.not_after,
        revoked_at=claim.revoked_at,
        first_seq=h.seq,
        last_seq=claim.last_seq,
    )


def verify(entry: Entry, keys: KeyResolver) -> None:
    """Check one entry's signature against its origin's key valid at the entry's ``seq`` and ``ts``."""
    h = entry.header
    info = entry_key(entry, keys)
    info.check_entry(h.seq, h.ts, h.origin)
    info.key.verify(entry.signature, SIGNING_PREFIX + entry.header_bytes)


def verify_chain(entries: Sequence[Entry], keys: KeyResolver, after: tuple[int, bytes] | None = None) -> None:
    """Prove a run of consecutive entries of one origin with one signature check.

    ``after`` is the (seq, hash) of the entry the run continues, which the caller already holds; without it the
    run must start at seq 1. Every link, every body hash (checked when the entries were built) and every key's
    validity window (chain position and time) are checked; the signature of the last entry is verified, and
    since each header carries the hash of its predecessor's header and signature, that one signature covers
    the whole run. Key changes inside the run are the caller's: cut the run after each entry that changes keys
    and apply it before verifying what follows (:class:`protocol.keystate.OriginKeys`).
    """
    if not entries:
        return
    origin = entries[0].header.origin
    expected_seq, expected_prev = (after[0] + 1, after[1]) if after is not None else (1, None)
    last: KeyInfo | None = None
    for entry in entries:
        h = entry.header
        if h.origin != origin:
            raise BrokenLinkError(f"a run mixes origins {origin} and {h.origin}")
        if h.seq != expected_seq:
            raise BrokenLinkError(f"{origin}: expected seq {expected_seq}, got {h.seq}")
        if h.prev != expected_prev:
            raise BrokenLinkError(f"{origin}/{h.seq}: prev does not match the hash of entry {h.seq - 1}")
        last = entry_key(entry, keys)
        last.check_entry(h.seq, h.ts, origin)
        expected_seq, expected_prev = h.seq + 1, entry.hash
    assert last is not None
    last.key.verify(entries[-1].signature, SIGNING_PREFIX + entries[-1].header_bytes)


def is_fork(a: Entry, b: Entry) -> bool:
    """Two entries an origin signed for the same seq that differ: proof that the origin forked its log.

    Both must have been verified by the caller; a fork is only evidence if both signatures are genuine.
    """
    return a.header.origin == b.header.origin and a.header.seq == b.header.seq and a.hash != b.hash
