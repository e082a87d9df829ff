"""The node bootstrap bundle for a coop an onboarding case brings to the registration stage.

The bundle is what ``bigre init --bundle`` needs to create the new coop's node: its name, URL and display name,
who sponsors its admission (this node), the case it comes from, and the network file (every node this node
knows, itself included, with its current public key) from which the new node bootstraps. It holds no secret:
the new node generates its keys locally. Building it is noted on the case.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from node.clock import Clock
from node.errors import Conflict, InvalidInput
from node.services import onboarding_rules as rules
from node.services.governance import load_charter
from node.services.identity import Identity
from node.services.onboarding import Onboarding
from node.storage.database import Database
from node.storage.federation_models import PeerRow
from node.storage.onboarding_models import OnboardingCase
from protocol.envelope import ORIGIN_RE

NETWORK_NAME = "bigre"


def _current_key(keys: list[dict[str, Any]], now: int) -> str | None:
    """The hex public key a peer signs with now: not revoked, within its window, the latest to start."""
    usable = [
        k
        for k in keys
        if not k.get("revoked_at")
        and int(k.get("not_before") or 0) <= now
        and (k.get("not_after") is None or int(k["not_after"]) > now)
    ]
    usable.sort(key=lambda k: int(k.get("not_before") or 0))
    return str(usable[-1]["public_key"]) if usable else None


class Bundles:
    """Builds bootstrap bundles for the coops this node's onboarding cases bring to registration."""

    def __init__(self, db: Database, identity: Identity, onboarding: Onboarding, clock: Clock) -> None:
        self.db = db
        self.identity = identity
        self.onboarding = onboarding
        self.clock = clock

    async def network(self) -> dict[str, Any]:
        """The network file as this node knows it: its member peers, then itself."""
        now = self.clock()
        config = self.identity.config
        async with self.db.read() as session:
            rows = (
                await session.execute(select(PeerRow).where(PeerRow.status == "member").order_by(PeerRow.name))
            ).scalars()
            nodes = [
                {"name": r.name, "url": r.url, "display_name": r.display_name or r.name, "public_key": key}
                for r in rows
                if r.name != config.name and (key := _current_key(list(r.keys), now)) is not None
            ]
        nodes.append(
            {
                "name": config.name,
                "url": config.url,
                "display_name": config.display_name,
                "public_key": self.identity.key().public_bytes.hex(),
            }
        )
        return {"network": NETWORK_NAME, "charter": load_charter(config.directory), "nodes": nodes}

    async def build(self, case_id: str, name: str, url: str, display_name: str) -> dict[str, Any]:
        """The bundle for this node's case ``case_id`` (at the registration stage or later). The caller checks
        the viewer (advisors and operators); this checks the case and the new node's name, URL and display name."""
        errors: dict[str, str] = {}
        if not isinstance(name, str) or ORIGIN_RE.match(name) is None:
            errors["name"] = "lower-case letters, digits and dashes, at most 32"
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 200 or " " in url:
            errors["url"] = "the node's http(s) URL"
        if not isinstance(display_name, str) or not 0 < len(display_name.strip()) <= 120:
            errors["display_name"] = "1 to 120 characters"
        if errors:
            raise InvalidInput("invalid bundle", errors)
        network = await self.network()
        if any(n["name"] == name for n in network["nodes"]):
            raise Conflict(f"a node named {name} is already in the network")
        own = self.identity.config
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(OnboardingCase).where(OnboardingCase.origin == own.name, OnboardingCase.case_id == case_id)
                )
            ).scalar_one_or_none()
        if row is None:
            raise InvalidInput.field("case", f"no case {case_id} opened by this coop")
        if rules.STAGES.index(row.stage) < rules.BUNDLE_STAGE:
            raise Conflict(f"the case is at stage {row.stage}; a bundle is built from the registration stage on")
        url = url.rstrip("/")
        bundle = {
            "name": name,
            "display_name": display_name.strip(),
            "url": url,
            "sponsor": own.name,
            "sponsor_url": own.url,
            "case": case_id,
            "network": network,
        }
        await self.onboarding.record_node(own.name, case_id, {"name": name, "url": url, "built_at": self.clock()})
        return bundle
