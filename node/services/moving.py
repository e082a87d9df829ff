"""Members moving to another coop: their profile, offers and mentoring follow them; the old node forwards.

The path, between the member's old node A (the *origin*) and their new node B (the *destination*):

1. On A the member asks to move (:meth:`Moving.request`). A signs a **move request** with the member's portable
   data (profile fields with their visibilities, the offers and mentoring they authored, e-mail and name, A's
   record ids) and queues it for B only. Nothing else leaves A.
2. On B the request waits for an operator (:meth:`Moving.incoming`); accepting it (:meth:`Moving.accept`)
   creates the account (an invitation link for the operator to hand over), the profile with the same
   visibilities and the offers and mentoring again, all under B's origin, through the ordinary services (so
   they are published, indexed and replicated like any other). B then signs a **move acceptance** mapping A's
   record ids to B's and queues it for A.
3. On the acceptance A publishes, for each record that ever left A, a tombstone with reason ``moved`` and
   ``forward`` = ``B/<new id>``, then erases the member's local data by the directory's ordinary erasure.
   The tombstones replicate to the whole network, so every node can send readers of an old address on
   (:func:`moved_to`).

The two signed records (as their message envelopes) are kept on both sides in ``member_moves``; once the move
is done the request's bodies are dropped and its signed headers kept (they hold the bodies' hashes), so the
proof outlives the member's data. Deliveries are idempotent; an acceptance for a move A never asked of the
sender is refused and logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from node.clock import Clock
from node.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from node.records.publisher import Publisher, new_record_id
from node.search import index as search
from node.services import moving_wire as wire
from node.services.accounts import Accounts
from node.services.directory import Directory
from node.services.profiles import PROFILE_FIELDS
from node.services.things import MENTORING, OFFERS, ThingKind, Things
from node.storage.database import Database
from node.storage.federation_models import PeerRow
from node.storage.models import Account, LogEntry, MemberProfile, RecordState
from node.storage.moving_models import MemberMove, MemberMovePart
from node.storage.outbox import enqueue_direct, require_direct_peer
from node.viewer import Viewer
from protocol import Entry, Record, SigningKey, canonical
from protocol.envelope import ORIGIN_RE, RECORD_ID_RE

log = logging.getLogger(__name__)

FORMAT: Final = 1
PART_TTL_MS: Final = 7 * 24 * 3600 * 1000  # parts of a record that never completed are dropped after a week
#: what follows the member, by kind: (payload key, thing kind, record type of its tombstone)
MOVABLE: Final[tuple[tuple[str, ThingKind], ...]] = (("offers", OFFERS), ("mentoring", MENTORING))


class Moving:
    """The moving service of one node. ``notify`` wakes the federation's delivery loops after a commit."""

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        key: Callable[[], SigningKey],
        clock: Clock,
        accounts: Accounts,
        things: Things,
        directory: Directory,
        publisher: Publisher,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.name = name
        self.key = key
        self.clock = clock
        self.accounts = accounts
        self.things = things
        self.directory = directory
        self.publisher = publisher
        self.notify = notify
        self._accepting: set[tuple[str, str]] = set()  # moves being accepted now (one operator at a time)

    # ------------------------------------------------------------------------------ origin: the member asks

    async def request(self, viewer: Viewer, to_node: object) -> dict[str, Any]:
        """Ask to move the viewer to ``to_node``: the signed request is queued for that node only."""
        if viewer.account_id is None or viewer.member_id is None:
            raise NotAuthenticated("log in as a member with a profile to move")
        if not isinstance(to_node, str) or ORIGIN_RE.match(to_node) is None:
            raise InvalidInput.field("to_node", "must be the name of a coop of the network")
        if to_node == self.name:
            raise InvalidInput.field("to_node", "you are already a member of this coop")
        now = self.clock()
        async with self.db.write() as session:
            await require_direct_peer(session, to_node)
            ongoing = await session.scalar(
                select(MemberMove.id).where(
                    MemberMove.direction == "out",
                    MemberMove.account_id == viewer.account_id,
                    MemberMove.status.in_(("requested", "accepted")),
                )
            )
            if ongoing is not None:
                raise Conflict("a move of this account is already under way")
            account = await session.get(Account, viewer.account_id)
            profile = await session.get(MemberProfile, viewer.account_id)
            if account is None or profile is None:
                raise NotFound("no profile")
            move_id = new_record_id()
            payload = await self._portable(session, move_id, account, profile)
            try:
                entries = wire.signed_messages(
                    self.key(),
                    kind="request",
                    origin=self.name,
                    to_node=to_node,
                    to_member=wire.REQUEST_TO,
                    from_member=profile.record_id,
                    payload=payload,
                    now=now,
                )
            except ValueError as exc:
                raise InvalidInput(str(exc)) from exc
            await enqueue_direct(session, to_node, entries, now)
            move = MemberMove(
                direction="out",
                origin=self.name,
                move_id=move_id,
                to_node=to_node,
                status="requested",
                account_id=account.id,
                member_id=profile.record_id,
                new_member_id=None,
                display_name=account.display_name,
                data=payload,
                mapping={},
                request=wire.pack_envelopes([e.encode() for e in entries]),
                acceptance=None,
                requested_at=now,
            )
            session.add(move)
            await session.flush()
            view = _view(move)
        self.notify()
        log.info("move %s of account %s to %s requested (%d parts)", move_id, viewer.account_id, to_node, len(entries))
        return view

    async def my_moves(self, viewer: Viewer) -> list[dict[str, Any]]:
        """The moves the viewer asked for from this node, newest first."""
        if viewer.account_id is None:
            raise NotAuthenticated("log in first")
        async with self.db.read() as session:
            rows = (
                await session.scalars(
                    select(MemberMove)
                    .where(MemberMove.direction == "out", MemberMove.account_id == viewer.account_id)
                    .order_by(MemberMove.id.desc())
                )
            ).all()
            return [_view(r) for r in rows]

    async def _portable(
        self, session: AsyncSession, move_id: str, account: Account, profile: MemberProfile
    ) -> dict[str, Any]:
        """The member's portable data: theirs to take (GDPR Art. 20), sent to the one coop they chose."""
        things: dict[str, list[dict[str, Any]]] = {}
        for key, kind in MOVABLE:
            rows = (
                await session.scalars(
                    select(kind.model).where(kind.model.author_id == account.id).order_by(kind.model.id)
                )
            ).all()
            things[key] = [
                {
                    "id": row.record_id,
                    "data": {k: v for k, v in row.data.items() if k in kind.inputs},
                    **({"visibility": row.visibility} if kind.has_visibility else {}),
                }
                for row in rows
            ]
        return {
            "v": FORMAT,
            "move": move_id,
            "origin": self.name,
            "member": profile.record_id,
            "email": account.email,
            "display_name": account.display_name,
            "profile": {  # what is private stays here: the member re-enters it on the new node if they wish
                "fields": {k: v for k, v in profile.data.items() if k in PROFILE_FIELDS and _portable(profile, k)},
                "visibility": {
                    k: v for k, v in profile.visibility.items() if k in PROFILE_FIELDS and _portable(profile, k)
                },
            },
            **things,
        }

    # ------------------------------------------------------------------------ destination: the operator

    async def incoming(self, viewer: Viewer, status: str | None = "pending") -> list[dict[str, Any]]:
        """Moves of members towards this coop (operators): pending ones by default, every one with None."""
        _operator(viewer, "list moves")
        async with self.db.read() as session:
            query = select(MemberMove).where(MemberMove.direction == "in").order_by(MemberMove.id.desc())
            if status is not None:
                query = query.where(MemberMove.status == status)
            rows = (await session.scalars(query.limit(200))).all()
            return [_view(r, detailed=True) for r in rows]

    async def accept(self, viewer: Viewer, origin: str, move_id: str) -> dict[str, Any]:
        """Take the member in: account, profile and things under this node, then the signed acceptance.

        Resumable: each step is noted on the move row, so accepting again after a failure (say, an e-mail
        already in use here, freed since) goes on from where it stopped. Within one process a move is
        accepted by one request at a time.
        """
        _operator(viewer, "accept moves")
        ref = (origin, move_id)
        if ref in self._accepting:
            raise Conflict("this move is being accepted")
        self._accepting.add(ref)
        try:
            return await self._accept(origin, move_id)
        finally:
            self._accepting.discard(ref)

    async def _accept(self, origin: str, move_id: str) -> dict[str, Any]:
        token: str | None = None
        async with self.db.write() as session:
            move = await _incoming_move(session, origin, move_id)
            if move.account_id is None:
                account, new_member_id = await self.accounts.create_account(
                    session, email=move.data["email"], display_name=move.display_name, role="member"
                )
                invitation, token = self.accounts.new_invitation(account.id, account.role)
                session.add(invitation)
                move.account_id, move.new_member_id = account.id, new_member_id
            assert move.account_id is not None and move.new_member_id is not None
            member = Viewer(
                account_id=move.account_id, role="member", member_id=move.new_member_id, email=move.data["email"]
            )
            data = dict(move.data)
            mapping = dict(move.mapping)
        dropped = await self._take_profile(member, data.get("profile") or {})
        skipped: list[str] = []
        for key, kind in MOVABLE:
            for item in data.get(key) or []:
                if item["id"] in mapping:
                    continue  # created by an earlier attempt
                payload = {**item["data"], **({"visibility": item["visibility"]} if "visibility" in item else {})}
                try:
                    created = await self.things.create(kind, member, payload)
                except InvalidInput as exc:
                    log.warning("move %s/%s: %s %s not taken: %s", origin, move_id, kind.name, item["id"], exc)
                    skipped.append(item["id"])
                    continue
                mapping[item["id"]] = created["id"]
                async with self.db.write() as session:
                    (await _incoming_move(session, origin, move_id)).mapping = dict(mapping)
        mapping[data["member"]] = member.member_id
        now = self.clock()
        async with self.db.write() as session:
            move = await _incoming_move(session, origin, move_id)
            acceptance = {"v": FORMAT, "move": move_id, "member": member.member_id, "records": mapping}
            entries = wire.signed_messages(
                self.key(),
                kind="acceptance",
                origin=self.name,
                to_node=origin,
                to_member=move.member_id,
                from_member=str(member.member_id),
                payload=acceptance,
                now=now,
            )
            await enqueue_direct(session, origin, entries, now)
            move.mapping = mapping
            move.status, move.accepted_at = "accepted", now
            move.acceptance = wire.pack_envelopes([e.encode() for e in entries])
            # the data now lives in the account; keep only the request's signed headers as the proof
            move.request = wire.erase_bodies(move.request)
            move.data = {"email": data["email"], "member": data["member"]}
            view = _view(move, detailed=True)
        self.notify()
        log.info("move %s/%s accepted: account %s, %d records mapped", origin, move_id, member.account_id, len(mapping))
        return {**view, "invitation_token": token, "dropped_fields": dropped, "skipped": skipped}

    async def _take_profile(self, member: Viewer, profile: dict[str, Any]) -> list[str]:
        """Store the profile with its visibilities (so it publishes under this node). A field this node does
        not accept (an unknown town, a trade code retired here) is dropped rather than stopping the move."""
        fields = {k: v for k, v in (profile.get("fields") or {}).items() if k in PROFILE_FIELDS}
        visibility = {k: v for k, v in (profile.get("visibility") or {}).items() if k in PROFILE_FIELDS}
        dropped: list[str] = []
        for _ in range(3):
            try:
                await self.directory.update_my_profile(
                    member, {"fields": fields, "visibility": visibility}, replace=True
                )
                break
            except InvalidInput as exc:
                bad = ({k.removeprefix("visibility.") for k in exc.fields} or set(fields)) - {"display_name"}
                if not bad:
                    raise
                dropped += sorted(bad)
                fields = {k: v for k, v in fields.items() if k not in bad}
                visibility = {k: v for k, v in visibility.items() if k not in bad}
        else:
            raise InvalidInput("the moving member's profile is not acceptable here")
        if dropped:
            log.warning("moved profile of account %s: fields %s dropped", member.account_id, dropped)
        return dropped

    # ------------------------------------------------------------------------------- both: receiving

    async def receive(self, record: Record) -> bool:
        """Take in (part of) a move record another node sent; True when this node's state changed.

        Never raises for a bad record (the sender would retry it forever): it is logged and dropped.
        """
        body = record.body or {}
        parsed = wire.parse_subject(body.get("subject"))
        sender = record.origin
        if parsed is None or not isinstance(body.get("text"), str):
            log.warning("move message %s from %s refused: malformed subject or text", record.id, sender)
            return False
        kind, part, total, digest = parsed
        now = self.clock()
        async with self.db.write() as session:
            peer = await session.get(PeerRow, sender)
            if peer is None or peer.status != "member" or not peer.direct:
                log.warning("move message %s from %s refused: not a direct member peer", record.id, sender)
                return False
            if total == 1:
                text, envelopes = str(body["text"]), [record.entry.encode()]
            else:
                assembled = await _assemble(session, record, part, total, digest, now)
                if assembled is None:
                    return True
                text, envelopes = assembled
            if wire.digest_of(text) != digest:
                log.warning("move record %s from %s refused: digest mismatch", digest, sender)
                return False
            try:
                payload = json.loads(text)
            except ValueError as exc:
                log.warning("move record %s from %s refused: %s", digest, sender, exc)
                return False
            if kind == "request":
                return await self._take_request(session, sender, payload, envelopes, now)
            if not await self._take_acceptance(session, sender, payload, envelopes, now):
                return False
        await self._complete(str(payload["move"]))
        return True

    async def _take_request(
        self, session: AsyncSession, sender: str, payload: object, envelopes: list[bytes], now: int
    ) -> bool:
        problem = _check_request(payload, sender)
        if problem is not None:
            log.warning("move request from %s refused: %s", sender, problem)
            return False
        assert isinstance(payload, dict)
        held = await session.scalar(
            select(MemberMove.id).where(MemberMove.origin == sender, MemberMove.move_id == payload["move"])
        )
        if held is not None:
            return False  # the same request again
        session.add(
            MemberMove(
                direction="in",
                origin=sender,
                move_id=payload["move"],
                to_node=self.name,
                status="pending",
                account_id=None,
                member_id=payload["member"],
                new_member_id=None,
                display_name=payload["display_name"],
                data=payload,
                mapping={},
                request=wire.pack_envelopes(envelopes),
                acceptance=None,
                requested_at=now,
            )
        )
        try:
            await session.flush()
        except IntegrityError:  # a concurrent delivery of the same request won
            return False
        log.info(
            "move %s/%s of member %s received; waiting for an operator", sender, payload["move"], payload["member"]
        )
        return True

    async def _take_acceptance(
        self, session: AsyncSession, sender: str, payload: object, envelopes: list[bytes], now: int
    ) -> bool:
        """Publish the forwarding tombstones; True when the member's local data is to be erased now."""
        move_id = payload.get("move") if isinstance(payload, dict) else None
        move = (
            await session.scalar(
                select(MemberMove)
                .where(MemberMove.direction == "out", MemberMove.origin == self.name, MemberMove.move_id == move_id)
                .with_for_update()
            )
            if isinstance(move_id, str)
            else None
        )
        if move is None:
            log.warning("move acceptance from %s refused: no move %r was requested here", sender, move_id)
            return False
        if move.to_node != sender:
            log.warning("move acceptance from %s refused: move %s was asked of %s", sender, move_id, move.to_node)
            return False
        if move.status == "done":
            return False  # the same acceptance again: nothing to do
        if move.status == "accepted":
            return True  # published already; the erasure did not finish: finish it
        assert isinstance(payload, dict)
        types = _record_types(move.data)
        problem = _check_acceptance(payload, move.member_id, types)
        if problem is not None:
            log.warning("move acceptance %s from %s refused: %s", move_id, sender, problem)
            return False
        mapping: dict[str, str] = payload["records"]
        forwarded = 0
        for old_id, record_type in types.items():
            new_id = mapping.get(old_id)
            if new_id is None or await session.get(RecordState, (self.name, old_id)) is None:
                continue  # not taken there (erased below instead), or it never left this node
            await self.publisher.publish(
                session,
                type="tombstone",
                record_id=old_id,
                body={"target_type": record_type, "reason": "moved", "forward": f"{sender}/{new_id}"},
                created=now,
            )
            await search.unindex_record(session, self.name, old_id)
            forwarded += 1
        move.status, move.accepted_at = "accepted", now
        move.new_member_id = payload["member"]
        move.mapping = {k: v for k, v in mapping.items() if k in types}
        move.acceptance = wire.pack_envelopes(envelopes)
        log.info("move %s to %s accepted there: %d forwarding tombstones published", move_id, sender, forwarded)
        return True

    async def _complete(self, move_id: str) -> None:
        """Erase the member's local data (the ordinary erasure: what did not move gets ``erased`` tombstones),
        then mark the move done and keep only the request's signed headers."""
        async with self.db.read() as session:
            account_id = await session.scalar(
                select(MemberMove.account_id).where(
                    MemberMove.direction == "out", MemberMove.origin == self.name, MemberMove.move_id == move_id
                )
            )
        if account_id is not None:
            with contextlib.suppress(NotFound):  # erased already (an earlier delivery got this far)
                await self.directory.erase_account(account_id)
        async with self.db.write() as session:
            move = await session.scalar(
                select(MemberMove).where(
                    MemberMove.direction == "out", MemberMove.origin == self.name, MemberMove.move_id == move_id
                )
            )
            assert move is not None
            move.status, move.done_at, move.account_id = "done", self.clock(), None
            move.request = wire.erase_bodies(move.request)
            move.data = {"member": move.member_id, "records": _record_types(move.data)}
        log.info("move %s done: account %s erased here, forwards kept", move_id, account_id)


