"""Write protocol/vectors/*.json from the reference implementation.

Run after a deliberate protocol change: `python -m scripts.make_vectors`. The tests check that the implementation
still reproduces every committed vector byte for byte, so an accidental change to the wire format fails CI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocol import canonical
from protocol.envelope import KeyInfo, Keyring, decode_entry, sign_entry, verify, verify_chain
from protocol.errors import InvalidInputError
from protocol.jsonform import to_json
from protocol.keys import SigningKey, VerifyKey
from protocol.records import RECORD_TYPES, check_log_entry, open_direct, sign_direct

OUT = Path(__file__).resolve().parent.parent / "protocol" / "vectors"
SEED_A = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
SEED_B = bytes(range(32))
T0 = 1_790_000_000_000  # 2026-09-21T13:33:20Z in ms


def _error(fn: Any) -> str:
    try:
        fn()
    except InvalidInputError as exc:
        return exc.code
    raise AssertionError("expected an error")


def canonical_vectors() -> list[dict[str, Any]]:
    valid: list[tuple[str, Any]] = [
        ("nil", None),
        ("false", False),
        ("true", True),
        ("zero", 0),
        ("largest positive fixint", 127),
        ("smallest uint8", 128),
        ("largest uint8", 255),
        ("smallest uint16", 256),
        ("largest uint16", 65535),
        ("smallest uint32", 65536),
        ("smallest uint64", 2**32),
        ("largest integer", 2**64 - 1),
        ("-1 is a negative fixint", -1),
        ("smallest negative fixint", -32),
        ("largest int8", -33),
        ("smallest int8", -128),
        ("largest int16", -129),
        ("smallest int32", -32769),
        ("smallest int64", -(2**63)),
        ("float64 one and a half", 1.5),
        ("float64 zero", 0.0),
        ("float64 negative", -1234.5678),
        ("empty string", ""),
        ("fixstr with accents (UTF-8 bytes counted)", "Île-de-France"),
        ("31-byte string is still fixstr", "a" * 31),
        ("32-byte string takes str8", "a" * 32),
        ("256-byte string takes str16", "é" * 128),
        ("empty bytes", b""),
        ("bytes", bytes(range(8))),
        ("256 bytes take bin16", bytes(256)),
        ("empty array", []),
        ("15 elements fixarray", list(range(15))),
        ("16 elements take array16", list(range(16))),
        ("empty map", {}),
        ("keys sorted by UTF-8 bytes, shorter prefix first", {"b": 1, "a": 2, "ab": 3, "B": 4, "é": 5, "z": 6}),
        ("16 entries take map16", {f"k{i:02d}": i for i in range(16)}),
        (
            "nested",
            {"trades": [{"rome": "H2206", "label": "menuisière"}], "place": {"town": "Saint-Denis", "lat_e6": 48936}},
        ),
    ]
    vectors: list[dict[str, Any]] = []
    for description, value in valid:
        data = canonical.encode(value)
        assert canonical.decode(data) == value
        vectors.append({"description": description, "value": to_json(value), "canonical_hex": data.hex()})
    invalid: list[tuple[str, str]] = [
        ("1 encoded as uint8", "cc01"),
        ("127 encoded as uint8", "cc7f"),
        ("255 encoded as uint16", "cd00ff"),
        ("65535 encoded as uint32", "ce0000ffff"),
        ("2**32-1 encoded as uint64", "cf00000000ffffffff"),
        ("0 encoded as int8 (non-negative in a signed form)", "d000"),
        ("-1 encoded as int8", "d0ff"),
        ("-33 encoded as int16", "d1ffdf"),
        ("float32", "ca3fc00000"),
        ("NaN", "cb7ff8000000000000"),
        ("+infinity", "cb7ff0000000000000"),
        ("-0.0", "cb8000000000000000"),
        ("empty string as str8", "d900"),
        ("short bytes as bin16", "c50001ff"),
        ("empty array as array16", "dc0000"),
        ("empty map as map16", "de0000"),
        ("keys out of order", "82a16201a16102"),
        ("duplicate key", "82a16101a16102"),
        ("integer map key", "810102"),
        ("binary map key", "81c4016101"),
        ("trailing byte", "c0c0"),
        ("truncated string", "a3616263"[:-2]),
        ("truncated uint16", "cd01"),
        ("invalid UTF-8", "a2c328"),
        ("UTF-8 encoded surrogate", "a3eda080"),
        ("the never-used byte 0xc1", "c1"),
        ("fixext 1", "d40100"),
        ("timestamp extension", "d6ff00000000"),
        ("empty input", ""),
        ("nesting deeper than 16", "91" * 17 + "c0"),
    ]
    for description, hex_input in invalid:
        data = bytes.fromhex(hex_input)
        code = _error(lambda d=data: canonical.decode(d))
        vectors.append({"description": description, "valid": False, "input_hex": hex_input, "error": code})
    return vectors


PROFILE_BODY = {
    "display_name": "Amélie Durand",
    "bio": "Menuisière ébéniste à Montreuil : mobilier sur mesure en bois massif, restauration de meubles anciens.",
    "trades": [{"rome": "H2206", "label": "menuisière"}, {"rome": "H2207", "label": "ébéniste"}],
    "skills": ["agencement", "restauration", "bois massif"],
    "languages": ["fr", "en"],
    "place": {
        "town": "Montreuil",
        "postcode": "93100",
        "departement": "93",
        "region": "Île-de-France",
        "lat_e6": 48_863_812,
        "lon_e6": 2_448_451,
    },
    "availability": {"status": "partly", "from": "2027-03-01", "until": "2027-06-30", "days_per_week": 3},
    "stage": "established",
    "coop_status": "associate",
    "public": ["display_name", "trades"],
}


def _entry_vector(description: str, seed: bytes, entry: Any, body: Any) -> dict[str, Any]:
    key = SigningKey.from_seed(seed)
    h = entry.header
    return {
        "description": description,
        "seed_hex": seed.hex(),
        "public_key_hex": key.public_bytes.hex(),
        "kid": key.kid,
        "value": {
            "header": to_json(canonical.decode(entry.header_bytes)),
            "body": to_json(body) if entry.body is not None else None,
        },
        "header_hex": entry.header_bytes.hex(),
        "body_hex": entry.body.hex() if entry.body is not None else None,
        "signed_bytes_hex": entry.signed_bytes.hex(),
        "signature_hex": entry.signature.hex(),
        "entry_hash_hex": entry.hash.hex(),
        "canonical_hex": entry.encode().hex(),
        "seq": h.seq,
    }


def _chain(key: SigningKey, bodies: list[tuple[str, str, Any]], origin: str = "coopaname") -> list[Any]:
    entries: list[Any] = []
    prev = None
    for i, (type_, id_, body) in enumerate(bodies, start=1):
        e = sign_entry(
            key,
            type=type_,
            type_version=RECORD_TYPES[type_].version,
            origin=origin,
            id=id_,
            seq=i,
            created=T0,
            ts=T0 + i * 1000,
            prev=prev,
            body=body,
        )
        entries.append(e)
        prev = e.hash
    return entries


CHAIN_BODIES: list[tuple[str, str, Any]] = [
    ("profile", "m-amelie", PROFILE_BODY),
    (
        "offer",
        "o-motion-3w",
        {
            "purpose": "request",
            "title": "Cherche motion designer pour trois semaines à Montreuil",
            "trades": [{"rome": "E1205", "label": "motion designer"}],
            "remote": False,
            "effort_days": 15,
            "reciprocity": "paid",
            "status": "open",
            "author": "m-amelie",
        },
    ),
    ("profile", "m-amelie", {**PROFILE_BODY, "availability": {"status": "busy"}}),
    ("tombstone", "o-motion-3w", {"target_type": "offer", "reason": "deleted"}),
]


RESOURCE_BODY: dict[str, Any] = {
    "kind": "machine",
    "title": "Découpeuse laser",
    "venue": "Point Carré",
    "place": {"town": "Saint-Denis", "postcode": "93200", "departement": "93"},
    "capacity": 1,
    "timezone": "Europe/Paris",
    "hours": [{"day": 2, "opens": 540, "closes": 1080}, {"day": 4, "opens": 540, "closes": 1080}],
    "slot_minutes": 30,
    "max_minutes": 240,
    "prices": [
        {"audience": "coop", "access": "free"},
        {"audience": "network", "access": "paid", "amount_cents": 1500, "unit": "hour"},
        {"audience": "public", "access": "not_offered"},
    ],
    "photos": ["https://coopaname.example/photos/laser.jpg"],
    "qualification": "laser-cutter",
    "qualification_label": "Formation découpe laser (2 h)",
    "approval": False,
    "status": "open",
}
MESSAGE_BODY: dict[str, Any] = {
    "to_node": "smart",
    "to_member": "m-karim",
    "from_member": "m-amelie",
    "from_name": "Amélie Durand",
    "subject": "Votre offre de motion design",
    "text": "Bonjour, je suis disponible en mars.",
    "about": "smart/o-motion-3w",
}

MEMBER_MOVE_BODY: dict[str, Any] = {
    "to_node": "oxalis",
    "move": "mv-7f3a",
    "member": "m-amelie",
    "email": "amelie@example.org",
    "display_name": "Amélie Durand",
    "profile": {
        "display_name": "Amélie Durand",
        "trades": [{"rome": "E1205", "label": "motion designer"}],
        "place": {"town": "Montreuil", "departement": "93"},
    },
    "visibility": {"display_name": "network", "trades": "public", "place": "coop"},
    "offers": [
        {
            "id": "o-motion-3w",
            "visibility": "public",
            "fields": {"purpose": "offer", "title": "Motion design pour vos vidéos", "status": "open"},
        }
    ],
    "mentoring": [{"id": "mt-1", "fields": {"kind": "offer", "topics": ["devis"], "status": "open"}}],
}

CASE_SHARE_BODY: dict[str, Any] = {
    "to_node": "smart",
    "case_origin": "coopaname",
    "case_id": "c-boulangerie",
    "title": "Boulangerie coopérative de Bagnolet",
    "stage": "feasibility",
    "origin_kind": "new_creation",
    "target_form": "scop",
    "trades": [{"rome": "D1102", "label": "boulanger"}],
    "group": [
        {"name": "Inès", "associate": True, "employee": True, "capital_eur": 2000},
        {"name": "Marc", "email": "marc@example.org", "associate": True, "employee": True},
    ],
    "owners": [{"node": "coopaname", "account_id": 3, "name": "Lucie"}],
    "stages": {
        "emergence": {
            "checklist": [
                {"key": "group", "done": True},
                {"key": "c-1a2b3c4d", "label": "Local trouvé", "done": False},
            ],
            "started": "2026-09-01",
            "done": "2026-09-15",
            "notes": [
                {"id": "n-1", "at": T0, "by": {"node": "coopaname", "account_id": 3}, "text": "Premier rendez-vous."}
            ],
        },
        "feasibility": {"started": "2026-09-15"},
    },
    "shared_with": ["smart"],
    "created_at": T0,
    "updated_at": T0 + 1000,
    "updated_by": "coopaname",
    "retention_until": T0 + 3 * 365 * 86_400_000,
}


def _large_case_share() -> dict[str, Any]:
    """A case whose snapshot is larger than 64 KiB: the notes of two busy stages (direct envelopes may be)."""
    body = {**CASE_SHARE_BODY, "stages": {}}
    for stage in ("emergence", "co_accompaniment"):
        body["stages"][stage] = {
            "notes": [
                {"id": f"n-{stage[:3]}-{i}", "at": T0 + i, "text": f"Note {i} : " + "compte rendu détaillé. " * 160}
                for i in range(9)
            ]
        }
    return body


# Mentoring programmes (issue 16): a pair proposed by the programme's node, a member's answer, a check-in.
MENTORING_PAIR_BODY: dict[str, Any] = {
    "to_node": "smart",
    "pair": "p-chillies-1",
    "programme": "coopaname/prog-chillies-2027",
    "programme_name": "Chillies 2027",
    "mentor": {"node": "smart", "member": "m-jeanne", "mentoring": "mt-7", "name": "Jeanne", "answer": "pending"},
    "mentee": {"node": "oxalis", "member": "m-karim", "mentoring": "mt-9", "name": "Karim", "answer": "accepted"},
    "status": "proposed",
    "note": "Deux graphistes du 93 : premier rendez-vous en janvier ?",
    "updated_at": T0,
}
MENTORING_DIRECT: list[tuple[str, str, str, dict[str, Any]]] = [
    ("a mentoring pair proposed to the mentor's node", "mentoring_pair", "smart", MENTORING_PAIR_BODY),
    (
        "a mentor's acceptance, sent to the programme's node",
        "mentoring_pair_answer",
        "smart",
        {
            "to_node": "smart",
            "pair": "p-chillies-1",
            "role": "mentor",
            "member": "m-jeanne",
            "action": "accept",
            "at": T0,
        },
    ),
    (
        "a check-in, sent to another node of the pair",
        "mentoring_checkin",
        "smart",
        {
            "to_node": "smart",
            "pair": "p-chillies-1",
            "date": "2027-01-14",
            "note": "Premier devis relu ensemble.",
            "by_node": "coopaname",
            "by_name": "Karim",
        },
    ),
]


def direct_vectors() -> list[dict[str, Any]]:
    """Section 8.1: direct records, as the direct route receives them (receiver `smart` unless said)."""
    key = SigningKey.from_seed(SEED_A)
    ring = Keyring()
    ring.add("coopaname", KeyInfo(key.verify_key))
    valid: list[tuple[str, str, str, dict[str, Any]]] = [
        ("a private message", "message", "smart", MESSAGE_BODY),
        ("a member's move request with their portable data", "member_move", "oxalis", MEMBER_MOVE_BODY),
        ("a shared onboarding case", "case_share", "smart", CASE_SHARE_BODY),
        (
            "a case snapshot larger than 65 536 bytes (a direct envelope may be)",
            "case_share",
            "smart",
            _large_case_share(),
        ),
        (
            "an erasure receipt: coopaname erased two of oxalis's records",
            "erasure_receipt",
            "oxalis",
            {"to_node": "oxalis", "records": ["m-ines", "o-fauteuils"], "erased_at": T0 + 5},
        ),
    ]
    vectors: list[dict[str, Any]] = []
    for i, (description, type_, to_node, body) in enumerate(valid, start=1):
        entry = sign_direct(key, type=type_, origin="coopaname", id=f"d-{i}", now=T0 + i, body=body)
        assert open_direct(entry.encode(), ring, to_node=to_node).body == body
        vectors.append(
            {
                **_entry_vector(description, SEED_A, entry, body),
                "origin": "coopaname",
                "to_node": to_node,
            }
        )
    assert len(bytes.fromhex(vectors[3]["canonical_hex"])) > 65_536
    for i, (description, type_, to_node, body) in enumerate(MENTORING_DIRECT, start=1):
        entry = sign_direct(key, type=type_, origin="coopaname", id=f"m-{i}", now=T0 + 100 + i, body=body)
        assert open_direct(entry.encode(), ring, to_node=to_node).body == body
        vectors.append({**_entry_vector(description, SEED_A, entry, body), "origin": "coopaname", "to_node": to_node})
    message = sign_direct(key, type="message", origin="coopaname", id="d-9", now=T0, body=MESSAGE_BODY)

    def signed(type_: str, body: dict[str, Any], seq: int = 1, prev: bytes | None = None, k: SigningKey = key) -> bytes:
        return sign_entry(
            k,
            type=type_,
            type_version=(1, 0),
            origin="coopaname",
            id="d-x",
            seq=seq,
            created=T0,
            ts=T0,
            prev=prev,
            body=body,
        ).encode()

    outer = canonical.decode(message.encode())
    assert isinstance(outer, dict)
    flipped = bytearray(outer["s"])  # type: ignore[arg-type]
    flipped[5] ^= 1
    huge = 1_100_000
    invalid: list[tuple[str, str, bytes]] = [
        ("a message addressed to another node", "oxalis", message.encode()),
        ("a log record type (an offer) sent as a direct record", "smart", signed("offer", CHAIN_BODIES[1][2])),
        ("a direct type with seq 2", "smart", signed("message", MESSAGE_BODY, seq=2, prev=bytes(32))),
        ("a direct record with its body erased", "smart", message.erased().encode()),
        (
            "a direct record whose signature has one bit flipped",
            "smart",
            canonical.encode({**outer, "s": bytes(flipped)}),
        ),
        (
            "a direct record signed by a key the origin never published",
            "smart",
            signed("message", MESSAGE_BODY, k=SigningKey.from_seed(SEED_B)),
        ),
        (
            "a move request without the member's e-mail",
            "oxalis",
            signed("member_move", {k: v for k, v in MEMBER_MOVE_BODY.items() if k != "email"}),
        ),
        (
            "a direct envelope larger than 1 048 576 bytes",
            "smart",
            b"\x83\xa1b\xc6" + huge.to_bytes(4, "big") + bytes(huge),
        ),
    ]
    for description, to_node, data in invalid:
        code = _error(lambda d=data, t=to_node: open_direct(d, ring, to_node=t))
        vectors.append(
            {
                "description": description,
                "valid": False,
                "origin": "coopaname",
                "to_node": to_node,
                "public_key_hex": key.public_bytes.hex(),
                "input_hex": data.hex() if len(data) < 200_000 else None,
                "input_note": None if len(data) < 200_000 else "83 a1 62 c6 0010c8e0 followed by 1100000 zero bytes",
                "error": code,
            }
        )
    return vectors


def envelope_vectors() -> list[dict[str, Any]]:
    key = SigningKey.from_seed(SEED_A)
    ring = Keyring()
    ring.add("coopaname", KeyInfo(key.verify_key))
    entries = _chain(key, CHAIN_BODIES)
    vectors = [
        _entry_vector("first entry of an origin: a member profile (prev is nil)", SEED_A, entries[0], PROFILE_BODY),
        _entry_vector("second entry: an offer, linked to the first", SEED_A, entries[1], CHAIN_BODIES[1][2]),
        _entry_vector("a tombstone deleting the offer", SEED_A, entries[3], CHAIN_BODIES[3][2]),
        _entry_vector("the first entry with its body erased still verifies", SEED_A, entries[0].erased(), None),
    ]
    good = entries[1].encode()
    outer = canonical.decode(good)
    assert isinstance(outer, dict)
    header_bytes = outer["h"]
    assert isinstance(header_bytes, bytes)

    def variant(**changes: Any) -> bytes:
        return canonical.encode({**outer, **changes})

    def header_variant(**changes: Any) -> bytes:
        h = canonical.decode(header_bytes)
        assert isinstance(h, dict)
        h.update(changes)
        return variant(h=canonical.encode(h))

    flipped_sig = bytearray(outer["s"])  # type: ignore[arg-type]
    flipped_sig[0] ^= 1
    other = SigningKey.from_seed(SEED_B)
    forged = sign_entry(
        other,
        type="offer",
        type_version=(1, 0),
        origin="coopaname",
        id="o-forged",
        seq=1,
        created=T0,
        ts=T0,
        prev=None,
        body=CHAIN_BODIES[1][2],
    )
    invalid: list[tuple[str, bytes]] = [
        ("signature with one bit flipped", variant(s=bytes(flipped_sig))),
        ("body changed after signing", variant(b=canonical.encode({**CHAIN_BODIES[1][2], "effort_days": 16}))),
        ("header seq changed after signing", header_variant(seq=3)),
        ("envelope version 2", header_variant(v=2)),
        ("header with an extra field", header_variant(x=1)),
        ("envelope with an extra field", variant(x=1)),
        ("signature of 63 bytes", variant(s=outer["s"][:63])),  # type: ignore[index]
        ("non-canonical envelope (body length as bin16)", _bin16_body(good, outer)),
        ("signed by a key the origin never published", forged.encode()),
        ("envelope larger than 65536 bytes", b"\xc6" + (70000).to_bytes(4, "big") + bytes(70000)),
    ]
    for description, data in invalid:
        code = _error(lambda d=data: verify(decode_entry(d), ring))
        vectors.append(
            {
                "description": description,
                "valid": False,
                "origin": "coopaname",
                "public_key_hex": key.public_bytes.hex(),
                "input_hex": data.hex() if len(data) < 1000 else None,
                "input_note": None if len(data) < 1000 else "c6 00011170 followed by 70000 zero bytes",
                "error": code,
            }
        )
    return vectors


def _bin16_body(good: bytes, outer: dict[str, Any]) -> bytes:
    body = outer["b"]
    assert isinstance(body, bytes) and len(body) < 256
    short = b"\xc4" + bytes([len(body)]) + body
    long = b"\xc5" + len(body).to_bytes(2, "big") + body
    assert short in good
    return good.replace(short, long, 1)


def chain_vectors() -> list[dict[str, Any]]:
    key = SigningKey.from_seed(SEED_A)
    ring = Keyring()
    ring.add("coopaname", KeyInfo(key.verify_key))
    entries = _chain(key, CHAIN_BODIES)
    blobs = [e.encode().hex() for e in entries]
    vectors: list[dict[str, Any]] = [
        {
            "description": "a run of four entries from seq 1: links checked, one signature (the last) verified",
            "public_key_hex": key.public_bytes.hex(),
            "origin": "coopaname",
            "after": None,
            "entries_hex": blobs,
            "entry_hashes_hex": [e.hash.hex() for e in entries],
            "valid": True,
        },
        {
            "description": "the last two entries, continuing from entry 2 (after = [seq, hash])",
            "public_key_hex": key.public_bytes.hex(),
            "origin": "coopaname",
            "after": [2, entries[1].hash.hex()],
            "entries_hex": blobs[2:],
            "valid": True,
        },
        {
            "description": "a run whose middle body was erased still verifies",
            "public_key_hex": key.public_bytes.hex(),
            "origin": "coopaname",
            "after": None,
            "entries_hex": [blobs[0], entries[1].erased().encode().hex(), blobs[2], blobs[3]],
            "valid": True,
        },
    ]
    other = _chain(key, [CHAIN_BODIES[0], ("profile", "m-other", {"display_name": "Autre"})])
    bad_last = canonical.decode(entries[3].encode())
    assert isinstance(bad_last, dict)
    sig = bytearray(bad_last["s"])  # type: ignore[arg-type]
    sig[10] ^= 0x80
    bad_last["s"] = bytes(sig)
    broken: list[tuple[str, list[str], Any]] = [
        ("a gap: entry 3 missing", [blobs[0], blobs[1], blobs[3]], None),
        ("entry 2 replaced by one from another history", [blobs[0], other[1].encode().hex(), blobs[2]], None),
        ("run not starting at seq 1 without 'after'", blobs[1:], None),
        ("'after' hash does not match", blobs[2:], [2, entries[0].hash.hex()]),
        ("the last signature is bad", [*blobs[:3], canonical.encode(bad_last).hex()], None),
    ]
    message = sign_entry(
        key,
        type="message",
        type_version=(1, 0),
        origin="coopaname",
        id="msg-in-log",
        seq=3,
        created=T0,
        ts=T0 + 3000,
        prev=entries[1].hash,
        body=MESSAGE_BODY,
    )
    lone = sign_direct(key, type="message", origin="coopaname", id="msg-1", now=T0, body=MESSAGE_BODY)
    broken += [
        ("a direct record (a message) inside a run: never part of a log", [*blobs[:2], message.encode().hex()], None),
        ("a run that is one direct record at seq 1", [lone.encode().hex()], None),
    ]
    for description, run, after in broken:

        def check(run: list[str] = run, after: Any = after) -> None:
            es = [decode_entry(bytes.fromhex(b)) for b in run]
            for e in es:
                check_log_entry(e)
            verify_chain(es, ring, (after[0], bytes.fromhex(after[1])) if after else None)

        vectors.append(
            {
                "description": description,
                "public_key_hex": key.public_bytes.hex(),
                "origin": "coopaname",
                "after": after,
                "entries_hex": run,
                "valid": False,
                "error": _error(check),
            }
        )
    return vectors


def record_vectors() -> list[dict[str, Any]]:
    examples: list[tuple[str, str, list[int], Any]] = [
        ("a full profile", "profile", [1, 0], PROFILE_BODY),
        ("an empty profile (every field optional)", "profile", [1, 0], {}),
        ("an offer", "offer", [1, 0], CHAIN_BODIES[1][2]),
        (
            "a mentoring offer",
            "mentoring",
            [1, 0],
            {"kind": "offer", "member": "m-amelie", "topics": ["gestion", "devis"], "status": "open"},
        ),
        (
            "an event",
            "event",
            [1, 0],
            {"kind": "training", "title": "Formation devis et facturation", "start": T0, "seats": 12},
        ),
        ("a help request", "help_request", [1, 0], {"topic": "Assurance décennale ?", "status": "open"}),
        ("a help answer", "help_answer", [1, 0], {"request": "smart/h-12", "text": "Voir la MAAF."}),
        ("a tombstone", "tombstone", [1, 0], {"target_type": "offer", "reason": "deleted"}),
        (
            "a moved member's tombstone",
            "tombstone",
            [1, 0],
            {"target_type": "profile", "reason": "moved", "forward": "oxalis/m-amelie"},
        ),
        (
            "an admission vote",
            "admission_vote",
            [1, 0],
            {"proposal": "coopaname/p-scop-ti", "decision": "yes", "reason": "Projet solide, parrainé par Coopaname."},
        ),
        (
            "an admission proposal",
            "proposal",
            [1, 0],
            {
                "kind": "admission",
                "subject": "scop-ti",
                "deadline": T0 + 14 * 86_400_000,
                "candidate": {
                    "url": "https://bigre.scop-ti.example",
                    "display_name": "Scop-TI",
                    "public_key": SigningKey.from_seed(SEED_B).public_bytes,
                    "legal_name": "SCOP-TI SA coopérative",
                    "registry_number": "123456789",
                    "sponsor": "coopaname",
                },
            },
        ),
        (
            "a charter proposal",
            "proposal",
            [1, 0],
            {
                "kind": "charter",
                "subject": "coopaname",
                "deadline": T0,
                "charter": {
                    "admission_rule": "majority",
                    "suspension_rule": "majority",
                    "expulsion_rule": "two_thirds",
                    "charter_rule": "two_thirds",
                    "recovery_rule": "majority",
                    "voting_days": 14,
                },
            },
        ),
        (
            "a charter that says what the others keep of a coop that leaves or is expelled",
            "proposal",
            [1, 0],
            {
                "kind": "charter",
                "subject": "coopaname",
                "deadline": T0,
                "charter": {
                    "admission_rule": "majority",
                    "suspension_rule": "majority",
                    "expulsion_rule": "two_thirds",
                    "charter_rule": "two_thirds",
                    "recovery_rule": "majority",
                    "voting_days": 14,
                    "suspended_records": "keep",
                    "departed_records": "drop",
                },
            },
        ),
        (
            "a leave notice (signed by its subject, it takes effect with no vote)",
            "proposal",
            [1, 0],
            {"kind": "leave", "subject": "oxalis", "deadline": T0, "text": "Oxalis quitte le réseau Bigre."},
        ),
        (
            "a key revocation",
            "key_revocation",
            [1, 0],
            {"kid": "0123456789abcdef", "revoked_at": T0, "reason": "compromised"},
        ),
        (
            "a node document",
            "node",
            [1, 0],
            {
                "name": "coopaname",
                "display_name": "Coopaname",
                "url": "https://coopaname.example",
                "protocol_versions": [1],
                "keys": [
                    {
                        "kid": SigningKey.from_seed(SEED_A).kid,
                        "public_key": SigningKey.from_seed(SEED_A).public_bytes,
                        "not_before": 0,
                    }
                ],
            },
        ),
        ("a private message answering an offer", "message", [1, 0], MESSAGE_BODY),
        ("a member's move request", "member_move", [1, 0], MEMBER_MOVE_BODY),
        (
            "a move acceptance",
            "member_move_acceptance",
            [1, 0],
            {
                "to_node": "coopaname",
                "move": "mv-7f3a",
                "member": "m-0042",
                "records": [{"old": "m-amelie", "new": "m-0042"}, {"old": "o-motion-3w", "new": "o-0107"}],
            },
        ),
        ("a shared onboarding case", "case_share", [1, 0], CASE_SHARE_BODY),
        ("a case no longer shared", "case_withdrawal", [1, 0], {"to_node": "smart", "case_id": "c-boulangerie"}),
        (
            "an event registration",
            "event_registration",
            [1, 0],
            {
                "to_node": "smart",
                "action": "register",
                "event": "e-devis",
                "member": "m-amelie",
                "name": "Amélie",
                "at": T0,
            },
        ),
        (
            "an answer to an event registration",
            "event_registration_answer",
            [1, 0],
            {"to_node": "coopaname", "event": "e-devis", "member": "m-amelie", "request": "r-1", "status": "full"},
        ),
        # resources and bookings (docs/PROTOCOL.md, "Resources and bookings")
        ("a machine that needs a qualification", "resource", [1, 0], RESOURCE_BODY),
        (
            "a booking request",
            "booking_request",
            [1, 0],
            {
                "to_node": "coopaname",
                "action": "book",
                "booking": "b-7f3a",
                "resource": "r-laser",
                "member": "m-amelie",
                "name": "Amélie",
                "start": T0,
                "end": T0 + 7_200_000,
                "at": T0 - 86_400_000,
            },
        ),
        (
            "a booking refused for want of a qualification",
            "booking_answer",
            [1, 0],
            {
                "to_node": "smart",
                "booking": "b-7f3a",
                "resource": "r-laser",
                "request": "q-1",
                "status": "refused",
                "reason": "not_qualified",
                "at": T0 - 86_000_000,
            },
        ),
        (
            "a mentoring programme",
            "mentoring_programme",
            [1, 0],
            {
                "name": "Chillies 2027",
                "cohort_start": "2027-01-04",
                "cohort_end": "2027-06-30",
                "mentees": ["first_year", "under_30"],
                "languages": ["fr"],
                "coordinator": "Équipe d'appui",
                "status": "open",
            },
        ),
        (
            "a mentor's offer of version 1.1 with a capacity",
            "mentoring",
            [1, 1],
            {
                "kind": "offer",
                "member": "m-jeanne",
                "programme": "coopaname/prog-chillies-2027",
                "status": "open",
                "capacity": 2,
            },
        ),
        (
            "an event of version 1.1 for a school",
            "event",
            [1, 1],
            {"kind": "workshop", "title": "Découverte : graphiste", "start": T0, "audience": "school"},
        ),
        *[(d, t, [1, 0], b) for d, t, _to, b in MENTORING_DIRECT],
        ("a newer minor version keeps an unknown field", "profile", [1, 3], {"display_name": "A", "pronouns": "elle"}),
        ("a node document of version 1.1 that hands the origin over to a new key", "node", [1, 1], HANDOVER_BODY),
        (
            "a fork repair",
            "fork_repair",
            [1, 0],
            {"seq": 57, "hash": bytes(range(32)), "reason": "compromised", "text": "Clé volée le 3 mars."},
        ),
        (
            "an erasure receipt",
            "erasure_receipt",
            [1, 0],
            {"to_node": "oxalis", "records": ["m-ines"], "erased_at": T0},
        ),
    ]
    invalid: list[tuple[str, str, list[int], Any]] = [
        (
            "an erasure receipt naming no record ids but numbers",
            "erasure_receipt",
            [1, 0],
            {"to_node": "oxalis", "records": [7], "erased_at": T0},
        ),
        ("unknown field in the same minor version", "profile", [1, 0], {"display_name": "A", "pronouns": "elle"}),
        ("a different major version", "profile", [2, 0], {"display_name": "A"}),
        ("missing required field", "offer", [1, 0], {"purpose": "offer", "status": "open"}),
        ("enum value outside the list", "offer", [1, 0], {"purpose": "gift", "title": "x", "status": "open"}),
        ("string too long", "profile", [1, 0], {"display_name": "x" * 121}),
        ("list too long", "profile", [1, 0], {"skills": ["s"] * 31}),
        ("bad ROME code", "profile", [1, 0], {"trades": [{"rome": "Z9999", "label": "?"}]}),
        ("not a calendar date", "profile", [1, 0], {"availability": {"from": "2027-02-30"}}),
        ("latitude out of range", "profile", [1, 0], {"place": {"lat_e6": 91_000_000}}),
        ("wrong type", "event", [1, 0], {"kind": "training", "title": "t", "start": "tomorrow"}),
        (
            "a resource open 25 hours a day",
            "resource",
            [1, 0],
            {**RESOURCE_BODY, "hours": [{"day": 1, "opens": 0, "closes": 1500}]},
        ),
        (
            "a price for an audience that does not exist",
            "resource",
            [1, 0],
            {**RESOURCE_BODY, "prices": [{"audience": "friends", "access": "free"}]},
        ),
        (
            "a booking answer without its request",
            "booking_answer",
            [1, 0],
            {"to_node": "smart", "booking": "b-1", "resource": "r-1", "status": "confirmed", "at": T0},
        ),
        ("unknown record type", "gossip", [1, 0], {}),
        (
            "a mentoring pair whose status is not one of the list",
            "mentoring_pair",
            [1, 0],
            {**MENTORING_PAIR_BODY, "status": "engaged"},
        ),
        (
            "a mentoring programme without its cohort dates",
            "mentoring_programme",
            [1, 0],
            {"name": "Chillies", "status": "open"},
        ),
        ("a vote that is not yes, no or abstain", "admission_vote", [1, 0], {"proposal": "a/b", "decision": "admit"}),
        (
            "a direct record without to_node",
            "case_withdrawal",
            [1, 0],
            {"case_id": "c-boulangerie"},
        ),
        (
            "a moved offer without its fields",
            "member_move",
            [1, 0],
            {**MEMBER_MOVE_BODY, "offers": [{"id": "o-1", "visibility": "public"}]},
        ),
        (
            "a case stage that does not exist",
            "case_share",
            [1, 0],
            {**CASE_SHARE_BODY, "stages": {"brainstorming": {}}},
        ),
        (
            "a hand-over signature of 63 bytes",
            "node",
            [1, 1],
            {**HANDOVER_BODY, "handover": {"kid": "0" * 16, "signature": bytes(63)}},
        ),
        (
            "a fork repair whose hash is not 32 bytes",
            "fork_repair",
            [1, 0],
            {"seq": 1, "hash": bytes(31), "reason": "restored"},
        ),
        ("a fork repair at seq 0", "fork_repair", [1, 0], {"seq": 0, "hash": bytes(32), "reason": "other"}),
    ]
    vectors: list[dict[str, Any]] = []
    for description, type_, tv, body in examples:
        RECORD_TYPES[type_].validate(body, (tv[0], tv[1]))
        vectors.append(
            {
                "description": description,
                "type": type_,
                "type_version": tv,
                "value": to_json(body),
                "canonical_hex": canonical.encode(body).hex(),
            }
        )
    for description, type_, tv, body in invalid:

        def check(type_: str = type_, tv: list[int] = tv, body: Any = body) -> None:
            from protocol.errors import SchemaError

            if type_ not in RECORD_TYPES:
                raise SchemaError(f"unknown record type {type_!r}")
            RECORD_TYPES[type_].validate(body, (tv[0], tv[1]))

        vectors.append(
            {
                "description": description,
                "type": type_,
                "type_version": tv,
                "value": to_json(body),
                "canonical_hex": canonical.encode(body).hex(),
                "valid": False,
                "error": _error(check),
            }
        )
    return vectors


SEED_C = bytes(range(100, 132))
SEED_T = bytes(range(200, 232))
HANDOVER_BODY: dict[str, Any] = {
    "name": "coopaname",
    "display_name": "Coopaname",
    "url": "https://coopaname.example",
    "protocol_versions": [1],
    "keys": [
        {
            "kid": SigningKey.from_seed(SEED_A).kid,
            "public_key": SigningKey.from_seed(SEED_A).public_bytes,
            "not_before": 0,
            "not_after": T0 + 3000,
            "last_seq": 2,
        },
        {
            "kid": SigningKey.from_seed(SEED_C).kid,
            "public_key": SigningKey.from_seed(SEED_C).public_bytes,
            "not_before": T0 + 3000,
            "first_seq": 3,
        },
    ],
    "handover": {"kid": SigningKey.from_seed(SEED_A).kid, "signature": bytes(64)},
}


class _Log:
    """Entries of coopaname's log, each signed by the key given; ts = T0 + seq * 1000 unless said."""

    def __init__(self) -> None:
        self.entries: list[Any] = []

    def head(self) -> tuple[int, bytes | None]:
        return (self.entries[-1].header.seq, self.entries[-1].hash) if self.entries else (0, None)

    def add(self, seed: bytes, type_: str, body: dict[str, Any], *, ts: int | None = None, keep: bool = True) -> Any:
        seq, prev = self.head()
        e = sign_entry(
            SigningKey.from_seed(seed),
            type=type_,
            type_version=RECORD_TYPES[type_].version,
            origin="coopaname",
            id="node" if type_ == "node" else f"{type_[:3]}-{seq + 1}",
            seq=seq + 1,
            created=T0,
            ts=T0 + (seq + 1) * 1000 if ts is None else ts,
            prev=prev,
            body=body,
        )
        if keep:
            self.entries.append(e)
        return e

    def document(self, *seeds: bytes, **extra: Any) -> dict[str, Any]:
        keys = [SigningKey.from_seed(s) for s in seeds]
        return {
            "name": "coopaname",
            "display_name": "Coopaname",
            "url": "https://coopaname.example",
            "protocol_versions": [1],
            "keys": [{"kid": k.kid, "public_key": k.public_bytes, "not_before": 0} for k in keys],
            **extra,
        }

    def hand_over(self, old: bytes, new: bytes, *, for_seq: int | None = None, keep: bool = True) -> Any:
        from protocol.handover import sign_handover

        seq, prev = self.head()
        new_key = SigningKey.from_seed(new)
        cross = sign_handover(
            SigningKey.from_seed(old),
            origin="coopaname",
            seq=for_seq or seq + 1,
            prev=prev,
            new_key=new_key.public_bytes,
        )
        body = self.document(old, new, handover=cross)
        body["keys"][0].update({"not_after": T0 + (seq + 1) * 1000, "last_seq": seq})
        body["keys"][1].update({"not_before": T0 + (seq + 1) * 1000, "first_seq": seq + 1})
        return self.add(new, "node", body, keep=keep)

    def profile(self, seed: bytes, *, ts: int | None = None, keep: bool = True) -> Any:
        seq, _ = self.head()
        return self.add(seed, "profile", {"display_name": f"Membre {seq + 1}"}, ts=ts, keep=keep)


