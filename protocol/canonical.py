"""Canonical msgpack: one value, one byte string.

Signatures and hashes are computed over bytes, so two nodes must turn the same value into the same bytes, and a
node must refuse bytes that another encoder could have written differently (otherwise a relay could re-encode a
record and the hash chain would no longer link). The rules, stated fully in ``docs/PROTOCOL.md``:

* types: nil, false/true, integers in [-2**63, 2**64-1], float64 (finite, never -0.0), UTF-8 strings, byte strings
  (msgpack bin), arrays, and maps whose keys are strings; no ext types, no float32, no timestamps;
* every length and integer uses its shortest msgpack form (non-negative integers always the unsigned family);
* map keys are sorted by the bytes of their UTF-8 encoding and never repeat;
* one value fills the input exactly: trailing bytes are an error;
* limits: nesting depth, string, byte-string, array and map sizes (see :class:`Limits`).

Decoding has two paths. The fast one lets the C msgpack unpacker build the value, checks types, key order and
depth in one walk, and re-packs it: the input is canonical exactly when the bytes come back identical. When
anything fails, a strict pure-Python reader (:func:`strict_decode`, also the reference the property tests
compare against) runs over the input to name the precise fault. Honest input pays only for the fast path.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TypeAlias

import msgpack

from .errors import LocalProtocolError, MalformedError, NonCanonicalError, TooLargeError

Value: TypeAlias = bool | int | float | str | bytes | list["Value"] | dict[str, "Value"] | None

INT_MIN: Final = -(2**63)
UINT_MAX: Final = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard ceilings a decoder enforces before it allocates anything large.

    ``max_depth`` counts containers: a map holding a list of maps has depth 3; scalars add nothing.
    Lengths of strings and byte strings are in bytes; of arrays and maps, in elements and entries.
    """

    max_depth: int = 16
    max_str: int = 65_536
    max_bin: int = 65_536
    max_array: int = 4_096
    max_map: int = 1_024


DEFAULT_LIMITS: Final = Limits()

_SCALARS: Final = frozenset({type(None), bool, int, str, bytes})


# --------------------------------------------------------------------------------------------------- encoding


