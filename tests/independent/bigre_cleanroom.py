"""A clean-room implementation of the Bigre protocol, version 1, written from docs/PROTOCOL.md only.

It deliberately shares no code with the reference implementation (``protocol/``): its purpose is to check
that the specification, together with the test vectors, is enough to build a compatible node.

Values of the data model (section 1) are represented by Python objects:
``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list`` and ``dict`` (string keys only).
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

Value: TypeAlias = bool | int | float | str | bytes | list["Value"] | dict[str, "Value"] | None

# ---------------------------------------------------------------------------------------------------------
# Errors (section 9)

ERROR_CODES: Final = frozenset(
    {
        "malformed",
        "non_canonical",
        "too_large",
        "unsupported_version",
        "schema",
        "body_mismatch",
        "bad_signature",
        "unknown_key",
        "key_not_valid",
        "broken_link",
        "stale",
    }
)

HTTP_STATUS: Final[Mapping[str, int]] = {
    "malformed": 400,
    "non_canonical": 400,
    "too_large": 413,
    "unsupported_version": 400,
    "schema": 422,
    "body_mismatch": 400,
    "bad_signature": 401,
    "unknown_key": 401,
    "key_not_valid": 401,
    "broken_link": 409,
    "stale": 401,
}


class ProtocolError(Exception):
    """A refusal, carrying one of the error codes of section 9."""

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]


# ---------------------------------------------------------------------------------------------------------
# Limits (section 3)

MAX_DEPTH: Final = 16
MAX_STR_BYTES: Final = 65_536
MAX_BIN_BYTES: Final = 65_536
MAX_ARRAY_ITEMS: Final = 4_096
MAX_MAP_ENTRIES: Final = 1_024
MAX_ENVELOPE_BYTES: Final = 65_536
MAX_DIRECT_ENVELOPE_BYTES: Final = 1_048_576  # section 3: an envelope received as a direct record
MAX_HEADER_BYTES: Final = 1_024

MAX_TIME: Final = 2**53 - 1
INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**64 - 1


# ---------------------------------------------------------------------------------------------------------
# Canonical encoding (section 2.1)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _encode_len(out: bytearray, n: int, small_base: int | None, small_max: int, tags: Sequence[int]) -> None:
    """Write a length header: ``small_base + n`` if n ≤ small_max, else the shortest of the 8/16/32-bit tags.

    ``tags`` lists the (8-bit, 16-bit, 32-bit) tags; an entry of -1 means the form does not exist.
    """
    if small_base is not None and n <= small_max:
        out.append(small_base + n)
    elif tags[0] >= 0 and n <= 0xFF:
        out += bytes((tags[0], n))
    elif n <= 0xFFFF:
        out.append(tags[1])
        out += struct.pack(">H", n)
    else:
        out.append(tags[2])
        out += struct.pack(">I", n)


def _encode_int(out: bytearray, v: int) -> None:
    if v < INT_MIN or v > INT_MAX:
        raise ProtocolError("malformed", f"integer {v} outside -2^63 .. 2^64-1")
    if 0 <= v <= 0x7F:
        out.append(v)
    elif -32 <= v < 0:
        out.append(v & 0xFF)
    elif v >= 0:
        if v <= 0xFF:
            out += b"\xcc" + struct.pack(">B", v)
        elif v <= 0xFFFF:
            out += b"\xcd" + struct.pack(">H", v)
        elif v <= 0xFFFF_FFFF:
            out += b"\xce" + struct.pack(">I", v)
        else:
            out += b"\xcf" + struct.pack(">Q", v)
    elif v >= -128:
        out += b"\xd0" + struct.pack(">b", v)
    elif v >= -32_768:
        out += b"\xd1" + struct.pack(">h", v)
    elif v >= -(2**31):
        out += b"\xd2" + struct.pack(">i", v)
    else:
        out += b"\xd3" + struct.pack(">q", v)


def _encode(out: bytearray, v: object, depth: int, max_bin: int = MAX_BIN_BYTES) -> None:
    if v is None:
        out.append(0xC0)
    elif v is False:
        out.append(0xC2)
    elif v is True:
        out.append(0xC3)
    elif _is_int(v):
        assert isinstance(v, int)
        _encode_int(out, v)
    elif isinstance(v, float):
        if not math.isfinite(v):
            raise ProtocolError("malformed", "NaN and infinities are not values")
        if v == 0.0 and math.copysign(1.0, v) < 0:
            raise ProtocolError("non_canonical", "negative zero is not a value")
        out += b"\xcb" + struct.pack(">d", v)
    elif isinstance(v, str):
        try:
            raw = v.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ProtocolError("malformed", "string with a surrogate") from exc
        if len(raw) > MAX_STR_BYTES:
            raise ProtocolError("too_large", "string over 65536 bytes")
        _encode_len(out, len(raw), 0xA0, 31, (0xD9, 0xDA, 0xDB))
        out += raw
    elif isinstance(v, bytes | bytearray | memoryview):
        raw = bytes(v)
        if len(raw) > max_bin:
            raise ProtocolError("too_large", f"byte string over {max_bin} bytes")
        _encode_len(out, len(raw), None, -1, (0xC4, 0xC5, 0xC6))
        out += raw
    elif isinstance(v, list | tuple):
        if depth >= MAX_DEPTH:
            raise ProtocolError("too_large", "nesting deeper than 16")
        if len(v) > MAX_ARRAY_ITEMS:
            raise ProtocolError("too_large", "array over 4096 elements")
        _encode_len(out, len(v), 0x90, 15, (-1, 0xDC, 0xDD))
        for item in v:
            _encode(out, item, depth + 1, max_bin)
    elif isinstance(v, dict):
        if depth >= MAX_DEPTH:
            raise ProtocolError("too_large", "nesting deeper than 16")
        if len(v) > MAX_MAP_ENTRIES:
            raise ProtocolError("too_large", "map over 1024 entries")
        keyed: list[tuple[bytes, object]] = []
        for k, item in v.items():
            if not isinstance(k, str):
                raise ProtocolError("malformed", "map key that is not a string")
            try:
                keyed.append((k.encode("utf-8"), item))
            except UnicodeEncodeError as exc:
                raise ProtocolError("malformed", "map key with a surrogate") from exc
        keyed.sort(key=lambda kv: kv[0])
        _encode_len(out, len(keyed), 0x80, 15, (-1, 0xDE, 0xDF))
        for kraw, item in keyed:
            if len(kraw) > MAX_STR_BYTES:
                raise ProtocolError("too_large", "map key over 65536 bytes")
            _encode_len(out, len(kraw), 0xA0, 31, (0xD9, 0xDA, 0xDB))
            out += kraw
            _encode(out, item, depth + 1, max_bin)
    else:
        raise ProtocolError("malformed", f"{type(v).__name__} is not a value of the data model")


def encode(value: object, *, max_bin: int = MAX_BIN_BYTES) -> bytes:
    """The canonical encoding of ``value`` (section 2.1); ``max_bin`` is raised for a direct envelope only."""
    out = bytearray()
    _encode(out, value, 0, max_bin)
    return bytes(out)


# ---------------------------------------------------------------------------------------------------------
# Strict decoding (section 2.2)


class _Reader:
    __slots__ = ("data", "max_bin", "pos")

    def __init__(self, data: bytes, max_bin: int = MAX_BIN_BYTES) -> None:
        self.data = data
        self.pos = 0
        self.max_bin = max_bin

    def take(self, n: int, what: str) -> bytes:
        if len(self.data) - self.pos < n:
            raise ProtocolError("malformed", f"truncated {what}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big", signed=False)

    def sint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big", signed=True)


# tag -> (size of the integer, floor of the form)
_UINT_FORMS: Final[Mapping[int, tuple[int, int]]] = {
    0xCC: (1, 128),
    0xCD: (2, 256),
    0xCE: (4, 65_536),
    0xCF: (8, 2**32),
}
# tag -> (size, ceiling: the value must be below it)
_SINT_FORMS: Final[Mapping[int, tuple[int, int]]] = {
    0xD0: (1, -32),
    0xD1: (2, -128),
    0xD2: (4, -32_768),
    0xD3: (8, -(2**31)),
}
# tag -> (size of the length, floor of the length)
_STR_FORMS: Final[Mapping[int, tuple[int, int]]] = {0xD9: (1, 32), 0xDA: (2, 256), 0xDB: (4, 65_536)}
_BIN_FORMS: Final[Mapping[int, tuple[int, int]]] = {0xC4: (1, 0), 0xC5: (2, 256), 0xC6: (4, 65_536)}
_ARRAY_FORMS: Final[Mapping[int, tuple[int, int]]] = {0xDC: (2, 16), 0xDD: (4, 65_536)}
_MAP_FORMS: Final[Mapping[int, tuple[int, int]]] = {0xDE: (2, 16), 0xDF: (4, 65_536)}


def _read_str(r: _Reader, n: int) -> str:
    if n > MAX_STR_BYTES:
        raise ProtocolError("too_large", "string over 65536 bytes")
    raw = r.take(n, "string")
    try:
        return raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise ProtocolError("malformed", "invalid UTF-8") from exc


def _read_value(r: _Reader, depth: int) -> Value:
    b = r.take(1, "value")[0]
    if b <= 0x7F:
        return b
    if b >= 0xE0:
        return b - 0x100
    if b == 0xC0:
        return None
    if b == 0xC2:
        return False
    if b == 0xC3:
        return True
    if b == 0xC1 or 0xC7 <= b <= 0xC9 or 0xD4 <= b <= 0xD8:
        raise ProtocolError("malformed", f"byte {b:02x} is never used")
    if b == 0xCA:
        raise ProtocolError("non_canonical", "float32")
    if b == 0xCB:
        f: float = struct.unpack(">d", r.take(8, "float"))[0]
        if not math.isfinite(f):
            raise ProtocolError("malformed", "NaN or infinity")
        if f == 0.0 and math.copysign(1.0, f) < 0:
            raise ProtocolError("non_canonical", "negative zero")
        return f
    if b in _UINT_FORMS:
        size, floor = _UINT_FORMS[b]
        u = r.uint(size, "integer")
        if u < floor:
            raise ProtocolError("non_canonical", "integer in a longer form than needed")
        return u
    if b in _SINT_FORMS:
        size, ceiling = _SINT_FORMS[b]
        s = r.sint(size, "integer")
        if s >= 0:
            raise ProtocolError("non_canonical", "non-negative integer in a signed form")
        if s >= ceiling:
            raise ProtocolError("non_canonical", "integer in a longer form than needed")
        return s
    if 0xA0 <= b <= 0xBF:
        return _read_str(r, b - 0xA0)
    if b in _STR_FORMS:
        size, floor = _STR_FORMS[b]
        n = r.uint(size, "string length")
        if n < floor:
            raise ProtocolError("non_canonical", "string length in a longer form than needed")
        return _read_str(r, n)
    if b in _BIN_FORMS:
        size, floor = _BIN_FORMS[b]
        n = r.uint(size, "bytes length")
        if n < floor:
            raise ProtocolError("non_canonical", "bytes length in a longer form than needed")
        if n > r.max_bin:
            raise ProtocolError("too_large", f"byte string over {r.max_bin} bytes")
        return r.take(n, "bytes")
    if 0x90 <= b <= 0x9F or b in _ARRAY_FORMS:
        if b in _ARRAY_FORMS:
            size, floor = _ARRAY_FORMS[b]
            n = r.uint(size, "array count")
            if n < floor:
                raise ProtocolError("non_canonical", "array count in a longer form than needed")
        else:
            n = b - 0x90
        if depth >= MAX_DEPTH:
            raise ProtocolError("too_large", "nesting deeper than 16")
        if n > MAX_ARRAY_ITEMS:
            raise ProtocolError("too_large", "array over 4096 elements")
        return [_read_value(r, depth + 1) for _ in range(n)]
    if 0x80 <= b <= 0x8F or b in _MAP_FORMS:
        if b in _MAP_FORMS:
            size, floor = _MAP_FORMS[b]
            n = r.uint(size, "map count")
            if n < floor:
                raise ProtocolError("non_canonical", "map count in a longer form than needed")
        else:
            n = b - 0x80
        if depth >= MAX_DEPTH:
            raise ProtocolError("too_large", "nesting deeper than 16")
        if n > MAX_MAP_ENTRIES:
            raise ProtocolError("too_large", "map over 1024 entries")
        result: dict[str, Value] = {}
        previous: bytes | None = None
        for _ in range(n):
            key = _read_value(r, depth + 1)
            if not isinstance(key, str):
                raise ProtocolError("malformed", "map key that is not a string")
            kraw = key.encode("utf-8")
            if previous is not None:
                if kraw == previous:
                    raise ProtocolError("malformed", f"duplicate map key {key!r}")
                if kraw < previous:
                    raise ProtocolError("non_canonical", "map keys out of order")
            previous = kraw
            result[key] = _read_value(r, depth + 1)
        return result
    raise AssertionError(f"unreachable: byte {b:02x}")  # pragma: no cover - every byte is handled above


def decode(data: bytes, *, max_bin: int = MAX_BIN_BYTES) -> Value:
    """Decode exactly one canonical value (section 2.2), or raise ProtocolError."""
    r = _Reader(bytes(data), max_bin)
    value = _read_value(r, 0)
    if r.pos != len(r.data):
        raise ProtocolError("malformed", "trailing bytes")
    return value


# ---------------------------------------------------------------------------------------------------------
# Keys (section 4)


def kid_of(public_key: bytes) -> str:
    """The key id: the first 8 bytes of SHA-256 of the raw public key, as 16 lowercase hex digits."""
    if len(public_key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return hashlib.sha256(public_key).digest()[:8].hex()


def public_key_of(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class KeyInfo:
    """One key of an origin, with its windows (section 7): chain positions and time."""

    public_key: bytes
    not_before: int = 0
    not_after: int | None = None
    revoked_at: int | None = None
    first_seq: int = 1
    last_seq: int | None = None

    @property
    def kid(self) -> str:
        return kid_of(self.public_key)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def valid_at(self, ts: int) -> bool:
        """The time window alone (7.1: what a signed request checks)."""
        if ts < self.not_before:
            return False
        if self.not_after is not None and ts >= self.not_after:
            return False
        return not (self.revoked_at is not None and ts >= self.revoked_at)

    def valid_for(self, seq: int, ts: int) -> bool:
        """7.1: the chain position first, then the time."""
        if seq < self.first_seq or (self.last_seq is not None and seq > self.last_seq):
            return False
        return self.valid_at(ts)


@dataclass
class KeyDirectory:
    """The keys each origin published (origin -> kid -> key)."""

    keys: dict[str, dict[str, KeyInfo]] = field(default_factory=dict)

    def add(self, origin: str, key: KeyInfo) -> None:
        self.keys.setdefault(origin, {})[key.kid] = key

    def find(self, origin: str, kid: str) -> KeyInfo | None:
        return self.keys.get(origin, {}).get(kid)

    def add_node_document(self, origin: str, body: Mapping[str, Value]) -> None:
        """Take the keys of a (schema-valid) node body. A kid that is not the key's derived kid → schema."""
        raw_keys = body.get("keys", [])
        assert isinstance(raw_keys, list)
        for raw in raw_keys:
            assert isinstance(raw, dict)
            pk = raw["public_key"]
            assert isinstance(pk, bytes)
            if raw["kid"] != kid_of(pk):
                raise ProtocolError("schema", "a key's kid is not derived from its public key")
            nb, na, ra = raw["not_before"], raw.get("not_after"), raw.get("revoked_at")
            assert isinstance(nb, int)
            assert na is None or isinstance(na, int)
            assert ra is None or isinstance(ra, int)
            self.add(origin, KeyInfo(pk, nb, na, ra))


