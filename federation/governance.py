"""Live governance: follow proposals and votes as they arrive, decide under the charter, apply the effects.

Every node runs the same count on the same records (``protocol.governance``), so all reach the same decisions
without a coordinator. When a proposal is accepted its effect is applied to this node's view of the network:
an admitted coop becomes a direct member peer (its key from the proposal, which the sponsor took from the
candidate's self-signed document), a suspended or expelled one stops being able to send records, a recovered
key is added (with the network's authority) and the old ones revoked from the moment of the decision, a new
charter governs later counts.
Refused votes (non-members, duplicates, late) are logged once with their reason and never counted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from protocol import Entry, InvalidInputError, Record, canonical, check_body, decode_entry
from protocol.governance import (
    Result,
    check_certificate,
    decide,
    electorate_for,
    encode_certificate,
    proposal_ref,
    tally,
)

from .ports import LEFT, MEMBER, SUSPENDED, Peer, PeerKey, PeerPort
from .trust import TrustStore

log = logging.getLogger(__name__)

GOVERNANCE_TYPES: Final = frozenset({"proposal", "admission_vote"})
#: where a decision about this node leaves it
OWN_STATUS_AFTER: Final = {"suspension": SUSPENDED, "reinstatement": MEMBER, "expulsion": LEFT, "leave": LEFT}
DAY_MS: Final = 86_400_000

DEFAULT_CHARTER: Final[dict[str, Any]] = {
    "admission_rule": "majority",
    "suspension_rule": "majority",
    "expulsion_rule": "two_thirds",
    "charter_rule": "two_thirds",
    "recovery_rule": "majority",
    "voting_days": 14,
    "proposers": "any_member",
    "suspended_records": "keep",
    "departed_records": "keep",
    "text": (
        "Bigre relie des coopératives qui se choisissent. Toute coopérative membre peut proposer une admission, "
        "une suspension, une exclusion ou un changement de cette charte ; chaque coopérative membre vote une fois."
    ),
}


@dataclass(slots=True)
class Case:
    """One proposal and what this node knows of its votes."""

    entry: Entry
    body: dict[str, Any]
    votes: list[tuple[Entry, dict[str, Any]]] = field(default_factory=list)
    result: Result = "pending"
    decided_at: int | None = None
    reported: set[tuple[str, str]] = field(default_factory=set)  # refusals already logged

    @property
    def ref(self) -> str:
        return proposal_ref(self.entry)


class Governance:
    def __init__(
        self,
        self_name: str,
        trust: TrustStore,
        peers: PeerPort,
        clock: Callable[[], int],
        charter: Mapping[str, Any] | None = None,
        on_membership_change: Callable[[], Any] | None = None,
        drop_records: Callable[[str], Awaitable[int]] | None = None,
        on_key_recovered: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.self_name = self_name
        self.trust = trust
        self.peers = peers
        self.clock = clock
        self.base_charter = dict(charter or DEFAULT_CHARTER)
        self.cases: dict[str, Case] = {}
        self._early_votes: dict[str, list[tuple[Entry, dict[str, Any]]]] = {}
        self.on_membership_change = on_membership_change
        self.drop_records = drop_records
        self.on_key_recovered = on_key_recovered
        #: called with each proposal still open when it is seen (also when replayed at start: the callee keeps
        #: track of what it already did), so the node can tell its operators there is a vote to cast
        self.on_open_proposal: Callable[[Case], Awaitable[None]] | None = None
        self.own_status = MEMBER  # where decisions about this node left it (it does not apply them to its peers)

    # ------------------------------------------------------------------------------------------- the rules

    @property
    def charter(self) -> dict[str, Any]:
        """The charter in force: the newest accepted charter proposal, else the network file's."""
        accepted = [c for c in self.cases.values() if c.body.get("kind") == "charter" and c.result == "accepted"]
        if not accepted:
            return self.base_charter
        newest = max(accepted, key=lambda c: (c.decided_at or 0, c.entry.header.ts))
        return dict(newest.body["charter"])

    def members(self) -> list[str]:
        return sorted({p.name for p in self.trust.peers() if p.status == MEMBER} | {self.self_name})

    # ------------------------------------------------------------------------------------------- following

    async def on_records(self, records: Sequence[Record]) -> None:
        for record in records:
            if record.type in GOVERNANCE_TYPES and record.body is not None:
                await self.on_record(record)

    async def on_record(self, record: Record) -> None:
        body = dict(record.body or {})
        if record.type == "proposal":
            case = Case(record.entry, body)
            if case.ref in self.cases:
                return
            self.cases[case.ref] = case
            case.votes.extend(self._early_votes.pop(case.ref, []))
            log.info("proposal %s: %s of %s", case.ref, body.get("kind"), body.get("subject"))
            await self.evaluate(case)
            if case.result == "pending" and self.on_open_proposal is not None:
                try:
                    await self.on_open_proposal(case)
                except Exception:  # a notice that fails must not stop governance
                    log.exception("proposal %s: the open-proposal callback failed", case.ref)
        elif record.type == "admission_vote":
            ref = str(body.get("proposal"))
            pair = (record.entry, body)
            voted = self.cases.get(ref)
            if voted is None:
                self._early_votes.setdefault(ref, []).append(pair)  # the proposal has not arrived yet
                return
            if any(e.hash == record.entry.hash for e, _ in voted.votes):
                return
            voted.votes.append(pair)
            await self.evaluate(voted)

    async def tick(self) -> None:
        """Close the proposals whose deadline passed (the scheduler calls this)."""
        for case in list(self.cases.values()):
            if case.result == "pending":
                await self.evaluate(case)

    async def evaluate(self, case: Case) -> Result:
        if case.result != "pending":
            return case.result
        kind, subject = str(case.body["kind"]), str(case.body["subject"])
        electorate = electorate_for(kind, subject, self.members())
        deadline = int(case.body["deadline"])
        t = tally(case.entry, deadline, case.votes, electorate)
        for refusal in t.refused:
            if (refusal.voter, refusal.code) not in case.reported:
                case.reported.add((refusal.voter, refusal.code))
                log.warning("vote refused on %s: %s (%s)", case.ref, refusal.reason, refusal.code)
        result = decide(
            kind,
            self.charter,
            electorate,
            t,
            deadline=deadline,
            now=self.clock(),
            subject=subject,
            proposer=case.entry.header.origin,
        )
        if result == "pending":
            return result
        case.result = result
        case.decided_at = self.clock()
        log.info(
            "decision %s (%s of %s): %s with %d yes, %d no, %d abstain of %d",
            case.ref,
            kind,
            subject,
            result,
            t.count("yes"),
            t.count("no"),
            t.count("abstain"),
            len(electorate),
        )
        if result == "accepted":
            self._check_own_certificate(case)
            await self._apply(case)
        return result

    def _check_own_certificate(self, case: Case) -> None:
        """Build the certificate of this decision from what we hold and check it as a stranger would."""
        cert = self.certificate(case.ref)
        assert cert is not None
        check_certificate(cert, keys=self.trust, members=self.members(), charter=self.charter, now=self.clock())

    # ------------------------------------------------------------------------------------------- effects

    async def _apply(self, case: Case) -> None:
        kind, subject = str(case.body["kind"]), str(case.body["subject"])
        peer = self.trust.peer(subject)
        if kind == "admission":
            candidate = case.body.get("candidate") or {}
            keys = [PeerKey(public_key=bytes(candidate["public_key"]))] if "public_key" in candidate else []
            if peer is None:
                peer = Peer(
                    name=subject,
                    url=str(candidate.get("url", "")).rstrip("/"),
                    display_name=str(candidate.get("display_name", subject)),
                    keys=keys,
                )
            peer.status, peer.direct = MEMBER, True
            if not peer.keys:
                peer.keys = keys
        elif subject == self.self_name:
            # A decision about this node itself: the others apply it (they refuse our requests, our records);
            # we know where we stand, and say so.
            status = OWN_STATUS_AFTER.get(kind)
            if status is not None:
                self.own_status = status
                log.warning("decision %s (%s): this coop is now %s in the network", case.ref, kind, status)
            return
        elif peer is None:
            log.warning("decision %s (%s of %s) changes nothing in this node's peers", case.ref, kind, subject)
            return
        elif kind == "suspension":
            peer.status = SUSPENDED
        elif kind == "reinstatement":
            peer.status = MEMBER
        elif kind in ("expulsion", "leave"):
            peer.status = LEFT
        elif kind == "key_recovery" and "new_key" in case.body:
            # Every other key of the subject is revoked from the decision on; the new one is established by the
            # network, which gives a fork repair it signs the network's authority (docs/PROTOCOL.md §6.1).
            at = case.decided_at or self.clock()
            self.trust.recover(subject, bytes(case.body["new_key"]), at)
            await self.peers.save_peer(peer)
            log.warning("key of %s recovered by %s: %s", subject, case.ref, bytes(case.body["new_key"]).hex()[:16])
            if self.on_key_recovered is not None:
                await self.on_key_recovered(subject)
            return
        else:
            return
        await self.peers.save_peer(peer)
        self.trust.put(peer)
        log.warning("membership changed by %s: %s is now %s", case.ref, subject, peer.status)
        dropping = kind in ("suspension", "expulsion", "leave") and self.records_kept_of(kind) == "drop"
        if dropping and self.drop_records is not None:
            dropped = await self.drop_records(subject)
            log.warning("the charter drops the records of %s: %d records dropped", subject, dropped)
        if self.on_membership_change is not None:
            result = self.on_membership_change()
            if hasattr(result, "__await__"):
                await result

    def records_kept_of(self, kind: str) -> str:
        """What the charter keeps of the records of a coop suspended (``suspended_records``) or gone
        (``departed_records``, by default as ``suspended_records``): ``keep`` or ``drop``."""
        suspended = str(self.charter.get("suspended_records", "keep"))
        if kind == "suspension":
            return suspended
        return str(self.charter.get("departed_records", suspended))

    # ------------------------------------------------------------------------------------------ learning

    def pending_about_self(self) -> list[Case]:
        """Open decisions about this node: once taken, the others may stop talking to it (a suspended or departed
        coop's requests are refused), so their last votes may never reach it."""
        return [c for c in self.cases.values() if c.result == "pending" and c.body.get("subject") == self.self_name]

    async def take_certificate(self, data: bytes) -> bool:
        """Count the votes of a decision's certificate (fetched from a peer), after checking it as a stranger
        would; True if it was good. The votes are counted, not stored (they are other origins' entries, out of
        their chains): a restart fetches the certificate again."""
        try:
            decision = check_certificate(
                data, keys=self.trust, members=self.members(), charter=self.charter, now=self.clock()
            )
        except InvalidInputError as exc:
            log.warning("a certificate about this node does not check: %s", exc)
            return False
        value = canonical.decode(data)
        assert isinstance(value, dict) and isinstance(value["votes"], list)
        await self.on_record(Record(decision.proposal, dict(decision.body)))
        for raw in value["votes"]:
            assert isinstance(raw, bytes)
            entry = decode_entry(raw)
            await self.on_record(Record(entry, check_body(entry)))
        case = self.cases.get(proposal_ref(decision.proposal))
        return case is not None and case.result == "accepted"

    # ------------------------------------------------------------------------------------------ reading

    def decision_log(self) -> list[dict[str, Any]]:
        """Every proposal with its votes and result, oldest first: what the decision log page shows."""
        out = []
        for case in sorted(self.cases.values(), key=lambda c: (c.entry.header.ts, c.ref)):
            out.append(
                {
                    "proposal": case.ref,
                    "kind": case.body.get("kind"),
                    "subject": case.body.get("subject"),
                    "proposed_by": case.entry.header.origin,
                    "proposed_at": case.entry.header.ts,
                    "deadline": case.body.get("deadline"),
                    "text": case.body.get("text"),
                    "result": case.result,
                    "decided_at": case.decided_at,
                    "votes": [
                        {
                            "voter": e.header.origin,
                            "decision": b.get("decision"),
                            "reason": b.get("reason"),
                            "at": e.header.ts,
                        }
                        for e, b in sorted(case.votes, key=lambda pair: pair[0].header.ts)
                    ],
                    "refused": sorted(f"{voter}: {code}" for voter, code in case.reported),
                }
            )
        return out

    def certificate(self, ref: str) -> bytes | None:
        """The proposal and the votes that counted, as signed entries; None unless accepted."""
        case = self.cases.get(ref)
        if case is None or case.result != "accepted":
            return None
        electorate = electorate_for(str(case.body["kind"]), str(case.body["subject"]), self.members())
        t = tally(case.entry, int(case.body["deadline"]), case.votes, electorate)
        counted = [e.encode() for e, _ in case.votes if t.votes.get(e.header.origin) is not None]
        seen: set[str] = set()
        unique = []
        for blob in counted:
            origin = decode_entry(blob).header.origin
            if origin not in seen:
                seen.add(origin)
                unique.append(blob)
        return encode_certificate(case.entry.encode(), unique)

    def open_admission_for(self, candidate: str) -> Case | None:
        for case in self.cases.values():
            if (
                case.body.get("kind") == "admission"
                and case.body.get("subject") == candidate
                and case.result in ("pending", "accepted")
            ):
                return case
        return None
