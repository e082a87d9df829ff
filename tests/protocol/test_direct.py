"""Direct records (docs/PROTOCOL.md §8.1): typed schemas, the rules every direct type shares, the larger limit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import canonical
from protocol.envelope import MAX_DIRECT_ENVELOPE_BYTES, MAX_ENVELOPE_BYTES, Keyring, decode_entry, sign_entry
from protocol.errors import (
    BadSignatureError,
    LocalProtocolError,
    MalformedError,
    SchemaError,
    TooLargeError,
)
from protocol.keys import SigningKey
from protocol.records import (
    DIRECT_TYPES,
    MEMBER_MOVE,
    RECORD_TYPES,
    Field,
    RecordType,
    check_body,
    open_direct,
    open_record,
    open_run,
    sign_direct,
)

from .conftest import T0, make_chain

MESSAGE = {"to_node": "smart", "to_member": "m-karim", "from_member": "m-amelie", "text": "Bonjour"}


def _note(i: int, chars: int) -> dict[str, Any]:
    return {"id": f"n-{i}", "at": T0 + i, "text": "é" * chars}


def _case(notes: int, chars: int = 4000) -> dict[str, Any]:
    stages = {}
    for s, name in enumerate(("emergence", "feasibility", "statutes")):
        stages[name] = {"notes": [_note(s * 100 + i, chars) for i in range(notes)]}
    return {
        "to_node": "smart",
        "case_origin": "coopaname",
        "case_id": "c-1",
        "title": "Boulangerie",
        "stage": "emergence",
        "origin_kind": "new_creation",
        "target_form": "scop",
        "stages": stages,
        "created_at": T0,
        "updated_at": T0,
        "updated_by": "coopaname",
        "retention_until": T0 + 1,
    }


def test_every_direct_type_declares_its_destination() -> None:
    assert {"message", "member_move", "case_share", "event_registration"} <= DIRECT_TYPES
    for name in DIRECT_TYPES:
        to_node = next(f for f in RECORD_TYPES[name].fields if f.name == "to_node")
        assert to_node.required and to_node.kind == "str"
    with pytest.raises(ValueError, match="must declare a required to_node"):
        RecordType("gossip", (1, 0), (Field("text", "str", max_len=10),), direct=True)
    assert not {"profile", "offer", "node", "tombstone"} & DIRECT_TYPES


def test_sign_direct_applies_the_rules(key: SigningKey, ring: Keyring) -> None:
    entry = sign_direct(key, type="message", origin="coopaname", id="m-1", now=T0, body=MESSAGE)
    assert (entry.header.seq, entry.header.prev, entry.header.created, entry.header.ts) == (1, None, T0, T0)
    record = open_direct(entry.encode(), ring, to_node="smart")
    assert (record.type, record.origin, record.id, record.body) == ("message", "coopaname", "m-1", MESSAGE)
    with pytest.raises(LocalProtocolError, match="not a direct record type"):
        sign_direct(key, type="offer", origin="coopaname", id="o-1", now=T0, body={})
    with pytest.raises(SchemaError, match=r"message\.text: is required"):
        body = {k: v for k, v in MESSAGE.items() if k != "text"}
        sign_direct(key, type="message", origin="coopaname", id="m-2", now=T0, body=body)


def test_a_direct_record_is_for_its_destination_only(key: SigningKey, ring: Keyring) -> None:
    blob = sign_direct(key, type="message", origin="coopaname", id="m-1", now=T0, body=MESSAGE).encode()
    with pytest.raises(MalformedError, match=r"addressed to 'smart', not to 'oxalis'"):
        open_direct(blob, ring, to_node="oxalis")


def _signed(key: SigningKey, type_: str, body: dict[str, Any], seq: int = 1) -> bytes:
    return sign_entry(
        key,
        type=type_,
        type_version=(1, 0),
        origin="coopaname",
        id="x-1",
        seq=seq,
        created=T0,
        ts=T0,
        prev=None if seq == 1 else bytes(32),
        body=body,
    ).encode()


def test_log_types_are_refused_on_the_direct_path(key: SigningKey, ring: Keyring) -> None:
    offer = _signed(key, "offer", {"purpose": "offer", "title": "Atelier", "status": "open"})
    with pytest.raises(SchemaError, match="not a direct record"):
        open_direct(offer, ring, to_node="smart")


def test_a_direct_record_is_never_part_of_a_log(key: SigningKey, ring: Keyring) -> None:
    chain = make_chain(key, 2)
    with pytest.raises(SchemaError, match="its seq is always 1"):
        open_direct(_signed(key, "message", MESSAGE, seq=2), ring, to_node="smart")
    with pytest.raises(SchemaError, match="its seq is always 1"):
        open_record(_signed(key, "message", MESSAGE, seq=2), ring)
    lone = sign_direct(key, type="message", origin="coopaname", id="m-1", now=T0, body=MESSAGE)
    with pytest.raises(SchemaError, match="never part of a log"):
        open_run([lone.encode()], ring)
    inside = sign_entry(
        key,
        type="case_withdrawal",
        type_version=(1, 0),
        origin="coopaname",
        id="w-1",
        seq=3,
        created=T0,
        ts=T0,
        prev=chain[-1].hash,
        body={"to_node": "smart", "case_id": "c-1"},
    )
    with pytest.raises(SchemaError, match="never part of a log"):
        open_run([*(e.encode() for e in chain), inside.encode()], ring)


def test_an_erased_or_tampered_direct_record_is_refused(key: SigningKey, ring: Keyring) -> None:
    entry = sign_direct(key, type="message", origin="coopaname", id="m-1", now=T0, body=MESSAGE)
    with pytest.raises(MalformedError, match="always carries its body"):
        open_direct(entry.erased().encode(), ring, to_node="smart")
    outer = canonical.decode(entry.encode())
    assert isinstance(outer, dict) and isinstance(outer["s"], bytes)
    forged = canonical.encode({**outer, "s": bytes(64)})
    with pytest.raises(BadSignatureError):
        open_direct(forged, ring, to_node="smart")


def test_direct_envelopes_may_be_larger_than_log_envelopes(key: SigningKey, ring: Keyring) -> None:
    body = _case(notes=8)  # 3 stages x 8 notes x 4,000 "é" (2 bytes each): about 190 KB
    entry = sign_direct(key, type="case_share", origin="coopaname", id="c-1", now=T0, body=body)
    blob = entry.encode()
    assert MAX_ENVELOPE_BYTES < len(blob) < MAX_DIRECT_ENVELOPE_BYTES
    assert open_direct(blob, ring, to_node="smart").body == body
    with pytest.raises(TooLargeError):
        decode_entry(blob)  # as a log entry: over the 64 KiB limit
    with pytest.raises(LocalProtocolError, match="too large"):
        sign_entry(
            key,
            type="case_share",
            type_version=(1, 0),
            origin="coopaname",
            id="c-1",
            seq=1,
            created=T0,
            ts=T0,
            prev=None,
            body=body,
        )


def test_the_direct_limit_holds(key: SigningKey, ring: Keyring) -> None:
    body = _case(notes=100)  # 3 x 100 x 8,000 bytes: 2.4 MB, within every per-field limit
    RECORD_TYPES["case_share"].validate(body)
    with pytest.raises(LocalProtocolError, match="too large"):
        sign_direct(key, type="case_share", origin="coopaname", id="c-1", now=T0, body=body)
    huge = b"\x83\xa1b\xc6" + (MAX_DIRECT_ENVELOPE_BYTES + 1).to_bytes(4, "big") + bytes(MAX_DIRECT_ENVELOPE_BYTES + 1)
    with pytest.raises(TooLargeError):
        open_direct(huge, ring, to_node="smart")


@pytest.mark.parametrize(
    ("type_", "body", "fragment"),
    [
        ("member_move", {"to_node": "a", "move": "m", "member": "m", "display_name": "A"}, "email: is required"),
        (
            "member_move",
            {
                "to_node": "a",
                "move": "m",
                "member": "m",
                "email": "a@b.c",
                "display_name": "A",
                "offers": [{"id": "o"}],
            },
            "offers[0].fields: is required",
        ),
        (
            "member_move",
            {
                "to_node": "a",
                "move": "m",
                "member": "m",
                "email": "a@b.c",
                "display_name": "A",
                "visibility": {"bio": "private"},
            },
            "visibility.bio: must be one of coop, network, public",
        ),
        ("member_move_acceptance", {"to_node": "a", "move": "m", "member": "n", "records": [{"old": "x"}]}, "new"),
        ("case_share", {**_case(0), "group": [{"name": "x"}] * 51}, "group: more than 50 items"),
        ("case_share", {**_case(0), "stages": {"emergence": {"planned": "2027-02-30"}}}, "not a calendar date"),
        ("case_withdrawal", {"to_node": "a"}, "case_id: is required"),
        (
            "event_registration",
            {"to_node": "a", "action": "book", "event": "e", "member": "m", "name": "A", "at": 1},
            "action: must be one of register, cancel",
        ),
        (
            "event_registration_answer",
            {"to_node": "a", "event": "e", "member": "m", "request": "r", "status": "maybe"},
            "status: must be one of",
        ),
    ],
)
def test_direct_schemas_name_the_field(type_: str, body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SchemaError) as info:
        RECORD_TYPES[type_].validate(body)
    assert fragment in str(info.value)


# ------------------------------------------------------------------------------------- generated bodies


def _value(f: Field) -> st.SearchStrategy[Any]:
    """Any value that fits ``f`` (lists kept short so examples stay quick)."""
    if f.kind == "str":
        if f.pattern:
            return st.from_regex(f"(?:{f.pattern})", fullmatch=True).filter(lambda s: len(s) <= f.max_len)
        return st.text(max_size=min(f.max_len, 40))
    if f.kind == "int":
        return st.integers(f.min if f.min is not None else -(2**63), f.max if f.max is not None else 2**63 - 1)
    if f.kind == "bool":
        return st.booleans()
    if f.kind == "enum":
        return st.sampled_from(f.choices)
    if f.kind == "date":
        return st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)).map(lambda d: d.isoformat())
    if f.kind == "bytes":
        return st.binary(min_size=f.max_len, max_size=f.max_len)
    if f.kind == "list":
        assert f.item is not None
        return st.lists(_value(f.item), max_size=min(f.max_len, 2))
    return _map(f.fields)


def _map(fields: tuple[Field, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {f.name: _value(f) for f in fields if f.required},
        optional={f.name: _value(f) for f in fields if not f.required},
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],  # key and ring are constant
)
@given(st.data())
def test_every_direct_type_round_trips(key: SigningKey, ring: Keyring, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(DIRECT_TYPES)))
    record_type = RECORD_TYPES[name]
    body = data.draw(_map(record_type.fields))
    entry = sign_direct(key, type=name, origin="coopaname", id="d-1", now=T0, body=body)
    record = open_direct(entry.encode(), ring, to_node=body["to_node"])
    assert record.body == body and record.type == name
    assert check_body(decode_entry(entry.encode(), max_bytes=MAX_DIRECT_ENVELOPE_BYTES)) == body


moves = _map(MEMBER_MOVE.fields)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moves, st.sampled_from(["email", "offers", "visibility", "profile"]), st.integers(0, 3))
def test_fast_and_precise_validators_agree_on_moves(body: dict[str, Any], field: str, spoil: int) -> None:
    """The generated acceptor and the compiled checks say the same of valid and spoiled bodies."""
    if spoil == 1:
        body = {**body, field: 7}
    elif spoil == 2:
        body = {k: v for k, v in body.items() if k != field}
    fast = MEMBER_MOVE._accepts(body, False, False)
    try:
        MEMBER_MOVE._validate(body, False, False)
        precise = True
    except Exception:
        precise = False
    assert fast == precise