# ---------------------------------------------------------------------------------------------------------
# Entries (section 5)

SIGNING_PREFIX: Final = b"bigre-entry-v1\x00"
ENVELOPE_VERSION: Final = 1

RECORD_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
KID_RE: Final = re.compile(r"[0-9a-f]{16}")
ORIGIN_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
TYPE_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")

HEADER_KEYS: Final = frozenset({"bh", "created", "id", "kid", "origin", "prev", "seq", "ts", "tv", "type", "v"})


def _in_range(v: object, lo: int, hi: int) -> bool:
    return _is_int(v) and lo <= v <= hi  # type: ignore[operator]


@dataclass(frozen=True)
class Header:
    bh: bytes
    created: int
    id: str
    kid: str
    origin: str
    prev: bytes | None
    seq: int
    ts: int
    tv: tuple[int, int]
    type: str
    v: int

    def to_value(self) -> dict[str, Value]:
        return {
            "bh": self.bh,
            "created": self.created,
            "id": self.id,
            "kid": self.kid,
            "origin": self.origin,
            "prev": self.prev,
            "seq": self.seq,
            "ts": self.ts,
            "tv": [self.tv[0], self.tv[1]],
            "type": self.type,
            "v": self.v,
        }


@dataclass(frozen=True)
class Entry:
    raw: bytes
    header_bytes: bytes
    body_bytes: bytes | None
    signature: bytes
    header: Header

    @property
    def signed_bytes(self) -> bytes:
        return signed_bytes(self.header_bytes)

    @property
    def entry_hash(self) -> bytes:
        return entry_hash(self.header_bytes, self.signature)


