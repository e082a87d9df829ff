"""The coop's member directory: profiles with per-field visibility, search, data export and erasure.

A member sees all of their own profile; other members of the coop see coop, network and public fields;
anonymous visitors see public fields only. A change to a profile publishes a signed entry when, and only when,
the part that may leave the node (network and public fields) changed.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..clock import Clock
from ..errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from ..publisher import Publisher
from ..storage import search
from ..storage.database import Database
from ..storage.models import (
    Account,
    Event,
    EventRegistration,
    HelpAnswer,
    LogEntry,
    MemberProfile,
    RecordState,
)
from ..viewer import Viewer
from . import profiles
from .accounts import Accounts, account_json
from .reference import Reference
from .things import KINDS, Things

log = logging.getLogger(__name__)


class Directory:
    def __init__(
        self, db: Database, publisher: Publisher, reference: Reference, clock: Clock, accounts: Accounts, things: Things
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.reference = reference
        self.clock = clock
        self.accounts = accounts
        self.things = things

    # ------------------------------------------------------------------------------------------ own data

    async def my_profile(self, viewer: Viewer) -> dict[str, Any]:
        account_id = _logged_in(viewer)
        async with self.db.read() as session:
            profile = await session.get(MemberProfile, account_id)
            if profile is None:
                raise NotFound("no profile")
            published = await self.publisher.is_published(session, profile.record_id)
        return {**self._owner_view(profile), "published": published}

    async def update_my_profile(self, viewer: Viewer, payload: object, *, replace: bool) -> dict[str, Any]:
        """Set fields and visibility. ``replace``: fields not given are cleared (PUT); else kept (PATCH)."""
        account_id = _logged_in(viewer)
        if not isinstance(payload, dict) or set(payload) - {"fields", "visibility"}:
            raise InvalidInput.field("body", 'expected {"fields": {...}, "visibility": {...}}')
        changes = profiles.check_fields(payload.get("fields", {}), self.reference)
        async with self.db.write() as session:
            profile = await session.get(MemberProfile, account_id, with_for_update=True)
            if profile is None:
                raise NotFound("no profile")
            visibility = profiles.check_visibility(payload.get("visibility", {}), profile.visibility)
            data = {} if replace else dict(profile.data)
            if replace and "display_name" not in changes:
                changes["display_name"] = profile.data.get("display_name")
            data.update(changes)
            data = {k: v for k, v in data.items() if v is not None}
            await self.store_profile(session, profile, data, visibility)
            if "display_name" in changes:
                account = await session.get(Account, account_id)
                if account is not None:
                    account.display_name = data["display_name"]
            published = await self.publisher.is_published(session, profile.record_id)
        return {**self._owner_view(profile), "published": published}

    async def store_profile(
        self, session: AsyncSession, profile: MemberProfile, data: dict[str, Any], visibility: dict[str, str]
    ) -> None:
        """Save a profile and publish its network part if that changed (the one path every profile write takes)."""
        now = self.clock()
        profile.data = data
        profile.visibility = visibility
        profile.updated_at = now
        body = profiles.network_body(data, visibility)
        texts = profiles.search_texts(data, visibility, self.reference)
        previous = await self.publisher.published_body(session, profile.record_id)
        if body and body != previous:
            await self.publisher.publish(
                session,
                type="profile",
                record_id=profile.record_id,
                body=body,
                created=profile.created_at,
                search_texts=texts,
            )
        else:
            if not body and previous is not None:  # nothing may leave any more: withdraw what had left
                await self.publisher.tombstone(session, target_type="profile", record_id=profile.record_id)
            await search.index_record(session, "profile", self.publisher.origin, profile.record_id, texts)
        await session.flush()

    def _owner_view(self, profile: MemberProfile) -> dict[str, Any]:
        return {
            "id": profile.record_id,
            "fields": dict(profile.data),
            "visibility": {**profiles.default_visibility(), **profile.visibility},
            "updated_at": profile.updated_at,
        }

    # -------------------------------------------------------------------------------------------- others

    async def list_members(self, viewer: Viewer, *, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """Profiles with at least one field this viewer may see, by account id (keyset pagination)."""
        views: list[dict[str, Any]] = []
        cursor = after
        async with self.db.read() as session:
            while len(views) < limit:
                rows = (
                    (
                        await session.execute(
                            select(MemberProfile)
                            .join(Account, Account.id == MemberProfile.account_id)
                            .where(MemberProfile.account_id > cursor, Account.disabled.is_(False))
                            .order_by(MemberProfile.account_id)
                            .limit(limit * 2)
                        )
                    )
                    .scalars()
                    .all()
                )
                for profile in rows:
                    cursor = profile.account_id
                    view = self._view(profile, viewer)
                    if view["fields"]:
                        views.append(view)
                        if len(views) == limit:
                            break
                if len(views) < limit and len(rows) < limit * 2:
                    return views, None  # the table is exhausted
        return views, cursor

    async def get_member(self, viewer: Viewer, member_id: str) -> dict[str, Any]:
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(MemberProfile, Account.disabled)
                    .join(Account, Account.id == MemberProfile.account_id)
                    .where(MemberProfile.record_id == member_id)
                )
            ).first()
        if row is None or row[1]:
            raise NotFound(f"no member {member_id}")
        view = self._view(row[0], viewer)
        if not view["fields"] and row[0].account_id != viewer.account_id:
            log.info("member %s has nothing visible to account %s", member_id, viewer.account_id)
            raise NotFound(f"no member {member_id}")
        return view

    def _view(self, profile: MemberProfile, viewer: Viewer) -> dict[str, Any]:
        if profile.account_id == viewer.account_id:
            return self._owner_view(profile)
        level = viewer.level_for(profile.account_id)
        return {"id": profile.record_id, "fields": profiles.visible_fields(profile.data, profile.visibility, level)}

    async def search(
        self, viewer: Viewer, query: str, *, kinds: tuple[str, ...], limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Full-text search over the audiences this viewer belongs to; results rendered for this viewer."""
        async with self.db.read() as session:
            hits = await search.search(session, query, viewer.audiences(), kinds=kinds, limit=limit, offset=offset)
            results: list[dict[str, Any]] = []
            for hit in hits:
                if hit.origin != self.publisher.origin:
                    state = await session.get(RecordState, (hit.origin, hit.record_id))
                    if state is None or state.deleted or state.body is None:
                        continue
                    body = state.body
                    if viewer.anonymous:
                        public = set(body.get("public", ())) if hit.kind == "profile" else set()
                        body = {k: v for k, v in body.items() if k in public}
                    results.append({"kind": hit.kind, "origin": hit.origin, "id": hit.record_id, "item": body})
                elif hit.kind == "profile":
                    profile = await session.scalar(
                        select(MemberProfile).where(MemberProfile.record_id == hit.record_id)
                    )
                    if profile is not None:
                        view = self._view(profile, viewer)
                        results.append({"kind": "profile", "origin": hit.origin, "id": hit.record_id, "item": view})
                else:
                    kind = next((k for k in KINDS.values() if k.record_type == hit.kind), None)
                    if kind is None:
                        continue
                    row = await session.scalar(select(kind.model).where(kind.model.record_id == hit.record_id))
                    if row is None or (kind.has_visibility and viewer.anonymous and row.visibility != "public"):
                        continue
                    item = await self.things._view(session, kind, row, viewer)
                    results.append({"kind": hit.kind, "origin": hit.origin, "id": hit.record_id, "item": item})
        return results

    # ------------------------------------------------------------------------------------ export, erasure

    async def export(self, viewer: Viewer) -> dict[str, Any]:
        """Everything the node holds about the member, in one JSON document (GDPR Art. 15 and 20)."""
        account_id = _logged_in(viewer)
        async with self.db.read() as session:
            account = await session.get(Account, account_id)
            profile = await session.get(MemberProfile, account_id)
            if account is None or profile is None:
                raise NotFound("no account")
            things: dict[str, list[dict[str, Any]]] = {}
            record_ids = [profile.record_id]
            for kind in KINDS.values():
                rows = (await session.scalars(select(kind.model).where(kind.model.author_id == account_id))).all()
                things[kind.name] = [await self.things._view(session, kind, row, viewer) for row in rows]
                record_ids += [row.record_id for row in rows]
            answers = (await session.scalars(select(HelpAnswer).where(HelpAnswer.author_id == account_id))).all()
            things["help-answers"] = [{"id": a.record_id, **a.data, "created_at": a.created_at} for a in answers]
            record_ids += [a.record_id for a in answers]
            registrations = (
                await session.execute(
                    select(Event.record_id, EventRegistration.created_at)
                    .join(Event, Event.id == EventRegistration.event_id)
                    .where(EventRegistration.account_id == account_id)
                )
            ).all()
            published = (
                await session.execute(
                    select(LogEntry.record_id, LogEntry.seq, LogEntry.type, LogEntry.ts)
                    .where(LogEntry.origin == self.publisher.origin, LogEntry.record_id.in_(record_ids))
                    .order_by(LogEntry.seq)
                )
            ).all()
        return {
            "format": "bigre-member-export/1",
            "exported_at": self.clock(),
            "node": self.publisher.origin,
            "account": account_json(account, profile.record_id),
            "profile": self._owner_view(profile),
            **things,
            "event_registrations": [{"event": r, "registered_at": at} for r, at in registrations],
            "published_entries": [{"record_id": r, "seq": s, "type": t, "ts": ts} for r, s, t, ts in published],
        }

    async def erase(self, viewer: Viewer, password: object) -> int:
        """Erase the member's account: tombstones for everything shared, then every local row. Irreversible."""
        account_id = _logged_in(viewer)
        await self.accounts.verify_password(account_id, password)
        return await self.erase_account(account_id)

    async def erase_account(self, account_id: int) -> int:
        async with self.db.write() as session:
            profile = await session.get(MemberProfile, account_id)
            count = await self.things.erase_author(session, account_id)
            if profile is not None:
                await self.publisher.tombstone(
                    session, target_type="profile", record_id=profile.record_id, reason="erased"
                )
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound("no account")
            await session.delete(account)  # cascades to profile, sessions, invitations, registrations
        log.info("account %d erased (%d shared things withdrawn)", account_id, count)
        return count

    async def delete_member(self, viewer: Viewer, account_id: int) -> int:
        """An operator erases an account (for example on a member's written request)."""
        if not viewer.is_operator:
            raise Forbidden("only operators erase other accounts")
        return await self.erase_account(account_id)


def _logged_in(viewer: Viewer) -> int:
    if viewer.account_id is None:
        raise NotAuthenticated("log in first")
    return viewer.account_id
