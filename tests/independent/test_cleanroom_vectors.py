"""Check the clean-room implementation against every vector of protocol/vectors (PROTOCOL.md section 10)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.independent import bigre_cleanroom as bc

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def load(name: str) -> list[dict[str, Any]]:
    data = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def from_json(j: Any) -> bc.Value:
    """The JSON form of values (section 10)."""
    if j is None or isinstance(j, bool | str):
        return j
    if isinstance(j, int):
        assert abs(j) <= 2**53 - 1, "integers beyond ±(2^53-1) must use $int"
        return j
    if isinstance(j, float):
        raise AssertionError("floats are written {'$float': ...}, never as JSON numbers")
    if isinstance(j, list):
        return [from_json(x) for x in j]
    assert isinstance(j, dict)
    if len(j) == 1:
        ((k, v),) = j.items()
        if k == "$int":
            return int(v)
        if k == "$bytes":
            return bytes.fromhex(v)
        if k == "$float":
            return float(v)
    return {k: from_json(v) for k, v in j.items()}


def same(a: object, b: object) -> bool:
    """Equality of the data model: 1, 1.0 and True are three different values."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        assert isinstance(b, float)
        return struct.pack(">d", a) == struct.pack(">d", b)
    return a == b


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["description"] for v in vectors]


def code_of(fn: Any, *args: Any, **kwargs: Any) -> str | None:
    try:
        fn(*args, **kwargs)
    except bc.ProtocolError as exc:
        return exc.code
    return None


CANONICAL = load("canonical")
ENVELOPES = load("envelopes")
CHAINS = load("chains")
RECORDS = load("records")
REQUESTS = load("requests")
DIRECT = load("direct")
KEYS = load("keys")
ALL = {
    "canonical": CANONICAL,
    "envelopes": ENVELOPES,
    "chains": CHAINS,
    "records": RECORDS,
    "direct": DIRECT,
    "requests": REQUESTS,
    "keys": KEYS,
}


def valid(vs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in vs if v.get("valid", True)]


def invalid(vs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in vs if not v.get("valid", True)]


def test_every_vector_file_is_covered():
    assert sorted(p.stem for p in VECTORS.glob("*.json")) == sorted(ALL)
    for vs in ALL.values():
        for v in vs:
            assert v.get("valid", True) in (True, False)
            if not v.get("valid", True):
                assert v["error"] in bc.ERROR_CODES


# --------------------------------------------------------------------------------------------- canonical.json


@pytest.mark.parametrize("vec", valid(CANONICAL), ids=ids(valid(CANONICAL)))
def test_canonical_valid(vec):
    value = from_json(vec["value"])
    expected = bytes.fromhex(vec["canonical_hex"])
    assert bc.encode(value) == expected
    assert same(bc.decode(expected), value)


@pytest.mark.parametrize("vec", invalid(CANONICAL), ids=ids(invalid(CANONICAL)))
def test_canonical_invalid(vec):
    assert code_of(bc.decode, bytes.fromhex(vec["input_hex"])) == vec["error"]


# --------------------------------------------------------------------------------------------- envelopes.json


def keys_for(origin: str, public_key_hex: str) -> bc.KeyDirectory:
    keys = bc.KeyDirectory()
    keys.add(origin, bc.KeyInfo(bytes.fromhex(public_key_hex)))
    return keys


@pytest.mark.parametrize("vec", valid(ENVELOPES), ids=ids(valid(ENVELOPES)))
def test_envelope_valid(vec):
    seed = bytes.fromhex(vec["seed_hex"])
    pk = bytes.fromhex(vec["public_key_hex"])
    assert bc.public_key_of(seed) == pk
    assert bc.kid_of(pk) == vec["kid"]

    header = from_json(vec["value"]["header"])
    assert isinstance(header, dict)
    body_json = vec["value"]["body"]
    header_bytes = bc.encode(header)
    assert header_bytes == bytes.fromhex(vec["header_hex"])
    assert header_bytes[0] == 0x8B
    sb = bc.signed_bytes(header_bytes)
    assert sb == bytes.fromhex(vec["signed_bytes_hex"])
    assert sb[:15] == bytes.fromhex("62696772652d656e7472792d763100")
    sig = bytes.fromhex(vec["signature_hex"])
    assert Ed25519PrivateKey.from_private_bytes(seed).sign(sb) == sig
    assert bc.entry_hash(header_bytes, sig).hex() == vec["entry_hash_hex"]
    assert header["seq"] == vec["seq"]  # "seq" is not listed in section 10, but present

    if body_json is None:
        assert vec["body_hex"] is None
        body_bytes = None
        entry_value: dict[str, bc.Value] = {"b": None, "h": header_bytes, "s": sig}
    else:
        body_bytes = bc.encode(from_json(body_json))
        assert body_bytes == bytes.fromhex(vec["body_hex"])
        assert hashlib.sha256(body_bytes).digest() == header["bh"]
        entry_value = {"b": body_bytes, "h": header_bytes, "s": sig}
    canonical = bytes.fromhex(vec["canonical_hex"])
    assert bc.encode(entry_value) == canonical

    # Re-signing the header fields and the body with the seed gives the whole entry back.
    if body_json is not None:
        fields = {k: v for k, v in header.items() if k != "bh"}
        assert bc.sign_entry(seed, fields, from_json(body_json)) == canonical

    # And the entry passes the whole pipeline (5.1, 5.2, 5.3).
    origin = header["origin"]
    assert isinstance(origin, str)
    entry, body = bc.accept_entry(canonical, keys_for(origin, vec["public_key_hex"]))
    assert entry.header.to_value() == header
    assert entry.entry_hash.hex() == vec["entry_hash_hex"]
    assert entry.body_bytes == body_bytes
    if body_json is None:
        assert body is None
    else:
        assert same(body, from_json(body_json))


