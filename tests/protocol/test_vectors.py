"""The committed vectors in protocol/vectors/ are the contract: the implementation must reproduce each byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from protocol import canonical
from protocol.envelope import SIGNING_PREFIX, KeyInfo, Keyring, decode_entry, sign_entry, verify, verify_chain
from protocol.errors import InvalidInputError, SchemaError
from protocol.jsonform import from_json
from protocol.keys import SigningKey, VerifyKey
from protocol.keystate import KeyRecord, OriginKeys, verify_history
from protocol.records import RECORD_TYPES, check_body, check_log_entry, open_direct
from protocol.requests import parse_request_headers, request_signing_bytes, sign_request, verify_request

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def load(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
    assert data, f"{name}.json is empty"
    return data


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["description"] for v in vectors]


def ring_for(public_hex: str, origin: str = "coopaname") -> Keyring:
    ring = Keyring()
    ring.add(origin, KeyInfo(VerifyKey.from_bytes(bytes.fromhex(public_hex))))
    return ring


def error_code(fn: Any) -> str | None:
    try:
        fn()
    except InvalidInputError as exc:
        return exc.code
    return None


@pytest.mark.parametrize("v", load("canonical"), ids=ids(load("canonical")))
def test_canonical(v: dict[str, Any]) -> None:
    if v.get("valid", True):
        value = from_json(v["value"])
        assert canonical.encode(value).hex() == v["canonical_hex"]
        assert canonical.decode(bytes.fromhex(v["canonical_hex"])) == value
    else:
        assert error_code(lambda: canonical.decode(bytes.fromhex(v["input_hex"]))) == v["error"]


@pytest.mark.parametrize("v", load("envelopes"), ids=ids(load("envelopes")))
def test_envelopes(v: dict[str, Any]) -> None:
    ring = ring_for(v["public_key_hex"])
    if v.get("valid", True):
        key = SigningKey.from_seed(bytes.fromhex(v["seed_hex"]))
        assert key.public_bytes.hex() == v["public_key_hex"] and key.kid == v["kid"]
        entry = decode_entry(bytes.fromhex(v["canonical_hex"]))
        verify(entry, ring)
        assert entry.header_bytes.hex() == v["header_hex"]
        assert entry.signed_bytes.hex() == v["signed_bytes_hex"] == (SIGNING_PREFIX + entry.header_bytes).hex()
        assert entry.signature.hex() == v["signature_hex"]
        assert entry.hash.hex() == v["entry_hash_hex"]
        header = from_json(v["value"]["header"])
        assert canonical.encode(header).hex() == v["header_hex"]
        if v["value"]["body"] is None:
            assert entry.body is None
            return
        assert entry.body is not None and entry.body.hex() == v["body_hex"]
        assert isinstance(header, dict)
        resigned = sign_entry(
            key,
            type=header["type"],  # type: ignore[arg-type]
            type_version=tuple(header["tv"]),  # type: ignore[arg-type]
            origin=header["origin"],  # type: ignore[arg-type]
            id=header["id"],  # type: ignore[arg-type]
            seq=header["seq"],  # type: ignore[arg-type]
            created=header["created"],  # type: ignore[arg-type]
            ts=header["ts"],  # type: ignore[arg-type]
            prev=header["prev"],  # type: ignore[arg-type]
            body=from_json(v["value"]["body"]),  # type: ignore[arg-type]
        )
        assert resigned.encode().hex() == v["canonical_hex"]
        check_body(entry)
    else:
        data = (
            bytes.fromhex(v["input_hex"])
            if v["input_hex"] is not None
            else b"\xc6" + (70000).to_bytes(4, "big") + bytes(70000)
        )
        assert error_code(lambda: verify(decode_entry(data), ring)) == v["error"]


@pytest.mark.parametrize("v", load("chains"), ids=ids(load("chains")))
def test_chains(v: dict[str, Any]) -> None:
    ring = ring_for(v["public_key_hex"], v["origin"])
    after = (v["after"][0], bytes.fromhex(v["after"][1])) if v["after"] else None

    def run() -> None:
        entries = [decode_entry(bytes.fromhex(h)) for h in v["entries_hex"]]
        for entry in entries:
            check_log_entry(entry)
        verify_chain(entries, ring, after)
        if "entry_hashes_hex" in v:
            assert [e.hash.hex() for e in entries] == v["entry_hashes_hex"]

    assert error_code(run) == (None if v["valid"] else v["error"])


@pytest.mark.parametrize("v", load("records"), ids=ids(load("records")))
def test_records(v: dict[str, Any]) -> None:
    body = from_json(v["value"])
    assert canonical.encode(body).hex() == v["canonical_hex"]

    def check() -> None:
        if v["type"] not in RECORD_TYPES:
            raise SchemaError("unknown record type")
        decoded = canonical.decode(bytes.fromhex(v["canonical_hex"]))
        assert isinstance(decoded, dict)
        RECORD_TYPES[v["type"]].validate(decoded, tuple(v["type_version"]), wire=True)

    assert error_code(check) == (None if v.get("valid", True) else v["error"])


@pytest.mark.parametrize("v", load("direct"), ids=ids(load("direct")))
def test_direct(v: dict[str, Any]) -> None:
    ring = ring_for(v["public_key_hex"], v["origin"])
    if v.get("valid", True):
        key = SigningKey.from_seed(bytes.fromhex(v["seed_hex"]))
        header = from_json(v["value"]["header"])
        body = from_json(v["value"]["body"])
        assert isinstance(header, dict) and isinstance(body, dict)
        entry = sign_entry(
            key,
            type=header["type"],  # type: ignore[arg-type]
            type_version=tuple(header["tv"]),  # type: ignore[arg-type]
            origin=header["origin"],  # type: ignore[arg-type]
            id=header["id"],  # type: ignore[arg-type]
            seq=header["seq"],  # type: ignore[arg-type]
            created=header["created"],  # type: ignore[arg-type]
            ts=header["ts"],  # type: ignore[arg-type]
            prev=header["prev"],  # type: ignore[arg-type]
            body=body,
            max_bytes=1_048_576,
        )
        assert entry.encode().hex() == v["canonical_hex"]
        record = open_direct(bytes.fromhex(v["canonical_hex"]), ring, to_node=v["to_node"])
        assert record.body == body
        return
    data = bytes.fromhex(v["input_hex"]) if v["input_hex"] else b"\x83\xa1b\xc6" + (1_100_000).to_bytes(4, "big")
    if not v["input_hex"]:
        data += bytes(1_100_000)
    assert error_code(lambda: open_direct(data, ring, to_node=v["to_node"])) == v["error"]


@pytest.mark.parametrize("v", load("requests"), ids=ids(load("requests")))
def test_requests(v: dict[str, Any]) -> None:
    ring = ring_for(v["public_key_hex"])
    if v.get("valid", True):
        key = SigningKey.from_seed(bytes.fromhex(v["seed_hex"]))
        headers = sign_request(
            key,
            method=v["method"],
            path=v["path"],
            origin=v["origin"],
            destination=v["destination"],
            time=v["time"],
            nonce=v["nonce"],
            body=bytes.fromhex(v["body_hex"]),
        )
        assert headers == v["headers"]
        parsed = parse_request_headers(headers)
        signed = request_signing_bytes(
            method=v["method"],
            path=v["path"],
            origin=parsed.origin,
            destination=parsed.destination,
            kid=parsed.kid,
            time=parsed.time,
            nonce=parsed.nonce,
            digest=parsed.digest,
        )
        assert signed.hex() == v["signed_bytes_hex"]
        now, destination, body = v["time"], v["destination"], bytes.fromhex(v["body_hex"])
    else:
        now, destination, body = v["now"], v["destination"], bytes.fromhex(v["body_hex"])

    def check() -> None:
        verify_request(
            parse_request_headers(v["headers"]),
            method=v["method"],
            path=v["path"],
            body=body,
            destination=destination,
            keys=ring,
            now=now,
        )

    assert error_code(check) == (None if v.get("valid", True) else v["error"])


@pytest.mark.parametrize("v", load("keys"), ids=ids(load("keys")))
def test_keys(v: dict[str, Any]) -> None:
    keys = OriginKeys(
        v["origin"],
        [
            KeyRecord(
                VerifyKey.from_bytes(bytes.fromhex(k["public_key_hex"])),
                not_before=k.get("not_before", 0),
                not_after=k.get("not_after"),
                revoked_at=k.get("revoked_at"),
            )
            for k in v["keys"]
        ],
    )

    def run() -> None:
        verify_history([decode_entry(bytes.fromhex(h)) for h in v["entries_hex"]], keys)

    assert error_code(run) == (None if v["valid"] else v["error"])
    if v["valid"]:
        windows = [
            {
                "kid": r.kid,
                "first_seq": r.info().first_seq,
                "last_seq": r.info().last_seq,
                "not_before": r.info().not_before,
                "not_after": r.info().not_after,
                "revoked_at": r.info().revoked_at,
            }
            for r in sorted(keys.records(), key=lambda r: r.kid)
        ]
        assert windows == v["windows"]


def test_every_record_type_and_error_code_has_a_vector() -> None:
    covered = {v["type"] for v in load("records") if v.get("valid", True)}
    assert covered == set(RECORD_TYPES)
    assert {v["type"] for v in load("records") if v.get("valid", True) and RECORD_TYPES[v["type"]].direct} == {
        name for name, t in RECORD_TYPES.items() if t.direct
    }
    names = ("canonical", "envelopes", "chains", "records", "direct", "requests", "keys")
    codes = {v["error"] for name in names for v in load(name) if "error" in v}
    assert {"malformed", "non_canonical", "too_large", "unsupported_version", "schema"} <= codes
    assert {"body_mismatch", "bad_signature", "unknown_key", "broken_link", "key_not_valid"} <= codes


def test_vectors_are_what_the_generator_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the implementation changes the wire, regenerating would change the files: catch that here."""
    from scripts import make_vectors

    monkeypatch.setattr(make_vectors, "OUT", tmp_path)
    make_vectors.main()
    for name in ("canonical", "envelopes", "chains", "records", "direct", "requests", "keys"):
        assert (tmp_path / f"{name}.json").read_text(encoding="utf-8") == (VECTORS / f"{name}.json").read_text(
            encoding="utf-8"
        ), f"{name}.json differs from what scripts/make_vectors.py produces"