def signed_bytes(header_bytes: bytes) -> bytes:
    return SIGNING_PREFIX + header_bytes


def entry_hash(header_bytes: bytes, signature: bytes) -> bytes:
    return hashlib.sha256(header_bytes + signature).digest()


def _time(v: Value, what: str, lo: int = 0) -> int:
    if not (isinstance(v, int) and not isinstance(v, bool) and lo <= v <= MAX_TIME):
        raise ProtocolError("malformed", f"{what} is not an integer {lo}..2^53-1")
    return v


def _pattern_str(v: Value, pattern: re.Pattern[str], what: str) -> str:
    if not (isinstance(v, str) and pattern.fullmatch(v) is not None):
        raise ProtocolError("malformed", f"bad {what}")
    return v


def _bytes32(v: Value, what: str) -> bytes:
    if not (isinstance(v, bytes) and len(v) == 32):
        raise ProtocolError("malformed", f"{what} is not 32 bytes")
    return v


def _parse_header(h: Value) -> Header:
    """Section 5.1 step 6, after the canonical decoding."""
    if not isinstance(h, dict):
        raise ProtocolError("malformed", "header is not a map")
    v = h.get("v")
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ProtocolError("malformed", "header has no valid v")
    if v != ENVELOPE_VERSION:
        raise ProtocolError("unsupported_version", f"envelope version {v}")
    if set(h) != HEADER_KEYS:
        raise ProtocolError("malformed", "header keys are not exactly the eleven keys")
    tv = h["tv"]
    if not (isinstance(tv, list) and len(tv) == 2):
        raise ProtocolError("malformed", "tv is not [major, minor]")
    major, minor = tv
    if not (_in_range(major, 0, 65_535) and _in_range(minor, 0, 65_535)):
        raise ProtocolError("malformed", "tv is not [major, minor]")
    assert isinstance(major, int)
    assert isinstance(minor, int)
    bh = _bytes32(h["bh"], "bh")
    created = _time(h["created"], "created")
    record_id = _pattern_str(h["id"], RECORD_ID_RE, "record id")
    kid = _pattern_str(h["kid"], KID_RE, "kid")
    origin = _pattern_str(h["origin"], ORIGIN_RE, "origin")
    seq = _time(h["seq"], "seq", lo=1)
    prev: bytes | None
    if seq == 1:
        if h["prev"] is not None:
            raise ProtocolError("malformed", "prev must be nil at seq 1")
        prev = None
    else:
        prev = _bytes32(h["prev"], "prev")
    ts = _time(h["ts"], "ts")
    type_name = _pattern_str(h["type"], TYPE_RE, "type")
    return Header(bh, created, record_id, kid, origin, prev, seq, ts, (major, minor), type_name, v)


def decode_entry(data: bytes, *, direct: bool = False) -> Entry:
    """Section 5.1; ``direct``: the entry is received as a direct record (section 3's larger limits)."""
    data = bytes(data)
    limit = MAX_DIRECT_ENVELOPE_BYTES if direct else MAX_ENVELOPE_BYTES
    if len(data) > limit:
        raise ProtocolError("too_large", f"envelope over {limit} bytes")
    top = decode(data, max_bin=limit if direct else MAX_BIN_BYTES)
    if not isinstance(top, dict) or set(top) != {"b", "h", "s"}:
        raise ProtocolError("malformed", "an entry is a map of b, h, s")
    b, h, s = top["b"], top["h"], top["s"]
    if not isinstance(h, bytes) or not isinstance(s, bytes) or not (b is None or isinstance(b, bytes)):
        raise ProtocolError("malformed", "entry fields of the wrong type")
    if len(h) > MAX_HEADER_BYTES:
        raise ProtocolError("too_large", "header over 1024 bytes")
    header = _parse_header(decode(h))
    if len(s) != 64:
        raise ProtocolError("malformed", "signature is not 64 bytes")
    if b is not None and hashlib.sha256(b).digest() != header.bh:
        raise ProtocolError("body_mismatch", "SHA-256 of the body differs from bh")
    return Entry(raw=data, header_bytes=h, body_bytes=b, signature=s, header=header)


HANDOVER_PREFIX: Final = b"bigre-handover-v1\x00"


@dataclass(frozen=True)
class Handover:
    """What a hand-over entry carries (7.2): the old kid, its signature, and the new key's item."""

    old_kid: str
    signature: bytes
    item: Mapping[str, Value]


def _opt_time(item: Mapping[str, Value], name: str) -> int | None:
    v = item.get(name)
    return v if _is_int(v) and v >= 0 else None  # type: ignore[operator,return-value]


def read_handover(entry: Entry) -> Handover | None:
    """7.2: a `node` entry, tv major 1, with a body that decodes canonically to a map holding `handover` (a map with
    a string `kid` and 64 bytes `signature`) and `keys` holding a map with a 32-byte `public_key` of the entry's
    kid. Anything else is no hand-over."""
    h = entry.header
    if h.type != "node" or h.tv[0] != 1 or entry.body_bytes is None:
        return None
    try:
        body = decode(entry.body_bytes)
    except ProtocolError:
        return None
    if not isinstance(body, dict):
        return None
    ho, items = body.get("handover"), body.get("keys")
    if not isinstance(ho, dict) or not isinstance(items, list):
        return None
    kid, sig = ho.get("kid"), ho.get("signature")
    if not isinstance(kid, str) or not isinstance(sig, bytes) or len(sig) != 64:
        return None
    for item in items:
        if isinstance(item, dict):
            pk = item.get("public_key")
            if isinstance(pk, bytes) and len(pk) == 32 and kid_of(pk) == h.kid:
                return Handover(kid, sig, item)
    return None


def handover_statement(origin: str, seq: int, prev: bytes | None, new_key: bytes) -> bytes:
    return HANDOVER_PREFIX + encode({"new_key": new_key, "origin": origin, "prev": prev, "seq": seq})


def _find_key(entry: Entry, keys: KeyDirectory) -> KeyInfo:
    """5.2 step 1, with the hand-over of 7.2."""
    h = entry.header
    key = keys.find(h.origin, h.kid)
    if key is not None:
        return key
    ho = read_handover(entry)
    if ho is None:
        raise ProtocolError("unknown_key", f"{h.origin} has no key {h.kid}")
    old = keys.find(h.origin, ho.old_kid)
    if old is None:
        raise ProtocolError("unknown_key", f"hand-over from {ho.old_kid}, which {h.origin} does not have")
    if old.revoked or not old.valid_for(h.seq, h.ts):
        raise ProtocolError("key_not_valid", f"the old key {ho.old_kid} cannot hand over at seq {h.seq}")
    new_key = ho.item["public_key"]
    assert isinstance(new_key, bytes)
    try:
        Ed25519PublicKey.from_public_bytes(old.public_key).verify(
            ho.signature, handover_statement(h.origin, h.seq, h.prev, new_key)
        )
    except InvalidSignature as exc:
        raise ProtocolError("bad_signature", "the old key did not sign this hand-over") from exc
    return KeyInfo(
        new_key,
        not_before=_opt_time(ho.item, "not_before") or 0,
        not_after=_opt_time(ho.item, "not_after"),
        revoked_at=_opt_time(ho.item, "revoked_at"),
        first_seq=h.seq,
        last_seq=_opt_time(ho.item, "last_seq"),
    )


def _key_for(entry: Entry, keys: KeyDirectory) -> KeyInfo:
    """5.2 steps 1 and 2."""
    key = _find_key(entry, keys)
    if not key.valid_for(entry.header.seq, entry.header.ts):
        raise ProtocolError("key_not_valid", f"key {key.kid} not valid at seq {entry.header.seq}")
    return key


