"""The node's part in network governance: publishing proposals and votes, the decision log, the charter.

Proposals and votes are ordinary signed records of this node's log (so they replicate and verify like any
other); after publishing one, the node hands it to :class:`federation.governance.Governance`, which counts and
applies decisions. Only operators propose and vote (for their coop); every member may read the decision log.
The charter the network started with comes from the network file (``charter.json`` in the node folder).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from federation.governance import DAY_MS, DEFAULT_CHARTER, Governance
from node.clock import Clock
from node.errors import InvalidInput, NotFound
from node.records.publisher import Publisher, new_record_id
from node.storage.database import Database
from protocol import RECORD_TYPES, Record

log = logging.getLogger(__name__)

CHARTER_FILE = "charter.json"
KINDS = ("admission", "suspension", "expulsion", "reinstatement", "leave", "charter", "key_recovery")


def load_charter(directory: Path) -> dict[str, Any]:
    path = directory / CHARTER_FILE
    if not path.exists():
        return dict(DEFAULT_CHARTER)
    charter: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    RECORD_TYPES["proposal"].validate(
        {"kind": "charter", "subject": "x", "deadline": 0, "charter": charter}
    )  # refuse a bad file at start, not at the first vote
    return charter


def save_charter(directory: Path, charter: dict[str, Any]) -> None:
    (directory / CHARTER_FILE).write_text(json.dumps(charter, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


class NodeGovernance:
    """Publishes this node's proposals and votes (the federation's ProposerPort, and the API's path), and reads
    the decision log that :class:`federation.governance.Governance` keeps."""

    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        governance: Governance,
        *,
        name: str,
        clock: Clock,
        wake: Callable[[], None],
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.governance = governance
        self.name = name
        self.clock = clock
        self.wake = wake

    @property
    def charter(self) -> dict[str, Any]:
        return dict(self.governance.charter)

    def decision_log(self) -> list[dict[str, Any]]:
        return self.governance.decision_log()

    @property
    def own_status(self) -> str:
        """Where the network's decisions leave this coop: ``member``, ``suspended`` or ``left``."""
        return self.governance.own_status

    def decisions(self) -> list[dict[str, Any]]:
        """The decision log, newest first, each proposal with what a voter decides on: for an admission, the
        candidate as its join request gave it (legal name, registration number, contact, address, sponsor)."""
        out = []
        for decision in reversed(self.decision_log()):
            case = self.governance.cases.get(decision["proposal"])
            candidate = dict(case.body.get("candidate") or {}) if case is not None else {}
            candidate.pop("public_key", None)
            out.append({**decision, "candidate": candidate})
        return out

    def pending_admissions(self) -> list[dict[str, Any]]:
        return [d for d in self.decision_log() if d["kind"] == "admission" and d["result"] == "pending"]

    async def publish(self, record_type: str, body: dict[str, Any]) -> str:
        record_id = new_record_id()
        async with self.db.write() as session:
            entry = await self.publisher.publish(
                session, type=record_type, record_id=record_id, body=body, created=self.clock()
            )
        await self.governance.on_record(Record(entry, dict(entry.body_value() or {})))
        self.wake()
        return f"{self.name}/{record_id}"

    async def propose(self, kind: str, subject: str, **details: Any) -> str:
        if kind not in KINDS:
            raise InvalidInput.field("kind", f"must be one of {', '.join(KINDS)}")
        days = self.governance.charter.get("voting_days", 14)
        body: dict[str, Any] = {
            "kind": kind,
            "subject": subject,
            "deadline": self.clock() + int(details.pop("days", days)) * DAY_MS,
        }
        body.update({k: v for k, v in details.items() if v not in (None, "", {})})
        try:
            RECORD_TYPES["proposal"].validate(body)
        except Exception as exc:
            raise InvalidInput(str(exc)) from exc
        ref = await self.publish("proposal", body)
        log.info("proposed %s of %s: %s", kind, subject, ref)
        return ref

    async def propose_admission(self, candidate: dict[str, object]) -> str:
        subject = str(candidate["subject"])
        return await self.propose("admission", subject, candidate=candidate["candidate"])

    async def vote(self, proposal: str, decision: str, reason: str | None = None) -> str:
        case = self.governance.cases.get(proposal)
        if case is None:
            raise NotFound(f"no proposal {proposal}")
        if case.result != "pending":
            raise InvalidInput.field("proposal", f"the proposal is already {case.result}")
        body = {"proposal": proposal, "decision": decision}
        if reason:
            body["reason"] = reason[:1000]
        try:
            RECORD_TYPES["admission_vote"].validate(body)
        except Exception as exc:
            raise InvalidInput(str(exc)) from exc
        return await self.publish("admission_vote", body)