def key_vectors() -> list[dict[str, Any]]:
    """Key windows by chain position, the hand-over, revocations (docs/PROTOCOL.md §7)."""
    from protocol.keystate import KeyRecord, OriginKeys, verify_history

    a, c = SigningKey.from_seed(SEED_A), SigningKey.from_seed(SEED_C)

    def rotation() -> _Log:
        log = _Log()
        log.add(SEED_A, "node", log.document(SEED_A))
        log.profile(SEED_A)
        log.hand_over(SEED_A, SEED_C)
        log.profile(SEED_C)
        return log

    def revoked() -> _Log:
        log = rotation()
        log.add(SEED_C, "key_revocation", {"kid": a.kid, "revoked_at": T0 + 600_000, "reason": "compromised"})
        return log

    def legacy() -> _Log:
        log = _Log()
        log.add(SEED_A, "node", log.document(SEED_A))
        body = log.document(SEED_A, SEED_C)
        body["keys"][0]["not_after"] = T0 + 2500
        log.add(SEED_A, "node", body)
        log.profile(SEED_C)
        return log

    cases: list[tuple[str, list[dict[str, Any]], list[Any]]] = []
    anchor = [{"public_key_hex": a.public_bytes.hex()}]
    cases.append(
        ("a hand-over at seq 3: the old key signs 1 and 2, the new key 3 and after", anchor, rotation().entries)
    )
    cases.append(("then the old key's revocation, signed by the new key", anchor, revoked().entries))
    log = rotation()
    log.profile(SEED_A, ts=T0 + 1500)
    cases.append(("the old key signs after the hand-over, dated before it", anchor, log.entries))
    log = revoked()
    log.profile(SEED_A, ts=T0 + 1500)
    cases.append(("the revoked key signs after its revocation, dated before everything", anchor, log.entries))
    log = _Log()
    log.add(SEED_A, "node", log.document(SEED_A))
    log.profile(SEED_A)
    log.hand_over(SEED_A, SEED_C, for_seq=5)
    cases.append(("a hand-over whose old-key signature is for another seq", anchor, log.entries))
    log = _Log()
    log.add(SEED_A, "node", log.document(SEED_A))
    log.profile(SEED_A)
    log.hand_over(SEED_T, SEED_C)
    cases.append(("a hand-over signed by a key the origin does not have", anchor, log.entries))
    log = _Log()
    log.add(SEED_A, "node", log.document(SEED_A))
    log.profile(SEED_A)
    log.entries.append(log.hand_over(SEED_A, SEED_C, keep=False).erased())
    cases.append(("a hand-over without its body", anchor, log.entries))
    log = _Log()
    log.add(SEED_A, "node", log.document(SEED_A))
    log.profile(SEED_A)
    log.hand_over(SEED_A, SEED_C)
    revoked_anchor = [{"public_key_hex": a.public_bytes.hex(), "revoked_at": T0 + 10**9}]
    cases.append(("a hand-over from a key the receiver holds revoked", revoked_anchor, log.entries))
    log = _Log()
    log.add(SEED_A, "node", log.document(SEED_A))
    log.profile(SEED_C)
    cases.append(("a key the origin never handed over to", anchor, log.entries))
    cases.append(
        (
            "a version 1.0 rotation: a document signed by the old key closes it and adds the new",
            anchor,
            legacy().entries,
        )
    )
    log = legacy()
    log.profile(SEED_A, ts=T0 + 1000)
    cases.append(("after a version 1.0 rotation, the old key signs again, dated before it", anchor, log.entries))
    log = _Log()
    log.add(SEED_A, "node", log.document(SEED_A, SEED_C))
    log.profile(SEED_A)
    log.add(SEED_C, "key_revocation", {"kid": a.kid, "revoked_at": T0 + 10**9, "reason": "compromised"})
    log.profile(SEED_A)
    cases.append(("a key revoked at seq 3 signs seq 4, within its time window", anchor, log.entries))

    vectors: list[dict[str, Any]] = []
    for description, keys_json, entries in cases:
        keys = OriginKeys(
            "coopaname",
            [
                KeyRecord(
                    VerifyKey.from_bytes(bytes.fromhex(k["public_key_hex"])),
                    not_before=k.get("not_before", 0),
                    not_after=k.get("not_after"),
                    revoked_at=k.get("revoked_at"),
                )
                for k in keys_json
            ],
        )
        blobs = [e.encode().hex() for e in entries]
        vector: dict[str, Any] = {"description": description, "origin": "coopaname", "keys": keys_json}
        vector["entries_hex"] = blobs
        try:
            verify_history([decode_entry(bytes.fromhex(b)) for b in blobs], keys)
        except InvalidInputError as exc:
            vector.update(valid=False, error=exc.code)
        else:
            windows = []
            for r in sorted(keys.records(), key=lambda r: r.kid):
                info = r.info()
                windows.append(
                    {
                        "kid": r.kid,
                        "first_seq": info.first_seq,
                        "last_seq": info.last_seq,
                        "not_before": info.not_before,
                        "not_after": info.not_after,
                        "revoked_at": info.revoked_at,
                    }
                )
            vector.update(valid=True, windows=windows)
        vectors.append(vector)
    assert c.kid in json.dumps(vectors)
    return vectors