def _check_signature(entry: Entry, key: KeyInfo) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(entry.signature, entry.signed_bytes)
    except InvalidSignature as exc:
        raise ProtocolError("bad_signature", "Ed25519 verification failed") from exc


def verify_entry(entry: Entry, keys: KeyDirectory) -> None:
    """Section 5.2."""
    _check_signature(entry, _key_for(entry, keys))


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def apply_key_effects(entry: Entry, body: Mapping[str, Value], keys: KeyDirectory) -> None:
    """Section 7.3, for a verified `node` or `key_revocation` entry with its checked body."""
    h = entry.header
    origin, n, signer = h.origin, h.seq, h.kid
    known = keys.keys.setdefault(origin, {})
    if h.type == "node":
        ho = read_handover(entry)
        if ho is not None and ho.old_kid != signer and ho.old_kid in known:
            if signer not in known:
                known[signer] = KeyInfo(
                    ho.item["public_key"],  # type: ignore[arg-type]
                    not_before=_opt_time(ho.item, "not_before") or 0,
                    not_after=_opt_time(ho.item, "not_after"),
                    revoked_at=_opt_time(ho.item, "revoked_at"),
                    first_seq=n,
                    last_seq=_opt_time(ho.item, "last_seq"),
                )
            old = known[ho.old_kid]
            known[ho.old_kid] = replace(old, last_seq=_min(old.last_seq, n - 1), not_after=_min(old.not_after, h.ts))
        items = body.get("keys", [])
        assert isinstance(items, list)
        for item in items:
            assert isinstance(item, dict)
            pk = item["public_key"]
            assert isinstance(pk, bytes)
            k = kid_of(pk)
            na, ra, ls = _opt_time(item, "not_after"), _opt_time(item, "revoked_at"), _opt_time(item, "last_seq")
            if k not in known:
                known[k] = KeyInfo(
                    pk,
                    not_before=_opt_time(item, "not_before") or 0,
                    not_after=na,
                    revoked_at=ra,
                    first_seq=max(n + 1, _opt_time(item, "first_seq") or 1),
                    last_seq=ls,
                )
                continue
            cur = known[k]
            closes = (na is not None and cur.not_after is None) or (ra is not None and cur.revoked_at is None)
            cur = replace(
                cur,
                not_after=_min(cur.not_after, na),
                revoked_at=_min(cur.revoked_at, ra),
                last_seq=_min(cur.last_seq, ls),
            )
            if closes:
                cur = replace(cur, last_seq=_min(cur.last_seq, n if k == signer else n - 1))
            known[k] = cur
    elif h.type == "key_revocation":
        revoked_kid, revoked_from = body["kid"], body["revoked_at"]
        if isinstance(revoked_kid, str) and revoked_kid in known and isinstance(revoked_from, int):
            cur = known[revoked_kid]
            known[revoked_kid] = replace(
                cur,
                revoked_at=_min(cur.revoked_at, revoked_from),
                last_seq=_min(cur.last_seq, n if revoked_kid == signer else n - 1),
            )


def sign_entry(seed: bytes, header: Mapping[str, Value], body: Value, *, erase: bool = False) -> bytes:
    """Build an entry: ``header`` holds every header field except ``bh`` (computed from ``body``).

    ``erase=True`` returns the entry with its body erased (``b`` nil), keeping ``bh`` of the original body.
    """
    body_bytes = encode(body)
    header_value = dict(header)
    header_value["bh"] = hashlib.sha256(body_bytes).digest()
    header_bytes = encode(header_value)
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(signed_bytes(header_bytes))
    envelope = {"b": None if erase else body_bytes, "h": header_bytes, "s": signature}
    return encode(envelope, max_bin=MAX_DIRECT_ENVELOPE_BYTES)


# ---------------------------------------------------------------------------------------------------------
# Record schemas (section 8)


@dataclass(frozen=True)
class Str:
    max_len: int
    pattern: str | None = None

    def compiled(self) -> re.Pattern[str] | None:
        return None if self.pattern is None else _compile(self.pattern)


@dataclass(frozen=True)
class Enum:
    values: tuple[str, ...]


@dataclass(frozen=True)
class Int:
    lo: int
    hi: int


@dataclass(frozen=True)
class Bool:
    pass


@dataclass(frozen=True)
class Bin:
    length: int


@dataclass(frozen=True)
class Date:
    pass


@dataclass(frozen=True)
class Arr:
    max_items: int
    item: Rule


@dataclass(frozen=True)
class Obj:
    fields: Mapping[str, Fld]


@dataclass(frozen=True)
class Fld:
    rule: Rule
    required: bool = False


Rule: TypeAlias = Str | Enum | Int | Bool | Bin | Date | Arr | Obj

_PATTERN_CACHE: dict[str, re.Pattern[str]] = {}


def _compile(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERN_CACHE.get(pattern)
    if compiled is None:
        # re.ASCII: \d and friends are ASCII only (the tables use explicit classes anyway);
        # the check uses fullmatch, so an alternation such as `[0-9]{2,3}|2[AB]` applies to the whole string.
        compiled = _PATTERN_CACHE[pattern] = re.compile(pattern, re.ASCII)
    return compiled


def _req(rule: Rule) -> Fld:
    return Fld(rule, required=True)


def _opt(rule: Rule) -> Fld:
    return Fld(rule)


TIME: Final = Int(0, MAX_TIME)
ORIGIN_PAT: Final = r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?"
ID_PAT: Final = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}"
URL: Final = Str(200, r"https?://[!-~]+")
KID: Final = Str(16, r"[0-9a-f]{16}")
REF: Final = Str(97, ORIGIN_PAT + "/" + ID_PAT)
LANGUAGES: Final = Arr(10, Str(3, r"[a-z]{2,3}"))

PLACE: Final = Obj(
    {
        "town": _opt(Str(80)),
        "postcode": _opt(Str(10, r"[0-9A-Z -]{2,10}")),
        "departement": _opt(Str(3, r"[0-9]{2,3}|2[AB]")),
        "region": _opt(Str(60)),
        "country": _opt(Str(2, r"[A-Z]{2}")),
        "lat_e6": _opt(Int(-90_000_000, 90_000_000)),
        "lon_e6": _opt(Int(-180_000_000, 180_000_000)),
    }
)
TRADES: Final = Arr(
    10,
    Obj(
        {
            "rome": _opt(Str(5, r"[A-N][0-9]{4}")),
            "label": _req(Str(120)),
            "esco": _opt(URL),
        }
    ),
)


@dataclass(frozen=True)
class RecordType:
    name: str
    major: int
    minor: int
    body: Obj
    fixed_id: str | None = None


