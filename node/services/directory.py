"""The coop's member directory: profiles with per-field visibility, search, data export and erasure.

A member sees all of their own profile; other members of the coop see coop, network and public fields;
anonymous visitors see public fields only. A change to a profile publishes a signed entry when, and only when,
the part that may leave the node (network and public fields) changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Table, and_, bindparam, delete, select, update
from sqlalchemy.orm import Session

from node.clock import Clock
from node.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from node.records.publisher import Publisher
from node.reference.data import Reference
from node.services import profiles
from node.services.accounts import Accounts, account_json
from node.services.erasures import Erasures
from node.services.things import KINDS, Things
from node.storage.booking_models import Booking
from node.storage.database import Database, Prepared, connection
from node.storage.federation_models import InboxMessage
from node.storage.mail_models import erase_account_mail
from node.storage.message_models import SentMessage
from node.storage.models import (
    Account,
    Event,
    EventRegistration,
    HelpAnswer,
    LogEntry,
    LogHead,
    MemberProfile,
    RecordState,
)
from node.storage.moving_models import MemberMove
from node.storage.onboarding_models import MemberPathStep
from node.storage.remote_event_models import RemoteEventRegistration
from node.viewer import Viewer

log = logging.getLogger(__name__)

_PROFILES: Final = cast(Table, MemberProfile.__table__)
_RECORDS: Final = cast(Table, RecordState.__table__)
_HEADS: Final = cast(Table, LogHead.__table__)
_ACCOUNTS: Final = cast(Table, Account.__table__)
# A profile update reads in one statement what it needs: the profile, its published state and this origin's log
# head, the profile and head rows locked on PostgreSQL (on SQLite, BEGIN IMMEDIATE already serialises writers).
_PROFILE_FOR_UPDATE: Final = Prepared(
    select(
        _PROFILES.c.record_id,
        _PROFILES.c.data,
        _PROFILES.c.visibility,
        _PROFILES.c.created_at,
        _RECORDS.c.body,
        _RECORDS.c.deleted,
        _HEADS.c.seq,
        _HEADS.c.hash,
    )
    .select_from(
        _PROFILES.join(_HEADS, _HEADS.c.origin == bindparam("origin")).outerjoin(
            _RECORDS, and_(_RECORDS.c.origin == bindparam("origin"), _RECORDS.c.record_id == _PROFILES.c.record_id)
        )
    )
    .where(_PROFILES.c.account_id == bindparam("p_account_id"))
    .with_for_update(of=[_PROFILES, _HEADS])
)
_OWN_PROFILE: Final = Prepared(
    select(_PROFILES.c.record_id, _PROFILES.c.data, _PROFILES.c.visibility, _PROFILES.c.updated_at, _RECORDS.c.deleted)
    .select_from(
        _PROFILES.outerjoin(
            _RECORDS, and_(_RECORDS.c.origin == bindparam("origin"), _RECORDS.c.record_id == _PROFILES.c.record_id)
        )
    )
    .where(_PROFILES.c.account_id == bindparam("p_account_id"))
)
_UPDATE_PROFILE: Final = Prepared(update(_PROFILES).where(_PROFILES.c.account_id == bindparam("p_account_id")))
_UPDATE_DISPLAY_NAME: Final = Prepared(update(_ACCOUNTS).where(_ACCOUNTS.c.id == bindparam("a_id")))


@dataclass(frozen=True, slots=True)
class Erased:
    """What an erasure did: records withdrawn from the network, and the secret token of its receipts page."""

    withdrawn: int
    token: str


class Directory:
    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        reference: Reference,
        clock: Clock,
        accounts: Accounts,
        things: Things,
        erasures: Erasures,
        on_erased: Callable[[], None] = lambda: None,
    ) -> None:
        """``on_erased``: called after an erasure is committed (the node purges the files: node/storage/purge.py)."""
        self.erasures = erasures
        self.on_erased = on_erased
        self.db = db
        self.publisher = publisher
        self.reference = reference
        self.clock = clock
        self.accounts = accounts
        self.things = things

    # ------------------------------------------------------------------------------------------ own data

    async def my_profile(self, viewer: Viewer) -> dict[str, Any]:
        account_id = _logged_in(viewer)
        origin = self.publisher.origin

        def read(session: Session) -> dict[str, Any]:
            row = _OWN_PROFILE.first(connection(session), {"origin": origin, "p_account_id": account_id})
            if row is None:
                raise NotFound("no profile")
            record_id, data, visibility, updated_at, deleted = row
            published = deleted is not None and not deleted
            return {**_owner_view(record_id, data, visibility, updated_at), "published": published}

        return await self.db.run_read(read)

    async def update_my_profile(self, viewer: Viewer, payload: object, *, replace: bool) -> dict[str, Any]:
        """Set fields and visibility. ``replace``: fields not given are cleared (PUT); else kept (PATCH).

        One write transaction (:meth:`Database.run_write`): one read (profile, published state, log head), then
        the writes of :meth:`store_profile_sync`.
        """
        account_id = _logged_in(viewer)
        if not isinstance(payload, dict) or set(payload) - {"fields", "visibility"}:
            raise InvalidInput.field("body", 'expected {"fields": {...}, "visibility": {...}}')
        changes = profiles.check_fields(payload.get("fields", {}), self.reference)
        visibility_changes = payload.get("visibility", {})
        origin = self.publisher.origin

        def write(session: Session) -> dict[str, Any]:
            conn = connection(session)
            params = {"origin": origin, "p_account_id": account_id}
            row = _PROFILE_FOR_UPDATE.first(conn, params)
            if row is None:  # no profile, or (before the node's first start completed) no log head yet
                self.publisher.ensure_head_sync(session)
                row = _PROFILE_FOR_UPDATE.first(conn, params)
                if row is None:
                    raise NotFound("no profile")
            record_id, old_data, old_visibility, created_at, published_body, deleted, head_seq, head_hash = row
            visibility = profiles.check_visibility(visibility_changes, old_visibility)
            data = {} if replace else dict(old_data)
            if replace and "display_name" not in changes:
                changes["display_name"] = old_data.get("display_name")
            data.update(changes)
            data = {k: v for k, v in data.items() if v is not None}
            previous = None if published_body is None or deleted else published_body
            now = self.store_profile_sync(
                session,
                account_id=account_id,
                record_id=record_id,
                created_at=created_at,
                data=data,
                visibility=visibility,
                previous=previous,
                head=(int(head_seq), head_hash),
            )
            if "display_name" in changes:
                _UPDATE_DISPLAY_NAME.execute(conn, {"a_id": account_id, "display_name": data["display_name"]})
            # published now, or unchanged and already published; withdrawn (or never shared) when nothing may leave
            published = bool(profiles.network_body(data, visibility))
            return {**_owner_view(record_id, data, visibility, now), "published": published}

        return await self.db.run_write(write)

    def store_profile_sync(
        self,
        session: Session,
        *,
        account_id: int,
        record_id: str,
        created_at: int,
        data: dict[str, Any],
        visibility: dict[str, str],
        previous: Mapping[str, Any] | None,
        head: tuple[int, bytes | None] | None = None,
    ) -> int:
        """Save a profile and publish its network part if that changed (the one path every profile write takes).

        ``previous``: the body currently published (None if never, or withdrawn); ``head``: this origin's log head
        if the caller read it under the head lock. Returns the update time.
        """
        now = self.clock()
        conn = connection(session)
        _UPDATE_PROFILE.execute(
            conn, {"p_account_id": account_id, "data": data, "visibility": visibility, "updated_at": now}
        )
        body = profiles.network_body(data, visibility)
        bodies = profiles.search_bodies(data, visibility)
        if body and body != previous:
            self.publisher.publish_sync(
                session,
                type="profile",
                record_id=record_id,
                body=body,
                created=created_at,
                search_bodies=bodies,
                head=head,
            )
        else:
            if not body and previous is not None:  # nothing may leave any more: withdraw what had left
                self.publisher.tombstone_sync(session, target_type="profile", record_id=record_id)
            self.publisher.index_sync(session, type="profile", record_id=record_id, search_bodies=bodies, ts=now)
        return now

    def _owner_view(self, profile: MemberProfile) -> dict[str, Any]:
        return _owner_view(profile.record_id, profile.data, profile.visibility, profile.updated_at)

    async def preview(self, viewer: Viewer, audience: str) -> dict[str, Any]:
        """The viewer's own profile as others see it: ``public`` (a visitor, on any node), ``network`` (a member of
        another coop: what this node publishes) or ``coop`` (a member of the viewer's coop)."""
        own = await self.my_profile(viewer)
        data, visibility = own["fields"], own["visibility"]
        if audience == "coop":
            return profiles.visible_fields(data, visibility, "coop")
        body = profiles.network_body(data, visibility)
        public = set(body.pop("public", None) or ())
        if audience == "network":
            return body
        if audience == "public":
            return {k: v for k, v in body.items() if k in public}
        raise InvalidInput.field("as", "public, network or coop")

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

    async def network_member(self, viewer: Viewer, origin: str, member_id: str) -> dict[str, Any] | None:
        """The fields of a member of any coop that ``viewer`` may read here, or None when this node holds no
        such profile: this coop's members through their visibility, other coops' through what their node
        published (the network fields, or only the public ones for anonymous readers)."""
        if origin == self.publisher.origin:
            try:
                fields: dict[str, Any] = (await self.get_member(viewer, member_id))["fields"]
            except NotFound:
                return None
            return fields
        async with self.db.read() as session:
            state = await session.get(RecordState, (origin, member_id))
        if state is None or state.deleted or state.body is None or state.type != "profile":
            return None
        body = dict(state.body)
        public = set(body.pop("public", None) or ())
        return body if not viewer.anonymous else {k: val for k, val in body.items() if k in public}

    async def display_names(self, viewer: Viewer, refs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The names under which members appear to ``viewer`` (as ``(origin, member id)``): this coop's members
        by their visibility, other coops' by what their node published. Members sharing no name are absent."""
        own = [m for o, m in refs if o == self.publisher.origin]
        others = [(o, m) for o, m in refs if o != self.publisher.origin]
        names: dict[tuple[str, str], str] = {}
        async with self.db.read() as session:
            if own:
                for profile in (
                    await session.scalars(select(MemberProfile).where(MemberProfile.record_id.in_(set(own))))
                ).all():
                    fields = self._view(profile, viewer)["fields"]
                    if fields.get("display_name"):
                        names[(self.publisher.origin, profile.record_id)] = str(fields["display_name"])
            if others:
                rows = await session.scalars(
                    select(RecordState).where(
                        RecordState.type == "profile",
                        RecordState.deleted.is_(False),
                        RecordState.record_id.in_({m for _, m in others}),
                    )
                )
                for state in rows:
                    body = state.body or {}
                    public = set(body.get("public") or ())
                    if body.get("display_name") and (not viewer.anonymous or "display_name" in public):
                        names[(state.origin, state.record_id)] = str(body["display_name"])
        return names

    def _view(self, profile: MemberProfile, viewer: Viewer) -> dict[str, Any]:
        if profile.account_id == viewer.account_id:
            return self._owner_view(profile)
        level = viewer.level_for(profile.account_id)
        return {"id": profile.record_id, "fields": profiles.visible_fields(profile.data, profile.visibility, level)}

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
            received = (
                await session.scalars(
                    select(InboxMessage).where(InboxMessage.account_id == account_id).order_by(InboxMessage.id)
                )
            ).all()
            sent = (
                await session.scalars(
                    select(SentMessage).where(SentMessage.account_id == account_id).order_by(SentMessage.id)
                )
            ).all()
            moves = (
                await session.scalars(
                    select(MemberMove).where(MemberMove.account_id == account_id).order_by(MemberMove.id)
                )
            ).all()
            path = (
                await session.scalars(
                    select(MemberPathStep)
                    .where(MemberPathStep.account_id == account_id)
                    .order_by(MemberPathStep.since, MemberPathStep.id)
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
            "messages_received": [_received_json(m) for m in received],
            "messages_sent": [_sent_json(m) for m in sent],
            "moves": [_move_json(m) for m in moves],
            "path": [
                {"status": p.status, "since": p.since, "note": p.note, "recorded_at": p.recorded_at} for p in path
            ],
            "published_entries": [{"record_id": r, "seq": s, "type": t, "ts": ts} for r, s, t, ts in published],
        }

    async def erase(self, viewer: Viewer, password: object) -> Erased:
        """Erase the member's account: tombstones for everything shared, then every local row. Irreversible."""
        account_id = _logged_in(viewer)
        await self.accounts.verify_password(account_id, password)
        return await self.erase_account(account_id)

    async def erase_account(self, account_id: int) -> Erased:
        """Erase an account; how many records it withdrew from the network (one per tombstone, the profile
        included) and the token of its receipts page (:class:`node.services.erasures.Erasures`)."""
        async with self.db.write() as session:
            profile = await session.get(MemberProfile, account_id)
            withdrawn = await self.things.erase_author(session, account_id)
            if profile is not None and await self.publisher.tombstone(
                session, target_type="profile", record_id=profile.record_id, reason="erased"
            ):
                withdrawn.append(profile.record_id)
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound("no account")
            # Rows that name the account without a foreign key: received messages, registrations sent to other
            # coops' events. Left behind, they would outlive the erasure (and, on SQLite, a reused account id
            # would show a stranger the erased member's messages).
            await session.execute(delete(InboxMessage).where(InboxMessage.account_id == account_id))
            await session.execute(delete(SentMessage).where(SentMessage.account_id == account_id))
            await session.execute(
                delete(RemoteEventRegistration).where(RemoteEventRegistration.account_id == account_id)
            )
            await erase_account_mail(session, account_id)  # its mails, settings, reset links, digest items
            # bookings: this member's (their slots go with them); another coop's place keeps its own row until
            # the slot passes, with the name the member showed the network
            await session.execute(delete(Booking).where(Booking.account_id == account_id))
            await session.delete(account)  # cascades to profile, sessions, invitations, registrations
            token = await self.erasures.open(session, withdrawn)
        self.on_erased()
        log.info("account %d erased (%d records withdrawn from the network)", account_id, len(withdrawn))
        return Erased(len(withdrawn), token)

    async def delete_member(self, viewer: Viewer, account_id: int) -> Erased:
        """An operator erases an account (for example on a member's written request)."""
        if not viewer.is_operator:
            raise Forbidden("only operators erase other accounts")
        return await self.erase_account(account_id)


def _owner_view(
    record_id: str, data: Mapping[str, Any], visibility: Mapping[str, str], updated_at: int
) -> dict[str, Any]:
    return {
        "id": record_id,
        "fields": dict(data),
        "visibility": {**profiles.default_visibility(), **visibility},
        "updated_at": updated_at,
    }


def _received_json(m: InboxMessage) -> dict[str, Any]:
    return {
        "id": f"{m.origin}/{m.message_id}",
        "kind": m.kind,
        "from": f"{m.origin}/{m.from_member}",
        "from_name": m.from_name,
        "subject": m.subject,
        "text": m.text,
        "about": m.about,
        "received_at": m.received_at,
        "read": m.read,
    }


def _sent_json(m: SentMessage) -> dict[str, Any]:
    return {
        "id": m.message_id,
        "to": f"{m.to_node}/{m.to_member}",
        "to_name": m.to_name,
        "subject": m.subject,
        "text": m.text,
        "about": m.about,
        "sent_at": m.sent_at,
    }


def _move_json(m: MemberMove) -> dict[str, Any]:
    """A move as its member sees it in the export: where, when, and which records became which."""
    return {
        "id": f"{m.origin}/{m.move_id}",
        "direction": m.direction,
        "from_node": m.origin,
        "to_node": m.to_node,
        "status": m.status,
        "member": m.member_id,
        "new_member": m.new_member_id,
        "records": dict(m.mapping or {}),
        "requested_at": m.requested_at,
        "accepted_at": m.accepted_at,
        "done_at": m.done_at,
    }


def _logged_in(viewer: Viewer) -> int:
    if viewer.account_id is None:
        raise NotAuthenticated("log in first")
    return viewer.account_id