# -------------------------------------------------------------------------------------------- forwards


async def moved_to(db: Database, origin: str, record_id: str) -> str | None:
    """Where a record lives now (``origin/id``) when its newest entry is a ``moved`` tombstone; else None.

    Read from the tombstone entry itself (``records`` keeps no body for deleted records, ``entries`` keeps the
    tombstone's own body), so it works on every node that replicated the origin's log.
    """
    async with db.read() as session:
        state = await session.get(RecordState, (origin, record_id))
        if state is None or not state.deleted:
            return None
        raw = await session.scalar(
            select(LogEntry.body).where(
                LogEntry.origin == origin, LogEntry.seq == state.seq, LogEntry.type == "tombstone"
            )
        )
    try:
        body = canonical.decode(raw) if raw is not None else None
    except ValueError:
        return None
    forward = body.get("forward") if isinstance(body, dict) and body.get("reason") == "moved" else None
    return forward if isinstance(forward, str) else None


# ------------------------------------------------------------------------------------------------ helpers


async def _assemble(
    session: AsyncSession, record: Record, part: int, total: int, digest: str, now: int
) -> tuple[str, list[bytes]] | None:
    """Keep one part; when all ``total`` parts are here, return the whole text and the parts' envelopes (and
    forget the parts)."""
    sender = record.origin
    for stale in await session.scalars(select(MemberMovePart).where(MemberMovePart.received_at < now - PART_TTL_MS)):
        await session.delete(stale)
    held = await session.scalar(
        select(MemberMovePart.id).where(
            MemberMovePart.sender == sender, MemberMovePart.digest == digest, MemberMovePart.part == part
        )
    )
    if held is None:
        session.add(
            MemberMovePart(
                sender=sender,
                digest=digest,
                part=part,
                total=total,
                text=str((record.body or {})["text"]),
                envelope=record.entry.encode(),
                received_at=now,
            )
        )
        await session.flush()
    parts = (
        await session.scalars(
            select(MemberMovePart)
            .where(MemberMovePart.sender == sender, MemberMovePart.digest == digest)
            .order_by(MemberMovePart.part)
        )
    ).all()
    if [p.part for p in parts] != list(range(1, total + 1)) or any(p.total != total for p in parts):
        return None
    text, envelopes = "".join(p.text for p in parts), [p.envelope for p in parts]
    for p in parts:
        await session.delete(p)
    return text, envelopes