_LOG_AND_MESSAGE_TYPES: Final[Mapping[str, RecordType]] = {
    t.name: t
    for t in (
        RecordType(
            "node",
            1,
            1,
            Obj(
                {
                    "name": _req(Str(32, ORIGIN_PAT)),
                    "display_name": _req(Str(120)),
                    "url": _req(URL),
                    "description": _opt(Str(2000)),
                    "legal_form": _opt(Str(40)),
                    "sectors": _opt(Arr(20, Str(60))),
                    "place": _opt(PLACE),
                    "member_count": _opt(Int(0, 10_000_000)),
                    "contact": _opt(Str(200)),
                    "dpo_contact": _opt(Str(200)),
                    "protocol_versions": _opt(Arr(8, Int(1, 65_535))),
                    "keys": _opt(
                        Arr(
                            32,
                            Obj(
                                {
                                    "kid": _req(KID),
                                    "public_key": _req(Bin(32)),
                                    "not_before": _req(TIME),
                                    "not_after": _opt(TIME),
                                    "revoked_at": _opt(TIME),
                                    "first_seq": _opt(Int(1, MAX_TIME)),
                                    "last_seq": _opt(Int(0, MAX_TIME)),
                                }
                            ),
                        )
                    ),
                    "status": _opt(Enum(("candidate", "member", "suspended", "left"))),
                    "handover": _opt(Obj({"kid": _req(KID), "signature": _req(Bin(64))})),
                }
            ),
            fixed_id="node",
        ),
        RecordType(
            "profile",
            1,
            0,
            Obj(
                {
                    "display_name": _opt(Str(120)),
                    "bio": _opt(Str(2000)),
                    "trades": _opt(TRADES),
                    "skills": _opt(Arr(30, Str(60))),
                    "languages": _opt(LANGUAGES),
                    "place": _opt(PLACE),
                    "availability": _opt(
                        Obj(
                            {
                                "status": _opt(Enum(("available", "partly", "busy", "unavailable"))),
                                "from": _opt(Date()),
                                "until": _opt(Date()),
                                "days_per_week": _opt(Int(0, 7)),
                            }
                        )
                    ),
                    "stage": _opt(Enum(("starting", "intermittent", "established"))),
                    "coop_status": _opt(Enum(("cape", "salaried_entrepreneur", "associate", "employee", "other"))),
                    "links": _opt(Arr(10, URL)),
                    "contact_preference": _opt(Enum(("message", "email", "phone"))),
                    "day_rate_eur": _opt(Int(0, 100_000)),
                    "public": _opt(Arr(32, Str(32))),
                }
            ),
        ),
        RecordType(
            "offer",
            1,
            0,
            Obj(
                {
                    "purpose": _req(Enum(("offer", "request"))),
                    "title": _req(Str(140)),
                    "note": _opt(Str(4000)),
                    "trades": _opt(TRADES),
                    "skills": _opt(Arr(30, Str(60))),
                    "place": _opt(PLACE),
                    "remote": _opt(Bool()),
                    "from": _opt(Date()),
                    "until": _opt(Date()),
                    "effort_days": _opt(Int(0, 3650)),
                    "reciprocity": _opt(Enum(("paid", "exchange", "time", "free"))),
                    "expires": _opt(TIME),
                    "status": _req(Enum(("open", "closed", "fulfilled"))),
                    "author": _opt(Str(64, ID_PAT)),
                }
            ),
        ),
        RecordType(
            "mentoring",
            1,
            1,
            Obj(
                {
                    "kind": _req(Enum(("offer", "request"))),
                    "member": _req(Str(64, ID_PAT)),
                    "topics": _opt(Arr(10, Str(80))),
                    "trades": _opt(TRADES),
                    "languages": _opt(LANGUAGES),
                    "cadence": _opt(Str(80)),
                    "programme": _opt(Str(80)),
                    "note": _opt(Str(2000)),
                    "status": _req(Enum(("open", "paired", "closed"))),
                    "capacity": _opt(Int(1, 20)),
                }
            ),
        ),
        RecordType(
            "event",
            1,
            1,
            Obj(
                {
                    "kind": _req(Enum(("training", "workshop", "working_group", "meeting", "other"))),
                    "title": _req(Str(140)),
                    "description": _opt(Str(4000)),
                    "start": _req(TIME),
                    "end": _opt(TIME),
                    "place": _opt(PLACE),
                    "online": _opt(Bool()),
                    "url": _opt(URL),
                    "seats": _opt(Int(0, 100_000)),
                    "registration": _opt(Enum(("open", "approval", "closed"))),
                    "organiser": _opt(Str(120)),
                    "languages": _opt(LANGUAGES),
                    "status": _opt(Enum(("scheduled", "cancelled"))),
                    "audience": _opt(Enum(("members", "school"))),
                }
            ),
        ),
        RecordType(
            "help_request",
            1,
            0,
            Obj(
                {
                    "topic": _req(Str(140)),
                    "text": _opt(Str(4000)),
                    "urgency": _opt(Enum(("low", "normal", "high"))),
                    "needed_by": _opt(Date()),
                    "trades": _opt(TRADES),
                    "author": _opt(Str(64, ID_PAT)),
                    "status": _req(Enum(("open", "answered", "closed"))),
                }
            ),
        ),
        RecordType(
            "help_answer",
            1,
            0,
            Obj(
                {
                    "request": _req(REF),
                    "text": _req(Str(4000)),
                    "author": _opt(Str(64, ID_PAT)),
                }
            ),
        ),
        RecordType(
            "tombstone",
            1,
            0,
            Obj(
                {
                    "target_type": _req(Str(32, r"[a-z][a-z0-9_]{0,31}")),
                    "reason": _req(Enum(("deleted", "erased", "expired", "moved"))),
                    "forward": _opt(REF),
                }
            ),
        ),
        RecordType(
            "proposal",
            1,
            0,
            Obj(
                {
                    "kind": _req(
                        Enum(
                            (
                                "admission",
                                "suspension",
                                "expulsion",
                                "reinstatement",
                                "leave",
                                "charter",
                                "key_recovery",
                            )
                        )
                    ),
                    "subject": _req(Str(32, ORIGIN_PAT)),
                    "deadline": _req(TIME),
                    "text": _opt(Str(4000)),
                    "candidate": _opt(
                        Obj(
                            {
                                "url": _req(URL),
                                "display_name": _req(Str(120)),
                                "public_key": _req(Bin(32)),
                                "legal_name": _opt(Str(200)),
                                "registry_number": _opt(Str(40)),
                                "contact": _opt(Str(200)),
                                "sponsor": _opt(Str(32, ORIGIN_PAT)),
                                "case": _opt(Str(64)),
                            }
                        )
                    ),
                    "charter": _opt(
                        Obj(
                            {
                                "admission_rule": _req(Enum(("majority", "two_thirds", "unanimity", "sponsors"))),
                                "sponsors_required": _opt(Int(1, 100)),
                                "suspension_rule": _req(Enum(("majority", "two_thirds", "unanimity"))),
                                "expulsion_rule": _req(Enum(("majority", "two_thirds", "unanimity"))),
                                "charter_rule": _req(Enum(("majority", "two_thirds", "unanimity"))),
                                "recovery_rule": _req(Enum(("majority", "two_thirds", "unanimity"))),
                                "voting_days": _req(Int(1, 365)),
                                "proposers": _opt(Enum(("any_member", "founders"))),
                                "suspended_records": _opt(Enum(("keep", "drop"))),
                                "departed_records": _opt(Enum(("keep", "drop"))),
                                "text": _opt(Str(8000)),
                            }
                        )
                    ),
                    "new_key": _opt(Bin(32)),
                }
            ),
        ),
        RecordType(
            "admission_vote",
            1,
            0,
            Obj(
                {
                    "proposal": _req(REF),
                    "decision": _req(Enum(("yes", "no", "abstain"))),
                    "reason": _opt(Str(1000)),
                }
            ),
        ),
        RecordType(
            "message",
            1,
            0,
            Obj(
                {
                    "to_node": _req(Str(32, ORIGIN_PAT)),
                    "to_member": _req(Str(64, ID_PAT)),
                    "from_member": _req(Str(64, ID_PAT)),
                    "from_name": _opt(Str(120)),
                    "subject": _opt(Str(140)),
                    "text": _req(Str(4000)),
                    "about": _opt(REF),
                }
            ),
        ),
        RecordType(
            "fork_repair",
            1,
            0,
            Obj(
                {
                    "seq": _req(Int(1, MAX_TIME)),
                    "hash": _req(Bin(32)),
                    "reason": _req(Enum(("compromised", "restored", "duplicate", "other"))),
                    "text": _opt(Str(1000)),
                }
            ),
        ),
        RecordType(
            "key_revocation",
            1,
            0,
            Obj(
                {
                    "kid": _req(KID),
                    "revoked_at": _req(TIME),
                    "reason": _req(Enum(("compromised", "superseded", "lost"))),
                    "replacement": _opt(KID),
                }
            ),
        ),
    )
}


# Section 8.1: direct types. `message` is one of them; the others are written here from their tables.
NODE_NAME: Final = Str(32, ORIGIN_PAT)
RECORD_ID: Final = Str(64, ID_PAT)
DIRECT_TYPES: Final = frozenset(
    {
        "message",
        "member_move",
        "member_move_acceptance",
        "case_share",
        "case_withdrawal",
        "event_registration",
        "event_registration_answer",
        "erasure_receipt",
        "booking_request",
        "booking_answer",
        "mentoring_pair",
        "mentoring_pair_answer",
        "mentoring_checkin",
    }
)
CASE_STAGE_NAMES: Final = (
    "emergence",
    "co_accompaniment",
    "feasibility",
    "legal_form",
    "statutes",
    "financing",
    "registration",
    "follow_up",
)


def _without(obj: Obj, name: str) -> Obj:
    return Obj({k: v for k, v in obj.fields.items() if k != name})


def _case_entry(**extra: Fld) -> Obj:
    by = Obj({"node": _req(NODE_NAME), "account_id": _opt(TIME)})
    return Obj({"id": _req(Str(64)), "at": _req(TIME), "by": _opt(by), **extra})