def request_vectors() -> list[dict[str, Any]]:
    from protocol.requests import parse_request_headers, request_signing_bytes, sign_request, verify_request

    key = SigningKey.from_seed(SEED_A)
    ring = Keyring()
    ring.add("coopaname", KeyInfo(key.verify_key))
    body = canonical.encode({"after": 41, "origin": "oxalis"})
    base = {"method": "POST", "path": "/federation/v1/push?origin=oxalis", "origin": "coopaname"}
    headers = sign_request(key, **base, destination="smart", time=T0, nonce="n0nce-0123456789ab", body=body)
    signed = request_signing_bytes(
        **base,
        destination="smart",
        kid=key.kid,
        time=T0,
        nonce="n0nce-0123456789ab",
        digest=bytes.fromhex(headers["Bigre-Digest"][8:]),
    )
    vectors: list[dict[str, Any]] = [
        {
            "description": "a signed push request from coopaname to smart",
            "seed_hex": SEED_A.hex(),
            "public_key_hex": key.public_bytes.hex(),
            **base,
            "destination": "smart",
            "time": T0,
            "nonce": "n0nce-0123456789ab",
            "body_hex": body.hex(),
            "headers": headers,
            "signed_bytes_hex": signed.hex(),
        }
    ]
    cases: list[tuple[str, dict[str, str], str, bytes, int, str]] = [
        ("body changed", headers, "smart", body + b"\x00", T0, "body_mismatch"),
        ("sent to another node", headers, "oxalis", body, T0, "malformed"),
        ("six minutes late", headers, "smart", body, T0 + 360_000, "stale"),
        ("path changed", {**headers}, "smart", body, T0, "bad_signature"),
        (
            "signature header missing",
            {k: v for k, v in headers.items() if k != "Bigre-Signature"},
            "smart",
            body,
            T0,
            "malformed",
        ),
    ]
    for description, hdrs, destination, data, now, expected in cases:
        path = "/federation/v1/push?origin=smart" if description == "path changed" else base["path"]

        def check(
            hdrs: dict[str, str] = hdrs,
            destination: str = destination,
            data: bytes = data,
            now: int = now,
            path: str = path,
        ) -> None:
            verify_request(
                parse_request_headers(hdrs),
                method="POST",
                path=path,
                body=data,
                destination=destination,
                keys=ring,
                now=now,
            )

        code = _error(check)
        assert code == expected, (description, code)
        vectors.append(
            {
                "description": description,
                "valid": False,
                "public_key_hex": key.public_bytes.hex(),
                "method": "POST",
                "path": path,
                "destination": destination,
                "now": now,
                "body_hex": data.hex(),
                "headers": hdrs,
                "error": code,
            }
        )
    return vectors


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, fn in (
        ("canonical", canonical_vectors),
        ("envelopes", envelope_vectors),
        ("chains", chain_vectors),
        ("records", record_vectors),
        ("direct", direct_vectors),
        ("requests", request_vectors),
        ("keys", key_vectors),
    ):
        vectors = fn()
        (OUT / f"{name}.json").write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{name}: {len(vectors)} vectors")


if __name__ == "__main__":
    main()