def erased_pairs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    vs = valid(ENVELOPES)
    return [
        (full, erased)
        for erased in vs
        if erased["value"]["body"] is None
        for full in vs
        if full["value"]["body"] is not None and full["header_hex"] == erased["header_hex"]
    ]


def test_erasure_keeps_header_signature_and_hash():
    pairs = erased_pairs()
    assert pairs
    for full, erased in pairs:
        assert full["signature_hex"] == erased["signature_hex"]
        assert full["entry_hash_hex"] == erased["entry_hash_hex"]
        header = from_json(full["value"]["header"])
        assert isinstance(header, dict)
        fields = {k: v for k, v in header.items() if k != "bh"}
        seed = bytes.fromhex(full["seed_hex"])
        rebuilt = bc.sign_entry(seed, fields, from_json(full["value"]["body"]), erase=True)
        assert rebuilt.hex() == erased["canonical_hex"]


def envelope_input(vec: dict[str, Any]) -> bytes:
    if vec.get("input_hex") is not None:
        return bytes.fromhex(vec["input_hex"])
    note = vec["input_note"]
    # The only note in version 1: "c6 00011170 followed by 70000 zero bytes".
    assert note == "c6 00011170 followed by 70000 zero bytes", note
    return bytes.fromhex("c600011170") + bytes(70_000)


@pytest.mark.parametrize("vec", invalid(ENVELOPES), ids=ids(invalid(ENVELOPES)))
def test_envelope_invalid(vec):
    data = envelope_input(vec)
    keys = keys_for(vec["origin"], vec["public_key_hex"])

    def decode_then_verify() -> None:
        bc.verify_entry(bc.decode_entry(data), keys)

    assert code_of(decode_then_verify) == vec["error"]


# --------------------------------------------------------------------------------------------- direct.json


@pytest.mark.parametrize("vec", valid(DIRECT), ids=ids(valid(DIRECT)))
def test_direct_valid(vec):
    seed = bytes.fromhex(vec["seed_hex"])
    assert bc.public_key_of(seed).hex() == vec["public_key_hex"]
    header = from_json(vec["value"]["header"])
    body = from_json(vec["value"]["body"])
    assert isinstance(header, dict) and isinstance(body, dict)
    assert header["seq"] == 1 and header["prev"] is None and header["type"] in bc.DIRECT_TYPES
    canonical = bytes.fromhex(vec["canonical_hex"])
    fields = {k: v for k, v in header.items() if k != "bh"}
    assert bc.sign_entry(seed, fields, body) == canonical  # re-signing gives the record back, byte for byte
    keys = keys_for(vec["origin"], vec["public_key_hex"])
    entry, got = bc.accept_direct(canonical, keys, vec["to_node"])
    assert same(got, body) and entry.entry_hash.hex() == vec["entry_hash_hex"]
    # a direct record is addressed to one node: any other refuses it
    assert code_of(bc.accept_direct, canonical, keys, "someone-else") == "malformed"
    # and it is never part of a log (as a log entry, one over 65 536 bytes is too large before anything else)
    large = len(canonical) > bc.MAX_ENVELOPE_BYTES
    assert code_of(bc.verify_run, [canonical], keys, None) == ("too_large" if large else "schema")


def direct_input(vec: dict[str, Any]) -> bytes:
    if vec["input_hex"] is not None:
        return bytes.fromhex(vec["input_hex"])
    note = vec["input_note"]
    assert note == "83 a1 62 c6 0010c8e0 followed by 1100000 zero bytes", note
    return bytes.fromhex("83a162c60010c8e0") + bytes(1_100_000)


@pytest.mark.parametrize("vec", invalid(DIRECT), ids=ids(invalid(DIRECT)))
def test_direct_invalid(vec):
    keys = keys_for(vec["origin"], vec["public_key_hex"])
    assert code_of(bc.accept_direct, direct_input(vec), keys, vec["to_node"]) == vec["error"]


