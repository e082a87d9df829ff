"""Saved searches and the notifications of their new matches.

A member keeps a search (its query-string parameters, as :meth:`node.services.finder.Finder.parse` reads them)
and the scheduled job (:func:`node.http.saved_searches.saved_search_extension`) runs every saved search again,
restricted to records changed since the search was last checked, and stores one notification per new match.

Freshness: a record's ``ts`` is its origin's clock, and a replicated record may arrive after our last run
with an older ``ts`` (a peer was down, clocks differ). So each run looks back :data:`OVERLAP_MS` before the
last check (never before the search was saved), and the notifications' unique key (member, search, record)
absorbs what is found twice: a late record is still notified, and never twice.

Every run searches *as the member who saved the search* (same :class:`~node.viewer.Viewer` as their pages),
so a notification only ever names a record that member may see, with the fields they may see.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import delete, func, select, update

from node.clock import Clock
from node.errors import InvalidInput, NotAuthenticated, NotFound
from node.services.finder import MAX_PAGE_SIZE, QUERY_KEYS, Finder
from node.services.mail_text import N_
from node.services.notifications import Notifications
from node.storage.database import Database
from node.storage.models import Account, MemberProfile
from node.storage.search_models import Notification, SavedSearch
from node.viewer import Viewer

log = logging.getLogger(__name__)

MAX_SAVED: Final = 50  # per member
OVERLAP_MS: Final = 15 * 60_000
NOTIFICATION_KIND: Final = "search_match"


def clean_query(raw: Mapping[str, Any]) -> dict[str, str]:
    """The search parameters of ``raw`` (a JSON body or a form), as strings; anything else is dropped."""
    out: dict[str, str] = {}
    for key in QUERY_KEYS:
        value = raw.get(key)
        if key == "type" and value is None:
            value = raw.get("kind")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if isinstance(value, str) and value.strip():
            out[key] = value.strip()
    return out


def _title(fields: Mapping[str, Any], fallback: str) -> str:
    for name in ("display_name", "title", "topic", "name"):
        value = fields.get(name)
        if isinstance(value, str) and value:
            return value[:200]
    return fallback


class SavedSearches:
    def __init__(self, db: Database, finder: Finder, clock: Clock, notifications: Notifications | None = None) -> None:
        self.mailer = notifications  # new matches mailed, at once or in the daily digest, as chosen
        self.db = db
        self.finder = finder
        self.clock = clock

    # ----------------------------------------------------------------------------------- saved searches

    async def save(self, viewer: Viewer, body: Mapping[str, Any]) -> dict[str, Any]:
        """Keep a search; it is checked now, so only records newer than this moment are notified."""
        account_id = _account(viewer)
        query = clean_query(body)
        self.finder.parse(query)  # refuses what the search page would refuse (unknown town, no words nor filter)
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 120):
            raise InvalidInput.field("name", "at most 120 characters")
        name = (name or "").strip() or _describe(query)
        now = self.clock()
        async with self.db.write() as session:
            count = await session.scalar(
                select(func.count()).select_from(SavedSearch).where(SavedSearch.account_id == account_id)
            )
            if (count or 0) >= MAX_SAVED:
                raise InvalidInput.field("name", f"at most {MAX_SAVED} saved searches; delete one first")
            saved = SavedSearch(account_id=account_id, name=name, query=query, created_at=now, checked_at=now)
            session.add(saved)
            await session.flush()
            result = _saved_json(saved)
        log.info("account %s saved search %s", account_id, result["id"])
        return result

    async def list(self, viewer: Viewer) -> list[dict[str, Any]]:
        account_id = _account(viewer)
        async with self.db.read() as session:
            rows = await session.scalars(
                select(SavedSearch).where(SavedSearch.account_id == account_id).order_by(SavedSearch.id)
            )
            return [_saved_json(s) for s in rows]

    async def delete(self, viewer: Viewer, search_id: int) -> None:
        """Forget a search of the viewer's, and its notifications (another member's is "not found")."""
        account_id = _account(viewer)
        async with self.db.write() as session:
            saved = await session.get(SavedSearch, search_id)
            if saved is None or saved.account_id != account_id:
                raise NotFound(f"no saved search {search_id}")
            await session.execute(delete(Notification).where(Notification.saved_search_id == search_id))
            await session.delete(saved)

    # ------------------------------------------------------------------------------------ notifications

    async def notifications(self, viewer: Viewer, *, unread_only: bool = False, limit: int = 100) -> dict[str, Any]:
        """The viewer's notifications, newest first, and how many are unread."""
        account_id = _account(viewer)
        mine = Notification.account_id == account_id
        async with self.db.read() as session:
            statement = select(Notification).where(mine)
            if unread_only:
                statement = statement.where(Notification.read_at.is_(None))
            rows = await session.scalars(statement.order_by(Notification.id.desc()).limit(limit))
            items = [_notification_json(n) for n in rows]
            unread = await session.scalar(
                select(func.count()).select_from(Notification).where(mine, Notification.read_at.is_(None))
            )
        return {"items": items, "unread": int(unread or 0)}

    async def mark_read(self, viewer: Viewer, ids: Sequence[int] | None = None) -> int:
        """Mark the viewer's notifications ``ids`` (all of them when None) as read; how many changed."""
        account_id = _account(viewer)
        statement = (
            update(Notification)
            .where(Notification.account_id == account_id, Notification.read_at.is_(None))
            .values(read_at=self.clock())
        )
        if ids is not None:
            statement = statement.where(Notification.id.in_(list(ids)))
        async with self.db.write() as session:
            result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    # ----------------------------------------------------------------------------------------- the job

    async def run_due(self) -> int:
        """Run every saved search over the records changed since its last check; the number of new
        notifications. One failing search (e.g. a town no longer in the gazetteer) does not stop the others."""
        now = self.clock()
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(SavedSearch, Account.role, Account.email, MemberProfile.record_id)
                    .join(Account, Account.id == SavedSearch.account_id)
                    .join(MemberProfile, MemberProfile.account_id == Account.id, isouter=True)
                    .where(Account.disabled.is_(False))
                    .order_by(SavedSearch.id)
                )
            ).all()
            searches = [
                (s.id, s.account_id, s.name, dict(s.query), _since(s), role, email, member_id)
                for s, role, email, member_id in rows
            ]
        created = 0
        for search_id, account_id, name, query, since, role, email, member_id in searches:
            viewer = Viewer(account_id=account_id, role=role, member_id=member_id, email=email)
            try:
                created += await self._run_one(viewer, search_id, name, query, since, member_id, now)
            except InvalidInput as exc:
                log.warning("saved search %s skipped: %s", search_id, exc.message)
        return created

    async def _run_one(
        self,
        viewer: Viewer,
        search_id: int,
        name: str,
        query: dict[str, str],
        since: int,
        member_id: str | None,
        now: int,
    ) -> int:
        parsed = self.finder.parse({**query, "page": "1", "limit": str(MAX_PAGE_SIZE)})
        exclude = ((self.finder.origin, member_id),) if member_id else ()
        filters = dataclasses.replace(parsed.filters, since_ts=since, exclude=exclude)
        found = await self.finder.search(viewer, dataclasses.replace(parsed, filters=filters), facets=False)
        results = found["results"]
        async with self.db.write() as session:
            known = set(
                (
                    await session.execute(
                        select(Notification.origin, Notification.record_id).where(
                            Notification.account_id == viewer.account_id, Notification.saved_search_id == search_id
                        )
                    )
                ).all()
            )
            fresh = [r for r in results if (r["origin"], r["id"]) not in known]
            for r in fresh:
                session.add(
                    Notification(
                        account_id=viewer.account_id,
                        saved_search_id=search_id,
                        kind=NOTIFICATION_KIND,
                        origin=r["origin"],
                        record_id=r["id"],
                        payload={"search": name, "type": r["type"], "title": _title(r["fields"], r["id"])},
                        created_at=now,
                    )
                )
            await session.execute(update(SavedSearch).where(SavedSearch.id == search_id).values(checked_at=now))
            if fresh and self.mailer is not None and viewer.account_id is not None:
                titles = ", ".join(_title(r["fields"], r["id"]) for r in fresh[:5]) + (" …" if len(fresh) > 5 else "")
                await self.mailer.notify(
                    session,
                    viewer.account_id,
                    "saved_search",
                    N_("New for your saved search “%(search)s”: %(titles)s"),
                    {"search": name, "titles": titles},
                    "/notifications",
                )
        if fresh:
            log.info("saved search %s: %d new matches", search_id, len(fresh))
        return len(fresh)


def _account(viewer: Viewer) -> int:
    if viewer.account_id is None:
        raise NotAuthenticated("log in first")
    return viewer.account_id


def _since(saved: SavedSearch) -> int:
    """Where a run starts: a look-back before the last check, never before the search was saved."""
    return max(saved.checked_at - OVERLAP_MS, saved.created_at)


def _describe(query: Mapping[str, str]) -> str:
    parts = [query.get("q", "")] + [f"{k}={v}" for k, v in query.items() if k != "q"]
    return " · ".join(p for p in parts if p)[:120] or "?"


def _saved_json(saved: SavedSearch) -> dict[str, Any]:
    return {
        "id": saved.id,
        "name": saved.name,
        "query": dict(saved.query),
        "created_at": saved.created_at,
        "checked_at": saved.checked_at,
    }


def _notification_json(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "saved_search_id": n.saved_search_id,
        "origin": n.origin,
        "record": {"origin": n.origin, "id": n.record_id, **dict(n.payload)},
        "created_at": n.created_at,
        "read": n.read_at is not None,
    }
