"""Signed entries: signing, single verification, chains, erasure, key windows, forks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import canonical
from protocol.envelope import (
    SIGNING_PREFIX,
    Entry,
    KeyInfo,
    Keyring,
    decode_entry,
    is_fork,
    sign_entry,
    verify,
    verify_chain,
)
from protocol.errors import (
    BadSignatureError,
    BodyMismatchError,
    BrokenLinkError,
    InvalidInputError,
    KeyNotValidError,
    LocalProtocolError,
    MalformedError,
    TooLargeError,
    UnknownKeyError,
    UnsupportedVersionError,
)
from protocol.keys import SigningKey

from .conftest import T0, make_chain

Chain = Callable[..., list[Entry]]


def test_sign_then_decode_then_verify(key: SigningKey, ring: Keyring, chain: Chain) -> None:
    (e,) = chain(1)
    data = e.encode()
    back = decode_entry(data)
    assert back.header == e.header
    assert back.hash == e.hash
    assert back.signed_bytes == SIGNING_PREFIX + back.header_bytes
    verify(back, ring)
    assert back.body_value() == {"display_name": "Membre 1", "skills": ["menuiserie"]}


def test_erased_body_still_verifies_and_links(ring: Keyring, chain: Chain) -> None:
    entries = chain(3)
    erased = [entries[0], decode_entry(entries[1].erased().encode()), entries[2]]
    assert erased[1].body is None and erased[1].body_value() is None
    verify(erased[1], ring)
    verify_chain(erased, ring)
    assert erased[1].hash == entries[1].hash


def test_chain_checks_only_the_last_signature_but_every_link(ring: Keyring, chain: Chain) -> None:
    entries = chain(5)
    verify_chain(entries, ring)
    verify_chain(entries[2:], ring, after=(2, entries[1].hash))
    verify_chain([], ring)
    with pytest.raises(BrokenLinkError, match="expected seq 1"):
        verify_chain(entries[1:], ring)
    with pytest.raises(BrokenLinkError, match="expected seq 3"):
        verify_chain([entries[0], entries[1], entries[3]], ring)
    with pytest.raises(BrokenLinkError, match="prev"):
        verify_chain(entries[2:], ring, after=(2, entries[0].hash))


def test_a_forged_history_is_caught_by_the_link_to_the_signed_tail(key: SigningKey, ring: Keyring) -> None:
    honest = make_chain(key, 4)
    other = make_chain(SigningKey.from_seed(b"\x07" * 32), 4)
    mixed = [honest[0], other[1], honest[2], honest[3]]
    with pytest.raises(BrokenLinkError):
        verify_chain(mixed, ring)


def test_bad_last_signature_fails_the_run(ring: Keyring, chain: Chain) -> None:
    entries = chain(3)
    sig = bytearray(entries[2].signature)
    sig[5] ^= 1
    entries[2] = Entry(entries[2].header, entries[2].header_bytes, entries[2].body, bytes(sig))
    with pytest.raises(BadSignatureError):
        verify_chain(entries, ring)


def test_runs_cannot_mix_origins(key: SigningKey, ring: Keyring) -> None:
    ring.add("smart", KeyInfo(key.verify_key))
    a = make_chain(key, 2)
    b = make_chain(key, 2, origin="smart")
    with pytest.raises(BrokenLinkError, match="mixes origins"):
        verify_chain([a[0], b[1]], ring)


def test_unknown_key_and_key_windows(key: SigningKey, chain: Chain) -> None:
    (e,) = chain(1)
    with pytest.raises(UnknownKeyError):
        verify(e, Keyring())
    for info, fragment in (
        (KeyInfo(key.verify_key, not_before=T0 + 10), "not yet valid"),
        (KeyInfo(key.verify_key, revoked_at=T0), "revoked"),
        (KeyInfo(key.verify_key, not_after=T0 + 1), "stopped signing"),
    ):
        ring = Keyring()
        ring.add("coopaname", info)
        with pytest.raises(KeyNotValidError, match=fragment):
            verify(e, ring)
    # entries signed before a revocation stay valid
    ring = Keyring()
    ring.add("coopaname", KeyInfo(key.verify_key, revoked_at=T0 + 2))
    verify(e, ring)


def test_revoked_key_in_the_middle_of_a_run_fails_the_run(key: SigningKey, chain: Chain) -> None:
    entries = chain(4)
    ring = Keyring()
    ring.add("coopaname", KeyInfo(key.verify_key, revoked_at=T0 + 3))
    verify_chain(entries[:2], ring)
    with pytest.raises(KeyNotValidError):
        verify_chain(entries, ring)


def test_rotation_keeps_history_valid(key: SigningKey) -> None:
    new = SigningKey.from_seed(b"\x42" * 32)
    old_entries = make_chain(key, 2)
    e3 = sign_entry(
        new,
        type="profile",
        type_version=(1, 0),
        origin="coopaname",
        id="m-1",
        seq=3,
        created=T0,
        ts=T0 + 100,
        prev=old_entries[-1].hash,
        body={},
    )
    ring = Keyring()
    ring.add("coopaname", KeyInfo(key.verify_key, not_after=T0 + 50))
    ring.add("coopaname", KeyInfo(new.verify_key, not_before=T0 + 50))
    verify_chain([*old_entries, e3], ring)


def test_fork_detection(key: SigningKey) -> None:
    a = make_chain(key, 2)
    b = make_chain(key, 2, start_ts=T0 + 1000)
    assert is_fork(a[1], b[1])
    assert not is_fork(a[1], a[1])
    assert not is_fork(a[0], a[1])


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"v": 2}, UnsupportedVersionError),
        ({"v": "1"}, MalformedError),
        ({"seq": 0}, MalformedError),
        ({"origin": "Coopaname"}, MalformedError),
        ({"id": "bad id"}, MalformedError),
        ({"kid": "XYZ"}, MalformedError),
        ({"tv": [1]}, MalformedError),
        ({"prev": b"\x00" * 32}, MalformedError),  # seq 1 must have prev nil
        ({"bh": b"\x00"}, MalformedError),
        ({"ts": -1}, MalformedError),
        ({"extra": 1}, MalformedError),
    ],
)
def test_header_rules(chain: Chain, change: dict[str, object], error: type[InvalidInputError]) -> None:
    (e,) = chain(1)
    header = canonical.decode(e.header_bytes)
    assert isinstance(header, dict)
    header.update(change)  # type: ignore[arg-type]
    data = canonical.encode({"b": e.body, "h": canonical.encode(header), "s": e.signature})
    with pytest.raises(error):
        decode_entry(data)


def test_envelope_shape_and_size(chain: Chain) -> None:
    (e,) = chain(1)
    with pytest.raises(MalformedError):
        decode_entry(canonical.encode({"b": e.body, "h": e.header_bytes}))
    with pytest.raises(MalformedError):
        decode_entry(canonical.encode({"b": "text", "h": e.header_bytes, "s": e.signature}))
    with pytest.raises(MalformedError):
        decode_entry(canonical.encode([e.body, e.header_bytes, e.signature]))
    with pytest.raises(BodyMismatchError):
        decode_entry(canonical.encode({"b": canonical.encode({}), "h": e.header_bytes, "s": e.signature}))
    with pytest.raises(TooLargeError):
        decode_entry(b"\x00" * 70_000)


def test_signing_refuses_bad_local_input(key: SigningKey) -> None:
    with pytest.raises(LocalProtocolError):
        sign_entry(
            key, type="profile", type_version=(1, 0), origin="BAD", id="x", seq=1, created=0, ts=0, prev=None, body={}
        )
    with pytest.raises(LocalProtocolError):
        sign_entry(
            key,
            type="profile",
            type_version=(1, 0),
            origin="coopaname",
            id="x",
            seq=1,
            created=0,
            ts=0,
            prev=None,
            body={"bio": "x" * 70_000},
        )


@given(st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_single_bit_flip_breaks_the_entry(ring: Keyring, chain: Chain, data: st.DataObject) -> None:
    (e,) = chain(1)
    raw = bytearray(e.encode())
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidInputError):
        verify(decode_entry(bytes(raw)), ring)


@given(st.binary(max_size=300))
@settings(max_examples=500, deadline=None)
def test_random_bytes_only_raise_protocol_errors(data: bytes) -> None:
    with pytest.raises(InvalidInputError):
        decode_entry(data)


def test_keys_round_trip_and_hide_the_secret(key: SigningKey) -> None:
    again = SigningKey.from_pem(key.to_pem())
    assert again.kid == key.kid and again.seed == key.seed
    assert key.seed.hex() not in repr(key)
    assert len(key.kid) == 16
    with pytest.raises(MalformedError):
        SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    assert SigningKey.generate().kid != key.kid