# --------------------------------------------------------------------------------------------- chains.json


@pytest.mark.parametrize("vec", CHAINS, ids=ids(CHAINS))
def test_chain(vec):
    keys = keys_for(vec["origin"], vec["public_key_hex"])
    after = None if vec["after"] is None else (int(vec["after"][0]), bytes.fromhex(vec["after"][1]))
    entries = [bytes.fromhex(h) for h in vec["entries_hex"]]
    if vec["valid"]:
        run = bc.verify_run(entries, keys, after)
        assert [e.header.origin for e in run] == [vec["origin"]] * len(run)
        if "entry_hashes_hex" in vec:  # not listed in section 10, but present
            assert [e.entry_hash.hex() for e in run] == vec["entry_hashes_hex"]
    else:
        assert code_of(bc.verify_run, entries, keys, after) == vec["error"]


@pytest.mark.parametrize("vec", KEYS, ids=ids(KEYS))
def test_keys(vec):
    """keys.json: a run that changes keys (section 6), on the receiver's out-of-band keys (section 7)."""
    keys = bc.KeyDirectory()
    for k in vec["keys"]:
        keys.add(
            vec["origin"],
            bc.KeyInfo(
                bytes.fromhex(k["public_key_hex"]),
                not_before=k.get("not_before", 0),
                not_after=k.get("not_after"),
                revoked_at=k.get("revoked_at"),
            ),
        )
    entries = [bytes.fromhex(h) for h in vec["entries_hex"]]
    got = code_of(bc.verify_run_with_key_changes, entries, keys)
    assert got == (None if vec["valid"] else vec["error"])
    if vec["valid"]:
        windows = [
            {
                "kid": k.kid,
                "first_seq": k.first_seq,
                "last_seq": k.last_seq,
                "not_before": k.not_before,
                "not_after": k.not_after,
                "revoked_at": k.revoked_at,
            }
            for k in sorted(keys.keys[vec["origin"]].values(), key=lambda k: k.kid)
        ]
        assert windows == vec["windows"]


def test_chain_of_the_envelope_vectors():
    """The valid envelope vectors with a body are a run of one origin; prev links them when seqs follow."""
    by_seq = {v["seq"]: v for v in valid(ENVELOPES) if v["value"]["body"] is not None}
    for seq, vec in by_seq.items():
        prev = by_seq.get(seq - 1)
        if prev is not None:
            assert vec["value"]["header"]["prev"] == {"$bytes": prev["entry_hash_hex"]}


# --------------------------------------------------------------------------------------------- records.json


@pytest.mark.parametrize("vec", RECORDS, ids=ids(RECORDS))
def test_record(vec):
    value = from_json(vec["value"])
    body_bytes = bytes.fromhex(vec["canonical_hex"])
    assert bc.encode(value) == body_bytes
    assert same(bc.decode(body_bytes), value)
    got = code_of(bc.check_body, vec["type"], vec["type_version"], body_bytes)
    assert got == (None if vec.get("valid", True) else vec["error"])


# --------------------------------------------------------------------------------------------- requests.json


def request_keys(vec: dict[str, Any]) -> bc.KeyDirectory:
    # Invalid request vectors give no origin: the key is taken to be that of the Bigre-Origin header.
    origin = vec.get("origin", vec["headers"].get("Bigre-Origin"))
    return keys_for(origin, vec["public_key_hex"])


@pytest.mark.parametrize("vec", valid(REQUESTS), ids=ids(valid(REQUESTS)))
def test_request_valid(vec):
    seed = bytes.fromhex(vec["seed_hex"])
    assert bc.public_key_of(seed).hex() == vec["public_key_hex"]
    body = bytes.fromhex(vec["body_hex"])
    headers = bc.sign_request(
        seed,
        method=vec["method"],
        path=vec["path"],
        origin=vec["origin"],
        destination=vec["destination"],
        time=vec["time"],
        nonce=vec["nonce"],
        body=body,
    )
    assert headers == vec["headers"]
    req = bc.parse_request_headers(vec["headers"])
    sb = bc.request_signed_bytes(
        method=vec["method"],
        path=vec["path"],
        origin=req.origin,
        destination=req.destination,
        kid=req.kid,
        time=req.time,
        nonce=req.nonce,
        digest=req.digest,
    )
    assert sb.hex() == vec["signed_bytes_hex"]
    now = vec.get("now", vec["time"])  # the valid vector gives no "now"
    nonces = bc.NonceCache()
    lowered = {k.lower(): v for k, v in vec["headers"].items()}  # names are case-insensitive
    for hdrs in (vec["headers"], lowered):
        got = bc.verify_request(
            method=vec["method"].lower(),
            path=vec["path"],
            headers=hdrs,
            body=body,
            me=vec["destination"],
            now=now,
            keys=request_keys(vec),
        )
        assert got.nonce == vec["nonce"]
    for skew in (-300_000, 300_000):
        bc.verify_request(
            method=vec["method"],
            path=vec["path"],
            headers=vec["headers"],
            body=body,
            me=vec["destination"],
            now=now + skew,
            keys=request_keys(vec),
            nonces=nonces if skew < 0 else None,
        )
    with pytest.raises(bc.Replay):
        bc.verify_request(
            method=vec["method"],
            path=vec["path"],
            headers=vec["headers"],
            body=body,
            me=vec["destination"],
            now=now + 1,
            keys=request_keys(vec),
            nonces=nonces,
        )
    assert (
        code_of(
            bc.verify_request,
            method=vec["method"],
            path=vec["path"],
            headers=vec["headers"],
            body=body,
            me=vec["destination"],
            now=now + 300_001,
            keys=request_keys(vec),
        )
        == "stale"
    )