def encode(value: Any, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Return the canonical encoding of ``value``.

    Tuples are accepted as arrays for convenience; anything outside the data model raises
    :class:`LocalProtocolError` because it is the caller's bug, not a peer's.
    """
    return bytes(msgpack.packb(_normalise(value, 0, limits), use_bin_type=True))


def _normalise(value: Any, depth: int, limits: Limits) -> Value:
    t = type(value)
    if t is int:
        if not INT_MIN <= value <= UINT_MAX:
            raise LocalProtocolError(f"integer {value} is outside [-2**63, 2**64-1]")
        return value  # type: ignore[no-any-return]
    if t in _SCALARS:
        if t is str and len(value) > limits.max_str // 4 and len(value.encode("utf-8")) > limits.max_str:
            raise LocalProtocolError("string longer than the limit")
        if t is bytes and len(value) > limits.max_bin:
            raise LocalProtocolError("byte string longer than the limit")
        if t is str:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise LocalProtocolError("string is not encodable as UTF-8 (lone surrogate)") from exc
        return value  # type: ignore[no-any-return]
    if t is float:
        if not math.isfinite(value):
            raise LocalProtocolError("NaN and infinities are not part of the data model")
        if value == 0.0 and math.copysign(1.0, value) < 0:
            raise LocalProtocolError("-0.0 is not part of the data model; use 0.0")
        return value  # type: ignore[no-any-return]
    if t is bytearray or t is memoryview:
        return bytes(value)
    if t is dict:
        if depth >= limits.max_depth:
            raise LocalProtocolError(f"nesting deeper than {limits.max_depth}")
        if len(value) > limits.max_map:
            raise LocalProtocolError("map has more entries than the limit")
        for key in value:
            if type(key) is not str:
                raise LocalProtocolError(f"map keys must be strings, not {type(key).__name__}")
        return {k: _normalise(value[k], depth + 1, limits) for k in sorted(value, key=_key_bytes)}
    if t is list or t is tuple:
        if depth >= limits.max_depth:
            raise LocalProtocolError(f"nesting deeper than {limits.max_depth}")
        if len(value) > limits.max_array:
            raise LocalProtocolError("array has more elements than the limit")
        return [_normalise(v, depth + 1, limits) for v in value]
    if isinstance(value, bool | int | str | bytes | dict | list):  # subclasses: normalise to the base type
        base: Any = next(b for b in (bool, int, str, bytes, dict, list) if isinstance(value, b))
        return _normalise(base(value), depth, limits)
    raise LocalProtocolError(f"{t.__name__} is not part of the Bigre data model")


def _key_bytes(key: str) -> bytes:
    return key.encode("utf-8")


# --------------------------------------------------------------------------------------------------- decoding


def _reject_ext(code: int, data: bytes) -> NoReturn:
    raise ValueError("ext type")


def decode(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> Value:
    """Decode canonical bytes, or raise the precise :class:`InvalidInputError` subclass saying why not."""
    raw = _as_bytes(data)
    try:
        value = unpack_unchecked(raw, limits)
        _scan(value, 0, limits)
        canonical = msgpack.packb(value, use_bin_type=True) == raw
    except Exception:  # any fault at all: let the strict reader name it
        canonical = False
    if canonical:
        return value  # type: ignore[no-any-return]
    strict_decode(raw, limits)
    # The strict reader accepted what the fast path refused: a disagreement between the two readers.
    raise MalformedError("input refused by the decoder (fast and strict readers disagree)")


def decode_fixed_map(
    data: bytes | bytearray | memoryview, keys: tuple[str, ...], limits: Limits = DEFAULT_LIMITS
) -> dict[str, Value]:
    """Decode a map that must have exactly ``keys`` (sorted), whose values the caller type-checks itself.

    The fast path for envelopes and headers: the expected key tuple proves order and completeness at once and
    the re-pack proves shortest forms; since the caller checks every value's type, no walk is needed. Other
    input goes through :func:`decode` so that the error is precise; a canonical map of another shape is a
    :class:`MalformedError`.
    """
    raw = _as_bytes(data)
    try:
        value = unpack_unchecked(raw, limits)
        ok = type(value) is dict and tuple(value) == keys and msgpack.packb(value, use_bin_type=True) == raw
    except Exception:
        ok = False
    if ok:
        return value  # type: ignore[no-any-return]
    generic = decode(raw, limits)
    if not isinstance(generic, dict) or tuple(generic) != keys:
        raise MalformedError(f"expected a map with exactly the keys {', '.join(keys)}")
    return generic


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    if type(data) is bytes:
        return data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise LocalProtocolError(f"decode() takes bytes, not {type(data).__name__}")
    return bytes(data)


def unpack_unchecked(raw: bytes, limits: Limits) -> Any:
    """msgpack's C unpacker with the limits applied, and NO canonical check: callers must re-pack and compare."""
    return msgpack.unpackb(
        raw,
        raw=False,
        strict_map_key=True,
        use_list=True,
        ext_hook=_reject_ext,
        max_str_len=limits.max_str,
        max_bin_len=limits.max_bin,
        max_array_len=limits.max_array,
        max_map_len=limits.max_map,
    )


def _scan(value: Any, depth: int, limits: Limits) -> None:
    """Check what re-packing cannot: key types and order, floats, foreign types, depth."""
    t = type(value)
    if t is dict:
        if depth >= limits.max_depth:
            raise ValueError("depth")
        previous: str | None = None
        for key, item in value.items():
            if type(key) is not str or (previous is not None and not previous < key):
                raise ValueError("key")
            previous = key
            ti = type(item)
            if ti is dict or ti is list:
                _scan(item, depth + 1, limits)
            elif ti not in _SCALARS:
                _scan_scalar(item)
    elif t is list:
        if depth >= limits.max_depth:
            raise ValueError("depth")
        for item in value:
            ti = type(item)
            if ti is dict or ti is list:
                _scan(item, depth + 1, limits)
            elif ti not in _SCALARS:
                _scan_scalar(item)
    elif t not in _SCALARS:
        _scan_scalar(value)


def _scan_scalar(value: Any) -> None:
    if type(value) is float and math.isfinite(value) and not (value == 0.0 and math.copysign(1.0, value) < 0):
        return
    raise ValueError("scalar")


# ------------------------------------------------------------------------------------- strict reference reader


def strict_decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Value:
    """Decode byte by byte, checking every canonical rule, and raise a precise error on the first fault.

    Slow (pure Python) and exact: it is the executable form of the rules in ``docs/PROTOCOL.md``.
    """
    reader = _StrictReader(bytes(data), limits)
    value = reader.value(0)
    if reader.pos != len(reader.data):
        raise MalformedError(f"{len(reader.data) - reader.pos} trailing byte(s) after the value")
    return value


class _StrictReader:
    __slots__ = ("data", "limits", "pos")

    def __init__(self, data: bytes, limits: Limits) -> None:
        self.data = data
        self.limits = limits
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise MalformedError(f"truncated input: needed {n} byte(s) at offset {self.pos}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def value(self, depth: int) -> Value:
        at = self.pos
        b = self.take(1)[0]
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if 0x80 <= b <= 0x8F:
            return self.map(b & 0x0F, depth, at)
        if 0x90 <= b <= 0x9F:
            return self.array(b & 0x0F, depth)
        if 0xA0 <= b <= 0xBF:
            return self.text(b & 0x1F)
        if b == 0xC0:
            return None
        if b == 0xC2:
            return False
        if b == 0xC3:
            return True
        if b in (0xC4, 0xC5, 0xC6):
            size = {0xC4: 1, 0xC5: 2, 0xC6: 4}[b]
            n = self.uint(size)
            self.shortest(n, size, {1: 0, 2: 0x100, 4: 0x10000}[size], "byte string length", at)
            if n > self.limits.max_bin:
                raise TooLargeError(f"byte string of {n} bytes at offset {at} (limit {self.limits.max_bin})")
            return self.take(n)
        if b == 0xCA:
            raise NonCanonicalError(f"float32 at offset {at}: floats are always encoded as float64")
        if b == 0xCB:
            (f,) = struct.unpack(">d", self.take(8))
            if not math.isfinite(f):
                raise MalformedError(f"NaN or infinity at offset {at}")
            if f == 0.0 and math.copysign(1.0, f) < 0:
                raise NonCanonicalError(f"-0.0 at offset {at}: zero is encoded as +0.0")
            return float(f)
        if 0xCC <= b <= 0xCF:
            size = 1 << (b - 0xCC)
            n = self.uint(size)
            floor = {1: 0x80, 2: 0x100, 4: 0x10000, 8: 0x1_0000_0000}[size]
            if n < floor:
                raise NonCanonicalError(f"integer {n} at offset {at} is not in its shortest form")
            return n
        if 0xD0 <= b <= 0xD3:
            size = 1 << (b - 0xD0)
            n = int.from_bytes(self.take(size), "big", signed=True)
            if n >= 0:
                raise NonCanonicalError(f"non-negative integer {n} at offset {at} uses a signed form")
            ceiling = {1: -32, 2: -128, 4: -32768, 8: -(2**31)}[size]
            if n >= ceiling:
                raise NonCanonicalError(f"integer {n} at offset {at} is not in its shortest form")
            return n
        if b in (0xD9, 0xDA, 0xDB):
            size = {0xD9: 1, 0xDA: 2, 0xDB: 4}[b]
            n = self.uint(size)
            self.shortest(n, size, {1: 32, 2: 0x100, 4: 0x10000}[size], "string length", at)
            return self.text(n, at)
        if b in (0xDC, 0xDD):
            size = 2 if b == 0xDC else 4
            n = self.uint(size)
            self.shortest(n, size, {2: 16, 4: 0x10000}[size], "array length", at)
            return self.array(n, depth)
        if b in (0xDE, 0xDF):
            size = 2 if b == 0xDE else 4
            n = self.uint(size)
            self.shortest(n, size, {2: 16, 4: 0x10000}[size], "map length", at)
            return self.map(n, depth, at)
        if b == 0xC1:
            raise MalformedError(f"byte 0xc1 at offset {at} is never used by msgpack")
        raise MalformedError(f"extension type (0x{b:02x}) at offset {at} is not allowed")

    def shortest(self, n: int, size: int, floor: int, what: str, at: int) -> None:
        if n < floor:
            raise NonCanonicalError(f"{what} {n} at offset {at} is not in its shortest form")

    def text(self, n: int, at: int | None = None) -> str:
        at = self.pos - 1 if at is None else at
        if n > self.limits.max_str:
            raise TooLargeError(f"string of {n} bytes at offset {at} (limit {self.limits.max_str})")
        raw = self.take(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedError(f"string at offset {at} is not valid UTF-8") from exc

    def array(self, n: int, depth: int) -> list[Value]:
        if depth >= self.limits.max_depth:
            raise TooLargeError(f"nesting deeper than {self.limits.max_depth}")
        if n > self.limits.max_array:
            raise TooLargeError(f"array of {n} elements (limit {self.limits.max_array})")
        return [self.value(depth + 1) for _ in range(n)]

    def map(self, n: int, depth: int, at: int) -> dict[str, Value]:
        if depth >= self.limits.max_depth:
            raise TooLargeError(f"nesting deeper than {self.limits.max_depth}")
        if n > self.limits.max_map:
            raise TooLargeError(f"map of {n} entries (limit {self.limits.max_map})")
        out: dict[str, Value] = {}
        previous: bytes | None = None
        for _ in range(n):
            key_at = self.pos
            key = self.value(depth + 1)
            if not isinstance(key, str):
                raise MalformedError(f"map key at offset {key_at} is a {type(key).__name__}, not a string")
            encoded = key.encode("utf-8")
            if previous is not None:
                if encoded == previous:
                    raise MalformedError(f"duplicate map key {key!r} at offset {key_at}")
                if encoded < previous:
                    raise NonCanonicalError(f"map key {key!r} at offset {key_at} is out of order")
            previous = encoded
            out[key] = self.value(depth + 1)
        return out
