"""Key windows bounded by chain position, the hand-over, revocations, rollback and fork repair authority."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import (
    KeyRecord,
    OriginKeys,
    SigningKey,
    check_repair,
    decode_entry,
    handover_bytes,
    repair_authority,
    sign_entry,
    sign_handover,
    verify,
    verify_history,
)
from protocol.canonical import Value
from protocol.envelope import Entry
from protocol.errors import BadSignatureError, KeyNotValidError, MalformedError, UnknownKeyError
from protocol.keystate import NETWORK_AUTHORITY, NO_AUTHORITY, ORIGIN_AUTHORITY
from protocol.records import RECORD_TYPES

from .conftest import T0

A = SigningKey.from_seed(b"\x0a" * 32)
B = SigningKey.from_seed(b"\x0b" * 32)
T = SigningKey.from_seed(b"\x0c" * 32)


class Log:
    """An origin's log being written, entry by entry, with whatever key each entry says."""

    def __init__(self, origin: str = "coopaname") -> None:
        self.origin = origin
        self.entries: list[Entry] = []

    @property
    def head(self) -> tuple[int, bytes | None]:
        return (self.entries[-1].header.seq, self.entries[-1].hash) if self.entries else (0, None)

    def add(self, key: SigningKey, type_: str = "profile", body: dict[str, Any] | None = None, **kw: Any) -> Entry:
        seq, prev = kw.pop("at", None) or self.head
        entry = sign_entry(
            key,
            type=type_,
            type_version=RECORD_TYPES[type_].version,
            origin=self.origin,
            id=kw.pop("id", "node" if type_ == "node" else f"r-{seq + 1}"),
            seq=seq + 1,
            created=T0,
            ts=kw.pop("ts", T0 + (seq + 1) * 1000),
            prev=prev,
            body=body if body is not None else {"display_name": f"Membre {seq + 1}"},
        )
        if kw.pop("keep", True):
            self.entries.append(entry)
        return entry

    def document(self, keys: list[SigningKey], **extra: Any) -> dict[str, Any]:
        return {
            "name": self.origin,
            "display_name": "Coopaname",
            "url": "https://coopaname.example",
            "keys": [{"kid": k.kid, "public_key": k.public_bytes, "not_before": 0} for k in keys],
            **extra,
        }

    def hand_over(self, old: SigningKey, new: SigningKey, **kw: Any) -> Entry:
        seq, prev = self.head
        cross = sign_handover(
            old, origin=self.origin, seq=kw.pop("for_seq", seq + 1), prev=prev, new_key=new.public_bytes
        )
        return self.add(new, "node", self.document([old, new], handover=cross), **kw)

    def revoke(self, signer: SigningKey, revoked: SigningKey, at: int | None = None) -> Entry:
        body = {"kid": revoked.kid, "revoked_at": at or T0 + 500_000, "reason": "compromised"}
        return self.add(signer, "key_revocation", body, id=f"rev-{revoked.kid}")


def anchored(*keys: SigningKey) -> OriginKeys:
    return OriginKeys("coopaname", [KeyRecord(k.verify_key) for k in keys])


def test_the_hand_over_is_checked_with_the_old_key_and_stops_it_before_its_seq() -> None:
    log = Log()
    log.add(A, "node", log.document([A]))
    log.add(A)
    handover = log.hand_over(A, B)
    log.add(B)
    keys = anchored(A)
    verify_history(log.entries, keys)
    old, new = keys.resolve("coopaname", A.kid), keys.resolve("coopaname", B.kid)
    assert (old.last_seq, old.not_after, new.first_seq) == (2, handover.header.ts, 3)
    assert keys.record(B.kid).parent == A.kid  # type: ignore[union-attr]
    # the old key, after: refused whatever the date it signs
    late = log.add(A, ts=T0, keep=False)
    with pytest.raises(KeyNotValidError, match="signs nothing after seq 2"):
        verify(late, keys)
    # the new key, before: refused
    early = Log()
    early.add(B, "node", early.document([B]))
    with pytest.raises(KeyNotValidError, match="signs from seq 3"):
        verify(early.entries[0], keys)


def test_a_hand_over_statement_binds_the_position_the_old_key_and_the_new_key() -> None:
    log = Log()
    log.add(A, "node", log.document([A]))
    seq, prev = log.head
    keys = anchored(A)
    verify_history(log.entries, keys)
    elsewhere = log.hand_over(A, B, for_seq=seq + 5, keep=False)
    with pytest.raises(BadSignatureError):
        verify(elsewhere, keys)
    by_a_stranger = log.hand_over(T, B, keep=False)
    with pytest.raises(UnknownKeyError):
        verify(by_a_stranger, keys)
    to_another_key = log.add(
        B,
        "node",
        log.document(
            [A, B], handover=sign_handover(A, origin="coopaname", seq=seq + 1, prev=prev, new_key=T.public_bytes)
        ),
        keep=False,
    )
    with pytest.raises(BadSignatureError):  # the old key handed over to T, not to B that signed the entry
        verify(to_another_key, keys)
    erased = log.hand_over(A, B, keep=False).erased()  # without its body a hand-over proves nothing
    with pytest.raises(UnknownKeyError):
        verify(erased, keys)
    assert handover_bytes(origin="coopaname", seq=2, prev=prev, new_key=B.public_bytes).startswith(
        b"bigre-handover-v1\x00"
    )
    revoked = anchored(A)
    revoked.record(A.kid).narrow(0, "revoked_at", T0 + 10**9)  # type: ignore[union-attr]
    with pytest.raises(KeyNotValidError, match="revoked"):
        verify(log.hand_over(A, B, keep=False), revoked)