@pytest.mark.parametrize("vec", invalid(REQUESTS), ids=ids(invalid(REQUESTS)))
def test_request_invalid(vec):
    got = code_of(
        bc.verify_request,
        method=vec["method"],
        path=vec["path"],
        headers=vec["headers"],
        body=bytes.fromhex(vec["body_hex"]),
        me=vec["destination"],
        now=vec["now"],
        keys=request_keys(vec),
    )
    assert got == vec["error"]


REQ_OK = {
    "Bigre-Origin": "coopaname",
    "Bigre-Destination": "smart",
    "Bigre-Key": "21fe31dfa154a261",
    "Bigre-Time": "1790000000000",
    "Bigre-Nonce": "n0nce-0123456789ab",
    "Bigre-Digest": "sha-256=" + "0" * 64,
    "Bigre-Signature": "0" * 128,
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Bigre-Origin", "Coopaname"),
        ("Bigre-Key", "21FE31DFA154A261"),
        ("Bigre-Time", "-1"),
        ("Bigre-Time", "12345678901234567"),
        ("Bigre-Time", "9007199254740992"),
        ("Bigre-Time", ""),
        ("Bigre-Nonce", "short"),
        ("Bigre-Nonce", "n" * 65),
        ("Bigre-Nonce", "n0nce.0123456789ab"),
        ("Bigre-Digest", "sha-256=" + "0" * 63),
        ("Bigre-Digest", "SHA-256=" + "0" * 64),
        ("Bigre-Signature", "0" * 127),
        ("Bigre-Signature", "A" * 128),
    ],
)
def test_request_headers_malformed(name, value):
    headers = dict(REQ_OK, **{name: value})
    assert code_of(bc.parse_request_headers, headers) == "malformed"
    assert bc.parse_request_headers(REQ_OK).time == 1_790_000_000_000


def test_request_header_given_twice_in_two_cases():
    assert code_of(bc.parse_request_headers, dict(REQ_OK, **{"bigre-nonce": "m" * 16})) == "malformed"


# --------------------------------------------------------------------------------------------- own table tests

BOUNDARIES = [
    (0, "00"),
    (127, "7f"),
    (128, "cc80"),
    (255, "ccff"),
    (256, "cd0100"),
    (65_535, "cdffff"),
    (65_536, "ce00010000"),
    (2**32 - 1, "ceffffffff"),
    (2**32, "cf0000000100000000"),
    (2**64 - 1, "cfffffffffffffffff"),
    (-1, "ff"),
    (-32, "e0"),
    (-33, "d0df"),
    (-128, "d080"),
    (-129, "d1ff7f"),
    (-32_768, "d18000"),
    (-32_769, "d2ffff7fff"),
    (-(2**31), "d280000000"),
    (-(2**31) - 1, "d3ffffffff7fffffff"),
    (-(2**63), "d38000000000000000"),
]


@pytest.mark.parametrize(("n", "hexed"), BOUNDARIES, ids=[str(n) for n, _ in BOUNDARIES])
def test_integer_boundaries(n, hexed):
    assert bc.encode(n).hex() == hexed
    assert same(bc.decode(bytes.fromhex(hexed)), n)


@pytest.mark.parametrize("n", [2**64, -(2**63) - 1])
def test_integers_outside_the_model(n):
    assert code_of(bc.encode, n) == "malformed"


def _non_canonical_int_forms(n: int) -> list[bytes]:
    """Every longer form that standard MessagePack would accept for ``n``."""
    forms: list[bytes] = []
    if n >= 0:
        for tag, fmt in ((0xCC, ">B"), (0xCD, ">H"), (0xCE, ">I"), (0xCF, ">Q")):
            with contextlib.suppress(struct.error):
                forms.append(bytes([tag]) + struct.pack(fmt, n))
    for tag, fmt in ((0xD0, ">b"), (0xD1, ">h"), (0xD2, ">i"), (0xD3, ">q")):
        with contextlib.suppress(struct.error):
            forms.append(bytes([tag]) + struct.pack(fmt, n))
    canonical = bc.encode(n)
    return [f for f in forms if f != canonical]


