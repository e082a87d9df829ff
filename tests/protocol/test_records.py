"""Record schemas: every type, the limits, and the versioning rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import canonical
from protocol.envelope import Keyring, decode_entry, sign_entry
from protocol.errors import NonCanonicalError, SchemaError, UnsupportedVersionError
from protocol.keys import SigningKey
from protocol.records import PROFILE, RECORD_TYPES, check_body, open_record, open_run

from .conftest import T0, make_chain


def signed(key: SigningKey, type_: str, body: dict[str, Any], tv: tuple[int, int] | None = None, id_: str = "r1"):
    return sign_entry(
        key,
        type=type_,
        type_version=tv or RECORD_TYPES[type_].version,
        origin="coopaname",
        id=id_,
        seq=1,
        created=T0,
        ts=T0,
        prev=None,
        body=body,
    )


def test_open_record_runs_the_whole_pipeline(key: SigningKey, ring: Keyring) -> None:
    e = signed(key, "offer", {"purpose": "offer", "title": "Atelier partagé à Montreuil", "status": "open"})
    record = open_record(e.encode(), ring)
    assert (record.type, record.origin, record.id, record.seq) == ("offer", "coopaname", "r1", 1)
    assert record.body == {"purpose": "offer", "status": "open", "title": "Atelier partagé à Montreuil"}


def test_open_run(key: SigningKey, ring: Keyring) -> None:
    records = open_run([e.encode() for e in make_chain(key, 6)], ring)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("type_", "body", "fragment"),
    [
        ("offer", {"purpose": "offer", "status": "open"}, "offer.title: is required"),
        ("profile", {"trades": [{"label": "x", "rome": "H22"}]}, r"profile.trades\[0\].rome: does not match"),
        ("profile", {"place": {"lat_e6": 1.5}}, "profile.place.lat_e6: must be an integer"),
        ("profile", {"availability": {"days_per_week": 8}}, "days_per_week: must be within 0..7"),
        ("profile", {"links": ["ftp://x"]}, r"links\[0\]"),
        ("profile", {"bio": None}, "bio: must be a string"),
        ("event", {"kind": "party", "title": "x", "start": 0}, "event.kind: must be one of"),
        ("node", {"name": "X", "display_name": "X", "url": "https://x"}, "node.name: does not match"),
        ("key_revocation", {"kid": "0" * 16, "revoked_at": 1, "reason": "oops"}, "reason"),
        ("tombstone", {"target_type": "offer", "reason": "deleted", "forward": "no-slash"}, "forward"),
        ("help_answer", {"request": "smart/h1"}, "text: is required"),
        ("admission_vote", {"proposal": "smart/p-1", "decision": "maybe"}, "decision"),
        ("mentoring", {"kind": "offer", "member": "m", "status": "open", "topics": ["x"] * 11}, "more than 10"),
        ("help_request", {"topic": "t", "status": "open", "needed_by": "2027-13-01"}, "needed_by"),
    ],
)
def test_schema_errors_name_the_field(type_: str, body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SchemaError, match=fragment):
        RECORD_TYPES[type_].validate(body)


def test_newer_minor_fields_survive_a_round_trip(key: SigningKey, ring: Keyring) -> None:
    body = {"display_name": "Awa", "pronouns": "elle", "portfolio": {"items": [1, 2]}}
    e = signed(key, "profile", body, tv=(1, 4))
    record = open_record(e.encode(), ring)
    assert record.body == body
    relayed = decode_entry(record.entry.encode())  # what a relay stores and forwards: the same bytes
    assert relayed.body == e.body
    # the same unknown fields under the version this node speaks are refused
    with pytest.raises(SchemaError, match="not a field of this version"):
        open_record(signed(key, "profile", body).encode(), ring)
    with pytest.raises(UnsupportedVersionError):
        open_record(signed(key, "profile", {}, tv=(2, 0)).encode(), ring)


def test_non_canonical_body_is_refused_even_when_signed(key: SigningKey, ring: Keyring) -> None:
    import hashlib

    import msgpack

    body = msgpack.packb({"skills": ["a"], "display_name": "x"}, use_bin_type=True)  # keys out of order
    e = signed(key, "profile", {})
    header = canonical.decode(e.header_bytes)
    assert isinstance(header, dict)
    header["bh"] = hashlib.sha256(body).digest()
    hb = canonical.encode(header)
    data = canonical.encode({"b": body, "h": hb, "s": key.sign(b"bigre-entry-v1\x00" + hb)})
    with pytest.raises(NonCanonicalError):
        open_record(data, ring)


def test_fixed_ids_and_unknown_types(key: SigningKey) -> None:
    doc = {"name": "coopaname", "display_name": "Coopaname", "url": "https://coopaname.example"}
    with pytest.raises(SchemaError, match="always has id 'node'"):
        check_body(signed(key, "node", doc, id_="other"))
    check_body(signed(key, "node", doc, id_="node"))
    with pytest.raises(SchemaError, match="unknown record type"):
        check_body(signed(key, "gossip", {}, tv=(1, 0)))


def test_every_type_has_docs_and_limits() -> None:
    for record_type in RECORD_TYPES.values():
        for field in record_type.fields:
            assert field.describe()
            if field.kind in ("str", "list"):
                assert field.max_len > 0, f"{record_type.name}.{field.name} has no ceiling"


profiles = st.fixed_dictionaries(
    {},
    optional={
        "display_name": st.text(max_size=130),
        "skills": st.lists(st.text(max_size=70), max_size=35),
        "languages": st.lists(st.from_regex(r"[a-z]{1,4}", fullmatch=True), max_size=3),
        "availability": st.fixed_dictionaries(
            {},
            optional={"days_per_week": st.integers(-2, 9), "from": st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True)},
        ),
        "stage": st.sampled_from(["starting", "established", "retired"]),
        "place": st.fixed_dictionaries({}, optional={"lat_e6": st.integers(-100_000_000, 100_000_000)}),
    },
)


@given(profiles)
def test_fast_and_precise_validators_agree(body: dict[str, Any]) -> None:
    fast = PROFILE._accepts(body, False, False)
    try:
        PROFILE._validate(body, False, False)
        precise = True
    except Exception:
        precise = False
    assert fast == precise
