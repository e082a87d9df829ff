"""An entrepreneur's individual path in this coop: CAPE contract, then salaried entrepreneur, then associate.

Staff (advisors, operators) record each step with the date it took effect; the history is shown on the
member's profile to the member and to the rest of the coop, never to the network. The newest step also becomes
the profile's ``coop_status`` field, written through the directory's ordinary profile path as if the member had
changed it, so the member's chosen visibility for that field still decides whether it leaves the node.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from sqlalchemy import select

from node.clock import Clock
from node.errors import InvalidInput, NotAuthenticated, NotFound
from node.services import onboarding_rules as rules
from node.services.directory import Directory
from node.services.onboarding import require_staff
from node.services.profiles import PROFILE_FIELDS
from node.storage.database import Database
from node.storage.models import Account, MemberProfile
from node.storage.onboarding_models import MemberPathStep
from node.viewer import Viewer, visible

log = logging.getLogger(__name__)

PATH_STATUSES: Final = ("cape", "salaried_entrepreneur", "associate", "employee", "other")
MAX_STEPS: Final = 50


class MemberPaths:
    def __init__(self, db: Database, clock: Clock, directory: Directory) -> None:
        self.db = db
        self.clock = clock
        self.directory = directory

    async def history(self, viewer: Viewer, member_id: str) -> list[dict[str, Any]]:
        """The member's steps, oldest first: for the member, the coop's advisors and operators, and the coop's
        other members only when the member shows their ``coop_status`` to the coop (the path is that field's
        history, so it follows that field's visibility)."""
        if viewer.anonymous:
            raise NotAuthenticated("log in first")
        async with self.db.read() as session:
            account_id = await self._account_of(session, member_id)
            if account_id != viewer.account_id and not viewer.is_staff:
                profile = await session.get(MemberProfile, account_id)
                level = (profile.visibility if profile else {}).get(
                    "coop_status", PROFILE_FIELDS["coop_status"].default
                )
                if not visible(level, viewer.level_for(account_id)):
                    return []
            rows = (
                (
                    await session.execute(
                        select(MemberPathStep)
                        .where(MemberPathStep.account_id == account_id)
                        .order_by(MemberPathStep.since, MemberPathStep.id)
                    )
                )
                .scalars()
                .all()
            )
        return [{"status": r.status, "since": r.since, "note": r.note, "recorded_at": r.recorded_at} for r in rows]

    async def record(self, viewer: Viewer, member_id: str, payload: object) -> list[dict[str, Any]]:
        """Add a step ``{status, since, note?}`` (advisors and operators); returns the whole history."""
        require_staff(viewer)
        if not isinstance(payload, dict) or set(payload) - {"status", "since", "note"}:
            raise InvalidInput.field("body", "expected {status, since, note}")
        status = rules.choice(payload.get("status"), "status", PATH_STATUSES)
        since = rules.check_date(payload.get("since"), "since") or rules.iso_date(self.clock())
        note = rules.text(payload.get("note"), "note", 500)
        async with self.db.write() as session:
            account_id = await self._account_of(session, member_id)
            steps = (
                (
                    await session.execute(
                        select(MemberPathStep)
                        .where(MemberPathStep.account_id == account_id)
                        .order_by(MemberPathStep.since, MemberPathStep.id)
                    )
                )
                .scalars()
                .all()
            )
            if len(steps) >= MAX_STEPS:
                raise InvalidInput.field("status", "this member's path is full")
            session.add(
                MemberPathStep(
                    account_id=account_id,
                    status=status,
                    since=since,
                    note=note,
                    recorded_by=viewer.account_id,
                    recorded_at=self.clock(),
                )
            )
            newest = not steps or since >= steps[-1].since
            role = await session.scalar(select(Account.role).where(Account.id == account_id))
        log.info("path step %s recorded for account %s by account %s", status, account_id, viewer.account_id)
        if newest:
            member = Viewer(account_id=account_id, role=role, member_id=member_id)
            await self.directory.update_my_profile(member, {"fields": {"coop_status": status}}, replace=False)
        return await self.history(viewer, member_id)

    @staticmethod
    async def _account_of(session: Any, member_id: str) -> int:
        account_id = await session.scalar(select(MemberProfile.account_id).where(MemberProfile.record_id == member_id))
        if account_id is None:
            raise NotFound(f"no member {member_id} in this coop")
        return int(account_id)