@pytest.mark.parametrize(("n", "hexed"), BOUNDARIES, ids=[str(n) for n, _ in BOUNDARIES])
def test_longer_integer_forms_are_non_canonical(n, hexed):
    for form in _non_canonical_int_forms(n):
        assert code_of(bc.decode, form) == "non_canonical", form.hex()


LENGTH_BOUNDARIES = [0, 1, 15, 16, 31, 32, 255, 256, 4_096, 65_535, 65_536]


@pytest.mark.parametrize("n", LENGTH_BOUNDARIES)
def test_string_and_bytes_length_boundaries(n):
    s = bc.encode("a" * n)
    expected_tag = 0xA0 + n if n <= 31 else 0xD9 if n <= 255 else 0xDA if n <= 65_535 else 0xDB
    assert s[0] == expected_tag
    assert bc.decode(s) == "a" * n
    b = bc.encode(b"\x00" * n)
    assert b[0] == (0xC4 if n <= 255 else 0xC5 if n <= 65_535 else 0xC6)
    assert bc.decode(b) == b"\x00" * n


def test_string_and_bytes_over_the_limit():
    assert code_of(bc.encode, "a" * 65_537) == "too_large"
    assert code_of(bc.encode, b"a" * 65_537) == "too_large"
    # The length is checked before the bytes are read: no need to send them.
    assert code_of(bc.decode, bytes.fromhex("db00010001")) == "too_large"
    assert code_of(bc.decode, bytes.fromhex("c600010001")) == "too_large"
    # ... but after the floor of the form.
    assert code_of(bc.decode, bytes.fromhex("db0000ffff")) == "non_canonical"


@pytest.mark.parametrize("n", [0, 15, 16, 1_024, 4_096])
def test_array_count_boundaries(n):
    enc = bc.encode([None] * n)
    assert enc[0] == (0x90 + n if n <= 15 else 0xDC)
    assert bc.decode(enc) == [None] * n


def test_container_limits():
    assert code_of(bc.encode, [None] * 4_097) == "too_large"
    assert code_of(bc.decode, bytes.fromhex("dc1001") + b"\xc0" * 4_097) == "too_large"
    big_map = {f"k{i:04}": 0 for i in range(1_025)}
    assert code_of(bc.encode, big_map) == "too_large"
    assert code_of(bc.decode, bytes.fromhex("de0401")) == "too_large"  # count checked before the entries
    ok_map = {f"k{i:04}": 0 for i in range(1_024)}
    assert bc.decode(bc.encode(ok_map)) == ok_map
    # 32-bit forms below their floor
    assert code_of(bc.decode, bytes.fromhex("dd00000010")) == "non_canonical"
    assert code_of(bc.decode, bytes.fromhex("df00000010")) == "non_canonical"


def nested(depth: int) -> bc.Value:
    v: bc.Value = None
    for _ in range(depth):
        v = [v]
    return v


def test_depth_limit():
    assert bc.decode(bytes.fromhex("91" * 16 + "c0")) == nested(16)
    assert bc.encode(nested(16)) == bytes.fromhex("91" * 16 + "c0")
    assert code_of(bc.encode, nested(17)) == "too_large"
    assert code_of(bc.decode, bytes.fromhex("91" * 17 + "c0")) == "too_large"
    # A map counts as a level too, and a key is read at depth + 1.
    assert code_of(bc.decode, bytes.fromhex("81a161" * 17 + "c0")) == "too_large"
    assert code_of(bc.decode, bytes.fromhex("81a161" * 16 + "90")) == "too_large"
    assert bc.decode(bytes.fromhex("81a161" * 16 + "c0")) is not None
    assert bc.decode(bytes.fromhex("81a161" * 15 + "90")) is not None


def test_decoder_check_order():
    # truncated after the tag: malformed, even for a form that would be non-canonical
    assert code_of(bc.decode, bytes.fromhex("cc")) == "malformed"
    assert code_of(bc.decode, bytes.fromhex("cb00")) == "malformed"
    # floor before truncation
    assert code_of(bc.decode, bytes.fromhex("d901")) == "non_canonical"
    # overlong UTF-8
    assert code_of(bc.decode, bytes.fromhex("a2c0af")) == "malformed"
    # a non-canonical key is reported before the order of keys
    assert code_of(bc.decode, bytes.fromhex("82a162c0d90161c0")) == "non_canonical"
    # a duplicate wins over anything in the value
    assert code_of(bc.decode, bytes.fromhex("82a161c0a161c1")) == "malformed"
    # float32 is refused even when truncated
    assert code_of(bc.decode, bytes.fromhex("ca")) == "non_canonical"
    # ext types are malformed, never decoded
    for tag in ("c7", "c8", "c9", "d4", "d5", "d6", "d7", "d8"):
        assert code_of(bc.decode, bytes.fromhex(tag + "00" * 20)) == "malformed"