_CASE_STAGE: Final = Obj(
    {
        "checklist": _opt(Arr(100, Obj({"key": _req(Str(64)), "label": _opt(Str(200)), "done": _req(Bool())}))),
        "planned": _opt(Date()),
        "started": _opt(Date()),
        "done": _opt(Date()),
        "notes": _opt(Arr(100, _case_entry(text=_req(Str(4000))))),
        "documents": _opt(Arr(100, _case_entry(name=_req(Str(200)), ref=_req(Str(500))))),
        "decisions": _opt(Arr(100, _case_entry(text=_req(Str(2000)), date=_opt(Date()), who=_opt(Str(200))))),
    }
)
_PROFILE_MOVED: Final = _without(_LOG_AND_MESSAGE_TYPES["profile"].body, "public")
_DIRECT_ONLY: Final = (
    RecordType(
        "member_move",
        1,
        0,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "move": _req(RECORD_ID),
                "member": _req(RECORD_ID),
                "email": _req(Str(254)),
                "display_name": _req(Str(120)),
                "profile": _opt(_PROFILE_MOVED),
                "visibility": _opt(Obj({k: _opt(Enum(("coop", "network", "public"))) for k in _PROFILE_MOVED.fields})),
                "offers": _opt(
                    Arr(
                        200,
                        Obj(
                            {
                                "id": _req(RECORD_ID),
                                "visibility": _opt(Enum(("network", "public"))),
                                "fields": _req(_without(_LOG_AND_MESSAGE_TYPES["offer"].body, "author")),
                            }
                        ),
                    )
                ),
                "mentoring": _opt(
                    Arr(
                        50,
                        Obj(
                            {
                                "id": _req(RECORD_ID),
                                "fields": _req(_without(_LOG_AND_MESSAGE_TYPES["mentoring"].body, "member")),
                            }
                        ),
                    )
                ),
            }
        ),
    ),
    RecordType(
        "member_move_acceptance",
        1,
        0,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "move": _req(RECORD_ID),
                "member": _req(RECORD_ID),
                "records": _opt(Arr(251, Obj({"old": _req(RECORD_ID), "new": _req(RECORD_ID)}))),
            }
        ),
    ),
    RecordType(
        "case_share",
        1,
        1,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "case_origin": _req(NODE_NAME),
                "case_id": _req(RECORD_ID),
                "title": _req(Str(200)),
                "stage": _req(Enum(CASE_STAGE_NAMES)),
                "origin_kind": _req(
                    Enum(("new_creation", "association_conversion", "company_takeover", "cae_collective"))
                ),
                "target_form": _req(Enum(("cae_activity", "scop", "scic", "other"))),
                "description": _opt(Str(4000)),
                "trades": _opt(TRADES),
                "group": _opt(
                    Arr(
                        50,
                        Obj(
                            {
                                "name": _req(Str(120)),
                                "email": _opt(Str(254)),
                                "role": _opt(Str(80)),
                                "associate": _opt(Bool()),
                                "employee": _opt(Bool()),
                                "capital_eur": _opt(Int(0, 1_000_000_000)),
                                "stakeholder": _opt(
                                    Enum(
                                        (
                                            "employee",
                                            "producer",
                                            "beneficiary",
                                            "volunteer",
                                            "local_authority",
                                            "supporter",
                                            "other",
                                        )
                                    )
                                ),
                            }
                        ),
                    )
                ),
                "owners": _opt(
                    Arr(50, Obj({"node": _req(NODE_NAME), "account_id": _req(TIME), "name": _opt(Str(120))}))
                ),
                "stages": _opt(Obj({name: _opt(_CASE_STAGE) for name in CASE_STAGE_NAMES})),
                "node": _opt(Obj({"name": _req(NODE_NAME), "url": _req(URL), "built_at": _opt(TIME)})),
                "shared_with": _opt(Arr(64, NODE_NAME)),
                "created_at": _req(TIME),
                "updated_at": _req(TIME),
                "updated_by": _req(NODE_NAME),
                "retention_until": _req(TIME),
                "student": _opt(
                    Obj(
                        {
                            "university": _req(Str(200)),
                            "tutor": _opt(Str(120)),
                            "course": _opt(Str(200)),
                            "year_start": _req(Date()),
                            "year_end": _req(Date()),
                            "milestones": _opt(Arr(20, Obj({"date": _req(Date()), "label": _opt(Str(200))}))),
                            "graduated_to": _opt(Str(64, ID_PAT)),
                        }
                    )
                ),
            }
        ),
    ),
    RecordType("case_withdrawal", 1, 0, Obj({"to_node": _req(NODE_NAME), "case_id": _req(RECORD_ID)})),
    RecordType(
        "event_registration",
        1,
        0,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "action": _req(Enum(("register", "cancel"))),
                "event": _req(RECORD_ID),
                "member": _req(RECORD_ID),
                "name": _req(Str(120)),
                "at": _req(TIME),
            }
        ),
    ),
    RecordType(
        "event_registration_answer",
        1,
        0,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "event": _req(RECORD_ID),
                "member": _req(RECORD_ID),
                "request": _req(RECORD_ID),
                "status": _req(Enum(("confirmed", "full", "closed", "unknown"))),
            }
        ),
    ),
    RecordType(
        "erasure_receipt",
        1,
        0,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "records": _req(Arr(500, RECORD_ID)),
                "erased_at": _req(TIME),
            }
        ),
    ),
)
# Resources and bookings: written from their tables in section 8.
_PRICE: Final = Obj(
    {
        "audience": _req(Enum(("coop", "network", "public"))),
        "access": _req(Enum(("free", "paid", "not_offered"))),
        "amount_cents": _opt(Int(0, 10_000_000)),
        "unit": _opt(Enum(("hour", "half_day", "day", "booking"))),
        "note": _opt(Str(200)),
    }
)
_BOOKING_TYPES: Final = (
    RecordType(
        "resource",
        1,
        0,
        Obj(
            {
                "kind": _req(Enum(("space", "machine"))),
                "title": _req(Str(140)),
                "description": _opt(Str(4000)),
                "venue": _opt(Str(120)),
                "run_by": _opt(Str(120)),
                "place": _opt(PLACE),
                "capacity": _opt(Int(1, 10_000)),
                "timezone": _opt(Str(40, r"[A-Za-z_]+(?:/[A-Za-z0-9_+-]+){0,2}")),
                "hours": _opt(
                    Arr(28, Obj({"day": _req(Int(1, 7)), "opens": _req(Int(0, 1439)), "closes": _req(Int(1, 1440))}))
                ),
                "slot_minutes": _opt(Int(15, 1440)),
                "max_minutes": _opt(Int(15, 20160)),
                "prices": _opt(Arr(3, _PRICE)),
                "photos": _opt(Arr(10, Str(300, r"https?://[!-~]+"))),
                "qualification": _opt(Str(40, r"[a-z0-9][a-z0-9_-]{0,39}")),
                "qualification_label": _opt(Str(120)),
                "approval": _opt(Bool()),
                "status": _req(Enum(("open", "closed"))),
            }
        ),
    ),
    RecordType(
        "booking_request",
        1,
        0,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "action": _req(Enum(("book", "cancel"))),
                "booking": _req(RECORD_ID),
                "resource": _req(RECORD_ID),
                "member": _req(RECORD_ID),
                "name": _req(Str(120)),
                "start": _req(TIME),
                "end": _req(TIME),
                "note": _opt(Str(500)),
                "at": _req(TIME),
            }
        ),
    ),
    RecordType(
        "booking_answer",
        1,
        0,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "booking": _req(RECORD_ID),
                "resource": _req(RECORD_ID),
                "request": _req(RECORD_ID),
                "status": _req(Enum(("pending", "confirmed", "refused", "cancelled"))),
                "reason": _opt(
                    Enum(
                        (
                            "conflict",
                            "not_qualified",
                            "closed",
                            "outside_hours",
                            "invalid",
                            "unknown",
                            "declined",
                            "by_staff",
                        )
                    )
                ),
                "at": _req(TIME),
            }
        ),
    ),
)
_PAIR_PERSON: Final = Obj(
    {
        "node": _req(NODE_NAME),
        "member": _req(RECORD_ID),
        "mentoring": _opt(RECORD_ID),
        "name": _req(Str(120)),
        "answer": _req(Enum(("pending", "accepted", "declined"))),
    }
)
# Section 8, mentoring programmes (8.2): one log type and three direct types.
_MENTORING_TYPES: Final = (
    RecordType(
        "mentoring_programme",
        1,
        0,
        Obj(
            {
                "name": _req(Str(120)),
                "description": _opt(Str(4000)),
                "cohort_start": _req(Date()),
                "cohort_end": _req(Date()),
                "mentees": _opt(Arr(3, Enum(("first_year", "under_30", "any")))),
                "topics": _opt(Arr(10, Str(80))),
                "languages": _opt(LANGUAGES),
                "coordinator": _opt(Str(120)),
                "status": _req(Enum(("open", "running", "closed"))),
            }
        ),
    ),
    RecordType(
        "mentoring_pair",
        1,
        0,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "pair": _req(RECORD_ID),
                "programme": _req(REF),
                "programme_name": _req(Str(120)),
                "mentor": _req(_PAIR_PERSON),
                "mentee": _req(_PAIR_PERSON),
                "status": _req(Enum(("proposed", "active", "declined", "closed"))),
                "note": _opt(Str(2000)),
                "updated_at": _req(TIME),
            }
        ),
    ),
    RecordType(
        "mentoring_pair_answer",
        1,
        0,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "pair": _req(RECORD_ID),
                "role": _req(Enum(("mentor", "mentee"))),
                "member": _req(RECORD_ID),
                "action": _req(Enum(("accept", "decline", "close"))),
                "feedback": _opt(Str(2000)),
                "at": _req(TIME),
            }
        ),
    ),
    RecordType(
        "mentoring_checkin",
        1,
        0,
        Obj(
            {
                "to_node": _req(NODE_NAME),
                "pair": _req(RECORD_ID),
                "date": _req(Date()),
                "note": _opt(Str(1000)),
                "by_node": _req(NODE_NAME),
                "by_name": _req(Str(120)),
            }
        ),
    ),
)
RECORD_TYPES: Final[Mapping[str, RecordType]] = {
    **_LOG_AND_MESSAGE_TYPES,
    **{t.name: t for t in _DIRECT_ONLY},
    **{t.name: t for t in _BOOKING_TYPES},
    **{t.name: t for t in _MENTORING_TYPES},
}

