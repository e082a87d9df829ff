"""Network decisions: counting votes under the charter, and certificates any node can check alone.

Bigre is a democratic network: admissions, suspensions, expulsions, charter changes and key recoveries are
``proposal`` records decided by ``admission_vote`` records of the member nodes. Every node counts the votes it
holds with :func:`tally` and :func:`outcome`, so all nodes reach the same result from the same records, and a
**certificate** (the proposal and its votes, as signed entries) lets a node that lacks the history — a newcomer
first of all — check a decision by itself (:func:`check_certificate`).

Counting rules (docs/PROTOCOL.md §15): the electorate is the set of member nodes when the proposal was made,
without the node the proposal is about; each member votes once (a second vote is refused), only votes signed
before the deadline count, and votes of non-members are refused. ``majority`` needs more than half of the
electorate voting yes; ``two_thirds`` at least two thirds; ``unanimity`` everybody; ``sponsors`` k yes votes and no
veto (no "no" vote) until the deadline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from . import canonical
from .envelope import Entry, KeyResolver
from .errors import InvalidInputError, MalformedError
from .records import open_record

Result = Literal["accepted", "rejected", "pending"]
CERTIFICATE_VERSION: Final = 1

#: Which charter rule decides each kind of proposal.
RULE_FOR_KIND: Final[dict[str, str]] = {
    "admission": "admission_rule",
    "suspension": "suspension_rule",
    "expulsion": "expulsion_rule",
    "reinstatement": "suspension_rule",
    "leave": "majority",  # a leave proposed by another coop; the leaver's own notice needs no vote (is_own_notice)
    "charter": "charter_rule",
    "key_recovery": "recovery_rule",
}


class GovernanceError(InvalidInputError):
    code = "governance"
    status = 422


class NotMemberError(GovernanceError):
    code = "not_member"


class DuplicateVoteError(GovernanceError):
    code = "duplicate_vote"


class LateVoteError(GovernanceError):
    code = "late_vote"


class WrongProposalError(GovernanceError):
    code = "wrong_proposal"


class InsufficientVotesError(GovernanceError):
    code = "insufficient_votes"


@dataclass(frozen=True, slots=True)
class Refusal:
    voter: str
    reason: str
    code: str


@dataclass(slots=True)
class Tally:
    votes: dict[str, str] = field(default_factory=dict)  # voter -> yes | no | abstain
    refused: list[Refusal] = field(default_factory=list)

    def count(self, decision: str) -> int:
        return sum(1 for d in self.votes.values() if d == decision)


def proposal_ref(entry: Entry) -> str:
    return f"{entry.header.origin}/{entry.header.id}"


def electorate_for(kind: str, subject: str, members: Iterable[str]) -> frozenset[str]:
    """Who votes: the member nodes, without the node the proposal is about (it does not judge itself)."""
    return frozenset(m for m in members if not (m == subject and kind != "charter"))


def rule_for(kind: str, charter: Mapping[str, object]) -> str:
    name = RULE_FOR_KIND[kind]
    rule = charter.get(name, name) if name.endswith("_rule") else name
    if not isinstance(rule, str):
        raise MalformedError(f"the charter has no valid {name}")
    return rule


def tally(
    proposal: Entry, deadline: int, votes: Iterable[tuple[Entry, Mapping[str, object]]], electorate: frozenset[str]
) -> Tally:
    """Count verified vote entries (with their bodies) for ``proposal``; refusals are kept with their reason."""
    ref = proposal_ref(proposal)
    result = Tally()
    for entry, body in sorted(votes, key=lambda pair: (pair[0].header.ts, pair[0].header.origin, pair[0].header.seq)):
        voter = entry.header.origin
        if body.get("proposal") != ref:
            result.refused.append(Refusal(voter, f"vote for {body.get('proposal')}, not {ref}", "wrong_proposal"))
        elif voter not in electorate:
            result.refused.append(Refusal(voter, f"{voter} may not vote on {ref}", "not_member"))
        elif voter in result.votes:
            result.refused.append(Refusal(voter, f"{voter} already voted on {ref}", "duplicate_vote"))
        elif entry.header.ts > deadline:
            result.refused.append(Refusal(voter, f"vote of {voter} signed after the deadline", "late_vote"))
        else:
            result.votes[voter] = str(body.get("decision"))
    return result


def outcome(
    rule: str, electorate: frozenset[str], t: Tally, *, deadline: int, now: int, sponsors_required: int = 1
) -> Result:
    """The result of a count at time ``now``: decided as soon as it cannot change, else at the deadline."""
    n = len(electorate)
    yes, no = t.count("yes"), t.count("no")
    if rule == "sponsors":
        if no > 0:
            return "rejected"  # a veto
        if now <= deadline:
            return "pending"
        return "accepted" if yes >= sponsors_required else "rejected"
    need = {"majority": n // 2 + 1, "two_thirds": math.ceil(2 * n / 3), "unanimity": n}.get(rule)
    if need is None:
        raise MalformedError(f"unknown voting rule {rule!r}")
    need = max(need, 1)
    if yes >= need:
        return "accepted"
    undecided = n - len(t.votes)
    if yes + undecided < need or now > deadline:
        return "rejected"
    return "pending"


# ------------------------------------------------------------------------------------------- certificates


def encode_certificate(proposal: bytes, votes: Iterable[bytes]) -> bytes:
    return canonical.encode({"proposal": proposal, "v": CERTIFICATE_VERSION, "votes": list(votes)})


@dataclass(frozen=True, slots=True)
class CheckedDecision:
    proposal: Entry
    body: dict[str, canonical.Value]
    tally: Tally
    result: Result


def is_own_notice(kind: str, subject: str, proposer: str) -> bool:
    """A ``leave`` proposal whose subject is the coop that signed it is that coop's own notice: leaving is its
    decision alone, so it takes effect as soon as it is held, with no vote (docs/PROTOCOL.md, ``proposal``)."""
    return kind == "leave" and subject == proposer


def decide(
    kind: str,
    charter: Mapping[str, object],
    electorate: frozenset[str],
    t: Tally,
    *,
    deadline: int,
    now: int,
    subject: str | None = None,
    proposer: str | None = None,
) -> Result:
    """:func:`outcome` under the charter's rule for this kind of proposal (and its ``sponsors_required``); a
    coop's own leave notice (``subject`` == ``proposer``) is accepted at once."""
    if subject is not None and proposer is not None and is_own_notice(kind, subject, proposer):
        return "accepted"
    sponsors = charter.get("sponsors_required", 1)
    return outcome(
        rule_for(kind, charter),
        electorate,
        t,
        deadline=deadline,
        now=now,
        sponsors_required=sponsors if isinstance(sponsors, int) else 1,
    )