def test_floats():
    assert code_of(bc.encode, float("nan")) == "malformed"
    assert code_of(bc.encode, float("inf")) == "malformed"
    assert code_of(bc.encode, -0.0) == "non_canonical"
    assert code_of(bc.decode, bytes.fromhex("cbfff0000000000000")) == "malformed"
    assert code_of(bc.decode, bytes.fromhex("cb7ff0000000000001")) == "malformed"  # a signalling NaN
    assert not same(bc.decode(bc.encode(1.0)), 1)


def test_map_key_order():
    keys = ["é", "b", "ab", "a", "B", "", "\U0001f600", "\uffff"]
    enc = bc.encode(dict.fromkeys(keys, 0))
    decoded = bc.decode(enc)
    assert isinstance(decoded, dict)
    assert list(decoded) == sorted(keys, key=lambda k: k.encode())
    assert sorted(keys, key=lambda k: k.encode()) == sorted(keys)  # the order of code points


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=bc.INT_MIN, max_value=bc.INT_MAX)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not (f == 0 and math.copysign(1, f) < 0))
    | st.text()
    | st.binary(),
    lambda children: st.lists(children, max_size=20) | st.dictionaries(st.text(), children, max_size=20),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_round_trip(v):
    enc = bc.encode(v)
    assert same(bc.decode(enc), v)
    assert bc.encode(bc.decode(enc)) == enc


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=bc.INT_MIN, max_value=bc.INT_MAX))
def test_integer_encoding_is_the_shortest(n):
    enc = bc.encode(n)
    # every other form is at least as long (a non-negative n in a signed form can be as long) and refused
    for form in _non_canonical_int_forms(n):
        assert len(form) >= len(enc)
        assert code_of(bc.decode, form) == "non_canonical"
    assert bc.decode(enc) == n


@settings(max_examples=300, deadline=None)
@given(values, st.binary(min_size=1, max_size=4))
def test_trailing_bytes_and_truncation(v, extra):
    enc = bc.encode(v)
    assert code_of(bc.decode, enc + extra) == "malformed"
    for cut in range(len(enc)):
        assert code_of(bc.decode, enc[:cut]) in ("malformed", "non_canonical")


# --------------------------------------------------------------------------------------------- entries and keys

SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PK = bc.public_key_of(SEED)


def header_fields(**over: bc.Value) -> dict[str, bc.Value]:
    h: dict[str, bc.Value] = {
        "created": 1_790_000_000_000,
        "id": "m-x",
        "kid": bc.kid_of(PK),
        "origin": "coopaname",
        "prev": None,
        "seq": 1,
        "ts": 1_790_000_001_000,
        "tv": [1, 0],
        "type": "profile",
        "v": 1,
    }
    h.update(over)
    return h


def test_rfc8032_key_and_kid():
    assert PK.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert bc.kid_of(PK) == hashlib.sha256(PK).hexdigest()[:16]


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"seq": 2}, "malformed"),  # prev nil but seq 2
        ({"prev": b"\x00" * 32}, "malformed"),  # prev set at seq 1
        ({"seq": 0}, "malformed"),
        ({"seq": 2**53}, "malformed"),
        ({"id": "-x"}, "malformed"),
        ({"id": "x" * 65}, "malformed"),
        ({"id": "a\n"}, "malformed"),  # a whole-string match, not re.match with $
        ({"origin": "a-"}, "malformed"),
        ({"origin": "A"}, "malformed"),
        ({"kid": "0123456789ABCDEF"}, "malformed"),
        ({"type": "Profile"}, "malformed"),
        ({"tv": [1]}, "malformed"),
        ({"tv": [1, 65_536]}, "malformed"),
        ({"tv": [True, 0]}, "malformed"),
        ({"ts": -1}, "malformed"),
        ({"created": 1.0}, "malformed"),
        ({"v": 2}, "unsupported_version"),
        ({"v": -1}, "malformed"),
        ({"v": "1"}, "malformed"),
        ({"v": True}, "malformed"),
        ({"extra": 1}, "malformed"),
        ({"type": "gossip"}, "schema"),
        ({"tv": [2, 0]}, "unsupported_version"),
        ({"type": "node"}, "schema"),  # id must be "node"
        ({"tv": [1, 1]}, None),
    ],
)
def test_header_rules(over, code):
    data = bc.sign_entry(SEED, header_fields(**over), {"display_name": "A"})
    keys = bc.KeyDirectory()
    keys.add("coopaname", bc.KeyInfo(PK))
    assert code_of(bc.accept_entry, data, keys) == code


