"""Canonical encoding: table-driven cases for every rule, and properties over generated values and bytes."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import canonical
from protocol.errors import InvalidInputError, LocalProtocolError, MalformedError, NonCanonicalError, TooLargeError

values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not (f == 0 and math.copysign(1, f) < 0))
    | st.text(max_size=40)
    | st.binary(max_size=40),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6),
    max_leaves=30,
)


@pytest.mark.parametrize(
    ("value", "hex_"),
    [
        (None, "c0"),
        (True, "c3"),
        (127, "7f"),
        (128, "cc80"),
        (256, "cd0100"),
        (2**32, "cf0000000100000000"),
        (-32, "e0"),
        (-33, "d0df"),
        (-129, "d1ff7f"),
        (1.5, "cb3ff8000000000000"),
        ("é", "a2c3a9"),
        (b"\x01", "c40101"),
        ({"b": 1, "a": 2}, "82a16102a16201"),
        ({"é": 1, "z": 2}, "82a17a02a2c3a901"),
        ({"ab": 1, "a": 2, "b": 3}, "83a16102a2616201a16203"),
        ((1, 2), "920102"),
    ],
)
def test_known_encodings(value: Any, hex_: str) -> None:
    assert canonical.encode(value).hex() == hex_
    decoded = canonical.decode(bytes.fromhex(hex_))
    assert decoded == (list(value) if isinstance(value, tuple) else value)


@pytest.mark.parametrize(
    ("hex_", "error", "fragment"),
    [
        ("cc01", NonCanonicalError, "shortest"),
        ("d000", NonCanonicalError, "signed form"),
        ("ca3fc00000", NonCanonicalError, "float32"),
        ("cb7ff8000000000000", MalformedError, "NaN"),
        ("cb8000000000000000", NonCanonicalError, "-0.0"),
        ("d900", NonCanonicalError, "string length"),
        ("82a16201a16102", NonCanonicalError, "out of order"),
        ("82a16101a16102", MalformedError, "duplicate"),
        ("810102", MalformedError, "not a string"),
        ("c0c0", MalformedError, "trailing"),
        ("a2c328", MalformedError, "UTF-8"),
        ("d40100", MalformedError, "extension"),
        ("", MalformedError, "truncated"),
        ("91" * 17 + "c0", TooLargeError, "nesting"),
    ],
)
def test_rejections_are_precise(hex_: str, error: type[InvalidInputError], fragment: str) -> None:
    with pytest.raises(error, match=fragment) as info:
        canonical.decode(bytes.fromhex(hex_))
    assert type(info.value) is error  # not merely a subclass
    with pytest.raises(error):
        canonical.strict_decode(bytes.fromhex(hex_))


def test_limits_are_enforced_before_allocation() -> None:
    limits = canonical.Limits(max_str=4, max_bin=4, max_array=2, max_map=1, max_depth=2)
    for value in ("abcde", b"abcde", [1, 2, 3], {"a": 1, "b": 2}, [[[1]]]):
        data = msgpack.packb(value, use_bin_type=True)
        with pytest.raises(TooLargeError):
            canonical.decode(data, limits)
    # a header claiming a 4 GB string is refused without reading it
    with pytest.raises(TooLargeError):
        canonical.decode(b"\xdb\xff\xff\xff\xff" + b"a" * 10)


@pytest.mark.parametrize(
    "bad",
    [math.nan, math.inf, -0.0, {1: 2}, {b"k": 1}, 2**64, -(2**63) - 1, {1, 2}, object(), "\ud800"],
)
def test_encoder_refuses_what_the_data_model_lacks(bad: Any) -> None:
    with pytest.raises(LocalProtocolError):
        canonical.encode(bad)


def test_input_type_is_checked() -> None:
    with pytest.raises(LocalProtocolError):
        canonical.decode("c0")  # type: ignore[arg-type]


@given(values)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip(value: Any) -> None:
    data = canonical.encode(value)
    assert canonical.decode(data) == value
    assert canonical.strict_decode(data) == value
    assert canonical.encode(canonical.decode(data)) == data


@given(st.dictionaries(st.text(max_size=6), st.integers(-(2**63), 2**64 - 1), max_size=8), st.randoms())
def test_uniqueness_whatever_the_insertion_order(d: dict[str, int], rnd: Any) -> None:
    items = list(d.items())
    rnd.shuffle(items)
    assert canonical.encode(dict(items)) == canonical.encode(d)


@given(values)
def test_other_msgpack_spellings_of_a_value_are_refused(value: Any) -> None:
    """Any encoding msgpack allows but which differs from ours is rejected: one value, one byte string."""
    variants = [msgpack.packb(value, use_bin_type=False)]
    with contextlib.suppress(OverflowError):  # a float64 too large for float32 has no such spelling
        variants.append(msgpack.packb(value, use_bin_type=True, use_single_float=True))
    for variant in variants:
        if variant == canonical.encode(value):
            continue
        try:
            decoded = canonical.decode(variant)
        except InvalidInputError:
            continue
        # accepted only if it spells another value (e.g. bytes written as a msgpack str is a string)
        assert decoded != value or type(decoded) is not type(value)


@given(st.binary(max_size=64))
@settings(max_examples=2000, deadline=None)
def test_random_bytes_raise_only_protocol_errors_and_both_readers_agree(data: bytes) -> None:
    try:
        fast = canonical.decode(data)
    except InvalidInputError as exc:
        with pytest.raises(type(exc)):
            canonical.strict_decode(data)
        return
    assert canonical.strict_decode(data) == fast
    assert canonical.encode(fast) == data


@given(values, st.data())
@settings(max_examples=300, deadline=None)
def test_mutated_canonical_bytes_either_fail_cleanly_or_stay_canonical(value: Any, data: st.DataObject) -> None:
    encoded = bytearray(canonical.encode(value))
    i = data.draw(st.integers(0, len(encoded) - 1))
    encoded[i] = data.draw(st.integers(0, 255))
    try:
        decoded = canonical.decode(bytes(encoded))
    except InvalidInputError:
        return
    assert canonical.encode(decoded) == bytes(encoded)