async def _incoming_move(session: AsyncSession, origin: str, move_id: str) -> MemberMove:
    move = await session.scalar(
        select(MemberMove)
        .where(MemberMove.direction == "in", MemberMove.origin == origin, MemberMove.move_id == move_id)
        .with_for_update()
    )
    if move is None:
        raise NotFound(f"no move {origin}/{move_id}")
    if move.status != "pending":
        raise Conflict(f"move {origin}/{move_id} is {move.status} already")
    return move


def _operator(viewer: Viewer, action: str) -> None:
    if viewer.anonymous:
        raise NotAuthenticated("log in first")
    if not viewer.is_operator:
        log.warning("refused: account %s may not %s (operators only)", viewer.account_id, action)
        raise Forbidden(f"only operators {action}")


def _record_types(data: dict[str, Any]) -> dict[str, str]:
    """The origin's record ids a move carries, with the record type each has (what its tombstone names)."""
    if "records" in data:  # a completed move keeps only this
        return dict(data["records"])
    types = {str(data["member"]): "profile"}
    for key, kind in MOVABLE:
        types.update({str(item["id"]): kind.record_type for item in data.get(key) or []})
    return types


def _is_id(value: object) -> bool:
    return isinstance(value, str) and RECORD_ID_RE.match(value) is not None