def test_header_without_v_and_oversized_header():
    h = header_fields()
    del h["v"]
    keys = bc.KeyDirectory()
    keys.add("coopaname", bc.KeyInfo(PK))
    assert code_of(bc.accept_entry, bc.sign_entry(SEED, h, {}), keys) == "malformed"
    big = bc.encode({"b": None, "h": b"\x80" * 1_025, "s": b"\x00" * 64})
    assert code_of(bc.decode_entry, big) == "too_large"
    body_not_map = bc.sign_entry(SEED, header_fields(), [1])
    assert code_of(bc.accept_entry, body_not_map, keys) == "malformed"


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (bc.KeyInfo(PK, not_before=1_790_000_001_000), None),
        (bc.KeyInfo(PK, not_before=1_790_000_001_001), "key_not_valid"),
        (bc.KeyInfo(PK, not_after=1_790_000_001_000), "key_not_valid"),
        (bc.KeyInfo(PK, not_after=1_790_000_001_001), None),
        (bc.KeyInfo(PK, revoked_at=1_790_000_001_000), "key_not_valid"),
        (bc.KeyInfo(PK, revoked_at=1_790_000_001_001), None),
    ],
)
def test_key_window(key, code):
    keys = bc.KeyDirectory()
    keys.add("coopaname", key)
    assert code_of(bc.accept_entry, bc.sign_entry(SEED, header_fields(), {}), keys) == code


def test_key_of_another_origin_is_unknown():
    keys = bc.KeyDirectory()
    keys.add("oxalis", bc.KeyInfo(PK))
    assert code_of(bc.accept_entry, bc.sign_entry(SEED, header_fields(), {}), keys) == "unknown_key"


def test_node_document_gives_the_keys():
    rec = next(v for v in RECORDS if v["type"] == "node")
    body = from_json(rec["value"])
    assert isinstance(body, dict)
    keys = bc.KeyDirectory()
    keys.add_node_document("coopaname", body)
    data = bc.sign_entry(SEED, header_fields(type="node", id="node"), body)
    entry, _ = bc.accept_entry(data, keys)
    assert entry.header.type == "node"
    bad = dict(body, name="oxalis")
    assert code_of(bc.accept_entry, bc.sign_entry(SEED, header_fields(type="node", id="node"), bad), keys) == "schema"


def test_message_is_never_part_of_a_log():
    """Section 8: a direct type with seq other than 1 is refused (schema), also by the single-record pipeline."""
    keys = bc.KeyDirectory()
    keys.add("coopaname", bc.KeyInfo(PK))
    body: dict[str, bc.Value] = {"to_node": "smart", "to_member": "m-karim", "from_member": "m-a", "text": "Bonjour"}
    assert code_of(bc.accept_entry, bc.sign_entry(SEED, header_fields(type="message"), body), keys) is None
    second = header_fields(type="message", seq=2, prev=b"\x00" * 32)
    assert code_of(bc.accept_entry, bc.sign_entry(SEED, second, body), keys) == "schema"


def test_chain_built_here():
    keys = bc.KeyDirectory()
    keys.add("coopaname", bc.KeyInfo(PK))
    raws: list[bytes] = []
    prev: bytes | None = None
    for seq in range(1, 5):
        raw = bc.sign_entry(SEED, header_fields(seq=seq, prev=prev, id=f"r{seq}"), {"display_name": str(seq)})
        raws.append(raw)
        prev = bc.decode_entry(raw).entry_hash
    assert len(bc.verify_run(raws, keys, None)) == 4
    first = bc.decode_entry(raws[1])
    assert len(bc.verify_run(raws[2:], keys, (2, first.entry_hash))) == 2
    assert code_of(bc.verify_run, raws[::-1], keys, None) == "broken_link"
    # a key unknown in the middle of the run
    other = bc.KeyDirectory()
    assert code_of(bc.verify_run, raws, other, None) == "unknown_key"


# --------------------------------------------------------------------------------------------- schemas