_DAYS_IN_MONTH: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DATE_RE: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)


def is_calendar_date(s: str) -> bool:
    """``YYYY-MM-DD`` naming a real date of the proleptic Gregorian calendar, years 0001–9999."""
    m = _DATE_RE.fullmatch(s)
    if m is None:
        return False
    year, month, day = (int(g) for g in m.groups())
    if year < 1 or not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    last = 29 if month == 2 and leap else _DAYS_IN_MONTH[month - 1]
    return 1 <= day <= last


def _fail(path: str, why: str) -> ProtocolError:
    return ProtocolError("schema", f"{path or 'body'}: {why}")


def _validate(rule: Rule, v: Value, path: str, strict_fields: bool) -> None:
    if isinstance(rule, Str):
        if not isinstance(v, str):
            raise _fail(path, "not a string")
        if len(v) > rule.max_len:
            raise _fail(path, f"longer than {rule.max_len} code points")
        pat = rule.compiled()
        if pat is not None and pat.fullmatch(v) is None:
            raise _fail(path, f"does not match {rule.pattern}")
    elif isinstance(rule, Enum):
        if not isinstance(v, str) or v not in rule.values:
            raise _fail(path, "not one of " + ", ".join(rule.values))
    elif isinstance(rule, Int):
        if not _is_int(v):
            raise _fail(path, "not an integer")
        assert isinstance(v, int)
        if not rule.lo <= v <= rule.hi:
            raise _fail(path, f"outside {rule.lo}..{rule.hi}")
    elif isinstance(rule, Bool):
        if not isinstance(v, bool):
            raise _fail(path, "not a boolean")
    elif isinstance(rule, Bin):
        if not isinstance(v, bytes) or len(v) != rule.length:
            raise _fail(path, f"not {rule.length} bytes")
    elif isinstance(rule, Date):
        if not isinstance(v, str) or not is_calendar_date(v):
            raise _fail(path, "not a calendar date YYYY-MM-DD")
    elif isinstance(rule, Arr):
        if not isinstance(v, list):
            raise _fail(path, "not an array")
        if len(v) > rule.max_items:
            raise _fail(path, f"more than {rule.max_items} items")
        for i, item in enumerate(v):
            _validate(rule.item, item, f"{path}[{i}]", strict_fields)
    else:
        _validate_map(rule, v, path, strict_fields)


def _validate_map(rule: Obj, v: Value, path: str, strict_fields: bool) -> None:
    if not isinstance(v, dict):
        raise _fail(path, "not a map")
    for name, fld in rule.fields.items():
        sub = f"{path}.{name}" if path else name
        if name not in v:
            if fld.required:
                raise _fail(sub, "required")
            continue
        value = v[name]
        if value is None:
            raise _fail(sub, "nil is never a field value")
        _validate(fld.rule, value, sub, strict_fields)
    if strict_fields:
        unknown = sorted(set(v) - set(rule.fields))
        if unknown:
            raise _fail(path, f"unknown field {unknown[0]!r} in a version that does not have it")


def validate_body(type_name: str, tv: Sequence[int], body: Value, *, origin: str | None = None) -> None:
    """Section 8 and 11: the schema of ``type_name`` at version ``tv`` (type and major assumed checked)."""
    rtype = RECORD_TYPES[type_name]
    strict_fields = tv[1] <= rtype.minor
    _validate_map(rtype.body, body, "", strict_fields)
    if type_name == "node" and origin is not None:
        assert isinstance(body, dict)
        if body["name"] != origin:
            raise _fail("name", "a node document's name is its origin")


def check_body(
    type_name: str,
    tv: Sequence[int],
    body_bytes: bytes | None,
    *,
    record_id: str | None = None,
    origin: str | None = None,
) -> Value:
    """Section 5.3; returns the decoded body (None when erased)."""
    rtype = RECORD_TYPES.get(type_name)
    if rtype is None:
        raise ProtocolError("schema", f"unknown record type {type_name!r}")
    if rtype.fixed_id is not None and record_id is not None and record_id != rtype.fixed_id:
        raise ProtocolError("schema", f"a {type_name} record has the id {rtype.fixed_id!r}")
    if tv[0] != rtype.major:
        raise ProtocolError("unsupported_version", f"{type_name} major version {tv[0]}")
    if body_bytes is None:
        return None
    body = decode(body_bytes)
    if not isinstance(body, dict):
        raise ProtocolError("malformed", "a body is a map")
    validate_body(type_name, tv, body, origin=origin)
    return body


def accept_entry(data: bytes, keys: KeyDirectory) -> tuple[Entry, Value]:
    """The whole single-record pipeline: 5.1, then 5.2, then 5.3."""
    entry = decode_entry(data)
    verify_entry(entry, keys)
    h = entry.header
    if h.type in DIRECT_TYPES and h.seq != 1:
        raise ProtocolError("schema", "section 8: a direct type with seq other than 1")
    body = check_body(h.type, h.tv, entry.body_bytes, record_id=h.id, origin=h.origin)
    return entry, body


def accept_direct(data: bytes, keys: KeyDirectory, receiver: str) -> tuple[Entry, Value]:
    """Section 8.1: a direct record received by ``receiver``, checked in the order given there."""
    entry = decode_entry(data, direct=True)
    h = entry.header
    if h.type not in DIRECT_TYPES:
        raise ProtocolError("schema", f"{h.type} is not a direct type")
    if h.seq != 1:
        raise ProtocolError("schema", "a direct record has seq 1")
    if entry.body_bytes is None:
        raise ProtocolError("malformed", "a direct record without its body")
    verify_entry(entry, keys)
    body = check_body(h.type, h.tv, entry.body_bytes, record_id=h.id, origin=h.origin)
    assert isinstance(body, dict)
    if body["to_node"] != receiver:
        raise ProtocolError("malformed", f"addressed to {body['to_node']!r}, not {receiver!r}")
    return entry, body


# ---------------------------------------------------------------------------------------------------------
# Chains (section 6)


def verify_run(entries: Sequence[bytes], keys: KeyDirectory, after: tuple[int, bytes] | None) -> list[Entry]:
    """Decode every entry (5.1), then check the run's links and keys, then the last signature (section 6)."""
    decoded = [decode_entry(raw) for raw in entries]
    _verify_decoded_run(decoded, keys, after)
    return decoded