def _check_request(payload: object, sender: str) -> str | None:
    """What is wrong with a request's shape, or None (a peer's signed word, still checked: it becomes rows)."""
    if not isinstance(payload, dict) or payload.get("v") != FORMAT:
        return "not a version 1 move request"
    if payload.get("origin") != sender:
        return f"it claims to come from {payload.get('origin')!r}"
    if not (_is_id(payload.get("move")) and _is_id(payload.get("member"))):
        return "bad move or member id"
    if not isinstance(payload.get("email"), str) or "@" not in payload["email"]:
        return "no e-mail address"
    name = payload.get("display_name")
    if not isinstance(name, str) or not 0 < len(name) <= 120:
        return "bad display name"
    profile = payload.get("profile")
    if not isinstance(profile, dict) or not all(isinstance(profile.get(k), dict) for k in ("fields", "visibility")):
        return "bad profile"
    for key, _kind in MOVABLE:
        items = payload.get(key, [])
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and _is_id(i.get("id")) and isinstance(i.get("data"), dict) for i in items
        ):
            return f"bad {key}"
    return None


def _check_acceptance(payload: dict[str, Any], member_id: str, types: dict[str, str]) -> str | None:
    records = payload.get("records")
    if payload.get("v") != FORMAT or not isinstance(records, dict):
        return "not a version 1 move acceptance"
    if not _is_id(payload.get("member")) or records.get(member_id) != payload["member"]:
        return "the member's profile is not mapped to the new member"
    unknown = set(records) - set(types)
    if unknown:
        return f"it maps records that were not sent: {sorted(unknown)[:5]}"
    if not all(_is_id(v) for v in records.values()):
        return "bad new record ids"
    return None