@pytest.mark.parametrize(
    ("type_name", "tv", "body", "code"),
    [
        ("profile", [1, 0], {"display_name": "é" * 120}, None),  # code points, not bytes
        ("profile", [1, 0], {"display_name": "é" * 121}, "schema"),
        ("profile", [1, 0], {"display_name": None}, "schema"),
        ("profile", [1, 0], {"place": {"departement": "2A"}}, None),
        ("profile", [1, 0], {"place": {"departement": "2C"}}, "schema"),
        ("profile", [1, 0], {"place": {"departement": "93"}}, None),
        ("profile", [1, 0], {"place": {"departement": "9"}}, "schema"),
        ("profile", [1, 0], {"place": {"departement": "٩٣"}}, "schema"),  # ASCII digits only
        ("profile", [1, 0], {"place": {"departement": "2AB"}}, "schema"),  # alternation is whole-string
        ("profile", [1, 0], {"place": {"departement": "932A"}}, "schema"),
        ("profile", [1, 0], {"place": {"country": "FR"}}, None),
        ("profile", [1, 0], {"place": {"country": "fr"}}, "schema"),
        ("profile", [1, 0], {"place": {"lat_e6": -90_000_000}}, None),
        ("profile", [1, 0], {"place": {"lat_e6": True}}, "schema"),
        ("profile", [1, 0], {"place": {"lat_e6": 1.0}}, "schema"),
        ("profile", [1, 0], {"place": {"street": "1 rue"}}, "schema"),  # unknown nested field, same minor
        ("profile", [1, 1], {"place": {"street": "1 rue"}}, None),  # ... a newer minor
        ("profile", [1, 1], {"place": {"town": 3}}, "schema"),  # known fields still checked
        ("profile", [1, 0], {"availability": {"from": "2028-02-29"}}, None),
        ("profile", [1, 0], {"availability": {"from": "2100-02-29"}}, "schema"),
        ("profile", [1, 0], {"availability": {"from": "2000-02-29"}}, None),
        ("profile", [1, 0], {"availability": {"from": "2027-13-01"}}, "schema"),
        ("profile", [1, 0], {"availability": {"from": "2027-1-01"}}, "schema"),
        ("profile", [1, 0], {"availability": {"from": "2027-01-01T00:00"}}, "schema"),
        ("profile", [1, 0], {"trades": [{"rome": "H2206"}]}, "schema"),  # label required
        ("profile", [1, 0], {"trades": [{"label": "x", "rome": "N9999"}]}, None),
        ("profile", [1, 0], {"links": ["https://a.example/x"]}, None),
        ("profile", [1, 0], {"links": ["https://a b"]}, "schema"),
        ("profile", [1, 0], {"links": ["ftp://a"]}, "schema"),
        ("profile", [1, 0], {"languages": ["fra", "en"]}, None),
        ("profile", [1, 0], {"languages": ["f"]}, "schema"),
        ("profile", [1, 0], {"skills": "x"}, "schema"),
        ("profile", [1, 0], {"public": ["x" * 32] * 32}, None),
        ("offer", [1, 0], {"purpose": "offer", "title": "t", "status": "open", "remote": 0}, "schema"),
        ("offer", [1, 0], {"purpose": "offer", "title": "t", "status": "open", "remote": True}, None),
        ("help_answer", [1, 0], {"request": "smart/h-12", "text": ""}, None),
        ("help_answer", [1, 0], {"request": "h-12", "text": ""}, "schema"),
        ("help_answer", [1, 0], {"request": "Smart/h-12", "text": ""}, "schema"),
        ("key_revocation", [1, 0], {"kid": "0" * 16, "revoked_at": 0, "reason": "lost"}, None),
        ("key_revocation", [1, 0], {"kid": "0" * 16, "revoked_at": 2**53, "reason": "lost"}, "schema"),
        ("node", [1, 0], {"name": "n", "display_name": "N", "url": "http://n", "keys": [{}]}, "schema"),
        ("node", [1, 7], {"name": "n", "display_name": "N", "url": "http://n", "x": [1]}, None),
        ("node", [0, 9], {"name": "n", "display_name": "N", "url": "http://n"}, "unsupported_version"),
        ("tombstone", [1, 0], {"target_type": "offer", "reason": "moved", "forward": "o/x"}, None),
        ("message", [1, 0], {"to_node": "smart", "to_member": "m", "from_member": "f", "text": ""}, None),
        ("message", [1, 0], {"to_node": "smart", "to_member": "m", "from_member": "f"}, "schema"),
        ("gossip", [2, 0], {}, "schema"),  # an unknown type before the version
    ],
)
def test_schema_table(type_name, tv, body, code):
    assert code_of(bc.check_body, type_name, tv, bc.encode(body)) == code


def test_erased_body_skips_schema():
    assert bc.check_body("offer", [1, 0], None) is None
    assert code_of(bc.check_body, "offer", [2, 0], None) == "unsupported_version"


def test_body_must_be_canonical_even_with_unknown_fields():
    # {"display_name": "A", "zz": 1} with "zz"'s value as uint8 1: non-canonical, even in a newer minor.
    data = bytes.fromhex("82ac646973706c61795f6e616d65a141a27a7acc01")
    assert code_of(bc.check_body, "profile", [1, 3], data) == "non_canonical"


def test_error_http_statuses():
    assert bc.ProtocolError("too_large").http_status == 413
    assert bc.ProtocolError("schema").http_status == 422
    assert bc.ProtocolError("broken_link").http_status == 409
    assert bc.ProtocolError("stale").http_status == 401
    with pytest.raises(ValueError):
        bc.ProtocolError("nope")