def _verify_decoded_run(decoded: Sequence[Entry], keys: KeyDirectory, after: tuple[int, bytes] | None) -> None:
    if not decoded:
        return
    if any(e.header.type in DIRECT_TYPES for e in decoded):
        raise ProtocolError("schema", "section 6: a direct record is never part of a log")
    origin = decoded[0].header.origin
    expected_seq = 1 if after is None else after[0] + 1
    expected_prev: bytes | None = None if after is None else after[1]
    key: KeyInfo | None = None
    for entry in decoded:
        h = entry.header
        if h.origin != origin:
            raise ProtocolError("broken_link", "entries of different origins")
        if h.seq != expected_seq:
            raise ProtocolError("broken_link", f"seq {h.seq}, expected {expected_seq}")
        if h.prev != expected_prev:
            raise ProtocolError("broken_link", f"prev of seq {h.seq} is not the previous entry's hash")
        key = _key_for(entry, keys)
        expected_seq += 1
        expected_prev = entry.entry_hash
    assert key is not None
    _check_signature(decoded[-1], key)


KEY_CHANGING: Final = frozenset({"node", "key_revocation"})


def verify_run_with_key_changes(
    entries: Sequence[bytes], keys: KeyDirectory, after: tuple[int, bytes] | None = None
) -> list[Entry]:
    """Section 6, "a run that changes keys": decode every entry, cut after each `node` and `key_revocation`,
    verify each part as a run continuing the previous one, check the body of the part's last entry and apply its
    effects (7.3) before the next part. ``keys`` is left as the run made it."""
    decoded = [decode_entry(raw) for raw in entries]
    part: list[Entry] = []
    for entry in decoded:
        part.append(entry)
        if entry.header.type in KEY_CHANGING:
            _verify_decoded_run(part, keys, after)
            h = entry.header
            body = check_body(h.type, h.tv, entry.body_bytes, record_id=h.id, origin=h.origin)
            if body is not None:
                assert isinstance(body, dict)
                apply_key_effects(entry, body, keys)
            after, part = (h.seq, entry.entry_hash), []
    _verify_decoded_run(part, keys, after)
    return decoded


# ---------------------------------------------------------------------------------------------------------
# Signed requests (section 12)

REQUEST_PREFIX: Final = b"bigre-request-v1\x00"
MAX_CLOCK_SKEW: Final = 300_000
NONCE_WINDOW: Final = 600_000

REQUEST_HEADERS: Final = (
    "Bigre-Origin",
    "Bigre-Destination",
    "Bigre-Key",
    "Bigre-Time",
    "Bigre-Nonce",
    "Bigre-Digest",
    "Bigre-Signature",
)
_TIME_HDR_RE: Final = re.compile(r"[0-9]{1,16}")
_NONCE_RE: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")
_DIGEST_RE: Final = re.compile(r"sha-256=([0-9a-f]{64})")
_SIGNATURE_RE: Final = re.compile(r"[0-9a-f]{128}")


@dataclass(frozen=True)
class SignedRequest:
    """The parsed, well-formed headers of a request."""

    origin: str
    destination: str
    kid: str
    time: int
    nonce: str
    digest: bytes
    signature: bytes


class Replay(Exception):
    """A nonce seen again from the same origin within 600 000 ms. Section 12 gives HTTP 409 but no error code."""

    http_status = 409


def request_signed_bytes(
    *, method: str, path: str, origin: str, destination: str, kid: str, time: int, nonce: str, digest: bytes
) -> bytes:
    fields: dict[str, Value] = {
        "destination": destination,
        "digest": digest,
        "kid": kid,
        "method": method.upper(),
        "nonce": nonce,
        "origin": origin,
        "path": path,
        "time": time,
    }
    return REQUEST_PREFIX + encode(fields)


def sign_request(
    seed: bytes, *, method: str, path: str, origin: str, destination: str, time: int, nonce: str, body: bytes
) -> dict[str, str]:
    """The seven headers of a request (section 12)."""
    kid = kid_of(public_key_of(seed))
    digest = hashlib.sha256(body).digest()
    sb = request_signed_bytes(
        method=method, path=path, origin=origin, destination=destination, kid=kid, time=time, nonce=nonce, digest=digest
    )
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(sb)
    return {
        "Bigre-Origin": origin,
        "Bigre-Destination": destination,
        "Bigre-Key": kid,
        "Bigre-Time": str(time),
        "Bigre-Nonce": nonce,
        "Bigre-Digest": "sha-256=" + digest.hex(),
        "Bigre-Signature": signature.hex(),
    }


def parse_request_headers(headers: Mapping[str, str]) -> SignedRequest:
    """All seven headers present and well-formed, else ``malformed``. Names are case-insensitive."""
    wanted = {name.lower() for name in REQUEST_HEADERS}
    found: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if low not in wanted:
            continue
        if low in found:
            raise ProtocolError("malformed", f"header {name} given twice")
        if not value.isascii():
            raise ProtocolError("malformed", f"header {name} is not ASCII")
        found[low] = value
    missing = [name for name in REQUEST_HEADERS if name.lower() not in found]
    if missing:
        raise ProtocolError("malformed", f"missing header {missing[0]}")
    origin = found["bigre-origin"]
    destination = found["bigre-destination"]
    kid = found["bigre-key"]
    time_s = found["bigre-time"]
    nonce = found["bigre-nonce"]
    if ORIGIN_RE.fullmatch(origin) is None or ORIGIN_RE.fullmatch(destination) is None:
        raise ProtocolError("malformed", "origin and destination are node names")
    if KID_RE.fullmatch(kid) is None:
        raise ProtocolError("malformed", "Bigre-Key is a kid")
    if _TIME_HDR_RE.fullmatch(time_s) is None or int(time_s) > MAX_TIME:
        raise ProtocolError("malformed", "Bigre-Time is a time in decimal digits")
    if _NONCE_RE.fullmatch(nonce) is None:
        raise ProtocolError("malformed", "Bigre-Nonce is 16 to 64 characters of [A-Za-z0-9_-]")
    digest_m = _DIGEST_RE.fullmatch(found["bigre-digest"])
    if digest_m is None:
        raise ProtocolError("malformed", "Bigre-Digest is sha-256= and 64 lowercase hex digits")
    if _SIGNATURE_RE.fullmatch(found["bigre-signature"]) is None:
        raise ProtocolError("malformed", "Bigre-Signature is 128 lowercase hex digits")
    return SignedRequest(
        origin=origin,
        destination=destination,
        kid=kid,
        time=int(time_s),
        nonce=nonce,
        digest=bytes.fromhex(digest_m.group(1)),
        signature=bytes.fromhex(found["bigre-signature"]),
    )


@dataclass
class NonceCache:
    """Nonces seen per origin, with the receiver's time they were seen."""

    seen: dict[tuple[str, str], int] = field(default_factory=dict)

    def check_and_add(self, origin: str, nonce: str, now: int) -> None:
        self.seen = {k: t for k, t in self.seen.items() if now - t < NONCE_WINDOW}
        if (origin, nonce) in self.seen:
            raise Replay(f"nonce {nonce} already seen from {origin}")
        self.seen[(origin, nonce)] = now


def verify_request(
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    me: str,
    now: int,
    keys: KeyDirectory,
    nonces: NonceCache | None = None,
) -> SignedRequest:
    """Section 12, in its order. Membership (HTTP 403) is the caller's business."""
    req = parse_request_headers(headers)
    if req.destination != me:
        raise ProtocolError("malformed", f"request for {req.destination}, not {me}")
    if abs(now - req.time) > MAX_CLOCK_SKEW:
        raise ProtocolError("stale", f"time {req.time} is {now - req.time} ms from now")
    if hashlib.sha256(body).digest() != req.digest:
        raise ProtocolError("body_mismatch", "Bigre-Digest is not the body's")
    key = keys.find(req.origin, req.kid)
    if key is None:
        raise ProtocolError("unknown_key", f"{req.origin} has no key {req.kid}")
    if not key.valid_at(req.time):
        raise ProtocolError("key_not_valid", f"key {req.kid} not valid at {req.time}")
    sb = request_signed_bytes(
        method=method,
        path=path,
        origin=req.origin,
        destination=req.destination,
        kid=req.kid,
        time=req.time,
        nonce=req.nonce,
        digest=req.digest,
    )
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(req.signature, sb)
    except InvalidSignature as exc:
        raise ProtocolError("bad_signature", "Ed25519 verification of the request failed") from exc
    if nonces is not None:
        nonces.check_and_add(req.origin, req.nonce, now)
    return req
