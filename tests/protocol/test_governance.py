"""Counting votes and checking certificates: the refusals the governance issue lists, and the rules."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import canonical
from protocol.envelope import Entry, KeyInfo, Keyring, sign_entry
from protocol.errors import BadSignatureError, UnknownKeyError
from protocol.governance import (
    DuplicateVoteError,
    InsufficientVotesError,
    LateVoteError,
    NotMemberError,
    Tally,
    WrongProposalError,
    check_certificate,
    electorate_for,
    encode_certificate,
    outcome,
)
from protocol.keys import SigningKey
from protocol.records import RECORD_TYPES

T0 = 1_790_000_000_000
DAY = 86_400_000
CHARTER = {
    "admission_rule": "majority",
    "suspension_rule": "majority",
    "expulsion_rule": "two_thirds",
    "charter_rule": "two_thirds",
    "recovery_rule": "majority",
    "voting_days": 14,
}
NODES = ("coopaname", "smart", "oxalis")
KEYS = {name: SigningKey.from_seed(bytes([i + 1]) * 32) for i, name in enumerate((*NODES, "intrus"))}


def ring() -> Keyring:
    r = Keyring()
    for name, key in KEYS.items():
        r.add(name, KeyInfo(key.verify_key))
    return r


def entry(origin: str, type_: str, record_id: str, body: dict[str, Any], ts: int = T0, seq: int = 1) -> Entry:
    return sign_entry(
        KEYS[origin],
        type=type_,
        type_version=RECORD_TYPES[type_].version,
        origin=origin,
        id=record_id,
        seq=seq,
        created=ts,
        ts=ts,
        prev=None if seq == 1 else b"\x00" * 32,
        body=body,
    )


def admission(deadline: int = T0 + 14 * DAY) -> Entry:
    return entry(
        "coopaname",
        "proposal",
        "p-scop-ti",
        {
            "kind": "admission",
            "subject": "scop-ti",
            "deadline": deadline,
            "candidate": {"url": "https://scop-ti.example", "display_name": "Scop-TI", "public_key": b"\x09" * 32},
        },
    )


def vote(origin: str, decision: str = "yes", ts: int = T0 + DAY, proposal: str = "coopaname/p-scop-ti") -> bytes:
    return entry(
        origin, "admission_vote", f"v-{origin}-{ts}", {"proposal": proposal, "decision": decision}, ts
    ).encode()


def check(votes: list[bytes], members: tuple[str, ...] = NODES, now: int = T0 + 2 * DAY) -> Any:
    cert = encode_certificate(admission().encode(), votes)
    return check_certificate(cert, keys=ring(), members=members, charter=CHARTER, now=now)


def test_a_majority_of_member_nodes_admits() -> None:
    decision = check([vote("coopaname"), vote("smart")])
    assert decision.result == "accepted" and decision.tally.count("yes") == 2


@pytest.mark.parametrize(
    ("votes", "error"),
    [
        ([vote("coopaname")], InsufficientVotesError),  # too few
        ([vote("coopaname"), vote("intrus")], NotMemberError),  # a vote from a non-member
        ([vote("coopaname"), vote("coopaname", ts=T0 + 2)], DuplicateVoteError),  # a duplicated vote
        ([vote("coopaname"), vote("smart", ts=T0 + 15 * DAY)], LateVoteError),  # a vote after the deadline
        ([vote("coopaname"), vote("smart", proposal="smart/other")], WrongProposalError),
        ([vote("coopaname"), vote("smart", decision="no"), vote("oxalis", decision="no")], InsufficientVotesError),
    ],
)
def test_refusals(votes: list[bytes], error: type[Exception]) -> None:
    with pytest.raises(error):
        check(votes)


def test_forged_votes_are_refused() -> None:
    forged = canonical.decode(vote("smart"))
    assert isinstance(forged, dict)
    sig = bytearray(forged["s"])  # type: ignore[arg-type]
    sig[3] ^= 1
    forged["s"] = bytes(sig)
    with pytest.raises(BadSignatureError):
        check([vote("coopaname"), canonical.encode(forged)])
    stranger = SigningKey.from_seed(b"\x77" * 32)
    e = sign_entry(
        stranger,
        type="admission_vote",
        type_version=(1, 0),
        origin="oxalis",
        id="v-forged",
        seq=1,
        created=T0,
        ts=T0,
        prev=None,
        body={"proposal": "coopaname/p-scop-ti", "decision": "yes"},
    )
    with pytest.raises(UnknownKeyError):
        check([vote("coopaname"), e.encode()])


def test_rules() -> None:
    electorate = frozenset(NODES)

    def t(**votes: str) -> Tally:
        return Tally(votes=dict(votes))

    assert outcome("majority", electorate, t(a="yes"), deadline=T0, now=T0) == "pending"
    assert outcome("majority", electorate, t(a="yes", b="yes"), deadline=T0, now=T0) == "accepted"
    assert outcome("majority", electorate, t(a="no", b="no"), deadline=T0, now=T0) == "rejected"
    assert outcome("majority", electorate, t(a="yes"), deadline=T0, now=T0 + 1) == "rejected"
    assert outcome("two_thirds", electorate, t(a="yes", b="yes"), deadline=T0, now=T0) == "accepted"
    assert outcome("unanimity", electorate, t(a="yes", b="yes"), deadline=T0, now=T0) == "pending"
    assert outcome("sponsors", electorate, t(a="yes", b="yes"), deadline=T0, now=T0, sponsors_required=2) == "pending"
    assert (
        outcome("sponsors", electorate, t(a="yes", b="yes"), deadline=T0, now=T0 + 1, sponsors_required=2) == "accepted"
    )
    assert outcome("sponsors", electorate, t(a="yes", b="no"), deadline=T0, now=T0 + 1) == "rejected"
    # the node a suspension is about does not vote on it
    assert electorate_for("suspension", "oxalis", NODES) == {"coopaname", "smart"}
    assert electorate_for("charter", "coopaname", NODES) == set(NODES)


def leave(origin: str, subject: str) -> Entry:
    body = {"kind": "leave", "subject": subject, "deadline": T0 + DAY, "text": "Nous partons."}
    return entry(origin, "proposal", f"leave-{subject}", body)


def test_a_coop_leaves_by_its_own_notice_with_no_vote() -> None:
    notice = leave("oxalis", "oxalis")
    decision = check_certificate(
        encode_certificate(notice.encode(), []), keys=ring(), members=NODES, charter=CHARTER, now=T0 + 1
    )
    assert decision.result == "accepted" and decision.tally.votes == {}
    # a leave proposed by another coop is put to the vote like the others
    other = leave("coopaname", "oxalis")
    with pytest.raises(InsufficientVotesError):
        check_certificate(encode_certificate(other.encode(), []), keys=ring(), members=NODES, charter=CHARTER, now=T0)
    ref = "coopaname/leave-oxalis"
    votes = [vote(o, proposal=ref, ts=T0 + 1) for o in ("coopaname", "smart")]
    decided = check_certificate(
        encode_certificate(other.encode(), votes), keys=ring(), members=NODES, charter=CHARTER, now=T0 + 2
    )
    assert decided.result == "accepted"
    # a notice signed by someone else than it names is not the subject's: forged, it is refused
    forged = canonical.decode(leave("smart", "smart").encode())
    assert isinstance(forged, dict)
    forged["s"] = KEYS["intrus"].sign(b"x")
    with pytest.raises(BadSignatureError):
        check_certificate(
            encode_certificate(canonical.encode(forged), []), keys=ring(), members=NODES, charter=CHARTER, now=T0
        )