def check_certificate(
    data: bytes, *, keys: KeyResolver, members: Iterable[str], charter: Mapping[str, object], now: int
) -> CheckedDecision:
    """Check a decision from its signed entries alone; raise unless the proposal was accepted.

    Every entry's signature is checked against its origin's key (``keys``), every vote must be for this
    proposal, from a distinct member of the electorate, signed before the deadline; then the charter's rule
    must be met. Any of these failures raises the matching :class:`GovernanceError` (or the protocol error of a
    bad entry): a certificate is only as good as its worst vote.
    """
    value = canonical.decode(data)
    if not isinstance(value, dict) or set(value) != {"proposal", "v", "votes"}:
        raise MalformedError("a certificate is {'proposal': <entry>, 'v': 1, 'votes': [<entry>...]}")
    if value["v"] != CERTIFICATE_VERSION:
        raise MalformedError(f"certificate version {value['v']!r}")
    raw_proposal, raw_votes = value["proposal"], value["votes"]
    if not isinstance(raw_proposal, bytes) or not isinstance(raw_votes, list):
        raise MalformedError("certificate fields have the wrong types")
    opened = open_record(raw_proposal, keys)
    proposal, body = opened.entry, opened.body
    if proposal.header.type != "proposal" or body is None:
        raise WrongProposalError("the certificate's first entry is not a proposal")
    kind, subject, deadline = str(body["kind"]), str(body["subject"]), body["deadline"]
    assert isinstance(deadline, int)
    electorate = electorate_for(kind, subject, members)
    ref = proposal_ref(proposal)
    checked: list[tuple[Entry, Mapping[str, object]]] = []
    seen: set[str] = set()
    for raw in raw_votes:
        if not isinstance(raw, bytes):
            raise MalformedError("a certificate vote must be an entry")
        opened = open_record(raw, keys)
        vote, vote_body = opened.entry, opened.body
        if vote.header.type != "admission_vote" or vote_body is None:
            raise WrongProposalError("a certificate vote is not an admission_vote entry")
        voter = vote.header.origin
        if vote_body.get("proposal") != ref:
            raise WrongProposalError(f"the vote of {voter} is for another proposal")
        if voter not in electorate:
            raise NotMemberError(f"{voter} is not a member that may vote on this proposal")
        if voter in seen:
            raise DuplicateVoteError(f"{voter} voted twice")
        if vote.header.ts > deadline:
            raise LateVoteError(f"the vote of {voter} was signed after the deadline")
        seen.add(voter)
        checked.append((vote, vote_body))
    t = tally(proposal, deadline, checked, electorate)
    result = decide(
        kind, charter, electorate, t, deadline=deadline, now=now, subject=subject, proposer=proposal.header.origin
    )
    if result != "accepted":
        raise InsufficientVotesError(
            f"{t.count('yes')} yes of {len(electorate)} under {rule_for(kind, charter)}: the proposal is {result}"
        )
    return CheckedDecision(proposal, body, t, result)