def _view(move: MemberMove, *, detailed: bool = False) -> dict[str, Any]:
    data = move.data or {}
    view: dict[str, Any] = {
        "origin": move.origin,
        "id": move.move_id,
        "direction": move.direction,
        "to_node": move.to_node,
        "status": move.status,
        "member": move.member_id,
        "new_member": move.new_member_id,
        "display_name": move.display_name,
        "records": dict(move.mapping or {}),
        "requested_at": move.requested_at,
        "accepted_at": move.accepted_at,
        "done_at": move.done_at,
        "signed": {
            "request": [_signed(e) for e in wire.unpack_envelopes(move.request)],
            "acceptance": [_signed(e) for e in wire.unpack_envelopes(move.acceptance)],
        },
    }
    if detailed and move.status == "pending":  # what the operator decides on
        view["email"] = data.get("email")
        view["profile_fields"] = sorted((data.get("profile") or {}).get("fields") or {})
        view["offers"] = [i["data"].get("title") for i in data.get("offers") or []]
        view["mentoring"] = len(data.get("mentoring") or [])
    return view


def _signed(entry: Entry) -> dict[str, Any]:
    """One signed envelope as people can check it: who signed, with which key, its hash."""
    h = entry.header
    return {"origin": h.origin, "id": h.id, "kid": h.kid, "hash": entry.hash.hex(), "body_kept": entry.body is not None}


def _portable(profile: MemberProfile, name: str) -> bool:
    """A field moves with the member unless it is private (the phone never leaves the node in any case)."""
    level = profile.visibility.get(name, PROFILE_FIELDS[name].default)
    return level != "private" and name != "phone"