def test_the_rotation_of_version_1_0_documents_still_works_and_is_bounded_too() -> None:
    log = Log()
    log.add(A, "node", log.document([A]))
    doc = log.document([A, B])
    doc["keys"][0]["not_after"] = T0 + 2500  # signed by A: closes A, adds B
    log.add(A, "node", doc)
    log.add(B)
    keys = anchored(A)
    verify_history(log.entries, keys)
    assert keys.resolve("coopaname", A.kid).last_seq == 2  # it signed the document: up to it
    assert keys.resolve("coopaname", B.kid).first_seq == 3
    with pytest.raises(KeyNotValidError, match="signs nothing after seq 2"):
        verify(log.add(A, ts=T0, keep=False), keys)


def test_a_revocation_stops_the_key_at_its_seq_whatever_date_the_thief_signs() -> None:
    log = Log()
    log.add(A, "node", log.document([A, B]))  # two keys open (as nodes of version 1.0 did)
    log.add(A)
    log.revoke(B, A, at=T0 + 10**9)  # revoked "from the future": the time window alone would let A sign on
    keys = anchored(A)
    verify_history(log.entries, keys)
    info = keys.resolve("coopaname", A.kid)
    assert info.revoked and info.last_seq == 2
    with pytest.raises(KeyNotValidError, match="signs nothing after seq 2"):
        verify(log.add(A, keep=False), keys)


def test_rollback_gives_the_state_at_an_earlier_position_exactly() -> None:
    log = Log()
    log.add(A, "node", log.document([A]))
    log.add(A)
    log.hand_over(A, B)
    log.revoke(B, A)
    keys = anchored(A)
    verify_history(log.entries, keys)
    before = keys.rollback(2)
    assert B.kid not in before and before.resolve("coopaname", A.kid).last_seq is None
    assert not before.resolve("coopaname", A.kid).revoked
    assert keys.rollback(3).resolve("coopaname", A.kid).last_seq == 2
    assert not keys.rollback(3).resolve("coopaname", A.kid).revoked
    # applying an entry again changes nothing (a replay at start-up)
    for entry in log.entries:
        assert not keys.apply(entry, decode_entry(entry.encode()).body_value())


def test_a_key_recovery_revokes_the_others_and_survives_rollback() -> None:
    keys = anchored(A)
    assert keys.recover(B.public_bytes, T0 + 5)
    assert keys.resolve("coopaname", A.kid).revoked_at == T0 + 5
    recovered = keys.rollback(0)
    assert recovered.record(B.kid).recovered_at == T0 + 5  # type: ignore[union-attr]
    assert recovered.resolve("coopaname", A.kid).revoked


def test_the_authority_of_a_fork_repair() -> None:
    log = Log()
    log.add(A, "node", log.document([A]))
    base = anchored(A)
    verify_history(log.entries, base)
    branch = base.copy()
    verify_history([log.hand_over(A, B)], branch, (1, log.entries[0].hash))
    current = base.copy()
    assert repair_authority(branch, A.kid, base, current) == ORIGIN_AUTHORITY
    assert repair_authority(branch, B.kid, base, current) == ORIGIN_AUTHORITY  # through A, not revoked here
    current.record(A.kid).narrow(3, "revoked_at", T0)  # type: ignore[union-attr]
    assert repair_authority(branch, B.kid, base, current) == NO_AUTHORITY  # the receiver's chain revoked A
    assert repair_authority(branch, T.kid, base, current) == NO_AUTHORITY
    current.recover(B.public_bytes, T0 + 1)
    branch.recover(B.public_bytes, T0 + 1)
    assert repair_authority(branch, B.kid, base, current) == NETWORK_AUTHORITY


def test_a_fork_repair_names_an_earlier_entry_of_its_own_chain() -> None:
    log = Log()
    first = log.add(A, "node", log.document([A]))
    good: dict[str, Value] = {"seq": 1, "hash": first.hash, "reason": "restored"}
    repair = log.add(A, "fork_repair", good, id="repair-1")
    assert check_repair(repair, good, first.hash) == (1, first.hash)
    with pytest.raises(MalformedError, match="names entry"):
        check_repair(repair, good, b"\x01" * 32)
    with pytest.raises(MalformedError, match="earlier seq"):
        check_repair(repair, {**good, "seq": 2}, first.hash)
